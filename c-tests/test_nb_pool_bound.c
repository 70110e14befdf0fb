/* KAIO_ONLY: kaio's thread pool is bounded by KAIO_THREADS. With
 * KAIO_THREADS=2, 32 cold buffered reads (page cache dropped, so
 * RWF_NOWAIT refuses them) all complete with correct data, and no more than
 * two "kaio-pool" threads ever exist (sampled from /proc/self/task while the
 * reads run). */
#include "harness.h"
#include <dirent.h>

static int pool_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[300], name[64] = "";
        snprintf(p, sizeof p, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(p, "r");
        if (f) {
            if (fgets(name, sizeof name, f) && strncmp(name, "kaio-pool", 9) == 0) n++;
            fclose(f);
        }
    }
    closedir(d);
    return n;
}

int main(void)
{
    setenv("KAIO_THREADS", "2", 1);
    t_init("test_nb_pool_bound", 60);
    const size_t sz = 32 << 20;
    const char *path = t_make_file(0, "poolb", sz, 17);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open");
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    static char bufs[32][65536];
    struct aiocb cbs[32];
    for (int i = 0; i < 32; i++) {
        t_cb(&cbs[i], fd, bufs[i], sizeof bufs[i], (off_t)i * (sz / 32));
        CHECK(aio_read(&cbs[i]) == 0, "aio_read %d", i);
    }
    int most = 0;
    for (int i = 0; i < 32; i++) {
        int n = pool_threads();
        if (n > most) most = n;
        t_wait(&cbs[i]);
    }
    int good = 0;
    for (int i = 0; i < 32; i++)
        if (aio_return(&cbs[i]) == 65536 && check_pat(bufs[i], 65536, (uint64_t)i * (sz / 32), 17) < 0) good++;
    OUT("reads verified: %d/32", good);
    NOTE("most pool threads seen: %d", most);
    CHECK(good == 32, "verified %d", good);
    CHECK(most <= 2, "%d pool threads with KAIO_THREADS=2", most);
    close(fd);
    unlink(path);
    return t_done();
}
