#!/usr/bin/env bash
# Differential fuzzing against glibc, a fixed set of seeds (c-tests/fuzz_diff.c):
# each seed's random sequence of AIO calls is replayed in fresh processes on
# glibc, on kaio preloaded and on the -lkaio build, and the transcripts must be
# identical (documented differences are checked per backend and canonicalised).
# `make fuzz SEEDS=N` runs more and shrinks a mismatch to a reproducer.
# FUZZ_DIFF_SEEDS (default 20) and FUZZ_DIFF_FROM (default 1) override the set.
set -u
: "${KAIO_LIB:?}" "${KAIO_WORK:?}" "${KAIO_SRC:?}" "${KAIO_ROOT:?}"
flags="-O2 -g -Wall -Wextra -Werror -pthread -D_GNU_SOURCE"
dir="$KAIO_WORK/fuzz-diff.$$"
mkdir -p "$dir" || exit 1
trap 'rm -rf "$dir"' EXIT
libdir=$(dirname "$KAIO_LIB")
cc $flags -o "$dir/fuzz_diff" "$KAIO_SRC/fuzz_diff.c" -lrt -ldl || exit 1
cc $flags -DKAIO_LINKED -I"$KAIO_ROOT/include" -o "$dir/fuzz_diff_linked" "$KAIO_SRC/fuzz_diff.c" \
   -L"$libdir" -lkaio -Wl,-rpath,"$libdir" -lrt -ldl || exit 1
cd "$KAIO_WORK" && KAIO_TEST_DIR="$KAIO_WORK" "$dir/fuzz_diff" fuzz --brief --lib "$KAIO_LIB" \
    --linked "$dir/fuzz_diff_linked" --from "${FUZZ_DIFF_FROM:-1}" --seeds "${FUZZ_DIFF_SEEDS:-20}"
