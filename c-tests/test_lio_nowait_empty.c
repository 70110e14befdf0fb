/* lio_listio with nothing to do: LIO_NOWAIT with nent 0, and with a list of
 * only LIO_NOP and NULL entries, returns 0 and still delivers the list
 * notification (SIGEV_SIGNAL, SI_ASYNCIO, the list's value; SIGEV_THREAD).
 * LIO_WAIT with nent 0 returns 0 at once. */
#include "harness.h"
#include <semaphore.h>

static sem_t sem;
static int thread_calls;
static void notify(union sigval v)
{
    __atomic_add_fetch(&thread_calls, v.sival_int, __ATOMIC_SEQ_CST);
    sem_post(&sem);
}

static void expect_signal(const sigset_t *set, int sig, int value, const char *what)
{
    siginfo_t si;
    struct timespec ts = { 10, 0 };
    int s = sigtimedwait(set, &si, &ts);
    OUT("%s: signal %s, si_code %s, value %s", what, s == sig ? "yes" : "no",
        s == sig && si.si_code == SI_ASYNCIO ? "SI_ASYNCIO" : "other",
        s == sig && si.si_value.sival_int == value ? "right" : "wrong");
    CHECK(s == sig && si.si_code == SI_ASYNCIO && si.si_value.sival_int == value, "%s", what);
}

int main(void)
{
    t_init("test_lio_nowait_empty", 30);
    const int SIG = SIGRTMIN + 3;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIG);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sem_init(&sem, 0, 0);

    struct aiocb *none[1] = { NULL };
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIG;
    sev.sigev_value.sival_int = 11;
    int r = lio_listio(LIO_NOWAIT, none, 0, &sev);
    OUT("LIO_NOWAIT nent 0 = %d", r);
    CHECK(r == 0, "%s", errname(errno));
    expect_signal(&set, SIG, 11, "nent 0");

    char buf[16];
    struct aiocb nop1, nop2;
    t_cb(&nop1, -1, buf, sizeof buf, 0);
    nop1.aio_lio_opcode = LIO_NOP;
    nop2 = nop1;
    struct aiocb *nops[4] = { &nop1, NULL, &nop2, NULL };
    sev.sigev_value.sival_int = 12;
    r = lio_listio(LIO_NOWAIT, nops, 4, &sev);
    OUT("LIO_NOWAIT all NOP/NULL = %d", r);
    CHECK(r == 0, "%s", errname(errno));
    expect_signal(&set, SIG, 12, "all NOP/NULL");

    struct sigevent tev;
    memset(&tev, 0, sizeof tev);
    tev.sigev_notify = SIGEV_THREAD;
    tev.sigev_notify_function = notify;
    tev.sigev_value.sival_int = 1;
    r = lio_listio(LIO_NOWAIT, none, 0, &tev);
    OUT("LIO_NOWAIT nent 0, SIGEV_THREAD = %d", r);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    int w;
    while ((w = sem_timedwait(&sem, &ts)) != 0 && errno == EINTR) {}
    OUT("thread notification: %s", w == 0 ? "yes" : "no");
    CHECK(w == 0 && thread_calls == 1, "thread notify %d", thread_calls);

    r = lio_listio(LIO_WAIT, none, 0, NULL);
    OUT("LIO_WAIT nent 0 = %d", r);
    CHECK(r == 0, "%s", errname(errno));
    r = lio_listio(LIO_NOWAIT, nops, 4, NULL);
    OUT("LIO_NOWAIT all NOP, no sigevent = %d", r);
    CHECK(r == 0, "%s", errname(errno));
    struct timespec zero = { 0, 0 };
    siginfo_t si;
    int stray = sigtimedwait(&set, &si, &zero);
    OUT("stray signal: %s", stray > 0 ? "yes" : "no");
    CHECK(stray < 0, "stray signal %d", stray);
    return t_done();
}
