/* Rule: a request is published with its return value first and its error
 * code last, so the moment aio_error stops saying EINPROGRESS, aio_return
 * already holds the result. 2000 O_DIRECT reads (truly asynchronous on
 * kaio), each polled with aio_error and read back at once. */
#include "harness.h"

int main(void)
{
    t_init("test_error_publish_order", 60);
    const char *path = t_make_file(0, "pubord", 1 << 20, 11);
    int fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0 && errno == EINVAL) { unlink(path); T_SKIP("no O_DIRECT here"); }
    CHECK(fd >= 0, "open: %s", errname(errno));
    void *buf = NULL;
    CHECK(posix_memalign(&buf, 4096, 8192) == 0, "posix_memalign");
    struct aiocb cb;
    int stale = 0, bad = 0;
    for (int i = 0; i < 2000; i++) {
        size_t len = (i % 2) ? 8192 : 4096;
        t_cb(&cb, fd, buf, len, (off_t)(i % 200) * 4096);
        if (aio_read(&cb) != 0) { bad++; break; }
        int e;
        while ((e = aio_error(&cb)) == EINPROGRESS)
            ;
        ssize_t r = aio_return(&cb);
        if (e != 0) bad++;
        if (r != (ssize_t)len) stale++;
    }
    OUT("errors %d, stale results %d", bad, stale);
    CHECK(bad == 0 && stale == 0, "bad %d stale %d", bad, stale);
    close(fd);
    unlink(path);
    free(buf);
    return t_done();
}
