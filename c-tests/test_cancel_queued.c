/* Two reads on one empty pipe: the first waits for data, the second is
 * queued behind it (glibc: one fd's requests in order on one thread; kaio:
 * the fd's read lane). aio_cancel of the SECOND one → AIO_CANCELED,
 * aio_error ECANCELED, aio_return -1, and its SIGEV_THREAD notification runs
 * once; the first cannot be cancelled (AIO_NOTCANCELED is not asked here)
 * and completes with its data. */
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
    char b1[N], b2[N], chunk_a[N];
    memset(chunk_a, 'A', N);
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

    /* Both backends keep one pipe's reads in call order: the second waits
     * behind the first (glibc: per-fd queue; kaio: the fd's read lane). */
    int r = aio_cancel(p[0], &r2);
    OUT("aio_cancel(second read) = %s", r == AIO_CANCELED ? "AIO_CANCELED" : r == AIO_NOTCANCELED ? "AIO_NOTCANCELED" : "other");
    CHECK(r == AIO_CANCELED, "aio_cancel = %d, want AIO_CANCELED", r);
    OUT("first read: aio_error = %s", errname(aio_error(&r1)));
    CHECK(aio_error(&r1) == EINPROGRESS, "first read not in flight");
    int e = aio_error(&r2);
    ssize_t n = aio_return(&r2);
    OUT("cancelled read: aio_error = %s, aio_return = %zd", errname(e), n);
    CHECK(e == ECANCELED && n == -1, "cancelled read: %s %zd", errname(e), n);
    while (count(1) < 1) { struct timespec d = { 0, 1000000 }; nanosleep(&d, NULL); }
    /* Only the first read is left: give it its chunk. */
    CHECK(write(p[1], chunk_a, N) == N, "write");
    t_wait(&r1);
    CHECK(aio_error(&r1) == 0 && aio_return(&r1) == N && memcmp(b1, chunk_a, N) == 0,
          "first read result");
    OUT("first read: done, %d bytes", N);
    while (count(0) < 1) { struct timespec d = { 0, 1000000 }; nanosleep(&d, NULL); }
    struct timespec d = { 0, 50 * 1000 * 1000 };
    nanosleep(&d, NULL);
    OUT("notifications: first %d, second %d", count(0), count(1));
    CHECK(count(0) == 1 && count(1) == 1, "notifications %d %d", count(0), count(1));
    close(p[0]); close(p[1]);
    return t_done();
}
