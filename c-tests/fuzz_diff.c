/* fuzz_diff: differential testing of kaio against glibc (issue 5, item 3).
 *
 * One program, three modes:
 *   fuzz_diff run SEED [OPS [ENTRIES]]
 *                                 replay the operation sequence of SEED in this
 *                                 process, on whichever AIO implementation
 *                                 serves it, and print a canonical transcript
 *                                 on stdout. OPS: hex bitmask of the ops kept
 *                                 (default all); ENTRIES: hex bitmask over
 *                                 request ids, a cleared bit turns that
 *                                 lio_listio entry into NULL ("-": all kept)
 *   fuzz_diff show SEED [OPS [ENTRIES]]   that sequence as C-like pseudo-code
 *   fuzz_diff fuzz [options]      the driver: for each seed, run the sequence
 *                                 in fresh processes on glibc (this binary,
 *                                 plain) and on kaio (LD_PRELOAD=--lib, and/or
 *                                 the -lkaio build given by --linked), compare
 *                                 the transcripts, and on a mismatch print the
 *                                 seed, the first differing line and a shrunk
 *                                 reproducer (seed + op mask + pseudo-code).
 *       --lib PATH      libkaio.so to preload (default $KAIO_LIB)
 *       --linked BIN    also compare the -lkaio build of this file
 *       --from S        first seed (default 1)       --seeds N  (default 200)
 *       --twice         run glibc twice per seed (checks that the transcript
 *                       is deterministic: any difference is a fuzzer bug)
 *       --no-shrink     report mismatches without shrinking
 *       --brief         no shrinking, three lines per mismatch (make test)
 *       --first         stop after the first mismatch
 *   FUZZ_AVOID=k1,k2    leave out the patterns of known kaio bugs, to look for
 *                       others: hugesize, dir0, lioallbad, pipeprio, opcode13x (see
 *                       apply_avoid), pipefail (see do_cancel);
 *                       FUZZ_WATCHDOG=S: per-run watchdog (20 s)
 *   Exit status of fuzz: 0 all seeds agree, 1 a mismatch or a failed check.
 *   Files go to $KAIO_TEST_DIR (default "."), which must allow O_DIRECT (else
 *   the O_DIRECT descriptors are replaced by buffered ones, on both sides).
 *
 * The generator (seeded splitmix64) draws 16..64 operations: aio_read/
 * aio_write/aio_fsync (and the *64 names) and lio_listio (LIO_WAIT, LIO_NOWAIT,
 * bad modes; entries NULL, LIO_NOP, bad opcodes) with sizes 0..64 KiB, up to
 * 1 MiB, and huge (2 GiB, SSIZE_MAX+1, SIZE_MAX: buffers are 4 MiB followed by
 * a PROT_NONE guard page, so no overrun can corrupt memory); offsets valid,
 * beyond EOF, huge (2^40, 2^62, LLONG_MAX-100) and negative; descriptors:
 * a buffered file (read-write and O_RDONLY), the same file O_DIRECT, a second
 * file buffered and O_DIRECT, with aligned and misaligned (1, 7, 512 bytes)
 * buffers, a pipe (read and write ends, 1 MiB capacity), fds that can never be
 * open (1000000 > RLIMIT_NOFILE, INT_MAX), -1, a directory; aio_reqprio in and
 * out of 0..20; sigevents NONE, SIGNAL (SIGRTMIN+1, value = request id),
 * SIGNAL with signal 0, THREAD (with and without attributes), THREAD_ID, and
 * invalid ones; aio_cancel of a request, of (fd, NULL), with a mismatched fd;
 * aio_suspend with 0..4 entries (some NULL) and timeouts 0, 1 ms, 5 ms,
 * tv_nsec = -1, tv_sec = -1; aio_error/aio_return at random moments; waits;
 * pipe fills. Every request is waited for before exit.
 *
 * The transcript (lines not starting with '#') holds what a program observes
 * deterministically: each call's return value and errno name, the final
 * aio_error/aio_return of every request (in a seeded random order, each read
 * twice), the FNV-1a checksum of the bytes each read returned, the number of
 * notifications of each request and list (signals must carry SI_ASYNCIO and
 * the value), and at the end the size and checksum of both files and of what
 * is left in the pipe. Lines starting with '#' are diagnostics (actual values
 * of racy calls), never compared.
 *
 * What the replayer does so that the result does not depend on timing (these
 * rules are the same on both backends; they are decided from the op sequence,
 * never from a racy observation):
 *  - No two requests whose effects could depend on their order are in flight
 *    together: before a request is submitted, the replayer waits (silently)
 *    for every in-flight request on the same file whose 4 KiB-rounded range
 *    overlaps it, where one of them writes; reads reaching past the initial
 *    size count as reaching to infinity; two writes past the initial size
 *    conflict. Conflicting entries inside one lio_listio become LIO_NOP.
 *  - The pipe: data only enters it by (a) aio_write to its write end, only
 *    while no pipe read is in flight (its reads are settled first), and (b)
 *    "fills" (a plain write()). Reads of one pipe are served in call order
 *    on both backends as long as they have the same aio_reqprio (glibc: one
 *    thread per fd, queued requests sorted by priority; kaio: the fd's read
 *    lane), so the replayer models the consumption: when a read starts a new
 *    sequence (no pipe read in flight; it first waits for anything else on
 *    the read end), the pipe holds FIONREAD bytes; each read takes what is
 *    left, and the first one that finds nothing blocks. Every read-end
 *    request before that one gets aio_reqprio 0 (the highest priority, so no
 *    later request can pass it); the ones after it keep their random priority
 *    (they are queued behind a blocked read on both backends: glibc orders
 *    them by priority, kaio by call order - a difference the fuzzer reports)
 *    and may be cancelled in flight (AIO_CANCELED on both). To wait for pipe
 *    requests, the replayer waits for the reads before the blocked one, then
 *    fills the pipe with the total length of the rest, then waits for them
 *    (never a wait that could hang: glibc would not run an fsync of the read
 *    end queued behind a blocked read). lio_listio(LIO_WAIT) with entries on
 *    the read end is preceded by that and by a fill of its reads' lengths.
 *  - aio_error/aio_return of a request not yet known complete (by a wait,
 *    an aio_suspend loop, or LIO_WAIT) and aio_suspend on requests none of
 *    which is known complete are racy: the call is made, its result printed
 *    as a '#' line, only invariants are checked (aio_suspend gives 0 or
 *    EAGAIN, and 0 only if a listed request is done).
 *  - aio_cancel of an in-flight request on a file is racy on both backends
 *    (glibc: queued behind its fd's running request or not; kaio: see the
 *    exception table): the result is a '#' line; the request's final state
 *    is checked for consistency (AIO_CANCELED <=> ECANCELED and -1; exactly
 *    one notification either way) and printed as "cancel-raced"; a write
 *    that was cancelled is then done with pwrite() by the replayer, exactly
 *    what glibc would have done, so the file contents stay comparable.
 *    aio_cancel of a pipe request that is not queued behind a blocked read
 *    waits for it first (AIO_ALLDONE on both). glibc bug avoided: cancelling
 *    the first request of an fd while it waits for a thread leaves the next
 *    ones queued forever (__aio_remove_request promotes the next request but
 *    never puts it on the run list), so before a racy aio_cancel the replayer
 *    waits for the later requests on that fd.
 *  - Invalid sigevents and bad lio_listio opcodes glibc would act upon are
 *    only generated for requests without side effects (file reads, fsyncs,
 *    requests on descriptors that fail), never for pipe I/O or file writes.
 *  - SIGEV_THREAD with a NULL function is never generated (glibc's
 *    notification thread calls NULL: the process dies).
 *  - The notification signals are blocked in the main thread (no EINTR in
 *    aio_suspend/lio_listio, which the backends document differently) and
 *    counted by a handler in other threads or with sigtimedwait at the end;
 *    the end waits (<= 3 s) until every expected notification arrived.
 *
 * Documented exceptions (each matches a row of the README's "Differences from
 * glibc" table; on each, the replayer checks the exact behaviour of each
 * backend and prints one canonical line, "... as documented (Ek)"):
 *
 * | id | situation                                  | glibc 2.36                         | kaio                       |
 * |----|--------------------------------------------|------------------------------------|----------------------------|
 * | E1 | sigevent that can never be delivered:      | accepted, the I/O done; a bad      | -1/EINVAL at submission,   |
 * |    | sigev_notify 99, SIGEV_SIGNAL signo 65 or  | signo ends EINVAL/-1 (the failed   | nothing done; lio_listio:  |
 * |    | -1, SIGEV_THREAD_ID signo 0; lio_listio's  | sigqueue), notify 99 and THREAD_ID | an entry's: that entry     |
 * |    | LIO_NOWAIT list sigevent or an entry's     | complete normally; no notification | EINVAL, the call -1/EIO    |
 * |    | (only on requests without side effects)    | (list: accepted, event lost)       | (WAIT, if another entry was|
 * |    |                                            |                                    | queued) or -1/EINVAL; the  |
 * |    |                                            |                                    | list's: whole call EINVAL  |
 * | E2 | SIGEV_THREAD_ID (valid signal, main thread)| ignored: no notification           | signal to that thread      |
 * | E3 | aio_cancel of an in-flight file request    | CANCELED if queued behind its fd's | NOTCANCELED (held fsync:   |
 * |    | (racy on both: result not compared)        | running request, else NOTCANCELED  | CANCELED)                  |
 * | E4 | aio_suspend, tv_nsec outside 0..999999999  | no check: a timed wait (-1: none), | -1/EINVAL                  |
 * |    | (tv_nsec = -1 here)                        | -1/EAGAIN; 0 if a listed one done  |                            |
 *
 * Any other difference is a kaio bug (or an undocumented difference) and is
 * reported as a mismatch.
 */
#include "harness.h"
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* ------------------------------------------------------------------ */
/* PRNG                                                                */

