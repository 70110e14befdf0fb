/* Waits interrupted by a handler installed WITH SA_RESTART. POSIX
 * (sigaction, SA_RESTART): "If set, and a function specified as interruptible
 * is interrupted by this signal, the function shall restart and shall not
 * fail with [EINTR] unless otherwise specified." aio_suspend and lio_listio
 * list EINTR and say nothing otherwise. What glibc 2.36 does, and this test
 * requires:
 *   aio_suspend, no timeout: restarted (its wait is an untimed futex wait,
 *     which the kernel restarts): it keeps waiting and returns 0 when the
 *     request completes;
 *   aio_suspend with a timeout: -1/EINTR (a timed futex wait is never
 *     restarted after a handler, SA_RESTART or not);
 *   lio_listio(LIO_WAIT): restarted (untimed futex wait): returns 0 once
 *     the member completes.
 * Each case: a pipe read with no data; another thread sends SIGUSR1
 * (pthread_kill) 6 times, 50 ms apart, then writes the pipe. A restarted
 * call returns 0 after the write, having run the handler at least once. */
#include "harness.h"

static volatile sig_atomic_t handled;
static int returned;
static pthread_t waiter;
static int wfd;

static void on_usr1(int sig) { (void)sig; handled++; }

static void *kicker(void *arg)
{
    (void)arg;
    for (int k = 0; k < 6 && !__atomic_load_n(&returned, __ATOMIC_ACQUIRE); k++) {
        struct timespec d = { 0, 50 * 1000 * 1000 };
        nanosleep(&d, NULL);
        if (!__atomic_load_n(&returned, __ATOMIC_ACQUIRE)) pthread_kill(waiter, SIGUSR1);
    }
    struct timespec d = { 0, 50 * 1000 * 1000 };
    nanosleep(&d, NULL);
    (void)!write(wfd, "data", 4);
    return NULL;
}

enum how { SUSPEND, SUSPEND_TIMED, LIO_WAIT_ };

static void scenario(const char *name, enum how how)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    wfd = p[1];
    char b[8];
    struct aiocb cb;
    t_cb(&cb, p[0], b, 4, 0);
    cb.aio_lio_opcode = LIO_READ;
    struct aiocb *list[1] = { &cb };
    const struct aiocb *l[1] = { &cb };
    if (how != LIO_WAIT_) CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    handled = 0;
    __atomic_store_n(&returned, 0, __ATOMIC_RELEASE);
    waiter = pthread_self();
    pthread_t th;
    CHECK(pthread_create(&th, NULL, kicker, NULL) == 0, "pthread_create");
    struct timespec five = { 5, 0 };
    errno = 0;
    int r = how == LIO_WAIT_ ? lio_listio(LIO_WAIT, list, 1, NULL)
                             : aio_suspend(l, 1, how == SUSPEND_TIMED ? &five : NULL);
    int err = errno;
    int was = aio_error(&cb);
    __atomic_store_n(&returned, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    NOTE("%s: %d handler run(s) before the call returned", name, (int)handled);
    if (how == SUSPEND_TIMED) {
        OUT("%s: %d %s (request %s)", name, r, r ? errname(err) : "", errname(was));
        CHECK(r == -1 && err == EINTR && was == EINPROGRESS, "%s: %d %s", name, r, errname(err));
    } else {
        OUT("%s: %d %s (request %s), handler ran: %s", name, r, r ? errname(err) : "",
            errname(was), handled ? "yes" : "no");
        CHECK(r == 0 && was == 0 && handled >= 1, "%s: %d %s, request %s: want 0 after the data",
              name, r, errname(err), errname(was));
    }
    t_wait(&cb);
    ssize_t n = aio_return(&cb);
    OUT("%s: aio_return %zd, data %.4s", name, n, n == 4 ? b : "");
    CHECK(n == 4 && memcmp(b, "data", 4) == 0, "%s: result", name);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    t_init("test_spec_eintr_restart", 10);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
    scenario("aio_suspend, no timeout", SUSPEND);
    scenario("aio_suspend, 5 s timeout", SUSPEND_TIMED);
    scenario("lio_listio(LIO_WAIT)", LIO_WAIT_);
    return t_done();
}
