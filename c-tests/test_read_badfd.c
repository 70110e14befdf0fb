/* aio_read on a bad file descriptor: the call itself returns 0 (the request
 * is accepted), the error shows up via aio_error == EBADF and aio_return -1.
 * Cases: -1, a high fd number that is not open, an fd opened O_WRONLY. */
#include "harness.h"

static void bad(const char *what, int fd)
{
    char buf[512];
    struct aiocb cb;
    t_cb(&cb, fd, buf, sizeof buf, 0);
    errno = 0;
    int r = aio_read(&cb);
    OUT("%s: aio_read = %d", what, r);
    CHECK(r == 0, "aio_read returned %d errno %s", r, errname(errno));
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
    t_init("test_read_badfd", 30);
    /* An fd number nobody will allocate (the kernel gives the lowest free). */
    int hi = 900;
    CHECK(fcntl(hi, F_GETFD) == -1 && errno == EBADF, "fd %d is open", hi);
    bad("fd -1", -1);
    bad("closed fd", hi);

    const char *path = t_make_file(0, "read_badfd", 4096, 9);
    int wfd = open(path, O_WRONLY);
    CHECK(wfd >= 0, "open: %s", errname(errno));
    bad("O_WRONLY fd", wfd);
    close(wfd);
    unlink(path);
    return t_done();
}
