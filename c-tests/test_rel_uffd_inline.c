/* Issue 9, case 14: aio_read/aio_write never wait for a page fault of the
 * caller's buffer. A submission only queues the request (POSIX: "the call
 * returns when the request has been initiated or queued"); the transfer,
 * and whatever its buffer's page faults cost (swap-in, a userfaultfd
 * server), belongs to the asynchronous part. The caller may even be the
 * one that must resolve the fault: then a submission that copies inline
 * deadlocks.
 *
 * Buffers here are anonymous mappings registered with userfaultfd
 * (MISSING): touching a page blocks until someone UFFDIO_COPYs it. For each
 * scenario the main thread submits one 16 KiB request whose buffer is such
 * a region, and
 *   - the submission must return within 200 ms (it returns at once on
 *     glibc, whose helper thread takes the fault);
 *   - then the SAME thread serves the faults (reads the uffd events,
 *     UFFDIO_COPY) and the request completes with the right byte count and
 *     data (a read: the file's/pipe's bytes in the buffer; a write: the
 *     bytes the faults supplied, found in the file/pipe).
 * Scenarios: a read of a file that is in the page cache (kaio's RWF_NOWAIT
 * copy runs inside aio_read), a write to a file, a read of a pipe that
 * already holds the data, a write to an empty pipe.
 *
 * Deadlock protection: while a submission has not returned after 1.5 s a
 * rescue thread serves the faults (so the call can return), and the test
 * fails saying so; the watchdog remains the last resort.
 * Skipped (77) if userfaultfd is unavailable (needs root, CAP_SYS_PTRACE or
 * vm.unprivileged_userfaultfd=1 for faults taken inside the kernel). */
#include "harness.h"
#include "harness_rel_res.h"

#define LEN (4 * R_PAGE)
#define RESCUE_MS 1500
#define SUBMIT_BOUND_MS 200

static int uffd = -1;
static volatile int armed, returned, rescued, quit;
static volatile long long rescue_at;

static void *rescuer(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&quit, __ATOMIC_SEQ_CST)) {
        if (__atomic_load_n(&armed, __ATOMIC_SEQ_CST) &&
            !__atomic_load_n(&returned, __ATOMIC_SEQ_CST) && r_now_us() > rescue_at) {
            __atomic_store_n(&rescued, 1, __ATOMIC_SEQ_CST);
            r_uffd_serve_one(uffd, 10);
        } else {
            r_sleep_ms(5);
        }
    }
    return NULL;
}

enum kind { FILE_READ, FILE_WRITE, PIPE_READ, PIPE_WRITE };
static const char *const names[] = {
    "file read (page cache hit)", "file write", "pipe read (data ready)", "pipe write (empty pipe)",
};

