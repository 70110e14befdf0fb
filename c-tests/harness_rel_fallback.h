/* Helpers shared by test_rel_seccomp and test_rel_aio_max_nr: a workload
 * run in a forked child where kernel AIO is (partly) unavailable, and the
 * parent's side that collects children's reports.
 *
 * A child reports through a pipe, one finding a line; a line "bad" marks
 * the line before it as wrong, "ok" as right; a line starting with '#' is a
 * NOTE (kaio-only diagnostics and checks). The parent prints each finding as an OUT
 * line, CHECKs the "bad" ones and the child's exit status (0: it ran to the
 * end; 3: its watchdog fired; 77: skip).
 *
 * rf_workload: every request must complete with the right result; every
 * wait is bounded (2 s, and 6 s for the whole workload):
 *   8 O_DIRECT aio_writes of 4 KiB (aio_suspend with a timeout), an
 *   aio_fsync after them, lio_listio(LIO_WAIT) of 8 O_DIRECT reads of those
 *   blocks (bytes checked), a read of an empty pipe completed by a later
 *   write, a buffered aio_write then aio_read of 64 KiB (bytes checked), an
 *   O_DIRECT read notified with SIGEV_SIGNAL (SI_ASYNCIO, sigev_value), and
 *   an aio_suspend that waits ~400 ms for a pipe read without spinning:
 *   under 0.05 s of process CPU time (glibc: ~0.001 s) and fewer than 20
 *   involuntary context switches (glibc: ~0; a spinner beside a CPU hog on
 *   its CPU gets little CPU time but is preempted every time slice). */
#ifndef KAIO_HARNESS_REL_FALLBACK_H
#define KAIO_HARNESS_REL_FALLBACK_H

#include "harness.h"
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define RF_NB 8
#define RF_BLK 4096
#define RF_BUFLEN 65536

static int rf_fd = -1;
static int rf_bad;
/* Set by the test: on kaio, the workload must have run with no kernel
 * context at all (io_setup refused): checked with kaio's counters. */
static int rf_expect_no_context;

static inline double rf_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static inline void rf_sleep_ms(int ms)
{
    struct timespec d = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&d, &d) != 0 && errno == EINTR)
        ;
}

/* A finding: printed by the parent; `right` judges it. */
#define RF_LINE(right, ...) do { dprintf(rf_fd, __VA_ARGS__); \
    dprintf(rf_fd, "\n%s\n", (right) ? "ok" : "bad"); if (!(right)) rf_bad++; } while (0)
#define RF_NOTE(...) do { dprintf(rf_fd, "# " __VA_ARGS__); dprintf(rf_fd, "\n"); } while (0)

static double rf_deadline_all;

/* aio_suspend with a timeout until cb is done or 2 s (or the workload's
 * deadline) passed; 0 when done. */
static inline int rf_wait(struct aiocb *cb)
{
    double dl = rf_now() + 2;
    if (dl > rf_deadline_all) dl = rf_deadline_all;
    const struct aiocb *l[1] = { cb };
    while (aio_error(cb) == EINPROGRESS) {
        double left = dl - rf_now();
        if (left <= 0) return -1;
        struct timespec to = { (time_t)left, (long)((left - (double)(time_t)left) * 1e9) };
        if (aio_suspend(l, 1, &to) != 0 && errno != EINTR && errno != EAGAIN) return -1;
    }
    return 0;
}

/* The process's CPU time (s) and involuntary context switches. */
static inline double rf_process_cpu(long *preempted)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *preempted = ru.ru_nivcsw;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int rf_slow_pipe[2];
static void *rf_slow_writer(void *arg)
{
    (void)arg;
    rf_sleep_ms(400);
    (void)!write(rf_slow_pipe[1], "s", 1);
    return NULL;
}

