/* KAIO_ONLY (asserts kaio's counters): pipe requests never occupy a kaio
 * thread.
 *  1. aio_read on an EMPTY pipe waits for readiness with IOCB_CMD_POLL:
 *     counter "poll" grows by exactly 1, "thread" does not grow; the same
 *     thread then writes and the read completes with the bytes.
 *  2. aio_read on a pipe that already HOLDS data completes inside aio_read
 *     (non-blocking attempt): aio_error is 0 as soon as aio_read returns,
 *     "inline" grows by 1, "poll" and "thread" do not grow.
 *  3. aio_write to a pipe with room: likewise inline.
 *  4. aio_write to a FULL pipe: "poll" grows by 1, "thread" does not; the
 *     same thread drains the pipe and the write completes in order. */
#include "harness.h"

static unsigned long long (*counter)(const char *);
static unsigned long long c_poll, c_inline, c_thread;

static void snap(void)
{
    c_poll = counter("poll");
    c_inline = counter("inline");
    c_thread = counter("thread");
}

/* Growth of the three counters since snap(), as "poll+P inline+I thread+T". */
static void delta(const char *what, unsigned long long dp, unsigned long long di)
{
    unsigned long long p = counter("poll") - c_poll, i = counter("inline") - c_inline,
                       t = counter("thread") - c_thread;
    OUT("%s: poll +%llu, inline +%llu, thread +%llu", what, p, i, t);
    CHECK(p == dp && i == di && t == 0, "%s: want poll +%llu, inline +%llu, thread +0",
          what, dp, di);
}

int main(void)
{
    t_init("test_nb_pipe_poll_counters", 30);
    counter = (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
    CHECK(counter != NULL, "kaio_counter not found");
    if (!counter) return t_done();
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    char buf[256], msg[100];
    fill_pat(msg, sizeof msg, 0, 32);
    struct aiocb cb;

    /* 1. empty pipe: poll */
    snap();
    t_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    CHECK(aio_error(&cb) == EINPROGRESS, "empty pipe read not in progress");
    CHECK(write(p[1], msg, sizeof msg) == (ssize_t)sizeof msg, "write");
    t_wait(&cb);
    CHECK(aio_return(&cb) == (ssize_t)sizeof msg && memcmp(buf, msg, sizeof msg) == 0,
          "read result");
    delta("read empty pipe", 1, 0);

    /* 2. data already there: inline */
    CHECK(write(p[1], msg, sizeof msg) == (ssize_t)sizeof msg, "write");
    snap();
    memset(buf, 0, sizeof buf);
    t_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    int e = aio_error(&cb);
    OUT("read of a pipe holding data: aio_error right after aio_read = %s", errname(e));
    CHECK(e == 0, "not completed inside aio_read: %s", errname(e));
    t_wait(&cb);
    CHECK(aio_return(&cb) == (ssize_t)sizeof msg && memcmp(buf, msg, sizeof msg) == 0,
          "read result");
    delta("read pipe with data", 0, 1);

    /* 3. write with room: inline */
    snap();
    t_cb(&cb, p[1], msg, sizeof msg, 0);
    CHECK(aio_write(&cb) == 0, "aio_write: %s", errname(errno));
    e = aio_error(&cb);
    OUT("write to a pipe with room: aio_error right after aio_write = %s", errname(e));
    CHECK(e == 0, "not completed inside aio_write: %s", errname(e));
    t_wait(&cb);
    CHECK(aio_return(&cb) == (ssize_t)sizeof msg, "write result");
    CHECK(read(p[0], buf, sizeof buf) == (ssize_t)sizeof msg && memcmp(buf, msg, sizeof msg) == 0,
          "written bytes");
    delta("write pipe with room", 0, 1);

    /* 4. full pipe: poll */
    int fl = fcntl(p[1], F_GETFL);
    fcntl(p[1], F_SETFL, fl | O_NONBLOCK);
    static char fill[4096];
    memset(fill, 'f', sizeof fill);
    size_t filled = 0;
    ssize_t w;
    while ((w = write(p[1], fill, sizeof fill)) > 0) filled += w;
    while ((w = write(p[1], fill, 1)) > 0) filled += w;
    fcntl(p[1], F_SETFL, fl);
    snap();
    t_cb(&cb, p[1], msg, sizeof msg, 0);
    CHECK(aio_write(&cb) == 0, "aio_write: %s", errname(errno));
    CHECK(aio_error(&cb) == EINPROGRESS, "write to full pipe not in progress");
    static char drain[1 << 20];
    size_t got = 0;
    while (got < filled) {
        ssize_t r = read(p[0], drain, filled - got < sizeof drain ? filled - got : sizeof drain);
        if (r <= 0) break;
        got += r;
    }
    t_wait(&cb);
    CHECK(aio_return(&cb) == (ssize_t)sizeof msg, "write result %zd", aio_return(&cb));
    CHECK(read(p[0], buf, sizeof buf) == (ssize_t)sizeof msg && memcmp(buf, msg, sizeof msg) == 0,
          "written bytes");
    delta("write full pipe", 1, 0);
    NOTE("kaio counters: poll %llu, inline %llu, thread %llu", counter("poll"),
         counter("inline"), counter("thread"));
    close(p[0]);
    close(p[1]);
    return t_done();
}
