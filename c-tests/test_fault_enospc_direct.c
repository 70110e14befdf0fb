/* Disk full with O_DIRECT, on a 16 MiB ext4 image loop-mounted in a private
 * mount namespace (it goes away with the process; skipped without the
 * privilege, mkfs.ext4 or loop devices). Writes are 1 MiB O_DIRECT (kaio:
 * io_submit).
 *  - 24 sequential writes (each waited for): the first ones succeed in full,
 *    then at most one short write, then every later one fails with aio_error
 *    ENOSPC / aio_return -1; the accepted data reads back right; aio_fsync
 *    completes with 0.
 *  - 24 concurrent writes to a second file after cutting the first to 4 MiB:
 *    every one completes (full, short or ENOSPC, nothing else), some fail, the
 *    accepted bytes fit, each accepted range reads back right, and 8
 *    O_DIRECT reads of data written before, in flight meanwhile, are right. */
#include "harness.h"
#include <sched.h>
#include <sys/mount.h>

#define CH (1 << 20)
#define N 24
#define IMG (16 << 20)

static char *chunk, *got;
static char dir[512], img[600];

static int check_file(int fd, off_t off, ssize_t n)
{
    return pread(fd, got, (size_t)n, off) == n && check_pat(got, (size_t)n, (uint64_t)off, 85) < 0;
}

static void classify(int e, ssize_t n, int *ok, int *shorts, int *nospc, int *other)
{
    if (e == 0 && n == CH) (*ok)++;
    else if (e == 0 && n > 0 && n < CH) (*shorts)++;
    else if (e == ENOSPC && n == -1) (*nospc)++;
    else { (*other)++; NOTE("unexpected result %s %zd", errname(e), n); }
}

