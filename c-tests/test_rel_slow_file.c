/* Issue 9, case 10: one slow file must not stall requests on other files.
 * "Slow" requests are made with userfaultfd: their buffers are anonymous
 * regions registered MISSING, and a handler thread serves the faults
 * (UFFDIO_COPY) only 2.5 s after the start of the scenario, as a hung
 * NFS/FUSE server or late swap-in would. All submissions are made by the
 * main thread, which is never the handler.
 *
 * Scenarios, each in its own fork()ed child (they run in parallel; the
 * parent prints their transcripts in order):
 *  1. "cold": 8 buffered aio_reads of 16 KiB of file A (not in the page
 *     cache) into uffd buffers -- more than kaio's pool of 2 x CPUs threads
 *     -- then one aio_read of file B (not in the page cache either) into an
 *     ordinary buffer. B's read must complete within 1 s of the start while
 *     A's reads are all still pending.
 *     (kaio's RWF_NOWAIT attempt starts the kernel's read of a cold range
 *     and, if preempted meanwhile, may find it ready and copy inline: a
 *     run under a CPU hog then shows fewer pending A reads.)
 *  2. "hot": the same with A in the page cache.
 *  3. "fsync": an aio_write to file B from a uffd buffer (slow), then an
 *     aio_write of file A from an ordinary buffer and aio_fsync(O_SYNC) of
 *     A. The fsync covers the operations of ITS file (POSIX: "all currently
 *     queued I/O operations associated with the file indicated by
 *     aio_fildes"): it must complete within 1 s while B's write is still
 *     pending.
 * After the faults are served, every request completes with the right
 * byte count and data (reads: the file's bytes; B's write: the bytes the
 * faults supplied, read back from B).
 * The aio_read/aio_write calls are timed (NOTE); case 14
 * (test_rel_uffd_inline) asserts that they do not block.
 * Skipped (77) if userfaultfd is unavailable. */
#include "harness.h"
#include "harness_rel_res.h"

#define NA 8
#define CHUNK (4 * R_PAGE)
#define STRIDE (64 * CHUNK) /* A's reads are 1 MiB apart: readahead of one never caches another */
#define RELEASE_MS 2500
#define BOUND_MS 1000

static int uffd = -1;
static volatile long long release_at;
static volatile int quit;

static void *handler(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&quit, __ATOMIC_SEQ_CST)) {
        if (r_now_us() >= release_at) r_uffd_serve_one(uffd, 10);
        else r_sleep_ms(5);
    }
    return NULL;
}

static void start_handler(pthread_t *th)
{
    release_at = r_now_us() + 3600LL * 1000000; /* set for real at the start */
    CHECK(pthread_create(th, NULL, handler, NULL) == 0, "handler thread");
}

