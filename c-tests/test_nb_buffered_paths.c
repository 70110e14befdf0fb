/* KAIO_ONLY (asserts kaio's counters): a buffered read never blocks the
 * caller on the disk.
 *  1. Cold: a 64 MiB file, fsync'ed and dropped from the page cache
 *     (POSIX_FADV_DONTNEED, checked with mincore); aio_read of 1 MiB at
 *     32 MiB: the non-blocking attempt (RWF_NOWAIT) is refused, so kaio
 *     serves it off the caller's thread: counter "thread" grows. Data right.
 *  2. Hot: the same range again (now cached): completed inside aio_read
 *     (aio_error 0 as soon as it returns), "inline" grows, "thread" not.
 * No times are asserted. */
#include "harness.h"
#include <sys/mman.h>

#define FSIZE (64u << 20)
#define OFF (32u << 20)
#define LEN (1u << 20)

/* Pages of [OFF, OFF+LEN) resident in the page cache. */
static int resident(int fd)
{
    void *m = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, OFF);
    if (m == MAP_FAILED) return -1;
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char vec[LEN / 4096 + 1];
    int n = 0;
    if (mincore(m, LEN, vec) == 0)
        for (long i = 0; i < (long)(LEN / pg); i++) n += vec[i] & 1;
    else
        n = -1;
    munmap(m, LEN);
    return n;
}

int main(void)
{
    t_init("test_nb_buffered_paths", 50);
    unsigned long long (*counter)(const char *) =
        (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
    CHECK(counter != NULL, "kaio_counter not found");
    if (!counter) return t_done();
    const char *path = t_make_file(0, "nb_buffered", FSIZE, 61);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));
    CHECK(fsync(fd) == 0, "fsync: %s", errname(errno));
    int res = -1;
    for (int tries = 0; tries < 5 && res != 0; tries++) {
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        res = resident(fd);
    }
    NOTE("resident pages of the range after DONTNEED: %d", res);
    if (res != 0) { close(fd); unlink(path); T_SKIP("cannot drop the file from the page cache"); }

    static char buf[LEN];
    struct aiocb cb;
    unsigned long long th0 = counter("thread"), in0 = counter("inline");
    t_cb(&cb, fd, buf, LEN, OFF);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);
    ssize_t n = aio_return(&cb);
    long bad = check_pat(buf, LEN, OFF, 61);
    unsigned long long dth = counter("thread") - th0, din = counter("inline") - in0;
    OUT("cold read: %zd bytes, data %s", n, bad < 0 ? "ok" : "BAD");
    OUT("cold read: thread grew %s", dth >= 1 ? "yes" : "NO");
    NOTE("cold read: thread +%llu, inline +%llu", dth, din);
    CHECK(n == LEN && bad < 0, "cold read %zd, bad at %ld", n, bad);
    CHECK(dth >= 1, "cold buffered read not served by a kaio thread");

    memset(buf, 0, LEN);
    th0 = counter("thread");
    in0 = counter("inline");
    t_cb(&cb, fd, buf, LEN, OFF);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    int e = aio_error(&cb);
    t_wait(&cb);
    n = aio_return(&cb);
    bad = check_pat(buf, LEN, OFF, 61);
    dth = counter("thread") - th0;
    din = counter("inline") - in0;
    OUT("hot read: %zd bytes, data %s, aio_error right after aio_read = %s", n,
        bad < 0 ? "ok" : "BAD", errname(e));
    OUT("hot read: inline grew %s, thread grew %s", din >= 1 ? "yes" : "NO", dth ? "YES" : "no");
    NOTE("hot read: thread +%llu, inline +%llu", dth, din);
    CHECK(n == LEN && bad < 0, "hot read %zd, bad at %ld", n, bad);
    CHECK(e == 0, "cached read not completed inside aio_read: %s", errname(e));
    CHECK(din >= 1 && dth == 0, "cached read: inline +%llu thread +%llu", din, dth);
    close(fd);
    unlink(path);
    return t_done();
}
