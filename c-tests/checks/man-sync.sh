#!/usr/bin/env bash
# kaio.7's DIFFERENCES FROM GLIBC is the README's "Differences from glibc"
# table, row for row, and its list of counters is the counters! macro of
# src/engine/stats.rs, name for name and word for word: man/sync.sh
# regenerates both and this fails, with the diff, if the page differs
# (fix: `make man`).
set -u
root=${KAIO_ROOT:?}
exec bash "$root/man/sync.sh" --check
