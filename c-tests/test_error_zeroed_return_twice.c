/* aio_error on a zeroed aiocb that was never submitted returns 0 (a plain
 * load of the status), and so does aio_return on it. aio_return called twice
 * on a finished request returns the same value both times: for a successful
 * read and for a failed one. */
#include "harness.h"

int main(void)
{
    t_init("test_error_zeroed_return_twice", 30);
    struct aiocb z;
    memset(&z, 0, sizeof z);
    OUT("aio_error(zeroed, never submitted) = %s", errname(aio_error(&z)));
    CHECK(aio_error(&z) == 0, "not 0");
    /* aio_return on it is a plain load too: 0, twice, and aio_error stays 0. */
    ssize_t z1 = aio_return(&z), z2 = aio_return(&z);
    OUT("aio_return(zeroed, never submitted) = %zd, again = %zd, aio_error = %s", z1, z2,
        errname(aio_error(&z)));
    CHECK(z1 == 0 && z2 == 0 && aio_error(&z) == 0, "zeroed aio_return");

    const char *path = t_make_file(0, "return_twice", 8192, 25);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));
    char buf[5000];
    struct aiocb cb;
    t_cb(&cb, fd, buf, sizeof buf, 100);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);
    ssize_t a = aio_return(&cb);
    ssize_t b = aio_return(&cb);
    OUT("read: aio_return = %zd, again = %zd", a, b);
    CHECK(a == (ssize_t)sizeof buf && b == a, "%zd %zd", a, b);
    OUT("aio_error after aio_return = %s", errname(aio_error(&cb)));
    CHECK(check_pat(buf, sizeof buf, 100, 25) < 0, "data");

    /* A failed request: EBADF. */
    struct aiocb bad;
    t_cb(&bad, -1, buf, sizeof buf, 0);
    CHECK(aio_read(&bad) == 0, "aio_read(-1): %s", errname(errno));
    t_wait(&bad);
    a = aio_return(&bad);
    b = aio_return(&bad);
    OUT("bad fd: aio_return = %zd, again = %zd, aio_error = %s", a, b, errname(aio_error(&bad)));
    CHECK(a == -1 && b == -1, "%zd %zd", a, b);
    close(fd);
    unlink(path);
    return t_done();
}
