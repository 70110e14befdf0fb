/* SIGEV_SIGNAL with a real-time signal (SIGRTMIN+1):
 *  1. one file read with sival_int 1234: one signal, si_signo SIGRTMIN+1,
 *     si_code SI_ASYNCIO, si_value 1234;
 *  2. 16 reads, each with its own value: 16 signals, each value seen once,
 *     and nothing more.
 * The signal is blocked in the main thread and fetched with sigtimedwait; a
 * SA_SIGINFO handler also records it, in case the process-directed signal
 * is delivered to another thread that does not block it. */
#include "harness.h"

#define NR 16
#define MAXSIG 64
static struct { int signo, code, value; } got[MAXSIG];
static int ngot;                 /* guarded: handler or main, never racing  */
static volatile int in_handler;  /* deliveries through the handler */

static void record(int signo, int code, int value)
{
    int i = __atomic_fetch_add(&ngot, 1, __ATOMIC_ACQ_REL);
    if (i < MAXSIG) {
        got[i].signo = signo; got[i].code = code; got[i].value = value;
    }
}

static void on_sig(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    __atomic_fetch_add(&in_handler, 1, __ATOMIC_ACQ_REL);
    record(sig, si->si_code, si->si_value.sival_int);
}

/* Collect until `want` deliveries in total, then `extra_ms` more waiting. */
static void collect(int want, long extra_ms)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 1);
    for (;;) {
        int have = __atomic_load_n(&ngot, __ATOMIC_ACQUIRE);
        struct timespec ts = { 0, (have >= want ? extra_ms : 20) * 1000000L };
        siginfo_t si;
        int s = sigtimedwait(&set, &si, &ts);
        if (s > 0) { record(s, si.si_code, si.si_value.sival_int); continue; }
        if (have >= want) return;
    }
}

int main(void)
{
    t_init("test_notify_signal", 30);
    int sig = SIGRTMIN + 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(sig, &sa, NULL);

    const char *path = t_make_file(0, "notify_signal", NR * 4096, 12);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));
    static char bufs[NR][4096];
    struct aiocb cb[NR];

    t_cb(&cb[0], fd, bufs[0], 4096, 0);
    cb[0].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    cb[0].aio_sigevent.sigev_signo = sig;
    cb[0].aio_sigevent.sigev_value.sival_int = 1234;
    CHECK(aio_read(&cb[0]) == 0, "aio_read: %s", errname(errno));
    collect(1, 100);
    t_wait(&cb[0]);
    OUT("single: deliveries = %d", ngot);
    CHECK(ngot == 1, "deliveries %d", ngot);
    if (ngot >= 1) {
        OUT("single: si_signo = SIGRTMIN+%d, si_code %s SI_ASYNCIO, value = %d",
            got[0].signo - SIGRTMIN, got[0].code == SI_ASYNCIO ? "==" : "!=", got[0].value);
        CHECK(got[0].signo == sig && got[0].code == SI_ASYNCIO && got[0].value == 1234,
              "signo %d code %d value %d", got[0].signo, got[0].code, got[0].value);
    }
    CHECK(aio_return(&cb[0]) == 4096, "read result");

    ngot = 0;
    for (int i = 0; i < NR; i++) {
        t_cb(&cb[i], fd, bufs[i], 4096, (off_t)i * 4096);
        cb[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        cb[i].aio_sigevent.sigev_signo = sig;
        cb[i].aio_sigevent.sigev_value.sival_int = 100 + i;
        CHECK(aio_read(&cb[i]) == 0, "aio_read %d: %s", i, errname(errno));
    }
    collect(NR, 200);
    int seen[NR] = { 0 }, bad = 0, data_bad = 0;
    int n = ngot < MAXSIG ? ngot : MAXSIG;
    for (int k = 0; k < n; k++) {
        int v = got[k].value - 100;
        if (got[k].signo != sig || got[k].code != SI_ASYNCIO || v < 0 || v >= NR) bad++;
        else seen[v]++;
    }
    int once = 0;
    for (int i = 0; i < NR; i++) {
        once += seen[i] == 1;
        t_wait(&cb[i]);
        if (aio_return(&cb[i]) != 4096 || check_pat(bufs[i], 4096, (uint64_t)i * 4096, 12) != -1)
            data_bad++;
    }
    NOTE("deliveries via handler (another thread): %d", in_handler);
    OUT("batch: deliveries = %d, values seen exactly once = %d, bad = %d, data bad = %d",
        ngot, once, bad, data_bad);
    CHECK(ngot == NR && once == NR && bad == 0 && data_bad == 0, "batch notifications");
    close(fd);
    unlink(path);
    return t_done();
}
