/* aio_write with O_DIRECT (4096-aligned buffers, offsets, sizes); the file
 * then holds exactly the written bytes (checked with a buffered pread and an
 * O_DIRECT aio_read). Skips if O_DIRECT is refused. */
#include "harness.h"

int main(void)
{
    t_init("test_write_direct", 30);
    const size_t fsize = 1 << 20;
    const char *path = t_make_file(0, "write_direct", fsize, 17);
    int fd = open(path, O_RDWR | O_DIRECT);
    if (fd < 0 && errno == EINVAL) { unlink(path); T_SKIP("no O_DIRECT"); }
    CHECK(fd >= 0, "open: %s", errname(errno));

    static const struct { off_t off; size_t len; } req[] = {
        { 0, 4096 }, { 4096 * 10, 65536 }, { (1 << 20) - 8192, 8192 },
    };
    const int n_req = sizeof req / sizeof req[0];
    for (int i = 0; i < n_req; i++) {
        void *buf = NULL;
        CHECK(posix_memalign(&buf, 4096, req[i].len) == 0, "posix_memalign");
        fill_pat(buf, req[i].len, req[i].off, 18);
        struct aiocb cb;
        t_cb(&cb, fd, buf, req[i].len, req[i].off);
        int r = aio_write(&cb);
        OUT("aio_write(off=%lld, len=%zu) = %d", (long long)req[i].off, req[i].len, r);
        CHECK(r == 0, "aio_write: %s", errname(errno));
        t_wait(&cb);
        int e = aio_error(&cb);
        ssize_t n = aio_return(&cb);
        OUT("  aio_error = %s, aio_return = %zd", errname(e), n);
        CHECK(e == 0 && n == (ssize_t)req[i].len, "write: %s %zd", errname(e), n);
        free(buf);
    }

    /* Expected content: seed 18 in the written ranges, seed 17 elsewhere. */
    int bfd = open(path, O_RDONLY);
    char *got = malloc(fsize);
    CHECK(pread(bfd, got, fsize, 0) == (ssize_t)fsize, "pread");
    long bad = -1;
    for (size_t o = 0; o < fsize && bad < 0; o++) {
        unsigned seed = 17;
        for (int i = 0; i < n_req; i++)
            if ((off_t)o >= req[i].off && (off_t)o < req[i].off + (off_t)req[i].len) seed = 18;
        if ((unsigned char)got[o] != pat(o, seed)) bad = (long)o;
    }
    CHECK(bad < 0, "file differs at %ld", bad);
    OUT("file cksum %08x", cksum(got, fsize));

    /* Read the middle range back through O_DIRECT aio too. */
    void *rb = NULL;
    CHECK(posix_memalign(&rb, 4096, 65536) == 0, "posix_memalign");
    struct aiocb rcb;
    t_cb(&rcb, fd, rb, 65536, 4096 * 10);
    CHECK(aio_read(&rcb) == 0, "aio_read: %s", errname(errno));
    t_wait(&rcb);
    ssize_t n = aio_return(&rcb);
    OUT("direct read back = %zd", n);
    CHECK(n == 65536 && check_pat(rb, 65536, 4096 * 10, 18) < 0, "read back differs");
    free(rb);
    free(got);
    close(bfd);
    close(fd);
    unlink(path);
    return t_done();
}
