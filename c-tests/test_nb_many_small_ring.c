/* 10 000 reads of 4 KiB (O_DIRECT; buffered if the file system refuses
 * O_DIRECT) of a pattern file with up to 512 in flight, while kaio's kernel
 * ring is tiny (KAIO_MAX_EVENTS=8, set before the first aio call: the
 * kernel rounds it up to ~127 usable slots). The caller submits, and when
 * 512 are in flight it waits for the oldest (aio_suspend), checks it and
 * recycles its aiocb. Every request completes exactly once (one SIGEV_SIGNAL
 * per request, counted by its value) with the right data. glibc ignores the
 * variable. Under kaio, the ring must have been full at some point (counter
 * "ring_full" > 0, asserted when O_DIRECT was used): aio_read then waited
 * (or handed off) instead of failing with EAGAIN. */
#include "harness.h"

#define TOTAL 10000
#define DEPTH 512
#define BLOCKS 1024            /* file of 4 MiB; request i reads block i % BLOCKS */
#define BS 4096

static volatile int seen[TOTAL];
static volatile int nsig;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    int v = si->si_value.sival_int;
    if (si->si_code == SI_ASYNCIO && v >= 0 && v < TOTAL)
        __atomic_fetch_add(&seen[v], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&nsig, 1, __ATOMIC_RELEASE);
}

int main(void)
{
    setenv("KAIO_MAX_EVENTS", "8", 1);
    t_init("test_nb_many_small_ring", 55);
    int sig = SIGRTMIN + 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(sig, &sa, NULL);

    const char *path = t_make_file(0, "nb_ring", (size_t)BLOCKS * BS, 71);
    int direct = 1;
    int fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0) { direct = 0; fd = open(path, O_RDONLY); }
    CHECK(fd >= 0, "open: %s", errname(errno));
    NOTE("O_DIRECT: %s", direct ? "yes" : "no (buffered)");
    void *mem = NULL;
    if (posix_memalign(&mem, BS, (size_t)DEPTH * BS) != 0) { OUT("posix_memalign failed"); return 1; }
    char *bufs = mem;
    static struct aiocb cb[DEPTH];
    static int slot_req[DEPTH];

    int submitted = 0, verified = 0, bad = 0, submit_fail = 0;
    for (int i = 0; i < TOTAL + DEPTH; i++) {
        int s = i % DEPTH;
        if (i >= DEPTH) {      /* recycle the oldest request, in slot s */
            const struct aiocb *l[1] = { &cb[s] };
            while (aio_error(&cb[s]) == EINPROGRESS)
                if (aio_suspend(l, 1, NULL) != 0 && errno != EINTR) {
                    CHECK(0, "aio_suspend: %s", errname(errno));
                    break;
                }
            int r = slot_req[s];
            if (aio_error(&cb[s]) == 0 && aio_return(&cb[s]) == BS &&
                check_pat(bufs + (size_t)s * BS, BS, (uint64_t)(r % BLOCKS) * BS, 71) < 0)
                verified++;
            else if (bad++ < 5)
                NOTE("request %d: aio_error %s, aio_return %zd", r,
                     errname(aio_error(&cb[s])), aio_return(&cb[s]));
        }
        if (i >= TOTAL) continue;
        memset(bufs + (size_t)s * BS, 0, BS);
        t_cb(&cb[s], fd, bufs + (size_t)s * BS, BS, (off_t)(i % BLOCKS) * BS);
        cb[s].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        cb[s].aio_sigevent.sigev_signo = sig;
        cb[s].aio_sigevent.sigev_value.sival_int = i;
        slot_req[s] = i;
        if (aio_read(&cb[s]) != 0) {
            if (submit_fail++ < 5) NOTE("aio_read %d: %s", i, errname(errno));
            memset(&cb[s], 0, sizeof cb[s]);   /* aio_error 0, aio_return 0: counted bad */
        }
        submitted++;
    }
    /* Every request is done; its signal may still be on its way. */
    /* Bounded (10 s) so that a lost signal shows as a count, not a hang. */
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (__atomic_load_n(&nsig, __ATOMIC_ACQUIRE) < TOTAL - submit_fail) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 10) break;
        struct timespec d = { 0, 1000000 };
        nanosleep(&d, NULL);
    }
    struct timespec d = { 0, 100 * 1000000 };
    nanosleep(&d, NULL);       /* anything extra would show up now */
    int once = 0;
    for (int i = 0; i < TOTAL; i++) once += seen[i] == 1;
    OUT("submitted %d, aio_read failures %d, verified %d, bad %d", submitted, submit_fail,
        verified, bad);
    OUT("signals %d, requests notified exactly once %d", nsig, once);
    CHECK(submit_fail == 0 && verified == TOTAL && bad == 0, "requests");
    CHECK(nsig == TOTAL && once == TOTAL, "notifications");
    if (IS_KAIO) {
        unsigned long long (*counter)(const char *) =
            (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
        unsigned long long rf = counter ? counter("ring_full") : 0;
        NOTE("kaio: ring_full %llu, kernel %llu, inline %llu, thread %llu", rf,
             counter ? counter("kernel") : 0, counter ? counter("inline") : 0,
             counter ? counter("thread") : 0);
        /* kaio-only path check: the tiny ring was really exercised. */
        if (direct) CHECK(rf > 0, "ring never full with KAIO_MAX_EVENTS=8, %d in flight", DEPTH);
    }
    free(bufs);
    close(fd);
    unlink(path);
    return t_done();
}