static uint64_t prng;
static uint64_t rnd64(void)
{
    uint64_t z = (prng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static unsigned rnd(unsigned n) { return n ? (unsigned)(rnd64() % n) : 0; }

/* ------------------------------------------------------------------ */
/* The model                                                           */

enum { FK_F0, FK_F0RO, FK_F0D, FK_F1, FK_F1D, FK_PR, FK_PW, FK_BIG, FK_INTMAX, FK_NEG, FK_DIR, NFK };
static const char *fkname[NFK] = {"F0", "F0ro", "F0direct", "F1", "F1direct", "pipeR", "pipeW",
                                  "fd1000000", "fdINTMAX", "fd-1", "dir"};
static int fk_file(int fk)
{
    switch (fk) {
    case FK_F0: case FK_F0RO: case FK_F0D: return 0;
    case FK_F1: case FK_F1D: return 1;
    default: return -1;
    }
}
static int fk_direct(int fk) { return fk == FK_F0D || fk == FK_F1D; }
static int fk_writable_file(int fk) { return fk == FK_F0 || fk == FK_F0D || fk == FK_F1 || fk == FK_F1D; }
static int fk_pipe(int fk) { return fk == FK_PR || fk == FK_PW; }
static int fk_badfd(int fk) { return fk == FK_BIG || fk == FK_INTMAX || fk == FK_NEG; }

enum { SEV_NONE, SEV_SIG, SEV_SIG0, SEV_THREAD, SEV_THREAD_ATTR, SEV_TID,
       SEV_BAD_NOTIFY, SEV_BAD_SIGHI, SEV_BAD_SIGNEG, SEV_TID_BADSIG, NSEV };
static const char *sevname[NSEV] = {"NONE", "SIGNAL", "SIGNAL(0)", "THREAD", "THREAD(attr)", "THREAD_ID",
                                    "notify=99", "SIGNAL(SIGRTMAX+1)", "SIGNAL(-1)", "THREAD_ID(sig 0)"};
static int sev_invalid(int s) { return s >= SEV_BAD_NOTIFY; }
/* lio_listio opcodes glibc runs although <aio.h> does not name them: its
 * private LIO_DSYNC (3, fdatasync) and LIO_SYNC (4, fsync), both ignoring
 * aio_reqprio, and any value whose low 7 bits are LIO_READ or LIO_WRITE
 * (128, 129: pread, pwrite). 130..132 fail with EINVAL in glibc. */
static int opcode_sync(int op) { return op == 3 || op == 4; }

enum { RK_READ, RK_WRITE, RK_FSYNC };

#define INIT_SIZE (256u << 10)
#define HUGE_BUF (4u << 20)          /* buffer of a huge request (+ guard page) */
#define PIPE_CAP (1u << 20)
#define PIPE_MAXLEN 16384u           /* a pipe read/write moves at most this */
#define MAXOPS 64
#define MAXREQ 400
#define MAXENT 8
#define LISTID 512                   /* notification id of op i's list: LISTID + i */

struct rspec {
    int kind;            /* RK_READ/RK_WRITE/RK_FSYNC */
    int opcode;          /* lio entries: aio_lio_opcode as passed */
    int fk;
    size_t n;
    long long off;
    int mis;             /* buffer misalignment */
    int prio;
    int sev;
    int fsop;            /* aio_fsync op */
    int use64;
    unsigned dseed;
};

enum { OP_SUBMIT, OP_LIO, OP_CANCEL, OP_CANCEL_FD, OP_CANCEL_MISMATCH, OP_SUSPEND, OP_ERROR,
       OP_RETURN, OP_WAIT, OP_WAITALL, OP_FILL, NOPK };

struct op {
    int k;
    int rid;             /* OP_SUBMIT: request id; OP_LIO: first entry's request id */
    int nent;            /* OP_LIO: entries; entry j is request rid+j unless NULL */
    unsigned entnull;    /* OP_LIO: NULL entries */
    int lio_mode;
    int lio_sev;         /* -1: sig == NULL */
    int use64;
    int ref[4], nref;    /* referenced request ids, -1 = NULL entry */
    int fk;              /* OP_CANCEL_FD / OP_CANCEL_MISMATCH descriptor */
    int tmo;             /* OP_SUSPEND timeout kind */
    size_t fill;         /* OP_FILL extra bytes */
};

static struct op ops[MAXOPS];
static int nops;
static struct rspec rq[MAXREQ];
static int rq_op[MAXREQ];
static int nreq;
static uint64_t opmask = ~0ull;
#define RQW ((MAXREQ + 63) / 64)
static uint64_t rqmask[RQW] = {~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull};

static int op_on(int i) { return i >= 0 && i < nops && ((opmask >> i) & 1); }
/* a lio_listio entry left out by the shrinker becomes a NULL entry */
static int rq_on(int id) { return op_on(rq_op[id]) && (rqmask[id / 64] >> (id % 64) & 1); }
static int mask_full(const uint64_t *m)
{
    for (int i = 0; i < RQW; i++)
        if (m[i] != ~0ull) return 0;
    return 1;
}
static int rqmask_full(void) { return mask_full(rqmask); }
/* hex, bits 0..nreq-1 only ("-": all) */
static void rqmask_str(char *b, size_t bl, const uint64_t *m)
{
    if (mask_full(m)) { snprintf(b, bl, "-"); return; }
    size_t w = 0;
    int started = 0;
    for (int i = RQW - 1; i >= 0; i--) {
        uint64_t v = m[i];
        int lo = i * 64;
        if (lo >= nreq) continue;
        if (nreq - lo < 64) v &= (1ull << (nreq - lo)) - 1;
        if (!started && !v && i) continue;
        w += (size_t)snprintf(b + w, bl - w, started ? "%016llx" : "%llx", (unsigned long long)v);
        started = 1;
    }
}
static void rqmask_parse(const char *s, uint64_t *m)
{
    if (!strcmp(s, "-")) return;
    size_t l = strlen(s);
    for (int i = 0; i < RQW; i++) {
        m[i] = 0;
        if (l == 0) continue;
        size_t take = l >= 16 ? 16 : l;
        char part[17];
        memcpy(part, s + l - take, take);
        part[take] = 0;
        m[i] = strtoull(part, NULL, 16);
        l -= take;
    }
}

/* ------------------------------------------------------------------ */
/* Generator                                                           */

static int pick_fk(void)
{
    static const int w[NFK] = {20, 6, 12, 12, 10, 12, 8, 3, 2, 3, 3};
    int t = 0;
    for (int i = 0; i < NFK; i++) t += w[i];
    int r = (int)rnd((unsigned)t);
    for (int i = 0; i < NFK; i++) {
        if (r < w[i]) return i;
        r -= w[i];
    }
    return FK_F0;
}

static size_t pick_size(int fk)
{
    static const size_t huge[3] = {0x80000000ull, (size_t)SSIZE_MAX + 1, SIZE_MAX};
    unsigned r = rnd(100);
    if (fk_pipe(fk)) {
        if (r < 10) return 0;
        if (r < 85) return 1 + rnd(8192);
        if (r < 97) return 8192 + rnd(PIPE_MAXLEN - 8192 + 1);
        return huge[1 + rnd(2)];       /* never 2 GiB on a pipe: it would block */
    }
    if (r < 6) return 0;
    if (r < 55) {
        if (fk_direct(fk) && rnd(10) < 7) return 4096u * (1 + rnd(4));
        if (fk_direct(fk) && rnd(2)) return 512u * (1 + rnd(16));
        return 1 + rnd(16384);
    }
    if (r < 80) {
        if (fk_direct(fk) && rnd(10) < 7) return 4096u * (4 + rnd(13));
        return 16384 + rnd(49153);
    }
    if (r < 95) {
        if (fk_direct(fk) && rnd(10) < 7) return 4096u * (16 + rnd(241));
        return 65536 + rnd((1u << 20) - 65536 + 1);
    }
    return huge[rnd(3)];
}

static long long pick_off(int fk, int kind)
{
    unsigned r = rnd(100);
    if (r < 70) {
        if (fk_direct(fk) && rnd(10) < 7) return 4096ll * rnd((INIT_SIZE + 65536) / 4096);
        if (fk_direct(fk) && rnd(2)) return 512ll * rnd((INIT_SIZE + 65536) / 512);
        return rnd(INIT_SIZE + 65536);
    }
    if (r < 82) {
        long long o = INIT_SIZE + 65536 + rnd(2u << 20);
        return fk_direct(fk) && rnd(10) < 7 ? o & ~4095ll : o;
    }
    if (r < 88) {
        /* No write at 2^40: a 1 TiB sparse file would have to be checksummed. */
        static const long long rd[3] = {1ll << 40, 1ll << 62, LLONG_MAX - 100};
        static const long long wr[2] = {1ll << 62, LLONG_MAX - 100};
        return kind == RK_WRITE ? wr[rnd(2)] : rd[rnd(3)];
    }
    static const long long neg[4] = {-1, -4096, -(1ll << 40), LLONG_MIN};
    return neg[rnd(4)];
}

/* Requests whose completion leaves no trace other than their own result. */
static int side_effect_free(const struct rspec *s)
{
    if (fk_pipe(s->fk)) return 0;
    if (s->kind == RK_WRITE && fk_writable_file(s->fk)) return 0;
    return 1;
}

static void gen_rspec(struct rspec *s, int kind, int fk)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->opcode = kind == RK_WRITE ? LIO_WRITE : LIO_READ;
    s->fk = fk;
    s->n = pick_size(fk);
    s->off = pick_off(fk, kind);
    unsigned r = rnd(100);
    if (fk_direct(fk)) s->mis = r < 75 ? 0 : r < 88 ? 512 : 1;
    else s->mis = r < 60 ? 0 : r < 75 ? 1 : r < 90 ? 512 : 7;
    r = rnd(100);
    if (r < 80) s->prio = (int)rnd(21);
    else if (r < 92) s->prio = 0;
    else {
        static const int bad[4] = {-1, 21, INT_MAX, INT_MIN};
        s->prio = bad[rnd(4)];
    }
    r = rnd(100);
    s->sev = r < 45 ? SEV_NONE : r < 60 ? SEV_SIG : r < 65 ? SEV_SIG0 : r < 75 ? SEV_THREAD
           : r < 78 ? SEV_THREAD_ATTR : r < 84 ? SEV_TID : r < 88 ? SEV_BAD_NOTIFY
           : r < 92 ? SEV_BAD_SIGHI : r < 95 ? SEV_BAD_SIGNEG : r < 97 ? SEV_TID_BADSIG : SEV_NONE;
    if (sev_invalid(s->sev) && !side_effect_free(s)) s->sev = SEV_NONE;
    r = rnd(100);
    s->fsop = r < 45 ? O_SYNC : r < 92 ? O_DSYNC : (r < 96 ? 0 : 12345);
    s->use64 = rnd(4) == 0;
    s->dseed = (unsigned)rnd64();
}

static int pick_ref(void) { return nreq ? (int)rnd((unsigned)nreq) : -1; }
/* half the time one of the last three requests (likely still in flight) */
static int pick_recent(void)
{
    if (!nreq) return -1;
    if (rnd(2)) return pick_ref();
    unsigned k = nreq < 3 ? (unsigned)nreq : 3;
    return nreq - 1 - (int)rnd(k);
}

/* FUZZ_AVOID=key,key...: leave out patterns of known bugs (to look for other
 * ones); edits the generated requests without touching the PRNG stream. */
static const char *avoid;
static int avoiding(const char *key)
{
    if (!avoid) return 0;
    size_t l = strlen(key);
    for (const char *p = avoid; (p = strstr(p, key)); p += l)
        if ((p == avoid || p[-1] == ',') && (p[l] == 0 || p[l] == ',')) return 1;
    return 0;
}
static void apply_avoid(struct rspec *s)
{
    if (avoiding("hugesize") && s->n > SSIZE_MAX && (fk_badfd(s->fk) || s->fk == FK_F0RO || s->fk == FK_DIR
                                                      || fk_pipe(s->fk)))
        s->n = 4096;
    if (avoiding("dir0") && s->fk == FK_DIR && s->n == 0) s->n = 1;
    if (avoiding("pipeprio") && s->fk == FK_PR && s->prio > 0 && s->prio <= 20) s->prio = 0;
    if (avoiding("opcode13x") && (s->opcode == 131 || s->opcode == 132)) s->opcode = 5;
}

static void apply_avoid_op(struct op *o)
{
    if (o->k != OP_LIO || o->lio_mode != LIO_WAIT || !avoiding("lioallbad")) return;
    int any = 0, first = -1;
    for (int j = 0; j < o->nent; j++) {
        struct rspec *s = &rq[o->rid + j];
        if (o->entnull >> j & 1 || s->opcode == LIO_NOP) continue;
        if (first < 0) first = o->rid + j;
        if (s->prio >= 0 && s->prio <= 20) any = 1;
    }
    if (!any && first >= 0) rq[first].prio = 0;
}

static void gen(uint64_t seed)
{
    prng = seed * 0x2545F4914F6CDD1Dull + 0x1234567;
    avoid = getenv("FUZZ_AVOID");
    if (avoid && !*avoid) avoid = NULL;
    nops = 16 + (int)rnd(49);
    nreq = 0;
    int burst = 0;             /* pipe reads still to generate in a row */
    for (int i = 0; i < nops; i++) {
        struct op *o = &ops[i];
        memset(o, 0, sizeof *o);
        if (burst > 0 && nreq < MAXREQ) {
            /* a burst of reads of the pipe: often queued behind a blocked one */
            burst--;
            o->k = OP_SUBMIT;
            o->rid = nreq;
            rq_op[nreq] = i;
            gen_rspec(&rq[nreq++], RK_READ, FK_PR);
            continue;
        }
        static const int w[NOPK] = {34, 10, 8, 4, 2, 10, 10, 6, 10, 2, 4};
        int t = 0;
        for (int k = 0; k < NOPK; k++) t += w[k];
        int r = (int)rnd((unsigned)t), k = 0;
        while (r >= w[k]) r -= w[k++];
        if (k != OP_SUBMIT && k != OP_LIO && k != OP_CANCEL_FD && k != OP_WAITALL && k != OP_FILL
            && nreq == 0)
            k = OP_SUBMIT;
        if (k == OP_LIO && nreq + MAXENT > MAXREQ) k = OP_WAITALL;
        if (k == OP_SUBMIT && nreq >= MAXREQ) k = OP_WAITALL;
        o->k = k;
        switch (k) {
        case OP_SUBMIT: {
            unsigned rr = rnd(100);
            int kind = rr < 45 ? RK_READ : rr < 85 ? RK_WRITE : RK_FSYNC;
            o->rid = nreq;
            rq_op[nreq] = i;
            gen_rspec(&rq[nreq++], kind, pick_fk());
            if (rq[o->rid].fk == FK_PR && kind == RK_READ && rnd(100) < 40) burst = 1 + (int)rnd(3);
            break;
        }
        case OP_LIO: {
            unsigned rr = rnd(100);
            o->lio_mode = rr < 45 ? LIO_WAIT : rr < 95 ? LIO_NOWAIT : (rr < 97 ? 2 : -1);
            o->nent = (int)rnd(MAXENT + 1);
            o->use64 = rnd(4) == 0;
            o->rid = nreq;
            int pipedir = -1;         /* entries on the pipe: one direction per list */
            int all_free = 1;
            for (int j = 0; j < o->nent; j++) {
                struct rspec *s = &rq[nreq];
                rq_op[nreq++] = i;
                unsigned e = rnd(100);
                int fk = pick_fk();
                int kind = rnd(100) < 52 ? RK_READ : RK_WRITE;
                if (fk_pipe(fk)) {
                    if (pipedir < 0) pipedir = kind;
                    kind = pipedir;
                }
                gen_rspec(s, kind, fk);
                if (e < 10) o->entnull |= 1u << j;
                else if (e < 20) s->opcode = LIO_NOP;
                else if (e < 28 && !fk_pipe(fk)) {
                    /* see opcode_sync */
                    static const int bad[12] = {3, 4, 128, 129, 130, 131, 132, 5, -1, 7, 99, 255};
                    s->opcode = bad[rnd(12)];
                    s->kind = s->opcode == 129 ? RK_WRITE : RK_READ;
                    if (s->kind == RK_WRITE && s->off == 1ll << 40) s->off = 1ll << 62;
                    if (s->kind == RK_WRITE && !side_effect_free(s)) s->sev = s->sev >= SEV_BAD_NOTIFY ? SEV_NONE : s->sev;
                }
                if (!(o->entnull >> j & 1) && s->opcode != LIO_NOP && !side_effect_free(s))
                    all_free = 0;
            }
            rr = rnd(100);
            o->lio_sev = rr < 30 ? -1 : rr < 50 ? SEV_NONE : rr < 70 ? SEV_SIG : rr < 82 ? SEV_THREAD
                       : rr < 85 ? SEV_THREAD_ATTR : rr < 90 ? SEV_SIG0 : rr < 95 ? SEV_BAD_NOTIFY : SEV_BAD_SIGHI;
            if (sev_invalid(o->lio_sev) && o->lio_mode == LIO_NOWAIT && !all_free) o->lio_sev = SEV_SIG;
            break;
        }
        case OP_CANCEL:
        case OP_ERROR:
        case OP_RETURN:
            o->ref[0] = pick_recent();
            o->nref = 1;
            break;
        case OP_WAIT:
            o->ref[0] = pick_ref();
            o->nref = 1;
            break;
        case OP_CANCEL_MISMATCH:
            o->ref[0] = pick_ref();
            o->nref = 1;
            o->fk = pick_fk();
            break;
        case OP_CANCEL_FD:
            o->fk = pick_fk();
            break;
        case OP_SUSPEND: {
            unsigned rr = rnd(100);
            o->nref = rr < 5 ? 0 : rr < 50 ? 1 : (int)(2 + rnd(3));
            for (int j = 0; j < o->nref; j++) o->ref[j] = rnd(100) < 20 ? -1 : pick_ref();
            rr = rnd(100);
            o->tmo = rr < 40 ? 0 : rr < 70 ? 1 : rr < 85 ? 2 : rr < 93 ? 3 : 4;
            break;
        }
        case OP_FILL:
            o->fill = 1 + rnd(PIPE_MAXLEN);
            break;
        default:
            break;
        }
    }
    for (int i = 0; i < nreq; i++) apply_avoid(&rq[i]);
    for (int i = 0; i < nops; i++) apply_avoid_op(&ops[i]);
}

/* ------------------------------------------------------------------ */
/* Pseudo-code                                                         */

static const char *offname(long long off, char *b, size_t bl)
{
    if (off == LLONG_MIN) return "LLONG_MIN";
    if (off == LLONG_MAX - 100) return "LLONG_MAX-100";
    if (off == 1ll << 62) return "1<<62";
    if (off == 1ll << 40) return "1<<40";
    if (off == -(1ll << 40)) return "-(1<<40)";
    snprintf(b, bl, "%lld", off);
    return b;
}
static const char *sizename(size_t n, char *b, size_t bl)
{
    if (n == SIZE_MAX) return "SIZE_MAX";
    if (n == (size_t)SSIZE_MAX + 1) return "SSIZE_MAX+1";
    snprintf(b, bl, "%zu", n);
    return b;
}
static const char *prioname(int p, char *b, size_t bl)
{
    if (p == INT_MAX) return "INT_MAX";
    if (p == INT_MIN) return "INT_MIN";
    snprintf(b, bl, "%d", p);
    return b;
}

static void fmt_cb(char *out, size_t ol, int id)
{
    const struct rspec *s = &rq[id];
    char b1[32], b2[32], b3[32];
    snprintf(out, ol, "fd=%s buf=%s n=%s off=%s prio=%s sev=%s", fkname[s->fk],
             s->mis ? (s->mis == 512 ? "aligned+512" : s->mis == 1 ? "aligned+1" : "aligned+7") : "aligned",
             sizename(s->n, b1, sizeof b1), offname(s->off, b2, sizeof b2),
             prioname(s->prio, b3, sizeof b3), sevname[s->sev]);
}

static void show_op(FILE *f, int i)
{
    const struct op *o = &ops[i];
    char cb[256];
    static const char *tmoname[] = {"{0,0}", "{0,1ms}", "{0,5ms}", "{0,-1}", "{-1,0}"};
    fprintf(f, "  /* op %2d */ ", i);
    switch (o->k) {
    case OP_SUBMIT: {
        const struct rspec *s = &rq[o->rid];
        fmt_cb(cb, sizeof cb, o->rid);
        if (s->kind == RK_FSYNC)
            fprintf(f, "R%d: aio_fsync%s(%s, {%s});\n", o->rid, s->use64 ? "64" : "",
                    s->fsop == O_SYNC ? "O_SYNC" : s->fsop == O_DSYNC ? "O_DSYNC" : s->fsop ? "12345" : "0", cb);
        else
            fprintf(f, "R%d: aio_%s%s({%s});\n", o->rid, s->kind == RK_READ ? "read" : "write",
                    s->use64 ? "64" : "", cb);
        break;
    }
    case OP_LIO:
        fprintf(f, "lio_listio%s(%s, [", o->use64 ? "64" : "",
                o->lio_mode == LIO_WAIT ? "LIO_WAIT" : o->lio_mode == LIO_NOWAIT ? "LIO_NOWAIT" : o->lio_mode == 2 ? "2" : "-1");
        for (int j = 0; j < o->nent; j++) {
            const struct rspec *s = &rq[o->rid + j];
            if (o->entnull >> j & 1) { fprintf(f, "%sNULL", j ? ", " : ""); continue; }
            if (!rq_on(o->rid + j)) { fprintf(f, "%sNULL /* R%d left out */", j ? ", " : "", o->rid + j); continue; }
            fmt_cb(cb, sizeof cb, o->rid + j);
            const char *opn = s->opcode == LIO_READ ? "LIO_READ" : s->opcode == LIO_WRITE ? "LIO_WRITE"
                            : s->opcode == LIO_NOP ? "LIO_NOP" : NULL;
            if (opn) fprintf(f, "%s\n      R%d {%s %s}", j ? "," : "", o->rid + j, opn, cb);
            else fprintf(f, "%s\n      R%d {opcode %d %s}", j ? "," : "", o->rid + j, s->opcode, cb);
        }
        fprintf(f, "], %d, sig=%s);\n", o->nent, o->lio_sev < 0 ? "NULL" : sevname[o->lio_sev]);
        break;
    case OP_CANCEL: fprintf(f, "aio_cancel(R%d.fd, &R%d);\n", o->ref[0], o->ref[0]); break;
    case OP_CANCEL_MISMATCH: fprintf(f, "aio_cancel(%s, &R%d);\n", fkname[o->fk], o->ref[0]); break;
    case OP_CANCEL_FD: fprintf(f, "aio_cancel(%s, NULL);\n", fkname[o->fk]); break;
    case OP_SUSPEND:
        fprintf(f, "aio_suspend([");
        for (int j = 0; j < o->nref; j++)
            if (o->ref[j] < 0) fprintf(f, "%sNULL", j ? ", " : "");
            else fprintf(f, "%s&R%d", j ? ", " : "", o->ref[j]);
        fprintf(f, "], %d, %s);\n", o->nref, tmoname[o->tmo]);
        break;
    case OP_ERROR: fprintf(f, "aio_error(&R%d);\n", o->ref[0]); break;
    case OP_RETURN: fprintf(f, "aio_return(&R%d);\n", o->ref[0]); break;
    case OP_WAIT: fprintf(f, "wait(R%d);  /* aio_suspend until done */\n", o->ref[0]); break;
    case OP_WAITALL: fprintf(f, "wait_all();\n"); break;
    case OP_FILL: fprintf(f, "fill_pipe(%zu);  /* settle the pipe, then write %zu bytes */\n", o->fill, o->fill); break;
    }
}

/* ------------------------------------------------------------------ */
/* Replayer state                                                      */

/* ST_SEVINV: an E1 request: in flight on glibc until reaped; never taken by
 * kaio (reaped = 1 there) */
enum { ST_NONE, ST_REJECTED, ST_SEVINV, ST_INFLIGHT, ST_DONE };

struct rstate {
    struct aiocb *cb;
    char *base;          /* allocation */
    size_t alloc;
    int mapped;
    char *buf;
    int st;
    int fd;
    int accepted;        /* this backend accepted it (for expected notifications) */
    int cancel_raced;    /* an aio_cancel on it was racy */
    int cancel_res;      /* a racy aio_cancel returned AIO_CANCELED for it */
    int det_cancel;      /* deterministically cancelled (queued pipe read) */
    int reaped;          /* post-completion done */
    int fin_err;
    ssize_t fin_ret;
    int nopped;          /* lio entry turned into LIO_NOP by the replayer */
    int queued_behind;   /* pipe request submitted behind a read that blocks */
    int will_block;      /* pipe read that finds the pipe empty (model) */
    int prio_used;       /* aio_reqprio passed (pipe rules may force 0) */
    int prov;            /* lio entry being prepared: counts as in flight for the
                            pipe rules, is never waited for */
    int cancel_maybe;    /* a cancel that may have cancelled it happened */
    int must_not_cancel; /* a cancel said NOTCANCELED/ALLDONE before any such */
};
static struct rstate rs[MAXREQ];

static int fds[NFK];
static char paths[3][600];
static int have_direct = 1;
static pid_t main_tid;
static int pipe_wb = -1;     /* first in-flight pipe read that blocks (model), or -1 */
static size_t pipe_m;        /* bytes left for later reads (model, no blocking read yet) */
static unsigned fill_seq;

static _Atomic int ncount[LISTID + MAXOPS];
static _Atomic int badcode;
static _Atomic int badvalue;
static pthread_attr_t notify_attr;
static int SIG_A, SIG_T;     /* SIGRTMIN+1 (process), SIGRTMIN+2 (thread id) */

static void count_value(int v)
{
    if (v >= 0 && v < LISTID + MAXOPS) atomic_fetch_add(&ncount[v], 1);
    else atomic_fetch_add(&badvalue, 1);
}
static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    if (si->si_code != SI_ASYNCIO) atomic_fetch_add(&badcode, 1);
    count_value(si->si_value.sival_int);
}
static void on_thread(union sigval v) { count_value(v.sival_int); }

