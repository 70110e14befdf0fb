#!/usr/bin/env bash
# The blog's busy loop on aio_error must not turn into system calls: run the
# O_DIRECT blog example under kaio with strace -f -c and require that the
# total number of system calls stays small while aio_error spun many times.
set -eu
bin=$KAIO_BUILD/glibc/blog_example_direct; lib=$KAIO_LIB; work=$KAIO_WORK
command -v strace >/dev/null || { echo "strace not installed (apt-get install strace)"; exit 77; }
cd "$work"
out=$(strace -f -c -o strace.txt env KAIO_TEST_EXPECT=kaio LD_PRELOAD="$lib" "$bin")
spins=$(printf '%s\n' "$out" | sed -n 's/^# aio_error spun \([0-9]*\) times/\1/p')
total=$(awk '$NF == "total" {print $(NF-2)}' strace.txt)
[ -n "$total" ] || total=$(awk '/total/ {print $3}' strace.txt)
echo "aio_error spins: $spins, system calls in the whole run: $total"
grep -E 'io_getevents|io_submit' strace.txt || true
[ "${spins:-0}" -gt 1000 ] || { echo "too few spins to judge ($spins)"; exit 0; }
[ "$total" -lt 400 ] || { echo "syscalls grow with aio_error spins"; cat strace.txt; exit 1; }
