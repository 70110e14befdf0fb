#!/usr/bin/env bash
# Statistics for a process tree: `kaio-run -s` prints per-process and total
# counters for a program whose children leave with _exit (as fio's and
# stress-ng's workers do), one killed by a signal, one vfork child; the
# total is the sum. KAIO_SHOW_STATS=1 alone covers _exit too (kaio
# interposes it) and a vfork child prints nothing. Then the real thing: fio
# --ioengine=posixaio without --thread, and stress-ng --aio, if installed.
set -u
root=${KAIO_ROOT:?}
work=${KAIO_WORK:?}
kr=$root/tools/kaio-run
cc=${CC:-cc}
command -v "$cc" >/dev/null || { echo "no C compiler ($cc)"; exit 77; }
tmp=$(mktemp -d "$work/stats-tree.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
rc=0
bad() { echo "FAIL: $*"; rc=1; }

cat >"$tmp/tree.c" <<'C'
/* Parent: 1 read, then forks 3 children doing 2, 3 and 4 reads: the first
 * two leave with _exit, the third with SIGKILL; then a vfork child that
 * _exits at once. Prints "child PID N" per child, waits, exits normally. */
#define _GNU_SOURCE
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int reads(int fd, int n)
{
    static char buf[4096];
    for (int i = 0; i < n; i++) {
        struct aiocb cb;
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = fd;
        cb.aio_buf = buf;
        cb.aio_nbytes = sizeof buf;
        if (aio_read(&cb) != 0) return -1;
        const struct aiocb *l[1] = {&cb};
        while (aio_error(&cb) == EINPROGRESS) aio_suspend(l, 1, NULL);
        if (aio_return(&cb) != (ssize_t)sizeof buf) return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0 || reads(fd, 1) != 0) return 3;
    for (int k = 0; k < 3; k++) {
        fflush(stdout);
        pid_t p = fork();
        if (p < 0) return 4;
        if (p == 0) {
            int ok = reads(fd, 2 + k) == 0;
            if (k == 2) raise(SIGKILL);
            _exit(ok ? 0 : 1);
        }
        printf("child %d %d\n", (int)p, 2 + k);
        int st;
        if (waitpid(p, &st, 0) != p) return 5;
        if (k < 2 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) return 6;
        if (k == 2 && !(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) return 7;
    }
    pid_t v = vfork();
    if (v == 0) _exit(0);
    printf("vfork %d\n", (int)v);
    waitpid(v, NULL, 0);
    return 0;
}
C
"$cc" -O2 -Wall -Wextra -Werror -o "$tmp/tree" "$tmp/tree.c" 2>"$tmp/cc.log" || { cat "$tmp/cc.log"; exit 1; }
head -c 65536 /dev/urandom >"$tmp/data"

# counter FILE PID NAME: NAME's value on the per-process line of PID.
counter() {
  sed -n "s/^kaio: statistics (pid $2, [^)]*): //p" "$1" | tr ' ' '\n' | grep -A1 -x "$3" | sed -n 2p
}
total() { sed -n '/^kaio: statistics (total/,$p' "$1" | sed -n "s/^kaio:   $2 //p"; }

# 1. kaio-run -s.
mkdir "$tmp/t"
env -u KAIO_SHOW_STATS -u KAIO_DISABLE TMPDIR="$tmp/t" "$kr" -s "$tmp/tree" "$tmp/data" >"$tmp/out" 2>"$tmp/err"
r=$?
[ $r -eq 0 ] || bad "kaio-run -s tree: exit $r"
parent=$(sed -n 's/^kaio: statistics (pid \([0-9]*\), tree): .*/\1/p' "$tmp/err" | head -1)
want_total=1
while read -r what pid n; do
  [ "$what" = child ] || continue
  want_total=$((want_total + n))
  got=$(counter "$tmp/err" "$pid" submitted)
  [ "$got" = "$n" ] || bad "kaio-run -s: child $pid submitted '${got}', want $n"
  got=$(counter "$tmp/err" "$pid" completed)
  [ "$got" = "$n" ] || bad "kaio-run -s: child $pid completed '${got}', want $n"
done <"$tmp/out"
killed=$(sed -n 's/^child \([0-9]*\) 4$/\1/p' "$tmp/out")
grep -q "^kaio: statistics (pid $killed, tree): .*(did not exit" "$tmp/err" || bad "kaio-run -s: the killed child is not marked"
vf=$(sed -n 's/^vfork //p' "$tmp/out")
grep -q "pid $vf\b" "$tmp/err" && bad "kaio-run -s: the vfork child has statistics of its own"
[ "$(total "$tmp/err" submitted)" = "$want_total" ] || bad "kaio-run -s: total submitted $(total "$tmp/err" submitted), want $want_total"
[ "$(total "$tmp/err" completed)" = "$want_total" ] || bad "kaio-run -s: total completed $(total "$tmp/err" completed), want $want_total"
grep -q "^kaio: statistics (total, 4 processes)" "$tmp/err" || bad "kaio-run -s: not 4 processes in total"
[ -n "$parent" ] && [ "$(counter "$tmp/err" "$parent" submitted)" = 1 ] || bad "kaio-run -s: the parent's line is wrong"
[ -z "$(ls -A "$tmp/t")" ] || bad "kaio-run -s left its directory behind: $(ls -A "$tmp/t")"
if [ $rc -ne 0 ]; then sed 's/^/    [out] /' "$tmp/out"; sed 's/^/    [err] /' "$tmp/err"; fi

# 2. KAIO_SHOW_STATS=1 without kaio-run: the parent (exit) and the two
# _exit children print; the killed child cannot; the vfork child must not.
env -u KAIO_STATS_DIR KAIO_SHOW_STATS=1 LD_PRELOAD="${KAIO_LIB:?}" "$tmp/tree" "$tmp/data" >"$tmp/out2" 2>"$tmp/err2"
[ $? -eq 0 ] || bad "KAIO_SHOW_STATS=1 tree: failed"
blocks=$(grep -c '^kaio: statistics (pid' "$tmp/err2")
[ "$blocks" = 3 ] || { bad "KAIO_SHOW_STATS=1: $blocks statistics blocks, want 3 (parent and two _exit children)"; sed 's/^/    /' "$tmp/err2"; }
for pid in $(sed -n 's/^child \([0-9]*\) [23]$/\1/p' "$tmp/out2"); do
  grep -q "^kaio: statistics (pid $pid)" "$tmp/err2" || bad "KAIO_SHOW_STATS=1: no block for _exit child $pid"
done

# 3. fio (job processes, not threads) and stress-ng's workers.
cd "$tmp" || exit 1
if command -v fio >/dev/null; then
  env -u KAIO_SHOW_STATS "$kr" -s fio --name=t --ioengine=posixaio --iodepth=8 --rw=randread --bs=4k \
      --size=8M --filename="$tmp/fio.data" --numjobs=2 --runtime=1 --time_based >"$tmp/fio.out" 2>"$tmp/fio.err"
  [ $? -eq 0 ] || { bad "kaio-run -s fio failed"; tail -5 "$tmp/fio.err"; }
  n=$(grep -c '^kaio: statistics (pid [0-9]*, fio): submitted [1-9]' "$tmp/fio.err")
  [ "$n" -ge 2 ] || { bad "kaio-run -s fio: $n job processes with counters, want 2"; sed 's/^/    /' "$tmp/fio.err" | tail; }
  sub=$(total "$tmp/fio.err" submitted)
  [ "${sub:-0}" -gt 0 ] || bad "kaio-run -s fio: no total"
else
  echo "note: fio not installed: skipped the fio run"
fi
if command -v stress-ng >/dev/null; then
  env -u KAIO_SHOW_STATS "$kr" -s stress-ng --aio 2 --aio-requests 4 -t 2 --temp-path "$tmp" >"$tmp/sng.out" 2>"$tmp/sng.err"
  [ $? -eq 0 ] || { bad "kaio-run -s stress-ng failed"; tail -5 "$tmp/sng.err"; }
  n=$(grep -c '^kaio: statistics (pid [0-9]*, [^)]*): submitted [1-9]' "$tmp/sng.err")
  [ "$n" -ge 2 ] || { bad "kaio-run -s stress-ng --aio 2: $n workers with counters, want 2"; sed 's/^/    /' "$tmp/sng.err" | tail; }
  sub=$(total "$tmp/sng.err" submitted)
  [ "${sub:-0}" -gt 0 ] || bad "kaio-run -s stress-ng: no total"
else
  echo "note: stress-ng not installed: skipped the stress-ng run"
fi

[ $rc -eq 0 ] && echo "stats-tree: ok"
exit $rc
