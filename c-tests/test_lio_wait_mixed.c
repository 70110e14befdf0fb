/* lio_listio(LIO_WAIT) with reads and writes in one list (disjoint ranges):
 * returns 0; the reads see the old content, the writes land (checked with
 * pread afterwards). */
#include "harness.h"

#define NR 4
#define NW 4
#define LEN 16384

int main(void)
{
    t_init("test_lio_wait_mixed", 30);
    const size_t fsize = 256 * 1024;
    const char *path = t_make_file(0, "lio_wait_mixed", fsize, 33);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open: %s", errname(errno));

    static struct aiocb cb[NR + NW];
    static char buf[NR + NW][LEN];
    struct aiocb *list[NR + NW];
    for (int i = 0; i < NR + NW; i++) {
        int is_w = i % 2;                         /* interleave R W R W ... */
        int k = i / 2;
        off_t off = is_w ? (off_t)(128 * 1024 + k * LEN) : (off_t)(k * LEN + 100);
        if (is_w) fill_pat(buf[i], LEN, off, 34);
        else memset(buf[i], 0, LEN);
        t_cb(&cb[i], fd, buf[i], LEN, off);
        cb[i].aio_lio_opcode = is_w ? LIO_WRITE : LIO_READ;
        list[i] = &cb[i];
    }
    int r = lio_listio(LIO_WAIT, list, NR + NW, NULL);
    OUT("lio_listio(LIO_WAIT) = %d%s%s", r, r ? " " : "", r ? errname(errno) : "");
    CHECK(r == 0, "lio_listio: %s", errname(errno));
    for (int i = 0; i < NR + NW; i++) {
        int e = aio_error(&cb[i]);
        ssize_t n = aio_return(&cb[i]);
        OUT("%s %d: aio_error = %s, aio_return = %zd", i % 2 ? "write" : "read", i,
            errname(e), n);
        CHECK(e == 0 && n == LEN, "entry %d", i);
        if (i % 2 == 0) {
            long bad = check_pat(buf[i], LEN, cb[i].aio_offset, 33);
            CHECK(bad < 0, "read %d differs at +%ld", i, bad);
        }
    }
    char *got = malloc(fsize);
    CHECK(pread(fd, got, fsize, 0) == (ssize_t)fsize, "pread");
    long b1 = check_pat(got, 128 * 1024, 0, 33);
    long b2 = check_pat(got + 128 * 1024, NW * LEN, 128 * 1024, 34);
    long b3 = check_pat(got + 128 * 1024 + NW * LEN, fsize - 128 * 1024 - NW * LEN,
                        128 * 1024 + NW * LEN, 33);
    CHECK(b1 < 0 && b2 < 0 && b3 < 0, "file content %ld %ld %ld", b1, b2, b3);
    OUT("file cksum %08x", cksum(got, fsize));
    free(got);
    close(fd);
    unlink(path);
    return t_done();
}
