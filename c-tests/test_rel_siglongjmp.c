/* siglongjmp out of a signal handler that interrupted aio_suspend (issue 9,
 * case 5). aio_suspend is async-signal-safe, so POSIX lets a handler that
 * interrupted it leave with siglongjmp. A waiter that leaves that way must
 * not take anything with it: afterwards the interrupted request completes,
 * and so does every later request of the process.
 *
 * Each variant runs in a forked child (a fresh process) and reports lines
 * through a pipe; the parent prints them. In the child the main thread
 * calls sigsetjmp, submits X and waits for it in aio_suspend (4 s timeout);
 * another thread sends SIGUSR1 once /proc shows the main thread asleep in
 * that wait (harness_rel_sig.h); the handler siglongjmps out. Then:
 *   - X completes: aio_error polled for up to 1 s, then aio_suspend with a
 *     timeout; the right count and bytes; the rest of the long read too;
 *   - 20 later requests complete with the right count and bytes: 7 O_DIRECT
 *     reads, 7 pipe reads (each pipe written after the read was submitted),
 *     6 buffered reads; all within 2 s.
 * Variants:
 *   direct-X   X is a long O_DIRECT read; the main thread waits for each later
 *              request in turn, alternately with aio_suspend (timeout) and
 *              by polling aio_error;
 *   direct-X-thread  the same X; the later requests are waited for in
 *              aio_suspend (timeout) by a second thread started after the jump;
 *   pipe-X     X is a read of an empty pipe (written after the jump); later
 *              requests as in direct-X.
 * A variant whose signal did not land inside aio_suspend is repeated (up to
 * 3 attempts; NOTE lines). glibc's aio_suspend registers waiting entries on
 * its stack; its longjmp runs aio_suspend's cleanup handler, and the wait is
 * made below a 256 KiB pad all the same, so that nothing later in the child
 * reuses that stack while glibc could still look at it. */
#include "harness_rel_sig.h"
#include <alloca.h>
#include <setjmp.h>
#include <sys/wait.h>

enum { V_DIRECT, V_DIRECT_THREAD, V_PIPE, V_N };
static const char *vname[V_N] = { "direct-X", "direct-X-thread", "pipe-X" };

#define NLATER 20
#define LLEN 65536
#define PAD (256 * 1024)
#define PIPE_MSG 64

static sigjmp_buf env;
static volatile int armed, returned, h_in_suspend, jumped;
static int report_fd = -1;

static void on_usr1(int sig)
{
    (void)sig;
    h_in_suspend = armed && !returned;
    jumped = 1;
    siglongjmp(env, 1);
}

#define REPORT(...) dprintf(report_fd, __VA_ARGS__)

static __attribute__((noinline)) int suspend_for(struct aiocb *x)
{
    const struct aiocb *l[1] = { x };
    struct timespec to = { 4, 0 };
    __atomic_store_n(&armed, 1, __ATOMIC_RELEASE);
    int r = aio_suspend(l, 1, &to);
    __atomic_store_n(&returned, 1, __ATOMIC_RELEASE);
    return r;
}

static __attribute__((noinline)) int padded_suspend_for(struct aiocb *x)
{
    volatile char *pad = alloca(PAD);
    pad[0] = 1;
    pad[PAD - 1] = 1;
    __asm__ volatile("" : : "r"(pad) : "memory");
    return suspend_for(x);
}

/* The later requests. */
enum { T_DIRECT, T_PIPE, T_BUF };
static const char *tname[3] = { "O_DIRECT", "pipe", "buffered" };
struct later {
    struct aiocb cb;
    int type, p[2];
    char *buf;
};
static struct later later[NLATER];
static int ldirect_fd, lbuf_fd;