static void drain_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIG_A);
    sigaddset(&set, SIG_T);
    struct timespec zero = {0, 0};
    siginfo_t si;
    while (sigtimedwait(&set, &si, &zero) > 0) {
        if (si.si_code != SI_ASYNCIO) atomic_fetch_add(&badcode, 1);
        count_value(si.si_value.sival_int);
    }
}

static void set_sev(struct sigevent *ev, int sev, int id)
{
    memset(ev, 0, sizeof *ev);
    ev->sigev_value.sival_int = id;
    switch (sev) {
    case SEV_NONE: ev->sigev_notify = SIGEV_NONE; break;
    case SEV_SIG: ev->sigev_notify = SIGEV_SIGNAL; ev->sigev_signo = SIG_A; break;
    case SEV_SIG0: ev->sigev_notify = SIGEV_SIGNAL; ev->sigev_signo = 0; break;
    case SEV_THREAD: ev->sigev_notify = SIGEV_THREAD; ev->sigev_notify_function = on_thread; break;
    case SEV_THREAD_ATTR:
        ev->sigev_notify = SIGEV_THREAD;
        ev->sigev_notify_function = on_thread;
        ev->sigev_notify_attributes = &notify_attr;
        break;
    case SEV_TID:
        ev->sigev_notify = SIGEV_THREAD_ID;
        ev->sigev_signo = SIG_T;
        ev->_sigev_un._tid = main_tid;
        break;
    case SEV_BAD_NOTIFY: ev->sigev_notify = 99; ev->sigev_signo = SIG_A; break;
    case SEV_BAD_SIGHI: ev->sigev_notify = SIGEV_SIGNAL; ev->sigev_signo = SIGRTMAX + 1; break;
    case SEV_BAD_SIGNEG: ev->sigev_notify = SIGEV_SIGNAL; ev->sigev_signo = -1; break;
    case SEV_TID_BADSIG:
        ev->sigev_notify = SIGEV_THREAD_ID;
        ev->sigev_signo = 0;
        ev->_sigev_un._tid = main_tid;
        break;
    }
}

