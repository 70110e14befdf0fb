#!/usr/bin/env bash
# kaio's environment variables, observed from outside a real program:
#  KAIO_DISABLE=1  every call goes to glibc (kaio's counters stay at 0, the
#                  program still works);
#  KAIO_VERBOSE=1  a cold buffered read says why it left the fast path;
#  KAIO_SHOW_STATS=1 prints the counter block at exit;
#  an invalid value is warned about and ignored.
set -u
bin=$KAIO_BUILD/glibc/test_read_buffered
cd "$KAIO_WORK"
rc=0
out=$(KAIO_DISABLE=1 KAIO_SHOW_STATS=1 KAIO_TEST_EXPECT=kaio LD_PRELOAD="$KAIO_LIB" "$bin" 2>&1) || { echo "KAIO_DISABLE run failed"; echo "$out"; rc=1; }
sub=$(printf '%s\n' "$out" | sed -n 's/^kaio:   submitted \([0-9]*\)/\1/p')
[ "$sub" = 0 ] || { echo "KAIO_DISABLE=1: kaio submitted '$sub' requests (want 0)"; rc=1; }
out=$(KAIO_SHOW_STATS=1 KAIO_TEST_EXPECT=kaio LD_PRELOAD="$KAIO_LIB" "$bin" 2>&1)
sub=$(printf '%s\n' "$out" | sed -n 's/^kaio:   submitted \([0-9]*\)/\1/p')
[ -n "$sub" ] && [ "$sub" -gt 0 ] || { echo "KAIO_SHOW_STATS=1: no counters, or nothing submitted"; echo "$out"; rc=1; }
out=$(KAIO_MAX_EVENTS=banana KAIO_TEST_EXPECT=kaio LD_PRELOAD="$KAIO_LIB" "$bin" 2>&1) || { echo "invalid value broke the run"; rc=1; }
printf '%s\n' "$out" | grep -q "kaio: ignoring invalid KAIO_MAX_EVENTS" || { echo "no warning for an invalid KAIO_MAX_EVENTS"; rc=1; }
# A cold buffered read under KAIO_VERBOSE=1.
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
out=$(KAIO_VERBOSE=1 LD_PRELOAD="$KAIO_LIB" "$KAIO_WORK/verbose.$$" "$f" 2>&1) || { echo "verbose program failed"; rc=1; }
printf '%s\n' "$out" | grep -q "missed the page cache" || { echo "KAIO_VERBOSE=1 said nothing about the cache miss:"; echo "$out"; rc=1; }
rm -f "$f" "$KAIO_WORK/verbose.$$" "$KAIO_WORK/verbose.$$.c"
exit $rc