static void later_submit(int i)
{
    struct later *q = &later[i];
    q->type = i % 3;
    switch (q->type) {
    case T_DIRECT:
        t_cb(&q->cb, ldirect_fd, q->buf, LLEN, (off_t)i * LLEN);
        break;
    case T_PIPE:
        if (pipe(q->p) != 0) { REPORT("pipe: %s\n", errname(errno)); _exit(1); }
        t_cb(&q->cb, q->p[0], q->buf, 4096, 0);
        break;
    default:
        t_cb(&q->cb, lbuf_fd, q->buf, LLEN, (off_t)i * LLEN);
        break;
    }
    memset(q->buf, 0, LLEN);
    if (aio_read(&q->cb) != 0) {
        REPORT("aio_read (later %d, %s): %s\n", i, tname[q->type], errname(errno));
        return;
    }
    if (q->type == T_PIPE) {
        char msg[PIPE_MSG];
        fill_pat(msg, sizeof msg, (uint64_t)i * PIPE_MSG, 52);
        if (write(q->p[1], msg, sizeof msg) != (ssize_t)sizeof msg) _exit(1);
    }
}

static int later_ok(int i)
{
    struct later *q = &later[i];
    if (aio_error(&q->cb) != 0) return 0;
    ssize_t n = aio_return(&q->cb);
    switch (q->type) {
    case T_DIRECT:
        return n == LLEN && check_pat(q->buf, LLEN, (uint64_t)i * LLEN, 51) < 0;
    case T_PIPE: {
        char msg[PIPE_MSG];
        fill_pat(msg, sizeof msg, (uint64_t)i * PIPE_MSG, 52);
        return n == PIPE_MSG && memcmp(q->buf, msg, PIPE_MSG) == 0;
    }
    default:
        return n == LLEN && check_pat(q->buf, LLEN, (uint64_t)i * LLEN, 53) < 0;
    }
}

static void report_later(const char *how)
{
    int good[3] = { 0, 0, 0 }, all[3] = { 0, 0, 0 }, inprog = 0;
    for (int i = 0; i < NLATER; i++) {
        all[later[i].type]++;
        if (aio_error(&later[i].cb) == EINPROGRESS) inprog++;
        else good[later[i].type] += later_ok(i);
    }
    REPORT("later requests (%s): O_DIRECT %d/%d, pipe %d/%d, buffered %d/%d right; in progress %d\n",
           how, good[0], all[0], good[1], all[1], good[2], all[2], inprog);
    REPORT("%s\n", good[0] + good[1] + good[2] == NLATER ? "ok" : "bad");
}

static double phase_end;

static void *later_waiter(void *arg)
{
    (void)arg;
    for (int i = 0; i < NLATER; i++) rs_wait_until(&later[i].cb, phase_end);
    return NULL;
}

