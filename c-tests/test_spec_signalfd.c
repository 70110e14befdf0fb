/* A signalfd is a descriptor like any other for aio_read: POSIX aio_read
 * "shall read aiocbp->aio_nbytes from the file associated with
 * aiocbp->aio_fildes", and glibc's worker does it with read(), which for a
 * signalfd blocks until one of its signals is pending and then returns one
 * 128-byte struct signalfd_siginfo. Cases (SIGUSR2 blocked everywhere):
 *   1. blocking signalfd, signal already pending: completes with 128 bytes,
 *      ssi_signo SIGUSR2, ssi_code SI_USER, ssi_pid our pid; the signal is
 *      consumed;
 *   2. blocking signalfd, no signal yet: the request stays EINPROGRESS
 *      (checked after 100 ms); kill(getpid(), SIGUSR2) then completes it
 *      within 2 s with the 128 bytes; the signal is consumed;
 *   3. SFD_NONBLOCK signalfd, nothing pending: -1/EAGAIN within a second
 *      (read() would say EAGAIN).
 * Checks on glibc's answer: its worker thread reads process-directed
 * signals, so kill() (not pthread_kill) is used. */
#include "harness.h"
#include <sys/signalfd.h>

static int wait_done(struct aiocb *cb, double seconds)
{
    for (int i = 0; i < (int)(seconds * 100) && aio_error(cb) == EINPROGRESS; i++) {
        struct timespec d = { 0, 10 * 1000 * 1000 };
        nanosleep(&d, NULL);
    }
    return aio_error(cb) != EINPROGRESS;
}

static int pending_usr2(void)
{
    sigset_t p;
    sigpending(&p);
    return sigismember(&p, SIGUSR2);
}

static void check_info(const char *name, struct aiocb *cb, const struct signalfd_siginfo *si)
{
    int e = aio_error(cb);
    ssize_t n = aio_return(cb);
    OUT("%s: aio_error %s, aio_return %zd", name, errname(e), n);
    CHECK(e == 0 && n == (ssize_t)sizeof *si, "%s: %s %zd", name, errname(e), n);
    if (n == (ssize_t)sizeof *si) {
        OUT("%s: ssi_signo SIGUSR2: %s, ssi_code SI_USER: %s, ssi_pid ours: %s", name,
            si->ssi_signo == SIGUSR2 ? "yes" : "no", si->ssi_code == SI_USER ? "yes" : "no",
            si->ssi_pid == (uint32_t)getpid() ? "yes" : "no");
        CHECK(si->ssi_signo == SIGUSR2 && si->ssi_code == SI_USER &&
              si->ssi_pid == (uint32_t)getpid(), "%s: siginfo", name);
    }
    OUT("%s: signal still pending: %s", name, pending_usr2() ? "yes" : "no");
    CHECK(!pending_usr2(), "%s: not consumed", name);
}

int main(void)
{
    t_init("test_spec_signalfd", 10);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0, "sigmask");
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    CHECK(sfd >= 0, "signalfd: %s", errname(errno));
    struct signalfd_siginfo si;
    struct aiocb cb;

    /* 1. Already pending. */
    CHECK(kill(getpid(), SIGUSR2) == 0, "kill");
    memset(&si, 0, sizeof si);
    t_cb(&cb, sfd, &si, sizeof si, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    int done = wait_done(&cb, 2);
    OUT("pending signal: completed: %s", done ? "yes" : "no");
    CHECK(done, "pending signal: still EINPROGRESS after 2 s");
    if (done) check_info("pending signal", &cb, &si);

    /* 2. Signal arrives later. */
    memset(&si, 0, sizeof si);
    t_cb(&cb, sfd, &si, sizeof si, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    struct timespec d = { 0, 100 * 1000 * 1000 };
    nanosleep(&d, NULL);
    OUT("later signal: before it, aio_error %s", errname(aio_error(&cb)));
    CHECK(aio_error(&cb) == EINPROGRESS, "later signal: done before the signal");
    CHECK(kill(getpid(), SIGUSR2) == 0, "kill");
    done = wait_done(&cb, 2);
    OUT("later signal: completed within 2 s: %s", done ? "yes" : "no");
    CHECK(done, "later signal: still EINPROGRESS 2 s after the signal (want the 128-byte siginfo)");
    if (done) {
        check_info("later signal", &cb, &si);
    } else {
        /* Consume the signal here so that case 3 starts with nothing pending;
         * the stuck request is left in flight (the process exits with it). */
        struct timespec zero = { 0, 0 };
        siginfo_t info;
        (void)sigtimedwait(&set, &info, &zero);
    }

    /* 3. Non-blocking signalfd, nothing pending. */
    int nfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    CHECK(nfd >= 0, "signalfd: %s", errname(errno));
    struct signalfd_siginfo si2;
    struct aiocb cb2;
    t_cb(&cb2, nfd, &si2, sizeof si2, 0);
    CHECK(aio_read(&cb2) == 0, "aio_read: %s", errname(errno));
    done = wait_done(&cb2, 1);
    OUT("SFD_NONBLOCK, nothing pending: completed within a second: %s", done ? "yes" : "no");
    if (done) {
        int e = aio_error(&cb2);
        ssize_t n = aio_return(&cb2);
        OUT("SFD_NONBLOCK, nothing pending: aio_error %s, aio_return %zd", errname(e), n);
        CHECK(e == EAGAIN && n == -1, "SFD_NONBLOCK: %s %zd", errname(e), n);
    } else {
        CHECK(0, "SFD_NONBLOCK, nothing pending: still EINPROGRESS after 1 s (want EAGAIN)");
    }
    return t_done();
}
