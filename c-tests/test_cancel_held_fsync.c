/* KAIO_ONLY: kaio holds an aio_fsync while any write submitted before it (on
 * ANY fd: the barrier is process-wide) is in flight, and a held request can
 * be cancelled. Setup: fill a pipe, then aio_write to it (blocks: stays in
 * flight); then aio_fsync(O_SYNC) on a regular file, with a SIGEV_THREAD
 * notification. aio_cancel(file_fd, &fsync) → AIO_CANCELED, aio_error
 * ECANCELED, aio_return -1, notification runs exactly once. Draining the pipe
 * then lets the write complete with its data. (On glibc the fsync does not
 * wait for another fd's write, so it would be done or running.) */
#include "harness.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int fired;
static int fired_val;

static void on_fsync(union sigval v)
{
    pthread_mutex_lock(&mu);
    fired++;
    fired_val = v.sival_int;
    pthread_mutex_unlock(&mu);
}

static int nfired(void)
{
    pthread_mutex_lock(&mu);
    int c = fired;
    pthread_mutex_unlock(&mu);
    return c;
}

int main(void)
{
    t_init("test_cancel_held_fsync", 30);
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    int fl = fcntl(p[1], F_GETFL);
    fcntl(p[1], F_SETFL, fl | O_NONBLOCK);
    char junk[4096];
    memset(junk, 'j', sizeof junk);
    size_t filled = 0;
    for (;;) {
        ssize_t w = write(p[1], junk, sizeof junk);
        if (w > 0) { filled += (size_t)w; continue; }
        CHECK(w == -1 && errno == EAGAIN, "fill: %s", errname(errno));
        break;
    }
    fcntl(p[1], F_SETFL, fl);
    NOTE("pipe filled with %zu bytes", filled);

    char wbuf[4096];
    fill_pat(wbuf, sizeof wbuf, 0, 41);
    struct aiocb w;
    t_cb(&w, p[1], wbuf, sizeof wbuf, 0);
    CHECK(aio_write(&w) == 0, "aio_write pipe: %s", errname(errno));

    const char *path = t_make_file(0, "cancel_held", 4096, 42);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open: %s", errname(errno));
    struct aiocb s;
    t_cb(&s, fd, NULL, 0, 0);
    s.aio_sigevent.sigev_notify = SIGEV_THREAD;
    s.aio_sigevent.sigev_notify_function = on_fsync;
    s.aio_sigevent.sigev_value.sival_int = 77;
    CHECK(aio_fsync(O_SYNC, &s) == 0, "aio_fsync: %s", errname(errno));

    OUT("pipe write: %s, fsync: %s", errname(aio_error(&w)), errname(aio_error(&s)));
    CHECK(aio_error(&w) == EINPROGRESS, "pipe write not in flight");
    CHECK(aio_error(&s) == EINPROGRESS, "fsync not held");

    int r = aio_cancel(fd, &s);
    OUT("aio_cancel(file fd, held fsync) = %s", r == AIO_CANCELED ? "AIO_CANCELED"
        : r == AIO_NOTCANCELED ? "AIO_NOTCANCELED" : r == AIO_ALLDONE ? "AIO_ALLDONE" : "other");
    CHECK(r == AIO_CANCELED, "got %d (%s)", r, errname(errno));
    int e = aio_error(&s);
    ssize_t n = aio_return(&s);
    OUT("fsync: aio_error = %s, aio_return = %zd", errname(e), n);
    CHECK(e == ECANCELED && n == -1, "fsync result %s %zd", errname(e), n);
    while (nfired() < 1) { struct timespec d = { 0, 1000000 }; nanosleep(&d, NULL); }

    /* Drain: the filler, then the aio_write's bytes. */
    char *rb = malloc(filled + sizeof wbuf);
    size_t got = 0;
    while (got < filled + sizeof wbuf) {
        ssize_t k = read(p[0], rb + got, filled + sizeof wbuf - got);
        if (k <= 0) { CHECK(0, "read: %zd %s", k, errname(errno)); break; }
        got += (size_t)k;
    }
    t_wait(&w);
    e = aio_error(&w);
    n = aio_return(&w);
    OUT("pipe write: aio_error = %s, aio_return = %zd", errname(e), n);
    CHECK(e == 0 && n == (ssize_t)sizeof wbuf, "write result");
    CHECK(got == filled + sizeof wbuf && check_pat(rb + filled, sizeof wbuf, 0, 41) == -1,
          "pipe data");
    struct timespec d = { 0, 50 * 1000 * 1000 };
    nanosleep(&d, NULL);
    OUT("fsync notifications = %d, value = %d", nfired(), fired_val);
    CHECK(nfired() == 1 && fired_val == 77, "fired %d value %d", nfired(), fired_val);
    r = aio_cancel(fd, NULL);
    OUT("aio_cancel(file fd, NULL) after = %s", r == AIO_ALLDONE ? "AIO_ALLDONE" : "other");
    CHECK(r == AIO_ALLDONE, "got %d", r);
    free(rb);
    close(fd); close(p[0]); close(p[1]);
    unlink(path);
    return t_done();
}
