/* aio_fsync does not use aio_reqprio: glibc sets it to 0 for a sync request
 * and never checks it, and POSIX lists no aio_reqprio error for aio_fsync
 * (only for aio_read/aio_write, see test_read_einval). So aio_fsync with
 * aio_reqprio -1, 21 or INT_MAX is accepted (0) and completes with aio_error
 * 0, aio_return 0, for O_SYNC and O_DSYNC, buffered and O_DIRECT. */
#include "harness.h"

int main(void)
{
    t_init("test_bad_fsync_reqprio", 30);
    const char *path = t_make_file(0, "bad_fsync_reqprio", 4096, 71);
    int fds[2] = { open(path, O_RDWR), open(path, O_RDWR | O_DIRECT) };
    CHECK(fds[0] >= 0, "open: %s", errname(errno));
    if (fds[1] < 0) T_SKIP("no O_DIRECT in %s", t_dir());
    static const int prios[] = { -1, 21, INT_MAX };
    static const int ops[] = { O_SYNC, O_DSYNC };
    for (int f = 0; f < 2; f++)
        for (int o = 0; o < 2; o++)
            for (unsigned i = 0; i < sizeof prios / sizeof prios[0]; i++) {
                struct aiocb cb;
                t_cb(&cb, fds[f], NULL, 0, 0);
                cb.aio_reqprio = prios[i];
                errno = 0;
                int r = aio_fsync(ops[o], &cb);
                int err = errno;
                OUT("%s, %s, aio_reqprio %d: aio_fsync = %d %s", f ? "O_DIRECT" : "buffered",
                    o ? "O_DSYNC" : "O_SYNC", prios[i], r, r ? errname(err) : "");
                CHECK(r == 0, "aio_fsync rejected: %s", errname(err));
                if (r) continue;
                t_wait(&cb);
                int e = aio_error(&cb);
                ssize_t n = aio_return(&cb);
                OUT("  aio_error = %s, aio_return = %zd", errname(e), n);
                CHECK(e == 0 && n == 0, "fsync result");
                NOTE("  aio_reqprio afterwards: %d", cb.aio_reqprio);
            }
    close(fds[0]);
    close(fds[1]);
    unlink(path);
    return t_done();
}
