/* aio_init with a struct aioinit (aio_threads 4, aio_num 32, aio_idle_time 1)
 * before any request: returns normally (void), and requests work afterwards:
 * a file read, a write, and 8 reads at once (more than aio_threads). A second
 * aio_init call later is harmless too. */
#include "harness.h"

int main(void)
{
    t_init("test_init_aioinit", 30);
    struct aioinit init;
    memset(&init, 0, sizeof init);
    init.aio_threads = 4;
    init.aio_num = 32;
    init.aio_idle_time = 1;
    aio_init(&init);
    OUT("aio_init done");

    const char *path = t_make_file(0, "init_aioinit", 8 * 4096, 18);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open: %s", errname(errno));
    static char bufs[8][4096];
    struct aiocb cb[8];
    t_cb(&cb[0], fd, bufs[0], 4096, 4096);
    CHECK(aio_read(&cb[0]) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb[0]);
    int e = aio_error(&cb[0]);
    ssize_t n = aio_return(&cb[0]);
    OUT("read: aio_error = %s, aio_return = %zd, cksum = %08x", errname(e), n,
        cksum(bufs[0], 4096));
    CHECK(e == 0 && n == 4096 && check_pat(bufs[0], 4096, 4096, 18) == -1, "read result");

    fill_pat(bufs[1], 4096, 0, 19);
    t_cb(&cb[1], fd, bufs[1], 4096, 0);
    CHECK(aio_write(&cb[1]) == 0, "aio_write: %s", errname(errno));
    t_wait(&cb[1]);
    OUT("write: aio_return = %zd", aio_return(&cb[1]));

    aio_init(&init);
    for (int i = 0; i < 8; i++) {
        t_cb(&cb[i], fd, bufs[i], 4096, (off_t)i * 4096);
        CHECK(aio_read(&cb[i]) == 0, "aio_read %d: %s", i, errname(errno));
    }
    int bad = 0;
    for (int i = 0; i < 8; i++) {
        t_wait(&cb[i]);
        unsigned seed = i == 0 ? 19 : 18;
        if (aio_return(&cb[i]) != 4096 || check_pat(bufs[i], 4096, (uint64_t)i * 4096, seed) != -1)
            bad++;
    }
    OUT("8 reads after aio_init: bad = %d", bad);
    CHECK(bad == 0, "%d reads bad", bad);
    close(fd);
    unlink(path);
    return t_done();
}
