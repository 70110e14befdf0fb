/* Notification accounting on every path a request can take in kaio. POSIX
 * aio_read/aio_write: "The aio_sigevent member specifies the notification
 * which occurs when the request is completed"; aio_cancel: "Normal
 * asynchronous notification shall occur for asynchronous I/O operations
 * that are successfully canceled"; lio_listio(LIO_NOWAIT): the list's
 * notification occurs "when all the I/O operations complete".
 * For each path and each notification kind — SIGEV_SIGNAL, SIGEV_THREAD and
 * (kaio only: glibc ignores it; NOTE lines) SIGEV_THREAD_ID — a request
 * submitted alone (aio_read/aio_write) and the same request as the member of
 * a lio_listio(LIO_NOWAIT) list with a list sigevent of the same kind must:
 *   - be notified exactly once (nothing more within 50 ms after the last);
 *   - already be done (aio_error not EINPROGRESS) when its notification runs;
 *   - (lists) have its notification observed before or together with its
 *     list's: SIGEV_SIGNAL/SIGEV_THREAD_ID are blocked and collected by main
 *     only, and on the list's signal (the lower number: dequeued first) the
 *     member signals are drained at once; for SIGEV_THREAD "sent" is the
 *     creation of the member's thread, observed through a canary at the top
 *     of the stack its sigev_notify_attributes give it.
 * Paths (kaio's; on glibc every request is a worker's read()/write()):
 *   kernel     O_DIRECT read (kernel ring)
 *   inline-pc  page-cache hit, completed inside aio_read
 *   inline-pp  pipe that already holds data, completed inside aio_read
 *   pool-rd    cold buffered read (range dropped from the page cache)
 *   pool-wr    buffered write
 *   poll       empty pipe, written after submission (IOCB_CMD_POLL)
 *   dedicated  pty master (no RWF_NOWAIT support: a thread of its own),
 *              written through the slave after submission
 *   ring-full  256 O_DIRECT reads with KAIO_MAX_EVENTS=8 (this program
 *              re-executes itself with that environment for these rows)
 *   cancelled  a second read queued behind a first on one empty pipe,
 *              cancelled with aio_cancel (AIO_CANCELED, ECANCELED) */
#include "harness.h"
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

#define MAXM 256
#define STACK (64 * 1024)
#define CANARY (16 * 1024)

enum kind { K_SIG, K_THR, K_TID };
static const char *kname[] = { "SIGEV_SIGNAL", "SIGEV_THREAD", "SIGEV_THREAD_ID" };
enum path { P_KERNEL, P_INLINE_PC, P_INLINE_PP, P_POOL_RD, P_POOL_WR, P_POLL, P_DEDICATED,
            P_RINGFULL, P_CANCEL, NPATHS };
static const char *pname[] = { "kernel", "inline-pc", "inline-pp", "pool-rd", "pool-wr", "poll",
                               "dedicated", "ring-full", "cancelled" };

static int LSIG, RSIG;
static pid_t main_tid;

static struct aiocb cb[MAXM];
static unsigned char *bufs;      /* MAXM x 4096, aligned */
static int M;                    /* members of the current case */
static volatile int cur_case = -1;
static enum kind cur_kind;
static unsigned char *stacks;    /* MAXM stacks for SIGEV_THREAD members */
static pthread_attr_t attrs[MAXM];

static int seen[MAXM], fn_done[MAXM], list_seen, list_done;
static int bad_inprog, bad_order, bad_dup, bad_code;

