/* aio_suspend returns 0 at once when one request of the list is already done,
 * even when the others are still in flight (a pipe read with no data yet);
 * a list holding only done requests also returns 0. The pending read then
 * completes normally once data is written. */
#include "harness.h"

int main(void)
{
    t_init("test_suspend_done", 30);
    const char *path = t_make_file(0, "suspend_done", 4096, 3);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));

    char fbuf[4096], pbuf[64];
    struct aiocb done, pend;
    t_cb(&done, fd, fbuf, sizeof fbuf, 0);
    t_cb(&pend, p[0], pbuf, sizeof pbuf, 0);
    CHECK(aio_read(&done) == 0, "aio_read file: %s", errname(errno));
    t_wait(&done);
    OUT("file read: aio_error = %s", errname(aio_error(&done)));
    CHECK(aio_read(&pend) == 0, "aio_read pipe: %s", errname(errno));

    /* The pending one first, the done one second. */
    const struct aiocb *l2[2] = { &pend, &done };
    int r = aio_suspend(l2, 2, NULL);
    OUT("aio_suspend {pending, done} = %d", r);
    CHECK(r == 0, "aio_suspend = %d errno %s", r, errname(errno));
    OUT("pending read: aio_error = %s", errname(aio_error(&pend)));
    CHECK(aio_error(&pend) == EINPROGRESS, "pipe read not in flight");

    const struct aiocb *l1[1] = { &done };
    r = aio_suspend(l1, 1, NULL);
    OUT("aio_suspend {done} = %d", r);
    CHECK(r == 0, "aio_suspend = %d errno %s", r, errname(errno));

    /* Done requests with a timeout too: still 0, never EAGAIN. */
    struct timespec ts = { 0, 0 };
    r = aio_suspend(l2, 2, &ts);
    OUT("aio_suspend {pending, done} zero timeout = %d", r);
    CHECK(r == 0, "aio_suspend = %d errno %s", r, errname(errno));

    CHECK(aio_return(&done) == 4096, "file read length");
    CHECK(check_pat(fbuf, sizeof fbuf, 0, 3) == -1, "file data");

    CHECK(write(p[1], "hello", 5) == 5, "write pipe");
    t_wait(&pend);
    int e = aio_error(&pend);
    ssize_t n = aio_return(&pend);
    OUT("pipe read: aio_error = %s, aio_return = %zd, data = %.5s", errname(e), n, pbuf);
    CHECK(e == 0 && n == 5 && memcmp(pbuf, "hello", 5) == 0, "pipe read result");

    close(p[0]); close(p[1]); close(fd);
    unlink(path);
    return t_done();
}
