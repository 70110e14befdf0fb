/* KAIO_ONLY: SIGEV_THREAD_ID (a Linux extension) delivers the signal to the
 * named thread (target tid in aio_sigevent._sigev_un._tid), with si_code
 * SI_ASYNCIO and the request's value. glibc ignores SIGEV_THREAD_ID (acts
 * as SIGEV_NONE), so this runs only on kaio. The target thread blocks the
 * signal and waits for it with sigtimedwait; the main thread blocks it too
 * and must never see it pending. */
#include "harness.h"
#include <sys/syscall.h>

#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

static int sig;
static volatile pid_t target_tid;
static int got_signo, got_code, got_value, got_count;

static void *target(void *arg)
{
    (void)arg;
    target_tid = (pid_t)syscall(SYS_gettid);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    for (int idle = 0;;) {
        siginfo_t si;
        struct timespec ts = { 0, 300 * 1000 * 1000 };
        int s = sigtimedwait(&set, &si, &ts);
        if (s < 0) {
            if (errno == EINTR) continue;
            if (got_count > 0) return NULL; /* no more after the first */
            if (++idle == 30) return NULL;  /* ~9 s: give up, checks fail */
            continue;
        }
        got_count++;
        got_signo = s;
        got_code = si.si_code;
        got_value = si.si_value.sival_int;
    }
}

int main(void)
{
    t_init("test_notify_thread_id", 30);
    sig = SIGRTMIN + 3;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by the target */

    pthread_t th;
    CHECK(pthread_create(&th, NULL, target, NULL) == 0, "pthread_create");
    while (!target_tid) { struct timespec d = { 0, 1000000 }; nanosleep(&d, NULL); }

    const char *path = t_make_file(0, "notify_tid", 4096, 16);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));
    char buf[4096];
    struct aiocb cb;
    t_cb(&cb, fd, buf, sizeof buf, 0);
    cb.aio_sigevent.sigev_notify = SIGEV_THREAD_ID;
    cb.aio_sigevent.sigev_signo = sig;
    cb.aio_sigevent.sigev_value.sival_int = 4321;
    cb.aio_sigevent._sigev_un._tid = target_tid;
    int r = aio_read(&cb);
    OUT("aio_read = %d", r);
    CHECK(r == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);
    pthread_join(th, NULL);

    sigset_t pend;
    sigpending(&pend);
    OUT("target got %d signal(s): signo SIGRTMIN+%d, si_code %s SI_ASYNCIO, value %d",
        got_count, got_signo - SIGRTMIN, got_code == SI_ASYNCIO ? "==" : "!=", got_value);
    OUT("pending on main: %d", sigismember(&pend, sig));
    CHECK(got_count == 1, "deliveries %d", got_count);
    CHECK(got_signo == sig && got_code == SI_ASYNCIO && got_value == 4321,
          "signo %d code %d value %d", got_signo, got_code, got_value);
    CHECK(!sigismember(&pend, sig), "signal pending for the main thread/process");
    CHECK(aio_return(&cb) == 4096 && check_pat(buf, sizeof buf, 0, 16) == -1, "read result");
    close(fd);
    unlink(path);
    return t_done();
}
