#!/usr/bin/env bash
# Run C tests many times under contention and report any whose outcome
# varies. Usage: stress.sh BUILD_DIR LIB_DIR N [TEST...]
#   N rounds pinned to CPU 0 (taskset -c 0) beside a CPU hog on CPU 0, then
#   one round unpinned beside two hogs. Every round runs each test three ways
#   (run.sh). A test that passes in some rounds and fails in others is
#   "varying": a race in kaio or in the test.
set -u
build=$1; libdir=$2; n=$3; shift 3
src=$(cd "$(dirname "$0")" && pwd)
tests=("$@")
log=$(mktemp -d)
hogs=()
hog() { # cpu-list
  if [ -n "$1" ]; then taskset -c "$1" sh -c 'while :; do :; done' & else sh -c 'while :; do :; done' & fi
  hogs+=($!)
}
stop_hogs() { for h in "${hogs[@]}"; do kill "$h" 2>/dev/null; done; wait 2>/dev/null; hogs=(); }
trap 'stop_hogs; rm -rf "$log"' EXIT

round() { # name prefix...
  local name=$1; shift
  KAIO_NO_CHECKS=1 "$@" "$src/run.sh" "$build" "$libdir" "${tests[@]}" >"$log/$name" 2>&1
  grep -E '^(PASS|FAIL|SKIP) ' "$log/$name" | awk '{sub(":","",$2); print $2, $1}' >"$log/$name.res"
}

hog 0
for i in $(seq 1 "$n"); do
  round "pinned-$i" taskset -c 0
  printf 'round %d/%d (pinned to CPU 0 beside a hog): %s\n' "$i" "$n" \
    "$(awk '{c[$2]++} END {printf "%d passed, %d failed, %d skipped", c["PASS"], c["FAIL"], c["SKIP"]}' "$log/pinned-$i.res")"
done
stop_hogs
hog ""; hog ""
round unpinned env
printf 'round unpinned (two hogs): %s\n' \
  "$(awk '{c[$2]++} END {printf "%d passed, %d failed, %d skipped", c["PASS"], c["FAIL"], c["SKIP"]}' "$log/unpinned.res")"
stop_hogs

cat "$log"/*.res | sort | uniq -c | awk '{print $2, $3, $1}' >"$log/all"
varying=$(awk '{k[$1]=k[$1] " " $2 "x" $3; seen[$1]++} END {for (t in seen) if (seen[t] > 1) print t ":" k[t]}' "$log/all" | sort)
always_failed=$(awk '{seen[$1]++; if ($2 == "FAIL") f[$1]=1} END {for (t in seen) if (seen[t] == 1 && f[t]) print t}' "$log/all" | sort)
if [ -n "$varying" ]; then
  echo "varying tests (outcome x rounds):"; echo "$varying" | sed 's/^/  /'
  for t in $(echo "$varying" | cut -d: -f1); do
    for f in "$log"/pinned-* "$log"/unpinned; do
      case $f in *.res) continue ;; esac
      grep -A12 "^FAIL $t" "$f" | head -14 | sed "s|^|  [$(basename "$f")] |"
    done | head -40
  done
fi
[ -n "$always_failed" ] && { echo "failed in every round:"; echo "$always_failed" | sed 's/^/  /'; }
total=$(cut -d' ' -f1 "$log/all" | sort -u | wc -l)
nv=$(printf '%s' "$varying" | grep -c . || true)
nf=$(printf '%s' "$always_failed" | grep -c . || true)
echo "stress: $total tests, $((n + 1)) rounds: $nv varying, $nf always failing"
[ "$nv" -eq 0 ] && [ "$nf" -eq 0 ]
