/* aio_read on a buffered fd: at offset 0 and at a non-zero, unaligned
 * offset; aio_error 0, aio_return == nbytes, data equals the file pattern. */
#include "harness.h"

static void one(int fd, size_t len, off_t off)
{
    char *buf = malloc(len);
    struct aiocb cb;
    t_cb(&cb, fd, buf, len, off);
    int r = aio_read(&cb);
    OUT("aio_read(off=%lld, len=%zu) = %d", (long long)off, len, r);
    CHECK(r == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);
    OUT("aio_error = %s", errname(aio_error(&cb)));
    ssize_t n = aio_return(&cb);
    OUT("aio_return = %zd", n);
    CHECK(n == (ssize_t)len, "short read %zd", n);
    long bad = check_pat(buf, len, off, 3);
    CHECK(bad < 0, "data differs at +%ld", bad);
    OUT("cksum %08x", cksum(buf, len));
    free(buf);
}

int main(void)
{
    t_init("test_read_buffered", 30);
    const char *path = t_make_file(0, "read_buffered", 1 << 20, 3);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));
    one(fd, 65536, 0);
    one(fd, 12345, 777777);
    one(fd, 1, (1 << 20) - 1);
    close(fd);
    unlink(path);
    return t_done();
}
