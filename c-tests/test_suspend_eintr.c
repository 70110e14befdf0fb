/* A signal whose handler was installed WITHOUT SA_RESTART interrupts
 * aio_suspend (no timeout) waiting for a pipe read: -1/EINTR. The request is
 * not affected: it completes once data is written. A helper thread keeps
 * sending SIGUSR1 to the main thread until aio_suspend has returned, so the
 * test does not depend on when the first signal lands. */
#include "harness.h"

static volatile sig_atomic_t handled;
static volatile int returned;
static pthread_t main_thread;

static void on_usr1(int sig) { (void)sig; handled++; }

static void *kicker(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&returned, __ATOMIC_ACQUIRE)) {
        struct timespec d = { 0, 20 * 1000 * 1000 };
        nanosleep(&d, NULL);
        if (!__atomic_load_n(&returned, __ATOMIC_ACQUIRE))
            pthread_kill(main_thread, SIGUSR1);
    }
    return NULL;
}

int main(void)
{
    t_init("test_suspend_eintr", 30);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART */
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");

    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    char buf[16];
    struct aiocb cb;
    t_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    const struct aiocb *l[1] = { &cb };

    main_thread = pthread_self();
    pthread_t th;
    CHECK(pthread_create(&th, NULL, kicker, NULL) == 0, "pthread_create");
    errno = 0;
    int r = aio_suspend(l, 1, NULL);
    int err = errno;
    __atomic_store_n(&returned, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    OUT("aio_suspend = %d %s", r, r ? errname(err) : "");
    CHECK(r == -1 && err == EINTR, "got %d %s", r, errname(err));
    CHECK(handled >= 1, "handler did not run");
    OUT("aio_error after EINTR = %s", errname(aio_error(&cb)));
    CHECK(aio_error(&cb) == EINPROGRESS, "request no longer in flight");

    CHECK(write(p[1], "wake", 4) == 4, "write");
    t_wait(&cb);
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("aio_error = %s, aio_return = %zd, data = %.4s", errname(e), n, buf);
    CHECK(e == 0 && n == 4 && memcmp(buf, "wake", 4) == 0, "read result");
    close(p[0]); close(p[1]);
    return t_done();
}
