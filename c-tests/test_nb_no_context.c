/* KAIO_ONLY: when io_setup fails (the system-wide aio-max-nr is used up),
 * kaio must still serve every request — on threads — where glibc would work.
 * The test uses up aio-max-nr itself by holding kernel AIO contexts (raw
 * io_setup), then does O_DIRECT and buffered reads and writes, an fsync and
 * a pipe read through kaio, verifies them, and releases the contexts.
 * kaio's counter no_context shows the fallback was taken. */
#include "harness.h"
#include <linux/aio_abi.h>
#include <sys/syscall.h>

static aio_context_t held[4096];
static int nheld;

static void hog(void)
{
    /* Ask big first, then smaller, until nothing more is granted. */
    for (unsigned nr = 65536; nr >= 1 && nheld < 4096; ) {
        aio_context_t ctx = 0;
        if (syscall(SYS_io_setup, nr, &ctx) == 0) held[nheld++] = ctx;
        else nr /= 2;
    }
}

static void release(void)
{
    for (int i = 0; i < nheld; i++) syscall(SYS_io_destroy, held[i]);
    nheld = 0;
}

int main(void)
{
    t_init("test_nb_no_context", 120);
    unsigned long long (*counter)(const char *) =
        (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
    CHECK(counter != NULL, "kaio_counter");
    if (!counter) return t_done();
    hog();
    NOTE("holding %d kernel AIO contexts", nheld);
    aio_context_t probe = 0;
    if (syscall(SYS_io_setup, 1, &probe) == 0) {
        syscall(SYS_io_destroy, probe);
        release();
        T_SKIP("could not use up aio-max-nr");
    }
    const char *path = t_make_file(0, "noctx", 1 << 20, 21);
    int fd = open(path, O_RDWR | O_DIRECT);
    if (fd < 0) fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open");
    char *buf = NULL;
    CHECK(posix_memalign((void **)&buf, 4096, 65536) == 0, "memalign");
    struct aiocb cbs[8];
    for (int i = 0; i < 8; i++) {
        t_cb(&cbs[i], fd, buf + (i % 4) * 16384, 16384, (off_t)i * 65536);
        CHECK(aio_read(&cbs[i]) == 0, "aio_read %d: %s", i, errname(errno));
    }
    int good = 0;
    for (int i = 0; i < 8; i++) {
        t_wait(&cbs[i]);
        if (aio_error(&cbs[i]) == 0 && aio_return(&cbs[i]) == 16384) good++;
    }
    OUT("O_DIRECT reads without a kernel context: %d/8", good);
    CHECK(good == 8, "reads %d", good);
    t_cb(&cbs[0], fd, buf, 4096, 0);
    fill_pat(buf, 4096, 0, 21);
    CHECK(aio_write(&cbs[0]) == 0, "aio_write");
    t_wait(&cbs[0]);
    t_cb(&cbs[1], fd, NULL, 0, 0);
    CHECK(aio_fsync(O_SYNC, &cbs[1]) == 0, "aio_fsync");
    t_wait(&cbs[1]);
    OUT("write %zd, fsync %s", aio_return(&cbs[0]), errname(aio_error(&cbs[1])));
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    char c = 0;
    t_cb(&cbs[2], p[0], &c, 1, 0);
    CHECK(aio_read(&cbs[2]) == 0, "pipe aio_read");
    CHECK(write(p[1], "z", 1) == 1, "write");
    t_wait(&cbs[2]);
    OUT("pipe read without a kernel context: %zd %c", aio_return(&cbs[2]), c);
    unsigned long long nc = counter("no_context");
    NOTE("no_context %llu, thread %llu, kernel %llu", nc, counter("thread"), counter("kernel"));
    CHECK(nc > 0, "no_context counter did not move");
    CHECK(counter("kernel") == 0, "something reached a kernel context");
    release();
    close(p[0]);
    close(p[1]);
    close(fd);
    unlink(path);
    free(buf);
    return t_done();
}
