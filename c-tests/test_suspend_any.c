/* aio_suspend waits for ANY request of the list: four pipe reads in flight,
 * only the 3rd pipe gets data → aio_suspend returns 0, the 3rd is done
 * (aio_error 0) and the other three are still EINPROGRESS. Then the rest are
 * completed and checked. */
#include "harness.h"

int main(void)
{
    t_init("test_suspend_any", 30);
    int p[4][2];
    char buf[4][32];
    struct aiocb cb[4];
    const struct aiocb *l[4];
    for (int i = 0; i < 4; i++) {
        CHECK(pipe(p[i]) == 0, "pipe: %s", errname(errno));
        t_cb(&cb[i], p[i][0], buf[i], sizeof buf[i], 0);
        CHECK(aio_read(&cb[i]) == 0, "aio_read %d: %s", i, errname(errno));
        l[i] = &cb[i];
    }

    CHECK(write(p[2][1], "third", 5) == 5, "write");
    int r;
    do {
        errno = 0;
        r = aio_suspend(l, 4, NULL);
    } while (r == -1 && errno == EINTR);
    OUT("aio_suspend = %d", r);
    CHECK(r == 0, "aio_suspend = %d %s", r, errname(errno));
    for (int i = 0; i < 4; i++) {
        int e = aio_error(&cb[i]);
        OUT("cb[%d]: aio_error = %s", i, errname(e));
        CHECK(e == (i == 2 ? 0 : EINPROGRESS), "cb[%d] aio_error %s", i, errname(e));
    }
    ssize_t n = aio_return(&cb[2]);
    OUT("cb[2]: aio_return = %zd, data = %.5s", n, buf[2]);
    CHECK(n == 5 && memcmp(buf[2], "third", 5) == 0, "cb[2] result");

    /* The done one still satisfies aio_suspend with the pending ones. */
    struct timespec zero = { 0, 0 };
    r = aio_suspend(l, 4, &zero);
    OUT("aio_suspend again = %d", r);
    CHECK(r == 0, "aio_suspend again = %d %s", r, errname(errno));

    for (int i = 0; i < 4; i++) {
        if (i == 2) continue;
        char msg[8];
        snprintf(msg, sizeof msg, "req%d", i);
        CHECK(write(p[i][1], msg, 4) == 4, "write %d", i);
        t_wait(&cb[i]);
        int e = aio_error(&cb[i]);
        n = aio_return(&cb[i]);
        OUT("cb[%d]: aio_error = %s, aio_return = %zd, data = %.4s", i, errname(e), n, buf[i]);
        CHECK(e == 0 && n == 4 && memcmp(buf[i], msg, 4) == 0, "cb[%d] result", i);
    }
    for (int i = 0; i < 4; i++) { close(p[i][0]); close(p[i][1]); }
    return t_done();
}
