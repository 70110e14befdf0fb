/* Invalid request parameters. A negative aio_offset is accepted by
 * aio_read/aio_write (return 0) and reported as EINVAL via aio_error with
 * aio_return -1. An aio_reqprio outside 0..AIO_PRIO_DELTA_MAX (20) makes the
 * call itself fail with -1/EINVAL; 0 and 20 are accepted. */
#include "harness.h"

static void negoff(int fd, int write_op)
{
    char buf[512];
    memset(buf, 1, sizeof buf);
    struct aiocb cb;
    t_cb(&cb, fd, buf, sizeof buf, -4096);
    int r = write_op ? aio_write(&cb) : aio_read(&cb);
    OUT("%s(offset -4096) = %d", write_op ? "aio_write" : "aio_read", r);
    CHECK(r == 0, "call failed: %s", errname(errno));
    if (r != 0) return;
    t_wait(&cb);
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("  aio_error = %s, aio_return = %zd", errname(e), n);
    CHECK(e == EINVAL, "aio_error %s", errname(e));
    CHECK(n == -1, "aio_return %zd", n);
}

static void prio(int fd, int write_op, int reqprio, int want_ok)
{
    char buf[512];
    fill_pat(buf, sizeof buf, 0, 11);
    struct aiocb cb;
    t_cb(&cb, fd, buf, sizeof buf, 0);
    cb.aio_reqprio = reqprio;
    errno = 0;
    int r = write_op ? aio_write(&cb) : aio_read(&cb);
    int e = errno;
    OUT("%s(reqprio %d) = %d%s%s", write_op ? "aio_write" : "aio_read", reqprio, r,
        r ? " " : "", r ? errname(e) : "");
    if (want_ok) {
        CHECK(r == 0, "rejected: %s", errname(e));
        if (r == 0) {
            t_wait(&cb);
            ssize_t n = aio_return(&cb);
            OUT("  aio_return = %zd", n);
            CHECK(n == (ssize_t)sizeof buf, "aio_return %zd", n);
        }
    } else {
        CHECK(r == -1 && e == EINVAL, "want -1/EINVAL, got %d/%s", r, errname(e));
        /* glibc also stores EINVAL in the aiocb; not part of kaio's contract. */
        NOTE("  aio_error after rejected call = %s", errname(aio_error(&cb)));
    }
}

int main(void)
{
    t_init("test_read_einval", 30);
    const char *path = t_make_file(0, "read_einval", 4096, 11);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open: %s", errname(errno));
    negoff(fd, 0);
    negoff(fd, 1);
    for (int w = 0; w < 2; w++) {
        prio(fd, w, -1, 0);
        prio(fd, w, 21, 0);
        prio(fd, w, INT_MIN, 0);
        prio(fd, w, 0, 1);
        prio(fd, w, 20, 1);
    }
    close(fd);
    unlink(path);
    return t_done();
}
