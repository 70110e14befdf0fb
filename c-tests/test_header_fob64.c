/* Header test with _FILE_OFFSET_BITS=64: <aio.h> then <kaio.h> (linked
 * build). glibc's <aio.h> redirects aio_read/aio_error/aio_return/... to the
 * *64 symbols under this macro; kaio.h must not clash with that (this file
 * must compile with -Werror), and the calls must work: a read at an offset
 * beyond 4 GiB (sparse file) and one at a small offset. */
#define _FILE_OFFSET_BITS 64
#include <aio.h>
#ifdef KAIO_LINKED
#include <kaio.h>
#endif
#include "harness.h"

int main(void)
{
    t_init("test_header_fob64", 30);
    CHECK(sizeof(off_t) == 8 && sizeof(struct aiocb) == sizeof(struct aiocb64), "sizes");
    const char *path = t_make_file(0, "header_fob64", 4096, 61);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open: %s", errname(errno));
    off_t far = (off_t)5 << 30;
    char pbuf[4096];
    fill_pat(pbuf, sizeof pbuf, (uint64_t)far, 62);
    if (pwrite(fd, pbuf, sizeof pbuf, far) != (ssize_t)sizeof pbuf) {
        close(fd);
        unlink(path);
        T_SKIP("cannot write at 5 GiB: %s", errname(errno));
    }

    char buf[4096];
    struct aiocb cb;
    t_cb(&cb, fd, buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("read at 0: %s %zd, cksum %08x", errname(e), n, cksum(buf, sizeof buf));
    CHECK(e == 0 && n == 4096 && check_pat(buf, sizeof buf, 0, 61) == -1, "read at 0");

    t_cb(&cb, fd, buf, sizeof buf, far);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);
    e = aio_error(&cb);
    n = aio_return(&cb);
    OUT("read at 5 GiB: %s %zd, cksum %08x", errname(e), n, cksum(buf, sizeof buf));
    CHECK(e == 0 && n == 4096 && check_pat(buf, sizeof buf, (uint64_t)far, 62) == -1,
          "read at 5 GiB");
    close(fd);
    unlink(path);
    return t_done();
}
