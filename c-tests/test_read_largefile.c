#define _FILE_OFFSET_BITS 64
/* Built with _FILE_OFFSET_BITS=64 (so <aio.h> maps aio_read to aio_read64
 * and so on): aio_read at an offset above 4 GiB of a sparse 5 GiB file
 * returns the pattern written there with pwrite; reads of the hole return
 * zeros, and a read straddling EOF at 5 GiB is short. */
#include "harness.h"

int main(void)
{
    t_init("test_read_largefile", 30);
    OUT("sizeof(off_t) = %zu", sizeof(off_t));
    char path[512];
    snprintf(path, sizeof path, "%s/largefile.%d", t_dir(), (int)getpid());
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
    CHECK(fd >= 0, "open: %s", errname(errno));
    const off_t gib = 1024LL * 1024 * 1024;
    if (ftruncate(fd, 5 * gib) != 0) {
        close(fd); unlink(path);
        T_SKIP("ftruncate 5 GiB: %s", errname(errno));
    }
    const off_t at = 4 * gib + gib / 2;
    char w[65536];
    fill_pat(w, sizeof w, at, 29);
    CHECK(pwrite(fd, w, sizeof w, at) == (ssize_t)sizeof w, "pwrite");

    char buf[65536];
    struct aiocb cb;
    t_cb(&cb, fd, buf, sizeof buf, at);
    OUT("aio_read(4.5 GiB) = %d", aio_read(&cb));
    t_wait(&cb);
    ssize_t n = aio_return(&cb);
    OUT("aio_error = %s, aio_return = %zd", errname(aio_error(&cb)), n);
    CHECK(n == (ssize_t)sizeof buf, "got %zd", n);
    long bad = check_pat(buf, sizeof buf, at, 29);
    CHECK(bad < 0, "data differs at +%ld", bad);
    OUT("cksum %08x", cksum(buf, sizeof buf));

    /* The hole just above 4 GiB reads as zeros. */
    memset(buf, 0xEE, sizeof buf);
    t_cb(&cb, fd, buf, 4096, 4 * gib + 12345);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);
    n = aio_return(&cb);
    int zero = 1;
    for (int i = 0; i < 4096; i++) if (buf[i]) zero = 0;
    OUT("hole read = %zd, zeros: %s", n, zero ? "yes" : "no");
    CHECK(n == 4096 && zero, "hole read");

    /* Straddling EOF at 5 GiB: 8192 asked, 4096 remain. */
    t_cb(&cb, fd, buf, 8192, 5 * gib - 4096);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);
    n = aio_return(&cb);
    OUT("read at 5 GiB - 4096 = %zd", n);
    CHECK(n == 4096, "got %zd", n);
    close(fd);
    unlink(path);
    return t_done();
}
