/* POSIX lio_listio(LIO_NOWAIT): "asynchronous notification shall occur ...
 * when all the I/O operations complete"; each entry is submitted "as if by
 * a call to aio_read() / aio_write()", so each also notifies by its own
 * aio_sigevent. glibc sends a request's own notification first and only
 * then counts it down in its list (rt/aio_notify.c), so when the list
 * notification arrives every member's notification has already been sent.
 * This test requires that order, and that each notification arrives
 * exactly once, with aio_error already done (not EINPROGRESS) when it runs.
 *
 * Every round: one lio_listio(LIO_NOWAIT) of 4 members — a buffered write
 * (kaio: page cache or pool), an O_DIRECT read (kernel ring; buffered if the
 * file system refuses O_DIRECT), a pipe read (fed before the call in even
 * rounds: inline; after it in odd rounds: poll), a page-cache read (inline)
 * — each with its own sigevent, plus a list sigevent. Combinations
 * (member / list):
 *   sig-sig   SIGEV_SIGNAL / SIGEV_SIGNAL, 200 rounds. Signals are blocked
 *             in every thread and collected by main only (sigtimedwait);
 *             the list signal has the lower number, so it is dequeued first
 *             whenever both are pending: on it, main drains the member
 *             signals that are pending (zero timeout); all 4 must be there.
 *   sig-thr   SIGEV_SIGNAL / SIGEV_THREAD, 100 rounds. Main never dequeues
 *             the member signal; the list's notification thread is the only
 *             thread that does not block it, so the member signals queued
 *             before that thread was created are handled (SA_SIGINFO
 *             handler) in it before its function body runs: all 4 counted.
 *   thr-sig   SIGEV_THREAD / SIGEV_SIGNAL, 100 rounds. "Sent" for
 *             SIGEV_THREAD is the creation of the thread: each member's
 *             sigev_notify_attributes carries a stack of the test's own,
 *             filled with a canary; pthread_create writes the new thread's
 *             descriptor at its top before it returns. When the list signal
 *             is handled, every member's stack must be in use.
 *   thr-thr   SIGEV_THREAD / SIGEV_THREAD, 100 rounds, same check in the
 *             list's function.
 *   tid-sig, tid-thr (kaio only: glibc ignores SIGEV_THREAD_ID; NOTE lines)
 *             SIGEV_THREAD_ID to the main thread, one signal number per
 *             member; main does not dequeue them during the round. tid-sig:
 *             on the list signal, all 4 pending or collected; tid-thr: the
 *             list function reads main's pending set (/proc) and needs all 4.
 * Member functions and the list function block every signal before they
 * return, so a thread that is exiting never takes a later round's signal. */
#include "harness.h"
#include <sys/mman.h>
#include <sys/syscall.h>

#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

#define N 4
#define MAXROUNDS 200
#define STACK (64 * 1024)
#define CANARY (16 * 1024)
enum { M_BUFW, M_DIRECT, M_PIPE, M_HOT };
enum kind { K_SIG, K_THR, K_TID };
static const char *kname[] = { "sig", "thr", "tid" };

static int LSIG, RSIG, TSIG0; /* list, member, first of 4 THREAD_ID signals */
static pid_t main_tid;

static struct aiocb cb[N];
static volatile int cur_round;
static enum kind cur_member, cur_list;
static unsigned char *stacks; /* this combination's stacks: rounds x N */
static pthread_attr_t attrs[N];

/* Per round (reset by main before each lio_listio). */
static int member_seen[N];   /* notifications of each member */
static int member_fn_done[N];
static int list_seen, list_done;
/* Per combination. */
static int bad_inprog_member; /* a member's notification saw EINPROGRESS */
static int bad_inprog_list;   /* the list's saw a member EINPROGRESS */
static int bad_order;         /* list before some member's notification */
static int bad_dup;           /* a notification twice, or for another round */
static int bad_code;          /* si_code != SI_ASYNCIO */
static int bad_result;        /* wrong data or count */
static int bad_timeout;       /* a round did not finish within 2 s */

