/* O_DIRECT with a misaligned buffer address, file offset or length: the
 * request completes with aio_error EINVAL, aio_return -1 (what pread/pwrite
 * give on O_DIRECT; the kernel's io_submit gives the same), reads and writes;
 * nothing is written to the file, nothing to the buffer. Misaligned by 1
 * byte, which no device accepts (512-byte alignment may be fine: not tested).
 * A correctly aligned request on the same fd afterwards works. */
#include "harness.h"

static void one(const char *what, int fd, int write_op, char *b, size_t len, off_t off)
{
    struct aiocb cb;
    t_cb(&cb, fd, b, len, off);
    errno = 0;
    int r = write_op ? aio_write(&cb) : aio_read(&cb);
    CHECK(r == 0, "%s: call %d %s", what, r, errname(errno));
    if (r != 0) return;
    t_wait(&cb);
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("%s %s: aio_error = %s, aio_return = %zd", what, write_op ? "write" : "read",
        errname(e), n);
    CHECK(e == EINVAL && n == -1, "%s: want EINVAL -1", what);
}

int main(void)
{
    t_init("test_bad_direct_align", 30);
    const char *path = t_make_file(0, "bad_direct_align", 65536, 67);
    int fd = open(path, O_RDWR | O_DIRECT);
    if (fd < 0) T_SKIP("no O_DIRECT in %s", t_dir());
    char *buf = NULL;
    CHECK(posix_memalign((void **)&buf, 4096, 3 * 4096) == 0, "memalign");
    for (int w = 0; w < 2; w++) {
        fill_pat(buf, 3 * 4096, 0, 68);
        one("buffer address + 1", fd, w, buf + 1, 4096, 0);
        one("file offset 1", fd, w, buf, 4096, 1);
        one("file offset 4097", fd, w, buf, 4096, 4097);
        one("length 100", fd, w, buf, 100, 0);
        one("length 4097", fd, w, buf, 4097, 4096);
        one("all three", fd, w, buf + 3, 4095, 7);
        if (!w) OUT("buffer untouched: %s", check_pat(buf, 3 * 4096, 0, 68) < 0 ? "yes" : "no");
    }
    struct aiocb cb;
    t_cb(&cb, fd, buf, 8192, 8192);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);
    ssize_t n = aio_return(&cb);
    OUT("aligned read afterwards: %zd, file unchanged: %s", n,
        n == 8192 && check_pat(buf, 8192, 8192, 67) < 0 ? "yes" : "no");
    t_cb(&cb, fd, buf, 4096, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);
    OUT("first block unchanged: %s", aio_return(&cb) == 4096 && check_pat(buf, 4096, 0, 67) < 0 ? "yes" : "no");
    close(fd);
    free(buf);
    unlink(path);
    return t_done();
}
