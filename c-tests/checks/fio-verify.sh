#!/usr/bin/env bash
# A real client under kaio: fio's posixaio engine with crc32c verification,
# LD_PRELOAD=$KAIO_LIB, on a 64 MiB file in $KAIO_WORK shared by 4 jobs (each
# its own 16 MiB range, --offset_increment):
#   buffered    random writes 4-64 KiB, iodepth 32, fsync every 8 writes,
#               each block read back and verified as it goes (verify_backlog)
#   direct      the same with O_DIRECT, iodepth 64, fdatasync every 16 writes
#   dio-fill    O_DIRECT random writes of the whole file, then a verify pass
#   cross       verify_only: the dio-fill data read back buffered (other path)
#   processes   4 forked job processes (not threads), buffered, fsync every 4
# Each run: fio exits 0, every job reports "error" : 0 (a checksum mismatch is
# error 84 and exit 1), data was written and read back. The thread runs also
# show kaio served them: KAIO_SHOW_STATS=1 makes kaio print its counters on
# stderr at exit ("kaio:   <name> <value>", one block per process, zero
# counters may be left out); completed == submitted, kaio accepted at least
# as many requests as fio issued reads and writes, and the expected path
# (kernel for O_DIRECT, inline/thread for buffered) is non-zero. fio's forked
# job processes end with _exit, so the process run has no counters: there
# only fio's own verification counts. Exit 77 if fio is missing.
set -u
command -v fio >/dev/null || { echo "fio not installed (apt-get install fio)"; exit 77; }
fio --enghelp 2>&1 | grep -qw posixaio || { echo "this fio has no posixaio engine"; exit 77; }
lib=${KAIO_LIB:?}; work=${KAIO_WORK:?}
[ -f "$lib" ] || { echo "$lib missing"; exit 1; }
tmp=$(mktemp -d "$work/fio-verify.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1                   # fio writes *-verify.state files in its cwd
data=$tmp/data
truncate -s 64M "$data" || exit 1
rc=0
bad() { echo "FAIL: $*"; rc=1; }

common=(--ioengine=posixaio --filename="$data" --numjobs=4 --size=16m --offset_increment=16m
        --verify=crc32c --verify_fatal=1 --verify_state_save=0 --output-format=json)

# run NAME PATH(kernel|cached|none) FIO-ARGS...
run() {
  local name=$1 path=$2; shift 2
  local json=$tmp/$name.json err=$tmp/$name.err t0=$SECONDS
  KAIO_SHOW_STATS=1 LD_PRELOAD=$lib timeout -k 5 60 \
    fio --name="$name" "${common[@]}" --output="$json" "$@" 2>"$err"
  local st=$?
  # Totals over the jobs: read/write bytes and I/Os, jobs without error.
  local sums
  sums=$(awk '
    /"read" : \{/ { d = "r" } /"write" : \{/ { d = "w" } /"trim" : \{/ { d = "t" }
    /"io_bytes" :/ { v = $3; gsub(/[^0-9]/, "", v); b[d] += v }
    /"total_ios" :/ { v = $3; gsub(/[^0-9]/, "", v); n[d] += v }
    /"error" :/ { v = $3; gsub(/[^0-9]/, "", v); if (v == 0) ok++; else bad++ }
    END { printf "%d %d %d %d %d %d\n", b["r"], b["w"], n["r"], n["w"], ok, bad }' "$json" 2>/dev/null)
  local rbytes wbytes rios wios jobs_ok jobs_bad
  read -r rbytes wbytes rios wios jobs_ok jobs_bad <<<"${sums:-0 0 0 0 0 0}"
  # kaio's statistics blocks: one line per process, "submitted completed kernel inline thread".
  local stats
  stats=$(awk '
    function flush() { if (inblk) print s["submitted"]+0, s["completed"]+0, s["kernel"]+0, s["inline"]+0, s["thread"]+0 }
    /^kaio: statistics/ { flush(); inblk = 1; delete s; next }
    /^kaio:   [a-z_]+ [0-9]+$/ { s[$2] = $3 }
    END { flush() }' "$err")
  local ksub=0 kdone=0 kkern=0 kinl=0 kthr=0 nblk=0 a b c d e
  while read -r a b c d e; do
    [ -n "$a" ] || continue
    nblk=$((nblk + 1)); ksub=$((ksub + a)); kdone=$((kdone + b))
    kkern=$((kkern + c)); kinl=$((kinl + d)); kthr=$((kthr + e))
    [ "$a" = "$b" ] || bad "$name: a kaio process completed $b of $a requests"
  done <<<"$stats"
  echo "$name: fio exit $st, $((SECONDS - t0)) s, jobs ok $jobs_ok, error $jobs_bad;" \
       "read $((rbytes >> 20)) MiB ($rios I/Os), written $((wbytes >> 20)) MiB ($wios I/Os);" \
       "kaio ($nblk stats blocks): submitted $ksub completed $kdone kernel $kkern inline $kinl thread $kthr"
  local failed=0
  [ "$st" -eq 0 ] || { bad "$name: fio exit status $st"; failed=1; }
  if [ "$jobs_ok" -ne 4 ] || [ "$jobs_bad" -ne 0 ]; then bad "$name: $jobs_ok jobs without error, $jobs_bad with"; failed=1; fi
  [ "$rbytes" -gt 0 ] || { bad "$name: nothing read back (verified)"; failed=1; }
  grep -q 'verify:' "$err" "$json" 2>/dev/null && { bad "$name: fio reported verify errors"; failed=1; }
  if [ "$path" != none ]; then
    [ "$nblk" -ge 1 ] || { bad "$name: no kaio statistics on stderr: did kaio serve fio?"; failed=1; }
    if [ "$ksub" -eq 0 ] || [ "$ksub" -ne "$kdone" ]; then bad "$name: kaio submitted $ksub, completed $kdone"; failed=1; fi
    # verify_only counts the writes it skips: only its reads reach kaio.
    local ios=$((rios + wios))
    case " $* " in *" --verify_only "*) ios=$rios ;; esac
    [ "$ksub" -ge "$ios" ] || { bad "$name: kaio saw $ksub requests, fio did $ios I/Os"; failed=1; }
    [ $((kkern + kinl + kthr)) -gt 0 ] || { bad "$name: no request on kernel/inline/thread"; failed=1; }
    case $path in
      kernel) [ "$kkern" -gt 0 ] || { bad "$name: O_DIRECT but kernel = 0"; failed=1; } ;;
      cached) [ $((kinl + kthr)) -gt 0 ] || { bad "$name: buffered but inline + thread = 0"; failed=1; } ;;
    esac
  fi
  if [ $failed -ne 0 ]; then
    sed 's/^/    [stderr] /' "$err" | head -20
    grep -E '"error"|verify' "$json" 2>/dev/null | sed 's/^/    [json] /' | head -10
  fi
}

run buffered cached --thread --rw=randwrite --bsrange=4k-64k --iodepth=32 --fsync=8 \
    --verify_backlog=32 --time_based --runtime=6
run direct kernel --thread --direct=1 --rw=randwrite --bsrange=4k-64k --iodepth=64 --fdatasync=16 \
    --verify_backlog=64 --time_based --runtime=6
run dio-fill kernel --thread --direct=1 --rw=randwrite --bs=16k --iodepth=16 --fsync=32 --randseed=4242
run cross cached --thread --direct=0 --rw=randwrite --bs=16k --iodepth=48 --randseed=4242 --verify_only
run processes none --rw=randwrite --bsrange=4k-32k --iodepth=16 --fsync=4 --verify_backlog=16 \
    --time_based --runtime=4

[ $rc -eq 0 ] && echo "fio-verify: ok"
exit $rc
