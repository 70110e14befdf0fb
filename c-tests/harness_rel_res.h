/* Helpers shared by test_rel_no_threads, test_rel_low_memory,
 * test_rel_slow_file and test_rel_uffd_inline (issue 9: behaviour under
 * missing resources and slow buffers). Include after harness.h.
 *
 *  - r_now_us(): CLOCK_MONOTONIC in microseconds.
 *  - r_child_*: run a scenario in a fork()ed child whose stdout goes to a
 *    memfd; the parent reaps every child with a timeout (SIGKILL when
 *    overdue) and prints each child's transcript in a fixed order, so
 *    children may run in parallel and the transcript stays deterministic.
 *    The child uses OUT/NOTE/CHECK as usual; its exit status is 1 if a
 *    CHECK failed. r_stage names what the child is doing: its alarm prints
 *    "FAIL: child hung in <stage>" and exits 3.
 *  - r_uffd_*: userfaultfd regions (MISSING mode) whose faults are resolved
 *    with UFFDIO_COPY of a pattern page: page at region offset `o` gets
 *    fill_pat(.., o, seed) (for a write from such a buffer, that is the data
 *    the file must end up with).
 */
#ifndef KAIO_HARNESS_REL_RES_H
#define KAIO_HARNESS_REL_RES_H

#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define R_PAGE 4096

static inline long long r_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline void r_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Drop [off, off + len) of fd's file from the page cache (fdatasync +
 * POSIX_FADV_DONTNEED, retried: a page still in a per-CPU LRU batch may
 * survive one attempt) until mincore() says no page of it is resident.
 * `map` is a PROT_READ mapping of exactly that range (never touched), or
 * NULL to map it here (off must be page aligned). Returns 1 if the range
 * is cold, 0 if pages stayed resident, -1 if it could not be checked. */
static inline int r_drop_cache(int fd, off_t off, size_t len, void *map)
{
    void *m = map ? map : mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);
    int cold = -1;
    static unsigned char vec[4096]; /* up to 16 MiB; main thread only */
    size_t pages = (len + R_PAGE - 1) / R_PAGE;
    for (int tries = 0; tries < 20; tries++) {
        fdatasync(fd);
        posix_fadvise(fd, off, (off_t)len, POSIX_FADV_DONTNEED);
        if (m == MAP_FAILED || pages > sizeof vec) break;
        if (mincore(m, len, vec) != 0) break;
        cold = 1;
        for (size_t i = 0; i < pages; i++)
            if (vec[i] & 1) cold = 0;
        if (cold) break;
        r_sleep_ms(10);
    }
    if (!map && m != MAP_FAILED) munmap(m, len);
    return cold;
}

/* ---- children ---------------------------------------------------------- */

static const char *volatile r_stage = "start";

static void r_child_alarm(int sig)
{
    (void)sig;
    const char *s = r_stage;
    static const char a[] = "FAIL: child hung in ";
    (void)!write(1, a, sizeof a - 1);
    (void)!write(1, s, strlen(s));
    (void)!write(1, "\n", 1);
    _exit(3);
}

struct r_child {
    pid_t pid;
    int cap;    /* memfd holding the child's stdout */
    int status; /* waitpid status; -1 if it had to be killed */
    int reaped;
};

/* Start fn(arg) in a child (alarm after alarm_s seconds). */
static inline void r_child_start(struct r_child *c, void (*fn)(void *), void *arg,
                                 unsigned alarm_s)
{
    memset(c, 0, sizeof *c);
    fflush(stdout);
    c->cap = memfd_create("rel-child-out", MFD_CLOEXEC);
    if (c->cap < 0) { perror("memfd_create"); exit(1); }
    c->pid = fork();
    if (c->pid < 0) { perror("fork"); exit(1); }
    if (c->pid == 0) {
        dup2(c->cap, 1);
        signal(SIGALRM, r_child_alarm);
        alarm(alarm_s);
        t_failures = 0;
        fn(arg);
        fflush(stdout);
        _exit(t_failures ? 1 : 0);
    }
}

/* Reap children[0..n) within timeout_s seconds; SIGKILL the overdue. */
static inline void r_child_wait_all(struct r_child *c, int n, unsigned timeout_s)
{
    long long end = r_now_us() + (long long)timeout_s * 1000000;
    int left = n;
    while (left > 0) {
        for (int i = 0; i < n; i++) {
            if (c[i].reaped) continue;
            int st;
            pid_t r = waitpid(c[i].pid, &st, WNOHANG);
            if (r == c[i].pid) { c[i].status = st; c[i].reaped = 1; left--; }
        }
        if (left == 0) break;
        if (r_now_us() > end) {
            for (int i = 0; i < n; i++) {
                if (c[i].reaped) continue;
                kill(c[i].pid, SIGKILL);
                waitpid(c[i].pid, NULL, 0);
                c[i].status = -1;
                c[i].reaped = 1;
                left--;
            }
            break;
        }
        r_sleep_ms(5);
    }
}

