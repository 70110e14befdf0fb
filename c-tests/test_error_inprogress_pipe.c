/* aio_error reports EINPROGRESS while an aio_read on a pipe waits for data
 * (a non-regular file: served by a thread, not the kernel AIO path). Writing
 * to the pipe from the same thread completes it: aio_return is the number of
 * bytes written, and the bytes are right. Then the same for an aio_write to
 * a full pipe, drained by the test. */
#include "harness.h"

int main(void)
{
    t_init("test_error_inprogress_pipe", 30);
    int p[2];
    CHECK(pipe(p) == 0, "pipe");

    char buf[100];
    memset(buf, 0, sizeof buf);
    struct aiocb cb;
    t_cb(&cb, p[0], buf, sizeof buf, 0);
    OUT("aio_read(pipe) = %d", aio_read(&cb));
    /* No data yet: still in progress, however often we look. */
    for (int i = 0; i < 3; i++) {
        OUT("aio_error = %s", errname(aio_error(&cb)));
        usleep(20000);
    }
    CHECK(aio_error(&cb) == EINPROGRESS, "not in progress");

    char msg[37];
    fill_pat(msg, sizeof msg, 0, 23);
    CHECK(write(p[1], msg, sizeof msg) == (ssize_t)sizeof msg, "write");
    t_wait(&cb);
    OUT("aio_error = %s", errname(aio_error(&cb)));
    ssize_t n = aio_return(&cb);
    OUT("aio_return = %zd", n);
    CHECK(n == (ssize_t)sizeof msg, "got %zd", n);
    CHECK(memcmp(buf, msg, sizeof msg) == 0, "bytes differ");
    OUT("cksum %08x", cksum(buf, sizeof msg));

    /* aio_write into a full pipe stays in progress until the reader drains. */
    int fl = fcntl(p[1], F_GETFL);
    fcntl(p[1], F_SETFL, fl | O_NONBLOCK);
    char fill[4096];
    memset(fill, 'x', sizeof fill);
    size_t filled = 0;
    ssize_t w;
    while ((w = write(p[1], fill, sizeof fill)) > 0) filled += w;
    fcntl(p[1], F_SETFL, fl);
    NOTE("pipe holds %zu bytes", filled);
    char wbuf[64];
    fill_pat(wbuf, sizeof wbuf, 0, 24);
    struct aiocb wcb;
    t_cb(&wcb, p[1], wbuf, sizeof wbuf, 0);
    OUT("aio_write(full pipe) = %d", aio_write(&wcb));
    usleep(20000);
    OUT("aio_error = %s", errname(aio_error(&wcb)));
    CHECK(aio_error(&wcb) == EINPROGRESS, "write not in progress");
    /* Drain everything the pipe held, then the 64 bytes of the aio_write. */
    char *drain = malloc(filled);
    size_t got = 0;
    while (got < filled) {
        ssize_t r = read(p[0], drain + got, filled - got);
        if (r <= 0) break;
        got += r;
    }
    t_wait(&wcb);
    OUT("aio_error = %s, aio_return = %zd", errname(aio_error(&wcb)), aio_return(&wcb));
    char tail[64];
    size_t tg = 0;
    while (tg < sizeof tail) {
        ssize_t r = read(p[0], tail + tg, sizeof tail - tg);
        if (r <= 0) break;
        tg += r;
    }
    CHECK(tg == sizeof tail && memcmp(tail, wbuf, sizeof tail) == 0, "written bytes differ");
    OUT("tail cksum %08x", cksum(tail, tg));
    free(drain);
    close(p[0]);
    close(p[1]);
    return t_done();
}
