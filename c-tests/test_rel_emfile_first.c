/* The descriptor table is full when the program makes its first AIO call
 * (issue 9, case 13): a library that needs a descriptor of its own (kaio's
 * wake-up eventfd, created with its kernel context) cannot create it then
 * (EMFILE). Once descriptors are free again, AIO must work as usual: here a
 * lio_listio(LIO_WAIT) of a cold buffered read must return as soon as that
 * read is done (glibc: milliseconds), not when an unrelated pending pipe
 * read happens to complete (5 s later).
 *
 * Each trial runs in a fork()ed child (RLIMIT_NOFILE poisons the process;
 * every child starts with no AIO state): a writer thread waits (it writes
 * the pipe when told to, or after 5 s at the latest); soft RLIMIT_NOFILE 64,
 * the table filled with dup() until EMFILE; the first AIO call of the
 * process, an aio_read of the empty pipe, stays pending; four descriptors
 * are freed; lio_listio(LIO_WAIT) reads 64 KiB of a file whose pages were
 * dropped from the page cache (fsync + POSIX_FADV_DONTNEED, checked with
 * mincore). It must return within 2 s with the right bytes. Then the writer
 * is told to write: the pipe read completes with its bytes (and not before
 * the write); each request completes once (kaio: its counters).
 *
 * Whether a waiter is hurt by the missing eventfd depends on a race (the
 * LIO_WAIT caller must reach kaio's reaping before kaio's reaper thread
 * does), so the scenario is repeated up to 40 times (a few ms each when the
 * wait is prompt) and stops at the first failing trial. */
#include "harness.h"
#include "harness_relfd.h"
#include <semaphore.h>
#include <sys/resource.h>

enum { TRIALS = 40, SPACING = 128 << 10, FSIZE = TRIALS * SPACING, LEN = 65536, MSG = 32 };

static int cold_fd;
static sem_t go;
static int pipe_w;
static volatile int written;
static char msg[MSG];

static void *writer(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    while (sem_timedwait(&go, &ts) != 0 && errno == EINTR) {}
    written = 1;
    if (write(pipe_w, msg, MSG) != MSG) REL->failures++;
    return NULL;
}

/* Pages of [off, off+len) of the cold file in the page cache. */
static int resident(off_t off, size_t len)
{
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, cold_fd, off);
    if (m == MAP_FAILED) return -1;
    unsigned char vec[LEN / 4096];
    int n = 0;
    if (mincore(m, len, vec) == 0)
        for (size_t i = 0; i < len / 4096; i++) n += vec[i] & 1;
    munmap(m, len);
    return n;
}