static void stop_handler(pthread_t th)
{
    __atomic_store_n(&quit, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
}

static void make_cold(const char *name, int fd, size_t len)
{
    if (r_drop_cache(fd, 0, len, NULL) != 1)
        NOTE("%s: file still (partly) in the page cache", name);
}

/* Wait for `cb` until the absolute time `until_us`; 1 if it is done. */
static int wait_until(struct aiocb *cb, long long until_us)
{
    const struct aiocb *l[1] = { cb };
    while (aio_error(cb) == EINPROGRESS) {
        long long left = until_us - r_now_us();
        if (left <= 0) return 0;
        struct timespec ts = { left / 1000000, (left % 1000000) * 1000 };
        if (aio_suspend(l, 1, &ts) != 0 && errno != EAGAIN && errno != EINTR) {
            CHECK(0, "aio_suspend: %s", errname(errno));
            return 0;
        }
    }
    return 1;
}

static const char *scen_name(long hot) { return hot ? "hot" : "cold"; }

static void slow_reads(void *arg)
{
    long hot = (long)arg;
    const char *name = scen_name(hot);
    r_stage = name;
    uffd = r_uffd_open();
    CHECK(uffd >= 0, "userfaultfd: %s", errname(errno));
    if (uffd < 0) return;
    const unsigned sa = 101, sb = 102;
    const char *pa = t_make_file(0, "rel_slow_a", NA * STRIDE, sa);
    const char *pb = t_make_file(1, "rel_slow_b", CHUNK, sb);
    int fa = open(pa, O_RDONLY), fb = open(pb, O_RDONLY);
    CHECK(fa >= 0 && fb >= 0, "open");
    unlink(pa);
    unlink(pb);
    static char warm[CHUNK];
    make_cold(name, fa, NA * STRIDE);
    make_cold(name, fb, CHUNK);
    posix_fadvise(fa, 0, 0, POSIX_FADV_RANDOM);
    for (int i = 0; hot && i < NA; i++)
        CHECK(pread(fa, warm, CHUNK, (off_t)i * STRIDE) == CHUNK, "warm A");
    char *slow = r_uffd_region(uffd, NA * CHUNK, 103);
    CHECK(slow != NULL, "uffd region: %s", errname(errno));
    if (!slow) return;
    static char bbuf[CHUNK];
    pthread_t th;
    start_handler(&th);

    struct aiocb a[NA], b;
    long long t0 = r_now_us(), most = 0;
    release_at = t0 + RELEASE_MS * 1000LL;
    int sub_ok = 0;
    for (int i = 0; i < NA; i++) {
        t_cb(&a[i], fa, slow + i * CHUNK, CHUNK, (off_t)i * STRIDE);
        long long s = r_now_us();
        sub_ok += aio_read(&a[i]) == 0;
        if (r_now_us() - s > most) most = r_now_us() - s;
    }
    t_cb(&b, fb, bbuf, CHUNK, 0);
    int rb = aio_read(&b);
    long long tb = r_now_us();
    int b_done_ok = rb == 0 && wait_until(&b, t0 + BOUND_MS * 1000LL);
    long long b_done = r_now_us();
    int b_in_time = b_done_ok && b_done - t0 <= BOUND_MS * 1000LL;
    int a_pending = 0;
    for (int i = 0; i < NA; i++) a_pending += aio_error(&a[i]) == EINPROGRESS;
    NOTE("%s: slowest aio_read of A took %lld ms; B submitted at +%lld ms, %s at +%lld ms; "
         "A reads pending then: %d/%d", name, most / 1000, (tb - t0) / 1000,
         b_done_ok ? "complete" : "NOT complete", (b_done - t0) / 1000, a_pending, NA);
    OUT("%s: 8 slow reads of A submitted: %d, read of B submitted: %d", name, sub_ok, rb);
    CHECK(sub_ok == NA && rb == 0, "submissions: %s", errname(errno));
    CHECK(b_in_time, "%s: the read of file B did not complete within %d ms while reads of file A "
          "waited for their buffers' page faults", name, BOUND_MS);
    CHECK(a_pending == NA, "%s: only %d/%d reads of A were still pending when B's read was "
          "checked (the faults are served at +%d ms)", name, a_pending, NA, RELEASE_MS);

    /* Everything completes once the faults are served. */
    long long end = t0 + (RELEASE_MS + 3000) * 1000LL;
    int good = 0, done = 1;
    for (int i = 0; i < NA; i++) {
        done &= wait_until(&a[i], end);
        if (aio_error(&a[i]) == 0 && aio_return(&a[i]) == CHUNK &&
            check_pat(slow + i * CHUNK, CHUNK, (uint64_t)i * STRIDE, sa) < 0)
            good++;
    }
    done &= wait_until(&b, end);
    int be = aio_error(&b);
    ssize_t bn = be == EINPROGRESS ? -2 : aio_return(&b);
    OUT("%s: reads of A correct: %d/%d; read of B: aio_error %s, aio_return %zd, data %s", name,
        good, NA, errname(be), bn, be == 0 && check_pat(bbuf, CHUNK, 0, sb) < 0 ? "correct" : "WRONG");
    CHECK(done && good == NA && be == 0 && bn == CHUNK, "%s: final results", name);
    stop_handler(th);
    r_note_counters(name);
}

static void slow_write_fsync(void *arg)
{
    (void)arg;
    r_stage = "fsync";
    uffd = r_uffd_open();
    CHECK(uffd >= 0, "userfaultfd: %s", errname(errno));
    if (uffd < 0) return;
    const unsigned sa = 111, sbw = 112;
    const char *pa = t_make_file(0, "rel_slow_fa", CHUNK, 110);
    const char *pb = t_make_file(1, "rel_slow_fb", CHUNK, 110);
    int fa = open(pa, O_RDWR), fb = open(pb, O_RDWR);
    CHECK(fa >= 0 && fb >= 0, "open");
    unlink(pa);
    unlink(pb);
    char *slow = r_uffd_region(uffd, CHUNK, sbw);
    CHECK(slow != NULL, "uffd region: %s", errname(errno));
    if (!slow) return;
    static char abuf[CHUNK];
    fill_pat(abuf, CHUNK, 0, sa);
    pthread_t th;
    start_handler(&th);

    struct aiocb wb, wa, fs;
    t_cb(&wb, fb, slow, CHUNK, 0);
    t_cb(&wa, fa, abuf, CHUNK, 0);
    t_cb(&fs, fa, NULL, 0, 0);
    long long t0 = r_now_us();
    release_at = t0 + RELEASE_MS * 1000LL;
    int r1 = aio_write(&wb);
    long long t1 = r_now_us();
    int r2 = aio_write(&wa);
    int r3 = aio_fsync(O_SYNC, &fs);
    OUT("fsync: aio_write(B, slow) = %d, aio_write(A) = %d, aio_fsync(A) = %d", r1, r2, r3);
    CHECK(r1 == 0 && r2 == 0 && r3 == 0, "submissions: %s", errname(errno));
    int fs_done = r3 == 0 && wait_until(&fs, t0 + BOUND_MS * 1000LL);
    long long tf = r_now_us();
    int fs_in_time = fs_done && tf - t0 <= BOUND_MS * 1000LL;
    int wa_done = aio_error(&wa) != EINPROGRESS;
    int wb_pending = aio_error(&wb) == EINPROGRESS;
    NOTE("fsync: aio_write(B) took %lld ms; fsync of A %s at +%lld ms; write of B %s then",
         (t1 - t0) / 1000, fs_done ? "complete" : "NOT complete", (tf - t0) / 1000,
         wb_pending ? "pending" : "done");
    CHECK(fs_in_time, "fsync: aio_fsync of file A did not complete within %d ms while a write "
          "of file B waited for its buffer's page faults", BOUND_MS);
    CHECK(!fs_in_time || wa_done, "fsync: the fsync completed before the write of its own file");
    CHECK(wb_pending, "fsync: the write of B was no longer pending when A's fsync was checked "
          "(the faults are served at +%d ms)", RELEASE_MS);

    long long end = t0 + (RELEASE_MS + 3000) * 1000LL;
    int done = wait_until(&wb, end) & wait_until(&wa, end) & wait_until(&fs, end);
    int eb = aio_error(&wb), ea = aio_error(&wa), ef = aio_error(&fs);
    ssize_t nb = eb == EINPROGRESS ? -2 : aio_return(&wb);
    ssize_t na = ea == EINPROGRESS ? -2 : aio_return(&wa);
    if (ef != EINPROGRESS) aio_return(&fs);
    static char back[CHUNK];
    int a_ok = pread(fa, back, CHUNK, 0) == CHUNK && check_pat(back, CHUNK, 0, sa) < 0;
    int b_ok = pread(fb, back, CHUNK, 0) == CHUNK && check_pat(back, CHUNK, 0, sbw) < 0;
    OUT("fsync: write B %s/%zd, write A %s/%zd, fsync A %s; file A %s, file B %s", errname(eb), nb,
        errname(ea), na, errname(ef), a_ok ? "correct" : "WRONG", b_ok ? "correct" : "WRONG");
    CHECK(done && eb == 0 && nb == CHUNK && ea == 0 && na == CHUNK && ef == 0 && a_ok && b_ok,
          "fsync: final results");
    stop_handler(th);
    r_note_counters("fsync");
}

int main(void)
{
    t_init("test_rel_slow_file", 20);
    int probe = r_uffd_open();
    if (probe < 0) T_SKIP("userfaultfd: %s", errname(errno));
    close(probe); /* each child opens its own: a userfaultfd belongs to one mm */
    struct r_child c[3];
    r_child_start(&c[0], slow_reads, (void *)0L, 12);
    r_child_start(&c[1], slow_reads, (void *)1L, 12);
    r_child_start(&c[2], slow_write_fsync, NULL, 12);
    r_child_wait_all(c, 3, 15);
    static const char *const what[] = { "cold", "hot", "fsync" };
    for (int i = 0; i < 3; i++) {
        r_child_print(&c[i]);
        int st = c[i].status;
        if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) continue;
        t_failures++;
        if (!(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1))
            OUT("%s: child %s", what[i], r_status_str(st));
    }
    return t_done();
}
