#!/usr/bin/env bash
# Run every C test three ways and compare the transcripts; then kaio's own
# checks. Usage: run.sh BUILD_DIR LIB_DIR [TEST...]
#   BUILD_DIR/glibc/NAME  glibc build;  BUILD_DIR/kaio/NAME  -lkaio build
#   LIB_DIR/libkaio.so    the library preloaded into the glibc build
# A test whose source contains the marker KAIO_ONLY skips the glibc run
# (it tests a documented difference or a kaio extension).
# Prints one line per test and, last, "N passed, N failed[, N skipped]".
set -u
build=$(cd "$1" && pwd); libdir=$(cd "$2" && pwd); shift 2
src=$(cd "$(dirname "$0")" && pwd)
work="$build/tmp"; mkdir -p "$work"
export KAIO_TEST_DIR="$work"
timeout_s=${KAIO_TEST_TIMEOUT:-60}
pass=0; fail=0; skip=0; failed=()

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  for f in "$build"/glibc/*; do tests+=("$(basename "$f")"); done
fi

run_one() { # mode bin outfile -> rc
  local mode=$1 bin=$2 out=$3
  case $mode in
    glibc)   (cd "$work" && KAIO_TEST_EXPECT=glibc timeout -k 5 "$timeout_s" "$bin") >"$out" 2>"$out.err" ;;
    linked)  (cd "$work" && KAIO_TEST_EXPECT=kaio timeout -k 5 "$timeout_s" "$bin") >"$out" 2>"$out.err" ;;
    preload) (cd "$work" && KAIO_TEST_EXPECT=kaio LD_PRELOAD="$libdir/libkaio.so" \
                timeout -k 5 "$timeout_s" "$bin") >"$out" 2>"$out.err" ;;
  esac
}

for t in "${tests[@]}"; do
  modes=(glibc linked preload); not_glibc=""
  if grep -q KAIO_ONLY "$src/$t.c" 2>/dev/null; then
    modes=(linked preload)
    # Why, from the marker's line: "KAIO_ONLY (reason): ..." or "KAIO_ONLY: ...".
    not_glibc=$(grep -m1 KAIO_ONLY "$src/$t.c" | sed -e 's/.*KAIO_ONLY *//' -e 's/ *\*\/.*//' \
                  -e 's/^(\([^)]*\)).*/\1/' -e 's/^: *\(.*[^.]\)$/\1 .../' -e 's/^: *//')
    not_glibc="; not run on glibc: ${not_glibc:-a kaio-only test}"
  fi
  status=pass; why=""; ref=""
  for m in "${modes[@]}"; do
    bin="$build/glibc/$t"; [ "$m" = linked ] && bin="$build/kaio/$t"
    out="$work/$t.$m.out"
    run_one "$m" "$bin" "$out"; rc=$?
    if [ $rc -eq 77 ]; then status=skip; why="$(grep -m1 SKIP "$out")"; break; fi
    if [ $rc -ne 0 ]; then status=fail; why="$why $m:rc=$rc"; continue; fi
    grep -v '^#' "$out" >"$out.cmp"
    if [ -z "$ref" ]; then ref="$out.cmp"
    elif ! cmp -s "$ref" "$out.cmp"; then
      status=fail; why="$why $m:transcript-differs"
      diff -u "$ref" "$out.cmp" | head -20 | sed 's/^/    /'
    fi
  done
  case $status in
    pass) pass=$((pass+1)); echo "PASS $t (${modes[*]}$not_glibc)" ;;
    skip) skip=$((skip+1)); echo "SKIP $t $why" ;;
    fail) fail=$((fail+1)); failed+=("$t"); echo "FAIL $t:$why"
          for m in "${modes[@]}"; do
            [ -f "$work/$t.$m.out" ] && sed "s/^/    [$m] /" "$work/$t.$m.out" | grep -v '^    \[[a-z]*\] #' | head -15
            [ -s "$work/$t.$m.out.err" ] && sed "s/^/    [$m stderr] /" "$work/$t.$m.out.err" | head -5
          done ;;
  esac
done

# kaio's own checks, counted like tests (exit 77: skipped).
check() { # name command...
  local name=$1; shift
  out=$("$@" 2>&1); local rc=$?
  if [ $rc -eq 0 ]; then pass=$((pass+1)); echo "PASS $name"
  elif [ $rc -eq 77 ]; then skip=$((skip+1)); echo "SKIP $name: $out"
  else fail=$((fail+1)); failed+=("$name"); echo "FAIL $name"; echo "$out" | sed 's/^/    /' | head -20; fi
}
export KAIO_LIB="$libdir/libkaio.so" KAIO_BUILD="$build" KAIO_WORK="$work" KAIO_SRC="$src" KAIO_ROOT="$(cd "$src/.." && pwd)"
if [ -z "${KAIO_NO_CHECKS:-}" ]; then
  for c in "$src"/checks/*.sh; do check "$(basename "$c" .sh)" bash "$c"; done
fi

[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
if [ $skip -gt 0 ]; then echo "$pass passed, $fail failed, $skip skipped"
else echo "$pass passed, $fail failed"; fi
[ $fail -eq 0 ]