/* Expected notifications of an accepted request with sigevent `sev`. */
static int expected_notes(int sev)
{
    switch (sev) {
    case SEV_SIG: case SEV_THREAD: case SEV_THREAD_ATTR: return 1;
    case SEV_TID: return IS_KAIO;            /* E2 */
    default: return 0;
    }
}

/* ------------------------------------------------------------------ */
/* Files, pipe                                                         */

static void die(const char *what)
{
    printf("FAIL setup: %s: %s\n", what, errname(errno));
    fflush(stdout);
    if (paths[0][0]) unlink(paths[0]);
    if (paths[1][0]) unlink(paths[1]);
    _exit(2);
}

static void make_file(int slot, unsigned seed)
{
    snprintf(paths[slot], sizeof paths[slot], "%s/fuzz_diff.%d.F%d", t_dir(), (int)getpid(), slot);
    int fd = open(paths[slot], O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0) die("create");
    char *b = malloc(INIT_SIZE);
    fill_pat(b, INIT_SIZE, 0, seed);
    if (write(fd, b, INIT_SIZE) != (ssize_t)INIT_SIZE) die("write");
    free(b);
    close(fd);
}

static int open_direct(const char *p)
{
    int fd = have_direct ? open(p, O_RDWR | O_DIRECT) : -1;
    if (fd < 0) { have_direct = 0; fd = open(p, O_RDWR); }
    if (fd < 0) die("open");
    return fd;
}

static void setup_fds(void)
{
    make_file(0, 11);
    make_file(1, 22);
    fds[FK_F0] = open(paths[0], O_RDWR);
    fds[FK_F0RO] = open(paths[0], O_RDONLY);
    fds[FK_F1] = open(paths[1], O_RDWR);
    if (fds[FK_F0] < 0 || fds[FK_F0RO] < 0 || fds[FK_F1] < 0) die("open");
    fds[FK_F0D] = open_direct(paths[0]);
    fds[FK_F1D] = open_direct(paths[1]);
    if (!have_direct) {
        close(fds[FK_F0D]);
        fds[FK_F0D] = open(paths[0], O_RDWR);
        NOTE("O_DIRECT not supported in %s: direct descriptors are buffered", t_dir());
    }
    int p[2];
    if (pipe(p) != 0) die("pipe");
    fds[FK_PR] = p[0];
    fds[FK_PW] = p[1];
    if (fcntl(p[1], F_SETPIPE_SZ, PIPE_CAP) < 0) die("F_SETPIPE_SZ");
    fds[FK_BIG] = 1000000;
    fds[FK_INTMAX] = INT_MAX;
    fds[FK_NEG] = -1;
    snprintf(paths[2], sizeof paths[2], "%s", t_dir());
    fds[FK_DIR] = open(paths[2], O_RDONLY | O_DIRECTORY);
    if (fds[FK_DIR] < 0) die("open dir");
    if (fcntl(1000000, F_GETFL) != -1 || fcntl(INT_MAX, F_GETFL) != -1) die("fd 1000000 is open");
}

static size_t pipe_avail(void)
{
    int n = 0;
    if (ioctl(fds[FK_PR], FIONREAD, &n) != 0) die("FIONREAD");
    return (size_t)n;
}

static void pipe_write_all(size_t n)
{
    char *b = malloc(n ? n : 1);
    fill_pat(b, n, 0, 0x5eed0000u + fill_seq++);
    for (size_t done = 0; done < n;) {
        ssize_t w = write(fds[FK_PW], b + done, n - done);
        if (w <= 0) die("pipe fill");
        done += (size_t)w;
    }
    free(b);
}

/* Read what is in the pipe (nothing in flight on it), print size+checksum. */
static void pipe_drain(const char *why)
{
    size_t n = pipe_avail();
    char *b = malloc(n ? n : 1);
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fds[FK_PR], b + got, n - got);
        if (r <= 0) die("pipe drain");
        got += (size_t)r;
    }
    OUT("%s: pipe held %zu bytes cksum=%08x", why, n, cksum(b, n));
    free(b);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */

static int is_pipe_read(int id) { return rq[id].fk == FK_PR && rq[id].kind == RK_READ && rq[id].opcode == LIO_READ; }
static int is_pipe_write(int id) { return rq[id].fk == FK_PW && rq[id].kind == RK_WRITE; }

/* Does request `id` move data (its opcode is one that reads or writes)? */
static int moves_data(int id)
{
    const struct rspec *s = &rq[id];
    if (s->kind == RK_FSYNC) return 0;
    return s->opcode == LIO_READ || s->opcode == LIO_WRITE || s->opcode == 128 || s->opcode == 129;
}

/* File range for conflicts: [*a, *b), 4 KiB rounded; 0 if none. */
static int file_range(int id, unsigned long long *a, unsigned long long *b)
{
    const struct rspec *s = &rq[id];
    if (fk_file(s->fk) < 0 || !moves_data(id) || s->n == 0 || s->off < 0) return 0;
    if (s->kind == RK_WRITE && s->fk == FK_F0RO) return 0;
    unsigned long long lo = (unsigned long long)s->off;
    unsigned long long len = s->n > (8u << 20) ? (8u << 20) : s->n;
    unsigned long long hi = lo + len;
    if (hi < lo || hi > (1ull << 62)) hi = 1ull << 63;
    if (s->kind == RK_READ && hi > INIT_SIZE) hi = 1ull << 63;
    *a = lo & ~4095ull;
    *b = hi >= (1ull << 63) ? hi : (hi + 4095) & ~4095ull;
    return 1;
}

/* Is the request's submission expected to be rejected by both (static)? */
static int prio_bad(int id) { return rq[id].prio < 0 || rq[id].prio > 20; }
/* glibc checks aio_reqprio of reads and writes only (aio_fsync sets it to 0) */
static int prio_rejects(int id)
{
    return prio_bad(id) && rq[id].kind != RK_FSYNC && !opcode_sync(rq[id].opcode);
}

static int conflicts(int x, int y)
{
    unsigned long long a1, b1, a2, b2;
    if (fk_file(rq[x].fk) < 0 || fk_file(rq[x].fk) != fk_file(rq[y].fk)) return 0;
    if (!file_range(x, &a1, &b1) || !file_range(y, &a2, &b2)) return 0;
    int wx = rq[x].kind == RK_WRITE, wy = rq[y].kind == RK_WRITE;
    if (!wx && !wy) return 0;
    if (wx && wy && b1 > INIT_SIZE && b2 > INIT_SIZE) return 1;
    return a1 < b2 && a2 < b1;
}

static void wait_req(int id);
static void settle_pipe(void);

/* Whether the request's result is canonicalised: 0 no; 1 E1; 3 E3. */
static int canon(int id);

/* Wait, with aio_suspend, until `id` is no longer EINPROGRESS. The last call
 * of aio_suspend serialises with glibc's worker (it takes the requests lock):
 * glibc first stores 0, then EINVAL if the notification fails. */
static void suspend_until_done(int id)
{
    const struct aiocb *l[1] = {rs[id].cb};
    int spins = 0;
    do {
        if (aio_suspend(l, 1, NULL) != 0 && errno != EINTR) {
            OUT("R%d: aio_suspend(NULL timeout) failed: %s", id, errname(errno));
            if (++spins > 1000) die("aio_suspend keeps failing");
        }
    } while (aio_error(rs[id].cb) == EINPROGRESS);
}

/* After a request is known complete: record, compensate a cancelled write. */
static void reap(int id)
{
    struct rstate *r = &rs[id];
    if (r->reaped) return;
    r->reaped = 1;
    r->fin_err = aio_error(r->cb);
    r->fin_ret = aio_return(r->cb);
    if (r->cancel_raced && r->fin_err == ECANCELED && rq[id].kind == RK_WRITE) {
        ssize_t w = pwrite(r->fd, r->buf, rq[id].n, rq[id].off);
        NOTE("R%d: cancelled write re-done with pwrite: %zd (%s)", id, w, w < 0 ? errname(errno) : "0");
    }
    if (r->cancel_raced && r->fin_err == ECANCELED && rq[id].kind == RK_FSYNC) {
        if (fsync(r->fd) != 0) NOTE("R%d: fsync: %s", id, errname(errno));
    }
}

static void wait_req(int id)
{
    struct rstate *r = &rs[id];
    if (r->st != ST_INFLIGHT && !(r->st == ST_SEVINV && !IS_KAIO && !r->reaped)) return;
    if (rq[id].fk == FK_PR && pipe_wb >= 0 && id >= pipe_wb) {
        settle_pipe();
        if (r->st == ST_DONE || r->reaped) return;
    }
    suspend_until_done(id);
    reap(id);
    if (r->st == ST_INFLIGHT) r->st = ST_DONE;
}

static int inflight(int id)
{
    if (rs[id].prov) return 0;
    return rs[id].st == ST_INFLIGHT || (rs[id].st == ST_SEVINV && !IS_KAIO && !rs[id].reaped);
}

/* Make every request on the pipe complete: pipe writes; the reads before the
 * first one that blocks (they complete by themselves); then a fill of the
 * blocked reads' total length, and all the rest. */
