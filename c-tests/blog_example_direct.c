/* The blog's example with O_DIRECT (which the blog recommends for AIO):
 * aio_read 20 MiB of "test.file" into a 4096-aligned buffer, busy-wait on
 * aio_error, aio_return, then verify against a plain pread. Skips if the
 * file system refuses O_DIRECT. Creates a pattern test.file if missing. */
#include "harness.h"
#include <strings.h>

#define BUFF_SIZE (1024 * 1024 * 20)

/* If test.file is missing, create one (pattern) atomically: write a temp
 * file, then link it into place. Returns 1 if this process created it. */
static int make_test_file(void)
{
    if (access("test.file", F_OK) == 0) return 0;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "test.file.tmp.%d", (int)getpid());
    int wfd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (wfd < 0) { perror(tmp); exit(1); }
    char *b = malloc(1 << 20);
    for (size_t off = 0; off < BUFF_SIZE; off += 1 << 20) {
        fill_pat(b, 1 << 20, off, 39);
        if (write(wfd, b, 1 << 20) != 1 << 20) { perror("write"); exit(1); }
    }
    free(b);
    close(wfd);
    int created = link(tmp, "test.file") == 0;
    unlink(tmp);
    if (created) NOTE("test.file missing: created a pattern file");
    return created;
}

/* Which kaio path served the read (diagnostics only). */
static void note_path(void)
{
    unsigned long long (*counter)(const char *) =
        (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
    if (counter)
        NOTE("kaio paths: kernel %llu, inline %llu, thread %llu", counter("kernel"),
             counter("inline"), counter("thread"));
}

int main(void)
{
    t_init("blog_example_direct", 60);
    int created = make_test_file();

    int fd;
    /* Another run may remove a test.file it created: recreate and retry. */
    for (int tries = 0; (fd = open("test.file", O_RDONLY | O_DIRECT)) < 0 && errno == ENOENT && tries < 3; tries++)
        created |= make_test_file();
    if (fd < 0 && errno == EINVAL) {
        if (created) unlink("test.file");
        T_SKIP("O_DIRECT not supported here");
    }
    CHECK(fd >= 0, "open test.file: %s", errname(errno));
    if (fd < 0) return t_done();

    struct aiocb my_aiocb;
    bzero((char *)&my_aiocb, sizeof(struct aiocb));
    void *buf = NULL;
    CHECK(posix_memalign(&buf, 4096, BUFF_SIZE + 4096) == 0, "posix_memalign");
    my_aiocb.aio_buf = buf;
    my_aiocb.aio_fildes = fd;
    my_aiocb.aio_nbytes = BUFF_SIZE;
    my_aiocb.aio_offset = 0;

    int ret = aio_read(&my_aiocb);
    if (ret < 0) perror("aio_read");
    OUT("aio_read = %d", ret);

    unsigned long spins = 0;
    while (aio_error(&my_aiocb) == EINPROGRESS) spins++;
    NOTE("aio_error spun %lu times", spins);
    OUT("aio_error = %s", errname(aio_error(&my_aiocb)));

    ssize_t n = aio_return(&my_aiocb);
    OUT("aio_return = %zd", n);
    CHECK(n == BUFF_SIZE, "got %zd bytes", n);

    /* A buffered view of the same file (even if test.file was unlinked). */
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    int pfd = open(self, O_RDONLY);
    CHECK(pfd >= 0, "reopen: %s", errname(errno));
    char *ref = malloc(BUFF_SIZE);
    size_t got = 0;
    while (got < BUFF_SIZE) {
        ssize_t r = pread(pfd, ref + got, BUFF_SIZE - got, got);
        if (r <= 0) break;
        got += r;
    }
    CHECK(got == BUFF_SIZE, "pread got %zu", got);
    int same = n == BUFF_SIZE && memcmp(buf, ref, BUFF_SIZE) == 0;
    OUT("data matches pread: %s", same ? "yes" : "no");
    CHECK(same, "aio_read data differs from pread");
    OUT("cksum %08x", cksum(buf, BUFF_SIZE));

    free(ref);
    free(buf);
    close(pfd);
    close(fd);
    note_path();
    if (created) unlink("test.file");
    return t_done();
}