static inline int ld(int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void inc(int *p) { __atomic_fetch_add(p, 1, __ATOMIC_ACQ_REL); }

static unsigned char *stack_of(int round, int i)
{
    return stacks + ((size_t)round * N + (size_t)i) * STACK;
}

/* The member's SIGEV_THREAD thread exists: the canary at its stack's top is
 * gone (pthread_create put the thread descriptor and TLS there). */
static int stack_used(int round, int i)
{
    const unsigned char *top = stack_of(round, i) + STACK - CANARY;
    for (int k = 0; k < CANARY; k++)
        if (top[k] != 0xA5) return 1;
    return 0;
}

static void member_note(int value)
{
    int round = value >> 4, i = value & 15;
    if (round != cur_round || i < 0 || i >= N) { inc(&bad_dup); return; }
    if (aio_error(&cb[i]) == EINPROGRESS) inc(&bad_inprog_member);
    if (__atomic_fetch_add(&member_seen[i], 1, __ATOMIC_ACQ_REL) != 0) inc(&bad_dup);
}

/* Main thread's pending signals, from /proc (the list function runs in
 * another thread; sigpending() would show its own). */
static unsigned long long main_pending(void)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)main_tid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strstr(buf, "\nSigPnd:");
    return p ? strtoull(p + 8, NULL, 16) : 0;
}

/* The list notification is being observed: every member's must have been
 * sent already. For SIGEV_SIGNAL members the caller has drained or handled
 * them (member_seen); for SIGEV_THREAD their threads exist; for
 * SIGEV_THREAD_ID (main does not dequeue during the round) they are pending
 * on main or already counted. */
static void list_note(int value, int from_list_thread)
{
    if (value != cur_round) { inc(&bad_dup); return; }
    if (__atomic_fetch_add(&list_seen, 1, __ATOMIC_ACQ_REL) != 0) { inc(&bad_dup); return; }
    unsigned long long pend = 0;
    if (cur_member == K_TID)
        pend = from_list_thread ? main_pending() : 0;
    for (int i = 0; i < N; i++) {
        if (aio_error(&cb[i]) == EINPROGRESS) inc(&bad_inprog_list);
        int sent;
        switch (cur_member) {
        case K_THR: sent = stack_used(value, i); break;
        case K_TID:
            sent = ld(&member_seen[i]) > 0 || ((pend >> (TSIG0 + i - 1)) & 1);
            break;
        default: sent = ld(&member_seen[i]) > 0; break;
        }
        if (!sent) inc(&bad_order);
    }
}

static void block_all(void)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
}

static void on_sig(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (si->si_code != SI_ASYNCIO) inc(&bad_code);
    if (sig == LSIG) list_note(si->si_value.sival_int, 0);
    else member_note(si->si_value.sival_int);
}

static void member_fn(union sigval v)
{
    block_all();
    member_note(v.sival_int);
    inc(&member_fn_done[v.sival_int & 15]);
}

static void list_fn(union sigval v)
{
    /* The pending member signals (sig-thr) were handled in this thread when
     * its mask was cleared, before this body runs. */
    list_note(v.sival_int, 1);
    block_all();
    __atomic_store_n(&list_done, 1, __ATOMIC_RELEASE);
}

static int fd_w, fd_direct, fd_hot, pp[2];
static unsigned char *dbuf;
static char wbuf[4096], hbuf[1000], pbuf[16];

