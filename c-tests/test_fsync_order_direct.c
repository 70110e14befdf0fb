/* The aio_fsync ordering rule: 32 O_DIRECT writes, then aio_fsync at once.
 * When the fsync's aio_error turns 0, every one of the 32 writes must already
 * be complete (aio_error 0). A bare kernel IOCB_CMD_FSYNC would not wait for
 * the in-flight writes; POSIX (and glibc) require it. Data then reads back. */
#include "harness.h"

#define NW 32
#define LEN 65536

int main(void)
{
    t_init("test_fsync_order_direct", 60);
    const char *path = t_make_file(0, "fsync_order", 0, 0);
    int fd = open(path, O_RDWR | O_DIRECT);
    if (fd < 0 && errno == EINVAL) { unlink(path); T_SKIP("no O_DIRECT on %s", t_dir()); }
    CHECK(fd >= 0, "open: %s", errname(errno));
    char *mem = NULL;
    if (posix_memalign((void **)&mem, 4096, (size_t)NW * LEN) != 0) {
        OUT("posix_memalign failed");
        return 1;
    }
    struct aiocb w[NW], s;
    for (int i = 0; i < NW; i++) {
        fill_pat(mem + (size_t)i * LEN, LEN, (uint64_t)i * LEN, 31);
        t_cb(&w[i], fd, mem + (size_t)i * LEN, LEN, (off_t)i * LEN);
        CHECK(aio_write(&w[i]) == 0, "aio_write %d: %s", i, errname(errno));
    }
    t_cb(&s, fd, NULL, 0, 0);
    int r = aio_fsync(O_SYNC, &s);
    OUT("aio_fsync = %d", r);
    CHECK(r == 0, "aio_fsync: %s", errname(errno));

    /* Poll the fsync alone; the moment it is done, look at the writes. */
    int se;
    while ((se = aio_error(&s)) == EINPROGRESS) {
        const struct aiocb *l[1] = { &s };
        aio_suspend(l, 1, NULL);
    }
    int pending = 0, first = -1;
    for (int i = 0; i < NW; i++)
        if (aio_error(&w[i]) != 0) { pending++; if (first < 0) first = i; }
    OUT("fsync aio_error = %s, writes not done at that moment = %d", errname(se), pending);
    CHECK(se == 0, "fsync error %s", errname(se));
    CHECK(pending == 0, "%d of %d writes not complete when fsync completed (first: #%d, %s)",
          pending, NW, first, first >= 0 ? errname(aio_error(&w[first])) : "-");
    CHECK(aio_return(&s) == 0, "fsync aio_return");

    for (int i = 0; i < NW; i++) {
        t_wait(&w[i]);
        ssize_t n = aio_return(&w[i]);
        CHECK(n == LEN, "write %d returned %zd (%s)", i, n, errname(aio_error(&w[i])));
    }
    int rfd = open(path, O_RDONLY);
    char *rb = malloc((size_t)NW * LEN);
    ssize_t got = pread(rfd, rb, (size_t)NW * LEN, 0);
    long bad = check_pat(rb, (size_t)NW * LEN, 0, 31);
    OUT("readback %zd bytes, cksum = %08x, first bad = %ld", got, cksum(rb, (size_t)NW * LEN), bad);
    CHECK(got == (ssize_t)NW * LEN && bad == -1, "readback");
    free(rb); free(mem);
    close(rfd); close(fd);
    unlink(path);
    return t_done();
}
