/* KAIO_ONLY: kaio holds an aio_fsync until every file write submitted before
 * it has completed (the kernel's IOCB_CMD_FSYNC would not wait), and a held
 * fsync can be cancelled: AIO_CANCELED, aio_error ECANCELED, aio_return -1,
 * its SIGEV_THREAD notification runs exactly once. Setup: 32 × 1 MiB
 * O_DIRECT writes (tens of milliseconds of device time), then aio_fsync and
 * aio_cancel at once. On a loaded machine the writes could finish first, so
 * up to 8 rounds are tried; every round must be consistent (a fsync that was
 * not cancelled completes normally, notified once) and at least one round
 * must observe the cancel. Pipe writes never hold an fsync (they may never
 * finish), which the last part checks. */
#include "harness.h"

#define NW 32
#define WSZ (1 << 20)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int fired;

static void on_fsync(union sigval v)
{
    pthread_mutex_lock(&mu);
    fired += v.sival_int;
    pthread_mutex_unlock(&mu);
}

static int nfired(void)
{
    pthread_mutex_lock(&mu);
    int c = fired;
    pthread_mutex_unlock(&mu);
    return c;
}

static void wait_fired(int n)
{
    for (int i = 0; i < 5000 && nfired() < n; i++) {
        struct timespec d = { 0, 1000000 };
        nanosleep(&d, NULL);
    }
}

int main(void)
{
    t_init("test_cancel_held_fsync", 60);
    char path[512];
    snprintf(path, sizeof path, "%s/held_fsync.%d", t_dir(), (int)getpid());
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_DIRECT, 0644);
    if (fd < 0 && errno == EINVAL) T_SKIP("no O_DIRECT here");
    CHECK(fd >= 0, "open: %s", errname(errno));
    char *buf = NULL;
    CHECK(posix_memalign((void **)&buf, 4096, WSZ) == 0, "memalign");
    memset(buf, 'w', WSZ);
    static struct aiocb w[NW];
    struct aiocb s;
    int cancelled = 0, rounds = 0;
    for (; rounds < 8 && !cancelled; rounds++) {
        for (int i = 0; i < NW; i++) {
            t_cb(&w[i], fd, buf, WSZ, (off_t)i * WSZ);
            CHECK(aio_write(&w[i]) == 0, "aio_write %d: %s", i, errname(errno));
        }
        t_cb(&s, fd, NULL, 0, 0);
        s.aio_sigevent.sigev_notify = SIGEV_THREAD;
        s.aio_sigevent.sigev_notify_function = on_fsync;
        s.aio_sigevent.sigev_value.sival_int = 1;
        int before = nfired();
        CHECK(aio_fsync(O_SYNC, &s) == 0, "aio_fsync: %s", errname(errno));
        int r = aio_cancel(fd, &s);
        if (r == AIO_CANCELED) {
            cancelled = 1;
            CHECK(aio_error(&s) == ECANCELED, "cancelled fsync: aio_error %s", errname(aio_error(&s)));
            CHECK(aio_return(&s) == -1, "cancelled fsync: aio_return");
        } else {
            CHECK(r == AIO_NOTCANCELED || r == AIO_ALLDONE, "aio_cancel = %d", r);
            t_wait(&s);
            CHECK(aio_error(&s) == 0 && aio_return(&s) == 0, "fsync result %s", errname(aio_error(&s)));
        }
        wait_fired(before + 1);
        CHECK(nfired() == before + 1, "fsync notified %d times", nfired() - before);
        for (int i = 0; i < NW; i++) {
            t_wait(&w[i]);
            CHECK(aio_error(&w[i]) == 0 && aio_return(&w[i]) == WSZ, "write %d", i);
        }
    }
    NOTE("cancel observed after %d round(s)", rounds);
    OUT("held fsync cancelled: %s", cancelled ? "yes" : "no");
    CHECK(cancelled, "no round saw the fsync held");

    /* A write stuck on a full pipe does not hold an fsync of a file. */
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
    char junk[4096];
    memset(junk, 'j', sizeof junk);
    size_t filled = 0;
    ssize_t w1;
    while ((w1 = write(p[1], junk, sizeof junk)) > 0)
        filled += (size_t)w1;
    fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) & ~O_NONBLOCK);
    struct aiocb pw;
    t_cb(&pw, p[1], junk, sizeof junk, 0);
    CHECK(aio_write(&pw) == 0, "pipe aio_write");
    t_cb(&s, fd, NULL, 0, 0);
    CHECK(aio_fsync(O_DSYNC, &s) == 0, "aio_fsync");
    t_wait(&s);
    OUT("fsync with a pipe write pending: %s", errname(aio_error(&s)));
    CHECK(aio_error(&pw) == EINPROGRESS, "pipe write finished early");
    /* Read exactly the filler plus the aio_write's bytes: the write's data
     * reaches the pipe a moment before aio_error reports it done, so
     * "read while in progress" could wait forever for bytes already read. */
    char sink[65536];
    size_t want = filled + sizeof junk, got = 0;
    while (got < want) {
        ssize_t n = read(p[0], sink, sizeof sink);
        if (n <= 0) break;
        got += (size_t)n;
    }
    CHECK(got == want, "pipe gave %zu of %zu bytes", got, want);
    t_wait(&pw);
    CHECK(aio_return(&pw) == (ssize_t)sizeof junk, "pipe write result");
    close(p[0]);
    close(p[1]);
    close(fd);
    unlink(path);
    free(buf);
    return t_done();
}
