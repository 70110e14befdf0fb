/* aio_nbytes larger than any buffer can be. glibc runs pread/pwrite/read/write,
 * which check the whole range [aio_buf, aio_buf + aio_nbytes) against the
 * address space before doing anything: aio_nbytes of SSIZE_MAX+1, SIZE_MAX,
 * SSIZE_MAX or 1<<62 completes with aio_error EFAULT, aio_return -1, and no
 * byte moves — for a buffered file, an O_DIRECT file and a pipe.
 * The buffer is one page followed by a PROT_NONE guard page, so a backend that
 * instead clamps the length (io_submit, preadv2 and readv clamp to 2 GiB
 * before checking) cannot run over the caller's memory: it stops at the guard
 * and the test reports the difference instead of crashing. */
#include "harness.h"
#include <sys/mman.h>

static unsigned char *page;

static void huge(const char *what, int fd, int write_op, size_t len)
{
    memset(page, 0x77, 4096);
    struct aiocb cb;
    t_cb(&cb, fd, page, len, 0);
    errno = 0;
    int r = write_op ? aio_write(&cb) : aio_read(&cb);
    CHECK(r == 0, "%s: call %d %s", what, r, errname(errno));
    if (r != 0) return;
    t_wait(&cb);
    int e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    int untouched = 1;
    for (int i = 0; i < 4096; i++) if (page[i] != 0x77) untouched = 0;
    OUT("%s, %s %#zx bytes: aio_error = %s, aio_return = %zd, buffer untouched: %s", what,
        write_op ? "write" : "read", len, errname(e), n, untouched ? "yes" : "no");
    CHECK(e == EFAULT && n == -1, "%s %#zx: want EFAULT -1", what, len);
}

int main(void)
{
    t_init("test_bad_nbytes_huge", 30);
    const char *path = t_make_file(0, "bad_nbytes_huge", 65536, 66);
    int fd = open(path, O_RDWR);
    int dfd = open(path, O_RDWR | O_DIRECT);
    CHECK(fd >= 0, "open: %s", errname(errno));
    if (dfd < 0) T_SKIP("no O_DIRECT in %s", t_dir());
    unsigned char *map = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED, "mmap");
    CHECK(mprotect(map, 4096, PROT_READ | PROT_WRITE) == 0, "mprotect");
    page = map;
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    fcntl(p[0], F_SETFL, O_NONBLOCK); /* the test's own read(2)s never wait */
    const size_t lens[] = { (size_t)SSIZE_MAX + 1, SIZE_MAX, (size_t)SSIZE_MAX, (size_t)1 << 62 };
    for (unsigned i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        huge("buffered", fd, 0, lens[i]);
        huge("buffered", fd, 1, lens[i]);
        huge("O_DIRECT", dfd, 0, lens[i]);
        huge("O_DIRECT", dfd, 1, lens[i]);
        CHECK(write(p[1], "pipe data", 9) == 9, "write");
        huge("pipe with data", p[0], 0, lens[i]);
        static char rest[65536];
        ssize_t k = read(p[0], rest, sizeof rest);
        OUT("  pipe data left for read(2): %zd", k < 0 ? 0 : k);
        huge("pipe", p[1], 1, lens[i]);
        k = read(p[0], rest, sizeof rest);
        OUT("  bytes that reached the pipe: %zd", k < 0 ? 0 : k);
    }
    struct stat st;
    char got[4096];
    CHECK(fstat(fd, &st) == 0 && pread(fd, got, 4096, 0) == 4096, "fstat/pread");
    OUT("file unchanged: %s", st.st_size == 65536 && check_pat(got, 4096, 0, 66) < 0 ? "yes" : "no");
    munmap(map, 8192);
    close(p[0]);
    close(p[1]);
    close(fd);
    close(dfd);
    unlink(path);
    return t_done();
}
