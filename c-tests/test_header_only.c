/* Header test: built with -DKAIO_LINKED, harness.h includes <kaio.h> and not
 * <aio.h>; kaio.h must include <aio.h> itself and declare its extras without
 * clashing. This file uses the whole API through that header: aio_init,
 * aio_write, aio_read, aio_error, aio_return, aio_suspend, aio_fsync,
 * aio_cancel, lio_listio and the *64 twins (and, linked, kaio_version and
 * kaio_counter). The glibc build uses <aio.h> and must behave the same. */
#include "harness.h"

int main(void)
{
    t_init("test_header_only", 30);
#ifdef KAIO_LINKED
    const char *v = kaio_version();
    NOTE("kaio_version = %s, submitted so far %llu", v ? v : "(null)",
         (unsigned long long)kaio_counter("submitted"));
    CHECK(v != NULL && *v, "kaio_version empty");
#endif
    struct aioinit ini;
    memset(&ini, 0, sizeof ini);
    ini.aio_threads = 2;
    ini.aio_num = 8;
    aio_init(&ini);

    const char *path = t_make_file(0, "header_only", 16384, 0);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open: %s", errname(errno));
    static char w0[4096], w1[4096], r0[4096], r1[4096];
    fill_pat(w0, 4096, 0, 51);
    fill_pat(w1, 4096, 4096, 51);

    struct aiocb a, b;
    t_cb(&a, fd, w0, 4096, 0);
    t_cb(&b, fd, w1, 4096, 4096);
    a.aio_lio_opcode = LIO_WRITE;
    b.aio_lio_opcode = LIO_WRITE;
    struct aiocb *list[3] = { &a, NULL, &b };
    int r = lio_listio(LIO_WAIT, list, 3, NULL);
    OUT("lio_listio(LIO_WAIT, 2 writes) = %d", r);
    CHECK(r == 0, "lio_listio: %s", errname(errno));

    struct aiocb s;
    t_cb(&s, fd, NULL, 0, 0);
    CHECK(aio_fsync(O_DSYNC, &s) == 0, "aio_fsync: %s", errname(errno));
    const struct aiocb *sl[1] = { &s };
    while (aio_error(&s) == EINPROGRESS) aio_suspend(sl, 1, NULL);
    OUT("aio_fsync: %s %zd", errname(aio_error(&s)), aio_return(&s));

    struct aiocb c;
    t_cb(&c, fd, r0, 4096, 0);
    CHECK(aio_read(&c) == 0, "aio_read: %s", errname(errno));
    t_wait(&c);
    OUT("aio_read: %zd, cksum %08x", aio_return(&c), cksum(r0, 4096));
    CHECK(check_pat(r0, 4096, 0, 51) == -1, "read data");
    OUT("aio_cancel(fd, done) = %d", aio_cancel(fd, &c));

    struct aiocb64 d, e, f;
    memset(&d, 0, sizeof d);
    d.aio_fildes = fd;
    d.aio_buf = r1;
    d.aio_nbytes = 4096;
    d.aio_offset = 4096;
    d.aio_sigevent.sigev_notify = SIGEV_NONE;
    CHECK(aio_read64(&d) == 0, "aio_read64: %s", errname(errno));
    const struct aiocb64 *dl[1] = { &d };
    while (aio_error64(&d) == EINPROGRESS) aio_suspend64(dl, 1, NULL);
    OUT("aio_read64: %s %zd, cksum %08x", errname(aio_error64(&d)), aio_return64(&d),
        cksum(r1, 4096));
    CHECK(check_pat(r1, 4096, 4096, 51) == -1, "read64 data");

    e = d;
    e.aio_buf = w0;
    e.aio_offset = 8192;
    CHECK(aio_write64(&e) == 0, "aio_write64: %s", errname(errno));
    f = d;
    f.aio_buf = NULL;
    f.aio_nbytes = 0;
    CHECK(aio_fsync64(O_SYNC, &f) == 0, "aio_fsync64: %s", errname(errno));
    const struct aiocb64 *fl[2] = { &e, &f };
    while (aio_error64(&e) == EINPROGRESS || aio_error64(&f) == EINPROGRESS)
        aio_suspend64(fl, 2, NULL);
    OUT("aio_write64: %zd, aio_fsync64: %zd", aio_return64(&e), aio_return64(&f));
    OUT("aio_cancel64(fd, NULL) = %d", aio_cancel64(fd, NULL));

    e.aio_lio_opcode = LIO_READ;
    e.aio_buf = r1;
    struct aiocb64 *l64[1] = { &e };
    r = lio_listio64(LIO_WAIT, l64, 1, NULL);
    OUT("lio_listio64 = %d, read %zd, cksum %08x", r, aio_return64(&e), cksum(r1, 4096));
    CHECK(r == 0 && check_pat(r1, 4096, 0, 51) == -1, "lio_listio64 read");
#ifdef KAIO_LINKED
    NOTE("kaio counters: submitted %llu, completed %llu",
         (unsigned long long)kaio_counter("submitted"),
         (unsigned long long)kaio_counter("completed"));
#endif
    close(fd);
    unlink(path);
    return t_done();
}
