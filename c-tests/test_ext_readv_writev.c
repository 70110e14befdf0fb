/* KAIO_ONLY (kaio extension, FreeBSD 13 convention): aio_writev writes three
 * iovecs at an offset, aio_readv reads them back into three differently
 * sized iovecs; both on a buffered file (page cache path), on an O_DIRECT
 * file (the kernel's IOCB_CMD_PREADV/PWRITEV) and on a pipe (poll path).
 * An iovec count above IOV_MAX completes with EINVAL. */
#include "harness.h"
#include "kaio_ext.h"
#include <sys/uio.h>

static int roundtrip(int fd, off_t off, char *w0, char *w1, char *w2, size_t unit)
{
    struct iovec wv[3] = { { w0, unit }, { w1, 2 * unit }, { w2, unit } };
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = wv;
    cb.aio_nbytes = 3;
    cb.aio_offset = off;
    cb.aio_sigevent.sigev_notify = SIGEV_NONE;
    if (aio_writev(&cb) != 0) return -1;
    t_wait(&cb);
    if (aio_error(&cb) != 0 || aio_return(&cb) != (ssize_t)(4 * unit)) return -2;
    char *r = NULL;
    if (posix_memalign((void **)&r, 4096, 4 * unit)) return -3;
    struct iovec rv[3] = { { r, 2 * unit }, { r + 2 * unit, unit }, { r + 3 * unit, unit } };
    cb.aio_buf = rv;
    cb.aio_nbytes = 3;
    if (aio_readv(&cb) != 0) return -4;
    t_wait(&cb);
    int ok = aio_error(&cb) == 0 && aio_return(&cb) == (ssize_t)(4 * unit) &&
             memcmp(r, w0, unit) == 0 && memcmp(r + unit, w1, 2 * unit) == 0 &&
             memcmp(r + 3 * unit, w2, unit) == 0;
    free(r);
    return ok ? 0 : -5;
}

int main(void)
{
    t_init("test_ext_readv_writev", 30);
    size_t unit = 4096;
    char *w0 = NULL, *w1 = NULL, *w2 = NULL;
    CHECK(!posix_memalign((void **)&w0, 4096, unit) && !posix_memalign((void **)&w1, 4096, 2 * unit) &&
          !posix_memalign((void **)&w2, 4096, unit), "memalign");
    fill_pat(w0, unit, 0, 1);
    fill_pat(w1, 2 * unit, 0, 2);
    fill_pat(w2, unit, 0, 3);
    const char *path = t_make_file(0, "vec", 1 << 20, 4);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open");
    OUT("buffered writev/readv: %d", roundtrip(fd, 8192, w0, w1, w2, unit));
    close(fd);
    fd = open(path, O_RDWR | O_DIRECT);
    if (fd >= 0) {
        unsigned long long k0 = kaio_counter("kernel");
        OUT("O_DIRECT writev/readv: %d", roundtrip(fd, 65536, w0, w1, w2, unit));
        CHECK(kaio_counter("kernel") >= k0 + 2, "vectored O_DIRECT did not use the kernel");
        close(fd);
    }
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct iovec pv[2] = { { w0, 100 }, { w1, 50 } };
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = p[0];
    char a[100], b[50];
    struct iovec rv[2] = { { a, 100 }, { b, 50 } };
    cb.aio_buf = rv;
    cb.aio_nbytes = 2;
    cb.aio_sigevent.sigev_notify = SIGEV_NONE;
    CHECK(aio_readv(&cb) == 0, "pipe aio_readv");
    OUT("pipe readv before data: %s", errname(aio_error(&cb)));
    CHECK(writev(p[1], pv, 2) == 150, "writev");
    t_wait(&cb);
    OUT("pipe readv: %zd, data %s", aio_return(&cb),
        memcmp(a, w0, 100) == 0 && memcmp(b, w1, 50) == 0 ? "ok" : "bad");
    struct aiocb bad;
    memset(&bad, 0, sizeof bad);
    bad.aio_fildes = p[0];
    bad.aio_buf = rv;
    bad.aio_nbytes = 100000;
    CHECK(aio_readv(&bad) == 0, "aio_readv huge count");
    t_wait(&bad);
    OUT("iovcnt above IOV_MAX: %s", errname(aio_error(&bad)));
    close(p[0]);
    close(p[1]);
    unlink(path);
    free(w0); free(w1); free(w2);
    return t_done();
}
