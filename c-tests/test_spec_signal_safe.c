/* aio_error, aio_return and aio_suspend are async-signal-safe (XSH 2.4.3
 * lists them): a SA_SIGINFO handler for a request's own SIGEV_SIGNAL
 * notification calls aio_error (0), aio_return (the byte count) and
 * aio_suspend with a zero timeout on it (0: it is done), for an O_DIRECT
 * read (buffered if refused) and a pipe read fed after submission.
 * Where the handler lands: main waits in sigsuspend() on both backends
 * (glibc's aio_error and aio_suspend take a mutex, so landing inside one of
 * glibc's own aio calls could deadlock: glibc is not async-signal-safe
 * there). On kaio only (NOTE lines), a second pass lands the handler while
 * main is itself blocked in aio_suspend for another request, the case
 * kaio's lock-free reaping is built for. */
#include "harness.h"

static struct aiocb *target;
static int h_err = -2, h_susp = -2, h_calls;
static ssize_t h_ret = -2;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    struct aiocb *cb = si->si_value.sival_ptr;
    if (cb != target) return;
    h_calls++;
    h_err = aio_error(cb);
    h_ret = aio_return(cb);
    const struct aiocb *l[1] = { cb };
    struct timespec zero = { 0, 0 };
    h_susp = aio_suspend(l, 1, &zero);
}

static void one(const char *name, struct aiocb *cb, int feed_fd, size_t want, int in_suspend)
{
    target = cb;
    h_err = -2; h_susp = -2; h_ret = -2; h_calls = 0;
    cb->aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    cb->aio_sigevent.sigev_signo = SIGRTMIN + 1;
    cb->aio_sigevent.sigev_value.sival_ptr = cb;
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGRTMIN + 1);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    CHECK(aio_read(cb) == 0, "%s: aio_read: %s", name, errname(errno));
    if (feed_fd >= 0) CHECK(write(feed_fd, "abcd", 4) == 4, "feed");
    if (!in_suspend) {
        sigset_t wait = old;
        sigdelset(&wait, SIGRTMIN + 1);
        while (!h_calls) sigsuspend(&wait);
    } else {
        /* Another request that never completes: main waits on it with the
         * signal unblocked, so the handler lands inside aio_suspend. */
        int q[2];
        CHECK(pipe(q) == 0, "pipe");
        char b[4];
        struct aiocb other;
        t_cb(&other, q[0], b, sizeof b, 0);
        CHECK(aio_read(&other) == 0, "other");
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        const struct aiocb *l[1] = { &other };
        struct timespec slice = { 0, 100 * 1000 * 1000 };
        for (int i = 0; i < 50 && !h_calls; i++) (void)aio_suspend(l, 1, &slice);
        pthread_sigmask(SIG_BLOCK, &block, NULL);
        CHECK(write(q[1], "x", 1) == 1, "finish other");
        t_wait(&other);
        close(q[0]);
        close(q[1]);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    int ok = h_calls == 1 && h_err == 0 && h_ret == (ssize_t)want && h_susp == 0;
    if (in_suspend) {
        NOTE("%s: handler inside aio_suspend: calls %d, aio_error %s, aio_return %zd, aio_suspend %d",
             name, h_calls, errname(h_err), h_ret, h_susp);
    } else {
        OUT("%s: in the handler: aio_error %s, aio_return %zd, aio_suspend(zero timeout) %d", name,
            h_calls ? errname(h_err) : "-", h_ret, h_susp);
    }
    CHECK(ok, "%s: calls %d, aio_error %d, aio_return %zd, aio_suspend %d", name, h_calls, h_err,
          h_ret, h_susp);
}

int main(void)
{
    t_init("test_spec_signal_safe", 10);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGRTMIN + 1, &sa, NULL) == 0, "sigaction");
    const char *path = t_make_file(0, "spec_sigsafe", 8192, 31);
    int fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0) fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open");
    void *buf = aligned_alloc(4096, 4096);
    char pb[8];
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    for (int pass = 0; pass < (IS_KAIO ? 2 : 1); pass++) {
        struct aiocb f, r;
        t_cb(&f, fd, buf, 4096, 4096);
        one(pass ? "file read (kaio)" : "file read", &f, -1, 4096, pass);
        t_cb(&r, p[0], pb, 4, 0);
        one(pass ? "pipe read (kaio)" : "pipe read", &r, p[1], 4, pass);
    }
    close(fd); close(p[0]); close(p[1]);
    unlink(path);
    return t_done();
}
