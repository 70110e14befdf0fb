/* fault_workload: a short workload that takes every path of kaio, for the
 * fault-injection check (c-tests/checks/fault-inject.sh). Not a test_* file:
 * run.sh does not run it; the check builds it and runs it many times with
 * LD_PRELOAD=libkaio.so and KAIO_FAULT="point=N[+][:ERRNO]".
 *
 * What it does, in phases (files in $KAIO_WORK, else $KAIO_TEST_DIR, else .):
 *   lio-plain     lio_listio(LIO_WAIT) of O_DIRECT reads, no notification at
 *                 all: first of all (kaio's reaper not started yet), and again
 *                 after direct-read (the reaper idle, no notification due)
 *   direct-read   O_DIRECT reads of a pattern file (aio_suspend on the list)
 *   direct-write  O_DIRECT writes, aio_fsync(O_DSYNC) behind them, more
 *                 writes, aio_fsync(O_SYNC); written data read back with pread
 *   cold-read     buffered reads of a file that is not in the page cache
 *                 (fsync + POSIX_FADV_DONTNEED): kaio's pool (aio_suspend with
 *                 short timeouts, one request at a time)
 *   buf-write     buffered writes + aio_fsync, completion by aio_error
 *                 polling, then read back with aio_read (page cache) and pread
 *   pipe-read     reads of empty pipes, completed later by a writer thread;
 *                 aio_suspend with a timeout while nothing can be done must
 *                 time out
 *   pipe-write    a 96 KiB aio_write to a pipe (more than it holds) drained
 *                 by a reader thread, which checks every byte
 *   cancel        two reads of an empty pipe; aio_cancel of the second
 *                 (queued behind the first)
 *   lio-wait      lio_listio(LIO_WAIT): O_DIRECT and buffered reads, writes
 *   lio-signal    lio_listio(LIO_NOWAIT) with a SIGEV_SIGNAL list sigevent
 *   lio-thread    lio_listio(LIO_NOWAIT) with a SIGEV_THREAD list sigevent,
 *                 with a pipe read in the list
 *   burst         256 O_DIRECT reads at once (128 aio_read, 128 in one
 *                 lio_listio(LIO_NOWAIT) without a list notification):
 *                 overflows the kernel ring with KAIO_MAX_EVENTS=8
 * Requests carry SIGEV_NONE, SIGEV_SIGNAL (a real-time signal whose handler
 * only bumps an atomic counter per request) or SIGEV_THREAD notifications.
 *
 * For every submission: accepted (0) or refused (-1; errno must be EAGAIN).
 * Every accepted request must complete (waited for at most 10 s: else HANG)
 * with the right aio_error/aio_return and data, and exactly one notification
 * if it asked for one (none for refused requests); a lio_listio(LIO_NOWAIT)
 * that returned 0 notifies its list exactly once, after all its members are
 * done; an fsync completes only after the writes submitted before it.
 * Prints "WRONG ..."/"HANG ..." lines for each problem and one summary line;
 * with KAIO_FAULT set, a last line "# fault counts: point=calls ..." from
 * kaio_counter("fault:POINT"). Exit 0 only if nothing was wrong and nothing
 * hung; 1 otherwise; 3 from the watchdog (15 s, or $FW_WATCHDOG seconds),
 * which names the phase it was stuck in. Must pass on glibc, on kaio, and on
 * kaio under any KAIO_FAULT rule. A lio_listio(LIO_WAIT) that returns -1 /
 * EINTR (a notification signal ended the wait, as POSIX allows) is fine. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <aio.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAXREQ 1024
#define MAXLIST 16
#define SENTINEL 0x4b41 /* in __error_code before lio_listio: "never touched" */
#define HANG_NS (10ll * 1000000000ll)

enum { S_UNUSED, S_ACCEPTED, S_REFUSED };
enum { V_NONE, V_BUF, V_FILE };

struct req {
    struct aiocb cb;
    const char *what;
    int id;
    int state;
    int refuse_errno;
    int notify;         /* SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD */
    ssize_t want;       /* expected aio_return */
    int vkind;          /* V_BUF: buffer holds pattern; V_FILE: file range does */
    int vfd;            /* V_FILE: descriptor to pread the range back */
    unsigned seed;
    uint64_t pat_off;   /* pattern offset of the first byte */
    int cancelled;      /* aio_cancel said AIO_CANCELED */
    int short_ok;       /* a stream write: a short count is write(2)'s answer
                           when the rest cannot wait (kaio under resource
                           failure: kaio.7, "a request that moved data") */
    int done;           /* result checked */
    int ok;             /* completed with the right result */
    struct req *before[16]; /* fsync: writes submitted before it */
    int nbefore;
};

static struct req reqs[MAXREQ];
static int nreqs;
/* Notifications per request id, then per list (MAXREQ + list id). */
static atomic_int ncount[MAXREQ + MAXLIST];
static atomic_int bad_code;
static int nlists;
static int list_rc[MAXLIST];          /* lio_listio(LIO_NOWAIT) result */

static int accepted, refused, wrong, hung, notify_wrong, bad_refuse;
static atomic_int any_hang;
static _Atomic long long hang_deadline;  /* after a first hang: when to stop waiting */
static int SIG_REQ, SIG_LIST;
static const char *volatile phase = "setup";
static const char *dir;
static int is_kaio;

