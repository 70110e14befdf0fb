#!/usr/bin/env bash
# kaio's environment variables, observed from outside a real program:
#  - booleans (KAIO_DISABLE, KAIO_SHOW_STATS, KAIO_VERBOSE) take 1/0,
#    yes/no, true/false, on/off in any case: KAIO_DISABLE=yes/true/on sends
#    every call to glibc (counters stay 0, the statistics say "disabled"),
#    KAIO_DISABLE=no/off/0 keeps kaio;
#  - every KAIO_* variable fed an invalid value prints one message that
#    names the variable, the value, what is accepted (the range, read from
#    src/engine/config.rs) and the value used; the program still works;
#  - kaio(7) and the README document each range and the boolean spellings;
#  - KAIO_VERBOSE=1: a cold buffered read says why it left the fast path.
set -u
root=${KAIO_ROOT:?}
bin=$KAIO_BUILD/glibc/test_read_buffered
cd "$KAIO_WORK" || exit 1
rc=0
bad() { echo "FAIL: $*"; rc=1; }

# run VAR=VALUE...: the test program preloaded, with those settings; its
# stderr in $err.
run() {
  err=$(env -u KAIO_DISABLE -u KAIO_SHOW_STATS -u KAIO_VERBOSE -u KAIO_MAX_EVENTS -u KAIO_THREADS \
        -u KAIO_STATS_DIR "$@" KAIO_TEST_EXPECT=kaio LD_PRELOAD="$KAIO_LIB" "$bin" 2>&1 >/dev/null)
}
submitted() { printf '%s\n' "$err" | sed -n 's/^kaio:   submitted \([0-9]*\)/\1/p'; }

# 1. Boolean spellings.
for v in 1 yes true on YES On TRUE; do
  run KAIO_DISABLE=$v KAIO_SHOW_STATS=1 || bad "KAIO_DISABLE=$v: the program failed"
  [ "$(submitted)" = 0 ] || bad "KAIO_DISABLE=$v: kaio submitted '$(submitted)' requests (want 0: disabled)"
  printf '%s\n' "$err" | grep -q '^kaio:   disabled (KAIO_DISABLE): every call went to glibc$' ||
    bad "KAIO_DISABLE=$v: the statistics do not say kaio is disabled"
done
for v in 0 no false off NO; do
  run KAIO_DISABLE=$v KAIO_SHOW_STATS=yes || bad "KAIO_DISABLE=$v: the program failed"
  s=$(submitted)
  [ -n "$s" ] && [ "$s" -gt 0 ] || bad "KAIO_DISABLE=$v: kaio did not serve the program (submitted '$s')"
  printf '%s\n' "$err" | grep -q 'disabled' && bad "KAIO_DISABLE=$v: the statistics say disabled"
done
for v in on TRUE 1; do
  run KAIO_SHOW_STATS=$v
  [ -n "$(submitted)" ] || bad "KAIO_SHOW_STATS=$v: no statistics"
done
for v in off 0 no ''; do
  run KAIO_SHOW_STATS=$v
  printf '%s\n' "$err" | grep -q '^kaio:' && bad "KAIO_SHOW_STATS='$v': kaio printed: $err"
done

# 2. Invalid values: one message naming variable, value, accepted values and
# the value used. Ranges come from the code.
range() { # NAME_RANGE -> "MIN..MAX"
  sed -n "s/^pub const $1: (u32, u32) = (\([0-9]*\), \([0-9]*\));.*/\1..\2/p" "$root/src/engine/config.rs"
}
ev=$(range MAX_EVENTS_RANGE); th=$(range THREADS_RANGE)
[ -n "$ev" ] && [ -n "$th" ] || { echo "cannot read the ranges from src/engine/config.rs"; exit 1; }
bools='1/0, yes/no, true/false, on/off'
# expect VAR=VALUE WANTED-MESSAGE (the whole line, fixed string)
expect() {
  run "$1" || bad "$1: the program failed"
  local n; n=$(printf '%s\n' "$err" | grep -cxF -- "$2")
  if [ "$n" != 1 ]; then
    bad "$1: want the message once: $2"
    printf '%s\n' "$err" | grep '^kaio' | sed 's/^/    got: /' | head -5
  fi
}
expect KAIO_MAX_EVENTS=banana "kaio: KAIO_MAX_EVENTS=banana is not a number (accepted: $ev): using the default, 256"
expect KAIO_MAX_EVENTS=100000 "kaio: KAIO_MAX_EVENTS=100000 is out of range (accepted: $ev): using ${ev#*..}"
expect KAIO_MAX_EVENTS=0 "kaio: KAIO_MAX_EVENTS=0 is out of range (accepted: $ev): using ${ev%..*}"
expect KAIO_MAX_EVENTS=-3 "kaio: KAIO_MAX_EVENTS=-3 is out of range (accepted: $ev): using ${ev%..*}"
run KAIO_THREADS=lots
printf '%s\n' "$err" | grep -qx "kaio: KAIO_THREADS=lots is not a number (accepted: $th): using the default, [0-9]* (20, or 2 x CPUs if more)" ||
  { bad "KAIO_THREADS=lots: no message naming the value, range and default"; printf '%s\n' "$err" | sed 's/^/    got: /' | head -3; }
