/* KAIO_ONLY: glibc fails this case itself. Its per-descriptor queue starts
 * the second request only after the first one finished, with a fresh
 * pread()/read() of the descriptor *number*: once the number belongs to a
 * new file, glibc's queued read returns 4096 bytes of that file and its
 * queued write overwrites the file's first 4096 bytes. POSIX close() still
 * says an outstanding request that is not cancelled "completes as if the
 * close() operation had not yet occurred", and kaio's lanes are a separate
 * path from the head request's poll (test_rel_fd_reuse_read/_write), so
 * kaio is held to POSIX here (issue 9, case 1, queued variant).
 *
 * Reads: two aio_reads wait on empty pipe A (the second queued behind the
 * first); A's read end is closed and a regular file of 8192 pattern bytes
 * gets its number; then 100 bytes are written to A, and once the first read
 * is over, 100 more. Writes: pipe A (capacity 4096) is full, two 4096-byte
 * aio_writes wait; A's write end is closed, a regular file gets the number;
 * then A is drained step by step.
 * Each request must either fail cleanly (ECANCELED or EBADF) or move the next
 * bytes of A's stream, in submission order; the file must keep its size,
 * content and offset. */
#include "harness.h"
#include "harness_relfd.h"

enum { MSG = 100, LEN = 4096, FSIZE = 8192 };

/* Check one finished request. Reads: its bytes must be the next ones of
 * A's stream `s` at `*pos` (advanced). Writes: it must have written all of
 * its `slen` bytes (then `*pos` gets them: they must come out of A). Returns
 * 1 if acceptable. */
static int judge(const char *what, struct aiocb *cb, int done, const char *data,
                 const char *s, size_t slen, size_t *pos, int is_read)
{
    if (!done) {
        NOTE("%s: still pending after 2 s", what);
        return 0;
    }
    int e = aio_error(cb);
    ssize_t n = aio_return(cb);
    if (e == ECANCELED || e == EBADF) {
        NOTE("%s: clean error %s", what, errname(e));
        return 1;
    }
    if (is_read && e == 0 && n > 0 && (size_t)n <= slen - *pos && memcmp(data, s + *pos, n) == 0) {
        NOTE("%s: completed as if close had not occurred (%zd bytes)", what, n);
        *pos += n;
        return 1;
    }
    if (!is_read && e == 0 && (size_t)n == slen) {
        NOTE("%s: completed (%zd bytes; they must be in pipe A)", what, n);
        *pos += n;
        return 1;
    }
    const char *src = "";
    for (int off = 0; is_read && n > 0 && n <= LEN && off < FSIZE; off += LEN)
        if (check_pat(data, n, off, 2) < 0) src = ": the new file's bytes";
    NOTE("%s: WRONG: aio_error %s, aio_return %zd%s", what, errname(e), n, src);
    return 0;
}

static void reads(void)
{
    static char b1[LEN], b2[LEN], stream[2 * MSG];
    fill_pat(stream, sizeof stream, 0, 1);
    int a[2];
    CHECK(pipe(a) == 0, "pipe: %s", errname(errno));
    struct aiocb c1, c2;
    t_cb(&c1, a[0], b1, LEN, 0);
    t_cb(&c2, a[0], b2, LEN, 0);
    unsigned long long polls = rel_counter("poll");
    CHECK(aio_read(&c1) == 0 && aio_read(&c2) == 0, "aio_read: %s", errname(errno));
    CHECK(rel_wait_pending(a[0], 0, polls), "first read never pending in read() or a poll");
    int num = a[0];
    close(a[0]);
    int f = rel_move_fd(rel_open_file(0, "rel_reuse_q", FSIZE, 2, O_RDONLY), num);
    CHECK(f == num, "new file did not get number %d", num);
    OUT("reads: new file took the number: yes");
    size_t pos = 0;
    ssize_t w1 = write(a[1], stream, MSG); /* EPIPE only if both were cancelled */
    if (w1 != MSG) NOTE("first write to A: %zd %s", w1, errname(errno));
    int ok1 = judge("reads: first", &c1, rel_wait_done(&c1, 2.0), b1, stream, MSG, &pos, 1);
    /* A's read end may be gone by now (nobody has to hold it for the queued
     * read: glibc does not, a cancelling kaio need not): EPIPE is fine. */
    ssize_t w2 = write(a[1], stream + MSG, MSG);
    NOTE("second write to A: %zd %s", w2, w2 < 0 ? errname(errno) : "");
    int ok2 = judge("reads: queued", &c2, rel_wait_done(&c2, 2.0), b2, stream, 2 * MSG, &pos, 1);
    CHECK(ok1, "first read: must return pipe A's data or fail cleanly");
    CHECK(ok2, "queued read: must return pipe A's data or fail cleanly");
    OUT("reads: both read pipe A or failed cleanly: %s", ok1 && ok2 ? "yes" : "no");
    char why[256];
    int ok = rel_file_intact(f, FSIZE, 2, why, sizeof why);
    CHECK(ok, "new file changed: %s", why);
    OUT("reads: file size, content and offset untouched: %s", ok ? "yes" : "no");
    close(f);
    close(a[1]);
}

