/* An aio_write of 4096 bytes to a FULL pipe never blocks the caller: it
 * returns 0 at once and stays EINPROGRESS; the SAME thread then reads the
 * pipe: first everything that filled it, and once the write has completed
 * (aio_return 4096), the 4096 written bytes, after the filler, in order. */
#include "harness.h"

int main(void)
{
    t_init("test_nb_pipe_write_full", 30);
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    /* Fill: 4096-byte then 1-byte non-blocking writes until EAGAIN. */
    int fl = fcntl(p[1], F_GETFL);
    fcntl(p[1], F_SETFL, fl | O_NONBLOCK);
    static char fill[4096];
    size_t filled = 0;
    ssize_t w;
    for (;;) {
        fill_pat(fill, sizeof fill, filled, 50);
        if ((w = write(p[1], fill, sizeof fill)) <= 0) break;
        filled += w;
    }
    for (;;) {
        fill_pat(fill, 1, filled, 50);
        if ((w = write(p[1], fill, 1)) <= 0) break;
        filled += w;
    }
    int full_errno = errno;
    fcntl(p[1], F_SETFL, fl);
    OUT("pipe filled until %s", errname(full_errno));
    NOTE("pipe holds %zu bytes", filled);

    static char msg[4096];
    fill_pat(msg, sizeof msg, filled, 50);
    struct aiocb cb;
    t_cb(&cb, p[1], msg, sizeof msg, 0);
    int r = aio_write(&cb);
    int e = aio_error(&cb);
    OUT("aio_write(full pipe, 4096) = %d, aio_error = %s", r, errname(e));
    CHECK(r == 0 && e == EINPROGRESS, "aio_write %d %s", r, errname(e));

    /* Drain exactly the filler (readable without the write's progress). */
    char *all = malloc(filled + sizeof msg);
    size_t got = 0;
    while (got < filled) {
        ssize_t n = read(p[0], all + got, filled - got);
        if (n <= 0) break;
        got += n;
    }
    CHECK(got == filled, "drained %zu of %zu", got, filled);
    t_wait(&cb);
    e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("aio_error = %s, aio_return = %zd", errname(e), n);
    CHECK(e == 0 && n == (ssize_t)sizeof msg, "result %s %zd", errname(e), n);
    /* The written bytes are now in the pipe, after the filler. */
    while (got < filled + sizeof msg) {
        ssize_t k = read(p[0], all + got, filled + sizeof msg - got);
        if (k <= 0) break;
        got += k;
    }
    long bad = check_pat(all, got, 0, 50);
    OUT("read back %s bytes, %s", got == filled + sizeof msg ? "all" : "NOT all",
        bad < 0 ? "in order" : "OUT OF ORDER");
    CHECK(got == filled + sizeof msg && bad < 0, "got %zu, first bad byte %ld", got, bad);
    free(all);
    close(p[0]);
    close(p[1]);
    return t_done();
}
