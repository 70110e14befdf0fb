/* lio_listio(LIO_NOWAIT) with a SIGEV_SIGNAL list sigevent (a real-time
 * signal, collected with sigtimedwait while blocked). Round 1: per-request
 * SIGEV_NONE; exactly one list signal, si_code SI_ASYNCIO, si_value = the
 * list's sigev_value, and by then every request is done. Round 2: per-request
 * SIGEV_SIGNAL on another signal: one signal per request (each with its own
 * value) plus the one list signal. */
#include "harness.h"

#define N 4

static int collect(const sigset_t *set, siginfo_t *si)
{
    struct timespec ts = { 10, 0 };
    return sigtimedwait(set, si, &ts);
}

int main(void)
{
    t_init("test_lio_nowait_signal", 30);
    const int LSIG = SIGRTMIN + 1, RSIG = SIGRTMIN + 2;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, LSIG);
    sigaddset(&set, RSIG);
    CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0, "sigmask");

    const char *path = t_make_file(0, "lio_nowait_signal", 65536, 37);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));

    for (int round = 1; round <= 2; round++) {
        char b[N][4096];
        struct aiocb cb[N];
        struct aiocb *list[N];
        for (int i = 0; i < N; i++) {
            t_cb(&cb[i], fd, b[i], sizeof b[i], (off_t)i * 4096 * 3);
            cb[i].aio_lio_opcode = LIO_READ;
            if (round == 2) {
                cb[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
                cb[i].aio_sigevent.sigev_signo = RSIG;
                cb[i].aio_sigevent.sigev_value.sival_int = 100 + i;
            }
            list[i] = &cb[i];
        }
        struct sigevent sev;
        memset(&sev, 0, sizeof sev);
        sev.sigev_notify = SIGEV_SIGNAL;
        sev.sigev_signo = LSIG;
        sev.sigev_value.sival_int = 4242 + round;
        int r = lio_listio(LIO_NOWAIT, list, N, &sev);
        OUT("round %d: lio_listio(LIO_NOWAIT) = %d", round, r);
        CHECK(r == 0, "lio_listio: %s", errname(errno));

        int want = round == 1 ? 1 : 1 + N;
        int nlist = 0, nreq = 0, bad_code = 0, all_done_at_list = 1;
        unsigned req_mask = 0;
        for (int k = 0; k < want; k++) {
            siginfo_t si;
            int s = collect(&set, &si);
            CHECK(s > 0, "signal %d of %d not delivered: %s", k + 1, want, errname(errno));
            if (s <= 0) break;
            if (si.si_code != SI_ASYNCIO) bad_code++;
            if (s == LSIG) {
                nlist++;
                CHECK(si.si_value.sival_int == 4242 + round, "list value %d", si.si_value.sival_int);
                for (int i = 0; i < N; i++)
                    if (aio_error(&cb[i]) == EINPROGRESS) all_done_at_list = 0;
            } else if (s == RSIG) {
                nreq++;
                int v = si.si_value.sival_int - 100;
                if (v >= 0 && v < N) req_mask |= 1u << v;
            }
        }
        OUT("round %d: list signals %d, request signals %d, request values mask %x",
            round, nlist, nreq, req_mask);
        OUT("round %d: signals with si_code != SI_ASYNCIO: %d", round, bad_code);
        OUT("round %d: all requests done when list signal seen: %s", round,
            all_done_at_list ? "yes" : "no");
        CHECK(nlist == 1 && bad_code == 0 && all_done_at_list, "round %d", round);
        CHECK(nreq == (round == 2 ? N : 0), "request signals %d", nreq);
        for (int i = 0; i < N; i++) {
            t_wait(&cb[i]);
            ssize_t n = aio_return(&cb[i]);
            CHECK(n == 4096 && check_pat(b[i], 4096, (uint64_t)i * 4096 * 3, 37) < 0,
                  "round %d entry %d: %zd", round, i, n);
        }
        /* No extra signal is pending. */
        struct timespec zero = { 0, 0 };
        siginfo_t si;
        int extra = sigtimedwait(&set, &si, &zero);
        OUT("round %d: extra signal: %s", round, extra > 0 ? "yes" : "no");
        CHECK(extra < 0, "extra signal %d", extra);
    }
    close(fd);
    unlink(path);
    return t_done();
}
