/* aio_suspend with a relative timeout that expires while the request is still
 * in flight (a pipe read with no data) returns -1/EAGAIN; a zero timeout
 * {0,0} polls: -1/EAGAIN at once. The request then completes normally. */
#include "harness.h"

int main(void)
{
    t_init("test_suspend_timeout", 30);
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    char buf[16];
    struct aiocb cb;
    t_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    const struct aiocb *l[1] = { &cb };

    struct timespec ts = { 0, 50 * 1000 * 1000 };
    errno = 0;
    int r = aio_suspend(l, 1, &ts);
    int err = errno;
    OUT("aio_suspend 50ms = %d %s", r, r ? errname(err) : "");
    CHECK(r == -1 && err == EAGAIN, "got %d %s", r, errname(err));
    OUT("aio_error = %s", errname(aio_error(&cb)));
    CHECK(aio_error(&cb) == EINPROGRESS, "request not in flight");

    struct timespec zero = { 0, 0 };
    errno = 0;
    r = aio_suspend(l, 1, &zero);
    err = errno;
    OUT("aio_suspend {0,0} = %d %s", r, r ? errname(err) : "");
    CHECK(r == -1 && err == EAGAIN, "got %d %s", r, errname(err));

    /* A NULL entry next to the pending one changes nothing. */
    const struct aiocb *l2[2] = { NULL, &cb };
    errno = 0;
    r = aio_suspend(l2, 2, &zero);
    err = errno;
    OUT("aio_suspend {NULL, pending} {0,0} = %d %s", r, r ? errname(err) : "");
    CHECK(r == -1 && err == EAGAIN, "got %d %s", r, errname(err));

    CHECK(write(p[1], "abc", 3) == 3, "write");
    t_wait(&cb);
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("aio_error = %s, aio_return = %zd", errname(e), n);
    CHECK(e == 0 && n == 3 && memcmp(buf, "abc", 3) == 0, "read result");
    close(p[0]); close(p[1]);
    return t_done();
}
