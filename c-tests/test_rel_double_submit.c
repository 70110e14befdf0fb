/* One misused aiocb must not poison the process (issue 9, case 9).
 * Submitting an aiocb again while its request is in flight is undefined for
 * THAT aiocb (POSIX), so whatever happens to it is ignored here: either call
 * may fail, its result may be anything. What must hold is that the damage
 * stays with it: later, correct requests on another file with fresh aiocbs
 * still complete. Three rounds, each in a fork()ed child (a fresh process
 * that has done no AIO), in which another thread waits in aio_suspend for a
 * read of an empty pipe all along (a bystander), the misuse on file A:
 *   buffered  aio_write of 64 KiB (plain open), 2000 times;
 *   direct    aio_write of 16 KiB, file A opened O_DIRECT (overwriting its
 *             blocks, so that the write is in flight in the kernel), 2000x;
 *   pipe      aio_write of 1000 bytes to a full pipe (it must wait), the
 *             pipe drained only after the second submission; once.
 * Each time: aio_write(M) on an aiocb of its own, 0-30 us later aio_write(M)
 * again, then wait (2 s at most, then give up on M) until M is no longer
 * EINPROGRESS; M is never used again. Then on file B, fresh aiocbs:
 * aio_write of 4 KiB and aio_fsync(O_SYNC): both must complete within 3 s,
 * the write returning 4096, the fsync 0, and B must hold the bytes. Then
 * later requests of the process: an aio_read of B (the bytes back) and
 * aio_fsync(O_DSYNC) on B, both within 3 s; and the bystander's read
 * completes once the pipe is written.
 * Current kaio: the second submission resets kaio's state in the aiocb while
 * the first request is in flight; when the first completes in that window,
 * its write is never counted out of the fsync barrier, and every later
 * aio_fsync of the process is held forever (here: B's fsync, EINPROGRESS
 * after 3 s). A race: 2000 attempts make it near certain (a few hundred
 * milliseconds; about 0.5 s on glibc). */
#include "harness.h"
#include <poll.h>
#include <sys/wait.h>

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Wait until every request of `l` is done, for at most `ms`: 1 if all are. */
static int wait_all(struct aiocb *const *l, int n, int ms)
{
    long long until = now_ms() + ms;
    for (;;) {
        const struct aiocb *pending[8];
        int k = 0;
        for (int i = 0; i < n; i++)
            if (aio_error(l[i]) == EINPROGRESS) pending[k++] = l[i];
        if (k == 0) return 1;
        long long left = until - now_ms();
        if (left <= 0) return 0;
        struct timespec ts = { left / 1000, (left % 1000) * 1000000 };
        if (aio_suspend(pending, k, &ts) != 0 && errno != EAGAIN && errno != EINTR) {
            NOTE("aio_suspend: %s", errname(errno));
            return 0;
        }
    }
}

/* A bystander: another thread of the program waits in aio_suspend for a
 * read of an empty pipe (so on kaio it is the thread that takes the
 * kernel's completions as they come, concurrently with the submitter). */
static int by_pipe[2] = { -1, -1 };
static struct aiocb by_cb;
static char by_buf[8];

static void *bystander(void *unused)
{
    (void)unused;
    const struct aiocb *l[1] = { &by_cb };
    while (aio_error(&by_cb) == EINPROGRESS) aio_suspend(l, 1, NULL);
    return NULL;
}

static void spin_us(int us)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < us);
}

#define ATTEMPTS 2000           /* double submissions per file round */
#define DMAX 30                 /* most microseconds between the two calls */

