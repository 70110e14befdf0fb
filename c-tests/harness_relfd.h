/* Helpers for the test_rel_* descriptor tests (issue 9: descriptor reuse,
 * close_range, a full descriptor table). Include after harness.h.
 *
 * - rel_blocked_in / rel_wait_pending: wait until a request is really
 *   pending *in a blocking call or a kernel wait* before the test closes its
 *   descriptor. glibc's worker must already be inside read()/write() on the
 *   old file (otherwise it would start its call on the new file and the test
 *   would measure a race, not kaio); kaio's request is then in its
 *   IOCB_CMD_POLL (counter "poll") or a kaio thread's blocking call.
 * - rel_file_intact: a program file kept its size, content and offset.
 * - rel_log*: children (close_range, RLIMIT_NOFILE) write their transcript
 *   into shared memory, which survives close_range; the parent prints it.
 */
#ifndef KAIO_TEST_HARNESS_RELFD_H
#define KAIO_TEST_HARNESS_RELFD_H

#include <dirent.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static inline double rel_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline unsigned long long rel_counter(const char *name)
{
    if (!IS_KAIO) return 0;
    unsigned long long (*counter)(const char *) =
        (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
    return counter ? counter(name) : 0;
}

/* Whether descriptor `a` names the same open file as `b` (a kaio thread
 * may do the transfer on its own duplicate of the program's descriptor). */
static inline int rel_same_file(int a, int b)
{
    struct stat sa, sb;
    if (a == b) return 1;
    if (fstat(a, &sa) != 0 || fstat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* How many threads of this process are blocked in system call `nr`
 * (0 read, 1 write, 17 pread64, 18 pwrite64 on x86_64) with first argument
 * `fd` or a duplicate of it (from /proc/self/task/TID/syscall). Uses no
 * stdio: no descriptor beyond the directory and one file at a time. */
static inline int rel_blocked_in(long nr, int fd)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[300], buf[256];
        snprintf(path, sizeof path, "/proc/self/task/%s/syscall", e->d_name);
        int f = open(path, O_RDONLY | O_CLOEXEC);
        if (f < 0) continue;
        ssize_t n = read(f, buf, sizeof buf - 1);
        close(f);
        if (n <= 0) continue;
        buf[n] = 0;
        long sc;
        unsigned long a0;
        if (sscanf(buf, "%ld %lx", &sc, &a0) == 2 && sc == nr && rel_same_file((int)a0, fd)) found++;
    }
    closedir(d);
    return found;
}

/* Wait (up to 2 s) until a request on `fd` is pending in a blocking
 * read (write = 0) or write (write = 1) of some thread (read/pread64/readv/
 * preadv/preadv2 or their write twins: glibc's worker, or a kaio thread
 * when kaio has no kernel context), or (kaio) in a kernel poll: kaio's
 * "poll" counter passed `poll_before`. 1 if seen. */
static inline int rel_wait_pending(int fd, int write, unsigned long long poll_before)
{
    static const long rd[] = { 0, 17, 19, 295, 327 }, wr[] = { 1, 18, 20, 296, 328 };
    const long *nrs = write ? wr : rd;
    double end = rel_now() + 2.0;
    do {
        if (IS_KAIO && rel_counter("poll") > poll_before) return 1;
        for (int i = 0; i < 5; i++)
            if (rel_blocked_in(nrs[i], fd) > 0) return 1;
        usleep(1000);
    } while (rel_now() < end);
    return 0;
}

/* kaio only: wait (at most 1 s) until some thread of the process sleeps in
 * io_getevents (x86_64 208), i.e. kaio has a thread blocked reaping its
 * kernel context. Only makes a kaio-internal race deterministic; asserts
 * nothing; returns at once on glibc. */
static inline int rel_wait_reaper_in_kernel(void)
{
    if (!IS_KAIO) return 0;
    double end = rel_now() + 1.0;
    do {
        DIR *d = opendir("/proc/self/task");
        if (!d) return 0;
        int found = 0;
        struct dirent *e;
        while (!found && (e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char path[300], buf[64];
            snprintf(path, sizeof path, "/proc/self/task/%s/syscall", e->d_name);
            int f = open(path, O_RDONLY | O_CLOEXEC);
            if (f < 0) continue;
            ssize_t n = read(f, buf, sizeof buf - 1);
            close(f);
            if (n > 0) { buf[n] = 0; found = atol(buf) == 208; }
        }
        closedir(d);
        if (found) return 1;
        usleep(1000);
    } while (rel_now() < end);
    return 0;
}

/* Wait until `cb` is no longer EINPROGRESS, at most `seconds`: 1 if done. */
static inline int rel_wait_done(struct aiocb *cb, double seconds)
{
    const struct aiocb *l[1] = { cb };
    double end = rel_now() + seconds;
    while (aio_error(cb) == EINPROGRESS) {
        double left = end - rel_now();
        if (left <= 0) return 0;
        struct timespec ts = { (time_t)left, (long)((left - (time_t)left) * 1e9) };
        aio_suspend(l, 1, &ts);
    }
    return 1;
}

/* Make `fd` have number `want` (dup2 + close if the kernel picked another). */
static inline int rel_move_fd(int fd, int want)
{
    if (fd < 0 || fd == want) return fd;
    if (dup2(fd, want) != want) return -1;
    close(fd);
    return want;
}

/* A program file of `size` pattern bytes (seed), opened with `flags`. */
static inline int rel_open_file(int slot, const char *name, size_t size, unsigned seed, int flags)
{
    const char *path = t_make_file(slot, name, size, seed);
    int fd = open(path, flags);
    unlink(path);
    return fd;
}

/* Whether program file `fd` still has exactly `size` bytes of pattern
 * `seed` and its offset is still 0; describes what changed in `why`. */
static inline int rel_file_intact(int fd, size_t size, unsigned seed, char *why, size_t whylen)
{
    struct stat st;
    off_t off = lseek(fd, 0, SEEK_CUR);
    if (fstat(fd, &st) != 0) {
        snprintf(why, whylen, "fstat: %s", errname(errno));
        return 0;
    }
    static unsigned char buf[1 << 16];
    size_t n = size < sizeof buf ? size : sizeof buf;
    ssize_t r = pread(fd, buf, n, 0);
    long bad = r == (ssize_t)n ? check_pat(buf, n, 0, seed) : 0;
    if (st.st_size != (off_t)size || off != 0 || r != (ssize_t)n || bad >= 0) {
        snprintf(why, whylen, "size %lld (want %zu), offset %lld (want 0), pread %zd, first bad byte %ld",
                 (long long)st.st_size, size, (long long)off, r, bad);
        return 0;
    }
    why[0] = 0;
    return 1;
}

/* Drop [off, off+len) of `fd` from the page cache (fsync, then
 * POSIX_FADV_DONTNEED until mincore shows no page, at most 5 tries), so a
 * buffered read of it must go to the disk. Returns the pages still resident
 * (0 = cold), -1 if it cannot tell. */
static inline int rel_drop_cache(int fd, off_t off, size_t len)
{
    fsync(fd);
    int res = -1;
    for (int tries = 0; tries < 5 && res != 0; tries++) {
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);
        if (m == MAP_FAILED) return -1;
        static unsigned char vec[4096];
        size_t pages = (len + 4095) / 4096;
        if (pages > sizeof vec) pages = sizeof vec;
        res = 0;
        if (mincore(m, pages * 4096, vec) == 0)
            for (size_t i = 0; i < pages; i++) res += vec[i] & 1;
        else
            res = -1;
        munmap(m, len);
        if (res != 0) usleep(2000);
    }
    return res;
}

/* "anon_inode:[eventfd]" etc.: what descriptor `fd` is. */
static inline const char *rel_fd_kind(int fd)
{
    static char link[256];
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n < 0) return "closed";
    link[n] = 0;
    return link;
}

