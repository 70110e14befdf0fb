/* Buffers the process cannot use: an unmapped page (mmap then munmap), NULL,
 * and a PROT_READ page as a read target. Reads and writes on a buffered file,
 * an O_DIRECT file and a pipe complete with aio_error EFAULT, aio_return -1,
 * without a crash; the file and the pipe's contents are unchanged (a pipe
 * read into a bad buffer consumes nothing). A buffer whose second page is
 * unmapped gives what pread/pwrite give (the kernel's partial transfer up to
 * the hole for buffered I/O, EFAULT for O_DIRECT): compared, not assumed. */
#include "harness.h"
#include <sys/mman.h>

static void one(const char *what, int fd, int write_op, void *b, size_t len, int cmp_sync)
{
    struct aiocb cb;
    t_cb(&cb, fd, b, len, 0);
    errno = 0;
    int r = write_op ? aio_write(&cb) : aio_read(&cb);
    CHECK(r == 0, "%s: call %d %s", what, r, errname(errno));
    if (r != 0) return;
    t_wait(&cb);
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("%s %s: aio_error = %s, aio_return = %zd", what, write_op ? "write" : "read",
        errname(e), n);
    if (!cmp_sync) {
        CHECK(e == EFAULT && n == -1, "%s: want EFAULT -1", what);
        return;
    }
    errno = 0;
    ssize_t s = write_op ? pwrite(fd, b, len, 0) : pread(fd, b, len, 0);
    int se = s < 0 ? errno : 0;
    CHECK(e == se && n == s, "%s: pread/pwrite give %zd %s", what, s, errname(se));
}

int main(void)
{
    t_init("test_bad_unmapped", 30);
    const char *path = t_make_file(0, "bad_unmapped", 65536, 69);
    int fd = open(path, O_RDWR);
    int dfd = open(path, O_RDWR | O_DIRECT);
    CHECK(fd >= 0, "open: %s", errname(errno));
    if (dfd < 0) T_SKIP("no O_DIRECT in %s", t_dir());
    char *gone = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *half = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(gone != MAP_FAILED && half != MAP_FAILED && ro != MAP_FAILED, "mmap");
    CHECK(munmap(gone, 8192) == 0 && munmap(half + 4096, 4096) == 0, "munmap");
    char *volatile nul = NULL;

    for (int w = 0; w < 2; w++) {
        one("buffered, unmapped", fd, w, gone, 4096, 0);
        one("buffered, NULL", fd, w, nul, 4096, 0);
        one("O_DIRECT, unmapped", dfd, w, gone, 4096, 0);
        one("O_DIRECT, NULL", dfd, w, nul, 4096, 0);
    }
    one("buffered, PROT_READ page", fd, 0, ro, 4096, 0);
    one("O_DIRECT, PROT_READ page", dfd, 0, ro, 4096, 0);
    struct stat st;
    char got[8192];
    CHECK(fstat(fd, &st) == 0 && pread(fd, got, 8192, 0) == 8192, "fstat/pread");
    OUT("file unchanged: %s", st.st_size == 65536 && check_pat(got, 8192, 0, 69) < 0 ? "yes" : "no");

    /* Pipes: the data stays for the next reader; nothing bad is written. */
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    fcntl(p[0], F_SETFL, O_NONBLOCK); /* for the test's own read(2) */
    CHECK(write(p[1], "0123456789", 10) == 10, "write");
    one("pipe with data, unmapped", p[0], 0, gone, 10, 0);
    one("pipe with data, NULL", p[0], 0, nul, 10, 0);
    one("pipe, unmapped", p[1], 1, gone, 10, 0);
    one("pipe, NULL", p[1], 1, nul, 10, 0);
    ssize_t k = read(p[0], got, sizeof got);
    OUT("pipe holds: %zd bytes, %s", k, k == 10 && memcmp(got, "0123456789", 10) == 0 ? "the data" : "other");
    CHECK(k == 10 && memcmp(got, "0123456789", 10) == 0, "pipe contents");

    /* Second page unmapped: whatever the synchronous call does. */
    fill_pat(half, 4096, 0, 69);
    one("buffered, 2nd page unmapped", fd, 0, half, 8192, 1);
    one("buffered, 2nd page unmapped", fd, 1, half, 8192, 1);
    one("O_DIRECT, 2nd page unmapped", dfd, 0, half, 8192, 1);
    one("O_DIRECT, 2nd page unmapped", dfd, 1, half, 8192, 1);
    CHECK(fstat(fd, &st) == 0 && pread(fd, got, 8192, 0) == 8192, "fstat/pread");
    OUT("file unchanged: %s", st.st_size == 65536 && check_pat(got, 8192, 0, 69) < 0 ? "yes" : "no");
    munmap(half, 4096);
    munmap(ro, 4096);
    close(p[0]);
    close(p[1]);
    close(fd);
    close(dfd);
    unlink(path);
    return t_done();
}
