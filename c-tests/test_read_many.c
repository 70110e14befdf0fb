/* 64 aio_reads in flight at once on one file (different offsets and sizes,
 * submitted before any is waited for); each completes with the right count
 * and the right bytes. */
#include "harness.h"

#define N 64

int main(void)
{
    t_init("test_read_many", 60);
    const size_t fsize = 4 << 20;
    const char *path = t_make_file(0, "read_many", fsize, 13);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));

    static struct aiocb cb[N];
    char *buf[N];
    size_t len[N];
    off_t off[N];
    for (int i = 0; i < N; i++) {
        len[i] = 1000 + (size_t)i * 997;                 /* 1000 .. ~63 KiB */
        off[i] = (off_t)((fsize - 65536) / N) * (N - 1 - i) + i * 3;
        buf[i] = malloc(len[i]);
        t_cb(&cb[i], fd, buf[i], len[i], off[i]);
        int r = aio_read(&cb[i]);
        CHECK(r == 0, "aio_read %d: %s", i, errname(errno));
    }
    uint32_t all = 2166136261u;
    int ok = 0;
    for (int i = 0; i < N; i++) {
        t_wait(&cb[i]);
        int e = aio_error(&cb[i]);
        ssize_t n = aio_return(&cb[i]);
        CHECK(e == 0 && n == (ssize_t)len[i], "req %d: %s %zd", i, errname(e), n);
        long bad = check_pat(buf[i], len[i], off[i], 13);
        CHECK(bad < 0, "req %d: data differs at +%ld", i, bad);
        if (e == 0 && n == (ssize_t)len[i] && bad < 0) ok++;
        all = (all ^ cksum(buf[i], len[i])) * 16777619u;
        free(buf[i]);
    }
    OUT("%d of %d reads correct", ok, N);
    OUT("combined cksum %08x", all);
    close(fd);
    unlink(path);
    return t_done();
}
