/* A pending pipe read must never read from whatever later gets the same
 * descriptor number (issue 9, case 1).
 *
 * An aio_read of 4096 bytes waits on an empty pipe A (glibc's worker blocked
 * in read(), kaio's request in its poll). The program closes A's read end and
 * the number is reused:
 *   file: by a regular file of 8192 pattern bytes (opened O_RDONLY);
 *   pipe: by the read end of a new pipe B, which already holds 100 bytes.
 * Then 100 bytes are written to A. POSIX close(): an outstanding request
 * "may be canceled"; one not cancelled "completes as if the close() operation
 * had not yet occurred". So the request must either return A's 100 bytes
 * (glibc) or fail cleanly (ECANCELED or EBADF); it must not return the file's
 * bytes, move the file's offset, or take B's data. The outcome class is only
 * NOTEd (a cancelling kaio would be right too). */
#include "harness.h"
#include "harness_relfd.h"

enum { MSG = 100, FSIZE = 8192 };
static char msgb_ref[MSG]; /* B's message */

/* Classify the pending read's result against A's message: 0 as-if-open,
 * 1 clean error, -1 wrong. */
static int classify(struct aiocb *cb, int done, const char *buf, const char *msg,
                    const char *what)
{
    if (!done) {
        NOTE("%s: outcome: still pending after 2 s", what);
        return -1;
    }
    int e = aio_error(cb);
    ssize_t n = aio_return(cb);
    if (e == 0 && n == MSG && memcmp(buf, msg, MSG) == 0) {
        NOTE("%s: outcome: completed as if close had not occurred (pipe's %d bytes)", what, MSG);
        return 0;
    }
    if (e == ECANCELED || e == EBADF) {
        NOTE("%s: outcome: clean error %s", what, errname(e));
        return 1;
    }
    const char *src = "unknown bytes";
    if (n > 0 && n <= 4096 && check_pat(buf, n, 0, 2) < 0) src = "the new file's bytes";
    if (n == MSG && memcmp(buf, msgb_ref, MSG) == 0) src = "new pipe B's bytes";
    NOTE("%s: outcome: WRONG: aio_error %s, aio_return %zd: %s", what, errname(e), n, src);
    return -1;
}

/* Bytes readable now from `fd` (non-blocking), into buf. */
static ssize_t read_now(int fd, char *buf, size_t len)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    ssize_t n = read(fd, buf, len);
    int e = errno;
    fcntl(fd, F_SETFL, fl);
    errno = e;
    return n < 0 && e == EAGAIN ? 0 : n;
}

static void run(int reuse_by_pipe)
{
    const char *what = reuse_by_pipe ? "new pipe" : "new file";
    static char buf[4096], msg[MSG], msgb[MSG], got[4096];
    fill_pat(msg, MSG, 0, 1);
    fill_pat(msgb, MSG, 0, 3);
    memcpy(msgb_ref, msgb, MSG);
    memset(buf, 0, sizeof buf);
    int a[2];
    CHECK(pipe(a) == 0, "pipe: %s", errname(errno));
    struct aiocb cb;
    t_cb(&cb, a[0], buf, sizeof buf, 0);
    unsigned long long polls = rel_counter("poll");
    int r = aio_read(&cb);
    CHECK(r == 0, "aio_read: %s", errname(errno));
    int pending = rel_wait_pending(a[0], 0, polls);
    if (IS_KAIO)
        NOTE("%s: kaio counters: poll %llu (before %llu), thread %llu", what, rel_counter("poll"), polls,
             rel_counter("thread"));
    CHECK(pending, "%s: the read never showed up pending in a read() or a poll", what);
    CHECK(aio_error(&cb) == EINPROGRESS, "%s: read not pending: %s", what, errname(aio_error(&cb)));

    int num = a[0];
    close(a[0]);
    int f = -1, b[2] = { -1, -1 };
    if (reuse_by_pipe) {
        CHECK(pipe(b) == 0, "pipe B: %s", errname(errno));
        b[0] = rel_move_fd(b[0], num);
        CHECK(write(b[1], msgb, MSG) == MSG, "write B");
    } else {
        f = rel_move_fd(rel_open_file(0, "rel_reuse_read", FSIZE, 2, O_RDONLY), num);
    }
    CHECK((reuse_by_pipe ? b[0] : f) == num, "%s did not get number %d", what, num);
    OUT("%s: took the pending read's descriptor number: yes", what);

    /* EPIPE is possible only if nobody holds A's read end any more (a kaio
     * that cancelled the request on close): the outcome check decides. */
    ssize_t w = write(a[1], msg, MSG);
    if (w != MSG) NOTE("%s: write to A: %zd %s", what, w, errname(errno));
    int done = rel_wait_done(&cb, 2.0);
    int cls = classify(&cb, done, buf, msg, what);
    CHECK(cls >= 0, "%s: the pending read must return pipe A's data or fail cleanly", what);
    OUT("%s: pending read completed as if open, or failed cleanly: %s", what, cls >= 0 ? "yes" : "no");

    if (reuse_by_pipe) {
        ssize_t n = read_now(b[0], got, sizeof got);
        int intact = n == MSG && memcmp(got, msgb, MSG) == 0;
        CHECK(intact, "new pipe B lost its data: read %zd bytes", n);
        OUT("%s: B still holds exactly its own %d bytes: %s", what, MSG, intact ? "yes" : "no");
        close(b[0]);
        close(b[1]);
    } else {
        char why[256];
        int ok = rel_file_intact(f, FSIZE, 2, why, sizeof why);
        CHECK(ok, "new file changed: %s", why);
        OUT("%s: size, content and offset untouched: %s", what, ok ? "yes" : "no");
        close(f);
    }
    close(a[1]);
}

int main(void)
{
    t_init("test_rel_fd_reuse_read", 20);
    signal(SIGPIPE, SIG_IGN);
    run(0);
    run(1);
    return t_done();
}