/* Copy a reaped child's transcript to our stdout. */
static inline void r_child_print(struct r_child *c)
{
    char buf[4096];
    ssize_t n;
    fflush(stdout);
    lseek(c->cap, 0, SEEK_SET);
    while ((n = read(c->cap, buf, sizeof buf)) > 0) (void)!write(1, buf, (size_t)n);
    close(c->cap);
    c->cap = -1;
}

/* "exit 0", "exit 1", "signal 6 (SIGABRT)", "killed (overdue)". */
static inline const char *r_status_str(int st)
{
    static char buf[64];
    if (st == -1) return "killed (overdue)";
    if (WIFEXITED(st)) snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "signal %d (%s)", WTERMSIG(st),
                 sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?");
    else snprintf(buf, sizeof buf, "status %#x", st);
    return buf;
}

/* ---- userfaultfd ------------------------------------------------------- */

#define R_UFFD_MAX_REGIONS 16
static struct r_region { char *base; size_t len; unsigned seed; } r_regions[R_UFFD_MAX_REGIONS];
static int r_nregions;
static pthread_mutex_t r_uffd_mu = PTHREAD_MUTEX_INITIALIZER;
static volatile int r_uffd_faults; /* faults resolved so far */

/* A userfaultfd (non-blocking), or -1 with errno set. */
static inline int r_uffd_open(void)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    struct uffdio_api api = { .api = UFFD_API, .features = 0 };
    if (ioctl(fd, UFFDIO_API, &api) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* A fresh anonymous mapping of `len` bytes (page multiple) registered for
 * MISSING faults on `uffd`; its faults get pattern `seed`. NULL on error. */
static inline char *r_uffd_region(int uffd, size_t len, unsigned seed)
{
    if (r_nregions >= R_UFFD_MAX_REGIONS) { errno = ENOSPC; return NULL; }
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    struct uffdio_register reg = {
        .range = { .start = (unsigned long)p, .len = len },
        .mode = UFFDIO_REGISTER_MODE_MISSING,
    };
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) {
        int e = errno;
        munmap(p, len);
        errno = e;
        return NULL;
    }
    pthread_mutex_lock(&r_uffd_mu);
    r_regions[r_nregions].base = p;
    r_regions[r_nregions].len = len;
    r_regions[r_nregions].seed = seed;
    r_nregions++;
    pthread_mutex_unlock(&r_uffd_mu);
    return p;
}

/* Resolve the fault at `addr` (any address in a registered region). */
static inline int r_uffd_fill(int uffd, unsigned long addr)
{
    unsigned long page = addr & ~(unsigned long)(R_PAGE - 1);
    struct r_region *rg = NULL;
    for (int i = 0; i < r_nregions; i++)
        if (page >= (unsigned long)r_regions[i].base &&
            page < (unsigned long)r_regions[i].base + r_regions[i].len)
            rg = &r_regions[i];
    if (!rg) return -1;
    static _Alignas(R_PAGE) unsigned char src[R_PAGE]; /* only under r_uffd_mu */
    fill_pat(src, R_PAGE, page - (unsigned long)rg->base, rg->seed);
    for (;;) {
        struct uffdio_copy cp = { .dst = page, .src = (unsigned long)src, .len = R_PAGE, .mode = 0 };
        if (ioctl(uffd, UFFDIO_COPY, &cp) == 0 || errno == EEXIST) break;
        if (errno != EAGAIN) return -1;
    }
    r_uffd_faults++;
    return 0;
}

/* Wait up to timeout_ms for one fault message on `uffd` and resolve it.
 * Returns 1 if a fault was resolved, 0 if none came, -1 on error. */
static inline int r_uffd_serve_one(int uffd, int timeout_ms)
{
    struct pollfd pfd = { .fd = uffd, .events = POLLIN };
    int pr = poll(&pfd, 1, timeout_ms);
    if (pr < 0) return errno == EINTR ? 0 : -1;
    if (pr == 0) return 0;
    pthread_mutex_lock(&r_uffd_mu);
    struct uffd_msg msg;
    ssize_t n = read(uffd, &msg, sizeof msg);
    int r = 0;
    if (n == (ssize_t)sizeof msg && msg.event == UFFD_EVENT_PAGEFAULT)
        r = r_uffd_fill(uffd, (unsigned long)msg.arg.pagefault.address) == 0 ? 1 : -1;
    else if (n < 0 && errno != EAGAIN)
        r = -1;
    pthread_mutex_unlock(&r_uffd_mu);
    return r;
}

/* NOTE a few of kaio's counters (how this process's requests were served). */
static inline void r_note_counters(const char *who)
{
    if (!IS_KAIO) return;
    unsigned long long (*counter)(const char *) =
        (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
    if (!counter) return;
    NOTE("%s: kaio counters: submitted %llu, completed %llu, inline %llu, thread %llu, "
         "kernel %llu, poll %llu, fsync_held %llu, notifications %llu", who,
         counter("submitted"), counter("completed"), counter("inline"), counter("thread"),
         counter("kernel"), counter("poll"), counter("fsync_held"), counter("notifications"));
}
#endif
