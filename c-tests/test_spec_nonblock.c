/* Descriptors that already say "would block". POSIX aio_read: the error
 * status of a queued request is "one of the error statuses normally set by
 * the read() function call" (aio_write: by write()), and for an O_NONBLOCK
 * descriptor read()/write() "shall return -1 and set errno to [EAGAIN]"
 * instead of blocking. glibc's worker calls read()/write() and completes the
 * request with exactly that, at once. Cases (each must complete within 1 s;
 * if it does not, the test gives it what it waits for, so it can end, and
 * reports it):
 *   - aio_read of an empty pipe opened O_NONBLOCK (pipe2): -1/EAGAIN;
 *   - the same with O_NONBLOCK set later with fcntl(F_SETFL);
 *   - aio_write to a full O_NONBLOCK pipe: -1/EAGAIN, nothing written;
 *   - aio_read of an empty O_NONBLOCK socket (socketpair, SOCK_NONBLOCK) and
 *     of an eventfd created EFD_NONBLOCK whose count is 0: -1/EAGAIN;
 *   - and, as a control, an O_NONBLOCK pipe that holds 3 bytes: 3. */
#include "harness.h"
#include <sys/eventfd.h>
#include <sys/socket.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Wait up to 1 s; if still in progress, call unstick() and wait again (so
 * the test can end) and return 0; else print the result and return 1. */
static int finish(const char *name, struct aiocb *cb, void (*unstick)(void *), void *arg)
{
    const struct aiocb *l[1] = { cb };
    double t0 = now_s();
    while (aio_error(cb) == EINPROGRESS && now_s() - t0 < 1.0) {
        struct timespec slice = { 0, 50 * 1000 * 1000 };
        (void)aio_suspend(l, 1, &slice);
    }
    int stuck = aio_error(cb) == EINPROGRESS;
    OUT("%s: completed within a second: %s", name, stuck ? "no" : "yes");
    CHECK(!stuck, "%s: still EINPROGRESS after 1 s (the descriptor would block: want EAGAIN)", name);
    if (stuck) {
        unstick(arg);
        t_wait(cb);
        NOTE("%s: after unsticking: aio_error %s, aio_return %zd", name, errname(aio_error(cb)),
             aio_return(cb));
        return 0;
    }
    int e = aio_error(cb);
    ssize_t n = aio_return(cb);
    OUT("%s: aio_error %s, aio_return %zd", name, errname(e), n);
    return 1;
}

static void feed(void *arg) { (void)!write(*(int *)arg, "x", 1); }
static void drain(void *arg)
{
    char b[65536];
    while (read(*(int *)arg, b, sizeof b) > 0) {}
}
static void bump(void *arg)
{
    uint64_t one = 1;
    (void)!write(*(int *)arg, &one, sizeof one);
}

int main(void)
{
    t_init("test_spec_nonblock", 10);
    int p[2];

    CHECK(pipe2(p, O_NONBLOCK) == 0, "pipe2");
    {
        char b[64];
        struct aiocb cb;
        t_cb(&cb, p[0], b, sizeof b, 0);
        CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
        int ok = finish("empty O_NONBLOCK pipe (pipe2)", &cb, feed, &p[1]);
        int e = aio_error(&cb);
        CHECK(!ok || e == EAGAIN, "empty O_NONBLOCK pipe: aio_error %s, want EAGAIN", errname(e));
    }
    close(p[0]); close(p[1]);

    CHECK(pipe(p) == 0, "pipe");
    CHECK(fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK) == 0, "F_SETFL");
    {
        char b[64];
        struct aiocb cb;
        t_cb(&cb, p[0], b, sizeof b, 0);
        CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
        int ok = finish("empty pipe, O_NONBLOCK by F_SETFL", &cb, feed, &p[1]);
        int e = aio_error(&cb);
        CHECK(!ok || e == EAGAIN, "F_SETFL pipe: aio_error %s, want EAGAIN", errname(e));
    }
    close(p[0]); close(p[1]);

    CHECK(pipe2(p, O_NONBLOCK) == 0, "pipe2");
    {
        (void)fcntl(p[1], F_SETPIPE_SZ, 4096);
        static char fill[65536];
        ssize_t filled = 0, n;
        while ((n = write(p[1], fill, sizeof fill)) > 0) filled += n;
        CHECK(errno == EAGAIN, "fill: %s", errname(errno));
        char b[100];
        memset(b, 'w', sizeof b);
        struct aiocb cb;
        t_cb(&cb, p[1], b, sizeof b, 0);
        CHECK(aio_write(&cb) == 0, "aio_write: %s", errname(errno));
        int ok = finish("full O_NONBLOCK pipe, aio_write", &cb, drain, &p[0]);
        int e = aio_error(&cb);
        CHECK(!ok || e == EAGAIN, "full pipe: aio_error %s, want EAGAIN", errname(e));
        if (ok && e == EAGAIN) {
            ssize_t got = 0;
            while ((n = read(p[0], fill, sizeof fill)) > 0) got += n;
            OUT("full O_NONBLOCK pipe: bytes in the pipe afterwards = the filler: %s",
                got == filled ? "yes" : "no");
            CHECK(got == filled, "pipe holds %zd, filler %zd", got, filled);
        }
    }
    close(p[0]); close(p[1]);

    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0, "socketpair");
    {
        char b[64];
        struct aiocb cb;
        t_cb(&cb, sv[0], b, sizeof b, 0);
        CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
        int ok = finish("empty O_NONBLOCK socket", &cb, feed, &sv[1]);
        int e = aio_error(&cb);
        CHECK(!ok || e == EAGAIN, "socket: aio_error %s, want EAGAIN", errname(e));
    }
    close(sv[0]); close(sv[1]);

    int efd = eventfd(0, EFD_NONBLOCK);
    CHECK(efd >= 0, "eventfd");
    {
        uint64_t v = 0;
        struct aiocb cb;
        t_cb(&cb, efd, &v, sizeof v, 0);
        CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
        int ok = finish("eventfd EFD_NONBLOCK, count 0", &cb, bump, &efd);
        int e = aio_error(&cb);
        CHECK(!ok || e == EAGAIN, "eventfd: aio_error %s, want EAGAIN", errname(e));
    }
    close(efd);

    CHECK(pipe2(p, O_NONBLOCK) == 0, "pipe2");
    CHECK(write(p[1], "abc", 3) == 3, "write");
    {
        char b[64];
        struct aiocb cb;
        t_cb(&cb, p[0], b, sizeof b, 0);
        CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
        finish("O_NONBLOCK pipe holding 3 bytes", &cb, feed, &p[1]);
        CHECK(aio_error(&cb) == 0, "control: %s", errname(aio_error(&cb)));
    }
    close(p[0]); close(p[1]);
    return t_done();
}