#define WRONG(...) do { wrong++; printf("WRONG "); printf(__VA_ARGS__); printf("\n"); fflush(stdout); } while (0)

static const char *ename(int e)
{
    static char buf[8][32];
    static int k;
    if (e == 0) return "0";
    if (e == SENTINEL) return "untouched";
    const char *n = strerrorname_np(e);
    if (n) return n;
    char *b = buf[k++ & 7];
    snprintf(b, 32, "E%d", e);
    return b;
}

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000ll + t.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec d = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&d, &d) != 0 && errno == EINTR) {}
}

static unsigned char pat(uint64_t off, unsigned seed)
{
    uint64_t x = off * 0x9E3779B97F4A7C15ull + seed * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return (unsigned char)(x ^ (x >> 17));
}

static void fill_pat(void *buf, size_t len, uint64_t off, unsigned seed)
{
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) p[i] = pat(off + i, seed);
}

static long check_pat(const void *buf, size_t len, uint64_t off, unsigned seed)
{
    const unsigned char *p = buf;
    for (size_t i = 0; i < len; i++)
        if (p[i] != pat(off + i, seed)) return (long)i;
    return -1;
}

static void *abuf(size_t len)
{
    void *p = NULL;
    if (posix_memalign(&p, 4096, len ? len : 4096) != 0) { perror("posix_memalign"); exit(2); }
    memset(p, 0xEE, len);
    return p;
}

/* ---- notifications ---------------------------------------------------- */

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    int v = si->si_value.sival_int;
    if (si->si_code != SI_ASYNCIO) atomic_fetch_add(&bad_code, 1);
    if (v >= 0 && v < MAXREQ + MAXLIST) atomic_fetch_add(&ncount[v], 1);
}

static void on_thread(union sigval v)
{
    if (v.sival_int >= 0 && v.sival_int < MAXREQ + MAXLIST)
        atomic_fetch_add(&ncount[v.sival_int], 1);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "HANG: watchdog: the workload did not finish in time; in phase ";
    (void)!write(1, msg, sizeof msg - 1);
    const char *p = phase;
    (void)!write(1, p, strlen(p));
    (void)!write(1, "\n", 1);
    _exit(3);
}

/* ---- requests --------------------------------------------------------- */

static struct req *new_req(const char *what, int fd, void *buf, size_t len, off_t off, int notify)
{
    if (nreqs >= MAXREQ) { fprintf(stderr, "too many requests\n"); exit(2); }
    struct req *r = &reqs[nreqs];
    memset(r, 0, sizeof *r);
    r->id = nreqs++;
    r->what = what;
    r->cb.aio_fildes = fd;
    r->cb.aio_buf = buf;
    r->cb.aio_nbytes = len;
    r->cb.aio_offset = off;
    r->notify = notify;
    r->want = (ssize_t)len;
    r->cb.aio_sigevent.sigev_notify = notify;
    r->cb.aio_sigevent.sigev_value.sival_int = r->id;
    if (notify == SIGEV_SIGNAL) {
        r->cb.aio_sigevent.sigev_signo = SIG_REQ;
    } else if (notify == SIGEV_THREAD) {
        r->cb.aio_sigevent.sigev_notify_function = on_thread;
        r->cb.aio_sigevent.sigev_notify_attributes = NULL;
    }
    return r;
}

/* The notification kind for the i-th request of a phase. */
static int nk(int i)
{
    static const int k[3] = { SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD };
    return k[i % 3];
}

static void verify_read(struct req *r, uint64_t pat_off, unsigned seed)
{
    r->vkind = V_BUF; r->pat_off = pat_off; r->seed = seed;
}

static void verify_file(struct req *r, int vfd, unsigned seed)
{
    r->vkind = V_FILE; r->vfd = vfd; r->pat_off = (uint64_t)r->cb.aio_offset; r->seed = seed;
}

/* Record a submission's answer. */
static void record(struct req *r, int rc, int e)
{
    if (rc == 0) {
        r->state = S_ACCEPTED;
        accepted++;
        return;
    }
    r->state = S_REFUSED;
    r->refuse_errno = e;
    refused++;
    if (rc != -1 || e != EAGAIN) {
        bad_refuse++;
        printf("WRONG %s #%d: submission returned %d, errno %s (a refusal must be -1/EAGAIN)\n",
               r->what, r->id, rc, ename(e));
        fflush(stdout);
    }
}

static void sub_read(struct req *r) { int rc = aio_read(&r->cb); record(r, rc, errno); }
static void sub_write(struct req *r) { int rc = aio_write(&r->cb); record(r, rc, errno); }
static void sub_fsync(struct req *r, int op)
{
    r->want = 0;
    int rc = aio_fsync(op, &r->cb);
    record(r, rc, errno);
}

