/* aio_read at and past end of file: a read starting at or beyond EOF
 * returns 0; a read straddling EOF returns only the remaining bytes; a read
 * with aio_nbytes 0 returns 0. aio_error is 0 in every case. */
#include "harness.h"

#define FSIZE 10000

static ssize_t rd(int fd, char *buf, size_t len, off_t off)
{
    struct aiocb cb;
    t_cb(&cb, fd, buf, len, off);
    int r = aio_read(&cb);
    CHECK(r == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("read(off=%lld, len=%zu): aio_read=%d aio_error=%s aio_return=%zd",
        (long long)off, len, r, errname(e), n);
    CHECK(e == 0, "aio_error %s", errname(e));
    return n;
}

int main(void)
{
    t_init("test_read_eof", 30);
    const char *path = t_make_file(0, "read_eof", FSIZE, 7);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));
    char buf[8192];

    /* Short read: 8192 asked at 8192, 1808 remain. */
    memset(buf, 0, sizeof buf);
    ssize_t n = rd(fd, buf, 8192, 8192);
    CHECK(n == FSIZE - 8192, "short read gave %zd", n);
    if (n > 0) {
        long bad = check_pat(buf, n, 8192, 7);
        CHECK(bad < 0, "data differs at +%ld", bad);
        OUT("cksum %08x", cksum(buf, n));
    }
    /* Exactly at EOF and well past it. */
    n = rd(fd, buf, 100, FSIZE);
    CHECK(n == 0, "read at EOF gave %zd", n);
    n = rd(fd, buf, 4096, 1 << 20);
    CHECK(n == 0, "read past EOF gave %zd", n);
    /* Zero-length read inside the file. */
    memset(buf, 0x5A, 16);
    n = rd(fd, buf, 0, 100);
    CHECK(n == 0, "zero-length read gave %zd", n);
    CHECK(buf[0] == 0x5A, "zero-length read touched the buffer");

    close(fd);
    unlink(path);
    return t_done();
}
