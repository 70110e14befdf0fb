/* Descriptors that cannot do the operation: the call returns 0 and the error
 * comes back through aio_error / aio_return -1, as pread/pwrite/fsync give it
 * (glibc runs exactly those):
 *   closed fd: write EBADF (reads: test_read_badfd; fsync: test_fsync_bad_args);
 *   directory (O_RDONLY): read EISDIR, write EBADF, fsync 0;
 *   O_PATH fd: read, write and fsync EBADF;
 *   pipe used the wrong way: write to the read end, read from the write end:
 *   EBADF; a file opened O_RDONLY: aio_fsync works (0), as fsync(2). */
#include "harness.h"

static void run(const char *what, int op, int fd, int want_err, ssize_t want_ret)
{
    char buf[4096];
    fill_pat(buf, sizeof buf, 0, 62); /* differs from the file */
    struct aiocb cb;
    t_cb(&cb, fd, buf, op == 2 ? 0 : sizeof buf, 0);
    if (op == 2) cb.aio_buf = NULL;
    errno = 0;
    int r = op == 0 ? aio_read(&cb) : op == 1 ? aio_write(&cb) : aio_fsync(O_SYNC, &cb);
    const char *name = op == 0 ? "aio_read" : op == 1 ? "aio_write" : "aio_fsync";
    CHECK(r == 0, "%s %s: %d %s", what, name, r, errname(errno));
    if (r != 0) return;
    t_wait(&cb);
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("%s: %s = 0, aio_error = %s, aio_return = %zd", what, name, errname(e), n);
    CHECK(e == want_err && n == want_ret, "%s %s: want %s %zd", what, name,
          errname(want_err), want_ret);
}

int main(void)
{
    t_init("test_bad_fd", 30);
    int hi = 900;
    CHECK(fcntl(hi, F_GETFD) == -1 && errno == EBADF, "fd %d is open", hi);
    run("closed fd", 1, hi, EBADF, -1);

    int dir = open(t_dir(), O_RDONLY | O_DIRECTORY);
    CHECK(dir >= 0, "open dir: %s", errname(errno));
    run("directory", 0, dir, EISDIR, -1);
    run("directory", 1, dir, EBADF, -1);
    run("directory", 2, dir, 0, 0);
    close(dir);

    const char *path = t_make_file(0, "bad_fd", 4096, 61);
    int opath = open(path, O_PATH);
    CHECK(opath >= 0, "open O_PATH: %s", errname(errno));
    for (int op = 0; op < 3; op++) run("O_PATH fd", op, opath, EBADF, -1);
    close(opath);

    int rdonly = open(path, O_RDONLY);
    CHECK(rdonly >= 0, "open: %s", errname(errno));
    run("O_RDONLY file", 2, rdonly, 0, 0);
    close(rdonly);

    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    run("pipe read end", 1, p[0], EBADF, -1);
    run("pipe write end", 0, p[1], EBADF, -1);
    char c;
    OUT("pipe empty afterwards: %s",
        fcntl(p[0], F_SETFL, O_NONBLOCK) == 0 && read(p[0], &c, 1) == -1 ? "yes" : "no");
    close(p[0]);
    close(p[1]);

    /* The file was never written through the bad descriptors. */
    int fd = open(path, O_RDONLY);
    char got[4096];
    CHECK(pread(fd, got, sizeof got, 0) == (ssize_t)sizeof got, "pread");
    OUT("file unchanged: %s", check_pat(got, sizeof got, 0, 61) < 0 ? "yes" : "no");
    close(fd);
    unlink(path);
    return t_done();
}