/* The workload; findings go to rf_fd. Returns 0, or 77 without O_DIRECT. */
static inline int rf_workload(void)
{
    rf_deadline_all = rf_now() + 6;
    const int SIG = SIGRTMIN + 4;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIG);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    const char *dpath = t_make_file(0, "rel_fb_direct", 2 * RF_NB * RF_BLK, 61);
    int dfd = open(dpath, O_RDWR | O_DIRECT);
    if (dfd < 0) { unlink(dpath); dprintf(rf_fd, "skip: no O_DIRECT\n"); return 77; }
    char *buf = NULL;
    if (posix_memalign((void **)&buf, 4096, 4 * RF_NB * RF_BLK) != 0) return 1;
    char *wb = buf, *rb = buf + RF_NB * RF_BLK, *sb = buf + 2 * RF_NB * RF_BLK;
    struct aiocb cb[RF_NB], *list[RF_NB];

    /* O_DIRECT writes, then an fsync. */
    fill_pat(wb, RF_NB * RF_BLK, 1 << 20, 62);
    int sub = 0, wrote = 0;
    for (int i = 0; i < RF_NB; i++) {
        t_cb(&cb[i], dfd, wb + i * RF_BLK, RF_BLK, (off_t)i * 2 * RF_BLK);
        sub += aio_write(&cb[i]) == 0;
    }
    for (int i = 0; i < RF_NB; i++)
        wrote += rf_wait(&cb[i]) == 0 && aio_error(&cb[i]) == 0 && aio_return(&cb[i]) == RF_BLK;
    RF_LINE(sub == RF_NB && wrote == RF_NB, "O_DIRECT aio_write: %d/%d accepted, %d/%d wrote %d bytes",
            sub, RF_NB, wrote, RF_NB, RF_BLK);
    if (wrote < RF_NB)
        for (int i = 0; i < RF_NB; i++)
            if (aio_error(&cb[i]) != 0) {
                RF_NOTE("first failed write: aio_error %s", errname(aio_error(&cb[i])));
                break;
            }
    struct aiocb fs;
    t_cb(&fs, dfd, NULL, 0, 0);
    int fr = aio_fsync(O_SYNC, &fs);
    int fw = fr == 0 ? rf_wait(&fs) : -1;
    int fe = fr == 0 ? aio_error(&fs) : errno;
    RF_LINE(fr == 0 && fw == 0 && fe == 0 && aio_return(&fs) == 0, "aio_fsync: %d, then %s", fr,
            fw == 0 ? errname(fe) : "still in progress after 2 s");

    /* lio_listio(LIO_WAIT) of O_DIRECT reads of the blocks written. */
    memset(rb, 0, RF_NB * RF_BLK);
    for (int i = 0; i < RF_NB; i++) {
        t_cb(&cb[i], dfd, rb + i * RF_BLK, RF_BLK, (off_t)i * 2 * RF_BLK);
        cb[i].aio_lio_opcode = LIO_READ;
        list[i] = &cb[i];
    }
    int lr = lio_listio(LIO_WAIT, list, RF_NB, NULL);
    int lerr = errno, good = 0;
    for (int i = 0; i < RF_NB; i++) {
        if (aio_error(&cb[i]) == EINPROGRESS) rf_wait(&cb[i]);
        good += aio_error(&cb[i]) == 0 && aio_return(&cb[i]) == RF_BLK &&
                check_pat(rb + i * RF_BLK, RF_BLK, (1 << 20) + (uint64_t)i * RF_BLK, 62) < 0;
    }
    RF_LINE(lr == 0 && good == RF_NB, "lio_listio(LIO_WAIT) = %d%s%s, O_DIRECT reads right %d/%d", lr,
            lr ? " " : "", lr ? errname(lerr) : "", good, RF_NB);
    if (good < RF_NB) RF_NOTE("first lio read: aio_error %s", errname(aio_error(&cb[0])));

    /* A pipe read completed by a later write. */
    int p[2];
    if (pipe(p) != 0) return 1;
    char pbuf[256], msg[100];
    memset(pbuf, 0, sizeof pbuf);
    fill_pat(msg, sizeof msg, 0, 63);
    struct aiocb pc;
    t_cb(&pc, p[0], pbuf, sizeof pbuf, 0);
    int pr = aio_read(&pc);
    int pe0 = aio_error(&pc);
    int pw = (int)write(p[1], msg, sizeof msg);
    int pwait = rf_wait(&pc);
    int pe = aio_error(&pc);
    ssize_t pn = pe == 0 ? aio_return(&pc) : -1;
    RF_LINE(pr == 0 && pe0 == EINPROGRESS && pw == 100 && pwait == 0 && pe == 0 && pn == 100 &&
                memcmp(pbuf, msg, sizeof msg) == 0,
            "pipe read: %d, %s before the write, then %s %zd, data %s", pr, errname(pe0), errname(pe),
            pn, pn == 100 && memcmp(pbuf, msg, sizeof msg) == 0 ? "right" : "WRONG");

    /* Buffered write then read back. */
    char bpath[600];
    snprintf(bpath, sizeof bpath, "%s/rel_fb_buf.%d", t_dir(), (int)getpid());
    int bfd = open(bpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (bfd < 0) return 1;
    unlink(bpath);
    static char bw[RF_BUFLEN], br[RF_BUFLEN];
    fill_pat(bw, sizeof bw, 0, 64);
    memset(br, 0, sizeof br);
    struct aiocb bc;
    t_cb(&bc, bfd, bw, sizeof bw, 0);
    int bwr = aio_write(&bc) == 0 && rf_wait(&bc) == 0 ? (int)aio_return(&bc) : -1;
    t_cb(&bc, bfd, br, sizeof br, 0);
    int brr = aio_read(&bc) == 0 && rf_wait(&bc) == 0 ? (int)aio_return(&bc) : -1;
    RF_LINE(bwr == RF_BUFLEN && brr == RF_BUFLEN && memcmp(bw, br, sizeof bw) == 0,
            "buffered aio_write %d, aio_read %d, data %s", bwr, brr,
            memcmp(bw, br, sizeof bw) == 0 ? "right" : "WRONG");

    /* SIGEV_SIGNAL notification of an O_DIRECT read. */
    struct aiocb sc;
    memset(sb, 0, RF_BLK);
    t_cb(&sc, dfd, sb, RF_BLK, RF_BLK); /* an unwritten block: pattern 61 */
    sc.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    sc.aio_sigevent.sigev_signo = SIG;
    sc.aio_sigevent.sigev_value.sival_int = 4242;
    int sr = aio_read(&sc);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    struct timespec two = { 2, 0 };
    int got = sr == 0 ? sigtimedwait(&set, &si, &two) : -1;
    if (sr == 0) rf_wait(&sc);
    int se = aio_error(&sc);
    ssize_t sn = se == 0 ? aio_return(&sc) : -1;
    int sdata = sn == RF_BLK && check_pat(sb, RF_BLK, RF_BLK, 61) < 0;
    RF_LINE(sr == 0 && got == SIG && si.si_code == SI_ASYNCIO && si.si_value.sival_int == 4242 &&
                se == 0 && sdata,
            "SIGEV_SIGNAL read: signal %s, si_code %s, value %s; aio_error %s, aio_return %zd, data %s",
            got == SIG ? "received" : "NOT received", si.si_code == SI_ASYNCIO ? "SI_ASYNCIO" : "other",
            si.si_value.sival_int == 4242 ? "right" : "wrong", errname(se), sn, sdata ? "right" : "WRONG");

    /* aio_suspend sleeps while a pipe read is pending. */
    if (pipe(rf_slow_pipe) != 0) return 1;
    char c = 0;
    struct aiocb wc;
    t_cb(&wc, rf_slow_pipe[0], &c, 1, 0);
    int wr = aio_read(&wc);
    pthread_t th;
    long pre0, pre1;
    double cpu0 = rf_process_cpu(&pre0), t0 = rf_now();
    if (pthread_create(&th, NULL, rf_slow_writer, NULL) != 0) return 1;
    int ww = wr == 0 ? rf_wait(&wc) : -1;
    double cpu = rf_process_cpu(&pre1) - cpu0, wall = rf_now() - t0;
    long preempted = pre1 - pre0;
    pthread_join(th, NULL);
    RF_NOTE("slow pipe read: %.3f s wall, %.3f s CPU, preempted %ld times", wall, cpu, preempted);
    int slept = cpu < 0.05 && preempted < 20;
    RF_LINE(wr == 0 && ww == 0 && aio_return(&wc) == 1 && c == 's' && slept,
            "aio_suspend on a pipe read written after 400 ms: %s, %s", ww == 0 ? "completed" : "NOT completed",
            slept ? "slept" : "BUSY-WAITED (CPU time >= 0.05 s or preempted >= 20 times)");

    close(p[0]);
    close(p[1]);
    close(rf_slow_pipe[0]);
    close(rf_slow_pipe[1]);
    close(bfd);
    close(dfd);
    unlink(dpath);
    if (IS_KAIO) {
        unsigned long long (*counter)(const char *) =
            (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
        if (counter)
            RF_NOTE("kaio counters: kernel %llu, no_context %llu, thread %llu, failed_at_submit %llu, "
                    "getevents_calls %llu", counter("kernel"), counter("no_context"), counter("thread"),
                    counter("failed_at_submit"), counter("getevents_calls"));
        if (counter && rf_expect_no_context) {
            int yes = counter("no_context") > 0 && counter("kernel") == 0;
            RF_NOTE("kaio served without a kernel context: %s", yes ? "yes" : "no");
            dprintf(rf_fd, "%s\n", yes ? "ok" : "bad");
            rf_bad += !yes;
        }
    }
    return 0;
}

/* Parent side: a forked child running fn, reporting through a pipe. */
struct rf_child {
    const char *label;
    pid_t pid;
    int rfd, status, reaped;
};

static inline void rf_spawn(struct rf_child *c, const char *label, int (*fn)(void *), void *arg)
{
    int p[2];
    if (pipe(p) != 0) { OUT("pipe: %s", errname(errno)); exit(1); }
    fflush(stdout);
    c->label = label;
    c->reaped = 0;
    c->pid = fork();
    if (c->pid < 0) { OUT("fork: %s", errname(errno)); exit(1); }
    if (c->pid == 0) {
        close(p[0]);
        rf_fd = p[1];
        alarm(10); /* t_watchdog: prints FAIL and _exit(3) */
        int rc = fn(arg);
        fflush(stdout);
        _exit(rc);
    }
    close(p[1]);
    c->rfd = p[0];
}

/* Reap every child within `seconds` (SIGKILL after that). */
static inline void rf_reap(struct rf_child *c, int n, double seconds)
{
    double t0 = rf_now();
    int left = n;
    while (left > 0 && rf_now() - t0 < seconds) {
        for (int i = 0; i < n; i++)
            if (!c[i].reaped && waitpid(c[i].pid, &c[i].status, WNOHANG) == c[i].pid) {
                c[i].reaped = 1;
                left--;
            }
        if (left) rf_sleep_ms(5);
    }
    for (int i = 0; i < n; i++)
        if (!c[i].reaped) {
            kill(c[i].pid, SIGKILL);
            waitpid(c[i].pid, &c[i].status, 0);
            c[i].status = -1;
            c[i].reaped = 1;
        }
}

/* Print a child's findings; returns its exit code (-1: killed). */
static inline int rf_print(struct rf_child *c)
{
    static char buf[16384];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof buf - 1 && (k = read(c->rfd, buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)k;
    buf[n] = 0;
    close(c->rfd);
    int code = c->status == -1 ? -1
               : WIFEXITED(c->status) ? WEXITSTATUS(c->status) : 128 + WTERMSIG(c->status);
    if (code == 77) return code;
    const char *prev = "";
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (strcmp(line, "ok") == 0) continue;
        if (strcmp(line, "bad") == 0) {
            int line_is_right = 0;
            CHECK(line_is_right, "%s: %s", c->label, prev);
            continue;
        }
        if (line[0] == '#') NOTE("%s:%s", c->label, line + 1);
        else OUT("%s: %s", c->label, line);
        prev = line;  /* a '#' line is judged too (kaio-only checks) */
    }
    OUT("%s: child exit %d", c->label, code);
    CHECK(code == 0, "%s: child exit %d (3: its watchdog; -1: killed)", c->label, code);
    return code;
}

#endif
