/* KAIO_ONLY (kaio extension, FreeBSD semantics): aio_waitcomplete returns
 * each completed request exactly once, with its result, doing aio_return's
 * work; EAGAIN when nothing is outstanding; EINPROGRESS when the timeout
 * passes; EINVAL for a NULL iocbp or a bad timeout. Requests are reported
 * once the process has called aio_waitcomplete (or kaio_completion_fd). */
#include "harness.h"
#include "kaio_ext.h"

int main(void)
{
    t_init("test_ext_waitcomplete", 30);
    struct aiocb *got = (struct aiocb *)1;
    struct timespec zero = { 0, 0 };
    ssize_t r = aio_waitcomplete(&got, &zero);
    OUT("nothing outstanding: %zd %s, iocbp %s", r, errname(errno), got ? "set" : "NULL");
    CHECK(r == -1 && errno == EAGAIN && got == NULL, "first call");
    r = aio_waitcomplete(NULL, &zero);
    OUT("NULL iocbp: %zd %s", r, errname(errno));
    const char *path = t_make_file(0, "wc", 1 << 20, 8);
    int fd = open(path, O_RDONLY);
    int p[2];
    CHECK(fd >= 0 && pipe(p) == 0, "setup");
    enum { N = 16 };
    static char bufs[N][4096];
    struct aiocb cbs[N];
    for (int i = 0; i < N; i++) {
        t_cb(&cbs[i], fd, bufs[i], 1000 + i, (off_t)i * 4096);
        CHECK(aio_read(&cbs[i]) == 0, "aio_read %d", i);
    }
    struct aiocb pr;
    char pc[8];
    t_cb(&pr, p[0], pc, sizeof pc, 0);
    CHECK(aio_read(&pr) == 0, "pipe read");
    int seen[N] = { 0 }, dup = 0, badlen = 0;
    for (int k = 0; k < N; k++) {
        r = aio_waitcomplete(&got, NULL);
        int i = (int)(got - cbs);
        if (got < cbs || i >= N) { CHECK(0, "unexpected aiocb %p", (void *)got); break; }
        if (seen[i]++) dup++;
        if (r != 1000 + i || check_pat(bufs[i], 1000 + i, (uint64_t)i * 4096, 8) >= 0) badlen++;
    }
    OUT("file reads reaped: duplicates %d, wrong results %d", dup, badlen);
    struct timespec short_wait = { 0, 20 * 1000 * 1000 };
    r = aio_waitcomplete(&got, &short_wait);
    OUT("pipe read pending, 20 ms: %zd %s", r, errname(errno));
    CHECK(r == -1 && errno == EINPROGRESS && got == NULL, "timeout");
    struct timespec bad = { 0, 2000000000L };
    r = aio_waitcomplete(&got, &bad);
    OUT("bad timeout: %zd %s", r, errname(errno));
    CHECK(write(p[1], "abc", 3) == 3, "write");
    r = aio_waitcomplete(&got, NULL);
    OUT("pipe read reaped: %zd, right aiocb %s", r, got == &pr ? "yes" : "no");
    r = aio_waitcomplete(&got, &zero);
    OUT("all reaped: %zd %s", r, errname(errno));
    close(fd); close(p[0]); close(p[1]);
    unlink(path);
    return t_done();
}
