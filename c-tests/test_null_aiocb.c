/* KAIO_ONLY: a NULL aiocb pointer to aio_read, aio_write, aio_error,
 * aio_return, aio_fsync (and the *64 names) fails with -1/EINVAL instead of
 * crashing (glibc segfaults). */
#include "harness.h"

int main(void)
{
    t_init("test_null_aiocb", 30);
    /* volatile: glibc's <aio.h> declares these arguments nonnull. */
    struct aiocb *volatile nullcb = NULL;
    struct aiocb64 *volatile nullcb64 = NULL;
    int r, e;
    ssize_t n;

#define TRY(expr, name) do { errno = 0; r = (expr); e = errno; \
        OUT("%s(NULL) = %d %s", name, r, errname(e)); \
        CHECK(r == -1 && e == EINVAL, "%s", name); } while (0)
    TRY(aio_read(nullcb), "aio_read");
    TRY(aio_write(nullcb), "aio_write");
    TRY(aio_error(nullcb), "aio_error");
    TRY(aio_fsync(O_SYNC, nullcb), "aio_fsync(O_SYNC)");
    TRY(aio_fsync(O_DSYNC, nullcb), "aio_fsync(O_DSYNC)");
    TRY(aio_read64(nullcb64), "aio_read64");
    TRY(aio_write64(nullcb64), "aio_write64");
    TRY(aio_error64(nullcb64), "aio_error64");
    TRY(aio_fsync64(O_SYNC, nullcb64), "aio_fsync64");
    errno = 0;
    n = aio_return(nullcb);
    e = errno;
    OUT("aio_return(NULL) = %zd %s", n, errname(e));
    CHECK(n == -1 && e == EINVAL, "aio_return");
    errno = 0;
    n = aio_return64(nullcb64);
    e = errno;
    OUT("aio_return64(NULL) = %zd %s", n, errname(e));
    CHECK(n == -1 && e == EINVAL, "aio_return64");

    /* The library still works afterwards. */
    const char *path = t_make_file(0, "null_aiocb", 4096, 43);
    int fd = open(path, O_RDONLY);
    char buf[4096];
    struct aiocb cb;
    t_cb(&cb, fd, buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);
    n = aio_return(&cb);
    OUT("normal read afterwards = %zd", n);
    CHECK(n == 4096 && check_pat(buf, 4096, 0, 43) < 0, "read");
    close(fd);
    unlink(path);
    return t_done();
}
