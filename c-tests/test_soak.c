/* Data integrity soak. SOAK_THREADS threads (default 8) each keep up to 64
 * requests in flight for SOAK_SECONDS (default 10): aio_read, aio_write,
 * aio_fsync, lio_listio batches (LIO_WAIT and LIO_NOWAIT, with NULL and
 * LIO_NOP entries) on shared files (one fd used by every thread; each
 * thread owns a disjoint range of its blocks) and private files, each kind
 * once buffered and once O_DIRECT -- never both on one file while requests
 * run (with both on one file, a run of an early version got "Page cache
 * invalidation failure on direct I/O" from the kernel and EIO from a later
 * fsync; not reproduced since, cause not pinned down); aio_read of a pipe
 * fed by a writer thread and aio_write of a pipe drained by a reader
 * thread; under kaio, now and then an aio_cancel of a request or of a whole
 * private fd. (Not on glibc: its aio_cancel of the first request queued on
 * an fd while it waits for a free worker thread leaves the requests behind
 * it queued forever -- __aio_remove_request marks the next one runnable
 * but never puts it on the run list -- and the soak hangs.) KAIO_MAX_EVENTS
 * is 32 unless set (the program re-executes itself), so kaio's queue for a
 * full kernel ring is used.
 *
 * Every 4 KiB block is self-describing (magic, file id, offset, generation,
 * writer, checksum over the rest). The owner never has a write of a block in
 * flight together with any other request on it, so a read must return
 * exactly the generation of the last write that completed (a cancelled
 * write changes nothing). Pipe streams are checked byte by byte: the reads
 * of one pipe complete in call order, the writes land in call order.
 *
 * Asserted: every accepted request goes from EINPROGRESS to a final
 * aio_error exactly once and stays final; each notifying request
 * (SIGEV_SIGNAL with a real-time signal, SIGEV_THREAD) gets exactly one
 * notification, after its result is visible, with SI_ASYNCIO; each
 * LIO_NOWAIT list sigevent fires once, after every member is done; an
 * aio_fsync completes after this thread's earlier writes on that fd; no data
 * mismatch, also in a final pass over every file (read through both a
 * buffered and an O_DIRECT fd once all I/O stopped). Under kaio only, a child
 * forked mid-run does AIO of its own (glibc's aio hangs in such a child)
 * and the parent loses nothing. Also: nothing writes to an aiocb after its
 * request was reaped; an aio_suspend that times out after 1 s did not miss a
 * request whose notification had run long before. A call blocked for
 * SOAK_HANG_SECONDS (20) or requests still in flight 20 s after the end are
 * reported with their state. The transcript is "soak: ..." lines only; the
 * counts are NOTEs. */
#include "harness.h"
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#define BS 4096
#define MAXB 4                       /* blocks per file request */
#define SLOTS 64                     /* requests in flight per thread */
#define BPT 256                      /* blocks a thread owns in each file */
#define NBATCH 6
#define LIOMAX 8
#define PIPE_IO 16384
#define MAXTHR 64
#define MAGIC 0x4b41494f534f414bull  /* "KAIOSOAK" */

enum { K_READ = 1, K_WRITE, K_FSYNC, K_PREAD, K_PWRITE };
static const char *const kind_name[] = { "-", "file read", "file write", "fsync", "pipe read", "pipe write" };
static const char *notify_name(int n)
{
    return n == SIGEV_NONE ? "SIGEV_NONE" : n == SIGEV_SIGNAL ? "SIGEV_SIGNAL" : n == SIGEV_THREAD ? "SIGEV_THREAD" : "?";
}
/* File kinds: bit 0 O_DIRECT, bit 1 private (else shared by all threads). */
enum { FS_SHARED_BUF, FS_SHARED_DIO, FS_PRIV_BUF, FS_PRIV_DIO };
enum { S_FREE, S_INFLIGHT, S_DONE };
enum { W_LOOP, W_SUBMIT, W_LIO_WAIT, W_LIO_NOWAIT, W_SUSPEND, W_CANCEL, W_FORK, W_REAP };
static const char *const where_name[] = { "loop", "submit", "lio_listio(LIO_WAIT)",
    "lio_listio(LIO_NOWAIT)", "aio_suspend", "aio_cancel", "fork", "reap" };
#define WHERE(t, w) __atomic_store_n(&(t)->where, (w), __ATOMIC_SEQ_CST)

struct slot {
    struct aiocb cb, snap;            /* snap: the aiocb when released */
    unsigned char *buf;
    int kind, state, fs, nblk, blk0, notify, batch, cancelled, consumed;
    uint64_t gens[MAXB], seq, order;
    uint64_t nword;                  /* (seq << 8) | notifications seen */
    double notified_at;              /* when the first notification ran */
    int final_err;
    ssize_t final_ret;
};
struct batch {
    int used, live, notify, mem[LIOMAX], nmem;
    uint64_t nword, seq;
};
struct blk { uint64_t done, issued; int readers, writer, unknown; };
struct thr {
    int idx, fd[4];                  /* per file kind FS_* */
    uint64_t rng, seqctr, order;
    struct slot s[SLOTS];
    struct batch b[NBATCH];
    struct blk blk[4][BPT];
    int fifo[SLOTS], fhead, ftail, preads, pwrites, fsyncs;
    int pa[2], pb[2];                /* pa: writer thread -> aio_read; pb: aio_write -> reader */
    pthread_t pa_thr, pb_thr, thr;
    uint64_t pa_wpos, pa_rpos, pb_wpos, pb_rpos, pb_bad;
    long long sub[8], completed, notif_expected, notif_received;
    long long cancel_res[3], cancel_fd, lio_eintr, lio_wait, lio_nowait;
    long long data_ok, stuck, long_waits, long_timeouts, lost_wakeups;
    /* For the main thread's hang detector: last loop start (ms), where the
     * thread is (W_*), the members of the lio_listio in progress. */
    uint64_t beat_ms;
    int where, lio_mem[LIOMAX], lio_n, done;
};

static struct thr *T;
static int nthreads, seconds, sig_req, fork_done, hang_s;
static pid_t fork_pid;                /* the child while the fork test waits for it */
static int shared_fd[2];            /* FS_SHARED_BUF, FS_SHARED_DIO */
static const char *fork_path;
static double t_start;
static pthread_attr_t small_attr;
static pthread_mutex_t fail_mu = PTHREAD_MUTEX_INITIALIZER;
static int fail_printed;
/* Counted in notification context (signal handlers, notify threads). */
static long long n_stray, n_dup, n_early, n_badcode, n_list_early, n_signals, n_threads_run;

#define TCHECK(cond, ...) do { if (!(cond)) { pthread_mutex_lock(&fail_mu); \
    if (fail_printed++ < 40) { CHECK(cond, __VA_ARGS__); } else t_failures++; \
    pthread_mutex_unlock(&fail_mu); } } while (0)
