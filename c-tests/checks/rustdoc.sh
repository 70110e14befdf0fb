#!/usr/bin/env bash
# The crate's Rust API documentation builds without a warning.
set -eu
command -v cargo >/dev/null || exit 77
cd "$KAIO_ROOT"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -q 2>&1
