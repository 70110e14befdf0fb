/* KAIO_ONLY (aio_waitcomplete is a kaio extension with FreeBSD semantics;
 * glibc has no such call). Issue 9, case 12: aio_waitcomplete reports each
 * completed request once, and only one not yet reaped: a request reaped
 * with aio_return is finished (FreeBSD frees it there), and an aiocb that
 * was reaped and then reused for a new request stands for that new request
 * only, reported when (and not before) it completes.
 * Part 1. aio_waitcomplete with a zero timeout first (kaio then enrolls the
 * requests submitted later; nothing is outstanding yet: EAGAIN). Request A,
 * an aio_read of 4 KiB of a file: waited for with aio_suspend and reaped
 * with aio_return. A's aiocb is then reused for an aio_read of an empty pipe
 * (it stays in flight). aio_waitcomplete with a 50 ms timeout must report
 * nothing: -1 with EINPROGRESS (done.rs: the timeout passed), *iocbp NULL:
 * neither the old completion (already reaped) nor the new in-flight request.
 * After 5 bytes are written to the pipe, aio_waitcomplete must return A once,
 * with 5; a further zero-timeout call must not return it again (nothing is
 * outstanding: EAGAIN).
 * Part 2. 16 file reads (lengths 1000 + i), all waited for with aio_suspend;
 * the even ones reaped with aio_return; then aio_waitcomplete (zero timeout)
 * until it has nothing more: it must report exactly the odd ones, each once,
 * with its length, and none of the even ones. */
#include "harness.h"
#include "kaio_ext.h"

static void wait_done(struct aiocb *cb)
{
    const struct aiocb *l[1] = { cb };
    for (int i = 0; i < 50 && aio_error(cb) == EINPROGRESS; i++) {
        struct timespec ts = { 0, 100 * 1000000 };
        aio_suspend(l, 1, &ts);
    }
}

static const char *which(struct aiocb *got, struct aiocb *a)
{
    return got == NULL ? "NULL" : got == a ? "A" : "another aiocb";
}

