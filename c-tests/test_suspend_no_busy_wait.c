/* Rule: aio_suspend sleeps (futex or io_getevents), it does not spin. While
 * a pipe read stays pending for ~300 ms of wall time, the waiting thread may
 * use only a small fraction of that as CPU time. */
#include "harness.h"
#include <sys/resource.h>

static int pfd[2];

static void *writer(void *arg)
{
    (void)arg;
    struct timespec ts = { 0, 300 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    (void)!write(pfd[1], "x", 1);
    return NULL;
}

static double thread_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(void)
{
    t_init("test_suspend_no_busy_wait", 30);
    CHECK(pipe(pfd) == 0, "pipe");
    char c = 0;
    struct aiocb cb;
    t_cb(&cb, pfd[0], &c, 1, 0);
    CHECK(aio_read(&cb) == 0, "aio_read");
    pthread_t t;
    pthread_create(&t, NULL, writer, NULL);
    double before = thread_cpu();
    const struct aiocb *l[1] = { &cb };
    int r;
    while ((r = aio_suspend(l, 1, NULL)) != 0 && errno == EINTR)
        ;
    double used = thread_cpu() - before;
    pthread_join(t, NULL);
    OUT("aio_suspend = %d, aio_error = %s, aio_return = %zd, byte %c", r, errname(aio_error(&cb)),
        aio_return(&cb), c);
    NOTE("CPU used while waiting: %.3f s", used);
    CHECK(used < 0.1, "aio_suspend burned %.3f s of CPU in ~0.3 s: busy wait", used);
    close(pfd[0]);
    close(pfd[1]);
    return t_done();
}
