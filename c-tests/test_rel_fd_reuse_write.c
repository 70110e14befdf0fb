/* A pending pipe write must never land in whatever later gets the same
 * descriptor number (issue 9, case 1).
 *
 * Pipe A (capacity 4096) is full; an aio_write of 4096 pattern bytes waits
 * (glibc's worker blocked in write(), kaio's request in its poll). The
 * program closes A's write end and the number is reused:
 *   file: by a regular file of 8192 pattern bytes (opened O_RDWR);
 *   pipe: by the write end of a new pipe B (empty).
 * Then the program drains A's filler, which makes room. POSIX close(): an
 * outstanding request "may be canceled"; one not cancelled "completes as if
 * the close() operation had not yet occurred". So the request must either
 * put its 4096 bytes into A (glibc: A then yields them, then end of file) or
 * fail cleanly (ECANCELED or EBADF, A yields nothing); the file must keep its
 * size, content and offset, and B must stay empty. The outcome class is only
 * NOTEd (a cancelling kaio would be right too). */
#include "harness.h"
#include "harness_relfd.h"

enum { LEN = 4096, FSIZE = 8192 };

/* Everything readable from `fd` now (non-blocking); -1 only for an error
 * other than EAGAIN. *eof tells whether it ended at end of file. */
static ssize_t read_avail(int fd, char *buf, size_t len, int *eof)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    size_t got = 0;
    *eof = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n == 0) { *eof = 1; break; }
        if (n < 0) {
            if (errno != EAGAIN) got = (size_t)-1;
            break;
        }
        got += n;
        if (got == len) break;
    }
    fcntl(fd, F_SETFL, fl);
    return (ssize_t)got;
}

static void run(int reuse_by_pipe)
{
    const char *what = reuse_by_pipe ? "new pipe" : "new file";
    static char msg[LEN], fill[LEN], got[3 * LEN];
    fill_pat(msg, LEN, 0, 5);
    memset(fill, 'x', sizeof fill);
    int a[2];
    CHECK(pipe(a) == 0, "pipe: %s", errname(errno));
    int cap = fcntl(a[1], F_SETPIPE_SZ, LEN);
    if (cap != LEN) T_SKIP("F_SETPIPE_SZ(4096) = %d", cap);
    CHECK(write(a[1], fill, LEN) == LEN, "fill A: %s", errname(errno));
    struct aiocb cb;
    t_cb(&cb, a[1], msg, LEN, 0);
    unsigned long long polls = rel_counter("poll");
    int r = aio_write(&cb);
    CHECK(r == 0, "aio_write: %s", errname(errno));
    int pending = rel_wait_pending(a[1], 1, polls);
    if (IS_KAIO)
        NOTE("%s: kaio counters: poll %llu (before %llu), thread %llu", what, rel_counter("poll"), polls,
             rel_counter("thread"));
    CHECK(pending, "%s: the write never showed up pending in a write() or a poll", what);
    CHECK(aio_error(&cb) == EINPROGRESS, "%s: write not pending: %s", what, errname(aio_error(&cb)));

    int num = a[1];
    int f = -1, b[2] = { -1, -1 };
    if (reuse_by_pipe) {
        CHECK(pipe(b) == 0, "pipe B: %s", errname(errno));
        close(a[1]);
        b[1] = rel_move_fd(b[1], num);
    } else {
        close(a[1]);
        f = rel_move_fd(rel_open_file(0, "rel_reuse_write", FSIZE, 6, O_RDWR), num);
    }
    CHECK((reuse_by_pipe ? b[1] : f) == num, "%s did not get number %d", what, num);
    OUT("%s: took the pending write's descriptor number: yes", what);

    /* Make room in A: read its filler (A is full, so this does not block). */
    ssize_t n = read(a[0], got, LEN);
    CHECK(n == LEN && got[0] == 'x' && got[LEN - 1] == 'x', "drain A: %zd", n);
    int done = rel_wait_done(&cb, 2.0);
    int e = aio_error(&cb);
    ssize_t ret = done ? aio_return(&cb) : -2;
    int eof;
    ssize_t in_a = read_avail(a[0], got, sizeof got, &eof);
    int cls;
    if (!done) {
        NOTE("%s: outcome: still pending after 2 s", what);
        cls = -1;
    } else if (e == 0 && ret == LEN && in_a == LEN && memcmp(got, msg, LEN) == 0) {
        NOTE("%s: outcome: completed as if close had not occurred (bytes in pipe A)", what);
        cls = 0;
    } else if ((e == ECANCELED || e == EBADF) && in_a == 0) {
        NOTE("%s: outcome: clean error %s, nothing in A", what, errname(e));
        cls = 1;
    } else {
        NOTE("%s: outcome: WRONG: aio_error %s, aio_return %zd, pipe A then holds %zd bytes",
             what, errname(e), ret, in_a);
        cls = -1;
    }
    CHECK(cls >= 0, "%s: the pending write must go into pipe A or fail cleanly", what);
    OUT("%s: pending write went into pipe A, or failed cleanly: %s", what, cls >= 0 ? "yes" : "no");
    /* Nobody holds A's write end any more: A ends. */
    if (done && eof == 0) {
        usleep(1000);
        in_a = read_avail(a[0], got, sizeof got, &eof);
    }
    CHECK(eof, "%s: pipe A has no end of file after the request completed", what);

    if (reuse_by_pipe) {
        int beof;
        ssize_t in_b = read_avail(b[0], got, sizeof got, &beof);
        CHECK(in_b == 0, "new pipe B received %zd bytes", in_b);
        OUT("%s: B received nothing: %s", what, in_b == 0 ? "yes" : "no");
        close(b[0]);
        close(b[1]);
    } else {
        char why[256];
        int ok = rel_file_intact(f, FSIZE, 6, why, sizeof why);
        CHECK(ok, "new file changed: %s", why);
        OUT("%s: size, content and offset untouched: %s", what, ok ? "yes" : "no");
        close(f);
    }
    close(a[0]);
}

int main(void)
{
    t_init("test_rel_fd_reuse_write", 20);
    signal(SIGPIPE, SIG_IGN);
    run(0);
    run(1);
    return t_done();
}