/* A request is done: check its result once. */
static void finish(struct req *r)
{
    if (r->done || r->state != S_ACCEPTED) return;
    r->done = 1;
    int e = aio_error(&r->cb);
    ssize_t n = aio_return(&r->cb);
    if (e == EINPROGRESS) { WRONG("%s #%d: finish while in progress", r->what, r->id); return; }
    for (int i = 0; i < r->nbefore; i++) {
        struct req *w = r->before[i];
        if (w->state == S_ACCEPTED && aio_error(&w->cb) == EINPROGRESS)
            WRONG("%s #%d: fsync completed before earlier write %s #%d", r->what, r->id,
                  w->what, w->id);
    }
    if (r->cancelled) {
        if (e != ECANCELED || n != -1)
            WRONG("%s #%d: cancelled (AIO_CANCELED) but aio_error %s, aio_return %zd",
                  r->what, r->id, ename(e), n);
        return;
    }
    if (e != 0 || (r->short_ok ? (n <= 0 || n > r->want) : n != r->want)) {
        WRONG("%s #%d: aio_error %s, aio_return %zd, want 0 / %zd", r->what, r->id, ename(e), n,
              r->want);
        return;
    }
    if (r->vkind == V_BUF) {
        long at = check_pat((const void *)r->cb.aio_buf, (size_t)n, r->pat_off, r->seed);
        if (at >= 0) { WRONG("%s #%d: data differs at byte %ld of %zd", r->what, r->id, at, n); return; }
    } else if (r->vkind == V_FILE) {
        size_t len = r->cb.aio_nbytes;
        void *tmp = abuf(len);
        ssize_t got = pread(r->vfd, tmp, len, (off_t)r->pat_off);
        long at = got == (ssize_t)len ? check_pat(tmp, len, r->pat_off, r->seed) : 0;
        free(tmp);
        if (got != (ssize_t)len || at >= 0) {
            WRONG("%s #%d: written data read back: pread %zd of %zu, differs at %ld", r->what,
                  r->id, got, len, at);
            return;
        }
    }
    r->ok = 1;
}

/* After a first hang, every later wait shares a budget of 3 s in all, so
 * that the rest of the workload still runs and reports within the watchdog. */
static void note_hang(void)
{
    if (!atomic_exchange(&any_hang, 1)) hang_deadline = now_ns() + 3000000000ll;
}

static long long hang_bound(void)
{
    if (!atomic_load(&any_hang)) return HANG_NS;
    long long left = hang_deadline - now_ns();
    return left > 50000000ll ? left : 50000000ll;
}

static void hang(struct req *r)
{
    if (r->done) return;
    r->done = 1;
    hung++;
    note_hang();
    printf("HANG %s #%d: still EINPROGRESS after the wait bound\n", r->what, r->id);
    fflush(stdout);
}

static int pending(struct req *r) { return r->state == S_ACCEPTED && !r->done; }

/* Wait for all of `rs` with aio_suspend on every request still in progress,
 * `slice_ms` at a time; check each as it completes. */
static void wait_suspend(struct req **rs, int n, int slice_ms)
{
    long long end = now_ns() + hang_bound();
    const struct aiocb **l = calloc((size_t)n + 1, sizeof *l);
    for (;;) {
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (!pending(rs[i])) continue;
            if (aio_error(&rs[i]->cb) != EINPROGRESS) finish(rs[i]);
            else l[k++] = &rs[i]->cb;
        }
        if (k == 0) break;
        if (now_ns() > end) {
            for (int i = 0; i < n; i++) if (pending(rs[i])) hang(rs[i]);
            break;
        }
        struct timespec ts = { slice_ms / 1000, (long)(slice_ms % 1000) * 1000000L };
        int rc = aio_suspend(l, k, &ts);
        int e = errno;
        if (rc == 0) {
            int any = 0;
            for (int i = 0; i < k; i++) if (aio_error(l[i]) != EINPROGRESS) any = 1;
            if (!any) WRONG("aio_suspend returned 0 with none of %d requests done", k);
        } else if (e != EAGAIN && e != EINTR) {
            WRONG("aio_suspend: -1 / %s", ename(e));
            sleep_ms(1);
        }
    }
    free(l);
}

/* Wait for one request by polling aio_error. */
static void wait_poll(struct req *r)
{
    if (!pending(r)) return;
    long long end = now_ns() + hang_bound();
    while (aio_error(&r->cb) == EINPROGRESS) {
        if (now_ns() > end) { hang(r); return; }
        sched_yield();
    }
    finish(r);
}

/* ---- files ------------------------------------------------------------ */

static int direct_ok = 1;

/* Create a file of `size` bytes of pattern `seed` (0: zeros), open it with
 * `flags` into *fd and O_RDWR into *vfd (for read-back), then unlink it. */
static void make_file(const char *name, size_t size, unsigned seed, int flags, int *fd, int *vfd)
{
    char path[600];
    snprintf(path, sizeof path, "%s/fw-%s.%d", dir, name, (int)getpid());
    int w = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
    if (w < 0) { perror(path); exit(2); }
    char *buf = malloc(1 << 20);
    for (size_t done = 0; done < size;) {
        size_t n = size - done < (1u << 20) ? size - done : (1u << 20);
        if (seed) fill_pat(buf, n, done, seed); else memset(buf, 0, n);
        if (write(w, buf, n) != (ssize_t)n) { perror("write"); exit(2); }
        done += n;
    }
    free(buf);
    if (fsync(w) != 0) { perror("fsync"); exit(2); }
    (void)posix_fadvise(w, 0, 0, POSIX_FADV_DONTNEED);
    *fd = open(path, flags);
    if (*fd < 0 && (flags & O_DIRECT) && errno == EINVAL) {
        direct_ok = 0;
        *fd = open(path, flags & ~O_DIRECT);
    }
    if (*fd < 0) { perror(path); exit(2); }
    *vfd = w;
    unlink(path);
}

#define MiB (1u << 20)
#define KiB 1024u

