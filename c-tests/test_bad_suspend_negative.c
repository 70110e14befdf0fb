/* aio_suspend with a negative relative timeout (tv_sec -1 or LONG_MIN,
 * tv_nsec valid): a time already past, so -1/EAGAIN at once while the listed
 * request is in flight, and 0 once it is done; with nent 0 or an all-NULL
 * list, 0 (nothing to wait for). Same on glibc and kaio. (tv_nsec outside
 * 0..999999999 is test_suspend_bad_timeout.) */
#include "harness.h"

int main(void)
{
    t_init("test_bad_suspend_negative", 30);
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    char buf[8];
    struct aiocb cb;
    t_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    const struct aiocb *l[2] = { NULL, &cb };
    const struct aiocb *nulls[2] = { NULL, NULL };
    static const struct timespec negs[] = { { -1, 0 }, { -1, 999999999 }, { LONG_MIN, 0 } };
    for (unsigned i = 0; i < 3; i++) {
        struct timespec ts = negs[i];
        errno = 0;
        int r = aio_suspend(l, 2, &ts);
        int e = errno;
        OUT("{%ld, %ld}, in flight: %d %s", (long)negs[i].tv_sec, negs[i].tv_nsec, r, r ? errname(e) : "");
        CHECK(r == -1 && e == EAGAIN, "want -1 EAGAIN");
        r = aio_suspend(nulls, 2, &ts);
        OUT("{%ld, %ld}, all NULL: %d", (long)negs[i].tv_sec, negs[i].tv_nsec, r);
        CHECK(r == 0, "all NULL: %s", errname(errno));
        r = aio_suspend(l, 0, &ts);
        OUT("{%ld, %ld}, nent 0: %d", (long)negs[i].tv_sec, negs[i].tv_nsec, r);
        CHECK(r == 0, "nent 0: %s", errname(errno));
    }
    OUT("request: %s", errname(aio_error(&cb)));
    CHECK(aio_error(&cb) == EINPROGRESS, "request not in flight");
    CHECK(write(p[1], "done", 4) == 4, "write");
    t_wait(&cb);
    for (unsigned i = 0; i < 3; i++) {
        struct timespec ts = negs[i];
        int r = aio_suspend(l, 2, &ts);
        OUT("{%ld, %ld}, done: %d", (long)negs[i].tv_sec, negs[i].tv_nsec, r);
        CHECK(r == 0, "done: %s", errname(errno));
    }
    ssize_t n = aio_return(&cb);
    OUT("aio_return = %zd, data %.4s", n, buf);
    CHECK(n == 4 && memcmp(buf, "done", 4) == 0, "read");
    close(p[0]);
    close(p[1]);
    return t_done();
}