static void settle_pipe(void)
{
    for (int i = 0; i < nreq; i++)
        if (inflight(i) && rq[i].fk == FK_PW) {
            suspend_until_done(i);
            reap(i);
            if (rs[i].st == ST_INFLIGHT) rs[i].st = ST_DONE;
        }
    size_t need = 0;
    for (int i = 0; i < nreq; i++) {
        if (!inflight(i) || rq[i].fk != FK_PR) continue;
        if (pipe_wb < 0 || i < pipe_wb) {
            suspend_until_done(i);
            reap(i);
            if (rs[i].st == ST_INFLIGHT) rs[i].st = ST_DONE;
        } else if (is_pipe_read(i) && !rs[i].det_cancel && rq[i].n <= SSIZE_MAX && rq[i].off >= 0) {
            need += rq[i].n > PIPE_MAXLEN ? PIPE_MAXLEN : rq[i].n;
        }
    }
    if (need) pipe_write_all(need);
    for (int i = 0; i < nreq; i++)
        if (inflight(i) && rq[i].fk == FK_PR) {
            suspend_until_done(i);
            reap(i);
            if (rs[i].st == ST_INFLIGHT) rs[i].st = ST_DONE;
        }
    pipe_wb = -1;
    if (pipe_avail() > PIPE_CAP / 2) pipe_drain("drain");
}

static int pipe_reads_inflight(void)
{
    for (int i = 0; i < nreq; i++)
        if ((inflight(i) || rs[i].prov) && is_pipe_read(i)) return 1;
    return 0;
}

static void wait_pipe_writes(void)
{
    for (int i = 0; i < nreq; i++)
        if (inflight(i) && rq[i].fk == FK_PW) wait_req(i);
}

static size_t pipe_writes_inflight_len(void)
{
    size_t s = 0;
    for (int i = 0; i < nreq; i++)
        if ((inflight(i) || rs[i].prov) && is_pipe_write(i)) s += rq[i].n > PIPE_MAXLEN ? 0 : rq[i].n;
    return s;
}

