/* Offsets pread/pwrite reject or clamp, for buffered and O_DIRECT files.
 * aio_read/aio_write return 0; the result comes through aio_error/aio_return
 * and must be what pread/pwrite give for the same arguments (glibc runs
 * exactly those):
 *   offset + nbytes overflows (LLONG_MAX, LLONG_MAX-100 + 4096, the last
 *   aligned block + 4096 for O_DIRECT): EINVAL, read and write;
 *   negative offset on O_DIRECT: EINVAL (buffered: test_read_einval);
 *   past the file system's maximum file size (1<<62, LLONG_MAX-8192): read
 *   0 (end of file), write EFBIG (ext4; whatever pwrite says elsewhere);
 *   a pipe ignores aio_offset >= 0 but a negative one is EINVAL. */
#include "harness.h"

static int fd_buf, fd_dir;
static char *buf;

static void one(const char *what, int fd, int write_op, size_t len, long long off)
{
    struct aiocb cb;
    t_cb(&cb, fd, buf, len, (off_t)off);
    errno = 0;
    int r = write_op ? aio_write(&cb) : aio_read(&cb);
    CHECK(r == 0, "%s: call %d %s", what, r, errname(errno));
    if (r != 0) return;
    t_wait(&cb);
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    errno = 0;
    ssize_t s = write_op ? pwrite(fd, buf, len, (off_t)off) : pread(fd, buf, len, (off_t)off);
    int se = s < 0 ? errno : 0;
    OUT("%s %s: aio_error = %s, aio_return = %zd", what, write_op ? "write" : "read",
        errname(e), n);
    CHECK(e == se && n == s, "%s: pread/pwrite give %zd %s", what, s, errname(se));
}

int main(void)
{
    t_init("test_bad_offset", 30);
    const char *path = t_make_file(0, "bad_offset", 65536, 63);
    fd_buf = open(path, O_RDWR);
    fd_dir = open(path, O_RDWR | O_DIRECT);
    CHECK(fd_buf >= 0, "open: %s", errname(errno));
    if (fd_dir < 0) T_SKIP("no O_DIRECT in %s", t_dir());
    CHECK(posix_memalign((void **)&buf, 4096, 8192) == 0, "memalign");
    fill_pat(buf, 8192, 0, 64);
    const long long top = LLONG_MAX & ~4095LL; /* last 4096-aligned offset */

    for (int w = 0; w < 2; w++) {
        one("buffered, offset LLONG_MAX, 1 byte", fd_buf, w, 1, LLONG_MAX);
        one("buffered, offset LLONG_MAX-100, 4096 bytes", fd_buf, w, 4096, LLONG_MAX - 100);
        one("O_DIRECT, offset LLONG_MAX&~4095, 4096 bytes", fd_dir, w, 4096, top);
        one("O_DIRECT, offset -4096", fd_dir, w, 4096, -4096);
        one("O_DIRECT, offset LLONG_MIN", fd_dir, w, 4096, LLONG_MIN);
        one("buffered, offset 1<<62", fd_buf, w, 4096, 1LL << 62);
        one("buffered, offset LLONG_MAX-8192", fd_buf, w, 4096, LLONG_MAX - 8192);
        one("O_DIRECT, offset 1<<62", fd_dir, w, 4096, 1LL << 62);
        one("O_DIRECT, offset (LLONG_MAX&~4095)-4096", fd_dir, w, 4096, top - 4096);
    }
    struct stat st;
    CHECK(fstat(fd_buf, &st) == 0 && st.st_size == 65536, "file size changed");
    char got[4096];
    CHECK(pread(fd_buf, got, sizeof got, 0) == (ssize_t)sizeof got, "pread");
    OUT("file unchanged: %s", st.st_size == 65536 && check_pat(got, 4096, 0, 63) < 0 ? "yes" : "no");

    /* A pipe: the offset is not used, unless negative. */
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    CHECK(write(p[1], "abcdef", 6) == 6, "write");
    struct aiocb cb;
    char small[3];
    t_cb(&cb, p[0], small, 3, -5);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);
    OUT("pipe, offset -5: aio_error = %s, aio_return = %zd", errname(aio_error(&cb)),
        aio_return(&cb));
    CHECK(aio_error(&cb) == EINVAL && aio_return(&cb) == -1, "pipe negative offset");
    t_cb(&cb, p[0], small, 3, 1LL << 62);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);
    OUT("pipe, offset 1<<62: aio_error = %s, aio_return = %zd, data %.3s",
        errname(aio_error(&cb)), aio_return(&cb), small);
    CHECK(aio_return(&cb) == 3 && memcmp(small, "abc", 3) == 0, "pipe read");
    close(p[0]);
    close(p[1]);
    close(fd_buf);
    close(fd_dir);
    free(buf);
    unlink(path);
    return t_done();
}