static void scenario(enum kind k, int fd_r, int fd_w, unsigned seed_file)
{
    const unsigned region_seed = 140 + (unsigned)k;
    char *buf = r_uffd_region(uffd, LEN, region_seed);
    CHECK(buf != NULL, "uffd region: %s", errname(errno));
    if (!buf) return;
    int p[2] = { -1, -1 };
    struct aiocb cb;
    const int is_read = k == FILE_READ || k == PIPE_READ;
    if (k == PIPE_READ || k == PIPE_WRITE) {
        CHECK(pipe(p) == 0, "pipe");
        if (k == PIPE_READ) {
            static char data[LEN];
            fill_pat(data, LEN, 0, 150);
            CHECK(write(p[1], data, LEN) == LEN, "fill pipe");
        }
        t_cb(&cb, k == PIPE_READ ? p[0] : p[1], buf, LEN, 0);
    } else {
        t_cb(&cb, k == FILE_READ ? fd_r : fd_w, buf, LEN, k == FILE_READ ? 2 * R_PAGE : 0);
    }
    int faults0 = r_uffd_faults;
    __atomic_store_n(&returned, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&rescued, 0, __ATOMIC_SEQ_CST);
    rescue_at = r_now_us() + RESCUE_MS * 1000;
    __atomic_store_n(&armed, 1, __ATOMIC_SEQ_CST);
    long long t0 = r_now_us();
    int r = is_read ? aio_read(&cb) : aio_write(&cb);
    int e = errno;
    long long dt = r_now_us() - t0;
    __atomic_store_n(&returned, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&armed, 0, __ATOMIC_SEQ_CST);
    int by_rescuer = r_uffd_faults - faults0;
    OUT("%s, missing uffd buffer: %s = %d%s%s", names[k],
        is_read ? "aio_read" : "aio_write", r, r ? " " : "", r ? errname(e) : "");
    CHECK(r == 0, "%s: %s", names[k], errname(e));
    NOTE("%s: submission returned after %lld ms (%d fault(s) served meanwhile)", names[k],
         dt / 1000, by_rescuer);
    CHECK(dt < SUBMIT_BOUND_MS * 1000LL, "%s: the submission took %lld ms: it waited for a page "
          "fault of the caller's buffer", names[k], dt / 1000);
    CHECK(!rescued, "%s: deadlock: the submission could only return after a rescue thread "
          "served the fault (%d ms); the submitting thread was meant to serve it", names[k],
          RESCUE_MS);
    if (r != 0) goto out;

    /* The submitting thread serves the faults now. */
    long long end = r_now_us() + 3000000;
    int served = 0;
    while (aio_error(&cb) == EINPROGRESS && r_now_us() < end)
        served += r_uffd_serve_one(uffd, 20) == 1;
    e = aio_error(&cb);
    ssize_t n = e == EINPROGRESS ? -2 : aio_return(&cb);
    NOTE("%s: %d fault(s) served by the submitting thread", names[k], served);
    long bad = -2;
    if (e == 0 && n == LEN) {
        if (k == FILE_READ) bad = check_pat(buf, LEN, 2 * R_PAGE, seed_file);
        else if (k == PIPE_READ) bad = check_pat(buf, LEN, 0, 150);
        else {
            static char back[LEN];
            ssize_t got = k == FILE_WRITE ? pread(fd_w, back, LEN, 0) : read(p[0], back, LEN);
            bad = got == LEN ? check_pat(back, LEN, 0, region_seed) : -3;
        }
    }
    OUT("%s: aio_error %s, aio_return %zd, data %s", names[k], errname(e), n,
        bad == -1 ? "correct" : "WRONG");
    CHECK(e == 0 && n == LEN, "%s: %s %zd", names[k], errname(e), n);
    CHECK(bad == -1, "%s: data differ (%ld)", names[k], bad);
out:
    if (p[0] >= 0) { close(p[0]); close(p[1]); }
}

int main(void)
{
    t_init("test_rel_uffd_inline", 30);
    uffd = r_uffd_open();
    if (uffd < 0) T_SKIP("userfaultfd: %s", errname(errno));
    {
        /* Registration works (anonymous private memory, MISSING mode). */
        char *probe = r_uffd_region(uffd, R_PAGE, 1);
        if (!probe) T_SKIP("UFFDIO_REGISTER: %s", errname(errno));
    }
    const unsigned seed = 139;
    const char *path = t_make_file(0, "rel_uffd_inline_r", 16 * R_PAGE, seed);
    const char *wpath = t_make_file(1, "rel_uffd_inline_w", 0, 0);
    int fd = open(path, O_RDONLY);
    int fdw = open(wpath, O_RDWR);
    CHECK(fd >= 0 && fdw >= 0, "open");
    static char warm[16 * R_PAGE];
    CHECK(pread(fd, warm, sizeof warm, 0) == (ssize_t)sizeof warm, "warm the page cache");
    pthread_t th;
    CHECK(pthread_create(&th, NULL, rescuer, NULL) == 0, "rescuer thread");

    scenario(FILE_READ, fd, fdw, seed);
    scenario(FILE_WRITE, fd, fdw, seed);
    scenario(PIPE_READ, fd, fdw, seed);
    scenario(PIPE_WRITE, fd, fdw, seed);

    __atomic_store_n(&quit, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    close(fd);
    close(fdw);
    unlink(path);
    unlink(wpath);
    return t_done();
}
