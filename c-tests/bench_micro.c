/* kaio micro-benchmark: per-request cost of the POSIX AIO calls, without fio.
 *
 * Built twice by mk/bench.mk (plain glibc, and -DKAIO_LINKED -lkaio), run by
 * bench/run.py on both. Not a test (the name does not start with test_).
 *
 *   bench_micro FILE [--quick]
 *
 * FILE: a large file (>= 64 MiB; bench/run.py passes its 1 GiB read file) on a
 * real disk (O_DIRECT must work). Measures, printing one Markdown table:
 *   1. time spent inside aio_read (submission) and from before aio_read to
 *      aio_suspend's return (total), 4 KiB at random offsets, for
 *      a. page-cache hits (a warm 64 MiB region),
 *      b. cold buffered reads (posix_fadvise DONTNEED on the block before each),
 *      c. O_DIRECT reads;
 *   2. completion-to-aio_suspend-return: one thread blocks in aio_suspend on
 *      an aio_read of a pipe; another takes a timestamp and writes it into the
 *      pipe; the latency is from that timestamp to aio_suspend's return;
 *   3. requests/second (and whole-process CPU per request, getrusage
 *      RUSAGE_SELF: every thread) with 1, 32 and 256 O_DIRECT 4 KiB random
 *      reads kept in flight, reaped with aio_suspend + aio_error/aio_return.
 * Rows: | measurement | unit | median | p99 | n |. bench/run.py parses them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#ifdef KAIO_LINKED
#include <kaio.h>
#else
#include <aio.h>
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BS 4096
#define WARM_REGION (64ull << 20)

static int quick;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_micro: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Print a row: median and p99 of `n` nanosecond samples, in µs. */
static void row_lat(const char *name, uint64_t *s, size_t n)
{
    if (n == 0) {
        printf("| %s | µs | - | - | 0 |\n", name);
        return;
    }
    qsort(s, n, sizeof *s, cmp_u64);
    size_t i99 = (size_t)((double)n * 0.99);
    if (i99 >= n) i99 = n - 1;
    printf("| %s | µs | %.2f | %.2f | %zu |\n", name, s[n / 2] / 1000.0, s[i99] / 1000.0, n);
    fflush(stdout);
}

static void wait_one(struct aiocb *cb)
{
    const struct aiocb *l[1] = { cb };
    while (aio_error(cb) == EINPROGRESS)
        if (aio_suspend(l, 1, NULL) != 0 && errno != EINTR) die("aio_suspend");
}

static void cb_init(struct aiocb *cb, int fd, void *buf, size_t len, off_t off)
{
    memset(cb, 0, sizeof *cb);
    cb->aio_fildes = fd;
    cb->aio_buf = buf;
    cb->aio_nbytes = len;
    cb->aio_offset = off;
    cb->aio_sigevent.sigev_notify = SIGEV_NONE;
}

enum mode { PAGECACHE, COLD, DIRECT };

/* 1. Submission (time inside aio_read) and total (to aio_suspend's return). */
static void bench_submit(const char *path, off_t fsize, enum mode m, int iters)
{
    int fd = open(path, O_RDONLY | (m == DIRECT ? O_DIRECT : 0));
    if (fd < 0) die("open");
    void *buf;
    if (posix_memalign(&buf, BS, BS)) die("posix_memalign");
    off_t span = m == PAGECACHE ? (off_t)WARM_REGION : fsize;
    if (m == PAGECACHE) { /* warm the region */
        char *tmp = malloc(1 << 20);
        for (off_t o = 0; o < span; o += 1 << 20)
            if (pread(fd, tmp, 1 << 20, o) < 0) die("pread");
        free(tmp);
    }
    if (m == COLD) posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    int warmup = iters / 20 + 10;
    uint64_t *sub = calloc(iters, sizeof *sub), *tot = calloc(iters, sizeof *tot);
    struct aiocb cb;
    for (int i = -warmup; i < iters; i++) {
        off_t off = (off_t)(rnd() % (uint64_t)(span / BS)) * BS;
        if (m == COLD) posix_fadvise(fd, off, BS, POSIX_FADV_DONTNEED);
        cb_init(&cb, fd, buf, BS, off);
        uint64_t t0 = now_ns();
        if (aio_read(&cb) != 0) die("aio_read");
        uint64_t t1 = now_ns();
        wait_one(&cb);
        uint64_t t2 = now_ns();
        if (aio_return(&cb) != BS) { errno = aio_error(&cb); die("aio_return"); }
        if (i >= 0) { sub[i] = t1 - t0; tot[i] = t2 - t0; }
    }
    static const char *names[] = { "page-cache hit", "cold buffered", "O_DIRECT" };
    char name[96];
    snprintf(name, sizeof name, "aio_read submit, %s", names[m]);
    row_lat(name, sub, iters);
    snprintf(name, sizeof name, "aio_read to aio_suspend return, %s", names[m]);
    row_lat(name, tot, iters);
    free(sub);
    free(tot);
    free(buf);
    close(fd);
}

/* 2. Completion to aio_suspend return, through a pipe. */
static int pipefd[2];
static atomic_int ready; /* 1: the waiter is about to call aio_suspend */
static atomic_int stop;

