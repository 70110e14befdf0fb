/* aio_write on a buffered fd, then read the file back with pread: the
 * written ranges hold the new bytes, the rest is untouched; writing past EOF
 * extends the file. */
#include "harness.h"

static void wr(int fd, size_t len, off_t off, unsigned seed)
{
    char *buf = malloc(len);
    fill_pat(buf, len, off, seed);
    struct aiocb cb;
    t_cb(&cb, fd, buf, len, off);
    int r = aio_write(&cb);
    OUT("aio_write(off=%lld, len=%zu) = %d", (long long)off, len, r);
    CHECK(r == 0, "aio_write: %s", errname(errno));
    t_wait(&cb);
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("  aio_error = %s, aio_return = %zd", errname(e), n);
    CHECK(e == 0 && n == (ssize_t)len, "write: %s %zd", errname(e), n);
    free(buf);
}

int main(void)
{
    t_init("test_write_readback", 30);
    const size_t fsize = 256 * 1024;
    const char *path = t_make_file(0, "write_readback", fsize, 15);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open: %s", errname(errno));

    wr(fd, 4096, 0, 16);
    wr(fd, 10001, 50000, 16);
    wr(fd, 3000, fsize - 1000, 16);           /* extends the file by 2000 */

    struct stat st;
    fstat(fd, &st);
    OUT("size %lld", (long long)st.st_size);
    CHECK(st.st_size == (off_t)fsize + 2000, "size %lld", (long long)st.st_size);

    size_t total = fsize + 2000;
    char *got = malloc(total);
    CHECK(pread(fd, got, total, 0) == (ssize_t)total, "pread");
    long b1 = check_pat(got, 4096, 0, 16);
    long b2 = check_pat(got + 4096, 50000 - 4096, 4096, 15);
    long b3 = check_pat(got + 50000, 10001, 50000, 16);
    long b4 = check_pat(got + 60001, fsize - 1000 - 60001, 60001, 15);
    long b5 = check_pat(got + fsize - 1000, 3000, fsize - 1000, 16);
    CHECK(b1 < 0 && b2 < 0 && b3 < 0 && b4 < 0 && b5 < 0,
          "content mismatch %ld %ld %ld %ld %ld", b1, b2, b3, b4, b5);
    OUT("file cksum %08x", cksum(got, total));
    free(got);
    close(fd);
    unlink(path);
    return t_done();
}