static int child(int v)
{
    alarm(12);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGUSR1, &sa, NULL);

    char name[32];
    snprintf(name, sizeof name, "rel_lj_long%d", v);
    const char *lpath = t_make_file(0, name, RS_LEN, 41);
    snprintf(name, sizeof name, "rel_lj_d%d", v);
    const char *dpath = t_make_file(1, name, NLATER * LLEN, 51);
    snprintf(name, sizeof name, "rel_lj_b%d", v);
    const char *bpath = t_make_file(2, name, NLATER * LLEN, 53);
    struct rs_long L;
    ldirect_fd = open(dpath, O_RDONLY | O_DIRECT);
    lbuf_fd = open(bpath, O_RDONLY);
    int ok_open = rs_long_open(&L, lpath) == 0 && ldirect_fd >= 0 && lbuf_fd >= 0;
    unlink(lpath);
    unlink(dpath);
    unlink(bpath);
    if (!ok_open) {
        REPORT("skip: no O_DIRECT in %s\n", t_dir());
        return 77;
    }
    for (int i = 0; i < NLATER; i++)
        if (posix_memalign((void **)&later[i].buf, 4096, LLEN) != 0) return 1;

    int xp[2] = { -1, -1 };
    char xb[256];
    struct aiocb xcb;
    struct aiocb *x = v == V_PIPE ? &xcb : rs_long_x(&L);
    for (int attempt = 1;; attempt++) {
        armed = returned = h_in_suspend = jumped = 0;
        if (v == V_PIPE) {
            if (pipe(xp) != 0) return 1;
            memset(xb, 0, sizeof xb);
            t_cb(&xcb, xp[0], xb, sizeof xb, 0);
            if (aio_read(&xcb) != 0) { REPORT("aio_read(X): %s\n", errname(errno)); return 1; }
        } else if (rs_long_submit(&L) != 0) {
            return 1;
        }
        struct rs_signaller s = { .target = pthread_self(), .tid = rs_gettid(), .sig = SIGUSR1,
                                  .armed = &armed, .returned = &returned, .give_up = 3 };
        rs_signaller_start(&s);
        volatile int r = 0, err = 0;
        if (sigsetjmp(env, 1) == 0) {
            r = padded_suspend_for(x);
            err = errno;
            /* Not jumped (yet): wait here, calling nothing but nanosleep,
             * until the signaller has sent its signal or given up. */
            while (!__atomic_load_n(&s.finished, __ATOMIC_ACQUIRE)) rs_sleep_ms(1);
            if (s.sent) {
                double t0 = rs_now();
                while (!jumped && rs_now() - t0 < 2) rs_sleep_ms(1);
            }
        }
        rs_signaller_join(&s);
        printf("# %s attempt %d: signal %s after %.1f ms, jumped %d, from aio_suspend %d (r %d %s)\n",
               vname[v], attempt, s.sent ? "sent" : "not sent", s.waited * 1e3, jumped, h_in_suspend,
               r, r ? errname(err) : "");
        fflush(stdout);
        if (jumped && h_in_suspend) break;
        /* Missed: clean up and try again. */
        if (v == V_PIPE) {
            if (write(xp[1], "x", 1) != 1) return 1;
            rs_wait_until(&xcb, rs_now() + 3);
            close(xp[0]);
            close(xp[1]);
        }
        rs_long_wait_all(&L, rs_now() + 3);
        if (attempt == 3) {
            REPORT("the signal never landed in aio_suspend\nbad\n");
            return 1;
        }
    }

    /* After the jump: the interrupted request completes. */
    if (v == V_PIPE) {
        char msg[PIPE_MSG];
        fill_pat(msg, sizeof msg, 0, 54);
        if (write(xp[1], msg, sizeof msg) != (ssize_t)sizeof msg) return 1;
    }
    double t0 = rs_now();
    while (aio_error(x) == EINPROGRESS && rs_now() - t0 < 0.5) rs_sleep_ms(1);
    int polled = aio_error(x) != EINPROGRESS;
    rs_wait_until(x, t0 + 1);
    int xe = aio_error(x);
    long xr = xe == 0 ? (long)aio_return(x) : -1;
    int xdata;
    if (v == V_PIPE) {
        char msg[PIPE_MSG];
        fill_pat(msg, sizeof msg, 0, 54);
        xdata = xe == 0 && xr == PIPE_MSG && memcmp(xb, msg, PIPE_MSG) == 0;
    } else {
        xdata = xe == 0 && xr == (long)RS_LEN && check_pat(L.xbuf, RS_LEN, 0, 41) < 0;
    }
    printf("# %s: X %s after %.3f s (seen by aio_error polling: %d)\n", vname[v], errname(xe),
           rs_now() - t0, polled);
    REPORT("interrupted request X: aio_error %s, aio_return %ld, data %s\n", errname(xe), xr,
           xdata ? "right" : "WRONG");
    REPORT("%s\n", xdata ? "ok" : "bad");
    if (v != V_PIPE) {
        int rest = 0;
        for (int i = 0; i < RS_NF - 1; i++)
            if (rs_wait_until(&L.cb[i], rs_now() + (i == 0 ? 0.5 : 0.01)) == 0 &&
                aio_error(&L.cb[i]) == 0 && aio_return(&L.cb[i]) == (ssize_t)RS_LEN)
                rest++;
        REPORT("rest of the long read: %d/%d\n%s\n", rest, RS_NF - 1, rest == RS_NF - 1 ? "ok" : "bad");
    }

    /* Every later request completes. */
    t0 = rs_now();
    phase_end = t0 + 2;
    if (v == V_DIRECT_THREAD) {
        for (int i = 0; i < NLATER; i++) later_submit(i);
        pthread_t th;
        if (pthread_create(&th, NULL, later_waiter, NULL) != 0) return 1;
        pthread_join(th, NULL);
        report_later("waited for by a second thread in aio_suspend");
    } else {
        for (int i = 0; i < NLATER; i++) {
            later_submit(i);
            double dl = rs_now() + 1 < phase_end ? rs_now() + 1 : phase_end;
            if (i % 2 == 0) {
                rs_wait_until(&later[i].cb, dl);
            } else {
                while (aio_error(&later[i].cb) == EINPROGRESS && rs_now() < dl) rs_sleep_ms(1);
            }
        }
        report_later("waited for in turn with aio_suspend and aio_error polling");
    }
    printf("# %s: later requests took %.3f s\n", vname[v], rs_now() - t0);
    fflush(stdout);
    return 0;
}