#define ADD(p) __atomic_add_fetch(&(p), 1, __ATOMIC_SEQ_CST)
#define LOAD(p) __atomic_load_n(&(p), __ATOMIC_SEQ_CST)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rnd(struct thr *t)
{
    t->rng ^= t->rng >> 12; t->rng ^= t->rng << 25; t->rng ^= t->rng >> 27;
    return t->rng * 0x2545F4914F6CDD1Dull;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* The file id and first block number of thread ti's blocks in kind fs. */
static uint32_t fs_fid(int ti, int fs) { return fs < 2 ? (uint32_t)fs : 2 + 2 * (uint32_t)ti + (fs & 1); }
static uint64_t fs_base(int ti, int fs) { return fs < 2 ? (uint64_t)ti * BPT : 0; }

/* Block `blkno` of file `fid`, generation `gen`: header words 0-4
 * (magic, fid | writer << 32, offset, gen, checksum), then payload. */
static void fill_block(unsigned char *p, uint32_t fid, uint64_t blkno, uint64_t gen, uint32_t writer)
{
    uint64_t *w = (uint64_t *)p, h = 1469598103934665603ull;
    w[0] = MAGIC; w[1] = fid | (uint64_t)writer << 32; w[2] = blkno * BS; w[3] = gen;
    uint64_t x = mix(fid * 0x100000001ull ^ mix(blkno) ^ mix(gen + 77));
    for (int i = 5; i < BS / 8; i++) w[i] = mix(x + i);
    for (int i = 0; i < BS / 8; i++) if (i != 4) h = (h ^ w[i]) * 1099511628211ull;
    w[4] = h;
}

/* 1 if the block is a valid block of (fid, blkno) of generation `gen`
 * (any generation if gen == UINT64_MAX); else describes it in `why`. */
static int check_block(const unsigned char *p, uint32_t fid, uint64_t blkno, uint64_t gen,
                       char *why, size_t wl)
{
    const uint64_t *w = (const uint64_t *)p;
    unsigned char want[BS] __attribute__((aligned(8)));
    uint64_t g = gen == UINT64_MAX ? w[3] : gen;
    fill_block(want, fid, blkno, g, (uint32_t)(w[1] >> 32));
    if (memcmp(want, p, BS) == 0) return 1;
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < BS / 8; i++) if (i != 4) h = (h ^ w[i]) * 1099511628211ull;
    int diff = 0;
    while (diff < BS && want[diff] == p[diff]) diff++;
    snprintf(why, wl, "file %u block %llu want gen %llu: found magic %s fid %u off %llu gen %llu "
             "writer %u cksum %s, first bad byte %d",
             fid, (unsigned long long)blkno, (unsigned long long)g, w[0] == MAGIC ? "ok" : "BAD",
             (unsigned)(uint32_t)w[1], (unsigned long long)w[2], (unsigned long long)w[3],
             (unsigned)(w[1] >> 32), h == w[4] ? "ok" : "BAD", diff);
    return 0;
}

/* --- notifications ------------------------------------------------------- */
/* Token: thread (bits 57-63), batch flag (56), index (48-55), seq (0-47). */
static uint64_t token(int ti, int batch, int idx, uint64_t seq)
{
    return (uint64_t)ti << 57 | (uint64_t)batch << 56 | (uint64_t)idx << 48 | seq;
}

/* In a signal handler, glibc's aio_error is unusable (it takes a mutex the
 * interrupted thread may hold): read the error word both backends publish. */
static int err_word(const struct aiocb *cb, int in_signal)
{
    return in_signal ? __atomic_load_n(&cb->__error_code, __ATOMIC_ACQUIRE) : aio_error(cb);
}

