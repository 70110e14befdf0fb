#!/usr/bin/env bash
# No heap allocation per request on the kernel path: the same program doing
# 200 and then 2000 O_DIRECT reads (aio_read, aio_suspend, aio_error,
# aio_return) under kaio must show the same number of heap allocations in
# valgrind's summary, up to a few of kaio's one-time setup.
set -u
command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 77; }
tmp=$(mktemp -d "$KAIO_WORK/noalloc.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/loop.c" <<'C'
#define _GNU_SOURCE
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int n = atoi(argv[2]);
    int fd = open(argv[1], O_RDONLY | O_DIRECT);
    if (fd < 0) return 77;
    void *buf;
    if (posix_memalign(&buf, 4096, 4096)) return 1;
    struct aiocb cb;
    const struct aiocb *l[1] = { &cb };
    for (int i = 0; i < n; i++) {
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = fd; cb.aio_buf = buf; cb.aio_nbytes = 4096;
        cb.aio_offset = (off_t)(i % 256) * 4096;
        cb.aio_sigevent.sigev_notify = SIGEV_NONE;
        if (aio_read(&cb)) return 2;
        while (aio_error(&cb) == EINPROGRESS) aio_suspend(l, 1, NULL);
        if (aio_return(&cb) != 4096) return 3;
    }
    return 0;
}
C
cc -O2 -o "$tmp/loop" "$tmp/loop.c" || exit 1
head -c 1048576 /dev/urandom >"$tmp/data"
allocs() {
  LD_PRELOAD="$KAIO_LIB" valgrind --tool=memcheck --leak-check=no "$tmp/loop" "$tmp/data" "$1" 2>&1 \
    | sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' | tr -d ,
}
a=$(allocs 200); b=$(allocs 2000)
[ -n "$a" ] && [ -n "$b" ] || { echo "no valgrind summary (O_DIRECT unsupported?)"; exit 77; }
echo "heap allocations: $a for 200 requests, $b for 2000"
[ $((b - a)) -le 4 ] || { echo "allocations grow with the number of requests"; exit 1; }
