/* aio_suspend with a timeout whose tv_nsec is outside 0..999999999 while the
 * request is in flight: kaio rejects it with -1/EINVAL (POSIX/nanosleep
 * rule). glibc does not validate it: it adds the value to the clock and
 * normalises once, so it behaves as a (short) timeout → -1/EAGAIN. */
#include "harness.h"

static void try(const struct aiocb *const l[], long nsec)
{
    struct timespec ts = { 0, nsec };
    errno = 0;
    int r = aio_suspend(l, 1, &ts);
    int err = errno;
    int want = IS_KAIO ? EINVAL : EAGAIN;
    NOTE("tv_nsec %ld: aio_suspend = %d %s (backend %s expects %s)", nsec, r,
         errname(err), IS_KAIO ? "kaio" : "glibc", errname(want));
    CHECK(r == -1 && err == want, "tv_nsec %ld: got %d %s, want -1 %s", nsec, r,
          errname(err), errname(want));
    OUT("tv_nsec %ld: aio_suspend = %d", nsec, r);
}

int main(void)
{
    t_init("test_suspend_bad_timeout", 30);
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    char buf[16];
    struct aiocb cb;
    t_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    const struct aiocb *l[1] = { &cb };

    try(l, -1);
    try(l, 1000000000L);
    OUT("aio_error = %s", errname(aio_error(&cb)));
    CHECK(aio_error(&cb) == EINPROGRESS, "request not in flight");

    CHECK(write(p[1], "x", 1) == 1, "write");
    t_wait(&cb);
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("aio_error = %s, aio_return = %zd", errname(e), n);
    CHECK(e == 0 && n == 1 && buf[0] == 'x', "read result");
    close(p[0]); close(p[1]);
    return t_done();
}
