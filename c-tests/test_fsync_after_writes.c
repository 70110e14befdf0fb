/* aio_fsync (O_SYNC, then O_DSYNC) submitted right after several aio_writes
 * on the same file: once the fsync is done, every earlier write is done
 * (aio_error 0, aio_return = length) and the data reads back. */
#include "harness.h"

#define NW 8
#define LEN 8192

static void round_(int fd, int op, unsigned seed)
{
    static char bufs[NW][LEN];
    struct aiocb w[NW], s;
    for (int i = 0; i < NW; i++) {
        fill_pat(bufs[i], LEN, (uint64_t)i * LEN, seed);
        t_cb(&w[i], fd, bufs[i], LEN, (off_t)i * LEN);
        CHECK(aio_write(&w[i]) == 0, "aio_write %d: %s", i, errname(errno));
    }
    t_cb(&s, fd, NULL, 0, 0);
    int r = aio_fsync(op, &s);
    const char *name = op == O_SYNC ? "O_SYNC" : "O_DSYNC";
    OUT("%s: aio_fsync = %d", name, r);
    CHECK(r == 0, "aio_fsync: %s", errname(errno));
    t_wait(&s);
    int se = aio_error(&s);
    int not_done = 0;
    for (int i = 0; i < NW; i++)
        if (aio_error(&w[i]) != 0) not_done++;
    OUT("%s: fsync aio_error = %s, writes not done when fsync done = %d", name,
        errname(se), not_done);
    CHECK(se == 0, "fsync error %s", errname(se));
    CHECK(not_done == 0, "%d writes still pending/failed after fsync", not_done);
    ssize_t sn = aio_return(&s);
    CHECK(sn == 0, "fsync aio_return %zd", sn);
    for (int i = 0; i < NW; i++) {
        t_wait(&w[i]);
        ssize_t n = aio_return(&w[i]);
        CHECK(n == LEN, "write %d returned %zd", i, n);
    }
    static char rb[NW * LEN];
    ssize_t got = pread(fd, rb, sizeof rb, 0);
    CHECK(got == (ssize_t)sizeof rb, "pread %zd", got);
    long bad = check_pat(rb, sizeof rb, 0, seed);
    OUT("%s: readback cksum = %08x, first bad = %ld", name, cksum(rb, sizeof rb), bad);
    CHECK(bad == -1, "data differs at %ld", bad);
}

int main(void)
{
    t_init("test_fsync_after_writes", 30);
    const char *path = t_make_file(0, "fsync_after", 0, 0);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open: %s", errname(errno));
    round_(fd, O_SYNC, 21);
    round_(fd, O_DSYNC, 22);
    close(fd);
    unlink(path);
    return t_done();
}
