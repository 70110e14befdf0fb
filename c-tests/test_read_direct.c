/* aio_read with O_DIRECT: 4096-aligned buffer, offsets and sizes; the data
 * equals the file pattern. Skips if O_DIRECT is refused (EINVAL). */
#include "harness.h"

int main(void)
{
    t_init("test_read_direct", 30);
    const char *path = t_make_file(0, "read_direct", 1 << 20, 5);
    int fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0 && errno == EINVAL) { unlink(path); T_SKIP("no O_DIRECT"); }
    CHECK(fd >= 0, "open: %s", errname(errno));

    static const struct { off_t off; size_t len; } req[] = {
        { 0, 4096 }, { 8192, 65536 }, { 4096 * 100, 4096 * 3 }, { (1 << 20) - 4096, 4096 },
    };
    for (unsigned i = 0; i < sizeof req / sizeof req[0]; i++) {
        void *buf = NULL;
        CHECK(posix_memalign(&buf, 4096, req[i].len) == 0, "posix_memalign");
        memset(buf, 0xAA, req[i].len);
        struct aiocb cb;
        t_cb(&cb, fd, buf, req[i].len, req[i].off);
        int r = aio_read(&cb);
        OUT("aio_read(off=%lld, len=%zu) = %d", (long long)req[i].off, req[i].len, r);
        CHECK(r == 0, "aio_read: %s", errname(errno));
        t_wait(&cb);
        OUT("aio_error = %s", errname(aio_error(&cb)));
        ssize_t n = aio_return(&cb);
        OUT("aio_return = %zd", n);
        CHECK(n == (ssize_t)req[i].len, "short read %zd", n);
        long bad = check_pat(buf, req[i].len, req[i].off, 5);
        CHECK(bad < 0, "data differs at +%ld", bad);
        OUT("cksum %08x", cksum(buf, req[i].len));
        free(buf);
    }
    close(fd);
    unlink(path);
    return t_done();
}