static void got_token(uint64_t tok, int in_signal)
{
    int ti = (int)(tok >> 57), isb = (int)(tok >> 56) & 1, idx = (int)(tok >> 48) & 0xff;
    uint64_t seq = tok & ((1ull << 48) - 1);
    if (ti >= nthreads || idx >= (isb ? NBATCH : SLOTS)) { ADD(n_stray); return; }
    struct thr *t = &T[ti];
    uint64_t *word = isb ? &t->b[idx].nword : &t->s[idx].nword;
    uint64_t w = LOAD(*word);
    for (;;) {
        if (w >> 8 != seq) { ADD(n_stray); return; }
        if ((w & 0xff) == 0) {
            /* First notification: the result must already be visible. */
            if (isb) {
                struct batch *b = &t->b[idx];
                for (int i = 0; i < b->nmem; i++)
                    if (err_word(&t->s[b->mem[i]].cb, in_signal) == EINPROGRESS) { ADD(n_list_early); break; }
            } else if (err_word(&t->s[idx].cb, in_signal) == EINPROGRESS) {
                ADD(n_early);
            }
        }
        if ((w & 0xff) == 0 && !isb) t->s[idx].notified_at = now_s();
        if (__atomic_compare_exchange_n(word, &w, w + 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            break;
    }
    if ((w & 0xff) != 0) ADD(n_dup);
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    int e = errno;
    ADD(n_signals);
    if (si->si_code != SI_ASYNCIO) ADD(n_badcode);
    got_token((uint64_t)(uintptr_t)si->si_value.sival_ptr, 1);
    errno = e;
}

static void on_thread(union sigval v)
{
    ADD(n_threads_run);
    got_token((uint64_t)(uintptr_t)v.sival_ptr, 0);
}

static int pick_notify(struct thr *t, struct sigevent *ev, uint64_t tok)
{
    static const int kinds[10] = { SIGEV_NONE, SIGEV_NONE, SIGEV_NONE, SIGEV_NONE, SIGEV_NONE,
                                   SIGEV_SIGNAL, SIGEV_SIGNAL, SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_THREAD };
    int k = kinds[rnd(t) % 10];
    memset(ev, 0, sizeof *ev);
    ev->sigev_notify = k;
    ev->sigev_value.sival_ptr = (void *)(uintptr_t)tok;
    if (k == SIGEV_SIGNAL) ev->sigev_signo = sig_req;
    if (k == SIGEV_THREAD) {
        ev->sigev_notify_function = on_thread;
        ev->sigev_notify_attributes = rnd(t) & 1 ? &small_attr : NULL;
    }
    return k;
}

/* --- submission ---------------------------------------------------------- */
static int free_slot(struct thr *t)
{
    for (int i = 0; i < SLOTS; i++) {
        struct slot *s = &t->s[i];
        if (s->state != S_FREE) continue;
        if (s->kind) {
            /* Nothing may touch an aiocb after its request completed. */
            int e = aio_error(&s->cb);
            TCHECK(e == s->final_err, "thread %d slot %d: aio_error changed after completion: %s -> %s",
                   t->idx, i, errname(s->final_err), errname(e));
            TCHECK(memcmp(&s->snap, &s->cb, sizeof s->cb) == 0,
                   "thread %d slot %d: the aiocb was modified after its request was released", t->idx, i);
        }
        return i;
    }
    return -1;
}

/* Prepare slot i as a read or write of 1..MAXB owned blocks: 1 on success. */
static int prep_file(struct thr *t, int i, int write)
{
    struct slot *s = &t->s[i];
    int fs = rnd(t) % 4, n = 1 + rnd(t) % MAXB, b0 = -1;
    for (int tries = 0; tries < 4 && b0 < 0; tries++) {
        int c = rnd(t) % (BPT - n + 1), ok = 1;
        for (int k = 0; k < n; k++) {
            struct blk *b = &t->blk[fs][c + k];
            if (b->writer || (write && b->readers)) ok = 0;
        }
        if (ok) b0 = c;
    }
    if (b0 < 0) return 0;
    memset(&s->cb, 0, sizeof s->cb);
    s->kind = write ? K_WRITE : K_READ;
    s->fs = fs; s->nblk = n; s->blk0 = b0; s->batch = -1; s->cancelled = 0;
    uint64_t base = fs_base(t->idx, fs);
    uint32_t fid = fs_fid(t->idx, fs);
    for (int k = 0; k < n; k++) {
        struct blk *b = &t->blk[fs][b0 + k];
        if (write) {
            s->gens[k] = ++b->issued;
            b->writer = 1;
            fill_block(s->buf + k * BS, fid, base + b0 + k, s->gens[k], t->idx);
        } else {
            b->readers++;
        }
    }
    if (!write) memset(s->buf, 0xA5, (size_t)n * BS);   /* a read that moves nothing fails */
    s->cb.aio_fildes = t->fd[fs];
    s->cb.aio_buf = s->buf;
    s->cb.aio_nbytes = (size_t)n * BS;
    s->cb.aio_offset = (off_t)((base + b0) * BS);
    s->cb.aio_lio_opcode = write ? LIO_WRITE : LIO_READ;
    return 1;
}

/* Undo prep_file for a request that was not accepted. */
static void unprep(struct thr *t, struct slot *s)
{
    for (int k = 0; k < s->nblk; k++) {
        struct blk *b = &t->blk[s->fs][s->blk0 + k];
        if (s->kind == K_WRITE) b->writer = 0; else b->readers--;
    }
    s->kind = 0;
}

static void arm(struct thr *t, int i)
{
    struct slot *s = &t->s[i];
    s->seq = ++t->seqctr;
    __atomic_store_n(&s->nword, s->seq << 8, __ATOMIC_SEQ_CST);
    s->notify = pick_notify(t, &s->cb.aio_sigevent, token(t->idx, 0, i, s->seq));
    s->order = ++t->order;
    s->consumed = 0;
}

static void accepted(struct thr *t, int i)
{
    struct slot *s = &t->s[i];
    s->state = S_INFLIGHT;
    t->sub[s->kind]++;
    if (s->notify != SIGEV_NONE) t->notif_expected++;
}

static void submit_one(struct thr *t)
{
    int i = free_slot(t);
    if (i < 0) return;
    struct slot *s = &t->s[i];
    unsigned r = rnd(t) % 100;
    if (r < 60) {                                   /* file read / write */
        int write = r >= 30;
        if (!prep_file(t, i, write)) return;
        arm(t, i);
        int rc = write ? aio_write(&s->cb) : aio_read(&s->cb);
        TCHECK(rc == 0, "thread %d: aio_%s: %s", t->idx, write ? "write" : "read", errname(errno));
        if (rc != 0) { unprep(t, s); return; }
        accepted(t, i);
    } else if (r < 63) {                            /* fsync */
        if (t->fsyncs) return;
        memset(&s->cb, 0, sizeof s->cb);
        s->kind = K_FSYNC; s->batch = -1; s->cancelled = 0; s->nblk = 0;
        s->cb.aio_fildes = t->fd[rnd(t) % 4];
        arm(t, i);
        int op = rnd(t) & 1 ? O_SYNC : O_DSYNC;
        int rc = aio_fsync(op, &s->cb);
        TCHECK(rc == 0, "thread %d: aio_fsync: %s", t->idx, errname(errno));
        if (rc != 0) { s->kind = 0; return; }
        t->fsyncs++;
        accepted(t, i);
    } else if (r < 80) {                            /* pipe read */
        if (t->preads >= 4) return;
        memset(&s->cb, 0, sizeof s->cb);
        s->kind = K_PREAD; s->batch = -1; s->cancelled = 0; s->nblk = 0;
        s->cb.aio_fildes = t->pa[0];
        s->cb.aio_buf = s->buf;
        s->cb.aio_nbytes = 1 + rnd(t) % PIPE_IO;
        memset(s->buf, 0xA5, s->cb.aio_nbytes);
        arm(t, i);
        int rc = aio_read(&s->cb);
        TCHECK(rc == 0, "thread %d: aio_read(pipe): %s", t->idx, errname(errno));
        if (rc != 0) { s->kind = 0; return; }
        t->preads++;
        t->fifo[t->ftail++ % SLOTS] = i;
        accepted(t, i);
    } else {                                        /* pipe write */
        if (t->pwrites >= 4) return;
        memset(&s->cb, 0, sizeof s->cb);
        s->kind = K_PWRITE; s->batch = -1; s->cancelled = 0; s->nblk = 0;
        s->cb.aio_fildes = t->pb[1];
        s->cb.aio_buf = s->buf;
        s->cb.aio_nbytes = 1 + rnd(t) % PIPE_IO;
        fill_pat(s->buf, s->cb.aio_nbytes, t->pb_wpos, 2000 + t->idx);
        arm(t, i);
        int rc = aio_write(&s->cb);
        TCHECK(rc == 0, "thread %d: aio_write(pipe): %s", t->idx, errname(errno));
        if (rc != 0) { s->kind = 0; return; }
        t->pb_wpos += s->cb.aio_nbytes;
        t->pwrites++;
        accepted(t, i);
    }
}

static void submit_lio(struct thr *t)
{
    int wait = rnd(t) % 3 == 0, bi = -1;
    if (!wait) {
        for (int k = 0; k < NBATCH; k++) if (!t->b[k].used) { bi = k; break; }
        if (bi < 0) return;
    }
    int want = 2 + rnd(t) % (LIOMAX - 1), mem[LIOMAX], n = 0;
    struct aiocb *list[LIOMAX + 2];
    struct aiocb nop;
    int nent = 0;
    memset(&nop, 0, sizeof nop);
    nop.aio_lio_opcode = LIO_NOP;
    while (n < want) {
        int i = free_slot(t);
        if (i < 0 || !prep_file(t, i, rnd(t) & 1)) break;
        t->s[i].state = S_DONE + 1;                 /* reserved while building */
        mem[n++] = i;
    }
    if (n == 0) return;
    for (int k = 0; k < n; k++) {
        struct slot *s = &t->s[mem[k]];
        s->state = S_FREE;
        arm(t, mem[k]);
        s->batch = bi;
        if (k == 1 && rnd(t) % 4 == 0) list[nent++] = NULL;
        if (k == 1 && rnd(t) % 4 == 0) list[nent++] = &nop;
        list[nent++] = &s->cb;
    }
    struct sigevent lev, *levp = NULL;
    struct batch *b = bi >= 0 ? &t->b[bi] : NULL;
    if (b) {
        b->seq = ++t->seqctr;
        b->nmem = b->live = n;
        memcpy(b->mem, mem, sizeof mem);
        __atomic_store_n(&b->nword, b->seq << 8, __ATOMIC_SEQ_CST);
        b->notify = pick_notify(t, &lev, token(t->idx, 1, bi, b->seq));
        levp = rnd(t) % 8 == 0 && b->notify == SIGEV_NONE ? NULL : &lev;
        b->used = 1;
    }
    memcpy(t->lio_mem, mem, sizeof mem);
    t->lio_n = n;
    WHERE(t, wait ? W_LIO_WAIT : W_LIO_NOWAIT);
    int rc = lio_listio(wait ? LIO_WAIT : LIO_NOWAIT, list, nent, levp);
    int e = errno;
    WHERE(t, W_SUBMIT);
    if (wait) t->lio_wait++; else t->lio_nowait++;
    if (rc == 0 || (wait && e == EINTR)) {
        for (int k = 0; k < n; k++) accepted(t, mem[k]);
        if (b && b->notify != SIGEV_NONE) t->notif_expected++;
        if (rc != 0) t->lio_eintr++;
        if (rc == 0 && wait)
            for (int k = 0; k < n; k++) {
                int me = aio_error(&t->s[mem[k]].cb);
                TCHECK(me == 0, "thread %d: lio_listio(LIO_WAIT) returned 0 but member %d: %s",
                       t->idx, k, errname(me));
            }
        return;
    }
    TCHECK(rc == 0, "thread %d: lio_listio(%s, %d entries): %s", t->idx,
           wait ? "LIO_WAIT" : "LIO_NOWAIT", nent, errname(e));
    /* EIO: accepted, a member failed (reaped and reported as such). */
    if (e == EIO) {
        for (int k = 0; k < n; k++) accepted(t, mem[k]);
        if (b && b->notify != SIGEV_NONE) t->notif_expected++;
        return;
    }
    for (int k = 0; k < n; k++) unprep(t, &t->s[mem[k]]);
    if (b) b->used = 0;
}

/* --- completion ---------------------------------------------------------- */
static void verify_read(struct thr *t, struct slot *s)
{
    uint64_t base = fs_base(t->idx, s->fs);
    uint32_t fid = fs_fid(t->idx, s->fs);
    for (int k = 0; k < s->nblk; k++) {
        struct blk *b = &t->blk[s->fs][s->blk0 + k];
        char why[256];
        int ok = check_block(s->buf + k * BS, fid, base + s->blk0 + k,
                             b->unknown ? UINT64_MAX : b->done, why, sizeof why);
        TCHECK(ok, "thread %d: %s%s read (fd %d): %s", t->idx, s->fs & 2 ? "private" : "shared",
               s->fs & 1 ? " O_DIRECT" : "", s->cb.aio_fildes, why);
        if (ok) t->data_ok++;
    }
}

/* Pipe reads complete in call order; verify the stream from the head. */
static void consume_pipe(struct thr *t)
{
    while (t->fhead != t->ftail) {
        struct slot *s = &t->s[t->fifo[t->fhead % SLOTS]];
        if (s->state != S_DONE) return;
        if (s->final_err == 0) {
            size_t n = (size_t)s->final_ret;
            long bad = check_pat(s->buf, n, t->pa_rpos, 1000 + t->idx);
            TCHECK(bad < 0, "thread %d: pipe stream byte %llu (read of %zu at %llu) wrong", t->idx,
                   (unsigned long long)(t->pa_rpos + bad), n, (unsigned long long)t->pa_rpos);
            t->pa_rpos += n;
        }
        s->consumed = 1;
        t->fhead++;
    }
}

static void complete(struct thr *t, int i, int e)
{
    struct slot *s = &t->s[i];
    ssize_t r = aio_return(&s->cb);
    s->state = S_DONE;
    s->final_err = e;
    s->final_ret = r;
    t->completed++;
    if (s->cancelled) {
        TCHECK(e == ECANCELED && r == -1, "thread %d: cancelled request: %s %zd", t->idx, errname(e), r);
    } else {
        TCHECK(e != ECANCELED, "thread %d: ECANCELED but aio_cancel did not say AIO_CANCELED", t->idx);
    }
    switch (s->kind) {
    case K_READ:
    case K_WRITE: {
        size_t len = (size_t)s->nblk * BS;
        int ok = e == 0 && r == (ssize_t)len;
        if (!s->cancelled)
            TCHECK(ok, "thread %d: %s of %zu at %lld: %s %zd", t->idx, s->kind == K_READ ? "read" : "write",
                   len, (long long)s->cb.aio_offset, errname(e), r);
        if (ok && s->kind == K_READ) verify_read(t, s);
        for (int k = 0; k < s->nblk; k++) {
            struct blk *b = &t->blk[s->fs][s->blk0 + k];
            if (s->kind == K_READ) { b->readers--; continue; }
            b->writer = 0;
            if (ok) { b->done = s->gens[k]; b->unknown = 0; }
            else if (!s->cancelled) b->unknown = 1;
        }
        break;
    }
    case K_FSYNC:
        t->fsyncs--;
        if (!s->cancelled) TCHECK(e == 0 && r == 0, "thread %d: aio_fsync: %s %zd", t->idx, errname(e), r);
        if (e == 0)
            for (int k = 0; k < SLOTS; k++) {
                struct slot *w = &t->s[k];
                if (w->state == S_INFLIGHT && w->kind == K_WRITE && w->order < s->order &&
                    w->cb.aio_fildes == s->cb.aio_fildes)
                    TCHECK(aio_error(&w->cb) != EINPROGRESS,
                           "thread %d: aio_fsync completed before an earlier write on fd %d", t->idx,
                           s->cb.aio_fildes);
            }
        break;
    case K_PREAD:
        t->preads--;
        if (!s->cancelled) {
            TCHECK(e == 0 && r > 0, "thread %d: pipe read: %s %zd", t->idx, errname(e), r);
            for (int k = t->fhead; k != t->ftail; k++) {
                struct slot *o = &t->s[t->fifo[k % SLOTS]];
                if (o == s) break;
                TCHECK(o->state != S_INFLIGHT || o->cancelled || aio_error(&o->cb) != EINPROGRESS,
                       "thread %d: pipe reads completed out of call order", t->idx);
            }
        }
        consume_pipe(t);
        break;
    case K_PWRITE:
        t->pwrites--;
        TCHECK(e == 0 && r == (ssize_t)s->cb.aio_nbytes, "thread %d: pipe write of %zu: %s %zd",
               t->idx, s->cb.aio_nbytes, errname(e), r);
        break;
    }
}

static void reap(struct thr *t)
{
    for (int i = 0; i < SLOTS; i++) {
        struct slot *s = &t->s[i];
        if (s->state == S_INFLIGHT) {
            int e = aio_error(&s->cb);
            if (e != EINPROGRESS) complete(t, i, e);
        }
    }
    consume_pipe(t);
    for (int i = 0; i < SLOTS; i++) {
        struct slot *s = &t->s[i];
        if (s->state != S_DONE) continue;
        int e = aio_error(&s->cb);
        TCHECK(e == s->final_err, "thread %d slot %d: aio_error went %s -> %s", t->idx, i,
               errname(s->final_err), errname(e));
        if (s->kind == K_PREAD && !s->consumed) continue;
        if (s->notify != SIGEV_NONE && (LOAD(s->nword) & 0xff) == 0) continue;
        if (s->batch >= 0) {
            struct batch *b = &t->b[s->batch];
            if (b->notify != SIGEV_NONE && (LOAD(b->nword) & 0xff) == 0) continue;
            if (--b->live == 0) {
                if (b->notify != SIGEV_NONE) t->notif_received++;
                __atomic_store_n(&b->nword, 0, __ATOMIC_SEQ_CST);
                b->used = 0;
            }
        }
        if (s->notify != SIGEV_NONE) t->notif_received++;
        __atomic_store_n(&s->nword, 0, __ATOMIC_SEQ_CST);
        memcpy(&s->snap, &s->cb, sizeof s->cb);
        s->state = S_FREE;
    }
}

static void cancel_one(struct thr *t, struct slot *s)
{
    if (s->state != S_INFLIGHT || s->kind == K_PWRITE) return;   /* a gap would break the stream */
    int r = aio_cancel(s->cb.aio_fildes, &s->cb);
    if (r == AIO_CANCELED) {
        s->cancelled = 1;
        t->cancel_res[0]++;
        TCHECK(aio_error(&s->cb) == ECANCELED, "thread %d: AIO_CANCELED but aio_error %s", t->idx,
               errname(aio_error(&s->cb)));
    } else if (r == AIO_NOTCANCELED) {
        t->cancel_res[1]++;
    } else if (r == AIO_ALLDONE) {
        t->cancel_res[2]++;
        TCHECK(aio_error(&s->cb) != EINPROGRESS, "thread %d: AIO_ALLDONE but in progress", t->idx);
    } else {
        TCHECK(0, "thread %d: aio_cancel = %d: %s", t->idx, r, errname(errno));
    }
}

/* aio_cancel(fd, NULL) on a descriptor only this thread uses. */
static void cancel_fd(struct thr *t, int fd)
{
    int r = aio_cancel(fd, NULL), e = errno, gone = 0, running = 0;
    for (int i = 0; i < SLOTS; i++) {
        struct slot *s = &t->s[i];
        if (s->state != S_INFLIGHT || s->cb.aio_fildes != fd) continue;
        int x = aio_error(&s->cb);
        if (x == ECANCELED) { s->cancelled = 1; gone++; }
        if (x == EINPROGRESS) running++;
    }
    t->cancel_res[0] += gone;
    t->cancel_fd++;
    if (r == AIO_CANCELED)
        TCHECK(gone > 0 && running == 0, "thread %d: aio_cancel(fd, NULL) = AIO_CANCELED: %d cancelled, "
               "%d still in progress", t->idx, gone, running);
    else if (r == AIO_ALLDONE)
        TCHECK(gone == 0 && running == 0, "thread %d: aio_cancel(fd, NULL) = AIO_ALLDONE: %d cancelled, "
               "%d still in progress", t->idx, gone, running);
    else
        TCHECK(r == AIO_NOTCANCELED, "thread %d: aio_cancel(fd, NULL) = %d: %s", t->idx, r, errname(e));
}

static void maybe_cancel(struct thr *t)
{
    switch (rnd(t) % 64) {
    case 0: case 1: case 2: case 3:               /* the newest pipe read: maybe queued */
        if (t->ftail != t->fhead) cancel_one(t, &t->s[t->fifo[(t->ftail - 1) % SLOTS]]);
        break;
    case 4: case 5:                               /* an fsync: maybe held */
        for (int i = 0; i < SLOTS; i++)
            if (t->s[i].state == S_INFLIGHT && t->s[i].kind == K_FSYNC) cancel_one(t, &t->s[i]);
        break;
    case 6: case 7:
        cancel_one(t, &t->s[rnd(t) % SLOTS]);
        break;
    case 8:
        cancel_fd(t, rnd(t) & 1 ? t->pa[0] : t->fd[FS_PRIV_BUF + (rnd(t) & 1)]);
        break;
    }
}

/* Wait for any in-flight request: a short timeout, or (half the time) a
 * long one; a long wait that times out although a listed request's
 * notification ran well before the deadline missed a wake-up. */
static void wait_some(struct thr *t)
{
    const struct aiocb *list[SLOTS];
    int idx[SLOTS], n = 0;
    for (int i = 0; i < SLOTS; i++)
        if (t->s[i].state == S_INFLIGHT) { idx[n] = i; list[n++] = &t->s[i].cb; }
    int lng = rnd(t) & 1;
    struct timespec ts = { lng ? 1 : 0, lng ? 0 : 20 * 1000 * 1000 };
    if (n == 0) { ts.tv_sec = 0; ts.tv_nsec = 1000 * 1000; nanosleep(&ts, NULL); return; }
    double deadline = now_s() + ts.tv_sec + ts.tv_nsec / 1e9;
    t->long_waits += lng;
    WHERE(t, W_SUSPEND);
    int rc = aio_suspend(list, n, &ts);
    WHERE(t, W_LOOP);
    if (rc == 0) return;
    TCHECK(errno == EAGAIN || errno == EINTR, "thread %d: aio_suspend: %s", t->idx, errname(errno));
    if (!lng || errno != EAGAIN) return;
    t->long_timeouts++;
    for (int k = 0; k < n; k++) {
        struct slot *s = &t->s[idx[k]];
        if (s->notify == SIGEV_NONE || (LOAD(s->nword) & 0xff) == 0) continue;
        double at = s->notified_at;
        if (at < deadline - 0.1) {
            t->lost_wakeups++;
            TCHECK(0, "thread %d: aio_suspend(%d requests, 1 s) timed out, but request %d (kind %d) was "
                   "complete and notified %.3f s before the deadline", t->idx, n, idx[k], s->kind,
                   deadline - at);
            break;
        }
    }
}

/* Under kaio: a child forked while every thread has requests in flight
 * uses AIO at once; the parent goes on. */
static void fork_child_aio(void)
{
    int ready[2];
    if (pipe(ready) != 0) { TCHECK(0, "pipe: %s", errname(errno)); return; }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        (void)!write(ready[1], "r", 1);           /* fork() returned in the child */
        alarm(10);
        static char b1[8192];
        void *d = NULL;
        int ok = posix_memalign(&d, BS, 16 * BS) == 0;
        int fd = open(fork_path, O_RDONLY), dfd = open(fork_path, O_RDONLY | O_DIRECT);
        struct aiocb c1, c2, c3;
        t_cb(&c1, fd, b1, sizeof b1, 12345);
        t_cb(&c2, dfd, d, 16 * BS, 4 * BS);
        t_cb(&c3, fd, b1, 100, 99);
        c1.aio_lio_opcode = c2.aio_lio_opcode = LIO_READ;
        struct aiocb *l[2] = { &c1, &c2 };
        ok = ok && fd >= 0 && dfd >= 0 && lio_listio(LIO_WAIT, l, 2, NULL) == 0;
        ok = ok && aio_return(&c1) == (ssize_t)sizeof b1 && check_pat(b1, sizeof b1, 12345, 77) < 0;
        ok = ok && aio_return(&c2) == 16 * BS && check_pat(d, 16 * BS, 4 * BS, 77) < 0;
        ok = ok && aio_read(&c3) == 0;
        if (ok) t_wait(&c3);
        ok = ok && aio_return(&c3) == 100 && check_pat(b1, 100, 99, 77) < 0;
        _exit(ok ? 0 : 1);
    }
    __atomic_store_n(&fork_pid, pid, __ATOMIC_SEQ_CST);
    close(ready[1]);
    /* A child stuck in fork()'s atfork handlers never gets to its alarm. */
    struct pollfd pfd = { .fd = ready[0], .events = POLLIN };
    int pr;
    while ((pr = poll(&pfd, 1, 10000)) < 0 && errno == EINTR) {}
    char c;
    int started = pr == 1 && read(ready[0], &c, 1) == 1;
    close(ready[0]);
    TCHECK(started, "the child forked mid-soak is stuck inside fork() (atfork child handlers) for 10 s");
    if (!started) kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    __atomic_store_n(&fork_pid, 0, __ATOMIC_SEQ_CST);
    NOTE("fork in the middle of the soak: child AIO %s (status %#x)",
         WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "FAILED", st);
    TCHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "forked child's AIO failed: status %#x", st);
}

