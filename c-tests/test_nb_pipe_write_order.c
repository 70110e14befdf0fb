/* 50 aio_writes of distinct 1000-byte records to one pipe while nobody
 * reads it (the pipe is shrunk to one page with F_SETPIPE_SZ, so it fills
 * after 4 records and the rest wait for room). Then the test reads it all:
 * every record arrives complete (1000 < PIPE_BUF: atomic) and the records
 * arrive in submission order (POSIX: requests to a non-seekable file are
 * performed in order). The reader never blocks in read(): it reads what is
 * there (O_NONBLOCK) and otherwise waits in aio_suspend for the writes. */
#include "harness.h"

#define NREC 50
#define RLEN 1000

int main(void)
{
    t_init("test_nb_pipe_write_order", 45);
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    int sz = fcntl(p[1], F_SETPIPE_SZ, 4096);
    NOTE("pipe size %d", sz);
    static char rec[NREC][RLEN];
    static struct aiocb cb[NREC];
    for (int i = 0; i < NREC; i++) {
        fill_pat(rec[i], RLEN, 0, 100 + i);
        snprintf(rec[i], 16, "rec %04d ", i);
        t_cb(&cb[i], p[1], rec[i], RLEN, 0);
    }
    int bad_submit = 0;
    for (int i = 0; i < NREC; i++)
        if (aio_write(&cb[i]) != 0) bad_submit++;
    OUT("submitted %d writes, %d failed", NREC, bad_submit);
    CHECK(bad_submit == 0, "aio_write failed: %s", errname(errno));
    int inprog = 0;
    for (int i = 0; i < NREC; i++) inprog += aio_error(&cb[i]) == EINPROGRESS;
    NOTE("%d writes still in progress after submission", inprog);
    CHECK(inprog > 0, "the pipe should be full, some writes waiting");

    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    static char out[NREC * RLEN];
    size_t got = 0;
    int all_done = 0;
    while (got < sizeof out) {
        ssize_t n = read(p[0], out + got, sizeof out - got);
        if (n > 0) { got += n; continue; }
        if (n == 0 || errno != EAGAIN) {
            CHECK(0, "read: %zd %s", n, errname(errno));
            break;
        }
        if (all_done) break;        /* every write done and the pipe empty */
        /* Empty: wait for any write still in progress. */
        const struct aiocb *l[NREC];
        int k = 0;
        for (int i = 0; i < NREC; i++)
            if (aio_error(&cb[i]) == EINPROGRESS) l[k++] = &cb[i];
        if (k == 0) { all_done = 1; continue; }   /* read what they left */
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        if (aio_suspend(l, k, &ts) != 0 && errno != EAGAIN && errno != EINTR) {
            CHECK(0, "aio_suspend: %s", errname(errno));
            break;
        }
    }
    int results_ok = 0;
    for (int i = 0; i < NREC; i++) {
        t_wait(&cb[i]);
        results_ok += aio_error(&cb[i]) == 0 && aio_return(&cb[i]) == RLEN;
    }
    int in_order = 0, first_bad = -1;
    for (int i = 0; i < NREC && got == sizeof out; i++) {
        if (memcmp(out + (size_t)i * RLEN, rec[i], RLEN) == 0) in_order++;
        else if (first_bad < 0) first_bad = i;
    }
    OUT("read %zu bytes; %d/%d writes returned %d; %d/%d records in place", got, results_ok,
        NREC, RLEN, in_order, NREC);
    if (first_bad >= 0)
        NOTE("first record out of place: #%d holds \"%.9s\"", first_bad,
             out + (size_t)first_bad * RLEN);
    CHECK(got == sizeof out && results_ok == NREC && in_order == NREC, "order");
    close(p[0]);
    close(p[1]);
    return t_done();
}
