/* aio_nbytes 0 is a valid empty transfer: aio_read/aio_write return 0 and the
 * request completes with aio_error 0, aio_return 0, touching nothing — for a
 * buffered file, an O_DIRECT file (offset 0 and at EOF), an empty pipe (a read
 * of 0 bytes does not wait for data), a pipe write, and with aio_buf NULL.
 * (aio_nbytes beyond SSIZE_MAX or the address space: test_bad_nbytes_huge.) */
#include "harness.h"

static void zero(const char *what, int fd, int write_op, void *b, off_t off)
{
    struct aiocb cb;
    t_cb(&cb, fd, b, 0, off);
    errno = 0;
    int r = write_op ? aio_write(&cb) : aio_read(&cb);
    CHECK(r == 0, "%s: call %d %s", what, r, errname(errno));
    if (r != 0) return;
    t_wait(&cb);
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("%s, %s 0 bytes: aio_error = %s, aio_return = %zd", what, write_op ? "write" : "read",
        errname(e), n);
    CHECK(e == 0 && n == 0, "%s", what);
}

int main(void)
{
    t_init("test_bad_nbytes", 30);
    const char *path = t_make_file(0, "bad_nbytes", 65536, 65);
    int fd = open(path, O_RDWR);
    int dfd = open(path, O_RDWR | O_DIRECT);
    CHECK(fd >= 0, "open: %s", errname(errno));
    if (dfd < 0) T_SKIP("no O_DIRECT in %s", t_dir());
    char *buf = NULL;
    CHECK(posix_memalign((void **)&buf, 4096, 4096) == 0, "memalign");
    memset(buf, 0x5A, 4096);
    for (int w = 0; w < 2; w++) {
        zero("buffered", fd, w, buf, 4096);
        zero("buffered, past EOF", fd, w, buf, 1 << 20);
        zero("buffered, aio_buf NULL", fd, w, NULL, 0);
        zero("O_DIRECT", dfd, w, buf, 0);
        zero("O_DIRECT, at EOF", dfd, w, buf, 65536);
        zero("O_DIRECT, aio_buf NULL", dfd, w, NULL, 4096);
    }
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    zero("empty pipe", p[0], 0, buf, 0);
    zero("pipe", p[1], 1, buf, 0);
    zero("pipe, aio_buf NULL", p[1], 1, NULL, 0);
    char c;
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    OUT("pipe still empty: %s", read(p[0], &c, 1) == -1 && errno == EAGAIN ? "yes" : "no");

    int untouched = 1;
    for (int i = 0; i < 4096; i++) if ((unsigned char)buf[i] != 0x5A) untouched = 0;
    OUT("buffer untouched: %s", untouched ? "yes" : "no");
    CHECK(untouched, "a 0-byte read wrote to the buffer");
    struct stat st;
    char got[4096];
    CHECK(fstat(fd, &st) == 0 && pread(fd, got, 4096, 4096) == 4096, "fstat/pread");
    OUT("file unchanged: %s", st.st_size == 65536 && check_pat(got, 4096, 4096, 65) < 0 ? "yes" : "no");
    close(p[0]);
    close(p[1]);
    close(fd);
    close(dfd);
    free(buf);
    unlink(path);
    return t_done();
}
