/* kaio C test harness.
 *
 * Every test in c-tests/ is built twice and run three ways by run.sh:
 *   glibc    plain glibc build                     (KAIO_TEST_EXPECT=glibc)
 *   linked   built with -DKAIO_LINKED, -lkaio      (KAIO_TEST_EXPECT=kaio)
 *   preload  glibc build + LD_PRELOAD=libkaio.so   (KAIO_TEST_EXPECT=kaio)
 * A test prints a transcript with OUT(): return values, errno names,
 * checksums, notifications. The transcripts of the three runs must be
 * identical. Lines from NOTE() start with '#' and are not compared (use them
 * only for documented kaio-vs-glibc differences and diagnostics).
 * CHECK() asserts what a user would observe; any failure makes the run fail.
 * Exit: 0 pass, 1 fail, 77 skip (T_SKIP).
 */
#ifndef KAIO_TEST_HARNESS_H
#define KAIO_TEST_HARNESS_H

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
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static int t_failures;
/* 1 when kaio serves the aio_* calls, 0 on glibc. */
static int IS_KAIO;
static const char *t_name = "?";

#define OUT(...) do { printf(__VA_ARGS__); printf("\n"); fflush(stdout); } while (0)
#define NOTE(...) do { printf("# "); printf(__VA_ARGS__); printf("\n"); fflush(stdout); } while (0)
#define CHECK(cond, ...) do { if (!(cond)) { t_failures++; \
    printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); printf(__VA_ARGS__); \
    printf("\n"); fflush(stdout); } } while (0)
#define T_SKIP(...) do { printf("# SKIP: "); printf(__VA_ARGS__); printf("\n"); \
    fflush(stdout); exit(77); } while (0)

/* "EINVAL", "EINPROGRESS", ... or "0". */
static inline const char *errname(int e)
{
    if (e == 0) return "0";
    const char *n = strerrorname_np(e);
    static char buf[32];
    if (!n) { snprintf(buf, sizeof buf, "E%d", e); return buf; }
    return n;
}

static void t_watchdog(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: watchdog: test hung\n";
    (void)!write(1, msg, sizeof msg - 1);
    _exit(3);
}

/* Where test files go: $KAIO_TEST_DIR (a real disk, for O_DIRECT) or ".". */
static inline const char *t_dir(void)
{
    const char *d = getenv("KAIO_TEST_DIR");
    return d && *d ? d : ".";
}

/* Start a test: watchdog, backend detection and the check that the backend
 * is the one run.sh asked for (proof that kaio, not glibc, served it). */
static inline void t_init(const char *name, unsigned watchdog_seconds)
{
    t_name = name;
    signal(SIGALRM, t_watchdog);
    alarm(watchdog_seconds ? watchdog_seconds : 30);
    void *sym = dlsym(RTLD_DEFAULT, "aio_read");
    Dl_info di;
    memset(&di, 0, sizeof di);
    if (sym && dladdr(sym, &di) && di.dli_fname && strstr(di.dli_fname, "libkaio"))
        IS_KAIO = 1;
    NOTE("test %s, backend %s (%s)", name, IS_KAIO ? "kaio" : "glibc",
         di.dli_fname ? di.dli_fname : "?");
    const char *want = getenv("KAIO_TEST_EXPECT");
    if (want && *want) {
        int want_kaio = strcmp(want, "kaio") == 0;
        CHECK(want_kaio == IS_KAIO, "expected backend %s", want);
    }
}

/* Finish: print kaio's counters (proof it served the calls), exit code. */
static inline int t_done(void)
{
    if (IS_KAIO) {
        unsigned long long (*counter)(const char *) =
            (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
        if (counter)
            NOTE("kaio served: %llu submitted, %llu completed",
                 counter("submitted"), counter("completed"));
    }
    if (t_failures) OUT("RESULT %s: %d check(s) failed", t_name, t_failures);
    return t_failures ? 1 : 0;
}

/* Deterministic content: byte at file offset `off` for seed `seed`. */
static inline unsigned char pat(uint64_t off, unsigned seed)
{
    uint64_t x = off * 0x9E3779B97F4A7C15ull + seed * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return (unsigned char)(x ^ (x >> 17));
}

static inline void fill_pat(void *buf, size_t len, uint64_t off, unsigned seed)
{
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) p[i] = pat(off + i, seed);
}

/* Offset of the first byte of `buf` that differs from the pattern, or -1. */
static inline long check_pat(const void *buf, size_t len, uint64_t off, unsigned seed)
{
    const unsigned char *p = buf;
    for (size_t i = 0; i < len; i++)
        if (p[i] != pat(off + i, seed)) return (long)i;
    return -1;
}

/* FNV-1a checksum, for transcripts. */
static inline uint32_t cksum(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) { h ^= p[i]; h *= 16777619u; }
    return h;
}

/* Create (truncate) file t_dir()/name of `size` bytes of pattern `seed`;
 * returns its path in a static buffer (one at a time per slot 0..3). */
static inline const char *t_make_file(int slot, const char *name, size_t size, unsigned seed)
{
    static char paths[4][512];
    char *path = paths[slot & 3];
    snprintf(path, 512, "%s/%s.%d", t_dir(), name, (int)getpid());
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0) { perror(path); exit(1); }
    char *buf = malloc(1 << 20);
    for (size_t done = 0; done < size;) {
        size_t n = size - done < (1u << 20) ? size - done : (1u << 20);
        fill_pat(buf, n, done, seed);
        if (write(fd, buf, n) != (ssize_t)n) { perror("write"); exit(1); }
        done += n;
    }
    free(buf);
    close(fd);
    return path;
}

/* A zeroed aiocb for fd/buf/len/off with SIGEV_NONE. */
static inline void t_cb(struct aiocb *cb, int fd, void *buf, size_t len, off_t off)
{
    memset(cb, 0, sizeof *cb);
    cb->aio_fildes = fd;
    cb->aio_buf = buf;
    cb->aio_nbytes = len;
    cb->aio_offset = off;
    cb->aio_sigevent.sigev_notify = SIGEV_NONE;
}

/* Wait for one request with aio_suspend (no timeout), retrying EINTR. */
static inline void t_wait(struct aiocb *cb)
{
    const struct aiocb *l[1] = { cb };
    while (aio_error(cb) == EINPROGRESS)
        if (aio_suspend(l, 1, NULL) != 0 && errno != EINTR) {
            OUT("aio_suspend failed: %s", errname(errno));
            exit(1);
        }
}

#endif