static int fdd, fdd_v;       /* direct.dat: 2 MiB, seed 11; writes at 1.5 MiB+ seed 33 */
static int fdc, fdc_v;       /* cold.dat: 1 MiB, seed 22 (not cached) */
static int fdb, fdb_v;       /* bufw.dat: 1 MiB of zeros; writes seed 44 / 55 */

/* ---- phases ----------------------------------------------------------- */

static void phase_direct_read(void)
{
    struct req *rs[16];
    for (int i = 0; i < 16; i++) {
        size_t len = 16 * KiB;
        off_t off = (off_t)((i * 7) % 90) * 16 * KiB;
        rs[i] = new_req("direct-read", fdd, abuf(len), len, off, nk(i));
        verify_read(rs[i], (uint64_t)off, 11);
        sub_read(rs[i]);
    }
    wait_suspend(rs, 16, 50);
}

static void phase_direct_write(void)
{
    struct req *rs[14];
    int n = 0;
    struct req *writes[12];
    int nw = 0;
    for (int i = 0; i < 12; i++) {
        if (i == 8) {
            /* an fdatasync behind the first 8 writes (not waited for) */
            struct req *f = new_req("direct-fdatasync", fdd, NULL, 0, 0, nk(i + 1));
            for (int j = 0; j < nw; j++) f->before[f->nbefore++] = writes[j];
            sub_fsync(f, O_DSYNC);
            rs[n++] = f;
        }
        size_t len = 8 * KiB;
        off_t off = (off_t)(1536 * KiB + (unsigned)i * 16 * KiB);
        void *b = abuf(len);
        fill_pat(b, len, (uint64_t)off, 33);
        struct req *w = new_req("direct-write", fdd, b, len, off, nk(i));
        verify_file(w, fdd_v, 33);
        sub_write(w);
        writes[nw++] = w;
        rs[n++] = w;
    }
    struct req *f = new_req("direct-fsync", fdd, NULL, 0, 0, SIGEV_SIGNAL);
    for (int j = 0; j < nw; j++) f->before[f->nbefore++] = writes[j];
    sub_fsync(f, O_SYNC);
    rs[n++] = f;
    wait_suspend(rs, n, 20);
}

static void phase_cold_read(void)
{
    struct req *rs[8];
    for (int i = 0; i < 8; i++) {
        size_t len = 32 * KiB;
        off_t off = (off_t)i * 96 * KiB;
        rs[i] = new_req("cold-read", fdc, abuf(len), len, off, nk(i + 1));
        verify_read(rs[i], (uint64_t)off, 22);
        sub_read(rs[i]);
    }
    /* one at a time, with short timeouts (some expire) */
    for (int i = 0; i < 8; i++) wait_suspend(&rs[i], 1, 2);
}

static void phase_buf_write(void)
{
    struct req *rs[9];
    for (int i = 0; i < 8; i++) {
        size_t len = 16 * KiB;
        off_t off = (off_t)i * 32 * KiB;
        void *b = abuf(len);
        fill_pat(b, len, (uint64_t)off, 44);
        rs[i] = new_req("buf-write", fdb, b, len, off, nk(i + 2));
        verify_file(rs[i], fdb_v, 44);
        sub_write(rs[i]);
    }
    struct req *f = new_req("buf-fsync", fdb, NULL, 0, 0, SIGEV_THREAD);
    for (int j = 0; j < 8; j++) f->before[f->nbefore++] = rs[j];
    sub_fsync(f, O_SYNC);
    rs[8] = f;
    for (int i = 0; i < 9; i++) wait_poll(rs[i]);
    /* read back what was written, through kaio (page cache) */
    struct req *rb[8];
    int k = 0;
    for (int i = 0; i < 8; i++) {
        if (!rs[i]->ok) continue;
        size_t len = 16 * KiB;
        off_t off = (off_t)i * 32 * KiB;
        rb[k] = new_req("buf-readback", fdb, abuf(len), len, off, nk(i));
        verify_read(rb[k], (uint64_t)off, 44);
        sub_read(rb[k]);
        k++;
    }
    wait_suspend(rb, k, 20);
}

/* A thread that writes `len` bytes of pattern to `fd` after `delay_ms`. */
struct writer { int fd; size_t len; unsigned seed; uint64_t off; int delay_ms; };

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    sleep_ms(w->delay_ms);
    char *b = malloc(w->len);
    fill_pat(b, w->len, w->off, w->seed);
    if (write(w->fd, b, w->len) != (ssize_t)w->len) perror("writer: write");
    free(b);
    return NULL;
}

