#!/usr/bin/env bash
# tools/kaio-run, run from the build tree: an unmodified glibc-built program
# runs on kaio under `kaio-run -s`; kaio is prepended to an existing
# LD_PRELOAD (a sanitizer runtime first stays first); the library is found
# from KAIO_LIB or from the build tree (also through a symlink to the
# script); options, exit statuses and arguments behave as kaio-run(1) says.
set -u
root=${KAIO_ROOT:?}
build=${KAIO_BUILD:?}
work=${KAIO_WORK:?}
kr=$root/tools/kaio-run
rc=0
bad() { echo "FAIL: $*"; rc=1; }

[ -x "$kr" ] || { echo "$kr missing or not executable"; exit 1; }
treelib=$(cd "$root/build/lib" 2>/dev/null && pwd -P)/libkaio.so.1
[ -f "$treelib" ] || { echo "$treelib missing: run 'make lib' first"; exit 1; }
version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml")
tmp=$(mktemp -d "$work/kaio-run.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$work" || exit 1

# expect WANT-STATUS DESCRIPTION COMMAND...: run it (stdout to $tmp/out,
# stderr to $tmp/err) and check its exit status.
expect() {
  local want=$1 what=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local r=$?
  if [ $r -ne "$want" ]; then
    bad "$what: exit $r, want $want"
    sed 's/^/    [stdout] /' "$tmp/out" | head -5
    sed 's/^/    [stderr] /' "$tmp/err" | head -5
    return 1
  fi
}

# shellcheck disable=SC2016  # $LD_PRELOAD and $KAIO_SHOW_STATS are the inner shell's
show='echo "$LD_PRELOAD"'

# 1. An unmodified glibc program on kaio, with and without -s.
prog=$build/glibc/test_read_buffered
if [ -x "$prog" ]; then
  if expect 0 "kaio-run -s test_read_buffered" env -u KAIO_SHOW_STATS -u KAIO_VERBOSE -u KAIO_DISABLE \
       KAIO_TEST_EXPECT=kaio KAIO_TEST_DIR="$work" "$kr" -s "$prog"; then
    grep -q '^# test test_read_buffered, backend kaio' "$tmp/out" || bad "kaio-run -s: the program did not run on kaio"
    # The statistics block (one process): its header, then non-zero counters.
    grep -q '^kaio: statistics (pid [0-9]*, test_read_buffe)$' "$tmp/err" || { bad "kaio-run -s: no statistics block:"; sed 's/^/    /' "$tmp/err"; }
    grep '^kaio:   submitted [1-9]' "$tmp/err" >/dev/null || { bad "kaio-run -s: nothing submitted:"; sed 's/^/    /' "$tmp/err"; }
    grep '^kaio:' "$tmp/err" | grep -qi 'invalid\|not a\|out of range' && { bad "kaio-run -s: kaio warned:"; sed 's/^/    /' "$tmp/err"; }
  fi
  if expect 0 "kaio-run test_read_buffered" env -u KAIO_SHOW_STATS -u KAIO_VERBOSE -u KAIO_DISABLE \
       KAIO_TEST_EXPECT=kaio KAIO_TEST_DIR="$work" "$kr" "$prog"; then
    grep -q '^kaio:' "$tmp/err" && { bad "kaio-run without -s printed on stderr:"; sed 's/^/    /' "$tmp/err" | head -5; }
  fi
else
  bad "$prog missing: run 'make c-tests' first"
fi

# 2. Which library, and LD_PRELOAD prepending.
expect 0 "build-tree library" env -u KAIO_LIB -u LD_PRELOAD "$kr" sh -c "$show" &&
  { [ "$(cat "$tmp/out")" = "$treelib" ] || bad "build-tree library: LD_PRELOAD=$(cat "$tmp/out"), want $treelib"; }
ln -s "$kr" "$tmp/kr-link"
expect 0 "through a symlink" env -u KAIO_LIB -u LD_PRELOAD "$tmp/kr-link" sh -c "$show" &&
  { [ "$(cat "$tmp/out")" = "$treelib" ] || bad "through a symlink: LD_PRELOAD=$(cat "$tmp/out"), want $treelib"; }
cp "$treelib" "$tmp/libkaio-copy.so"
expect 0 "KAIO_LIB" env -u LD_PRELOAD KAIO_LIB="$tmp/libkaio-copy.so" "$kr" sh -c "$show" &&
  { [ "$(cat "$tmp/out")" = "$tmp/libkaio-copy.so" ] || bad "KAIO_LIB: LD_PRELOAD=$(cat "$tmp/out")"; }
# An existing preload (two harmless entries, the library's other names) stays, after kaio.
existing="$root/build/lib/libkaio.so:$tmp/libkaio-copy.so"
expect 0 "existing LD_PRELOAD" env -u KAIO_LIB LD_PRELOAD="$existing" "$kr" sh -c "$show" &&
  { [ "$(cat "$tmp/out")" = "$treelib:$existing" ] || bad "prepend: LD_PRELOAD=$(cat "$tmp/out"), want $treelib:$existing"; }
# A sanitizer runtime first in LD_PRELOAD stays first (the file need not
# exist: the loader only warns).
asan=$tmp/libasan.so.8
expect 0 "sanitizer first" env -u KAIO_LIB LD_PRELOAD="$asan:$existing" "$kr" sh -c "$show" &&
  { [ "$(cat "$tmp/out")" = "$asan:$treelib:$existing" ] || bad "sanitizer: LD_PRELOAD=$(cat "$tmp/out")"; }
# -s: a fresh KAIO_STATS_DIR (removed afterwards), KAIO_SHOW_STATS unset
# (kaio-run prints the statistics itself); without -s neither is touched.
mkdir "$tmp/tmpdir"
# shellcheck disable=SC2016
expect 0 "-s sets KAIO_STATS_DIR" env KAIO_SHOW_STATS=1 TMPDIR="$tmp/tmpdir" "$kr" -s sh -c 'echo "${KAIO_STATS_DIR-unset} ${KAIO_SHOW_STATS-unset}"' &&
  case $(cat "$tmp/out") in
    "$tmp/tmpdir/kaio-run."*" unset") ;;
    *) bad "-s: KAIO_STATS_DIR KAIO_SHOW_STATS = $(cat "$tmp/out")" ;;
  esac