int main(void)
{
    t_init("test_rel_waitcomplete_reaped", 30);
#ifndef KAIO_LINKED
    if (!aio_waitcomplete) T_SKIP("aio_waitcomplete is not available (not kaio)");
#endif
    const char *path = t_make_file(0, "rel_wc_reaped", 1 << 20, 12);
    int fd = open(path, O_RDONLY);
    int p[2];
    CHECK(fd >= 0 && pipe(p) == 0, "setup: %s", errname(errno));

    /* Part 1. */
    struct timespec zero = { 0, 0 };
    struct aiocb *got = (struct aiocb *)1;
    ssize_t r = aio_waitcomplete(&got, &zero);
    OUT("first aio_waitcomplete (nothing submitted): %zd %s, iocbp %s", r, errname(errno),
        got ? "set" : "NULL");
    CHECK(r == -1 && errno == EAGAIN && got == NULL, "first call");

    static struct aiocb a;
    static char abuf[4096];
    t_cb(&a, fd, abuf, sizeof abuf, 4096);
    CHECK(aio_read(&a) == 0, "aio_read A: %s", errname(errno));
    wait_done(&a);
    int e = aio_error(&a);
    ssize_t n = aio_return(&a);
    OUT("A (file read) reaped by aio_return: aio_error %s, aio_return %zd, data %s", errname(e), n,
        check_pat(abuf, sizeof abuf, 4096, 12) < 0 ? "right" : "WRONG");
    CHECK(e == 0 && n == 4096, "A");

    static char pbuf[64];
    t_cb(&a, p[0], pbuf, sizeof pbuf, 0);
    r = aio_read(&a);
    OUT("A's aiocb reused for a read of an empty pipe: %zd, aio_error %s", r, errname(aio_error(&a)));
    CHECK(r == 0 && aio_error(&a) == EINPROGRESS, "pipe read");

    struct timespec short_wait = { 0, 50 * 1000000 };
    got = (struct aiocb *)1;
    r = aio_waitcomplete(&got, &short_wait);
    int we = errno;
    OUT("aio_waitcomplete(50 ms) while A's new read is in flight: %zd %s, iocbp %s", r,
        r == -1 ? errname(we) : "-", which(got, &a));
    CHECK(r == -1 && we == EINPROGRESS && got == NULL,
          "aio_waitcomplete reported %s (result %zd) though A was reaped by aio_return and its "
          "new request is in flight", which(got, &a), r);

    CHECK(write(p[1], "hello", 5) == 5, "write");
    struct timespec two = { 2, 0 };
    int a_seen = 0;
    got = NULL;
    r = aio_waitcomplete(&got, &two);
    /* If the wrong report above consumed something, a second report may be
     * the real one: look for A among the next ones, at most 3. */
    for (int i = 0; i < 3 && r != -1; i++) {
        if (got == &a) {
            a_seen++;
            OUT("after the pipe write: aio_waitcomplete = %zd, iocbp A, data %s", r,
                r == 5 && memcmp(pbuf, "hello", 5) == 0 ? "right" : "WRONG");
            CHECK(r == 5 && memcmp(pbuf, "hello", 5) == 0, "A's new result %zd", r);
        } else {
            OUT("after the pipe write: aio_waitcomplete = %zd, iocbp %s", r, which(got, &a));
            CHECK(0, "unexpected report %zd %s", r, which(got, &a));
        }
        got = (struct aiocb *)1;
        r = aio_waitcomplete(&got, &zero);
    }
    we = errno;
    OUT("A reported %d time(s) after its pipe read completed", a_seen);
    CHECK(a_seen == 1, "A reported %d times", a_seen);
    OUT("then aio_waitcomplete(0): %zd %s, iocbp %s", r, r == -1 ? errname(we) : "-",
        which(got, &a));
    CHECK(r == -1 && we == EAGAIN && got == NULL, "nothing is outstanding any more");

    /* Part 2. */
    enum { N = 16 };
    static struct aiocb cbs[N];
    static char bufs[N][4096];
    for (int i = 0; i < N; i++) {
        t_cb(&cbs[i], fd, bufs[i], 1000 + i, (off_t)i * 4096);
        CHECK(aio_read(&cbs[i]) == 0, "aio_read %d: %s", i, errname(errno));
    }
    int by_return = 0, bad_return = 0;
    for (int i = 0; i < N; i++) {
        wait_done(&cbs[i]);
        if (i % 2 == 0) {
            ssize_t rr = aio_return(&cbs[i]);
            by_return++;
            if (rr != 1000 + i || check_pat(bufs[i], 1000 + i, (uint64_t)i * 4096, 12) >= 0)
                bad_return++;
        }
    }
    OUT("16 reads done; even ones reaped by aio_return: %d, wrong results %d", by_return,
        bad_return);
    CHECK(bad_return == 0, "aio_return results");
    int seen[N] = { 0 }, even = 0, dup = 0, wrong = 0, other = 0, reports = 0;
    for (int k = 0; k < 2 * N; k++) {
        got = NULL;
        r = aio_waitcomplete(&got, &zero);
        if (r == -1) break;
        reports++;
        long i = got - cbs;
        if (got < cbs || i >= N) { other++; continue; }
        if (seen[i]++) dup++;
        if (i % 2 == 0) even++;
        else if (r != 1000 + i || check_pat(bufs[i], 1000 + i, (uint64_t)i * 4096, 12) >= 0)
            wrong++;
    }
    we = errno;
    int odd_once = 0;
    for (int i = 1; i < N; i += 2) odd_once += seen[i] == 1;
    OUT("aio_waitcomplete reported %d: odd ones exactly once %d of 8, even (already reaped) %d, "
        "duplicates %d, wrong results %d, unknown aiocbs %d; then %s", reports, odd_once, even,
        dup, wrong, other, errname(we));
    CHECK(even == 0, "aio_waitcomplete reported %d request(s) already reaped by aio_return", even);
    CHECK(odd_once == 8 && dup == 0 && wrong == 0 && other == 0 && reports == 8,
          "each unreaped completion exactly once");
    CHECK(we == EAGAIN, "nothing outstanding at the end: %s", errname(we));
    close(fd);
    close(p[0]);
    close(p[1]);
    unlink(path);
    return t_done();
}