static void phase_pipe_read(void)
{
    int p[3][2];
    struct req *rs[3];
    for (int i = 0; i < 3; i++) {
        if (pipe(p[i]) != 0) { perror("pipe"); exit(2); }
        rs[i] = new_req("pipe-read", p[i][0], abuf(512), 512, 0, nk(i));
        verify_read(rs[i], (uint64_t)i * 512, 77);
        sub_read(rs[i]);
    }
    /* Nothing can complete yet: a timed aio_suspend must time out. */
    const struct aiocb *l[3];
    int k = 0;
    for (int i = 0; i < 3; i++) if (rs[i]->state == S_ACCEPTED) l[k++] = &rs[i]->cb;
    if (k > 0) {
        struct timespec ts = { 0, 3000000 };
        long long t0 = now_ns();
        int rc = aio_suspend(l, k, &ts);
        int e = errno;
        long long dt = now_ns() - t0;
        if (rc == 0)
            WRONG("pipe-read: aio_suspend returned 0 before any data was written");
        else if (e != EAGAIN && e != EINTR)
            WRONG("pipe-read: aio_suspend with timeout: -1 / %s, want EAGAIN", ename(e));
        else if (e == EAGAIN && dt < 2000000)
            WRONG("pipe-read: aio_suspend timed out after %lld us, timeout 3 ms", dt / 1000);
        for (int i = 0; i < 3; i++)
            if (rs[i]->state == S_ACCEPTED && aio_error(&rs[i]->cb) != EINPROGRESS)
                WRONG("pipe-read #%d: done (%s) before any data was written", rs[i]->id,
                      ename(aio_error(&rs[i]->cb)));
    }
    struct writer w[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (struct writer){ p[i][1], rs[i]->state == S_ACCEPTED ? 512 : 0, 77,
                                (uint64_t)i * 512, 1 + i };
        if (w[i].len) pthread_create(&th[i], NULL, writer_main, &w[i]);
    }
    wait_suspend(rs, 3, 50);
    for (int i = 0; i < 3; i++) if (w[i].len) pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) {
        /* A refused read must not have taken data: the pipe is empty. */
        close(p[i][1]);
        char c;
        if (rs[i]->state == S_REFUSED && read(p[i][0], &c, 1) > 0)
            WRONG("pipe-read #%d: refused but the data went elsewhere", rs[i]->id);
        close(p[i][0]);
    }
}

struct reader { int fd; size_t got; long bad_at; int timed_out; unsigned seed; };

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    sleep_ms(2);
    char b[8192];
    r->bad_at = -1;
    long long end = now_ns() + HANG_NS;
    for (;;) {
        struct pollfd pf = { r->fd, POLLIN, 0 };
        int pr = poll(&pf, 1, 50);
        if (pr == 0) {
            if (now_ns() > end || (atomic_load(&any_hang) && now_ns() > hang_deadline)) {
                r->timed_out = 1;
                return NULL;
            }
            continue;
        }
        if (pr < 0) { if (errno == EINTR) continue; return NULL; }
        ssize_t n = read(r->fd, b, sizeof b);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return NULL;
        long at = check_pat(b, (size_t)n, r->got, r->seed);
        if (at >= 0 && r->bad_at < 0) r->bad_at = (long)r->got + at;
        r->got += (size_t)n;
    }
}

static void phase_pipe_write(void)
{
    int p[2];
    if (pipe(p) != 0) { perror("pipe"); exit(2); }
    size_t len = 96 * KiB;
    void *b = abuf(len);
    fill_pat(b, len, 0, 88);
    struct reader rd = { p[0], 0, -1, 0, 88 };
    pthread_t th;
    pthread_create(&th, NULL, reader_main, &rd);
    struct req *r = new_req("pipe-write", p[1], b, len, 0, SIGEV_SIGNAL);
    r->short_ok = 1;
    sub_write(r);
    wait_suspend(&r, 1, 50);
    close(p[1]);  /* EOF for the reader (kaio's own duplicate is closed at completion) */
    pthread_join(th, NULL);
    close(p[0]);
    size_t want = r->state == S_ACCEPTED ? len : 0;
    ssize_t ret = r->state == S_ACCEPTED && r->done ? aio_return(&r->cb) : -1;
    if (ret > 0 && (size_t)ret < len) want = (size_t)ret;  /* short write: exactly those bytes */
    if (r->state == S_ACCEPTED && !r->done) want = rd.got;  /* hung: reported already */
    if (rd.got != want || rd.bad_at >= 0)
        WRONG("pipe-write #%d (%s): reader got %zu bytes, want %zu; data differs at %ld%s",
              r->id, r->state == S_ACCEPTED ? "accepted" : "refused", rd.got, want, rd.bad_at,
              rd.timed_out ? "; reader saw no EOF" : "");
}

static void phase_cancel(void)
{
    int p[2];
    if (pipe(p) != 0) { perror("pipe"); exit(2); }
    struct req *r1 = new_req("cancel-first", p[0], abuf(100), 100, 0, SIGEV_THREAD);
    struct req *r2 = new_req("cancel-second", p[0], abuf(100), 100, 0, SIGEV_SIGNAL);
    sub_read(r1);
    sub_read(r2);
    if (r2->state == S_ACCEPTED) {
        int c = aio_cancel(p[0], &r2->cb);
        if (c == AIO_CANCELED) {
            r2->cancelled = 1;
            if (aio_error(&r2->cb) != ECANCELED)
                WRONG("cancel-second #%d: AIO_CANCELED but aio_error %s", r2->id,
                      ename(aio_error(&r2->cb)));
        } else if (c == AIO_ALLDONE) {
            if (aio_error(&r2->cb) == EINPROGRESS)
                WRONG("cancel-second #%d: AIO_ALLDONE but in progress", r2->id);
        } else if (c != AIO_NOTCANCELED) {
            WRONG("cancel-second #%d: aio_cancel = %d / %s", r2->id, c, ename(errno));
        }
    }
    /* Feed the accepted, uncancelled reads in order, one chunk each. */
    struct req *order[2] = { r1, r2 };
    uint64_t off = 0;
    for (int i = 0; i < 2; i++) {
        struct req *r = order[i];
        if (r->state != S_ACCEPTED || r->cancelled) continue;
        verify_read(r, off, 99);
        struct writer w = { p[1], 100, 99, off, 1 };
        pthread_t th;
        pthread_create(&th, NULL, writer_main, &w);
        wait_suspend(&r, 1, 20);
        pthread_join(th, NULL);
        off += 100;
    }
    if (r2->cancelled) wait_suspend(&r2, 1, 20);
    close(p[1]);
    close(p[0]);
}

