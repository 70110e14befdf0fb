/* lio_listio(LIO_WAIT) with 8 reads mixed with LIO_NOP and NULL entries:
 * returns 0 only once every read is done; the NOP and NULL entries are
 * skipped; every read has aio_error 0, the full count and the right bytes. */
#include "harness.h"

#define NENT 12

int main(void)
{
    t_init("test_lio_wait_reads", 30);
    const size_t fsize = 1 << 20;
    const char *path = t_make_file(0, "lio_wait_reads", fsize, 31);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));

    struct aiocb cb[NENT];
    struct aiocb *list[NENT];
    char *buf[NENT];
    char nopbuf[16];
    memset(nopbuf, 0x77, sizeof nopbuf);
    int r_i = 0;
    for (int i = 0; i < NENT; i++) {
        buf[i] = NULL;
        if (i == 3 || i == 8) { list[i] = NULL; continue; }
        if (i == 0 || i == 6) {            /* LIO_NOP pointing at a real range */
            t_cb(&cb[i], fd, nopbuf, sizeof nopbuf, 0);
            cb[i].aio_lio_opcode = LIO_NOP;
            list[i] = &cb[i];
            continue;
        }
        size_t len = 4096 + (size_t)r_i * 3001;
        off_t off = (off_t)r_i * 100003;
        buf[i] = malloc(len);
        memset(buf[i], 0, len);
        t_cb(&cb[i], fd, buf[i], len, off);
        cb[i].aio_lio_opcode = LIO_READ;
        list[i] = &cb[i];
        r_i++;
    }
    CHECK(r_i == 8, "built %d reads", r_i);

    int r = lio_listio(LIO_WAIT, list, NENT, NULL);
    OUT("lio_listio(LIO_WAIT) = %d%s%s", r, r ? " " : "", r ? errname(errno) : "");
    CHECK(r == 0, "lio_listio failed: %s", errname(errno));
    for (int i = 0; i < NENT; i++) {
        if (!buf[i]) continue;
        /* Done already: LIO_WAIT returned. */
        int e = aio_error(&cb[i]);
        ssize_t n = aio_return(&cb[i]);
        long bad = check_pat(buf[i], cb[i].aio_nbytes, cb[i].aio_offset, 31);
        OUT("entry %d: aio_error = %s, aio_return = %zd, data %s", i, errname(e), n,
            bad < 0 ? "ok" : "BAD");
        CHECK(e == 0 && n == (ssize_t)cb[i].aio_nbytes && bad < 0, "entry %d", i);
        free(buf[i]);
    }
    int untouched = 1;
    for (size_t k = 0; k < sizeof nopbuf; k++) if ((unsigned char)nopbuf[k] != 0x77) untouched = 0;
    OUT("LIO_NOP buffer untouched: %s", untouched ? "yes" : "no");
    CHECK(untouched, "LIO_NOP entry was executed");
    close(fd);
    unlink(path);
    return t_done();
}