/* Set up aiocb + buffer of request id (not yet submitted). */
static void build_cb(int id)
{
    const struct rspec *s = &rq[id];
    struct rstate *r = &rs[id];
    r->cb = calloc(1, sizeof *r->cb);
    size_t need = s->n + (size_t)s->mis;
    if (s->n > (1u << 20) + 65536 || need < s->n) {
        r->alloc = HUGE_BUF + 4096;
        r->base = mmap(NULL, r->alloc, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (r->base == MAP_FAILED) die("mmap");
        if (mprotect(r->base + HUGE_BUF, 4096, PROT_NONE) != 0) die("mprotect");
        r->mapped = 1;
    } else {
        r->alloc = (need + 4095) / 4096 * 4096 + 4096;
        void *p = NULL;
        if (posix_memalign(&p, 4096, r->alloc) != 0) die("posix_memalign");
        r->base = p;
    }
    r->buf = r->base + s->mis;
    size_t usable = r->alloc - (size_t)s->mis - (r->mapped ? 4096 : 0);
    if (s->kind == RK_WRITE) fill_pat(r->buf, usable, 0, s->dseed);
    else memset(r->base, 0xA5, r->alloc - (r->mapped ? 4096 : 0));
    r->fd = fds[s->fk];
    r->cb->aio_fildes = r->fd;
    r->cb->aio_buf = r->buf;
    r->cb->aio_nbytes = s->n;
    r->cb->aio_offset = s->off;
    r->cb->aio_reqprio = s->prio;
    r->cb->aio_lio_opcode = s->opcode;
    set_sev(&r->cb->aio_sigevent, s->sev, id);
    r->prio_used = s->prio;
}

/* Before submitting request id (alone or as a lio entry): the replayer's
 * waits and the aio_reqprio override for pipe requests. Entries of a
 * lio_listio are prepared in list order, the earlier ones counted as in
 * flight. */
static void pre_submit(int id)
{
    struct rstate *r = &rs[id];
    const struct rspec *s = &rq[id];
    for (int i = 0; i < nreq; i++)
        if (i != id && inflight(i) && conflicts(i, id)) wait_req(i);
    if (s->fk == FK_PR) {
        /* FIFO consumption model: glibc runs one fd's requests in priority
         * order, kaio in call order; both agree while every request that
         * could be reordered has aio_reqprio 0 (the highest priority), so a
         * random priority is only kept behind a read that blocks. */
        int valid = !prio_rejects(id) && s->kind != RK_FSYNC;
        if (is_pipe_read(id)) {
            int reads_in = pipe_reads_inflight();
            if (!reads_in) {
                /* whatever else is queued on the read end (an fsync, a write
                 * failing EBADF) completes by itself: wait, so that a read that
                 * blocks now is its fd's running request in glibc */
                for (int i = 0; i < nreq; i++)
                    if (i != id && inflight(i) && rq[i].fk == FK_PR) wait_req(i);
                wait_pipe_writes();
                pipe_m = pipe_avail();
            }
            int consumes = valid && s->off >= 0 && s->n > 0 && s->n <= SSIZE_MAX;
            if (pipe_wb >= 0) {
                r->queued_behind = 1;
                NOTE("pipe: R%d queued behind blocked R%d, aio_reqprio %d", id, pipe_wb, r->prio_used);
            } else if (consumes && pipe_m == 0) {
                NOTE("pipe: R%d blocks (%s)", id, reads_in ? "behind other reads" : "running");
                r->will_block = 1;
                pipe_wb = id;
                if (reads_in) r->prio_used = 0;   /* queued: must not pass earlier ones */
            } else {
                if (valid) r->prio_used = 0;
                if (consumes) pipe_m -= s->n < pipe_m ? s->n : pipe_m;
            }
        } else if (pipe_wb >= 0) {
            r->queued_behind = 1;
        } else if (valid) {
            r->prio_used = 0;
        }
    } else if (s->fk == FK_PW && s->kind == RK_WRITE) {
        if (pipe_reads_inflight()) settle_pipe();
        size_t add = s->n > PIPE_MAXLEN ? 0 : s->n;
        if (pipe_avail() + pipe_writes_inflight_len() + add > PIPE_CAP / 2) {
            wait_pipe_writes();
            pipe_drain("drain");
        }
        if (s->prio >= 0 && s->prio <= 20) r->prio_used = 0;
    }
    r->cb->aio_reqprio = r->prio_used;
}

/* After a submission was accepted (or not). */
static void post_submit(int id, int accepted)
{
    struct rstate *r = &rs[id];
    r->accepted = accepted;
}


static const char *rkname(int id)
{
    const struct rspec *s = &rq[id];
    return s->kind == RK_FSYNC ? "fsync" : s->kind == RK_WRITE ? "write" : "read";
}

static void do_submit(int opi, int id)
{
    const struct rspec *s = &rq[id];
    build_cb(id);
    pre_submit(id);
    struct aiocb *cb = rs[id].cb;
    errno = 0;
    int ret;
    if (s->kind == RK_FSYNC)
        ret = s->use64 ? aio_fsync64(s->fsop, (struct aiocb64 *)cb) : aio_fsync(s->fsop, cb);
    else if (s->kind == RK_READ)
        ret = s->use64 ? aio_read64((struct aiocb64 *)cb) : aio_read(cb);
    else
        ret = s->use64 ? aio_write64((struct aiocb64 *)cb) : aio_write(cb);
    int e = errno;
    if (sev_invalid(s->sev) && !prio_rejects(id) && !(s->kind == RK_FSYNC && (s->fsop != O_SYNC && s->fsop != O_DSYNC))
        && !(s->kind == RK_FSYNC && fk_badfd(s->fk))) {
        /* E1: kaio rejects at submission; glibc accepts. */
        int ok = IS_KAIO ? (ret == -1 && e == EINVAL) : ret == 0;
        NOTE("R%d: submit with %s -> %d %s", id, sevname[s->sev], ret, ret ? errname(e) : "");
        if (ok) OUT("%d R%d %s %s sev=%s -> as documented (E1)", opi, id, rkname(id), fkname[s->fk], sevname[s->sev]);
        else OUT("%d R%d %s %s sev=%s -> UNEXPECTED %d %s", opi, id, rkname(id), fkname[s->fk], sevname[s->sev], ret, errname(e));
        rs[id].st = ST_SEVINV;
        post_submit(id, ret == 0);
        if (ret != 0) rs[id].reaped = 1;                     /* never taken */
        if (IS_KAIO && ret == 0) rs[id].st = ST_INFLIGHT;    /* a mismatch already */
        return;
    }
    OUT("%d R%d %s %s -> %d %s", opi, id, rkname(id), fkname[s->fk], ret, ret ? errname(e) : "");
    rs[id].st = ret == 0 ? ST_INFLIGHT : ST_REJECTED;
    post_submit(id, ret == 0);
}

static void do_lio(int opi)
{
    struct op *o = &ops[opi];
    struct aiocb *list[MAXENT + 1];
    int has_pr = 0, has_inv = 0, on_pr = 0;
    size_t prlen = 0, pwlen = 0;
    int valid_mode = o->lio_mode == LIO_WAIT || o->lio_mode == LIO_NOWAIT;
    int list_inv = o->lio_mode == LIO_NOWAIT && o->lio_sev >= 0 && sev_invalid(o->lio_sev);
    for (int j = 0; j < o->nent; j++) {
        int id = o->rid + j;
        list[j] = NULL;
        if (o->entnull >> j & 1 || !rq_on(id)) continue;
        build_cb(id);
        list[j] = rs[id].cb;
        if (rq[id].opcode == LIO_NOP) continue;
        /* an entry conflicting with an earlier one of the same list: LIO_NOP */
        for (int k = 0; k < j; k++) {
            int id2 = o->rid + k;
            if (list[k] && !rs[id2].nopped && rq[id2].opcode != LIO_NOP && conflicts(id, id2)) {
                rs[id].nopped = 1;
                rs[id].cb->aio_lio_opcode = LIO_NOP;
            }
        }
        if (rs[id].nopped) continue;
        if (rq[id].fk == FK_PR) on_pr = 1;
        if (is_pipe_read(id)) { has_pr = 1; prlen += rq[id].n > PIPE_MAXLEN ? PIPE_MAXLEN : rq[id].n; }
        if (is_pipe_write(id) && rq[id].n <= PIPE_MAXLEN) pwlen += rq[id].n;
        if (sev_invalid(rq[id].sev) && !prio_rejects(id)) has_inv = 1;
    }
    if (valid_mode) {
        if (o->lio_mode == LIO_WAIT && on_pr) {
            /* glibc would queue the entries behind a blocked pipe read: settle,
             * then make the list's own pipe reads satisfiable */
            settle_pipe();
            wait_pipe_writes();
            if (has_pr) pipe_write_all(prlen);
        }
        if (pwlen) {
            if (pipe_reads_inflight()) settle_pipe();
            if (pipe_avail() + pipe_writes_inflight_len() + pwlen > PIPE_CAP / 2) {
                wait_pipe_writes();
                pipe_drain("drain");
            }
        }
        /* per entry, in list order, as if submitted one by one; an entry
         * counts as in flight for the next ones (provisionally) */
        for (int j = 0; j < o->nent; j++) {
            int id = o->rid + j;
            if (!list[j] || rs[id].nopped || rq[id].opcode == LIO_NOP) continue;
            pre_submit(id);
            if (prio_rejects(id)) continue;
            if (list_inv || sev_invalid(rq[id].sev)) continue;
            rs[id].prov = 1;
        }
    }
    struct sigevent sev, *sp = NULL;
    if (o->lio_sev >= 0) {
        set_sev(&sev, o->lio_sev, LISTID + opi);
        sp = &sev;
    }
    errno = 0;
    int ret = o->use64 ? lio_listio64(o->lio_mode, (struct aiocb64 *const *)list, o->nent, (struct sigevent *)sp)
                       : lio_listio(o->lio_mode, list, o->nent, sp);
    int e = errno;
    int any_prio_bad = 0, kaio_queued = 0;
    for (int j = 0; j < o->nent; j++) {
        int id = o->rid + j;
        if (!list[j] || rs[id].nopped || rq[id].opcode == LIO_NOP) continue;
        int st;
        rs[id].prov = 0;
        if (!valid_mode) st = ST_REJECTED;
        else if (prio_rejects(id)) {
            st = ST_REJECTED;
            any_prio_bad = 1;
        } else if (list_inv || sev_invalid(rq[id].sev)) st = ST_SEVINV;
        else st = ST_INFLIGHT;
        rs[id].st = st;
        if (st == ST_INFLIGHT) kaio_queued = 1;
        int acc = st == ST_INFLIGHT || (st == ST_SEVINV && !IS_KAIO);
        if (st == ST_SEVINV && IS_KAIO) rs[id].reaped = 1;     /* kaio never took it */
        post_submit(id, acc);
    }
    if (valid_mode && o->lio_mode == LIO_WAIT) {
        /* LIO_WAIT returned: every accepted entry is complete */
        for (int j = 0; j < o->nent; j++) {
            int id = o->rid + j;
            if (!list[j] || rs[id].nopped || rq[id].opcode == LIO_NOP || !rs[id].accepted) continue;
            if (aio_error(rs[id].cb) == EINPROGRESS)
                OUT("%d R%d: EINPROGRESS after lio_listio(LIO_WAIT) returned", opi, id);
            suspend_until_done(id);
            reap(id);
            if (rs[id].st == ST_INFLIGHT) rs[id].st = ST_DONE;
        }
    }
    if (valid_mode && (list_inv || has_inv)) {
        NOTE("%d lio_listio with invalid sigevent -> %d %s", opi, ret, ret ? errname(e) : "");
        int ok;
        if (list_inv) ok = IS_KAIO ? (ret == -1 && e == EINVAL) : (any_prio_bad ? ret == -1 : ret == 0);
        /* kaio rejects such entries at enqueue: LIO_WAIT says EIO when some
         * entry was queued, else (as glibc with nothing queued) the enqueue
         * error, EINVAL. */
        else ok = IS_KAIO ? (ret == -1 && e == (o->lio_mode == LIO_WAIT && kaio_queued ? EIO : EINVAL))
                          : (ret == 0 || (ret == -1 && (e == EIO || e == EINVAL)));
        if (ok) OUT("%d lio_listio(%d entries) with invalid sigevent -> as documented (E1)", opi, o->nent);
        else OUT("%d lio_listio(%d entries) with invalid sigevent -> UNEXPECTED %d %s", opi, o->nent, ret, errname(e));
        return;
    }
    OUT("%d lio_listio(%d entries) -> %d %s", opi, o->nent, ret, ret ? errname(e) : "");
}

static int op_fd(int fk) { return fds[fk]; }

static int canon(int id)
{
    if (rs[id].st == ST_SEVINV) return 1;
    if (rs[id].cancel_raced) return 3;
    return 0;
}

static void do_cancel(int opi)
{
    struct op *o = &ops[opi];
    int id = o->ref[0];
    if (id < 0 || !op_on(rq_op[id]) || !rs[id].cb) { NOTE("%d cancel: target not submitted", opi); return; }
    struct rstate *r = &rs[id];
    const struct rspec *s = &rq[id];
    if (r->st == ST_SEVINV) { NOTE("%d cancel R%d: invalid sigevent request skipped", opi, id); return; }
    if (r->st == ST_REJECTED || r->nopped || s->opcode == LIO_NOP) {
        NOTE("%d cancel R%d: not accepted, skipped", opi, id);
        return;
    }
    int deterministic = 1;
    if (r->st == ST_INFLIGHT) {
        if (fk_badfd(s->fk)) {
            /* EBADF whatever the state */
        } else if (s->fk == FK_PR && r->queued_behind && pipe_wb >= 0 && id > pipe_wb && s->kind != RK_FSYNC
                   && !(avoiding("pipefail") && (!is_pipe_read(id) || s->off < 0 || s->n > SSIZE_MAX))) {
            /* queued behind a blocked read (glibc: one fd's requests run one
             * at a time; kaio: the read lane): AIO_CANCELED on both. Not an
             * fsync: kaio holds it behind any in-flight file write (E3). */
        } else if (fk_pipe(s->fk)) {
            wait_req(id);
        } else {
            /* glibc bug: cancelling its fd's first request while that one
             * waits for a thread (running == yes) promotes the next one
             * without putting it on the run list: everything queued behind
             * hangs forever. So no in-flight request may follow it on its fd. */
            for (int i = id + 1; i < nreq; i++)
                if (inflight(i) && rs[i].fd == r->fd) wait_req(i);
            deterministic = 0;
        }
    }
    errno = 0;
    int ret = aio_cancel(r->fd, r->cb);
    int e = errno;
    if (deterministic) {
        OUT("%d cancel R%d -> %d %s", opi, id, ret, ret < 0 ? errname(e) : "");
        if (ret == AIO_CANCELED && r->st == ST_INFLIGHT) r->det_cancel = 1;
    } else {
        NOTE("%d cancel R%d (racy, E3) -> %d %s", opi, id, ret, ret < 0 ? errname(e) : "");
        CHECK(ret == AIO_CANCELED || ret == AIO_NOTCANCELED || ret == AIO_ALLDONE,
              "op %d: aio_cancel of in-flight R%d: %d %s", opi, id, ret, errname(e));
        r->cancel_raced = 1;
        if (ret == AIO_CANCELED) r->cancel_res = 1, r->cancel_maybe = 1;
        else if (!r->cancel_maybe) r->must_not_cancel = 1;
    }
}

static void do_cancel_mismatch(int opi)
{
    struct op *o = &ops[opi];
    int id = o->ref[0];
    if (id < 0 || !op_on(rq_op[id]) || !rs[id].cb) { NOTE("%d cancel-mismatch: target not submitted", opi); return; }
    int fd = op_fd(o->fk);
    if (fd == rs[id].fd) { NOTE("%d cancel-mismatch: same fd, skipped", opi); return; }
    errno = 0;
    int ret = aio_cancel(fd, rs[id].cb);
    OUT("%d cancel(%s, &R%d) -> %d %s", opi, fkname[o->fk], id, ret, ret < 0 ? errname(errno) : "");
}

static void do_cancel_fd(int opi)
{
    struct op *o = &ops[opi];
    int fd = op_fd(o->fk);
    int racy = 0;
    if (o->fk == FK_PR || o->fk == FK_PW) {
        if (o->fk == FK_PR) settle_pipe();
        else wait_pipe_writes();
    } else if (!fk_badfd(o->fk)) {
        for (int i = 0; i < nreq; i++)
            if (inflight(i) && rs[i].fd == fd && rs[i].st == ST_INFLIGHT) racy = 1;
            else if (inflight(i) && rs[i].fd == fd) wait_req(i);   /* E1 requests (glibc only) */
    }
    errno = 0;
    int ret = aio_cancel(fd, NULL);
    int e = errno;
    if (!racy) {
        OUT("%d cancel(%s, NULL) -> %d %s", opi, fkname[o->fk], ret, ret < 0 ? errname(e) : "");
        return;
    }
    NOTE("%d cancel(%s, NULL) (racy, E3) -> %d %s", opi, fkname[o->fk], ret, ret < 0 ? errname(e) : "");
    CHECK(ret == AIO_CANCELED || ret == AIO_NOTCANCELED || ret == AIO_ALLDONE,
          "op %d: aio_cancel(fd, NULL): %d %s", opi, ret, errname(e));
    for (int i = 0; i < nreq; i++)
        if (inflight(i) && rs[i].fd == fd) {
            rs[i].cancel_raced = 1;
            rs[i].cancel_maybe = 1;      /* per-request outcome unknown */
        }
}

static void do_suspend(int opi)
{
    struct op *o = &ops[opi];
    const struct aiocb *list[4];
    int any_done = 0, any = 0;
    char desc[128] = "";
    for (int j = 0; j < o->nref; j++) {
        int id = o->ref[j];
        list[j] = NULL;
        if (id >= 0 && op_on(rq_op[id]) && rs[id].cb && !rs[id].nopped && rq[id].opcode != LIO_NOP
            && (rs[id].st == ST_INFLIGHT || rs[id].st == ST_DONE)) {
            list[j] = rs[id].cb;
            any = 1;
            if (rs[id].st == ST_DONE) any_done = 1;
            snprintf(desc + strlen(desc), sizeof desc - strlen(desc), "%sR%d", j ? "," : "", id);
        } else {
            snprintf(desc + strlen(desc), sizeof desc - strlen(desc), "%sNULL", j ? "," : "");
        }
    }
    /* {0,-1}: invalid (E4); glibc's wait with {0,1000000000} would last 1 s */
    struct timespec tmo[5] = {{0, 0}, {0, 1000000}, {0, 5000000}, {0, -1}, {-1, 0}};
    errno = 0;
    int ret = aio_suspend(list, o->nref, &tmo[o->tmo]);
    int e = errno;
    if (o->tmo == 3) {
        /* E4: kaio -1/EINVAL; glibc: a timed wait (0 if a listed one is done) */
        int ok;
        if (IS_KAIO) ok = ret == -1 && e == EINVAL;
        else if (!any || any_done) ok = ret == 0;
        else ok = ret == 0 || (ret == -1 && e == EAGAIN);     /* expires at once */
        NOTE("%d suspend([%s], tv_nsec=-1) -> %d %s", opi, desc, ret, ret ? errname(e) : "");
        if (ok) OUT("%d suspend([%s], tv_nsec=-1) -> as documented (E4)", opi, desc);
        else OUT("%d suspend([%s], tv_nsec=-1) -> UNEXPECTED %d %s", opi, desc, ret, errname(e));
        return;
    }
    if (!any || any_done) {
        OUT("%d suspend([%s], tmo%d) -> %d %s", opi, desc, o->tmo, ret, ret ? errname(e) : "");
        return;
    }
    NOTE("%d suspend([%s], tmo%d) (racy) -> %d %s", opi, desc, o->tmo, ret, ret ? errname(e) : "");
    CHECK(ret == 0 || (ret == -1 && e == EAGAIN), "op %d: aio_suspend -> %d %s", opi, ret, errname(e));
    if (ret == 0) {
        int done = 0;
        for (int j = 0; j < o->nref; j++)
            if (list[j] && aio_error(list[j]) != EINPROGRESS) done = 1;
        CHECK(done, "op %d: aio_suspend returned 0 but every listed request is in progress", opi);
    }
}

static void do_error_return(int opi, int is_return)
{
    struct op *o = &ops[opi];
    int id = o->ref[0];
    if (id < 0 || !op_on(rq_op[id]) || !rs[id].cb || rs[id].nopped || rq[id].opcode == LIO_NOP) {
        NOTE("%d error/return: target not submitted", opi);
        return;
    }
    struct rstate *r = &rs[id];
    if (r->st != ST_INFLIGHT && r->st != ST_DONE) { NOTE("%d error/return R%d: not accepted", opi, id); return; }
    if (r->st == ST_DONE && !canon(id)) {
        if (is_return) OUT("%d aio_return(R%d) -> %zd", opi, id, aio_return(r->cb));
        else OUT("%d aio_error(R%d) -> %s", opi, id, errname(aio_error(r->cb)));
        return;
    }
    if (is_return) NOTE("%d aio_return(R%d) (racy) -> %zd", opi, id, aio_return(r->cb));
    else NOTE("%d aio_error(R%d) (racy) -> %s", opi, id, errname(aio_error(r->cb)));
}

static void wait_all(void)
{
    settle_pipe();
    for (int i = 0; i < nreq; i++)
        if (inflight(i)) wait_req(i);
}

/* ------------------------------------------------------------------ */
/* End: notifications, final states, files                             */

static int expected_for(int id)
{
    struct rstate *r = &rs[id];
    if (!r->cb || r->nopped || rq[id].opcode == LIO_NOP) return 0;
    if (r->st == ST_NONE || r->st == ST_REJECTED) return 0;
    if (r->st == ST_SEVINV) return IS_KAIO || sev_invalid(rq[id].sev) ? 0 : expected_notes(rq[id].sev);
    return expected_notes(rq[id].sev);
}

static int expected_list(int opi)
{
    struct op *o = &ops[opi];
    if (o->k != OP_LIO || !op_on(opi)) return 0;
    if (o->lio_mode != LIO_NOWAIT || o->lio_sev < 0) return 0;
    if (sev_invalid(o->lio_sev)) return 0;
    return expected_notes(o->lio_sev);
}

static void settle_notifications(void)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        drain_signals();
        int missing = 0;
        for (int i = 0; i < nreq; i++)
            if (atomic_load(&ncount[i]) < expected_for(i)) missing = 1;
        for (int i = 0; i < nops; i++)
            if (atomic_load(&ncount[LISTID + i]) < expected_list(i)) missing = 1;
        clock_gettime(CLOCK_MONOTONIC, &t);
        double el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
        if (!missing || el > 3.0) {
            if (missing) NOTE("notifications still missing after %.1f s", el);
            break;
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    struct timespec grace = {0, 20000000};
    nanosleep(&grace, NULL);
    drain_signals();
}

static void notes_str(char *b, size_t bl, int sev, int got, int exp)
{
    if (sev == SEV_TID) {
        if (got == exp) snprintf(b, bl, "notify=%s:ok(E2)", sevname[sev]);
        else snprintf(b, bl, "notify=%s:UNEXPECTED %d (E2 wants %d)", sevname[sev], got, exp);
    } else {
        snprintf(b, bl, "notify=%s:%d", sevname[sev], got);
    }
}

static void final_report(void)
{
    /* a seeded order, aio_return and aio_error in a random order, twice */
    int order[MAXREQ];
    for (int i = 0; i < nreq; i++) order[i] = i;
    for (int i = nreq - 1; i > 0; i--) {
        int j = (int)rnd((unsigned)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int k = 0; k < nreq; k++) {
        int id = order[k];
        struct rstate *r = &rs[id];
        const struct rspec *s = &rq[id];
        if (!r->cb || !op_on(rq_op[id])) continue;
        if (r->nopped || s->opcode == LIO_NOP) continue;
        char nb[96];
        int got = atomic_load(&ncount[id]);
        if (r->st == ST_REJECTED) {
            if (got) OUT("end R%d: rejected but notified %d times", id, got);
            continue;
        }
        if (r->st == ST_SEVINV) {
            /* E1: glibc did it; kaio never accepted it */
            if (IS_KAIO) {
                CHECK(got == 0, "R%d: kaio notified a rejected request", id);
                OUT("end R%d sev=%s: as documented (E1)", id, sevname[s->sev]);
                continue;
            }
            int err = aio_error(r->cb);
            ssize_t ret = aio_return(r->cb);
            int want_einval = s->sev == SEV_BAD_SIGHI || s->sev == SEV_BAD_SIGNEG;
            NOTE("end R%d (E1, glibc) err=%s ret=%zd notified=%d", id, errname(err), ret, got);
            int ok = want_einval ? (err == EINVAL && ret == -1) : (err != EINPROGRESS && err != ECANCELED);
            if (ok && got == expected_for(id)) OUT("end R%d sev=%s: as documented (E1)", id, sevname[s->sev]);
            else OUT("end R%d sev=%s: UNEXPECTED glibc err=%s ret=%zd notified=%d", id, sevname[s->sev], errname(err), ret, got);
            continue;
        }
        int err, err2;
        ssize_t ret, ret2;
        if ((order[(k + 1) % nreq] ^ id) & 1) { ret = aio_return(r->cb); err = aio_error(r->cb); }
        else { err = aio_error(r->cb); ret = aio_return(r->cb); }
        err2 = aio_error(r->cb);
        ret2 = aio_return(r->cb);
        CHECK(err == err2 && ret == ret2, "R%d: aio_error/aio_return changed: %s/%zd then %s/%zd", id,
              errname(err), ret, errname(err2), ret2);
        CHECK(err == r->fin_err && ret == r->fin_ret, "R%d: final state changed since completion: %s/%zd, was %s/%zd",
              id, errname(err), ret, errname(r->fin_err), r->fin_ret);
        CHECK(err != EINPROGRESS, "R%d: still EINPROGRESS at the end", id);
        CHECK((err == 0) == (ret >= 0), "R%d: aio_error %s but aio_return %zd", id, errname(err), ret);
        notes_str(nb, sizeof nb, s->sev, got, expected_for(id));
        if (r->cancel_raced) {
            NOTE("end R%d (cancel-raced, E3) err=%s ret=%zd cancel=%d", id, errname(err), ret, r->cancel_res);
            if (r->cancel_res)
                CHECK(err == ECANCELED && ret == -1, "R%d: AIO_CANCELED but ends %s/%zd", id, errname(err), ret);
            if (r->must_not_cancel)
                CHECK(err != ECANCELED, "R%d: aio_cancel said NOTCANCELED/ALLDONE but the request ends ECANCELED", id);
            OUT("end R%d %s %s: cancel-raced (E3) %s", id, rkname(id), fkname[s->fk], nb);
            continue;
        }
        if (err == 0 && s->kind == RK_READ && ret > 0) {
            size_t len = (size_t)ret;
            size_t usable = r->alloc - (size_t)s->mis - (r->mapped ? 4096 : 0);
            if (len > usable) {
                OUT("end R%d %s %s: err=0 ret=%zd LARGER THAN THE BUFFER (%zu) %s", id, rkname(id), fkname[s->fk], ret, usable, nb);
                continue;
            }
            OUT("end R%d %s %s: err=0 ret=%zd data=%08x %s", id, rkname(id), fkname[s->fk], ret, cksum(r->buf, len), nb);
        } else {
            OUT("end R%d %s %s: err=%s ret=%zd %s", id, rkname(id), fkname[s->fk], errname(err), ret, nb);
        }
    }
    for (int i = 0; i < nops; i++) {
        if (ops[i].k != OP_LIO || !op_on(i) || ops[i].lio_sev < 0) continue;
        int got = atomic_load(&ncount[LISTID + i]);
        if (ops[i].lio_mode == LIO_NOWAIT && sev_invalid(ops[i].lio_sev)) {
            if (got) OUT("end list %d: invalid list sigevent notified %d times", i, got);
            continue;
        }
        if (ops[i].lio_mode != LIO_NOWAIT) {
            if (got) OUT("end list %d: LIO_WAIT/bad mode list sigevent notified %d times", i, got);
            continue;
        }
        char nb[96];
        notes_str(nb, sizeof nb, ops[i].lio_sev, got, expected_list(i));
        OUT("end list %d: %s", i, nb);
    }
    if (atomic_load(&badcode)) OUT("signals without SI_ASYNCIO: %d", atomic_load(&badcode));
    if (atomic_load(&badvalue)) OUT("signals with an unknown value: %d", atomic_load(&badvalue));
    /* files */
    for (int f = 0; f < 2; f++) {
        int fd = open(paths[f], O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) die("reopen");
        uint32_t h = 2166136261u;
        char *b = malloc(1 << 20);
        if (st.st_size > (256ll << 20)) {
            OUT("file F%d: size=%lld (not checksummed: too large)", f, (long long)st.st_size);
            free(b);
            close(fd);
            continue;
        }
        for (off_t o = 0; o < st.st_size;) {
            ssize_t n = pread(fd, b, 1 << 20, o);
            if (n <= 0) die("pread");
            for (ssize_t i = 0; i < n; i++) { h ^= (unsigned char)b[i]; h *= 16777619u; }
            o += n;
        }
        free(b);
        close(fd);
        OUT("file F%d: size=%lld cksum=%08x", f, (long long)st.st_size, h);
    }
    pipe_drain("end");
}

/* ------------------------------------------------------------------ */
/* run                                                                 */

static void hang(int sig)
{
    (void)sig;
    static const char msg[] = "HANG: watchdog fired (a request never completed?)\n";
    (void)!write(1, msg, sizeof msg - 1);
    if (paths[0][0]) unlink(paths[0]);
    if (paths[1][0]) unlink(paths[1]);
    _exit(3);
}

static int cmd_run(uint64_t seed)
{
    gen(seed);
    t_init("fuzz_diff", 0);
    const char *wd = getenv("FUZZ_WATCHDOG");
    signal(SIGALRM, hang);
    alarm(wd && *wd ? (unsigned)atoi(wd) : 20);
    main_tid = (pid_t)syscall(SYS_gettid);
    SIG_A = SIGRTMIN + 1;
    SIG_T = SIGRTMIN + 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIG_A, &sa, NULL);
    sigaction(SIG_T, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIG_A);
    sigaddset(&set, SIG_T);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_attr_init(&notify_attr);
    pthread_attr_setdetachstate(&notify_attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&notify_attr, 256 << 10);
    setup_fds();
    char rqs[RQW * 16 + 1];
    rqmask_str(rqs, sizeof rqs, rqmask);
    OUT("seed %llu mask %llx %s: %d ops, %d requests%s", (unsigned long long)seed, (unsigned long long)opmask,
        rqs, nops, nreq, have_direct ? "" : " (no O_DIRECT)");
    for (int i = 0; i < nops; i++) {
        if (!op_on(i)) continue;
        struct op *o = &ops[i];
        switch (o->k) {
        case OP_SUBMIT: do_submit(i, o->rid); break;
        case OP_LIO: do_lio(i); break;
        case OP_CANCEL: do_cancel(i); break;
        case OP_CANCEL_FD: do_cancel_fd(i); break;
        case OP_CANCEL_MISMATCH: do_cancel_mismatch(i); break;
        case OP_SUSPEND: do_suspend(i); break;
        case OP_ERROR: do_error_return(i, 0); break;
        case OP_RETURN: do_error_return(i, 1); break;
        case OP_WAIT: {
            int id = o->ref[0];
            if (id < 0 || !op_on(rq_op[id]) || !rs[id].cb) { NOTE("%d wait: not submitted", i); break; }
            wait_req(id);
            if (rs[id].st == ST_DONE && !canon(id))
                OUT("%d wait R%d -> %s %zd", i, id, errname(rs[id].fin_err), rs[id].fin_ret);
            else
                NOTE("%d wait R%d -> %s %zd (canonicalised: E%d)", i, id, errname(rs[id].fin_err), rs[id].fin_ret, canon(id));
            break;
        }
        case OP_WAITALL: wait_all(); OUT("%d wait_all", i); break;
        case OP_FILL:
            settle_pipe();
            if (pipe_avail() + o->fill > PIPE_CAP / 2) pipe_drain("drain");
            pipe_write_all(o->fill);
            break;
        }
    }
    wait_all();
    settle_notifications();
    final_report();
    unlink(paths[0]);
    unlink(paths[1]);
    return t_done();
}

static int cmd_show(uint64_t seed)
{
    gen(seed);
    printf("/* seed %llu, mask %llx%s: %d ops (%d shown) */\n", (unsigned long long)seed,
           (unsigned long long)opmask, rqmask_full() ? "" : " (some lio_listio entries left out)", nops, __builtin_popcountll(opmask & (nops >= 64 ? ~0ull : ((1ull << nops) - 1))));
    for (int i = 0; i < nops; i++)
        if (op_on(i)) show_op(stdout, i);
    printf("  /* then: wait for every request, fill the pipe for pending reads */\n");
    return 0;
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */

struct runout {
    char *text;
    size_t len;
    int status;
};

static char self_path[4096];

/* Run `bin run seed mask` with LD_PRELOAD=preload (or none); capture stdout. */
static struct runout spawn(const char *bin, const char *preload, uint64_t seed, uint64_t mask, const uint64_t *rqm,
                           const char *expect)
{
    struct runout ro = {NULL, 0, -1};
    int p[2];
    if (pipe(p) != 0) { perror("pipe"); exit(2); }
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); exit(2); }
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0) { dup2(dn, 2); close(dn); }
        if (preload) setenv("LD_PRELOAD", preload, 1);
        else unsetenv("LD_PRELOAD");
        setenv("KAIO_TEST_EXPECT", expect, 1);
        char s[32], m[32], r[RQW * 16 + 1];
        snprintf(s, sizeof s, "%llu", (unsigned long long)seed);
        snprintf(m, sizeof m, "%llx", (unsigned long long)mask);
        rqmask_str(r, sizeof r, rqm);
        execl(bin, bin, "run", s, m, r, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    size_t cap = 1 << 16;
    ro.text = malloc(cap);
    for (;;) {
        if (ro.len + 4096 > cap) ro.text = realloc(ro.text, cap *= 2);
        ssize_t n = read(p[0], ro.text + ro.len, cap - ro.len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        ro.len += (size_t)n;
    }
    ro.text[ro.len] = 0;
    close(p[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    ro.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return ro;
}

/* Compared lines only (not '#'), plus the exit status. */
static char *compared(const struct runout *ro)
{
    char *out = malloc(ro->len + 64), *w = out;
    const char *p = ro->text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p + 1) : strlen(p);
        if (*p != '#') { memcpy(w, p, l); w += l; }
        p += l;
    }
    w += sprintf(w, "exit status %d\n", ro->status);
    *w = 0;
    return out;
}

/* First differing line: returns 1 and copies both lines, or 0 if equal. */
static int first_diff(const char *a, const char *b, char *la, char *lb, size_t l, int *lineno)
{
    int ln = 1;
    while (*a || *b) {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        size_t na = ea ? (size_t)(ea - a) : strlen(a), nb = eb ? (size_t)(eb - b) : strlen(b);
        if (na != nb || memcmp(a, b, na) != 0) {
            snprintf(la, l, "%.*s", (int)na, a);
            snprintf(lb, l, "%.*s", (int)nb, b);
            *lineno = ln;
            return 1;
        }
        a += na + (ea ? 1 : 0);
        b += nb + (eb ? 1 : 0);
        ln++;
    }
    return 0;
}

static const char *opt_lib, *opt_linked;

struct verdict {
    int differ;          /* transcripts differ */
    int failed;          /* a run failed a CHECK or crashed, identically or not */
    char la[512], lb[512], which[16];
    int lineno;
    char *ga, *gb;
};

static int backend_ok(const struct runout *ro, const char *want)
{
    char pat[64];
    snprintf(pat, sizeof pat, "backend %s", want);
    return strstr(ro->text, pat) != NULL;
}

static struct verdict compare_seed(uint64_t seed, uint64_t mask, const uint64_t *rqm, int twice)
{
    struct verdict v;
    memset(&v, 0, sizeof v);
    struct runout g = spawn(self_path, NULL, seed, mask, rqm, "glibc");
    char *cg = compared(&g);
    struct { const char *name, *bin, *pre; } others[3];
    int no = 0;
    if (twice) others[no++] = (typeof(others[0])){"glibc#2", self_path, NULL};
    if (opt_lib) others[no++] = (typeof(others[0])){"preload", self_path, opt_lib};
    if (opt_linked) others[no++] = (typeof(others[0])){"linked", opt_linked, NULL};
    if (g.status != 0 || strstr(cg, "FAIL")) v.failed = 1;
    for (int i = 0; i < no && !v.differ; i++) {
        int is_glibc = others[i].pre == NULL && others[i].bin == self_path;
        struct runout k = spawn(others[i].bin, others[i].pre, seed, mask, rqm, is_glibc ? "glibc" : "kaio");
        char *ck = compared(&k);
        if (!backend_ok(&k, is_glibc ? "glibc" : "kaio")) {
            v.differ = 1;
            snprintf(v.which, sizeof v.which, "%s", others[i].name);
            snprintf(v.la, sizeof v.la, "(glibc run)");
            snprintf(v.lb, sizeof v.lb, "the %s run is not served by the expected backend", others[i].name);
        } else if (first_diff(cg, ck, v.la, v.lb, sizeof v.la, &v.lineno)) {
            v.differ = 1;
            snprintf(v.which, sizeof v.which, "%s", others[i].name);
            v.ga = strdup(cg);
            v.gb = strdup(ck);
        }
        if (k.status != 0 || strstr(ck, "FAIL")) v.failed = 1;
        free(ck);
        free(k.text);
    }
    if (v.failed && !v.differ) {
        snprintf(v.which, sizeof v.which, "all");
        const char *f = strstr(cg, "FAIL");
        snprintf(v.la, sizeof v.la, "%.*s", f ? (int)strcspn(f, "\n") : 0, f ? f : "");
    }
    free(cg);
    free(g.text);
    return v;
}

static int mask_count(uint64_t m, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++) c += (int)(m >> i & 1);
    return c;
}

