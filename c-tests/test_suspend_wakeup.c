/* aio_suspend with no timeout wakes up when the pending request completes
 * because another thread wrote to the pipe (~20 ms later): returns 0. */
#include "harness.h"

static int wfd;

static void *writer(void *arg)
{
    (void)arg;
    struct timespec d = { 0, 20 * 1000 * 1000 };
    nanosleep(&d, NULL);
    if (write(wfd, "ping!", 5) != 5) abort();
    return NULL;
}

int main(void)
{
    t_init("test_suspend_wakeup", 30);
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    wfd = p[1];
    char buf[16];
    struct aiocb cb;
    t_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    const struct aiocb *l[1] = { &cb };

    pthread_t th;
    CHECK(pthread_create(&th, NULL, writer, NULL) == 0, "pthread_create");
    int r;
    do {
        errno = 0;
        r = aio_suspend(l, 1, NULL);
    } while (r == -1 && errno == EINTR);
    int err = errno;
    OUT("aio_suspend = %d %s", r, r ? errname(err) : "");
    CHECK(r == 0, "got %d %s", r, errname(err));
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("aio_error = %s, aio_return = %zd, data = %.5s", errname(e), n, buf);
    CHECK(e == 0 && n == 5 && memcmp(buf, "ping!", 5) == 0, "read result");
    pthread_join(th, NULL);
    close(p[0]); close(p[1]);
    return t_done();
}
