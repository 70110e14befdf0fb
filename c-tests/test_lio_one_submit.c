/* KAIO_ONLY: lio_listio hands the whole batch (32 O_DIRECT reads, with NULL
 * and LIO_NOP entries mixed in) to the kernel with ONE io_submit, as kaio's
 * counters show; every read's data is verified. (Buffered reads are served
 * from the page cache without the kernel's AIO at all.) */
#include "harness.h"

int main(void)
{
    t_init("test_lio_one_submit", 30);
    unsigned long long (*counter)(const char *) =
        (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
    CHECK(counter != NULL, "kaio_counter not found");
    if (!counter) return t_done();
    const char *path = t_make_file(0, "lio1", 32 * 4096, 5);
    int fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0 && errno == EINVAL) { unlink(path); T_SKIP("no O_DIRECT here"); }
    CHECK(fd >= 0, "open");
    static char bufs[32][4096] __attribute__((aligned(4096)));
    struct aiocb cbs[32], nop;
    struct aiocb *list[40];
    int n = 0;
    t_cb(&nop, fd, bufs[0], 4096, 0);
    nop.aio_lio_opcode = LIO_NOP;
    for (int i = 0; i < 32; i++) {
        t_cb(&cbs[i], fd, bufs[i], 4096, (off_t)i * 4096);
        cbs[i].aio_lio_opcode = LIO_READ;
        list[n++] = &cbs[i];
        if (i % 8 == 0) list[n++] = NULL;
        if (i % 8 == 4) list[n++] = &nop;
    }
    /* Open the kernel context first, so this batch is all that is counted. */
    struct aiocb warm;
    static char wb[4096] __attribute__((aligned(4096)));
    t_cb(&warm, fd, wb, sizeof wb, 0);
    CHECK(aio_read(&warm) == 0, "warm-up read");
    t_wait(&warm);
    unsigned long long before = counter("io_submit_calls");
    int r = lio_listio(LIO_WAIT, list, n, NULL);
    unsigned long long calls = counter("io_submit_calls") - before;
    OUT("lio_listio(LIO_WAIT, %d entries) = %d", n, r);
    OUT("io_submit calls for the batch: %llu", calls);
    CHECK(calls == 1, "expected one io_submit, got %llu", calls);
    int good = 0;
    for (int i = 0; i < 32; i++)
        if (aio_error(&cbs[i]) == 0 && aio_return(&cbs[i]) == 4096 &&
            check_pat(bufs[i], 4096, (uint64_t)i * 4096, 5) < 0)
            good++;
    OUT("verified %d/32", good);
    CHECK(good == 32, "verified %d", good);
    close(fd);
    unlink(path);
    return t_done();
}
