/* A file truncated under in-flight reads. Each round rewrites a 2 MiB file,
 * drops it from the page cache, submits 32 O_DIRECT and 32 buffered 16 KiB
 * reads spread over it while another thread truncates it (to 0, to a size
 * inside the range, or to an unaligned size). No crash, every read
 * completes exactly once with aio_error 0 and 0 <= aio_return <= 16384 (a
 * full read, a short read at the new end, or 0), and every byte returned is
 * the file's data (or, past the new end, the zeros truncation leaves: see
 * data_ok). Then an extending write and a read of it work. */
#include "harness.h"

#define FSZ (2 << 20)
#define RSZ 16384
#define NR 64

static int fd_b;
static volatile int go;
static off_t cut_to;

/* Whether the n bytes read at `off` are the file's data. A read that races
 * the truncation may return the old length with the bytes past the new end
 * already zeroed: the kernel zeroes the tail of the last page after it
 * changed i_size, and a concurrent read may have sampled the old size
 * (filemap_read); glibc's pread is exposed to it just the same. */
static int data_ok(const char *buf, size_t n, off_t off)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char want = pat((uint64_t)off + i, 81);
        if ((unsigned char)buf[i] != want && !((off_t)(off + i) >= cut_to && buf[i] == 0))
            return 0;
    }
    return 1;
}

static void *cutter(void *a)
{
    (void)a;
    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE)) {}
    if (ftruncate(fd_b, cut_to) != 0) return (void *)1;
    return NULL;
}

int main(void)
{
    t_init("test_fault_truncate", 60);
    const char *path = t_make_file(0, "fault_truncate", FSZ, 81);
    fd_b = open(path, O_RDWR);
    int fd_d = open(path, O_RDWR | O_DIRECT);
    if (fd_d < 0) { unlink(path); T_SKIP("no O_DIRECT in %s", t_dir()); }
    char *bufs = NULL, *src = malloc(FSZ);
    CHECK(posix_memalign((void **)&bufs, 4096, (size_t)NR * RSZ) == 0 && src, "alloc");
    fill_pat(src, FSZ, 0, 81);
    static const off_t cuts[] = { 0, FSZ / 2, 12345, 0, FSZ - 1000, 4096, 0, 1 };
    int rounds = (int)(sizeof cuts / sizeof cuts[0]);
    int bad_total = 0, full = 0, part = 0, zero = 0;
    struct aiocb cb[NR];
    for (int r = 0; r < rounds; r++) {
        CHECK(pwrite(fd_b, src, FSZ, 0) == FSZ, "rewrite");
        fdatasync(fd_b);
        posix_fadvise(fd_b, 0, 0, POSIX_FADV_DONTNEED);
        cut_to = cuts[r];
        go = 0;
        pthread_t th;
        pthread_create(&th, NULL, cutter, NULL);
        for (int i = 0; i < NR; i++) {
            off_t off = (off_t)((i * 37 + r * 11) % (FSZ / RSZ)) * RSZ;
            t_cb(&cb[i], i & 1 ? fd_b : fd_d, bufs + (size_t)i * RSZ, RSZ, off);
            CHECK(aio_read(&cb[i]) == 0, "aio_read: %s", errname(errno));
            if (i == NR / 4) __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
        }
        void *tr;
        pthread_join(th, &tr);
        CHECK(tr == NULL, "ftruncate failed");
        int bad = 0;
        for (int i = 0; i < NR; i++) {
            t_wait(&cb[i]);
            int e = aio_error(&cb[i]);
            ssize_t n = aio_return(&cb[i]);
            if (e != 0 || n < 0 || n > RSZ ||
                (n > 0 && !data_ok(bufs + (size_t)i * RSZ, (size_t)n, cb[i].aio_offset))) {
                bad++;
                NOTE("round %d read %d (%s, off %lld): %s %zd", r, i, i & 1 ? "buffered" : "O_DIRECT",
                     (long long)cb[i].aio_offset, errname(e), n);
            }
            if (n == RSZ) full++; else if (n > 0) part++; else if (n == 0) zero++;
        }
        bad_total += bad;
        OUT("round %d (truncate to %lld): %d reads completed, bad %d", r, (long long)cut_to, NR, bad);
    }
    NOTE("full %d, short %d, empty %d", full, part, zero);
    CHECK(bad_total == 0, "%d bad reads", bad_total);

    /* The file still works: extend it with an aio_write and read it back. */
    struct aiocb w;
    fill_pat(bufs, RSZ, FSZ, 81);
    t_cb(&w, fd_d, bufs, RSZ, FSZ);
    CHECK(aio_write(&w) == 0, "aio_write: %s", errname(errno));
    t_wait(&w);
    t_cb(&cb[0], fd_b, bufs + RSZ, RSZ, FSZ);
    CHECK(aio_read(&cb[0]) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb[0]);
    ssize_t n = aio_return(&cb[0]);
    OUT("write after truncation: %zd, read back: %zd %s", aio_return(&w), n,
        n == RSZ && check_pat(bufs + RSZ, RSZ, FSZ, 81) < 0 ? "right" : "wrong");
    CHECK(n == RSZ && check_pat(bufs + RSZ, RSZ, FSZ, 81) < 0, "read back");
    close(fd_b);
    close(fd_d);
    free(bufs);
    free(src);
    unlink(path);
    return t_done();
}