/* Remove ops, then lio_listio entries, while the mismatch persists (delta
 * debugging, bounded). The result is in *mask and rqm[]. */
static void shrink(uint64_t seed, int n, int twice, uint64_t *maskp, uint64_t *rqm)
{
    uint64_t mask = n >= 64 ? ~0ull : (1ull << n) - 1;
    for (int i = 0; i < RQW; i++) rqm[i] = ~0ull;
    int trials = 0;
    const int max_trials = 400;
    for (int chunk = n / 2; chunk >= 1 && trials < max_trials; chunk /= 2) {
        int progress = 1;
        while (progress && trials < max_trials) {
            progress = 0;
            for (int start = 0; start < n && trials < max_trials; start += chunk) {
                uint64_t rm = 0;
                for (int i = start; i < start + chunk && i < n; i++) rm |= 1ull << i;
                if (!(mask & rm) || !(mask & ~rm)) continue;
                uint64_t trial = mask & ~rm;
                trials++;
                struct verdict v = compare_seed(seed, trial, rqm, twice);
                free(v.ga);
                free(v.gb);
                if (v.differ) {
                    mask = trial;
                    progress = 1;
                }
            }
        }
    }
    /* entries of the lio_listio calls left */
    int progress = 1;
    while (progress && trials < max_trials) {
        progress = 0;
        for (int id = 0; id < nreq && trials < max_trials; id++) {
            int opi = rq_op[id];
            if (!(mask >> opi & 1) || ops[opi].k != OP_LIO) continue;
            if (!(rqm[id / 64] >> (id % 64) & 1) || (ops[opi].entnull >> (id - ops[opi].rid) & 1)) continue;
            rqm[id / 64] &= ~(1ull << (id % 64));
            trials++;
            struct verdict v = compare_seed(seed, mask, rqm, twice);
            free(v.ga);
            free(v.gb);
            if (v.differ) progress = 1;
            else rqm[id / 64] |= 1ull << (id % 64);
        }
    }
    printf("  (shrinking: %d trials, %d -> %d ops)\n", trials, n, mask_count(mask, n));
    *maskp = mask;
}

