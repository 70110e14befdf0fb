/* lio_listio entry opcodes beyond LIO_READ/WRITE/NOP, as glibc treats them
 * (it keys on the low 7 bits of its internal opcodes): 129 writes, 128
 * reads, 3 is fdatasync, 4 is fsync, 130 and 5 fail with EINVAL. kaio
 * matches, so programs that (non-portably) rely on it behave the same. */
#include "harness.h"

int main(void)
{
    t_init("test_lio_glibc_opcodes", 30);
    const char *path = t_make_file(0, "lioops", 65536, 12);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open");
    static char wbuf[4096], rbuf[4096], junk[4096];
    fill_pat(wbuf, sizeof wbuf, 0, 99);
    int codes[] = { 129, 128, 3, 4, 130, 5 };
    enum { N = sizeof codes / sizeof codes[0] };
    struct aiocb cbs[N];
    struct aiocb *list[N];
    for (int i = 0; i < N; i++) {
        char *buf = codes[i] == 129 ? wbuf : codes[i] == 128 ? rbuf : junk;
        off_t off = codes[i] == 129 ? 8192 : codes[i] == 128 ? 16384 : 0;
        t_cb(&cbs[i], fd, buf, (codes[i] == 3 || codes[i] == 4) ? 0 : 4096, off);
        cbs[i].aio_lio_opcode = codes[i];
        list[i] = &cbs[i];
    }
    int r = lio_listio(LIO_WAIT, list, N, NULL);
    OUT("lio_listio(LIO_WAIT) = %d (%s)", r, r ? errname(errno) : "0");
    for (int i = 0; i < N; i++)
        OUT("opcode %d: aio_error %s, aio_return %zd", codes[i], errname(aio_error(&cbs[i])),
            aio_return(&cbs[i]));
    char back[4096];
    CHECK(pread(fd, back, sizeof back, 8192) == (ssize_t)sizeof back, "pread");
    OUT("opcode 129 wrote the data: %s", memcmp(back, wbuf, sizeof back) == 0 ? "yes" : "no");
    OUT("opcode 128 read the data: %s", check_pat(rbuf, sizeof rbuf, 16384, 12) < 0 ? "yes" : "no");
    close(fd);
    unlink(path);
    return t_done();
}
