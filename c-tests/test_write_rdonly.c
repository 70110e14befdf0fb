/* aio_write on an fd opened O_RDONLY (and on -1): the call returns 0, the
 * error shows up via aio_error == EBADF and aio_return -1; the file is not
 * modified. */
#include "harness.h"

static void bad(const char *what, int fd)
{
    char buf[512];
    fill_pat(buf, sizeof buf, 0, 20);
    struct aiocb cb;
    t_cb(&cb, fd, buf, sizeof buf, 0);
    int r = aio_write(&cb);
    OUT("%s: aio_write = %d", what, r);
    CHECK(r == 0, "aio_write: %d %s", r, errname(errno));
    if (r != 0) return;
    t_wait(&cb);
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("%s: aio_error = %s, aio_return = %zd", what, errname(e), n);
    CHECK(e == EBADF, "aio_error %s", errname(e));
    CHECK(n == -1, "aio_return %zd", n);
}

int main(void)
{
    t_init("test_write_rdonly", 30);
    const char *path = t_make_file(0, "write_rdonly", 4096, 19);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));
    bad("O_RDONLY fd", fd);
    bad("fd -1", -1);
    char got[4096];
    CHECK(pread(fd, got, sizeof got, 0) == (ssize_t)sizeof got, "pread");
    long b = check_pat(got, sizeof got, 0, 19);
    OUT("file unchanged: %s", b < 0 ? "yes" : "no");
    CHECK(b < 0, "file changed at %ld", b);
    close(fd);
    unlink(path);
    return t_done();
}
