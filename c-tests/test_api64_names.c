/* The explicit large-file names with struct aiocb64: aio_write64,
 * aio_suspend64, aio_error64, aio_return64, aio_fsync64, aio_read64,
 * lio_listio64, aio_cancel64 all work and agree with the plain names. */
#include "harness.h"

static void wait64(struct aiocb64 *cb)
{
    const struct aiocb64 *l[1] = { cb };
    while (aio_error64(cb) == EINPROGRESS)
        if (aio_suspend64(l, 1, NULL) != 0 && errno != EINTR) {
            OUT("aio_suspend64 failed: %s", errname(errno));
            exit(1);
        }
}

int main(void)
{
    t_init("test_api64_names", 30);
    OUT("sizeof aiocb64 == sizeof aiocb: %s",
        sizeof(struct aiocb64) == sizeof(struct aiocb) ? "yes" : "no");
    const char *path = t_make_file(0, "api64", 65536, 27);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open: %s", errname(errno));

    char wbuf[8192];
    fill_pat(wbuf, sizeof wbuf, 4096, 28);
    struct aiocb64 w;
    memset(&w, 0, sizeof w);
    w.aio_fildes = fd;
    w.aio_buf = wbuf;
    w.aio_nbytes = sizeof wbuf;
    w.aio_offset = 4096;
    w.aio_sigevent.sigev_notify = SIGEV_NONE;
    OUT("aio_write64 = %d", aio_write64(&w));
    wait64(&w);
    OUT("aio_error64 = %s, aio_return64 = %zd", errname(aio_error64(&w)), aio_return64(&w));

    struct aiocb64 f;
    memset(&f, 0, sizeof f);
    f.aio_fildes = fd;
    f.aio_sigevent.sigev_notify = SIGEV_NONE;
    OUT("aio_fsync64(O_DSYNC) = %d", aio_fsync64(O_DSYNC, &f));
    wait64(&f);
    OUT("fsync: aio_error64 = %s, aio_return64 = %zd", errname(aio_error64(&f)), aio_return64(&f));

    char rbuf[8192];
    struct aiocb64 r;
    memset(&r, 0, sizeof r);
    r.aio_fildes = fd;
    r.aio_buf = rbuf;
    r.aio_nbytes = sizeof rbuf;
    r.aio_offset = 4096;
    r.aio_sigevent.sigev_notify = SIGEV_NONE;
    OUT("aio_read64 = %d", aio_read64(&r));
    wait64(&r);
    ssize_t n = aio_return64(&r);
    OUT("aio_read64 returned %zd", n);
    CHECK(n == (ssize_t)sizeof rbuf && check_pat(rbuf, sizeof rbuf, 4096, 28) < 0, "read64 data");
    OUT("aio_cancel64(done request) = %s",
        aio_cancel64(fd, &r) == AIO_ALLDONE ? "AIO_ALLDONE" : "other");
    OUT("aio_cancel64(fd, NULL) = %s",
        aio_cancel64(fd, NULL) == AIO_ALLDONE ? "AIO_ALLDONE" : "other");

    /* lio_listio64: two reads, one on each side of the written range. */
    char b1[4096], b2[4096];
    struct aiocb64 l1, l2;
    memset(&l1, 0, sizeof l1);
    memset(&l2, 0, sizeof l2);
    l1.aio_fildes = l2.aio_fildes = fd;
    l1.aio_lio_opcode = l2.aio_lio_opcode = LIO_READ;
    l1.aio_buf = b1; l1.aio_nbytes = sizeof b1; l1.aio_offset = 0;
    l2.aio_buf = b2; l2.aio_nbytes = sizeof b2; l2.aio_offset = 8192;
    l1.aio_sigevent.sigev_notify = l2.aio_sigevent.sigev_notify = SIGEV_NONE;
    struct aiocb64 *list[2] = { &l1, &l2 };
    OUT("lio_listio64(LIO_WAIT) = %d", lio_listio64(LIO_WAIT, list, 2, NULL));
    OUT("returns %zd %zd", aio_return64(&l1), aio_return64(&l2));
    CHECK(check_pat(b1, 4096, 0, 27) < 0 && check_pat(b2, 4096, 8192, 28) < 0, "lio data");

    /* The plain names see the same request objects. */
    OUT("aio_error(aiocb64 as aiocb) = %s", errname(aio_error((struct aiocb *)&l2)));
    close(fd);
    unlink(path);
    return t_done();
}
