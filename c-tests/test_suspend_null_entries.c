/* aio_suspend ignores NULL entries: {NULL, done} returns 0 at once. An empty
 * list (nent 0) and a list of only NULLs also return 0 at once (as glibc). */
#include "harness.h"

int main(void)
{
    t_init("test_suspend_null_entries", 30);
    const char *path = t_make_file(0, "suspend_null", 4096, 4);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));
    char buf[4096];
    struct aiocb cb;
    t_cb(&cb, fd, buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);

    const struct aiocb *l[3] = { NULL, &cb, NULL };
    int r = aio_suspend(l, 3, NULL);
    OUT("aio_suspend {NULL, done, NULL} = %d", r);
    CHECK(r == 0, "aio_suspend = %d errno %s", r, errname(errno));

    const struct aiocb *l2[2] = { NULL, &cb };
    r = aio_suspend(l2, 2, NULL);
    OUT("aio_suspend {NULL, done} = %d", r);
    CHECK(r == 0, "aio_suspend = %d errno %s", r, errname(errno));

    r = aio_suspend(l, 0, NULL);
    OUT("aio_suspend nent 0 = %d", r);
    CHECK(r == 0, "aio_suspend nent 0 = %d errno %s", r, errname(errno));

    const struct aiocb *nulls[4] = { NULL, NULL, NULL, NULL };
    r = aio_suspend(nulls, 4, NULL);
    OUT("aio_suspend all NULL = %d", r);
    CHECK(r == 0, "aio_suspend all NULL = %d errno %s", r, errname(errno));

    struct timespec ts = { 0, 0 };
    r = aio_suspend(nulls, 4, &ts);
    OUT("aio_suspend all NULL zero timeout = %d", r);
    CHECK(r == 0, "aio_suspend all NULL, timeout = %d errno %s", r, errname(errno));

    ssize_t n = aio_return(&cb);
    OUT("aio_return = %zd, cksum = %08x", n, cksum(buf, sizeof buf));
    CHECK(n == 4096 && check_pat(buf, sizeof buf, 0, 4) == -1, "read result");
    close(fd);
    unlink(path);
    return t_done();
}
