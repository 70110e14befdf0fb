#!/usr/bin/env bash
# Fault injection: kaio's promise under any failure of the kernel, of thread
# creation or of its own allocations: no crash, no hang, every accepted
# request completes exactly once with the right result and one notification;
# a refused submission is -1/EAGAIN.
#
# Builds c-tests/fault_workload.c (every kaio path in ~100 ms; see its
# header) and runs it:
#   - on glibc (no preload) and on kaio without KAIO_FAULT: must pass;
#   - once per ring size (KAIO_MAX_EVENTS unset, and 8 so that the burst
#     overflows the kernel ring) with a rule for every point that is never
#     reached, to learn from kaio_counter("fault:POINT") how many calls each
#     point gets (the workload prints "# fault counts: ...");
#   - then, for each point P with C calls and each ring size, for
#     N = 1..min(C, 40) and a few larger N spread up to C: KAIO_FAULT="P=N"
#     and "P=N+" (for io_setup/io_submit/io_getevents also "P=N+:EPERM" and
#     "P=N+:ENOSYS"), each under `timeout 30`, two at a time;
#   - then two failures at once (default ring): the kernel path lost
#     ("io_setup=1", "io_submit=1+:EPERM", "io_submit=1+",
#     "io_getevents=1+:EPERM") and, from the N-th call on, no thread
#     ("thread=N+") or no memory ("alloc=N+"), for a spread of N: the
#     fallbacks' own fallbacks.
# Fails (printing KAIO_FAULT, KAIO_MAX_EVENTS and the workload's output) on a
# non-zero exit, a crash (signal) or a timeout. FAULT_INJECT_POINTS (e.g.
# "alloc thread"), FAULT_INJECT_RINGS (e.g. "default") and
# FAULT_INJECT_COMBOS=0 narrow the loop. Takes ~1.5 min when kaio passes
# (each hung case adds ~15 s: the workload's watchdog).
set -u
lib=${KAIO_LIB:?}; build=${KAIO_BUILD:?}; work=${KAIO_WORK:?}
src=${KAIO_SRC:?}; root=${KAIO_ROOT:?}
[ -f "$lib" ] || { echo "$lib missing"; exit 1; }
command -v cc >/dev/null || { echo "no C compiler"; exit 77; }
command -v timeout >/dev/null || { echo "no timeout(1)"; exit 77; }
mkdir -p "$work" "$build" || exit 1
t_start=$SECONDS
bin=$build/fault_workload
(cd "$root" && cc -O2 -Wall -Wextra -Werror -pthread -D_GNU_SOURCE -Iinclude \
   -o "$bin.tmp.$$" "$src/fault_workload.c" -lrt -ldl) || { echo "FAIL: cannot build fault_workload"; exit 1; }
mv -f "$bin.tmp.$$" "$bin" || exit 1
tmp=$(mktemp -d "$work/fault-inject.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

points=${FAULT_INJECT_POINTS:-"io_setup io_submit io_getevents thread alloc"}
rings=${FAULT_INJECT_RINGS:-"default 8"}
never=io_setup=4000000000,io_submit=4000000000,io_getevents=4000000000,thread=4000000000,alloc=4000000000

# one ID RING FAULT|-|glibc: run the workload once; writes $tmp/ID.out and $tmp/ID.rc.
one() {
  local id=$1 ring=$2 fault=$3
  local -a envs=(KAIO_WORK="$tmp")
  [ "$ring" != default ] && envs+=(KAIO_MAX_EVENTS="$ring")
  if [ "$fault" = glibc ]; then :
  else
    envs+=(LD_PRELOAD="$lib")
    [ "$fault" != - ] && envs+=(KAIO_FAULT="$fault")
  fi
  env "${envs[@]}" timeout -k 5 30 "$bin" >"$tmp/$id.out" 2>&1
  local rc=$?
  # A pass is exit 0 with the summary line saying ok.
  if [ $rc -eq 0 ] && ! grep -q '^fault_workload: ok ' "$tmp/$id.out"; then rc=250; fi
  echo "$rc $ring $fault" >"$tmp/$id.rc"
}
export -f one
export tmp lib bin

describe() { # rc -> words
  case $1 in
    0) echo "pass" ;;
    1) echo "wrong results (exit 1)" ;;
    3) echo "HANG (watchdog, exit 3)" ;;
    124) echo "TIMEOUT (killed by timeout 30)" ;;
    137) echo "TIMEOUT (SIGKILL after timeout 30)" ;;
    250) echo "exit 0 without an ok summary line" ;;
    *) if [ "$1" -gt 128 ]; then echo "CRASH: signal $(( $1 - 128 )) ($(kill -l $(( $1 - 128 )) 2>/dev/null))"
       else echo "exit $1"; fi ;;
  esac
}

