/* Two reads on one empty pipe: the first blocks, the second is behind it.
 * aio_cancel of the SECOND one differs by design (documented):
 *   glibc: one thread serves one fd's requests in order, so the second is
 *          still queued → AIO_CANCELED, aio_error ECANCELED, aio_return -1,
 *          and its SIGEV_THREAD notification runs once.
 *   kaio:  pipe requests each run on a kaio thread (blocking read) → both are
 *          already running → AIO_NOTCANCELED; both complete normally.
 * The first read is the process's first request (glibc: it is given a thread
 * at once, so it cannot be cancelled). Every request finishes cleanly. */
#include "harness.h"

#define N 16

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int notified[2];

static void on_done(union sigval v)
{
    pthread_mutex_lock(&mu);
    notified[v.sival_int]++;
    pthread_mutex_unlock(&mu);
}

static int count(int i)
{
    pthread_mutex_lock(&mu);
    int c = notified[i];
    pthread_mutex_unlock(&mu);
    return c;
}

int main(void)
{
    t_init("test_cancel_queued", 30);
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    char b1[N], b2[N], chunk_a[N], chunk_b[N];
    memset(chunk_a, 'A', N);
    memset(chunk_b, 'B', N);
    struct aiocb r1, r2;
    t_cb(&r1, p[0], b1, N, 0);
    t_cb(&r2, p[0], b2, N, 0);
    for (int i = 0; i < 2; i++) {
        struct aiocb *cb = i ? &r2 : &r1;
        cb->aio_sigevent.sigev_notify = SIGEV_THREAD;
        cb->aio_sigevent.sigev_notify_function = on_done;
        cb->aio_sigevent.sigev_value.sival_int = i;
    }
    CHECK(aio_read(&r1) == 0, "aio_read 1: %s", errname(errno));
    CHECK(aio_read(&r2) == 0, "aio_read 2: %s", errname(errno));

    int r = aio_cancel(p[0], &r2);
    int want = IS_KAIO ? AIO_NOTCANCELED : AIO_CANCELED;
    NOTE("aio_cancel(second read) = %d (%s expects %s)", r, IS_KAIO ? "kaio" : "glibc",
         IS_KAIO ? "AIO_NOTCANCELED" : "AIO_CANCELED");
    CHECK(r == want, "aio_cancel = %d, want %d", r, want);
    OUT("first read: aio_error = %s", errname(aio_error(&r1)));
    CHECK(aio_error(&r1) == EINPROGRESS, "first read not in flight");

    if (!IS_KAIO) {
        int e = aio_error(&r2);
        ssize_t n = aio_return(&r2);
        NOTE("glibc: cancelled read: aio_error = %s, aio_return = %zd", errname(e), n);
        CHECK(e == ECANCELED && n == -1, "cancelled read: %s %zd", errname(e), n);
        while (count(1) < 1) { struct timespec d = { 0, 1000000 }; nanosleep(&d, NULL); }
        /* Only the first read is left: give it its chunk. */
        CHECK(write(p[1], chunk_a, N) == N, "write");
        t_wait(&r1);
        CHECK(aio_error(&r1) == 0 && aio_return(&r1) == N && memcmp(b1, chunk_a, N) == 0,
              "first read result");
    } else {
        NOTE("kaio: second read: aio_error = %s", errname(aio_error(&r2)));
        CHECK(aio_error(&r2) == EINPROGRESS, "second read not in flight");
        /* Both are blocked in read(2): each N-byte write (atomic, < PIPE_BUF)
         * satisfies exactly one of them, in no particular order. */
        CHECK(write(p[1], chunk_a, N) == N, "write a");
        CHECK(write(p[1], chunk_b, N) == N, "write b");
        t_wait(&r1);
        t_wait(&r2);
        CHECK(aio_error(&r1) == 0 && aio_return(&r1) == N, "first read result");
        CHECK(aio_error(&r2) == 0 && aio_return(&r2) == N, "second read result");
        int ab = memcmp(b1, chunk_a, N) == 0 && memcmp(b2, chunk_b, N) == 0;
        int ba = memcmp(b1, chunk_b, N) == 0 && memcmp(b2, chunk_a, N) == 0;
        CHECK(ab || ba, "reads did not get one chunk each");
        while (count(1) < 1) { struct timespec d = { 0, 1000000 }; nanosleep(&d, NULL); }
    }
    OUT("first read: done, %d bytes", N);
    while (count(0) < 1) { struct timespec d = { 0, 1000000 }; nanosleep(&d, NULL); }
    struct timespec d = { 0, 50 * 1000 * 1000 };
    nanosleep(&d, NULL);
    OUT("notifications: first %d, second %d", count(0), count(1));
    CHECK(count(0) == 1 && count(1) == 1, "notifications %d %d", count(0), count(1));
    close(p[0]); close(p[1]);
    return t_done();
}