int main(void)
{
    if (unshare(CLONE_NEWNS) != 0) T_SKIP("unshare(CLONE_NEWNS): %s", errname(errno));
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) T_SKIP("make-rprivate: %s", errname(errno));
    t_init("test_fault_enospc_direct", 60);
    snprintf(dir, sizeof dir, "%s/enospc_direct.%d", t_dir(), (int)getpid());
    snprintf(img, sizeof img, "%s.img", dir);
    int ifd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(ifd >= 0 && ftruncate(ifd, IMG) == 0, "image: %s", errname(errno));
    close(ifd);
    CHECK(mkdir(dir, 0755) == 0, "mkdir: %s", errname(errno));
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "LD_PRELOAD= mkfs.ext4 -q -F -b 4096 -E nodiscard '%s' >/dev/null 2>&1", img);
    int rc = system(cmd);
    if (rc == 0) {
        snprintf(cmd, sizeof cmd, "LD_PRELOAD= mount -o loop '%s' '%s' >/dev/null 2>&1", img, dir);
        rc = system(cmd);
    }
    if (rc != 0) { rmdir(dir); unlink(img); T_SKIP("mkfs.ext4 / mount -o loop failed (%d)", rc); }
    CHECK(posix_memalign((void **)&chunk, 4096, (size_t)N * CH) == 0 &&
          posix_memalign((void **)&got, 4096, CH) == 0, "memalign");
    fill_pat(chunk, (size_t)N * CH, 0, 85);
    char p1[600], p2[600];
    snprintf(p1, sizeof p1, "%s/seq", dir);
    snprintf(p2, sizeof p2, "%s/par", dir);
    int fd = open(p1, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
    int fdb = open(p1, O_RDONLY);
    CHECK(fd >= 0 && fdb >= 0, "open: %s", errname(errno));

    struct aiocb cb[N];
    int ok = 0, shorts = 0, nospc = 0, other = 0, out_of_order = 0;
    long long accepted = 0;
    for (int i = 0; i < N; i++) {
        t_cb(&cb[i], fd, chunk + (size_t)i * CH, CH, (off_t)i * CH);
        CHECK(aio_write(&cb[i]) == 0, "aio_write: %s", errname(errno));
        t_wait(&cb[i]);
        int e = aio_error(&cb[i]);
        ssize_t n = aio_return(&cb[i]);
        if ((e == 0 && n == CH && (shorts || nospc)) || (e == 0 && n > 0 && nospc)) out_of_order++;
        classify(e, n, &ok, &shorts, &nospc, &other);
        if (e == 0 && n > 0) {
            accepted += n;
            if (!check_file(fdb, (off_t)i * CH, n)) other++;
        }
    }
    NOTE("sequential: %d full, %d short, %d ENOSPC, %lld bytes", ok, shorts, nospc, accepted);
    OUT("sequential: successes first, then ENOSPC: %s; short writes <= 1: %s; other results: %d",
        out_of_order == 0 && ok > 0 && nospc > 0 ? "yes" : "no", shorts <= 1 ? "yes" : "no", other);
    CHECK(out_of_order == 0 && ok > 0 && nospc > 0 && shorts <= 1 && other == 0, "sequential");
    struct aiocb fs;
    t_cb(&fs, fd, NULL, 0, 0);
    CHECK(aio_fsync(O_SYNC, &fs) == 0, "aio_fsync: %s", errname(errno));
    t_wait(&fs);
    OUT("aio_fsync on the full file system: %s", errname(aio_error(&fs)));
    CHECK(aio_error(&fs) == 0, "fsync");

    /* Keep the first 4 MiB (read back concurrently), race for the rest. */
    CHECK(ftruncate(fd, 4 * CH) == 0, "ftruncate");
    int fd2 = open(p2, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
    int fd2b = open(p2, O_RDONLY);
    CHECK(fd2 >= 0 && fd2b >= 0, "open: %s", errname(errno));
    char *rbuf = NULL;
    CHECK(posix_memalign((void **)&rbuf, 4096, 8 * 65536) == 0, "memalign");
    struct aiocb rd[8];
    for (int i = 0; i < 8; i++) {
        t_cb(&rd[i], fd, rbuf + i * 65536, 65536, (off_t)i * (CH / 2) + 4096);
        CHECK(aio_read(&rd[i]) == 0, "aio_read: %s", errname(errno));
    }
    for (int i = 0; i < N; i++) {
        t_cb(&cb[i], fd2, chunk + (size_t)i * CH, CH, (off_t)i * CH);
        CHECK(aio_write(&cb[i]) == 0, "aio_write: %s", errname(errno));
    }
    ok = shorts = nospc = other = 0;
    accepted = 0;
    for (int i = 0; i < N; i++) {
        t_wait(&cb[i]);
        int e = aio_error(&cb[i]);
        ssize_t n = aio_return(&cb[i]);
        classify(e, n, &ok, &shorts, &nospc, &other);
        if (e == 0 && n > 0) {
            accepted += n;
            if (!check_file(fd2b, (off_t)i * CH, n)) other++;
        }
    }
    int rd_ok = 0;
    for (int i = 0; i < 8; i++) {
        t_wait(&rd[i]);
        if (aio_return(&rd[i]) == 65536 &&
            check_pat(rbuf + i * 65536, 65536, (uint64_t)i * (CH / 2) + 4096, 85) < 0) rd_ok++;
    }
    NOTE("concurrent: %d full, %d short, %d ENOSPC, %lld bytes", ok, shorts, nospc, accepted);
    OUT("concurrent: all completed, some ENOSPC: %s, accepted bytes fit: %s, other results: %d, reads in flight right: %d/8",
        ok + shorts + nospc == N && nospc > 0 ? "yes" : "no", accepted <= IMG ? "yes" : "no", other, rd_ok);
    CHECK(ok + shorts + nospc == N && nospc > 0 && ok > 0 && other == 0 && rd_ok == 8, "concurrent");
    CHECK(accepted <= IMG, "accepted %lld bytes", accepted);
    close(fd);
    close(fdb);
    close(fd2);
    close(fd2b);
    CHECK(umount(dir) == 0, "umount: %s", errname(errno));
    rmdir(dir);
    unlink(img);
    free(rbuf);
    free(chunk);
    free(got);
    return t_done();
}