static void print_context(const char *line)
{
    /* "N R.." lines name an op; "end Rk" lines name request k */
    int opi = -1, id = -1;
    if (sscanf(line, "%d", &opi) != 1) opi = -1;
    const char *r = strstr(line, " R");
    if (r) id = atoi(r + 2);
    if (opi < 0 && id >= 0 && id < nreq) opi = rq_op[id];
    if (opi >= 0 && opi < nops) {
        printf("  the op involved:\n");
        show_op(stdout, opi);
    }
}

static int cmd_fuzz(int argc, char **argv)
{
    uint64_t from = 1, count = 200;
    int twice = 0, do_shrink = 1, verbose = 0, brief = 0, first = 0;
    opt_lib = getenv("KAIO_LIB");
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--lib") && i + 1 < argc) opt_lib = argv[++i];
        else if (!strcmp(argv[i], "--linked") && i + 1 < argc) opt_linked = argv[++i];
        else if (!strcmp(argv[i], "--from") && i + 1 < argc) from = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--seeds") && i + 1 < argc) count = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--twice")) twice = 1;
        else if (!strcmp(argv[i], "--no-shrink")) do_shrink = 0;
        else if (!strcmp(argv[i], "--brief")) brief = 1, do_shrink = 0;
        else if (!strcmp(argv[i], "--first")) first = 1;
        else if (!strcmp(argv[i], "-v")) verbose = 1;
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    if (opt_lib && !*opt_lib) opt_lib = NULL;
    if (!opt_lib && !opt_linked && !twice) {
        fprintf(stderr, "fuzz_diff fuzz: give --lib libkaio.so (or KAIO_LIB) and/or --linked BIN\n");
        return 2;
    }
    ssize_t sl = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (sl <= 0) { perror("readlink"); return 2; }
    self_path[sl] = 0;
    int bad = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t seed = from; seed < from + count; seed++) {
        uint64_t full[RQW];
        for (int i = 0; i < RQW; i++) full[i] = ~0ull;
        struct verdict v = compare_seed(seed, ~0ull, full, twice);
        if (verbose) fprintf(stderr, "seed %llu: %s\n", (unsigned long long)seed, v.differ ? "MISMATCH" : v.failed ? "FAIL" : "ok");
        if (!v.differ && !v.failed) continue;
        bad++;
        gen(seed);
        if (!v.differ) {
            printf("SEED %llu: a run failed identically on every backend (a check or a crash): %s\n",
                   (unsigned long long)seed, v.la);
            printf("  replay: fuzz_diff run %llu\n", (unsigned long long)seed);
            continue;
        }
        printf("MISMATCH seed %llu (glibc vs %s), transcript line %d:\n  glibc: %s\n  %-6s: %s\n",
               (unsigned long long)seed, v.which, v.lineno, v.la, v.which, v.lb);
        if (brief) {
            printf("  reproduce and shrink: %s%s%smake fuzz FROM=%llu SEEDS=1\n", avoid ? "FUZZ_AVOID=" : "",
                   avoid ? avoid : "", avoid ? " " : "", (unsigned long long)seed);
            free(v.ga);
            free(v.gb);
            continue;
        }
        print_context(v.la);
        free(v.ga);
        free(v.gb);
        fflush(stdout);
        uint64_t mask = nops >= 64 ? ~0ull : (1ull << nops) - 1, rqm[RQW];
        for (int i = 0; i < RQW; i++) rqm[i] = ~0ull;
        if (do_shrink) shrink(seed, nops, twice, &mask, rqm);
        opmask = mask;
        memcpy(rqmask, rqm, sizeof rqmask);
        struct verdict v2 = compare_seed(seed, mask, rqm, twice);
        char rqs[RQW * 16 + 1];
        rqmask_str(rqs, sizeof rqs, rqm);
        char env[600];
        snprintf(env, sizeof env, "%s%s%s", avoid ? "FUZZ_AVOID=" : "", avoid ? avoid : "", avoid ? " " : "");
        printf("  minimal reproducer (seed, op mask, entry mask):\n");
        printf("    glibc: %s%s run %llu %llx %s\n", env, self_path, (unsigned long long)seed, (unsigned long long)mask, rqs);
        if (opt_lib)
            printf("    kaio:  %sLD_PRELOAD=%s %s run %llu %llx %s\n", env, opt_lib, self_path,
                   (unsigned long long)seed, (unsigned long long)mask, rqs);
        printf("    code:  %s%s show %llu %llx %s\n", env, self_path, (unsigned long long)seed, (unsigned long long)mask, rqs);
        if (v2.differ) printf("  which differs at: glibc: %s\n                    %-6s: %s\n", v2.la, v2.which, v2.lb);
        else printf("  (the shrunk sequence did not reproduce on re-run: timing-dependent?)\n");
        free(v2.ga);
        free(v2.gb);
        cmd_show(seed);
        opmask = ~0ull;
        for (int i = 0; i < RQW; i++) rqmask[i] = ~0ull;
        fflush(stdout);
        if (first) { count = seed - from + 1; break; }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("fuzz_diff: seeds %llu..%llu: %d of %llu differ or fail (%.1f s)\n", (unsigned long long)from,
           (unsigned long long)(from + count - 1), bad, (unsigned long long)count, el);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && (!strcmp(argv[1], "run") || !strcmp(argv[1], "show"))) {
        uint64_t seed = strtoull(argv[2], NULL, 0);
        if (argc >= 4) opmask = strtoull(argv[3], NULL, 16);
        if (argc >= 5) rqmask_parse(argv[4], rqmask);
        return !strcmp(argv[1], "run") ? cmd_run(seed) : cmd_show(seed);
    }
    if (argc >= 2 && !strcmp(argv[1], "fuzz")) return cmd_fuzz(argc, argv);
    fprintf(stderr, "usage: fuzz_diff run SEED [MASK] | show SEED [MASK] | fuzz [--lib LIB] [--linked BIN] "
                    "[--from S] [--seeds N] [--twice] [--no-shrink] [-v]\n");
    return 2;
}