static void *writer(void *arg)
{
    (void)arg;
    for (;;) {
        while (!atomic_load(&ready) && !atomic_load(&stop)) sched_yield();
        if (atomic_load(&stop)) return NULL;
        atomic_store(&ready, 0);
        /* Let the waiter get into aio_suspend and fall asleep. */
        struct timespec d = { 0, 200000 };
        nanosleep(&d, NULL);
        uint64_t t = now_ns();
        if (write(pipefd[1], &t, sizeof t) != sizeof t) die("write pipe");
    }
}

static void bench_wakeup(int iters)
{
    if (pipe(pipefd)) die("pipe");
    pthread_t th;
    if (pthread_create(&th, NULL, writer, NULL)) die("pthread_create");
    uint64_t *lat = calloc(iters, sizeof *lat);
    int warmup = 20;
    uint64_t stamp;
    struct aiocb cb;
    for (int i = -warmup; i < iters; i++) {
        cb_init(&cb, pipefd[0], &stamp, sizeof stamp, 0);
        if (aio_read(&cb) != 0) die("aio_read pipe");
        const struct aiocb *l[1] = { &cb };
        atomic_store(&ready, 1);
        while (aio_suspend(l, 1, NULL) != 0)
            if (errno != EINTR) die("aio_suspend pipe");
        uint64_t t1 = now_ns();
        if (aio_error(&cb) != 0 || aio_return(&cb) != sizeof stamp) die("pipe read");
        if (i >= 0) lat[i] = t1 - stamp;
    }
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    row_lat("completion to aio_suspend return (pipe)", lat, iters);
    free(lat);
    close(pipefd[0]);
    close(pipefd[1]);
}

/* 3. Requests per second with `depth` O_DIRECT reads in flight. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void bench_depth(const char *path, off_t fsize, int depth, double seconds)
{
    int fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0) die("open O_DIRECT");
    struct aiocb *cbs = calloc(depth, sizeof *cbs);
    const struct aiocb **list = calloc(depth, sizeof *list);
    char *bufs;
    if (posix_memalign((void **)&bufs, BS, (size_t)depth * BS)) die("posix_memalign");
    uint64_t blocks = (uint64_t)(fsize / BS);
    for (int i = 0; i < depth; i++) {
        cb_init(&cbs[i], fd, bufs + (size_t)i * BS, BS, (off_t)(rnd() % blocks) * BS);
        list[i] = &cbs[i];
        if (aio_read(&cbs[i]) != 0) die("aio_read");
    }
    uint64_t done = 0, t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
    double c0 = cpu_s();
    uint64_t t = t0;
    while (t < end) {
        while (aio_suspend(list, depth, NULL) != 0)
            if (errno != EINTR) die("aio_suspend");
        for (int i = 0; i < depth; i++) {
            if (aio_error(&cbs[i]) == EINPROGRESS) continue;
            if (aio_return(&cbs[i]) != BS) { errno = aio_error(&cbs[i]); die("read"); }
            done++;
            cbs[i].aio_offset = (off_t)(rnd() % blocks) * BS;
            if (aio_read(&cbs[i]) != 0) die("aio_read");
        }
        t = now_ns();
    }
    double el = (t - t0) / 1e9, cpu = cpu_s() - c0;
    for (int i = 0; i < depth; i++) { /* drain */
        wait_one(&cbs[i]);
        (void)aio_return(&cbs[i]);
    }
    printf("| requests/s, %d in flight (O_DIRECT 4 KiB) | req/s | %.0f | - | %llu |\n", depth,
           done / el, (unsigned long long)done);
    printf("| CPU per request, %d in flight | µs | %.2f | - | %llu |\n", depth,
           done ? cpu * 1e6 / done : 0.0, (unsigned long long)done);
    fflush(stdout);
    free(bufs);
    free(list);
    free(cbs);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [--quick]\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    quick = argc > 2 && strcmp(argv[2], "--quick") == 0;
    struct stat st;
    if (stat(path, &st)) die(path);
    if ((uint64_t)st.st_size < WARM_REGION) {
        fprintf(stderr, "bench_micro: %s is smaller than 64 MiB\n", path);
        return 2;
    }
    rng ^= (uint64_t)getpid() << 17;

    void *sym = dlsym(RTLD_DEFAULT, "aio_read");
    Dl_info di;
    memset(&di, 0, sizeof di);
    int is_kaio = sym && dladdr(sym, &di) && di.dli_fname && strstr(di.dli_fname, "libkaio");
    printf("backend: %s (aio_read from %s)\n\n", is_kaio ? "kaio" : "glibc",
           di.dli_fname ? di.dli_fname : "?");
    printf("| measurement | unit | median | p99 | n |\n|---|---|---:|---:|---:|\n");
    fflush(stdout);

    int q = quick ? 5 : 1;
    bench_submit(path, st.st_size, PAGECACHE, 20000 / q);
    bench_submit(path, st.st_size, COLD, 2000 / q);
    bench_submit(path, st.st_size, DIRECT, 4000 / q);
    bench_wakeup(2000 / q);
    double secs = quick ? 0.5 : 2.5;
    bench_depth(path, st.st_size, 1, secs);
    bench_depth(path, st.st_size, 32, secs);
    bench_depth(path, st.st_size, 256, secs);

    if (is_kaio) {
        unsigned long long (*counter)(const char *) =
            (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
        if (counter)
            printf("\nkaio counters: submitted %llu, kernel %llu, thread %llu\n",
                   counter("submitted"), counter("kernel"), counter("thread"));
    }
    return 0;
}
