/* KAIO_ONLY (kaio extension, FreeBSD semantics: "[EINTR] A signal was
 * delivered while waiting"): aio_waitcomplete waiting for a pipe read with
 * no data is interrupted by a handler installed WITHOUT SA_RESTART (SIGUSR1
 * from another thread, every 50 ms until the call returns): -1/EINTR within
 * a second of the first signal, with no timeout and with a 5 s timeout, and
 * *iocbp set to NULL. The request is not lost: once the pipe is written,
 * aio_waitcomplete returns it exactly once, with its result, and its
 * SIGEV_SIGNAL notification arrives exactly once. */
#include "harness.h"
#include "kaio_ext.h"

static volatile sig_atomic_t handled;
static int returned;
static pthread_t waiter;
static int wfd;
static double first_kick;

static void on_usr1(int sig) { (void)sig; handled++; }

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *kicker(void *arg)
{
    (void)arg;
    for (int k = 0; !__atomic_load_n(&returned, __ATOMIC_ACQUIRE); k++) {
        struct timespec d = { 0, 50 * 1000 * 1000 };
        nanosleep(&d, NULL);
        if (__atomic_load_n(&returned, __ATOMIC_ACQUIRE)) break;
        if (k == 0) first_kick = now_s();
        if (k == 40) { (void)!write(wfd, "late", 4); break; } /* 2 s: unstick */
        pthread_kill(waiter, SIGUSR1);
    }
    return NULL;
}

static void scenario(const char *name, const struct timespec *timeout)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    wfd = p[1];
    char b[8];
    struct aiocb cb;
    t_cb(&cb, p[0], b, 4, 0);
    cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    cb.aio_sigevent.sigev_signo = SIGRTMIN + 1;
    cb.aio_sigevent.sigev_value.sival_int = 66;
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    handled = 0;
    first_kick = 0;
    __atomic_store_n(&returned, 0, __ATOMIC_RELEASE);
    waiter = pthread_self();
    pthread_t th;
    CHECK(pthread_create(&th, NULL, kicker, NULL) == 0, "pthread_create");
    struct aiocb *got = (struct aiocb *)1;
    errno = 0;
    ssize_t r = aio_waitcomplete(&got, timeout);
    int err = errno;
    double took = now_s() - first_kick;
    __atomic_store_n(&returned, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    OUT("%s: aio_waitcomplete = %zd %s, iocbp %s", name, r, r < 0 ? errname(err) : "",
        got == NULL ? "NULL" : got == &cb ? "the request" : "other");
    NOTE("%s: returned %.3f s after the first signal, %d handler run(s)", name, took, (int)handled);
    int interrupted = r == -1 && err == EINTR;
    CHECK(interrupted && got == NULL, "%s: %zd %s, want -1 EINTR", name, r, errname(err));
    OUT("%s: within a second: %s", name, interrupted && took < 1.0 ? "yes" : "no");
    CHECK(!interrupted || took < 1.0, "%s: %.2f s", name, took);
    if (interrupted) {
        OUT("%s: request after EINTR: %s", name, errname(aio_error(&cb)));
        CHECK(write(p[1], "data", 4) == 4, "write");
        struct timespec two = { 2, 0 };
        r = aio_waitcomplete(&got, &two);
        OUT("%s: then aio_waitcomplete = %zd, the request: %s, data %.4s", name, r,
            got == &cb ? "yes" : "no", r == 4 ? b : "");
        CHECK(r == 4 && got == &cb && memcmp(b, "data", 4) == 0, "%s: reaped", name);
        struct timespec zero = { 0, 0 };
        r = aio_waitcomplete(&got, &zero);
        OUT("%s: again: %zd %s", name, r, r < 0 ? errname(errno) : "");
        CHECK(r == -1 && errno == EAGAIN, "%s: reported twice", name);
    } else {
        t_wait(&cb);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 1);
    struct timespec first = { 2, 0 }, more = { 0, 100 * 1000 * 1000 };
    siginfo_t si;
    int count = 0;
    while (sigtimedwait(&set, &si, count ? &more : &first) > 0) count++;
    OUT("%s: notifications: %d", name, count);
    CHECK(count == 1, "%s: %d notifications", name, count);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    t_init("test_spec_eintr_waitcomplete", 10);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART */
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN + 1);
    CHECK(pthread_sigmask(SIG_BLOCK, &rt, NULL) == 0, "sigmask");
    struct aiocb *got;
    struct timespec zero = { 0, 0 };
    (void)aio_waitcomplete(&got, &zero); /* enrol: later requests are reported */
    scenario("no timeout", NULL);
    struct timespec five = { 5, 0 };
    scenario("5 s timeout", &five);
    return t_done();
}
