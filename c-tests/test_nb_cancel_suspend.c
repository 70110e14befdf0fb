/* aio_suspend is a cancellation point (POSIX): a thread blocked in
 * aio_suspend (no timeout) on a pipe read that never gets data is
 * pthread_cancel()ed; pthread_join returns PTHREAD_CANCELED. The request is
 * not affected: the test then writes to the pipe and the read completes. */
#include "harness.h"

static struct aiocb cb;
static volatile int entering;

static void *waiter(void *arg)
{
    (void)arg;
    const struct aiocb *l[1] = { &cb };
    entering = 1;
    for (;;)                /* only cancellation gets us out */
        aio_suspend(l, 1, NULL);
    return NULL;
}

int main(void)
{
    t_init("test_nb_cancel_suspend", 30);
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    char buf[32];
    t_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    pthread_t th;
    CHECK(pthread_create(&th, NULL, waiter, NULL) == 0, "pthread_create");
    while (!entering) { struct timespec d = { 0, 1000000 }; nanosleep(&d, NULL); }
    /* Give it time to block (not asserted: a cancel that arrives before
     * aio_suspend is acted upon when it enters aio_suspend). */
    struct timespec d = { 0, 100 * 1000000 };
    nanosleep(&d, NULL);
    OUT("read before cancel: %s", errname(aio_error(&cb)));
    CHECK(pthread_cancel(th) == 0, "pthread_cancel");
    void *res = NULL;
    CHECK(pthread_join(th, &res) == 0, "pthread_join");
    OUT("join: %s", res == PTHREAD_CANCELED ? "PTHREAD_CANCELED" : "not cancelled");
    CHECK(res == PTHREAD_CANCELED, "join result %p", res);
    OUT("read after cancel: %s", errname(aio_error(&cb)));
    CHECK(aio_error(&cb) == EINPROGRESS, "read no longer in progress");
    CHECK(write(p[1], "after-cancel", 12) == 12, "write");
    t_wait(&cb);
    OUT("read: %s, %zd bytes", errname(aio_error(&cb)), aio_return(&cb));
    CHECK(aio_return(&cb) == 12 && memcmp(buf, "after-cancel", 12) == 0, "read result");
    close(p[0]);
    close(p[1]);
    return t_done();
}