[ -z "$(ls -A "$tmp/tmpdir")" ] || bad "-s left $(ls -A "$tmp/tmpdir") behind"
# shellcheck disable=SC2016
expect 0 "no -s" env -u KAIO_SHOW_STATS -u KAIO_STATS_DIR "$kr" sh -c 'echo "${KAIO_SHOW_STATS-unset} ${KAIO_STATS_DIR-unset}"' &&
  { [ "$(cat "$tmp/out")" = "unset unset" ] || bad "without -s: KAIO_SHOW_STATS KAIO_STATS_DIR = $(cat "$tmp/out")"; }
# -s passes the exit status on, and reports even when the program is killed.
expect 42 "-s: exit status passed on" "$kr" -s sh -c 'exit 42'
expect 137 "-s: killed program" "$kr" -s sh -c 'kill -9 $$' &&
  { grep -q '^kaio: statistics (pid [0-9]*, sh)$' "$tmp/err" || bad "-s: no statistics for a killed program: $(cat "$tmp/err")"; }

# Static programs: a warning (the loader ignores LD_PRELOAD) naming
# libkaio.a, and "no statistics"; one linked with libkaio.a is served (no
# warning, statistics).
printf 'int main(void) { return 0; }\n' >"$tmp/hello.c"
if cc -static -o "$tmp/hello-static" "$tmp/hello.c" 2>/dev/null; then
  expect 0 "static program" "$kr" -s "$tmp/hello-static" &&
    { grep -q "warning: .*hello-static is statically linked: the loader ignores LD_PRELOAD.*libkaio.a" "$tmp/err" || bad "static: no warning: $(cat "$tmp/err")"
      grep -q "^kaio-run: no statistics: kaio was loaded by neither .*hello-static.* (.*statically linked)" "$tmp/err" || bad "static: no 'no statistics' line: $(cat "$tmp/err")"; }
  if [ -x "$build/glibc/test_read_buffered" ] && [ -f "$root/target/release/libkaio.a" ] &&
     cc -static -O2 -Wall -D_GNU_SOURCE -pthread -o "$tmp/static-kaio" "$root/c-tests/test_read_buffered.c" \
        "$root/target/release/libkaio.a" -lrt -lpthread -lm -ldl >/dev/null 2>&1; then
    expect 0 "static program with libkaio.a" env -u KAIO_TEST_EXPECT KAIO_TEST_DIR="$work" "$kr" -s "$tmp/static-kaio" &&
      { grep -q warning "$tmp/err" && bad "static with libkaio.a: warned: $(cat "$tmp/err")"
        grep -q '^kaio:   submitted [1-9]' "$tmp/err" || bad "static with libkaio.a: no statistics: $(cat "$tmp/err")"; }
  else
    echo "note: cannot link test_read_buffered statically with libkaio.a: skipped"
  fi
else
  echo "note: no static libc (cc -static failed): static-program checks skipped"
fi

# 3. Arguments, exit status and options.
expect 0 "arguments" "$kr" printf '%s|' 'a b' '' '-s' '*' &&
  { [ "$(cat "$tmp/out")" = 'a b||-s|*|' ] || bad "arguments: $(cat "$tmp/out")"; }
expect 42 "exit status passed on" "$kr" sh -c 'exit 42'
expect 0 "--" "$kr" -- true
expect 0 "--help" "$kr" --help && { grep -q '^Usage: kaio-run' "$tmp/out" || bad "--help prints no usage"; }
expect 0 "-h" "$kr" -h
expect 0 "--version" "$kr" --version &&
  { [ "$(cat "$tmp/out")" = "kaio-run (kaio) $version" ] || bad "--version: $(cat "$tmp/out")"; }
expect 2 "bad option" "$kr" --no-such-option true && { [ -s "$tmp/err" ] || bad "bad option: no message"; }
expect 2 "no program" "$kr" -s
expect 127 "missing program" "$kr" kaio-no-such-program-here &&
  { grep -q 'kaio-no-such-program-here' "$tmp/err" || bad "missing program: message does not name it"; }
expect 127 "missing program path" "$kr" "$tmp/nothing"
: >"$tmp/not-exec"; chmod 644 "$tmp/not-exec"
expect 126 "not executable" "$kr" "$tmp/not-exec"
expect 125 "KAIO_LIB missing" env KAIO_LIB="$tmp/nothing.so" "$kr" true &&
  { grep -q "$tmp/nothing.so" "$tmp/err" || bad "KAIO_LIB missing: message does not name it"; }

if command -v shellcheck >/dev/null; then
  shellcheck -s sh "$kr" >"$tmp/sc" 2>&1 || { bad "shellcheck tools/kaio-run:"; sed 's/^/    /' "$tmp/sc" | head -20; }
fi

[ $rc -eq 0 ] && echo "kaio-run: ok"
exit $rc