expect KAIO_THREADS=5000 "kaio: KAIO_THREADS=5000 is out of range (accepted: $th): using ${th#*..}"
expect KAIO_SHOW_STATS=maybe "kaio: KAIO_SHOW_STATS=maybe is not a boolean (accepted: $bools): using 0, no statistics at exit"
expect KAIO_VERBOSE=2 "kaio: KAIO_VERBOSE=2 is not a boolean (accepted: $bools): using 0, no explanations"
expect KAIO_DISABLE=sometimes "kaio: KAIO_DISABLE=sometimes is not a boolean (accepted: $bools): using 0, kaio stays active"
expect KAIO_STATS_DIR=relative/dir "kaio: KAIO_STATS_DIR=relative/dir is not an absolute path (accepted: the absolute path of a writable directory): statistics are not recorded"
missing=$KAIO_WORK/no-such-dir.$$
run KAIO_STATS_DIR="$missing"
printf '%s\n' "$err" | grep -q "^kaio: KAIO_STATS_DIR=$missing: cannot create $missing/[0-9]*: No such file or directory (accepted: the absolute path of a writable directory): the statistics of pid [0-9]* are not recorded$" ||
  { bad "KAIO_STATS_DIR=$missing: no message naming the value and what is done"; printf '%s\n' "$err" | sed 's/^/    got: /' | head -3; }
# A number is used as given when valid; KAIO_DISABLE=sometimes kept kaio on.
run KAIO_DISABLE=sometimes KAIO_SHOW_STATS=1
[ "$(submitted)" -gt 0 ] 2>/dev/null || bad "KAIO_DISABLE=sometimes: kaio did not stay active"
run KAIO_MAX_EVENTS=64 KAIO_THREADS=3
printf '%s\n' "$err" | grep -q '^kaio:' && bad "valid KAIO_MAX_EVENTS/KAIO_THREADS: kaio printed: $err"

# 3. The documentation states each range and the boolean spellings.
man=$root/man/kaio.7
for r in "$ev" "$th"; do
  lo=${r%..*} hi=${r#*..}
  grep -q "from $lo to $hi\b" "$man" || bad "kaio.7 does not state the range $lo to $hi"
  grep -qF "$r" "$root/README.md" || bad "README.md does not state the range $r"
done
grep -qF '1/0, yes/no, true/false, on/off' "$root/README.md" || bad "README.md does not list the boolean spellings"
grep -q 'yes.*true.*on' "$man" || bad "kaio.7 does not list the boolean spellings"

# 4. A cold buffered read under KAIO_VERBOSE=1.
f=$KAIO_WORK/verbose-data.$$
head -c 8388608 /dev/urandom > "$f"; sync "$f" 2>/dev/null || sync
cat > "$KAIO_WORK/verbose.$$.c" <<'C'
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    (void)argc;
    int fd = open(argv[1], O_RDONLY);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    static char buf[1 << 20];
    struct aiocb cb; memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd; cb.aio_buf = buf; cb.aio_nbytes = sizeof buf; cb.aio_offset = 4 << 20;
    if (aio_read(&cb)) return 1;
    const struct aiocb *l[1] = { &cb };
    while (aio_error(&cb) == EINPROGRESS) aio_suspend(l, 1, NULL);
    return aio_return(&cb) == sizeof buf ? 0 : 2;
}
C
cc -O2 -o "$KAIO_WORK/verbose.$$" "$KAIO_WORK/verbose.$$.c" || { echo "cc failed"; exit 1; }
out=$(KAIO_VERBOSE=on LD_PRELOAD="$KAIO_LIB" "$KAIO_WORK/verbose.$$" "$f" 2>&1) || { echo "verbose program failed"; rc=1; }
printf '%s\n' "$out" | grep -q "missed the page cache" || { echo "KAIO_VERBOSE=on said nothing about the cache miss:"; echo "$out"; rc=1; }
rm -f "$f" "$KAIO_WORK/verbose.$$" "$KAIO_WORK/verbose.$$.c"
[ $rc -eq 0 ] && echo "env-knobs: ok"
exit $rc
