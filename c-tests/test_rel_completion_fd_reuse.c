/* KAIO_ONLY (kaio extension: glibc has no kaio_completion_fd). A program
 * that closes the descriptor kaio_completion_fd() gave it (an event loop
 * torn down, a close_range) and then opens a regular file that takes the
 * same number must not find kaio's 8-byte completion counts written into
 * that file (issue 9, case 2). Asking kaio_completion_fd() again must give
 * a working eventfd (not the program's file), readable after a completion.
 *
 * Steps: kaio_completion_fd(); close it; a regular file (4096 pattern bytes,
 * O_RDWR) takes the number; AIO: a pipe read completed by a write from
 * another thread (poll path), a buffered read of a hot file (inline), an
 * O_DIRECT read (kernel); the file must keep its size, content and offset.
 * Then kaio_completion_fd() again: an eventfd other than the file; drained,
 * one more completion makes it readable within 2 s, with a count >= 1. */
#include "harness.h"
#include "kaio_ext.h"
#include "harness_relfd.h"

struct feeder { int fd; char msg[32]; };
static void *feed(void *arg)
{
    struct feeder *f = arg;
    usleep(20000);
    (void)!write(f->fd, f->msg, sizeof f->msg);
    return NULL;
}

static int read_ok(struct aiocb *cb, ssize_t want)
{
    int done = rel_wait_done(cb, 2.0);
    return done && aio_error(cb) == 0 && aio_return(cb) == want;
}

int main(void)
{
    t_init("test_rel_completion_fd_reuse", 20);
#ifndef KAIO_LINKED
    if (!kaio_completion_fd) T_SKIP("kaio_completion_fd not available (glibc)");
#endif
    int cfd = kaio_completion_fd();
    CHECK(cfd >= 0, "kaio_completion_fd: %s", errname(errno));
    OUT("kaio_completion_fd is an eventfd: %s",
        strcmp(rel_fd_kind(cfd), "anon_inode:[eventfd]") == 0 ? "yes" : "no");
    close(cfd);
    int f = rel_move_fd(rel_open_file(0, "rel_cfd_prog", 4096, 41, O_RDWR), cfd);
    CHECK(f == cfd, "program file did not get number %d", cfd);
    OUT("program file took the closed number: %s", f == cfd ? "yes" : "no");

    /* AIO of three kinds. */
    int ok = 1;
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    static char pbuf[32];
    struct feeder fe = { p[1], { 0 } };
    fill_pat(fe.msg, sizeof fe.msg, 0, 42);
    struct aiocb cb;
    t_cb(&cb, p[0], pbuf, sizeof pbuf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read pipe: %s", errname(errno));
    pthread_t th;
    pthread_create(&th, NULL, feed, &fe);
    ok &= read_ok(&cb, sizeof pbuf) && memcmp(pbuf, fe.msg, sizeof pbuf) == 0;
    pthread_join(th, NULL);
    int hot = rel_open_file(1, "rel_cfd_hot", 65536, 43, O_RDONLY);
    static char hbuf[4096];
    t_cb(&cb, hot, hbuf, sizeof hbuf, 4096);
    CHECK(aio_read(&cb) == 0, "aio_read hot: %s", errname(errno));
    ok &= read_ok(&cb, sizeof hbuf) && check_pat(hbuf, sizeof hbuf, 4096, 43) < 0;
    int d = rel_open_file(2, "rel_cfd_direct", 65536, 44, O_RDONLY | O_DIRECT);
    void *dbuf = NULL;
    CHECK(posix_memalign(&dbuf, 4096, 4096) == 0, "memalign");
    if (d >= 0) {
        t_cb(&cb, d, dbuf, 4096, 8192);
        CHECK(aio_read(&cb) == 0, "aio_read direct: %s", errname(errno));
        ok &= read_ok(&cb, 4096) && check_pat(dbuf, 4096, 8192, 44) < 0;
    } else {
        NOTE("no O_DIRECT here: %s", errname(errno));
    }
    CHECK(ok, "a request failed or returned wrong bytes");
    OUT("three reads correct: %s", ok ? "yes" : "no");
    char why[256];
    int intact = rel_file_intact(f, 4096, 41, why, sizeof why);
    CHECK(intact, "program file changed: %s", why);
    OUT("program file unchanged (size, content, offset): %s", intact ? "yes" : "no");

    /* Asked again: a working eventfd, not the program's file. */
    int cfd2 = kaio_completion_fd();
    const char *kind = cfd2 >= 0 ? rel_fd_kind(cfd2) : "error";
    int is_evfd = cfd2 >= 0 && cfd2 != f && strcmp(kind, "anon_inode:[eventfd]") == 0;
    NOTE("second kaio_completion_fd() = %d (%s); the program file is fd %d", cfd2, kind, f);
    CHECK(is_evfd, "second kaio_completion_fd() = %d is %s, not a new eventfd", cfd2, kind);
    OUT("second kaio_completion_fd is a new eventfd: %s", is_evfd ? "yes" : "no");
    if (is_evfd) {
        uint64_t v;
        while (read(cfd2, &v, sizeof v) == (ssize_t)sizeof v) {}
        t_cb(&cb, hot, hbuf, sizeof hbuf, 0);
        CHECK(aio_read(&cb) == 0, "aio_read hot: %s", errname(errno));
        CHECK(read_ok(&cb, sizeof hbuf), "hot read");
        struct pollfd pf = { .fd = cfd2, .events = POLLIN };
        int pr = poll(&pf, 1, 2000);
        v = 0;
        ssize_t n = pr == 1 ? read(cfd2, &v, sizeof v) : -1;
        CHECK(pr == 1 && n == (ssize_t)sizeof v && v >= 1, "poll %d, read %zd, count %llu", pr, n,
              (unsigned long long)v);
        OUT("readable after a completion, count >= 1: %s", pr == 1 && v >= 1 ? "yes" : "no");
    }
    intact = rel_file_intact(f, 4096, 41, why, sizeof why);
    CHECK(intact, "program file changed at the end: %s", why);
    OUT("program file unchanged at the end: %s", intact ? "yes" : "no");
    close(p[0]);
    close(p[1]);
    close(hot);
    if (d >= 0) close(d);
    close(f);
    return t_done();
}