/* ---- transcript of a child, in shared memory ---- */
struct rel_shared {
    int failures;
    int len;
    char text[1 << 16];
};
static struct rel_shared *REL;

static inline void rel_log_init(void)
{
    REL = mmap(NULL, sizeof *REL, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (REL == MAP_FAILED) { perror("mmap"); exit(1); }
    memset(REL, 0, sizeof *REL);
}

__attribute__((format(printf, 1, 2))) static inline void rel_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int room = (int)sizeof REL->text - REL->len - 2;
    if (room > 0) {
        int n = vsnprintf(REL->text + REL->len, room, fmt, ap);
        if (n > room - 1) n = room - 1;
        if (n > 0) REL->len += n;
        REL->text[REL->len++] = '\n';
        REL->text[REL->len] = 0;
    }
    va_end(ap);
}

/* In a child: OUT / NOTE / CHECK into the shared transcript. */
#define C_OUT(...) rel_log(__VA_ARGS__)
#define C_NOTE(...) do { char _b[1024]; snprintf(_b, sizeof _b, __VA_ARGS__); rel_log("# %s", _b); } while (0)
#define C_CHECK(cond, ...) do { if (!(cond)) { char _b[1024]; REL->failures++; \
    snprintf(_b, sizeof _b, __VA_ARGS__); \
    rel_log("FAIL %s:%d: %s: %s", __FILE__, __LINE__, #cond, _b); } } while (0)

/* Fork, run `fn` in the child (it _exits), reap it within `seconds`
 * (SIGKILL after), then print its transcript; returns its wait status
 * (-1 if it had to be killed). */
static inline int rel_run_child(void (*fn)(void *), void *arg, double seconds)
{
    REL->len = 0;
    REL->text[0] = 0;
    REL->failures = 0;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) { OUT("fork failed: %s", errname(errno)); exit(1); }
    if (pid == 0) {
        alarm(0);
        fn(arg);
        _exit(REL->failures ? 1 : 0);
    }
    int status = 0;
    double end = rel_now() + seconds;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && rel_now() < end) usleep(2000);
    int killed = 0;
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        killed = 1;
    }
    /* The child's transcript. */
    char *line = REL->text;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        if (strncmp(line, "# ", 2) == 0) NOTE("%s", line + 2);
        else if (strncmp(line, "FAIL", 4) == 0) { printf("%s\n", line); fflush(stdout); }
        else OUT("%s", line);
        line = nl ? nl + 1 : NULL;
    }
    t_failures += REL->failures;
    if (killed) {
        CHECK(0, "child still running after %.0f s: killed", seconds);
        return -1;
    }
    return status;
}

#endif