/* Classify the entries of a lio_listio by its result and their aiocbs. With
 * -1 (EAGAIN, EIO; EINTR for LIO_WAIT, when a signal ended the wait), an
 * entry untouched or with EAGAIN was refused, any other was accepted. */
static void lio_entries_after(struct req **rs, int n, int rc, int e, int wait, const char *what)
{
    for (int i = 0; i < n; i++) {
        struct req *r = rs[i];
        int st = aio_error(&r->cb);
        if (rc == 0) {
            r->state = S_ACCEPTED;
            accepted++;
            if (st == SENTINEL) WRONG("%s #%d: lio_listio returned 0, entry untouched", what, r->id);
            continue;
        }
        if (st == SENTINEL || st == EAGAIN) {
            /* refused (EAGAIN may also be a completion with EAGAIN: then it
             * gets a notification, which the final check reports) */
            r->state = S_REFUSED;
            r->refuse_errno = st;
            refused++;
        } else {
            r->state = S_ACCEPTED;
            accepted++;
        }
    }
    if (rc != 0 && e != EAGAIN && e != EIO && !(wait && e == EINTR)) {
        bad_refuse++;
        printf("WRONG %s: lio_listio -1 / %s (want EAGAIN or EIO%s)\n", what, ename(e),
               wait ? " or EINTR" : "");
    }
}

static struct req *lio_entry(const char *what, int op, int fd, size_t len, off_t off, int notify)
{
    void *b = abuf(len);
    struct req *r = new_req(what, fd, b, len, off, notify);
    r->cb.aio_lio_opcode = op;
    r->cb.__error_code = SENTINEL;
    return r;
}

/* lio_listio(LIO_WAIT) of O_DIRECT reads without any notification, first
 * of all (kaio's reaper thread not started yet). */
static void phase_lio_plain(const char *what)
{
    struct req *rs[4];
    struct aiocb *l[4];
    for (int i = 0; i < 4; i++) {
        off_t off = (off_t)(300 + i * 2) * 4 * KiB;
        rs[i] = lio_entry(what, LIO_READ, fdd, 4 * KiB, off, SIGEV_NONE);
        verify_read(rs[i], (uint64_t)off, 11);
        l[i] = &rs[i]->cb;
    }
    int rc = lio_listio(LIO_WAIT, l, 4, NULL);
    int e = errno;
    lio_entries_after(rs, 4, rc, e, 1, what);
    for (int i = 0; i < 4 && !(rc != 0 && e == EINTR); i++)
        if (rs[i]->state == S_ACCEPTED && aio_error(&rs[i]->cb) == EINPROGRESS)
            WRONG("lio-plain #%d: lio_listio(LIO_WAIT) returned %d with the entry in progress",
                  rs[i]->id, rc);
    wait_suspend(rs, 4, 20);
}

static void phase_lio_wait(void)
{
    struct req *rs[8];
    int n = 0;
    for (int i = 0; i < 4; i++) {
        off_t off = (off_t)(100 + i * 3) * 4 * KiB;
        rs[n] = lio_entry("lio-wait-direct-read", LIO_READ, fdd, 8 * KiB, off, nk(i));
        verify_read(rs[n], (uint64_t)off, 11);
        n++;
    }
    for (int i = 0; i < 2; i++) {
        off_t off = (off_t)(800 + i * 64) * KiB;   /* not read before: cold */
        rs[n] = lio_entry("lio-wait-cold-read", LIO_READ, fdc, 16 * KiB, off, nk(i + 1));
        verify_read(rs[n], (uint64_t)off, 22);
        n++;
    }
    for (int i = 0; i < 2; i++) {
        off_t off = (off_t)(512 + i * 64) * KiB;
        rs[n] = lio_entry("lio-wait-buf-write", LIO_WRITE, fdb, 16 * KiB, off, nk(i + 2));
        fill_pat((void *)rs[n]->cb.aio_buf, 16 * KiB, (uint64_t)off, 55);
        verify_file(rs[n], fdb_v, 55);
        n++;
    }
    struct aiocb *l[8];
    for (int i = 0; i < n; i++) l[i] = &rs[i]->cb;
    int rc = lio_listio(LIO_WAIT, l, n, NULL);
    int e = errno;
    lio_entries_after(rs, n, rc, e, 1, "lio-wait");
    int failed = 0, intr = rc != 0 && e == EINTR;
    for (int i = 0; i < n; i++) {
        if (rs[i]->state != S_ACCEPTED) { failed = 1; continue; }
        int st = aio_error(&rs[i]->cb);
        if (st == EINPROGRESS && intr) continue;
        if (st == EINPROGRESS)
            WRONG("lio-wait #%d: lio_listio(LIO_WAIT) returned %d with the entry in progress",
                  rs[i]->id, rc);
        else if (st != 0) failed = 1;
    }
    if (rc == 0 && failed) WRONG("lio-wait: lio_listio(LIO_WAIT) = 0 with a failed entry");
    if (rc != 0 && e == EIO && !failed)
        WRONG("lio-wait: lio_listio(LIO_WAIT) = -1/EIO but every entry succeeded");
    wait_suspend(rs, n, 20);
}

