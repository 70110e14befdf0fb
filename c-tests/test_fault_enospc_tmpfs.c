/* Disk full on a 2 MiB tmpfs (mounted in a private mount namespace, so it
 * disappears with the process whatever happens; skipped without the
 * privilege to mount). tmpfs has no O_DIRECT: buffered writes.
 *  - 48 sequential 64 KiB aio_writes (each waited for): the first ones
 *    succeed in full, then at most one short write, then every later one
 *    fails with aio_error ENOSPC / aio_return -1; the data that was accepted
 *    reads back right; aio_fsync then completes with 0.
 *  - 48 concurrent 64 KiB aio_writes to a second file: every one completes
 *    (full, short or ENOSPC, nothing else), at least one fails, the bytes
 *    accepted fit in the file system, each accepted range reads back right;
 *    a read of the first file in flight meanwhile is unaffected. */
#include "harness.h"
#include <sched.h>
#include <sys/mount.h>

#define CH 65536
#define N 48

static char *chunk;

static int check_file(int fd, off_t off, ssize_t n)
{
    char *got = malloc(CH);
    int ok = pread(fd, got, (size_t)n, off) == n && check_pat(got, (size_t)n, (uint64_t)off, 83) < 0;
    free(got);
    return ok;
}

int main(void)
{
    /* Before any thread exists: unshare(CLONE_NEWNS) needs that. */
    if (unshare(CLONE_NEWNS) != 0) T_SKIP("unshare(CLONE_NEWNS): %s", errname(errno));
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) T_SKIP("make-rprivate: %s", errname(errno));
    t_init("test_fault_enospc_tmpfs", 60);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/enospc_tmpfs.%d", t_dir(), (int)getpid());
    CHECK(mkdir(dir, 0755) == 0, "mkdir: %s", errname(errno));
    if (mount("kaio-test", dir, "tmpfs", 0, "size=2m") != 0) {
        rmdir(dir);
        T_SKIP("mount tmpfs: %s", errname(errno));
    }
    chunk = malloc((size_t)N * CH);
    fill_pat(chunk, (size_t)N * CH, 0, 83);
    char p1[600], p2[600];
    snprintf(p1, sizeof p1, "%s/seq", dir);
    snprintf(p2, sizeof p2, "%s/par", dir);
    int fd = open(p1, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "open: %s", errname(errno));

    struct aiocb cb[N];
    int ok = 0, shorts = 0, nospc = 0, other = 0, out_of_order = 0;
    long long accepted = 0;
    for (int i = 0; i < N; i++) {
        t_cb(&cb[i], fd, chunk + (size_t)i * CH, CH, (off_t)i * CH);
        CHECK(aio_write(&cb[i]) == 0, "aio_write: %s", errname(errno));
        t_wait(&cb[i]);
        int e = aio_error(&cb[i]);
        ssize_t n = aio_return(&cb[i]);
        if (e == 0 && n == CH) { ok++; if (shorts || nospc) out_of_order++; }
        else if (e == 0 && n > 0 && n < CH) { shorts++; if (nospc) out_of_order++; }
        else if (e == ENOSPC && n == -1) nospc++;
        else other++;
        if (e == 0 && n > 0) {
            accepted += n;
            if (!check_file(fd, (off_t)i * CH, n)) other++;
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

    /* Free most of it, then race 48 writes for the space. */
    CHECK(ftruncate(fd, CH) == 0, "ftruncate");
    int fd2 = open(p2, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd2 >= 0, "open: %s", errname(errno));
    char *rbuf = malloc(CH);
    struct aiocb rd;
    t_cb(&rd, fd, rbuf, CH, 0);
    CHECK(aio_read(&rd) == 0, "aio_read: %s", errname(errno));
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
        if (e == 0 && n == CH) ok++;
        else if (e == 0 && n > 0 && n < CH) shorts++;
        else if (e == ENOSPC && n == -1) nospc++;
        else other++;
        if (e == 0 && n > 0) {
            accepted += n;
            if (!check_file(fd2, (off_t)i * CH, n)) other++;
        }
    }
    t_wait(&rd);
    int rd_ok = aio_return(&rd) == CH && check_pat(rbuf, CH, 0, 83) < 0;
    NOTE("concurrent: %d full, %d short, %d ENOSPC, %lld bytes", ok, shorts, nospc, accepted);
    OUT("concurrent: all completed, some ENOSPC: %s, accepted bytes fit: %s, other results: %d, read in flight: %s",
        ok + shorts + nospc == N && nospc > 0 ? "yes" : "no", accepted <= 2 * 1024 * 1024 ? "yes" : "no",
        other, rd_ok ? "right" : "wrong");
    CHECK(ok + shorts + nospc == N && nospc > 0 && ok > 0 && other == 0 && rd_ok, "concurrent");
    CHECK(accepted <= 2 * 1024 * 1024, "accepted %lld bytes", accepted);
    close(fd);
    close(fd2);
    free(rbuf);
    free(chunk);
    CHECK(umount(dir) == 0, "umount: %s", errname(errno));
    rmdir(dir);
    return t_done();
}