int main(void)
{
    t_init("test_rel_siglongjmp", 30);
    pid_t pid[V_N];
    int rfd[V_N];
    for (int v = 0; v < V_N; v++) {
        int p[2];
        CHECK(pipe(p) == 0, "pipe");
        fflush(stdout);
        pid[v] = fork();
        if (pid[v] == 0) {
            close(p[0]);
            report_fd = p[1];
            int rc = child(v);
            fflush(stdout);
            _exit(rc);
        }
        close(p[1]);
        rfd[v] = p[0];
    }
    /* Reap every child within 15 s (each has its own 12 s alarm). */
    int st[V_N], done = 0, reaped[V_N] = { 0 };
    double t0 = rs_now();
    while (done < V_N && rs_now() - t0 < 15) {
        for (int v = 0; v < V_N; v++)
            if (!reaped[v] && waitpid(pid[v], &st[v], WNOHANG) == pid[v]) {
                reaped[v] = 1;
                done++;
            }
        rs_sleep_ms(10);
    }
    for (int v = 0; v < V_N; v++)
        if (!reaped[v]) {
            kill(pid[v], SIGKILL);
            waitpid(pid[v], &st[v], 0);
            st[v] = -1;
        }
    int skipped = 0;
    for (int v = 0; v < V_N; v++) {
        char buf[4096];
        size_t n = 0;
        ssize_t k;
        while (n < sizeof buf - 1 && (k = read(rfd[v], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)k;
        buf[n] = 0;
        close(rfd[v]);
        int code = st[v] == -1 ? -1 : WIFEXITED(st[v]) ? WEXITSTATUS(st[v]) : 128 + WTERMSIG(st[v]);
        if (code == 77) { skipped++; continue; }
        /* Lines "ok"/"bad" judge the line before them. */
        const char *prev = "";
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
            if (strcmp(line, "ok") == 0) continue;
            if (strcmp(line, "bad") == 0) {
                int line_is_right = 0;
                CHECK(line_is_right, "%s: %s", vname[v], prev);
                continue;
            }
            OUT("%s: %s", vname[v], line);
            prev = line;
        }
        /* 0: the child ran to the end (its findings are the lines above). */
        OUT("%s: child exit %d", vname[v], code);
        CHECK(code == 0, "%s: child exit %d (3: its watchdog; -1: killed after 15 s)", vname[v], code);
    }
    if (skipped) T_SKIP("no O_DIRECT in %s", t_dir());
    return t_done();
}