static void lio_nowait(const char *what, int notify, int with_pipe)
{
    struct req *rs[8];
    int n = 0;
    for (int i = 0; i < 4; i++) {
        off_t off = (off_t)(200 + i * 5) * 4 * KiB;
        rs[n] = lio_entry(what, LIO_READ, fdd, 4 * KiB, off, nk(i + 1));
        verify_read(rs[n], (uint64_t)off, 11);
        n++;
    }
    {
        off_t off = (off_t)(900 + (with_pipe ? 0 : 40)) * KiB;
        rs[n] = lio_entry(what, LIO_READ, fdc, 16 * KiB, off, nk(n));
        verify_read(rs[n], (uint64_t)off, 22);
        n++;
    }
    int p[2] = { -1, -1 };
    if (with_pipe) {
        if (pipe(p) != 0) { perror("pipe"); exit(2); }
        rs[n] = lio_entry(what, LIO_READ, p[0], 256, 0, SIGEV_THREAD);
        verify_read(rs[n], 0, 123);
        n++;
    }
    int lid = nlists++;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = notify;
    sev.sigev_value.sival_int = MAXREQ + lid;
    if (notify == SIGEV_SIGNAL) sev.sigev_signo = SIG_LIST;
    else sev.sigev_notify_function = on_thread;
    struct aiocb *l[8];
    for (int i = 0; i < n; i++) l[i] = &rs[i]->cb;
    int rc = lio_listio(LIO_NOWAIT, l, n, &sev);
    int e = errno;
    list_rc[lid] = rc;
    lio_entries_after(rs, n, rc, e, 0, what);
    if (with_pipe) {
        struct req *pr = rs[n - 1];
        struct writer w = { p[1], 256, 123, 0, 2 };
        pthread_t th;
        int started = pr->state == S_ACCEPTED && pthread_create(&th, NULL, writer_main, &w) == 0;
        if (rc == 0) {
            /* The list notification comes after every member. */
            long long end = now_ns() + hang_bound();
            while (atomic_load(&ncount[MAXREQ + lid]) == 0 && now_ns() < end) sleep_ms(1);
            if (atomic_load(&ncount[MAXREQ + lid]) == 0) {
                printf("HANG %s: no list notification in 10 s\n", what);
                note_hang();
                hung++;
            } else {
                for (int i = 0; i < n; i++)
                    if (rs[i]->state == S_ACCEPTED && aio_error(&rs[i]->cb) == EINPROGRESS)
                        WRONG("%s #%d: list notified while the entry is in progress", what,
                              rs[i]->id);
            }
        }
        wait_suspend(rs, n, 20);
        if (started) pthread_join(th, NULL);
        close(p[0]);
        close(p[1]);
    } else {
        if (rc == 0) {
            long long end = now_ns() + hang_bound();
            while (atomic_load(&ncount[MAXREQ + lid]) == 0 && now_ns() < end) sleep_ms(1);
            if (atomic_load(&ncount[MAXREQ + lid]) == 0) {
                printf("HANG %s: no list notification in 10 s\n", what);
                note_hang();
                hung++;
            } else {
                for (int i = 0; i < n; i++)
                    if (rs[i]->state == S_ACCEPTED && aio_error(&rs[i]->cb) == EINPROGRESS)
                        WRONG("%s #%d: list notified while the entry is in progress", what,
                              rs[i]->id);
            }
        }
        wait_suspend(rs, n, 20);
    }
}

static void phase_burst(void)
{
    enum { SINGLE = 128, LISTED = 128, BS = 4096 };
    struct req *rs[SINGLE + LISTED];
    int n = 0;
    for (int i = 0; i < SINGLE; i++) {
        off_t off = (off_t)i * BS;
        int notify = i % 8 == 1 ? SIGEV_SIGNAL : i % 8 == 5 ? SIGEV_THREAD : SIGEV_NONE;
        rs[n] = new_req("burst-read", fdd, abuf(BS), BS, off, notify);
        verify_read(rs[n], (uint64_t)off, 11);
        sub_read(rs[n]);
        n++;
    }
    struct aiocb *l[LISTED];
    for (int i = 0; i < LISTED; i++) {
        off_t off = (off_t)(SINGLE + i) * BS;
        int notify = i % 8 == 3 ? SIGEV_SIGNAL : i % 8 == 7 ? SIGEV_THREAD : SIGEV_NONE;
        rs[n] = lio_entry("burst-lio-read", LIO_READ, fdd, BS, off, notify);
        verify_read(rs[n], (uint64_t)off, 11);
        l[i] = &rs[n]->cb;
        n++;
    }
    /* no list notification: only completions flush what the ring refused */
    int rc = lio_listio(LIO_NOWAIT, l, LISTED, NULL);
    int e = errno;
    lio_entries_after(&rs[SINGLE], LISTED, rc, e, 0, "burst-lio");
    wait_suspend(rs, n, 50);
}

/* ---- final checks ----------------------------------------------------- */

