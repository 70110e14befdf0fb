/* A signal storm during aio_suspend loses nothing. A thread sends SIGUSR1
 * (handler without SA_RESTART) to the waiting thread every ~100 us while 4
 * pipes are fed one byte at a time by another thread (~1 s) and 4 O_DIRECT
 * reads are kept in flight. The waiter loops on aio_suspend (no timeout, or
 * 5 ms every other call): each return is 0, -1/EINTR, or -1/EAGAIN with the
 * timeout, nothing else. Every request completes exactly once: each pipe's
 * bytes arrive once and in order, every file read has the right data, and
 * each request's SIGEV_SIGNAL notification (value = request number, counted
 * by a collector thread) arrives exactly once. */
#include "harness.h"

#define NP 4          /* pipes */
#define NF 4          /* O_DIRECT reads in flight */
#define BYTES 400     /* per pipe */
#define MAXFILE 6000  /* file reads in all */
#define MAXREQ (NP * BYTES + MAXFILE + NP + NF)
#define FILESZ (1 << 20)

static pthread_t waiter;
static volatile int stop_storm, storm_sent;
static volatile sig_atomic_t handled;
static int pw[NP];
static unsigned char notes[MAXREQ];
static int notes_total, SIG;

static void on_usr1(int s) { (void)s; handled++; }

static void *storm(void *a)
{
    (void)a;
    struct timespec d = { 0, 100000 };
    while (!__atomic_load_n(&stop_storm, __ATOMIC_ACQUIRE)) {
        pthread_kill(waiter, SIGUSR1);
        storm_sent++;
        nanosleep(&d, NULL);
    }
    return NULL;
}

static void *feeder(void *a)
{
    (void)a;
    struct timespec d = { 0, 2000000 };
    for (int i = 0; i < BYTES; i++) {
        for (int p = 0; p < NP; p++) {
            unsigned char c = (unsigned char)(i * 7 + p);
            if (write(pw[p], &c, 1) != 1) return NULL;
        }
        nanosleep(&d, NULL);
    }
    return NULL;
}

static void *collector(void *a)
{
    sigset_t *set = a;
    siginfo_t si;
    for (;;) {
        if (sigwaitinfo(set, &si) != SIG) continue;
        int v = si.si_value.sival_int;
        if (v < 0) return NULL;               /* the end marker */
        if (v < MAXREQ && notes[v] < 255) notes[v]++;
        __atomic_add_fetch(&notes_total, 1, __ATOMIC_SEQ_CST);
    }
}