/* --- threads ------------------------------------------------------------- */
static void *pa_writer(void *arg)                 /* feeds t->pa until EPIPE */
{
    struct thr *t = arg;
    unsigned char buf[8192];
    uint64_t r = 0x1234567 + t->idx;
    for (;;) {
        r = mix(r);
        size_t n = 1 + r % sizeof buf, off = 0;
        fill_pat(buf, n, t->pa_wpos, 1000 + t->idx);
        while (off < n) {
            ssize_t w = write(t->pa[1], buf + off, n - off);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) return NULL;
            off += (size_t)w;
            t->pa_wpos += (size_t)w;
        }
    }
}

static void *pb_reader(void *arg)                 /* drains t->pb until EOF */
{
    struct thr *t = arg;
    unsigned char buf[16384];
    for (;;) {
        ssize_t n = read(t->pb[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return NULL;
        long bad = check_pat(buf, (size_t)n, t->pb_rpos, 2000 + t->idx);
        if (!t->pb_bad && bad >= 0) t->pb_bad = t->pb_rpos + (uint64_t)bad + 1;
        t->pb_rpos += (uint64_t)n;
    }
}

static void *soak_thread(void *arg)
{
    struct thr *t = arg;
    double end = t_start + seconds, next_drop = t_start + 0.5;
    for (;;) {
        double now = now_s();
        __atomic_store_n(&t->beat_ms, (uint64_t)(now * 1000), __ATOMIC_SEQ_CST);
        WHERE(t, W_LOOP);
        int busy = 0;
        for (int i = 0; i < SLOTS; i++) busy |= t->s[i].state != S_FREE;
        if (now >= end && !busy) break;
        if (now >= end + 20) {
            int avail = -1;
            ioctl(t->pa[0], FIONREAD, &avail);
            NOTE("thread %d: requests still in flight 20 s after the end; its read pipe holds %d bytes",
                 t->idx, avail);
            for (int i = 0; i < SLOTS; i++) {
                struct slot *s = &t->s[i];
                if (s->state == S_FREE) continue;
                TCHECK(0, "thread %d slot %d stuck: %s (order %llu%s) %s, aio_error %s, %s notified %llu time(s), batch %d",
                       t->idx, i, kind_name[s->kind], (unsigned long long)s->order,
                       s->cancelled ? ", cancelled" : "", s->state == S_INFLIGHT ? "in flight" :
                       s->kind == K_PREAD && !s->consumed ? "done, behind an earlier pipe read" :
                       "done, waiting for its notification", errname(aio_error(&s->cb)),
                       notify_name(s->notify), (unsigned long long)(LOAD(s->nword) & 0xff), s->batch);
                t->stuck++;
            }
            break;
        }
        if (now < end) {
            if (t->idx == 0 && IS_KAIO && !fork_done && now >= t_start + seconds / 2.0) {
                fork_done = 1;
                WHERE(t, W_FORK);
                fork_child_aio();
            }
            WHERE(t, W_SUBMIT);
            for (int k = 0; k < 16; k++) {
                if (rnd(t) % 10 == 0) submit_lio(t); else submit_one(t);
            }
            if (now >= next_drop) {      /* make buffered reads miss the page cache */
                posix_fadvise(t->fd[FS_PRIV_BUF], 0, 0, POSIX_FADV_DONTNEED);
                if (t->idx == 0) posix_fadvise(t->fd[FS_SHARED_BUF], 0, 0, POSIX_FADV_DONTNEED);
                next_drop = now + 0.5;
            }
        }
        wait_some(t);
        WHERE(t, W_REAP);
        reap(t);
        WHERE(t, W_CANCEL);
        if (now < end && IS_KAIO) maybe_cancel(t);     /* glibc: see the top comment */
    }
    __atomic_store_n(&t->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* --- setup and final pass ------------------------------------------------ */
/* Create path (t_dir()/name.PID) holding generation 0 of nblocks blocks of
 * file kind fs, opened into *fd (O_DIRECT for the direct kinds). */
static void make_blocks(char *path, const char *name, int fs, int ti, uint64_t nblocks, int *fd)
{
    snprintf(path, 512, "%s/%s.%d", t_dir(), name, (int)getpid());
    int w = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    CHECK(w >= 0, "create %s: %s", path, errname(errno));
    static unsigned char buf[64 * BS];
    for (uint64_t b = 0; b < nblocks; b += 64) {
        uint64_t n = nblocks - b < 64 ? nblocks - b : 64;
        for (uint64_t k = 0; k < n; k++) fill_block(buf + k * BS, fs_fid(ti, fs), b + k, 0, 0xffff);
        CHECK(pwrite(w, buf, n * BS, (off_t)(b * BS)) == (ssize_t)(n * BS), "setup write");
    }
    CHECK(fsync(w) == 0, "fsync");
    close(w);
    *fd = open(path, fs & 1 ? O_RDWR | O_DIRECT : O_RDWR);
    CHECK(*fd >= 0, "open %s%s: %s", path, fs & 1 ? " O_DIRECT" : "", errname(errno));
    if (!(fs & 1)) posix_fadvise(*fd, 0, 0, POSIX_FADV_RANDOM);
}

static long final_pass(int fd, int fs, int ti, uint64_t nblocks);

/* Check the file both through a buffered and through an O_DIRECT fd. */
static long final_both(const char *path, int fs, int ti, uint64_t nblocks)
{
    int b = open(path, O_RDONLY), d = open(path, O_RDONLY | O_DIRECT);
    CHECK(b >= 0 && d >= 0, "final pass open %s: %s", path, errname(errno));
    long ok = b >= 0 && d >= 0 ? final_pass(b, fs, ti, nblocks) + final_pass(d, fs, ti, nblocks) : 0;
    close(b);
    close(d);
    return ok;
}

/* Read the whole file of kind fs (thread ti's if private) through fd
 * (lio_listio, LIO_WAIT) and check every block against what its owner last
 * wrote; returns the blocks found right. */
static long final_pass(int fd, int fs, int ti, uint64_t nblocks)
{
    uint32_t fid = fs_fid(ti, fs);
    enum { N = 8, CH = 16 };
    static unsigned char *mem;
    if (!mem && posix_memalign((void **)&mem, BS, N * CH * BS)) return 0;
    long ok = 0;
    for (uint64_t b = 0; b < nblocks; b += N * CH) {
        struct aiocb cb[N], *l[N];
        int n = 0;
        for (; n < N && b + (uint64_t)n * CH < nblocks; n++) {
            t_cb(&cb[n], fd, mem + n * CH * BS, CH * BS, (off_t)((b + n * CH) * BS));
            cb[n].aio_lio_opcode = LIO_READ;
            l[n] = &cb[n];
        }
        int rc;
        while ((rc = lio_listio(LIO_WAIT, l, n, NULL)) != 0 && errno == EINTR)
            for (int k = 0; k < n; k++) t_wait(&cb[k]), l[k] = NULL;   /* already submitted */
        CHECK(rc == 0, "final pass lio_listio: %s", errname(errno));
        for (int k = 0; k < n; k++) {
            CHECK(aio_return(&cb[k]) == CH * BS, "final pass read: %zd", aio_return(&cb[k]));
            for (int j = 0; j < CH; j++) {
                uint64_t blkno = b + (uint64_t)k * CH + j;
                struct blk *bk = &T[fs < 2 ? blkno / BPT : (uint64_t)ti].blk[fs][blkno % BPT];
                char why[256];
                int good = check_block(mem + (k * CH + j) * BS, fid, blkno,
                                       bk->unknown ? UINT64_MAX : bk->done, why, sizeof why);
                CHECK(good, "final pass (fd %d, kind %d): %s", fd, fs, why);
                ok += good;
            }
        }
    }
    return ok;
}

/* A soak thread blocked in one call for 20 s (its loop never takes longer
 * than ~1 s plus one request) is reported with its requests; then exit. */
static void join_or_report(struct thr *t)
{
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (pthread_timedjoin_np(t->thr, NULL, &ts) == 0) return;
        for (int i = 0; i < nthreads; i++) {
            struct thr *h = &T[i];
            uint64_t beat = LOAD(h->beat_ms), now = (uint64_t)(now_s() * 1000);
            if (LOAD(h->done) || !beat || now - beat < (uint64_t)hang_s * 1000) continue;
            int w = LOAD(h->where);
            CHECK(0, "thread %d blocked in %s for %llu s", i, where_name[w],
                  (unsigned long long)(now - beat) / 1000);
            if (w == W_FORK) {
                pid_t c = LOAD(fork_pid);
                NOTE("  %s", c > 0 ? "fork() returned; waiting for the child" : "inside fork()");
                if (c > 0) {
                    char cmd[128];
                    snprintf(cmd, sizeof cmd, "cat /proc/%d/task/*/wchan /proc/%d/status 2>&1 | "
                             "grep -v '^[A-Z][a-z]*_' | head -12 | sed 's/^/#   child: /'", (int)c, (int)c);
                    fflush(stdout);
                    (void)!system(cmd);
                }
            }
            if (w == W_LIO_WAIT || w == W_LIO_NOWAIT)
                for (int k = 0; k < h->lio_n; k++) {
                    struct slot *s = &h->s[h->lio_mem[k]];
                    NOTE("  lio member %d: slot %d %s fd %d offset %lld len %zu aio_error %s %s",
                         k, h->lio_mem[k], kind_name[s->kind], s->cb.aio_fildes, (long long)s->cb.aio_offset,
                         s->cb.aio_nbytes, errname(aio_error(&s->cb)), notify_name(s->notify));
                }
            for (int k = 0; k < SLOTS; k++) {
                struct slot *s = &h->s[k];
                if (s->state == S_INFLIGHT)
                    NOTE("  in flight: slot %d %s fd %d offset %lld len %zu aio_error %s %s batch %d",
                         k, kind_name[s->kind], s->cb.aio_fildes, (long long)s->cb.aio_offset, s->cb.aio_nbytes,
                         errname(aio_error(&s->cb)), notify_name(s->notify), s->batch);
            }
            if (IS_KAIO) {
                unsigned long long (*ctr)(const char *) =
                    (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
                if (ctr)
                    NOTE("kaio: submitted %llu completed %llu", ctr("submitted"), ctr("completed"));
            }
            if (LOAD(fork_pid) > 0) kill(LOAD(fork_pid), SIGKILL);   /* leave no spinning child */
            fflush(stdout);
            _exit(1);
        }
    }
}

static int env_int(const char *name, int def, int lo, int hi)
{
    const char *v = getenv(name);
    int x = v && *v ? atoi(v) : def;
    return x < lo ? lo : x > hi ? hi : x;
}

int main(int argc, char **argv)
{
    /* kaio's queue for a full kernel ring gets exercised with a small ring:
     * KAIO_MAX_EVENTS=32 unless the caller chose a size (re-executed, so
     * that kaio reads it before its first request; glibc ignores it). */
    (void)argc;
    if (!getenv("KAIO_MAX_EVENTS")) {
        setenv("KAIO_MAX_EVENTS", "32", 1);
        setenv("SOAK_SMALL_RING", "1", 1);
        execv("/proc/self/exe", argv);
        perror("execv /proc/self/exe");           /* go on with the default ring */
        unsetenv("SOAK_SMALL_RING");
    }
    int small_ring = getenv("SOAK_SMALL_RING") != NULL;
    nthreads = env_int("SOAK_THREADS", 8, 1, MAXTHR);
    seconds = env_int("SOAK_SECONDS", 10, 1, 100000);
    hang_s = env_int("SOAK_HANG_SECONDS", 20, 5, 1000000);   /* a call blocked this long: hang */
    t_init("test_soak", (unsigned)seconds + 90);
    sig_req = SIGRTMIN + 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(sig_req, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_attr_init(&small_attr);
    pthread_attr_setdetachstate(&small_attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&small_attr, 256 * 1024);

    T = calloc((size_t)nthreads, sizeof *T);
    static char shared[2][512], ppath[MAXTHR][2][512];
    make_blocks(shared[0], "soak_shared_buf", FS_SHARED_BUF, 0, (uint64_t)nthreads * BPT, &shared_fd[0]);
    make_blocks(shared[1], "soak_shared_dio", FS_SHARED_DIO, 0, (uint64_t)nthreads * BPT, &shared_fd[1]);
    if (t_failures) return t_done();
    fork_path = t_make_file(1, "soak_fork", 1 << 20, 77);
    for (int i = 0; i < nthreads; i++) {
        struct thr *t = &T[i];
        t->idx = i;
        t->rng = mix((uint64_t)i + 1);
        for (int k = 0; k < SLOTS; k++) {
            void *m = NULL;
            if (posix_memalign(&m, BS, PIPE_IO > MAXB * BS ? PIPE_IO : MAXB * BS)) abort();
            t->s[k].buf = m;
        }
        char name[32];
        t->fd[FS_SHARED_BUF] = shared_fd[0];
        t->fd[FS_SHARED_DIO] = shared_fd[1];
        snprintf(name, sizeof name, "soak_priv%d_buf", i);
        make_blocks(ppath[i][0], name, FS_PRIV_BUF, i, BPT, &t->fd[FS_PRIV_BUF]);
        snprintf(name, sizeof name, "soak_priv%d_dio", i);
        make_blocks(ppath[i][1], name, FS_PRIV_DIO, i, BPT, &t->fd[FS_PRIV_DIO]);
        CHECK(pipe(t->pa) == 0 && pipe(t->pb) == 0, "pipe");
        fcntl(t->pb[1], F_SETPIPE_SZ, 4096);      /* writes bigger than the pipe: poll path */
        pthread_create(&t->pa_thr, NULL, pa_writer, t);
        pthread_create(&t->pb_thr, NULL, pb_reader, t);
    }
    if (t_failures) return t_done();
    NOTE("%d threads x %d requests in flight for %d s; KAIO_MAX_EVENTS=%s", nthreads, SLOTS, seconds,
         getenv("KAIO_MAX_EVENTS"));
    t_start = now_s();
    for (int i = 0; i < nthreads; i++) pthread_create(&T[i].thr, NULL, soak_thread, &T[i]);
    long long sub = 0, done = 0, nexp = 0, nrec = 0, stuck = 0, data = 0, k[8] = {0}, c[3] = {0};
    long long lw = 0, ln = 0, lei = 0, cfd = 0, lwait = 0, lto = 0, lost = 0;
    uint64_t pipe_in = 0, pipe_out = 0;
    int streams_ok = 1;
    for (int i = 0; i < nthreads; i++) {
        struct thr *t = &T[i];
        join_or_report(t);
        if (t->stuck) { fflush(stdout); _exit(1); }  /* requests still in flight: cannot clean up */
        close(t->pa[0]);                          /* the writer gets EPIPE */
        pthread_join(t->pa_thr, NULL);
        close(t->pb[1]);                          /* the reader gets EOF */
        pthread_join(t->pb_thr, NULL);
        close(t->pa[1]);
        close(t->pb[0]);
        CHECK(t->pb_rpos == t->pb_wpos && !t->pb_bad, "thread %d: pipe written %llu bytes, reader got %llu, "
              "first bad byte %lld", i, (unsigned long long)t->pb_wpos, (unsigned long long)t->pb_rpos,
              (long long)t->pb_bad - 1);
        streams_ok &= t->pb_rpos == t->pb_wpos && !t->pb_bad;
        for (int j = 0; j < 8; j++) { k[j] += t->sub[j]; sub += t->sub[j]; }
        for (int j = 0; j < 3; j++) c[j] += t->cancel_res[j];
        cfd += t->cancel_fd;
        lwait += t->long_waits; lto += t->long_timeouts; lost += t->lost_wakeups;
        done += t->completed; nexp += t->notif_expected; nrec += t->notif_received;
        stuck += t->stuck; data += t->data_ok; lw += t->lio_wait; ln += t->lio_nowait; lei += t->lio_eintr;
        pipe_in += t->pa_rpos; pipe_out += t->pb_wpos;
    }
    double took = now_s() - t_start;
    long fin = 0;
    for (int fs = 0; fs < 2; fs++) fin += final_both(shared[fs], fs, 0, (uint64_t)nthreads * BPT);
    for (int i = 0; i < nthreads; i++)
        for (int k = 0; k < 2; k++) fin += final_both(ppath[i][k], FS_PRIV_BUF + k, i, BPT);
    struct timespec grace = { 0, 300 * 1000 * 1000 };
    nanosleep(&grace, NULL);                      /* a late duplicate notification would show */

    NOTE("%.1f s; submitted %lld (read %lld write %lld fsync %lld pipe-read %lld pipe-write %lld; "
         "lio_listio %lld LIO_WAIT (%lld EINTR) %lld LIO_NOWAIT), completed %lld",
         took, sub, k[K_READ], k[K_WRITE], k[K_FSYNC], k[K_PREAD], k[K_PWRITE], lw, lei, ln, done);
    NOTE("notifications: expected %lld, received %lld (signals %lld, threads %lld); stray %lld, "
         "duplicate %lld, early %lld, early list %lld, bad si_code %lld",
         nexp, nrec, LOAD(n_signals), LOAD(n_threads_run), LOAD(n_stray), LOAD(n_dup), LOAD(n_early),
         LOAD(n_list_early), LOAD(n_badcode));
    NOTE("blocks verified %lld (+%ld in the final pass); pipe bytes read %llu, written %llu; "
         "aio_cancel: %lld cancelled, %lld AIO_NOTCANCELED, %lld AIO_ALLDONE, %lld of a whole fd",
         data, fin, (unsigned long long)pipe_in, (unsigned long long)pipe_out, c[0], c[1], c[2], cfd);
    NOTE("aio_suspend with 1 s timeout: %lld calls, %lld timed out, %lld missed a completion",
         lwait, lto, lost);
    int once = sub == done && stuck == 0;
    int notif = nexp == nrec && !LOAD(n_stray) && !LOAD(n_dup) && !LOAD(n_early) &&
                !LOAD(n_list_early) && !LOAD(n_badcode);
    CHECK(once, "submitted %lld, completed %lld", sub, done);
    CHECK(notif, "notifications wrong (see the NOTE above)");
    CHECK(sub > 1000 && data > 0 && pipe_in > 0 && pipe_out > 0, "too little work done");
    OUT("soak: every request completed exactly once: %s", once ? "yes" : "NO");
    OUT("soak: exactly one notification per notifying request: %s", notif ? "yes" : "NO");
    OUT("soak: pipe streams intact: %s", streams_ok ? "yes" : "NO");
    OUT("soak: no data mismatch: %s", t_failures ? "NO" : "yes");

    if (IS_KAIO) {
        unsigned long long (*ctr)(const char *) =
            (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
        if (ctr) {
            NOTE("kaio: submitted %llu completed %llu kernel %llu inline %llu poll %llu thread %llu "
                 "ring_full %llu no_context %llu cancelled %llu notifications %llu fsync_held %llu",
                 ctr("submitted"), ctr("completed"), ctr("kernel"), ctr("inline"), ctr("poll"),
                 ctr("thread"), ctr("ring_full"), ctr("no_context"), ctr("cancelled"),
                 ctr("notifications"), ctr("fsync_held"));
            CHECK(ctr("completed") == ctr("submitted"), "kaio: completed %llu != submitted %llu",
                  ctr("completed"), ctr("submitted"));
            CHECK(ctr("submitted") >= (unsigned long long)sub, "kaio counted fewer requests than made");
            CHECK(ctr("kernel") > 0 && ctr("poll") > 0 && ctr("inline") + ctr("thread") > 0,
                  "a path was not exercised");
            CHECK(!small_ring || ctr("ring_full") > 0, "KAIO_MAX_EVENTS=32, yet the ring was never full");
        }
        CHECK(fork_done || seconds < 2, "the fork did not happen");
    }
    for (int i = 0; i < nthreads; i++) {
        close(T[i].fd[FS_PRIV_BUF]);
        close(T[i].fd[FS_PRIV_DIO]);
        unlink(ppath[i][0]);
        unlink(ppath[i][1]);
    }
    close(shared_fd[0]);
    close(shared_fd[1]);
    unlink(shared[0]);
    unlink(shared[1]);
    unlink(fork_path);
    return t_done();
}