static inline int ld(int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void inc(int *p) { __atomic_fetch_add(p, 1, __ATOMIC_ACQ_REL); }

static int stack_used(int i)
{
    const unsigned char *top = stacks + (size_t)i * STACK + STACK - CANARY;
    for (int k = 0; k < CANARY; k++)
        if (top[k] != 0xA5) return 1;
    return 0;
}

static void member_note(int value)
{
    int c = value >> 16, i = value & 0xffff;
    if (c != cur_case || i >= M) { inc(&bad_dup); return; }
    if (aio_error(&cb[i]) == EINPROGRESS) inc(&bad_inprog);
    if (__atomic_fetch_add(&seen[i], 1, __ATOMIC_ACQ_REL) != 0) inc(&bad_dup);
}

static void list_note(int value)
{
    if (value != cur_case) { inc(&bad_dup); return; }
    if (__atomic_fetch_add(&list_seen, 1, __ATOMIC_ACQ_REL) != 0) { inc(&bad_dup); return; }
    for (int i = 0; i < M; i++) {
        if (aio_error(&cb[i]) == EINPROGRESS) inc(&bad_inprog);
        int sent = cur_kind == K_THR ? stack_used(i) : ld(&seen[i]) > 0;
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
    if (sig == LSIG) list_note(si->si_value.sival_int);
    else member_note(si->si_value.sival_int);
}

static void member_fn(union sigval v)
{
    block_all();
    member_note(v.sival_int);
    int i = v.sival_int & 0xffff;
    if (i < MAXM) inc(&fn_done[i]);
}

static void list_fn(union sigval v)
{
    list_note(v.sival_int);
    block_all();
    __atomic_store_n(&list_done, 1, __ATOMIC_RELEASE);
}

static void set_notify(struct sigevent *ev, enum kind k, int value, int is_list)
{
    memset(ev, 0, sizeof *ev);
    ev->sigev_value.sival_int = value;
    switch (k) {
    case K_SIG:
        ev->sigev_notify = SIGEV_SIGNAL;
        ev->sigev_signo = is_list ? LSIG : RSIG;
        break;
    case K_THR:
        ev->sigev_notify = SIGEV_THREAD;
        if (is_list) {
            ev->sigev_notify_function = list_fn;
        } else {
            int i = value & 0xffff;
            unsigned char *s = stacks + (size_t)i * STACK;
            memset(s + STACK - CANARY, 0xA5, CANARY);
            pthread_attr_init(&attrs[i]);
            pthread_attr_setstack(&attrs[i], s, STACK);
            pthread_attr_setdetachstate(&attrs[i], PTHREAD_CREATE_DETACHED);
            ev->sigev_notify_function = member_fn;
            ev->sigev_notify_attributes = &attrs[i];
        }
        break;
    case K_TID:
        ev->sigev_notify = SIGEV_THREAD_ID;
        ev->sigev_signo = is_list ? LSIG : RSIG;
        ev->_sigev_un._tid = main_tid;
        break;
    }
}

/* Descriptors. */
static int fd_direct, fd_hot, fd_cold, fd_w, pty_m = -1, pty_s = -1, pp[2];
static const char *cold_path;
#define COLD_SIZE (4 << 20)

static void drop_cold(void)
{
    (void)fdatasync(fd_cold);
    (void)posix_fadvise(fd_cold, 0, 0, POSIX_FADV_DONTNEED);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int case_finished(int is_list)
{
    if (is_list && !ld(&list_seen)) return 0;
    if (is_list && cur_kind == K_THR && !ld(&list_done)) return 0;
    for (int i = 0; i < M; i++) {
        if (!ld(&seen[i])) return 0;
        if (cur_kind == K_THR && !ld(&fn_done[i])) return 0;
    }
    return 1;
}

static void collect(const sigset_t *set, long ns)
{
    struct timespec ts = { 0, ns };
    siginfo_t si;
    int s = sigtimedwait(set, &si, &ts);
    if (s <= 0) return;
    if (si.si_code != SI_ASYNCIO) inc(&bad_code);
    if (s == LSIG) {
        sigset_t members;
        sigemptyset(&members);
        sigaddset(&members, RSIG);
        struct timespec zero = { 0, 0 };
        siginfo_t mi;
        while (sigtimedwait(&members, &mi, &zero) > 0) member_note(mi.si_value.sival_int);
        list_note(si.si_value.sival_int);
    } else {
        member_note(si.si_value.sival_int);
    }
}

/* One case: path p, kind k, alone or as a list. */
static void run_case(int id, enum path p, enum kind k, int is_list)
{
    int kaio_only = k == K_TID;
    char name[64];
    snprintf(name, sizeof name, "%s %s %s", pname[p], kname[k], is_list ? "list" : "alone");
    if (kaio_only && !IS_KAIO) return;
    if ((p == P_KERNEL || p == P_RINGFULL) && fd_direct < 0) {
        OUT("%s: skipped (no O_DIRECT here)", name);
        return;
    }
    if (p == P_DEDICATED && pty_m < 0) {
        OUT("%s: skipped (no pty)", name);
        return;
    }
    M = p == P_RINGFULL ? MAXM : 1;
    cur_kind = k;
    bad_inprog = bad_order = bad_dup = bad_code = 0;
    for (int i = 0; i < M; i++) seen[i] = fn_done[i] = 0;
    list_seen = list_done = 0;
    __atomic_store_n(&cur_case, id, __ATOMIC_SEQ_CST);

    struct aiocb first; /* P_CANCEL: the read the cancelled one waits behind */
    char firstbuf[8];
    if (p == P_CANCEL) {
        t_cb(&first, pp[0], firstbuf, 4, 0);
        CHECK(aio_read(&first) == 0, "%s: first read", name);
    }
    if (p == P_POOL_RD) drop_cold();
    if (p == P_INLINE_PP) CHECK(write(pp[1], "pppp", 4) == 4, "pipe");
    for (int i = 0; i < M; i++) {
        unsigned char *b = bufs + (size_t)i * 4096;
        switch (p) {
        case P_KERNEL: case P_RINGFULL:
            t_cb(&cb[i], fd_direct, b, 4096, (off_t)(i % 64) * 4096); break;
        case P_INLINE_PC: t_cb(&cb[i], fd_hot, b, 1000, 123); break;
        case P_POOL_RD:
            t_cb(&cb[i], fd_cold, b, 4096, (off_t)((id * 7) % (COLD_SIZE / 4096)) * 4096); break;
        case P_POOL_WR:
            fill_pat(b, 4096, 0, 90);
            t_cb(&cb[i], fd_w, b, 4096, 0);
            break;
        case P_INLINE_PP: case P_POLL: case P_CANCEL: t_cb(&cb[i], pp[0], b, 4, 0); break;
        case P_DEDICATED: t_cb(&cb[i], pty_m, b, 64, 0); break;
        default: break;
        }
        cb[i].aio_lio_opcode = p == P_POOL_WR ? LIO_WRITE : LIO_READ;
        set_notify(&cb[i].aio_sigevent, k, id << 16 | i, 0);
    }
    int rc = 0;
    if (is_list) {
        static struct aiocb *l[MAXM];
        for (int i = 0; i < M; i++) l[i] = &cb[i];
        struct sigevent sev;
        set_notify(&sev, k, id, 1);
        rc = lio_listio(LIO_NOWAIT, l, M, &sev);
        CHECK(rc == 0, "%s: lio_listio: %s", name, errname(errno));
    } else {
        for (int i = 0; i < M && rc == 0; i++) {
            rc = p == P_POOL_WR ? aio_write(&cb[i]) : aio_read(&cb[i]);
            CHECK(rc == 0, "%s: submit %d: %s", name, i, errname(errno));
        }
    }
    if (rc != 0) return;
    int cancel_r = -1;
    switch (p) {
    case P_POLL: CHECK(write(pp[1], "qqqq", 4) == 4, "pipe"); break;
    case P_DEDICATED: CHECK(write(pty_s, "tty!", 4) == 4, "pty"); break;
    case P_CANCEL: cancel_r = aio_cancel(pp[0], &cb[0]); break;
    default: break;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, LSIG);
    sigaddset(&set, RSIG);
    double t0 = now_s();
    while (!case_finished(is_list) && now_s() - t0 < 3.0) {
        if (k == K_THR) {
            struct timespec d = { 0, 200000 };
            nanosleep(&d, NULL);
        } else {
            collect(&set, 1000000);
        }
    }
    int finished = case_finished(is_list);
    /* Anything more within 50 ms is a duplicate. */
    t0 = now_s();
    while (now_s() - t0 < 0.05) {
        if (k == K_THR) {
            struct timespec d = { 0, 1000000 };
            nanosleep(&d, NULL);
        } else {
            collect(&set, 1000000);
        }
    }
    __atomic_store_n(&cur_case, -1, __ATOMIC_SEQ_CST);
    if (p == P_CANCEL) {
        CHECK(write(pp[1], "ffff", 4) == 4, "pipe");
        t_wait(&first);
        CHECK(aio_return(&first) == 4, "%s: first read", name);
    }
    int bad_result = 0;
    for (int i = 0; i < M; i++) {
        t_wait(&cb[i]);
        int e = aio_error(&cb[i]);
        ssize_t n = aio_return(&cb[i]);
        unsigned char *b = bufs + (size_t)i * 4096;
        switch (p) {
        case P_KERNEL: case P_RINGFULL:
            bad_result += e != 0 || n != 4096 || check_pat(b, 4096, (uint64_t)(i % 64) * 4096, 91) >= 0;
            break;
        case P_INLINE_PC: bad_result += e != 0 || n != 1000 || check_pat(b, 1000, 123, 91) >= 0; break;
        case P_POOL_RD: bad_result += e != 0 || n != 4096; break;
        case P_POOL_WR: bad_result += e != 0 || n != 4096; break;
        case P_INLINE_PP: bad_result += e != 0 || n != 4 || memcmp(b, "pppp", 4) != 0; break;
        case P_POLL: bad_result += e != 0 || n != 4 || memcmp(b, "qqqq", 4) != 0; break;
        case P_DEDICATED: bad_result += e != 0 || n < 1; break;
        case P_CANCEL: bad_result += e != ECANCELED || n != -1 || cancel_r != AIO_CANCELED; break;
        default: break;
        }
        if (k == K_THR) pthread_attr_destroy(&attrs[i]);
    }
    if (p == P_DEDICATED) { /* leave nothing behind in the pty */
        struct termios t;
        (void)tcgetattr(pty_m, &t);
        (void)tcflush(pty_m, TCIOFLUSH);
    }
    int missing = 0, dups = bad_dup;
    for (int i = 0; i < M; i++) missing += ld(&seen[i]) == 0;
    if (kaio_only) {
        NOTE("%s: finished %s, missing %d, duplicates %d, EINPROGRESS at notification %d, "
             "list before member %d, si_code %d, results %d", name, finished ? "yes" : "no",
             missing, dups, bad_inprog, bad_order, bad_code, bad_result);
    } else {
        OUT("%s: every notification once: %s, done when notified: %s%s, result right: %s", name,
            !missing && !dups ? "yes" : "no", bad_inprog ? "no" : "yes",
            is_list ? (bad_order ? ", member before list: no" : ", member before list: yes") : "",
            bad_result ? "no" : "yes");
    }
    CHECK(finished, "%s: not all notifications within 3 s (missing %d%s)", name, missing,
          is_list && !ld(&list_seen) ? ", and the list's" : "");
    CHECK(missing == 0 && dups == 0, "%s: missing %d, duplicates %d", name, missing, dups);
    CHECK(bad_inprog == 0, "%s: EINPROGRESS seen by %d notification(s)", name, bad_inprog);
    CHECK(bad_order == 0, "%s: list notified before %d member(s)", name, bad_order);
    CHECK(bad_code == 0, "%s: si_code not SI_ASYNCIO", name);
    CHECK(bad_result == 0, "%s: %d wrong result(s)", name, bad_result);
}

static void setup_handlers(void)
{
    LSIG = SIGRTMIN + 1;
    RSIG = SIGRTMIN + 2;
    main_tid = (pid_t)syscall(SYS_gettid);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigaction(LSIG, &sa, NULL);
    sigaction(RSIG, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, LSIG);
    sigaddset(&set, RSIG);
    CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0, "sigmask");
    stacks = mmap(NULL, (size_t)MAXM * STACK, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(stacks != MAP_FAILED, "mmap");
    bufs = aligned_alloc(4096, (size_t)MAXM * 4096);
}

static void open_direct(const char *path)
{
    fd_direct = open(path, O_RDONLY | O_DIRECT);
    if (fd_direct < 0) NOTE("O_DIRECT refused: %s", errname(errno));
}

/* The ring-full rows, in a child with KAIO_MAX_EVENTS=8. */
static int ringfull_child(const char *path)
{
    t_init("test_spec_notify_paths (ring-full child)", 10);
    setup_handlers();
    open_direct(path);
    int id = 1000;
    for (int k = K_SIG; k <= K_TID; k++)
        for (int l = 0; l < 2; l++) run_case(id++, P_RINGFULL, (enum kind)k, l);
    if (IS_KAIO) {
        unsigned long long (*counter)(const char *) =
            (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
        if (counter) NOTE("ring-full: kaio counted %llu ring_full", counter("ring_full"));
    }
    return t_done();
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "ringfull") == 0) return ringfull_child(argv[2]);
    t_init("test_spec_notify_paths", 10);
    setup_handlers();
    const char *rpath = t_make_file(0, "spec_paths_r", 64 * 4096, 91);
    cold_path = t_make_file(1, "spec_paths_cold", COLD_SIZE, 92);
    const char *wpath = t_make_file(2, "spec_paths_w", 4096, 93);
    open_direct(rpath);
    fd_hot = open(rpath, O_RDONLY);
    fd_cold = open(cold_path, O_RDWR);
    fd_w = open(wpath, O_WRONLY);
    CHECK(fd_hot >= 0 && fd_cold >= 0 && fd_w >= 0 && pipe(pp) == 0, "setup");
    char warm[1200];
    CHECK(pread(fd_hot, warm, sizeof warm, 0) > 0, "warm");
    pty_m = posix_openpt(O_RDWR | O_NOCTTY);
    if (pty_m >= 0 && grantpt(pty_m) == 0 && unlockpt(pty_m) == 0) {
        pty_s = open(ptsname(pty_m), O_RDWR | O_NOCTTY);
        struct termios t;
        if (pty_s >= 0 && tcgetattr(pty_s, &t) == 0) {
            cfmakeraw(&t);
            tcsetattr(pty_s, TCSANOW, &t);
        }
    }
    if (pty_s < 0) {
        NOTE("no pty: %s", errname(errno));
        if (pty_m >= 0) close(pty_m);
        pty_m = -1;
    }
    int id = 1;
    for (int p = 0; p < NPATHS; p++) {
        if (p == P_RINGFULL) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                setenv("KAIO_MAX_EVENTS", "8", 1);
                execl("/proc/self/exe", argv[0], "ringfull", rpath, (char *)NULL);
                _exit(127);
            }
            int st = 0;
            waitpid(pid, &st, 0);
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ring-full child: status %#x", st);
            continue;
        }
        for (int k = K_SIG; k <= K_TID; k++)
            for (int l = 0; l < 2; l++) run_case(id++, (enum path)p, (enum kind)k, l);
    }
    if (IS_KAIO) {
        unsigned long long (*counter)(const char *) =
            (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
        if (counter)
            NOTE("kaio paths: kernel %llu, inline %llu, poll %llu, thread %llu, cancelled %llu",
                 counter("kernel"), counter("inline"), counter("poll"), counter("thread"),
                 counter("cancelled"));
    }
    unlink(rpath); unlink(cold_path); unlink(wpath);
    return t_done();
}
