/* aio_fsync argument checks at call time: an op other than O_SYNC/O_DSYNC
 * (0, O_RDWR, O_APPEND) → -1/EINVAL; a closed fd → -1/EBADF (both backends).
 * A valid op on an open fd is accepted and completes with 0. */
#include "harness.h"

static void bad(const char *what, int op, int fd, int want)
{
    struct aiocb cb;
    t_cb(&cb, fd, NULL, 0, 0);
    errno = 0;
    int r = aio_fsync(op, &cb);
    int err = errno;
    OUT("%s: aio_fsync = %d %s", what, r, r ? errname(err) : "");
    CHECK(r == -1 && err == want, "%s: got %d %s, want -1 %s", what, r, errname(err),
          errname(want));
    if (r == 0) t_wait(&cb);
}

int main(void)
{
    t_init("test_fsync_bad_args", 30);
    const char *path = t_make_file(0, "fsync_bad", 4096, 5);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open: %s", errname(errno));

    bad("op 0", 0, fd, EINVAL);
    bad("op O_RDWR", O_RDWR, fd, EINVAL);
    bad("op O_APPEND", O_APPEND, fd, EINVAL);
    bad("op -1", -1, fd, EINVAL);

    int hi = 900;
    CHECK(fcntl(hi, F_GETFD) == -1 && errno == EBADF, "fd %d is open", hi);
    bad("closed fd", O_SYNC, hi, EBADF);
    bad("fd -1", O_DSYNC, -1, EBADF);

    int ops[2] = { O_SYNC, O_DSYNC };
    for (int i = 0; i < 2; i++) {
        struct aiocb cb;
        t_cb(&cb, fd, NULL, 0, 0);
        int r = aio_fsync(ops[i], &cb);
        OUT("%s on open fd: aio_fsync = %d", i ? "O_DSYNC" : "O_SYNC", r);
        CHECK(r == 0, "aio_fsync: %s", errname(errno));
        if (r) continue;
        t_wait(&cb);
        int e = aio_error(&cb);
        ssize_t n = aio_return(&cb);
        OUT("  aio_error = %s, aio_return = %zd", errname(e), n);
        CHECK(e == 0 && n == 0, "fsync result %s %zd", errname(e), n);
    }
    close(fd);
    unlink(path);
    return t_done();
}