static void child(void *arg)
{
    int trial = *(int *)arg;
    int detail = trial == 0; /* the full transcript once */
    off_t off = (off_t)trial * SPACING;
    fill_pat(msg, MSG, 0, 32 + trial);
    int p[2];
    C_CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    pipe_w = p[1];
    sem_init(&go, 0, 0);
    pthread_t th;
    C_CHECK(pthread_create(&th, NULL, writer, NULL) == 0, "pthread_create");
    int res = resident(off, LEN);

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = 64;
    C_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit: %s", errname(errno));
    int dups[64], ndup = 0, e = 0;
    while (ndup < 64) {
        int fd = dup(0);
        if (fd < 0) { e = errno; break; }
        dups[ndup++] = fd;
    }
    if (detail) C_OUT("descriptor table filled until %s", errname(e));
    C_CHECK(e == EMFILE, "dup stopped with %s after %d", errname(e), ndup);

    /* The first AIO call of the process, with no descriptor free. */
    static char pbuf[MSG];
    struct aiocb pr;
    t_cb(&pr, p[0], pbuf, MSG, 0);
    int r = aio_read(&pr);
    int err = errno;
    int pe = aio_error(&pr);
    if (detail)
        C_OUT("first aio_read (empty pipe, table full) = %d%s%s, aio_error %s", r, r ? " " : "",
              r ? errname(err) : "", errname(pe));
    C_CHECK(r == 0 && pe == EINPROGRESS, "first aio_read %d %s, aio_error %s", r, errname(err),
            errname(pe));
    for (int i = 0; i < 4 && i < ndup; i++) close(dups[i]);

    /* A cold buffered read through lio_listio(LIO_WAIT). */
    static char buf[LEN];
    struct aiocb cr;
    t_cb(&cr, cold_fd, buf, LEN, off);
    cr.aio_lio_opcode = LIO_READ;
    struct aiocb *list[1] = { &cr };
    double t0 = rel_now();
    int lr = lio_listio(LIO_WAIT, list, 1, NULL);
    int lerr = errno;
    double took = rel_now() - t0;
    int was_written = written;
    C_NOTE("trial %d: %d dups, %d pages resident, lio_listio(LIO_WAIT) took %.3f s%s", trial, ndup,
           res, took, was_written ? " (the writer had written the pipe: 5 s passed)" : "");
    C_CHECK(took < 2.0, "trial %d: lio_listio(LIO_WAIT) of a cold read took %.1f s "
            "(it waited for the unrelated pipe read)", trial, took);
    int ce = aio_error(&cr);
    ssize_t cn = aio_return(&cr);
    int data_ok = cn == LEN && check_pat(buf, LEN, off, 31) < 0;
    if (detail) {
        C_OUT("lio_listio(LIO_WAIT) returned within 2 s: %s", took < 2.0 ? "yes" : "no");
        C_OUT("lio_listio = %d, cold read: aio_error %s, aio_return %zd, bytes %s", lr,
              errname(ce), cn, data_ok ? "right" : "WRONG");
    }
    C_CHECK(lr == 0 && ce == 0 && data_ok, "trial %d: lio %d %s, cold read %s %zd, bytes %s", trial,
            lr, lr ? errname(lerr) : "", errname(ce), cn, data_ok ? "right" : "wrong");
    if (!was_written)
        C_CHECK(aio_error(&pr) == EINPROGRESS, "trial %d: pipe read done before the pipe was written: %s",
                trial, errname(aio_error(&pr)));

    /* Now the pipe gets its data. */
    sem_post(&go);
    int done = rel_wait_done(&pr, 2.0);
    pthread_join(th, NULL);
    e = aio_error(&pr);
    ssize_t n = aio_return(&pr);
    int ok = done && e == 0 && n == MSG && memcmp(pbuf, msg, MSG) == 0;
    if (detail)
        C_OUT("pipe read after the write: aio_error %s, aio_return %zd, bytes %s",
              done ? errname(e) : "EINPROGRESS", n, ok ? "right" : "WRONG");
    C_CHECK(ok, "trial %d: pipe read: done %d, %s, %zd", trial, done, errname(e), n);
    if (IS_KAIO) {
        unsigned long long s = rel_counter("submitted"), d = rel_counter("completed");
        C_CHECK(s == 2 && d == 2, "trial %d: kaio counted %llu submitted, %llu completed (want 2, 2)",
                trial, s, d);
    }
    _exit(REL->failures ? 1 : 0);
}

int main(void)
{
    t_init("test_rel_emfile_first", 25);
    rel_log_init();
    cold_fd = rel_open_file(0, "rel_emfile_cold", FSIZE, 31, O_RDWR);
    CHECK(cold_fd >= 0, "open: %s", errname(errno));
    posix_fadvise(cold_fd, 0, 0, POSIX_FADV_RANDOM); /* no readahead into other trials' ranges */
    int res = rel_drop_cache(cold_fd, 0, FSIZE);
    NOTE("resident pages of the file after DONTNEED: %d", res);
    int trials = 0, failed = 0;
    while (trials < TRIALS && !failed) {
        int t = trials++;
        int st = rel_run_child(child, &t, 9.0);
        failed = !(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        CHECK(!failed, "trial %d: child status %#x", t, st);
    }
    OUT("trials: every LIO_WAIT prompt, every request right: %s", failed ? "no" : "yes");
    if (failed) NOTE("failed at trial %d of %d", trials - 1, TRIALS);
    close(cold_fd);
    return t_done();
}
