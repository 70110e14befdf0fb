/* lio_listio(LIO_WAIT) where one entry has a bad fd: the call returns -1
 * with errno EIO after all requests are done; that entry's aio_error is
 * EBADF (aio_return -1) while the others succeed (aio_error 0). */
#include "harness.h"

int main(void)
{
    t_init("test_lio_wait_badfd", 30);
    const char *path = t_make_file(0, "lio_wait_badfd", 65536, 35);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));
    int badfd = 901;                       /* not open (lowest-free allocation) */
    CHECK(fcntl(badfd, F_GETFD) == -1 && errno == EBADF, "fd %d is open", badfd);

    char b[3][4096];
    struct aiocb cb[3];
    struct aiocb *list[3];
    for (int i = 0; i < 3; i++) {
        t_cb(&cb[i], i == 1 ? badfd : fd, b[i], sizeof b[i], (off_t)i * 8192);
        cb[i].aio_lio_opcode = LIO_READ;
        list[i] = &cb[i];
    }
    errno = 0;
    int r = lio_listio(LIO_WAIT, list, 3, NULL);
    int e = errno;
    OUT("lio_listio(LIO_WAIT) = %d %s", r, errname(e));
    CHECK(r == -1 && e == EIO, "want -1/EIO, got %d/%s", r, errname(e));
    for (int i = 0; i < 3; i++) {
        int ae = aio_error(&cb[i]);
        ssize_t n = aio_return(&cb[i]);
        OUT("entry %d: aio_error = %s, aio_return = %zd", i, errname(ae), n);
        if (i == 1) CHECK(ae == EBADF && n == -1, "bad entry");
        else CHECK(ae == 0 && n == 4096 && check_pat(b[i], 4096, (uint64_t)i * 8192, 35) < 0,
                   "good entry %d", i);
    }
    close(fd);
    unlink(path);
    return t_done();
}
