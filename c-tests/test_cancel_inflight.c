/* aio_cancel of a request that is running (a pipe read blocked for want of
 * data): AIO_NOTCANCELED on both backends (glibc: a thread is working on it;
 * kaio: pipe requests run on a kaio thread). aio_cancel(fd, NULL) says the
 * same. The read is unaffected: once data is written it completes with it.
 * The pipe read is the first request of the process on purpose (on glibc a
 * request queued for an idle thread could still be cancelled). */
#include "harness.h"

static const char *cname(int r)
{
    return r == AIO_CANCELED ? "AIO_CANCELED" : r == AIO_NOTCANCELED ? "AIO_NOTCANCELED"
         : r == AIO_ALLDONE ? "AIO_ALLDONE" : r == -1 ? "-1" : "?";
}

int main(void)
{
    t_init("test_cancel_inflight", 30);
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    char buf[32];
    struct aiocb cb;
    t_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));

    /* Give the request time to be picked up; not required for kaio. */
    const struct aiocb *l[1] = { &cb };
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    aio_suspend(l, 1, &ts);

    int r = aio_cancel(p[0], &cb);
    OUT("aio_cancel(fd, running read) = %s", cname(r));
    CHECK(r == AIO_NOTCANCELED, "got %d (%s)", r, errname(errno));
    OUT("aio_error = %s", errname(aio_error(&cb)));
    CHECK(aio_error(&cb) == EINPROGRESS, "not in flight");

    r = aio_cancel(p[0], NULL);
    OUT("aio_cancel(fd, NULL) = %s", cname(r));
    CHECK(r == AIO_NOTCANCELED, "got %d (%s)", r, errname(errno));

    CHECK(write(p[1], "still here", 10) == 10, "write");
    t_wait(&cb);
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("aio_error = %s, aio_return = %zd, data = %.10s", errname(e), n, buf);
    CHECK(e == 0 && n == 10 && memcmp(buf, "still here", 10) == 0, "read result");

    r = aio_cancel(p[0], &cb);
    OUT("aio_cancel(fd, finished read) = %s", cname(r));
    CHECK(r == AIO_ALLDONE, "got %d", r);
    close(p[0]); close(p[1]);
    return t_done();
}
