/* aio_cancel argument checks: a bad fd → -1/EBADF (with a NULL aiocb and
 * with an aiocb naming that fd); an aiocb whose aio_fildes differs from the
 * fd argument → -1/EINVAL, and the request is not touched. */
#include "harness.h"

int main(void)
{
    t_init("test_cancel_bad_args", 30);
    int hi = 900;
    CHECK(fcntl(hi, F_GETFD) == -1 && errno == EBADF, "fd %d is open", hi);

    errno = 0;
    int r = aio_cancel(hi, NULL);
    int err = errno;
    OUT("aio_cancel(closed fd, NULL) = %d %s", r, r == -1 ? errname(err) : "");
    CHECK(r == -1 && err == EBADF, "got %d %s", r, errname(err));

    errno = 0;
    r = aio_cancel(-1, NULL);
    err = errno;
    OUT("aio_cancel(-1, NULL) = %d %s", r, r == -1 ? errname(err) : "");
    CHECK(r == -1 && err == EBADF, "got %d %s", r, errname(err));

    char buf[64];
    struct aiocb cb;
    t_cb(&cb, hi, buf, sizeof buf, 0);
    errno = 0;
    r = aio_cancel(hi, &cb);
    err = errno;
    OUT("aio_cancel(closed fd, cb of that fd) = %d %s", r, r == -1 ? errname(err) : "");
    CHECK(r == -1 && err == EBADF, "got %d %s", r, errname(err));

    /* A request on pipe A, cancelled through pipe B's fd. */
    int a[2], b[2];
    CHECK(pipe(a) == 0 && pipe(b) == 0, "pipe: %s", errname(errno));
    t_cb(&cb, a[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    errno = 0;
    r = aio_cancel(b[0], &cb);
    err = errno;
    OUT("aio_cancel(other fd, cb) = %d %s", r, r == -1 ? errname(err) : "");
    CHECK(r == -1 && err == EINVAL, "got %d %s", r, errname(err));
    OUT("request after: aio_error = %s", errname(aio_error(&cb)));
    CHECK(aio_error(&cb) == EINPROGRESS, "request touched");

    /* A done request with the wrong fd: still EINVAL. */
    CHECK(write(a[1], "data", 4) == 4, "write");
    t_wait(&cb);
    errno = 0;
    r = aio_cancel(b[0], &cb);
    err = errno;
    OUT("aio_cancel(other fd, done cb) = %d %s", r, r == -1 ? errname(err) : "");
    CHECK(r == -1 && err == EINVAL, "got %d %s", r, errname(err));
    ssize_t n = aio_return(&cb);
    OUT("aio_error = %s, aio_return = %zd", errname(aio_error(&cb)), n);
    CHECK(n == 4 && memcmp(buf, "data", 4) == 0, "read result");
    close(a[0]); close(a[1]); close(b[0]); close(b[1]);
    return t_done();
}