/* Read what A holds now (non-blocking) and append it to *acc. */
static void take(int fd, char *acc, size_t *acc_len, size_t cap, int *eof)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    *eof = 0;
    for (;;) {
        ssize_t n = read(fd, acc + *acc_len, cap - *acc_len);
        if (n == 0) { *eof = 1; break; }
        if (n < 0) break;
        *acc_len += n;
    }
    fcntl(fd, F_SETFL, fl);
}

static void writes(void)
{
    static char stream[2 * LEN], fill[LEN], acc[4 * LEN];
    fill_pat(stream, sizeof stream, 0, 7);
    memset(fill, 'x', sizeof fill);
    int a[2];
    CHECK(pipe(a) == 0, "pipe: %s", errname(errno));
    if (fcntl(a[1], F_SETPIPE_SZ, LEN) != LEN) T_SKIP("F_SETPIPE_SZ(4096) failed");
    CHECK(write(a[1], fill, LEN) == LEN, "fill A");
    struct aiocb c1, c2;
    t_cb(&c1, a[1], stream, LEN, 0);
    t_cb(&c2, a[1], stream + LEN, LEN, 0);
    unsigned long long polls = rel_counter("poll");
    CHECK(aio_write(&c1) == 0 && aio_write(&c2) == 0, "aio_write: %s", errname(errno));
    CHECK(rel_wait_pending(a[1], 1, polls), "first write never pending in write() or a poll");
    int num = a[1];
    close(a[1]);
    int f = rel_move_fd(rel_open_file(0, "rel_reuse_qw", FSIZE, 6, O_RDWR), num);
    CHECK(f == num, "new file did not get number %d", num);
    OUT("writes: new file took the number: yes");
    char drain[LEN];
    CHECK(read(a[0], drain, LEN) == LEN, "drain filler");
    size_t pos = 0, acc_len = 0;
    int eof;
    int d1 = rel_wait_done(&c1, 2.0);
    take(a[0], acc, &acc_len, sizeof acc, &eof); /* room for the queued one */
    int d2 = rel_wait_done(&c2, 2.0);
    usleep(1000);
    take(a[0], acc, &acc_len, sizeof acc, &eof);
    /* What came out of A is exactly the completed requests' bytes, in order. */
    static char want[2 * LEN];
    int ok1 = judge("writes: first", &c1, d1, NULL, stream, LEN, &pos, 0);
    if (pos == LEN) memcpy(want, stream, LEN);
    size_t before = pos;
    int ok2 = judge("writes: queued", &c2, d2, NULL, stream + LEN, LEN, &pos, 0);
    if (pos > before) memcpy(want + before, stream + LEN, LEN);
    int same = acc_len == pos && memcmp(acc, want, pos) == 0;
    NOTE("writes: pipe A yielded %zu bytes, requests report %zu", acc_len, pos);
    CHECK(ok1, "first write: must go into pipe A or fail cleanly");
    CHECK(ok2, "queued write: must go into pipe A or fail cleanly");
    CHECK(same, "pipe A yielded %zu bytes, the requests reported %zu", acc_len, pos);
    OUT("writes: both went into pipe A or failed cleanly: %s", ok1 && ok2 && same ? "yes" : "no");
    char why[256];
    int ok = rel_file_intact(f, FSIZE, 6, why, sizeof why);
    CHECK(ok, "new file changed: %s", why);
    OUT("writes: file size, content and offset untouched: %s", ok ? "yes" : "no");
    close(f);
    close(a[0]);
}

int main(void)
{
    t_init("test_rel_fd_reuse_queued", 20);
    signal(SIGPIPE, SIG_IGN);
    reads();
    writes();
    return t_done();
}