fails=0
report() { # id
  local rc ring fault
  read -r rc ring fault <"$tmp/$1.rc"
  [ "$rc" -eq 0 ] && return 0
  fails=$((fails + 1))
  echo "FAIL: KAIO_FAULT=$fault KAIO_MAX_EVENTS=$ring: $(describe "$rc")"
  local body n
  body=$(grep -v '^# fault counts' "$tmp/$1.out")
  n=$(printf '%s\n' "$body" | wc -l)
  printf '%s\n' "$body" | head -12 | sed 's/^/    /'
  if [ "$n" -gt 12 ]; then
    echo "    ... ($((n - 12)) more lines)"
    printf '%s\n' "$body" | tail -n +13 | grep -E '^(fault_workload:|HANG: watchdog)' | sed 's/^/    /'
  fi
}

# Baselines: glibc, kaio without faults.
one base-glibc default glibc; report base-glibc
one base-kaio default -; report base-kaio
[ $fails -eq 0 ] || { echo "fault-inject: the workload fails without fault injection"; exit 1; }

# Counting runs, and the list of cases.
: >"$tmp/cases"
ncase=0
counts_line=""
for ring in $rings; do
  one "count-$ring" "$ring" "$never"; report "count-$ring"
  line=$(grep '^# fault counts:' "$tmp/count-$ring.out")
  [ -n "$line" ] || { echo "FAIL: no fault counts from the counting run (ring $ring)"; cat "$tmp/count-$ring.out"; exit 1; }
  counts_line="$counts_line [ring $ring:${line#\# fault counts:}]"
  for p in $points; do
    c=$(sed -n "s/.* $p=\([0-9]*\).*/\1/p" <<<" ${line#\# fault counts:}")
    c=${c:-0}
    [ "$c" -gt 0 ] || continue
    ns=$(seq 1 $(( c < 40 ? c : 40 )))
    if [ "$c" -gt 40 ]; then
      for k in 1 2 3 4 5 6; do ns="$ns $(( 40 + (c - 40) * k / 6 ))"; done
    fi
    ns=$(tr ' ' '\n' <<<"$ns" | awk 'NF && !seen[$0]++')
    for n in $ns; do
      variants=("$p=$n" "$p=$n+")
      case $p in io_setup|io_submit|io_getevents) variants+=("$p=$n+:EPERM" "$p=$n+:ENOSYS") ;; esac
      for v in "${variants[@]}"; do
        ncase=$((ncase + 1))
        echo "c$ncase $ring $v" >>"$tmp/cases"
      done
    done
  done
done
[ $fails -eq 0 ] || exit 1

if [ "${FAULT_INJECT_COMBOS:-1}" != 0 ]; then
  for base in io_setup=1 io_submit=1+:EPERM io_submit=1+ io_getevents=1+:EPERM; do
    for p in thread alloc; do
      for n in 1 2 3 4 6 8 12 16 24 32 48 64; do
        ncase=$((ncase + 1))
        echo "c$ncase default $base,$p=$n+" >>"$tmp/cases"
      done
    done
  done
fi

xargs -P2 -L1 bash -c 'one "$@"' _ <"$tmp/cases"

npass=0
while read -r id ring fault; do
  if [ ! -f "$tmp/$id.rc" ]; then fails=$((fails + 1)); echo "FAIL: KAIO_FAULT=$fault KAIO_MAX_EVENTS=$ring: not run"; continue; fi
  read -r rc _ <"$tmp/$id.rc"
  if [ "$rc" -eq 0 ]; then npass=$((npass + 1)); else report "$id"; fi
done <"$tmp/cases"

echo "fault-inject: $ncase cases, $npass passed, $fails failed, $((SECONDS - t_start)) s; calls per point:$counts_line"
[ $fails -eq 0 ]
