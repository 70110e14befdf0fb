/* KAIO_ONLY (glibc's aio hangs in a child forked while its workers run):
 * the parent has 8 pipe reads (one per pipe, no data yet) and 8 O_DIRECT
 * file reads in flight, each with a SIGEV_SIGNAL notification, and forks.
 * The child at once does its own 4 file reads and 1 read of its own pipe,
 * verifies them, reports, and then stays alive (blocked on a control pipe)
 * while the parent feeds its 8 pipes: the child, which inherited every
 * descriptor, must not steal any of them. The parent gets every one of its
 * 16 completions with the right data, and exactly 16 signals, one per
 * request. */
#include "harness.h"
#include <sys/wait.h>

#define NP 8
#define NF 8
#define BS 4096

static volatile int seen[NP + NF];
static volatile int nsig;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    int v = si->si_value.sival_int;
    if (si->si_code == SI_ASYNCIO && v >= 0 && v < NP + NF)
        __atomic_fetch_add(&seen[v], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&nsig, 1, __ATOMIC_RELEASE);
}

static int child(int fd, char *fbuf, int status_w, int ctl_r)
{
    int ok = 1;
    struct aiocb c[4], pc;
    for (int i = 0; i < 4; i++) {
        t_cb(&c[i], fd, fbuf + (size_t)i * BS, BS, (off_t)(40 + i) * BS);
        ok &= aio_read(&c[i]) == 0;
    }
    int q[2];
    ok &= pipe(q) == 0;
    char pb[32];
    t_cb(&pc, q[0], pb, sizeof pb, 0);
    ok &= aio_read(&pc) == 0;
    ok &= aio_error(&pc) == EINPROGRESS;
    ok &= write(q[1], "child-own-pipe", 14) == 14;
    t_wait(&pc);
    ok &= aio_return(&pc) == 14 && memcmp(pb, "child-own-pipe", 14) == 0;
    for (int i = 0; i < 4; i++) {
        t_wait(&c[i]);
        ok &= aio_error(&c[i]) == 0 && aio_return(&c[i]) == BS &&
              check_pat(fbuf + (size_t)i * BS, BS, (uint64_t)(40 + i) * BS, 81) < 0;
    }
    char st = ok ? 'y' : 'n';
    ok &= write(status_w, &st, 1) == 1;
    char x;
    while (read(ctl_r, &x, 1) > 0) {}   /* linger until the parent is done */
    return ok ? 0 : 1;
}

int main(void)
{
    t_init("test_nb_fork_inflight", 40);
    int sig = SIGRTMIN + 3;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(sig, &sa, NULL);

    const char *path = t_make_file(0, "nb_fork", 64 * BS, 81);
    int fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0) { unlink(path); T_SKIP("O_DIRECT: %s", errname(errno)); }
    void *mem = NULL;
    if (posix_memalign(&mem, BS, (NF + 4) * BS) != 0) { OUT("posix_memalign failed"); return 1; }
    char *fbuf = mem;
    int p[NP][2];
    static char pbuf[NP][32];
    struct aiocb cb[NP + NF];
    for (int i = 0; i < NP + NF; i++) {
        if (i < NP) {
            CHECK(pipe(p[i]) == 0, "pipe: %s", errname(errno));
            t_cb(&cb[i], p[i][0], pbuf[i], sizeof pbuf[i], 0);
        } else {
            t_cb(&cb[i], fd, fbuf + (size_t)(i - NP) * BS, BS, (off_t)(i - NP) * BS);
        }
        cb[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        cb[i].aio_sigevent.sigev_signo = sig;
        cb[i].aio_sigevent.sigev_value.sival_int = i;
        CHECK(aio_read(&cb[i]) == 0, "aio_read %d: %s", i, errname(errno));
    }
    int status[2], ctl[2];
    CHECK(pipe(status) == 0 && pipe(ctl) == 0, "pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(status[0]);
        close(ctl[1]);
        _exit(child(fd, fbuf + (size_t)NF * BS, status[1], ctl[0]));
    }
    close(status[1]);
    close(ctl[0]);
    char st = 0;
    CHECK(read(status[0], &st, 1) == 1, "child status: %s", errname(errno));
    OUT("child's own AIO: %s", st == 'y' ? "ok" : "FAILED");
    CHECK(st == 'y', "child's own requests");

    /* The child is alive (and holds every descriptor): feed our pipes. */
    for (int i = 0; i < NP; i++) {
        char m[32];
        int len = snprintf(m, sizeof m, "parent pipe %d", i);
        CHECK(write(p[i][1], m, len) == len, "write");
    }
    int good = 0;
    for (int i = 0; i < NP + NF; i++) {
        t_wait(&cb[i]);
        if (i < NP) {
            char m[32];
            int len = snprintf(m, sizeof m, "parent pipe %d", i);
            good += aio_error(&cb[i]) == 0 && aio_return(&cb[i]) == len &&
                    memcmp(pbuf[i], m, len) == 0;
        } else {
            good += aio_error(&cb[i]) == 0 && aio_return(&cb[i]) == BS &&
                    check_pat(fbuf + (size_t)(i - NP) * BS, BS, (uint64_t)(i - NP) * BS, 81) < 0;
        }
    }
    OUT("parent: %d/%d requests completed with the right data", good, NP + NF);
    CHECK(good == NP + NF, "parent results %d", good);
    /* Bounded (10 s) so that a lost signal shows as a count, not a hang. */
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (__atomic_load_n(&nsig, __ATOMIC_ACQUIRE) < NP + NF) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 10) break;
        struct timespec d = { 0, 1000000 };
        nanosleep(&d, NULL);
    }
    struct timespec d = { 0, 100 * 1000000 };
    nanosleep(&d, NULL);
    int once = 0;
    for (int i = 0; i < NP + NF; i++) once += seen[i] == 1;
    OUT("parent: %d signals, %d requests notified exactly once", nsig, once);
    CHECK(nsig == NP + NF && once == NP + NF, "signals %d once %d", nsig, once);

    close(ctl[1]);                /* let the child go */
    int wst = 0;
    waitpid(pid, &wst, 0);
    OUT("child exit: %s", WIFEXITED(wst) && WEXITSTATUS(wst) == 0 ? "0" : "FAILED");
    CHECK(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "child status %d", wst);
    for (int i = 0; i < NP; i++) { close(p[i][0]); close(p[i][1]); }
    free(mem);
    close(fd);
    unlink(path);
    return t_done();
}
