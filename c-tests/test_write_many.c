/* 64 aio_writes in flight at once to distinct offsets of one file (submitted
 * before any is waited for, in a scrambled order); each returns its length
 * and the whole file then holds exactly the expected bytes. */
#include "harness.h"

#define N 64
#define CHUNK 16384

int main(void)
{
    t_init("test_write_many", 60);
    char path[512];
    snprintf(path, sizeof path, "%s/write_many.%d", t_dir(), (int)getpid());
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
    CHECK(fd >= 0, "open: %s", errname(errno));

    static struct aiocb cb[N];
    static char buf[N][CHUNK];
    for (int k = 0; k < N; k++) {
        int i = (k * 37) % N;                 /* scrambled chunk order */
        fill_pat(buf[i], CHUNK, (uint64_t)i * CHUNK, 21);
        t_cb(&cb[i], fd, buf[i], CHUNK, (off_t)i * CHUNK);
        int r = aio_write(&cb[i]);
        CHECK(r == 0, "aio_write %d: %s", i, errname(errno));
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        t_wait(&cb[i]);
        int e = aio_error(&cb[i]);
        ssize_t n = aio_return(&cb[i]);
        CHECK(e == 0 && n == CHUNK, "req %d: %s %zd", i, errname(e), n);
        if (e == 0 && n == CHUNK) ok++;
    }
    OUT("%d of %d writes returned %d", ok, N, CHUNK);

    struct stat st;
    fstat(fd, &st);
    OUT("size %lld", (long long)st.st_size);
    CHECK(st.st_size == (off_t)N * CHUNK, "size %lld", (long long)st.st_size);
    char *got = malloc((size_t)N * CHUNK);
    CHECK(pread(fd, got, (size_t)N * CHUNK, 0) == (ssize_t)N * CHUNK, "pread");
    long bad = check_pat(got, (size_t)N * CHUNK, 0, 21);
    CHECK(bad < 0, "file differs at %ld", bad);
    OUT("file cksum %08x", cksum(got, (size_t)N * CHUNK));
    free(got);
    close(fd);
    unlink(path);
    return t_done();
}
