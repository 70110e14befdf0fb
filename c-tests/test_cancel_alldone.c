/* aio_cancel on a finished request → AIO_ALLDONE, and its result is intact;
 * aio_cancel(fd, NULL) on an fd with nothing in flight → AIO_ALLDONE (both a
 * fd that had requests, all done, and a fd that never had one). */
#include "harness.h"

static const char *cname(int r)
{
    return r == AIO_CANCELED ? "AIO_CANCELED" : r == AIO_NOTCANCELED ? "AIO_NOTCANCELED"
         : r == AIO_ALLDONE ? "AIO_ALLDONE" : r == -1 ? "-1" : "?";
}

int main(void)
{
    t_init("test_cancel_alldone", 30);
    const char *path = t_make_file(0, "cancel_alldone", 8192, 6);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open: %s", errname(errno));
    char buf[8192];
    struct aiocb cb;
    t_cb(&cb, fd, buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);

    int r = aio_cancel(fd, &cb);
    OUT("aio_cancel(fd, done cb) = %s", cname(r));
    CHECK(r == AIO_ALLDONE, "got %d (%s)", r, errname(errno));
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("after: aio_error = %s, aio_return = %zd, cksum = %08x", errname(e), n, cksum(buf, sizeof buf));
    CHECK(e == 0 && n == 8192 && check_pat(buf, sizeof buf, 0, 6) == -1, "result changed");

    r = aio_cancel(fd, NULL);
    OUT("aio_cancel(fd, NULL) after all done = %s", cname(r));
    CHECK(r == AIO_ALLDONE, "got %d (%s)", r, errname(errno));

    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    r = aio_cancel(p[0], NULL);
    OUT("aio_cancel(fresh pipe, NULL) = %s", cname(r));
    CHECK(r == AIO_ALLDONE, "got %d (%s)", r, errname(errno));

    /* A finished write too. */
    struct aiocb w;
    fill_pat(buf, 4096, 0, 7);
    t_cb(&w, fd, buf, 4096, 0);
    CHECK(aio_write(&w) == 0, "aio_write: %s", errname(errno));
    t_wait(&w);
    r = aio_cancel(fd, &w);
    OUT("aio_cancel(fd, done write) = %s", cname(r));
    CHECK(r == AIO_ALLDONE, "got %d (%s)", r, errname(errno));
    n = aio_return(&w);
    OUT("write: aio_return = %zd", n);
    CHECK(n == 4096, "write result %zd", n);

    close(p[0]); close(p[1]); close(fd);
    unlink(path);
    return t_done();
}