static void set_member(struct aiocb *c, int round, int i)
{
    struct sigevent *ev = &c->aio_sigevent;
    memset(ev, 0, sizeof *ev);
    ev->sigev_value.sival_int = round << 4 | i;
    switch (cur_member) {
    case K_SIG:
        ev->sigev_notify = SIGEV_SIGNAL;
        ev->sigev_signo = RSIG;
        break;
    case K_THR: {
        unsigned char *s = stack_of(round, i);
        memset(s + STACK - CANARY, 0xA5, CANARY);
        pthread_attr_init(&attrs[i]);
        pthread_attr_setstack(&attrs[i], s, STACK);
        pthread_attr_setdetachstate(&attrs[i], PTHREAD_CREATE_DETACHED);
        ev->sigev_notify = SIGEV_THREAD;
        ev->sigev_notify_function = member_fn;
        ev->sigev_notify_attributes = &attrs[i];
        break;
    }
    case K_TID:
        ev->sigev_notify = SIGEV_THREAD_ID;
        ev->sigev_signo = TSIG0 + i;
        ev->_sigev_un._tid = main_tid;
        break;
    }
}

static void collect(const sigset_t *set, long ns)
{
    struct timespec ts = { 0, ns };
    siginfo_t si;
    int s = sigtimedwait(set, &si, &ts);
    if (s <= 0) return;
    if (si.si_code != SI_ASYNCIO) inc(&bad_code);
    if (s == LSIG) {
        /* Everything sent before the list signal is pending now. */
        sigset_t members;
        sigemptyset(&members);
        sigaddset(&members, RSIG);
        for (int i = 0; i < N; i++) sigaddset(&members, TSIG0 + i);
        struct timespec zero = { 0, 0 };
        siginfo_t mi;
        while (sigtimedwait(&members, &mi, &zero) > 0) member_note(mi.si_value.sival_int);
        list_note(si.si_value.sival_int, 0);
    } else {
        member_note(si.si_value.sival_int);
    }
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int round_finished(void)
{
    if (!ld(&list_seen)) return 0;
    if (cur_list == K_THR && !ld(&list_done)) return 0;
    for (int i = 0; i < N; i++) {
        /* tid-thr: the member signals stay pending on main until drained. */
        if (!ld(&member_seen[i]) && !(cur_member == K_TID && cur_list == K_THR)) return 0;
        if (cur_member == K_THR && !ld(&member_fn_done[i])) return 0;
    }
    return 1;
}

/* One combination; returns the number of rounds that finished. */
static int combo(enum kind member, enum kind list, int rounds, int kaio_only)
{
    cur_member = member;
    cur_list = list;
    bad_inprog_member = bad_inprog_list = bad_order = bad_dup = bad_code = 0;
    bad_result = bad_timeout = 0;
    if (member == K_THR) {
        stacks = mmap(NULL, (size_t)rounds * N * STACK, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (stacks == MAP_FAILED) { CHECK(0, "mmap stacks"); return 0; }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, LSIG);
    sigaddset(&set, RSIG);
    for (int i = 0; i < N; i++) sigaddset(&set, TSIG0 + i);
    int done_rounds = 0;
    for (int r = 0; r < rounds; r++) {
        cur_round = r;
        for (int i = 0; i < N; i++) member_seen[i] = member_fn_done[i] = 0;
        list_seen = list_done = 0;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        off_t slot = (off_t)(r % 16) * 4096;
        fill_pat(wbuf, sizeof wbuf, (uint64_t)r, 77);
        t_cb(&cb[M_BUFW], fd_w, wbuf, sizeof wbuf, slot);
        cb[M_BUFW].aio_lio_opcode = LIO_WRITE;
        t_cb(&cb[M_DIRECT], fd_direct, dbuf, 4096, slot);
        cb[M_DIRECT].aio_lio_opcode = LIO_READ;
        t_cb(&cb[M_PIPE], pp[0], pbuf, 8, 0);
        cb[M_PIPE].aio_lio_opcode = LIO_READ;
        t_cb(&cb[M_HOT], fd_hot, hbuf, sizeof hbuf, slot + 100);
        cb[M_HOT].aio_lio_opcode = LIO_READ;
        struct aiocb *l[N];
        for (int i = 0; i < N; i++) { set_member(&cb[i], r, i); l[i] = &cb[i]; }
        struct sigevent sev;
        memset(&sev, 0, sizeof sev);
        sev.sigev_value.sival_int = r;
        if (list == K_SIG) {
            sev.sigev_notify = SIGEV_SIGNAL;
            sev.sigev_signo = LSIG;
        } else {
            sev.sigev_notify = SIGEV_THREAD;
            sev.sigev_notify_function = list_fn;
        }
        char msg[16];
        snprintf(msg, sizeof msg, "r%07d", r);
        if (r % 2 == 0) CHECK(write(pp[1], msg, 8) == 8, "pipe write");
        int rc = lio_listio(LIO_NOWAIT, l, N, &sev);
        if (rc != 0) { CHECK(0, "round %d: lio_listio: %s", r, errname(errno)); break; }
        if (r % 2 == 1) CHECK(write(pp[1], msg, 8) == 8, "pipe write");
        double t0 = now_s();
        while (!round_finished() && now_s() - t0 < 2.0) {
            if (list == K_SIG) {
                collect(&set, 1000000);
            } else {
                struct timespec d = { 0, 200000 };
                nanosleep(&d, NULL);
            }
        }
        if (list == K_THR) {
            /* The member signals were not dequeued by main during the round
             * (sig-thr: the list thread handled them; tid-thr: pending). */
            sigset_t members;
            sigemptyset(&members);
            sigaddset(&members, RSIG);
            for (int i = 0; i < N; i++) sigaddset(&members, TSIG0 + i);
            struct timespec zero = { 0, 0 };
            siginfo_t mi;
            while (sigtimedwait(&members, &mi, &zero) > 0) member_note(mi.si_value.sival_int);
        }
        if (!round_finished()) {
            inc(&bad_timeout);
            if (kaio_only) NOTE("%s-%s round %d did not finish", kname[member], kname[list], r);
            else OUT("%s-%s round %d did not finish: list %d, members %d %d %d %d", kname[member],
                     kname[list], r, ld(&list_seen), ld(&member_seen[0]), ld(&member_seen[1]),
                     ld(&member_seen[2]), ld(&member_seen[3]));
            for (int i = 0; i < N; i++) t_wait(&cb[i]);
            break;
        }
        for (int i = 0; i < N; i++) t_wait(&cb[i]);
        ssize_t n0 = aio_return(&cb[M_BUFW]), n1 = aio_return(&cb[M_DIRECT]);
        ssize_t n2 = aio_return(&cb[M_PIPE]), n3 = aio_return(&cb[M_HOT]);
        if (n0 != 4096 || n1 != 4096 || check_pat(dbuf, 4096, (uint64_t)slot, 78) >= 0 ||
            n2 != 8 || memcmp(pbuf, msg, 8) != 0 || n3 != 1000 ||
            check_pat(hbuf, 1000, (uint64_t)slot + 100, 78) >= 0)
            inc(&bad_result);
        if (member == K_THR)
            for (int i = 0; i < N; i++) pthread_attr_destroy(&attrs[i]);
        done_rounds++;
    }
    /* Late duplicates: wait a little and count anything more. */
    cur_round = -1;
    struct timespec d = { 0, 50 * 1000 * 1000 };
    nanosleep(&d, NULL);
    struct timespec zero = { 0, 0 };
    siginfo_t si;
    while (sigtimedwait(&set, &si, &zero) > 0) inc(&bad_dup);
    if (kaio_only) {
        NOTE("%s-%s: %d rounds; list before a member %d, member EINPROGRESS at its notification %d, "
             "at the list's %d, duplicates %d, si_code %d, results %d, timeouts %d",
             kname[member], kname[list], done_rounds, bad_order, bad_inprog_member,
             bad_inprog_list, bad_dup, bad_code, bad_result, bad_timeout);
    } else {
        OUT("%s-%s: %d rounds", kname[member], kname[list], done_rounds);
        OUT("%s-%s: list notification before a member's: %d", kname[member], kname[list], bad_order);
        OUT("%s-%s: EINPROGRESS at a member's notification %d, at the list's %d", kname[member],
            kname[list], bad_inprog_member, bad_inprog_list);
        OUT("%s-%s: duplicate or stray notifications %d, si_code not SI_ASYNCIO %d",
            kname[member], kname[list], bad_dup, bad_code);
        OUT("%s-%s: wrong results %d", kname[member], kname[list], bad_result);
    }
    CHECK(done_rounds == rounds, "%s-%s: %d of %d rounds", kname[member], kname[list],
          done_rounds, rounds);
    CHECK(bad_order == 0, "%s-%s: list notification before a member's (%d)", kname[member],
          kname[list], bad_order);
    CHECK(bad_inprog_member == 0 && bad_inprog_list == 0, "%s-%s: EINPROGRESS seen (%d, %d)",
          kname[member], kname[list], bad_inprog_member, bad_inprog_list);
    CHECK(bad_dup == 0 && bad_code == 0, "%s-%s: duplicates %d, si_code %d", kname[member],
          kname[list], bad_dup, bad_code);
    CHECK(bad_result == 0, "%s-%s: wrong results %d", kname[member], kname[list], bad_result);
    return done_rounds;
}

int main(int argc, char **argv)
{
    t_init("test_spec_notify_order", 10);
    LSIG = SIGRTMIN + 1;
    RSIG = SIGRTMIN + 2;
    TSIG0 = SIGRTMIN + 3;
    main_tid = (pid_t)syscall(SYS_gettid);
    sigset_t set;
    sigemptyset(&set);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    int sigs[] = { LSIG, RSIG, TSIG0, TSIG0 + 1, TSIG0 + 2, TSIG0 + 3 };
    for (unsigned k = 0; k < sizeof sigs / sizeof sigs[0]; k++) {
        sigaddset(&set, sigs[k]);
        sigaction(sigs[k], &sa, NULL);
    }
    CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0, "sigmask");

    const char *wpath = t_make_file(0, "spec_order_w", 16 * 4096, 76);
    const char *rpath = t_make_file(1, "spec_order_r", 17 * 4096, 78);
    fd_w = open(wpath, O_WRONLY);
    fd_hot = open(rpath, O_RDONLY);
    fd_direct = open(rpath, O_RDONLY | O_DIRECT);
    if (fd_direct < 0) {
        NOTE("O_DIRECT refused (%s): buffered instead", errname(errno));
        fd_direct = open(rpath, O_RDONLY);
    }
    CHECK(fd_w >= 0 && fd_hot >= 0 && fd_direct >= 0 && pipe(pp) == 0, "setup");
    dbuf = aligned_alloc(4096, 4096);
    char warm[4096];
    for (int k = 0; k < 17; k++) CHECK(pread(fd_hot, warm, sizeof warm, (off_t)k * 4096) == 4096, "warm");

    const char *only = argc > 1 ? argv[1] : NULL;
    struct { enum kind m, l; int rounds, kaio_only; } combos[] = {
        { K_SIG, K_SIG, 200, 0 }, { K_SIG, K_THR, 100, 0 }, { K_THR, K_SIG, 100, 0 },
        { K_THR, K_THR, 100, 0 }, { K_TID, K_SIG, 200, 1 }, { K_TID, K_THR, 100, 1 },
    };
    for (unsigned c = 0; c < sizeof combos / sizeof combos[0]; c++) {
        char name[16];
        snprintf(name, sizeof name, "%s-%s", kname[combos[c].m], kname[combos[c].l]);
        if (only && strcmp(only, name) != 0) continue;
        if (combos[c].kaio_only && !IS_KAIO) {
            NOTE("%s: skipped on glibc (SIGEV_THREAD_ID is ignored there)", name);
            continue;
        }
        combo(combos[c].m, combos[c].l, combos[c].rounds, combos[c].kaio_only);
    }
    close(fd_w); close(fd_hot); close(fd_direct); close(pp[0]); close(pp[1]);
    unlink(wpath); unlink(rpath);
    return t_done();
}
