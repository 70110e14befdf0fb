/* lio_listio with a mode that is neither LIO_WAIT nor LIO_NOWAIT fails with
 * -1/EINVAL and submits nothing (the read buffer stays untouched). */
#include "harness.h"

int main(void)
{
    t_init("test_lio_bad_mode", 30);
    const char *path = t_make_file(0, "lio_bad_mode", 8192, 41);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));
    static const int modes[] = { 7, -1, 2, 1000 };
    for (unsigned m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        /* LIO_WAIT is 0 and LIO_NOWAIT is 1 on Linux; 2 is LIO_NOP's value */
        char buf[4096];
        memset(buf, 0x3C, sizeof buf);
        struct aiocb cb;
        t_cb(&cb, fd, buf, sizeof buf, 0);
        cb.aio_lio_opcode = LIO_READ;
        struct aiocb *list[1] = { &cb };
        errno = 0;
        int r = lio_listio(modes[m], list, 1, NULL);
        int e = errno;
        OUT("lio_listio(mode %d) = %d %s", modes[m], r, errname(e));
        CHECK(r == -1 && e == EINVAL, "want -1/EINVAL");
        usleep(20000);
        int untouched = 1;
        for (size_t k = 0; k < sizeof buf; k++) if ((unsigned char)buf[k] != 0x3C) untouched = 0;
        OUT("  buffer untouched: %s", untouched ? "yes" : "no");
        CHECK(untouched, "request was executed");
    }
    close(fd);
    unlink(path);
    return t_done();
}
