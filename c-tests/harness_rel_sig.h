/* Helpers shared by test_rel_handler_waits and test_rel_siglongjmp (signals
 * that interrupt a thread blocked in aio_suspend).
 *
 * rs_long_*: a "long O_DIRECT read": RS_NF reads of 4 MiB of one file,
 * submitted together (~40-60 ms of disk time here); X is the last one. A
 * thread waiting in aio_suspend for X stays blocked that long, and on kaio,
 * with no notification or pipe request outstanding, that thread is the one
 * blocked in io_getevents for everyone (it holds the reap lock).
 *
 * rs_signaller: a thread that sends a signal to a target thread once that
 * thread is asleep in a timed wait: state 'S' in /proc/self/task/TID/stat and
 * /proc/self/task/TID/syscall showing io_getevents/io_pgetevents, or futex
 * with a timeout argument (aio_suspend with a timeout; glibc waits there
 * with __aio_requests_mutex released, while a mutex lock passes no timeout:
 * a handler that calls aio_* while its thread holds glibc's mutex would
 * deadlock on glibc, so that moment is never chosen). Seen twice 1 ms apart.
 */
#ifndef KAIO_HARNESS_REL_SIG_H
#define KAIO_HARNESS_REL_SIG_H

#include "harness.h"
#include <sys/syscall.h>

#define RS_NF 12                 /* reads in the long read */
#define RS_LEN (4u << 20)        /* bytes per read */

static inline double rs_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Async-signal-safe sleep. */
static inline void rs_sleep_ms(int ms)
{
    struct timespec d = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&d, &d) != 0 && errno == EINTR)
        ;
}

static inline pid_t rs_gettid(void) { return (pid_t)syscall(SYS_gettid); }

static inline int rs_read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    return 0;
}

/* 1 if thread `tid` of this process sleeps in a timed wait (see above). */
static inline int rs_blocked_in_wait(pid_t tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    if (rs_read_small(path, buf, sizeof buf) != 0) return 0;
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || p[2] != 'S') return 0;
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    if (rs_read_small(path, buf, sizeof buf) != 0) return 0;
    long nr = -1;
    unsigned long a[4] = { 0, 0, 0, 0 };
    int got = sscanf(buf, "%ld %lx %lx %lx %lx", &nr, &a[0], &a[1], &a[2], &a[3]);
    if (got < 1) return 0;
    if (nr == SYS_io_getevents || nr == SYS_io_pgetevents) return 1;
    if (nr == SYS_futex && got == 5 && a[3] != 0) return 1;
    return 0;
}

struct rs_signaller {
    pthread_t target;
    pid_t tid;
    int sig;
    volatile int *armed;     /* target set it right before aio_suspend */
    volatile int *returned;  /* target set it when aio_suspend returned */
    double give_up;          /* seconds */
    int sent;                /* out: 1 if the signal was sent */
    double waited;           /* out: seconds from armed to the signal */
    volatile int finished;   /* out: 1 once the signal was sent or given up */
    pthread_t th;
};

static void rs_signaller_run(struct rs_signaller *s)
{
    double t0 = rs_now();
    while (!__atomic_load_n(s->armed, __ATOMIC_ACQUIRE)) {
        if (rs_now() - t0 > s->give_up) return;
        rs_sleep_ms(1);
    }
    double t1 = rs_now();
    int seen = 0;
    while (!__atomic_load_n(s->returned, __ATOMIC_ACQUIRE) && rs_now() - t1 < s->give_up) {
        seen = rs_blocked_in_wait(s->tid) ? seen + 1 : 0;
        if (seen >= 2) {
            s->waited = rs_now() - t1;
            s->sent = 1;
            pthread_kill(s->target, s->sig);
            return;
        }
        struct timespec d = { 0, 1000 * 1000 };
        nanosleep(&d, NULL);
    }
}

static void *rs_signaller_main(void *arg)
{
    struct rs_signaller *s = arg;
    rs_signaller_run(s);
    __atomic_store_n(&s->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

static inline void rs_signaller_start(struct rs_signaller *s)
{
    s->sent = 0;
    s->waited = 0;
    s->finished = 0;
    if (pthread_create(&s->th, NULL, rs_signaller_main, s) != 0) {
        OUT("pthread_create failed");
        exit(1);
    }
}

static inline void rs_signaller_join(struct rs_signaller *s) { pthread_join(s->th, NULL); }

/* The long read: fillers into a scratch buffer, X (the last) into xbuf. */
struct rs_long {
    int fd;
    char *scratch, *xbuf;
    struct aiocb cb[RS_NF];
};

/* Open (O_DIRECT) `path`, whose first RS_LEN bytes hold pattern `seed`;
 * 0, or -1 if O_DIRECT is refused. */
static inline int rs_long_open(struct rs_long *l, const char *path)
{
    memset(l, 0, sizeof *l);
    l->fd = open(path, O_RDONLY | O_DIRECT);
    if (l->fd < 0) return -1;
    if (posix_memalign((void **)&l->scratch, 4096, RS_LEN) != 0 ||
        posix_memalign((void **)&l->xbuf, 4096, RS_LEN) != 0) {
        OUT("posix_memalign failed");
        exit(1);
    }
    return 0;
}

/* Only once every read of the long read has completed. */
static inline void rs_long_close(struct rs_long *l)
{
    close(l->fd);
    free(l->scratch);
    free(l->xbuf);
}

/* Submit the fillers and X; 0 or -1 (printed). */
static inline int rs_long_submit(struct rs_long *l)
{
    memset(l->xbuf, 0, RS_LEN);
    for (int i = 0; i < RS_NF; i++) {
        t_cb(&l->cb[i], l->fd, i == RS_NF - 1 ? l->xbuf : l->scratch, RS_LEN, 0);
        if (aio_read(&l->cb[i]) != 0) {
            OUT("aio_read (long read %d): %s", i, errname(errno));
            return -1;
        }
    }
    return 0;
}

static inline struct aiocb *rs_long_x(struct rs_long *l) { return &l->cb[RS_NF - 1]; }

/* Wait (aio_suspend with a timeout, until `deadline` on rs_now()) for cb. */
static inline int rs_wait_until(struct aiocb *cb, double deadline)
{
    const struct aiocb *lst[1] = { cb };
    while (aio_error(cb) == EINPROGRESS) {
        double left = deadline - rs_now();
        if (left <= 0) return -1;
        struct timespec to = { (time_t)left, (long)((left - (double)(time_t)left) * 1e9) };
        if (aio_suspend(lst, 1, &to) != 0 && errno != EINTR && errno != EAGAIN) {
            OUT("aio_suspend: %s", errname(errno));
            return -1;
        }
    }
    return 0;
}

/* Wait for every read of the long read; how many completed with RS_LEN. */
static inline int rs_long_wait_all(struct rs_long *l, double deadline)
{
    int good = 0;
    for (int i = 0; i < RS_NF; i++)
        if (rs_wait_until(&l->cb[i], deadline) == 0 && aio_error(&l->cb[i]) == 0 &&
            aio_return(&l->cb[i]) == (ssize_t)RS_LEN)
            good++;
    return good;
}

#endif