int main(void)
{
    t_init("test_fault_signal_storm", 60);
    SIG = SIGRTMIN + 7;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIG);
    pthread_sigmask(SIG_BLOCK, &set, NULL);   /* inherited by every thread */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;                  /* no SA_RESTART */
    sigaction(SIGUSR1, &sa, NULL);

    const char *path = t_make_file(0, "fault_storm", FILESZ, 79);
    int fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0) { unlink(path); T_SKIP("no O_DIRECT in %s", t_dir()); }
    int pr[NP];
    for (int p = 0; p < NP; p++) {
        int f[2];
        CHECK(pipe(f) == 0, "pipe");
        pr[p] = f[0];
        pw[p] = f[1];
    }
    static struct aiocb cb[NP + NF];
    static unsigned char pbyte[NP];
    char *fbuf = NULL;
    CHECK(posix_memalign((void **)&fbuf, 4096, NF * 4096) == 0, "memalign");
    int serial = 0, pipe_got[NP] = { 0 }, pipe_bad = 0, file_done = 0, file_bad = 0;
    off_t foff[NF];
    const struct aiocb *list[NP + NF];
    for (int s = 0; s < NP + NF; s++) {
        if (s < NP) t_cb(&cb[s], pr[s], &pbyte[s], 1, 0);
        else {
            foff[s - NP] = (off_t)(s - NP) * 4096;
            t_cb(&cb[s], fd, fbuf + (s - NP) * 4096, 4096, foff[s - NP]);
        }
        cb[s].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        cb[s].aio_sigevent.sigev_signo = SIG;
        cb[s].aio_sigevent.sigev_value.sival_int = serial++;
        CHECK(aio_read(&cb[s]) == 0, "aio_read: %s", errname(errno));
        list[s] = &cb[s];
    }
    waiter = pthread_self();
    pthread_t th_storm, th_feed, th_coll;
    pthread_create(&th_coll, NULL, collector, &set);
    pthread_create(&th_storm, NULL, storm, NULL);
    pthread_create(&th_feed, NULL, feeder, NULL);

    int eintr = 0, eagain = 0, other = 0, calls = 0, live = NP + NF;
    while (live > 0) {
        struct timespec to = { 0, 5000000 };
        errno = 0;
        int r = aio_suspend(list, NP + NF, (calls++ & 1) ? &to : NULL);
        if (r != 0) {
            if (errno == EINTR) eintr++;
            else if (errno == EAGAIN && (calls & 1) == 0) eagain++;
            else { other++; NOTE("aio_suspend: %s", errname(errno)); }
        }
        for (int s = 0; s < NP + NF; s++) {
            if (!list[s] || aio_error(&cb[s]) == EINPROGRESS) continue;
            int e = aio_error(&cb[s]);
            ssize_t n = aio_return(&cb[s]);
            int more;
            if (s < NP) {
                if (e || n != 1 || pbyte[s] != (unsigned char)(pipe_got[s] * 7 + s)) pipe_bad++;
                more = ++pipe_got[s] < BYTES;
            } else {
                int k = s - NP;
                if (e || n != 4096 || check_pat(fbuf + k * 4096, 4096, (uint64_t)foff[k], 79) >= 0)
                    file_bad++;
                file_done++;
                more = pipe_got[0] + pipe_got[1] + pipe_got[2] + pipe_got[3] < NP * BYTES &&
                       file_done < MAXFILE;
                foff[k] = (foff[k] + 4096 * 7) % FILESZ;
                cb[s].aio_offset = foff[k];
            }
            if (!more) { list[s] = NULL; live--; continue; }
            cb[s].aio_sigevent.sigev_value.sival_int = serial++;
            if (aio_read(&cb[s]) != 0) { other++; list[s] = NULL; live--; }
        }
    }
    __atomic_store_n(&stop_storm, 1, __ATOMIC_RELEASE);
    pthread_join(th_storm, NULL);
    pthread_join(th_feed, NULL);
    /* Every notification must arrive; then none more. */
    for (int i = 0; i < 1000 && __atomic_load_n(&notes_total, __ATOMIC_SEQ_CST) < serial; i++)
        usleep(10000);
    usleep(50000);
    union sigval end = { .sival_int = -1 };
    sigqueue(getpid(), SIG, end);
    pthread_join(th_coll, NULL);
    int once = 0;
    for (int i = 0; i < serial; i++) once += notes[i] == 1;
    NOTE("%d aio_suspend calls: %d EINTR, %d EAGAIN; %d signals sent, %d handled; %d file reads",
         calls, eintr, eagain, storm_sent, (int)handled, file_done);
    OUT("aio_suspend results other than 0/EINTR/EAGAIN: %d", other);
    OUT("pipe bytes: %d %d %d %d, bad %d", pipe_got[0], pipe_got[1], pipe_got[2], pipe_got[3], pipe_bad);
    OUT("file reads bad: %d", file_bad);
    OUT("requests notified exactly once: %s (%d notifications)", once == serial && notes_total == serial ? "all" : "NOT all",
        notes_total == serial ? -1 : notes_total);
    CHECK(other == 0 && pipe_bad == 0 && file_bad == 0, "results");
    CHECK(pipe_got[0] + pipe_got[1] + pipe_got[2] + pipe_got[3] == NP * BYTES, "pipe bytes lost");
    CHECK(once == serial && notes_total == serial, "%d of %d once, %d total", once, serial, notes_total);
    CHECK(eintr > 0, "the storm never interrupted aio_suspend");
    for (int p = 0; p < NP; p++) { close(pr[p]); close(pw[p]); }
    close(fd);
    free(fbuf);
    unlink(path);
    return t_done();
}