static void check_notifications(void)
{
    /* Wait (bounded) for the notifications still due, then a little longer
     * for duplicates. */
    long long end = now_ns() + hang_bound();
    for (;;) {
        int missing = 0;
        for (int i = 0; i < nreqs; i++)
            if (reqs[i].state == S_ACCEPTED && reqs[i].done && reqs[i].notify != SIGEV_NONE &&
                atomic_load(&ncount[i]) == 0)
                missing++;
        for (int l = 0; l < nlists; l++)
            if (list_rc[l] == 0 && atomic_load(&ncount[MAXREQ + l]) == 0) missing++;
        if (missing == 0 || now_ns() > end) break;
        sleep_ms(1);
    }
    sleep_ms(20);
    for (int i = 0; i < nreqs; i++) {
        struct req *r = &reqs[i];
        int c = atomic_load(&ncount[i]);
        int want = r->state == S_ACCEPTED && r->notify != SIGEV_NONE ? 1 : 0;
        if (r->state == S_ACCEPTED && !r->done) continue;  /* hung: reported */
        if (c != want) {
            notify_wrong++;
            printf("WRONG %s #%d (%s, %s): %d notifications, want %d\n", r->what, r->id,
                   r->state == S_ACCEPTED ? "accepted" : "refused",
                   r->notify == SIGEV_SIGNAL ? "SIGEV_SIGNAL" :
                   r->notify == SIGEV_THREAD ? "SIGEV_THREAD" : "SIGEV_NONE", c, want);
        }
    }
    for (int l = 0; l < nlists; l++) {
        int c = atomic_load(&ncount[MAXREQ + l]);
        if ((list_rc[l] == 0 && c != 1) || (list_rc[l] != 0 && c > 1)) {
            notify_wrong++;
            printf("WRONG list %d (lio_listio = %d): %d list notifications, want %s\n", l,
                   list_rc[l], c, list_rc[l] == 0 ? "1" : "0 or 1");
        }
    }
    if (atomic_load(&bad_code)) {
        notify_wrong++;
        printf("WRONG %d signals with si_code != SI_ASYNCIO\n", atomic_load(&bad_code));
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, on_alarm);
    /* The watchdog (seconds; FW_WATCHDOG overrides): 10 s for a first hang,
     * then 3 s for everything else that is stuck, and some slack. */
    alarm(getenv("FW_WATCHDOG") ? (unsigned)atoi(getenv("FW_WATCHDOG")) : 15);
    signal(SIGPIPE, SIG_IGN);
    dir = getenv("KAIO_WORK");
    if (!dir || !*dir) dir = getenv("KAIO_TEST_DIR");
    if (!dir || !*dir) dir = ".";
    SIG_REQ = SIGRTMIN + 3;
    SIG_LIST = SIGRTMIN + 4;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIG_REQ, &sa, NULL);
    sigaction(SIG_LIST, &sa, NULL);

    void *sym = dlsym(RTLD_DEFAULT, "aio_read");
    Dl_info di;
    memset(&di, 0, sizeof di);
    if (sym && dladdr(sym, &di) && di.dli_fname && strstr(di.dli_fname, "libkaio")) is_kaio = 1;

    make_file("direct", 2 * MiB, 11, O_RDWR | O_DIRECT, &fdd, &fdd_v);
    make_file("cold", 1 * MiB, 22, O_RDONLY, &fdc, &fdc_v);
    make_file("bufw", 1 * MiB, 0, O_RDWR, &fdb, &fdb_v);

    long long t0 = now_ns();
    phase = "lio-plain-first"; phase_lio_plain("lio-plain-first");
    phase = "direct-read"; phase_direct_read();
    phase = "lio-plain"; phase_lio_plain("lio-plain");
    phase = "direct-write"; phase_direct_write();
    phase = "cold-read"; phase_cold_read();
    phase = "buf-write"; phase_buf_write();
    phase = "pipe-read"; phase_pipe_read();
    phase = "pipe-write"; phase_pipe_write();
    phase = "cancel"; phase_cancel();
    phase = "lio-wait"; phase_lio_wait();
    phase = "lio-signal"; lio_nowait("lio-signal", SIGEV_SIGNAL, 0);
    phase = "lio-thread"; lio_nowait("lio-thread", SIGEV_THREAD, 1);
    phase = "burst"; phase_burst();
    phase = "notifications"; check_notifications();
    long long dt = now_ns() - t0;

    const char *fault = getenv("KAIO_FAULT");
    printf("fault_workload: %s accepted %d refused %d wrong %d hung %d notifications-wrong %d "
           "bad-refusals %d (backend %s%s%s, O_DIRECT %s, %lld ms)\n",
           wrong || hung || notify_wrong || bad_refuse ? "FAIL" : "ok", accepted, refused, wrong,
           hung, notify_wrong, bad_refuse, is_kaio ? "kaio" : "glibc",
           fault ? ", KAIO_FAULT=" : "", fault ? fault : "", direct_ok ? "yes" : "no", dt / 1000000);
    if (fault && is_kaio) {
        unsigned long long (*counter)(const char *) =
            (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
        if (counter)
            printf("# fault counts: io_setup=%llu io_submit=%llu io_getevents=%llu thread=%llu "
                   "alloc=%llu\n",
                   counter("fault:io_setup"), counter("fault:io_submit"),
                   counter("fault:io_getevents"), counter("fault:thread"), counter("fault:alloc"));
    }
    fflush(stdout);
    return wrong || hung || notify_wrong || bad_refuse ? 1 : 0;
}
