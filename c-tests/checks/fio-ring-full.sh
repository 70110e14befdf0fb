#!/usr/bin/env bash
# fio's posixaio engine with a small kernel ring (issue 9, case 3): with
# KAIO_MAX_EVENTS=16 kaio's kernel ring holds ~126 requests, so at iodepth 128
# some of fio's O_DIRECT reads always wait in kaio's overflow queue for ring
# space. fio --thread --ioengine=posixaio --direct=1 --rw=randread --bs=4k
# --size=16m --runtime=2 --time_based, LD_PRELOAD=$KAIO_LIB, on a 16 MiB file
# of real data in $KAIO_WORK, at iodepth 1, 32, 128 and 132 (just above the
# ring: a few always waiting, where current kaio hangs most often), each under
# `timeout 20` (fio ignores SIGTERM while its job thread is stuck in
# aio_suspend: SIGKILL 2 s later). Each run must end by itself, fio must exit
# 0 and report "error" : 0, with reads done; kaio must have served it (its
# KAIO_SHOW_STATS block on stderr, completed == submitted). glibc runs the
# same command without trouble. Exit 77 if fio is missing.
set -u
command -v fio >/dev/null || { echo "fio not installed (apt-get install fio)"; exit 77; }
fio --enghelp 2>&1 | grep -qw posixaio || { echo "this fio has no posixaio engine"; exit 77; }
lib=${KAIO_LIB:?}; work=${KAIO_WORK:?}
[ -f "$lib" ] || { echo "$lib missing"; exit 1; }
tmp=$(mktemp -d "$work/fio-ring-full.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
data=$tmp/data
# Real data, not a sparse file: O_DIRECT reads of holes complete at once.
head -c 16M /dev/urandom >"$data" || exit 1
rc=0
bad() { echo "FAIL: $*"; rc=1; }

for depth in 1 32 128 132; do
  name=qd$depth json=$tmp/$name.json err=$tmp/$name.err t0=$SECONDS
  # (In a subshell whose stderr is dropped: no "Killed" message from bash.)
  ( KAIO_MAX_EVENTS=16 KAIO_SHOW_STATS=1 LD_PRELOAD=$lib timeout -k 2 20 \
      fio --name="$name" --filename="$data" --thread --ioengine=posixaio --direct=1 \
          --rw=randread --bs=4k --iodepth="$depth" --size=16m --runtime=2 --time_based \
          --output-format=json --output="$json" 2>"$err"; exit $? ) 2>/dev/null
  st=$?
  secs=$((SECONDS - t0))
  ios=$(awk '/"read" : \{/ { r = 1 } r && /"total_ios" :/ { v = $3; gsub(/[^0-9]/, "", v); print v; exit }' "$json" 2>/dev/null)
  errs=$(grep -E '"error" : [1-9]' "$json" 2>/dev/null | head -1)
  sub=$(awk '/^kaio:   submitted / { s += $3 } END { print s + 0 }' "$err")
  done_=$(awk '/^kaio:   completed / { s += $3 } END { print s + 0 }' "$err")
  full=$(awk '/^kaio:   ring_full / { s += $3 } END { print s + 0 }' "$err")
  echo "iodepth $depth: fio exit $st after $secs s, ${ios:-0} reads;" \
       "kaio submitted $sub completed $done_ ring_full $full"
  failed=0
  case $st in
    0) ;;
    124|137) bad "iodepth $depth: fio hung (killed by timeout after $secs s)"; failed=1 ;;
    *) bad "iodepth $depth: fio exit status $st"; failed=1 ;;
  esac
  if [ $failed -eq 0 ]; then
    [ -z "$errs" ] || { bad "iodepth $depth: fio reported an error: $errs"; failed=1; }
    [ "${ios:-0}" -gt 0 ] || { bad "iodepth $depth: no reads done"; failed=1; }
    grep -q '^kaio: statistics' "$err" || { bad "iodepth $depth: no kaio statistics: did kaio serve fio?"; failed=1; }
    if [ "$sub" -eq 0 ] || [ "$sub" -ne "$done_" ]; then
      bad "iodepth $depth: kaio submitted $sub, completed $done_"; failed=1
    fi
    # Not a failure (io_setup may have failed: then threads serve fio), but
    # then this run did not exercise the overflow queue.
    if [ "$depth" -ge 128 ] && [ "$full" -eq 0 ]; then
      echo "note: iodepth $depth never found kaio's ring full (ring_full 0)"
    fi
  fi
  if [ $failed -ne 0 ]; then
    grep -v '^kaio:   ' "$err" | sed 's/^/    [stderr] /' | head -10
  fi
done

[ $rc -eq 0 ] && echo "fio-ring-full: ok"
exit $rc