/* The misuse, then the checks; in a child process. */
static int round_child(const char *kind, const char *path_a, const char *path_b)
{
    t_failures = 0;            /* the parent's failures are not this round's */
    static struct aiocb ms[ATTEMPTS];  /* the misused aiocbs, one per attempt */
    int fd_a = -1, p[2] = { -1, -1 };
    char *buf = NULL;
    size_t len;
    int attempts = ATTEMPTS;
    if (posix_memalign((void **)&buf, 4096, 1 << 20) != 0) _exit(2);
    fill_pat(buf, 1 << 20, 0, 41);
    if (pipe(by_pipe) != 0) _exit(2);
    t_cb(&by_cb, by_pipe[0], by_buf, sizeof by_buf, 0);
    pthread_t by;
    CHECK(aio_read(&by_cb) == 0, "bystander aio_read: %s", errname(errno));
    if (pthread_create(&by, NULL, bystander, NULL) != 0) _exit(2);
    if (strcmp(kind, "pipe") == 0) {
        if (pipe(p) != 0) _exit(2);
        fcntl(p[0], F_SETFL, O_NONBLOCK);   /* drained without blocking */
        (void)fcntl(p[1], F_SETPIPE_SZ, 4096);
        fcntl(p[1], F_SETFL, O_NONBLOCK);
        long filled = 0;
        ssize_t w;
        while ((w = write(p[1], buf, 4096)) > 0) filled += w;
        fcntl(p[1], F_SETFL, 0);
        NOTE("pipe filled with %ld bytes", filled);
        len = 1000;
        attempts = 1;
    } else {
        int direct = strcmp(kind, "direct") == 0;
        fd_a = open(path_a, O_RDWR | (direct ? O_DIRECT : 0));
        if (fd_a < 0 && direct) {
            NOTE("O_DIRECT refused (%s): buffered", errname(errno));
            fd_a = open(path_a, O_RDWR);
        }
        if (fd_a < 0) _exit(2);
        len = direct ? (16u << 10) : (64u << 10);
    }
    /* Each attempt: a request on its own aiocb, then the same aiocb again
     * after 0-30 us (so that the second call meets the first request at
     * every stage of its early life), then wait until that aiocb says done. */
    int given_up = 0, fail1 = 0, fail2 = 0;
    long long t_mis = now_ms();
    for (int i = 0; i < attempts; i++) {
        struct aiocb *m = &ms[i];
        t_cb(m, p[1] >= 0 ? p[1] : fd_a, buf, len, (off_t)(i % 8) * (off_t)len);
        int r1 = aio_write(m);
        int e1 = r1 ? errno : 0;
        spin_us((i * 37) % (DMAX + 1));
        int r2 = aio_write(m);   /* again, while (probably) in flight: undefined for m */
        int e2 = r2 ? errno : 0;
        fail1 += r1 != 0;
        fail2 += r2 != 0;
        if (i == 0)
            NOTE("%s: aio_write(m) = %d %s, again = %d %s, then aio_error %s", kind, r1,
                 errname(e1), r2, errname(e2), errname(aio_error(m)));
        if (p[0] >= 0) {       /* let the pipe writes through */
            long long until = now_ms() + 2000;
            long got = 0;
            char sink[8192];
            while (now_ms() < until) {
                ssize_t n = read(p[0], sink, sizeof sink);
                if (n > 0) got += n;
                if (aio_error(m) != EINPROGRESS) {
                    /* a second write may still be on its way: a little more */
                    struct pollfd pf = { p[0], POLLIN, 0 };
                    while (poll(&pf, 1, 50) > 0 && (n = read(p[0], sink, sizeof sink)) > 0)
                        got += n;
                    break;
                }
                struct pollfd pf = { p[0], POLLIN, 0 };
                poll(&pf, 1, 10);
            }
            NOTE("pipe: drained %ld bytes", got);
        }
        struct aiocb *ml[1] = { m };
        if (!wait_all(ml, 1, 2000)) {
            NOTE("%s: attempt %d: misused aiocb still EINPROGRESS after 2 s: given up", kind, i);
            given_up = 1;
            break;
        }
        if (i == 0 || i == attempts - 1)
            NOTE("%s: attempt %d: misused aiocb finished: aio_error %s, aio_return %zd", kind, i,
                 errname(aio_error(m)), aio_return(m));
    }
    NOTE("%s: %d double submissions in %lld ms (first call failed %d times, second %d)%s",
         kind, attempts, now_ms() - t_mis, fail1, fail2, given_up ? ", then gave up" : "");

    /* File B, fresh aiocbs: a write and an fsync behind it. */
    int fd_b = open(path_b, O_RDWR);
    if (fd_b < 0) _exit(2);
    static char wbuf[4096], rbuf[4096];
    fill_pat(wbuf, sizeof wbuf, 0, 42);
    static struct aiocb w, f;
    t_cb(&w, fd_b, wbuf, sizeof wbuf, 0);
    t_cb(&f, fd_b, NULL, 0, 0);
    int rw = aio_write(&w);
    int rf = aio_fsync(O_SYNC, &f);
    OUT("%s: file B: aio_write = %d, aio_fsync(O_SYNC) = %d", kind, rw, rf);
    CHECK(rw == 0 && rf == 0, "%s: submissions on file B failed: %s", kind, errname(errno));
    struct aiocb *wl[2] = { &w, &f };
    long long t0 = now_ms();
    int ok = rw == 0 && rf == 0 && wait_all(wl, 2, 3000);
    NOTE("%s: file B write + fsync: %s after %lld ms", kind, ok ? "done" : "NOT done",
         now_ms() - t0);
    OUT("%s: file B write and fsync complete within 3 s: %s", kind, ok ? "yes" : "no");
    CHECK(ok, "%s: after the misuse, a write + aio_fsync on another file did not complete "
          "within 3 s (write %s, fsync %s)", kind, errname(aio_error(&w)), errname(aio_error(&f)));
    if (!ok && IS_KAIO) {
        unsigned long long (*counter)(const char *) =
            (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
        if (counter)
            NOTE("kaio: fsync_held %llu, submitted %llu, completed %llu, kernel %llu, thread %llu",
                 counter("fsync_held"), counter("submitted"), counter("completed"),
                 counter("kernel"), counter("thread"));
    }
    if (!ok) return 1;         /* later requests would only wait longer */
    ssize_t nw = aio_return(&w), nf = aio_return(&f);
    OUT("%s: write returned %zd, fsync %s/%zd", kind, nw, errname(aio_error(&f)), nf);
    CHECK(nw == (ssize_t)sizeof wbuf && aio_error(&f) == 0 && nf == 0, "%s: results", kind);
    CHECK(pread(fd_b, rbuf, sizeof rbuf, 0) == (ssize_t)sizeof rbuf &&
          check_pat(rbuf, sizeof rbuf, 0, 42) < 0, "%s: file B does not hold the bytes", kind);

    /* Later requests of the process keep working. */
    static struct aiocb rd, f2;
    memset(rbuf, 0, sizeof rbuf);
    t_cb(&rd, fd_b, rbuf, sizeof rbuf, 0);
    t_cb(&f2, fd_b, NULL, 0, 0);
    int rr = aio_read(&rd);
    int rf2 = aio_fsync(O_DSYNC, &f2);
    struct aiocb *ll[2] = { &rd, &f2 };
    ok = rr == 0 && rf2 == 0 && wait_all(ll, 2, 3000);
    OUT("%s: later aio_read + aio_fsync(O_DSYNC) complete within 3 s: %s", kind,
        ok ? "yes" : "no");
    CHECK(ok, "%s: later requests: read %s, fsync %s", kind, errname(aio_error(&rd)),
          errname(aio_error(&f2)));
    if (ok) {
        ssize_t nr = aio_return(&rd), nf2 = aio_return(&f2);
        OUT("%s: read returned %zd (data %s), fsync %zd", kind, nr,
            check_pat(rbuf, sizeof rbuf, 0, 42) < 0 ? "right" : "WRONG", nf2);
        CHECK(nr == (ssize_t)sizeof rbuf && check_pat(rbuf, sizeof rbuf, 0, 42) < 0 && nf2 == 0,
              "%s: later results", kind);
    }
    /* Release the bystander (it must see its read complete too). */
    CHECK(write(by_pipe[1], "x", 1) == 1, "write");
    struct aiocb *bl[1] = { &by_cb };
    int by_ok = wait_all(bl, 1, 3000);
    OUT("%s: bystander's pipe read completes: %s", kind, by_ok ? "yes" : "no");
    CHECK(by_ok && aio_return(&by_cb) == 1, "%s: bystander read %s", kind,
          errname(aio_error(&by_cb)));
    if (by_ok) pthread_join(by, NULL);
    return t_failures ? 1 : 0;
}

int main(void)
{
    t_init("test_rel_double_submit", 60);
    static const char *kinds[] = { "buffered", "direct", "pipe" };
    for (int i = 0; i < 3; i++) {
        /* A exists with its blocks: an O_DIRECT overwrite is asynchronous
         * (ext4 makes a write that extends the file synchronous). */
        const char *a = t_make_file(0, "rel_dsub_a", 1 << 20, 3);
        const char *b = t_make_file(1, "rel_dsub_b", 4096, 7);
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) { CHECK(0, "fork: %s", errname(errno)); break; }
        if (pid == 0) {
            alarm(15);         /* the child's own watchdog (t_watchdog) */
            int rc = round_child(kinds[i], a, b);
            fflush(stdout);
            _exit(rc);
        }
        int status = -1;
        long long until = now_ms() + 20000;
        for (;;) {
            if (waitpid(pid, &status, WNOHANG) == pid) break;
            if (now_ms() > until) { kill(pid, SIGKILL); waitpid(pid, &status, 0); break; }
            struct timespec d = { 0, 5 * 1000000 };
            nanosleep(&d, NULL);
        }
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s round: child status %#x",
              kinds[i], status);
        unlink(a);
        unlink(b);
    }
    return t_done();
}
