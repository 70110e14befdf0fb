/* An aio_read on an empty pipe never blocks the caller: it returns 0 at
 * once and the request stays EINPROGRESS; the SAME thread then write()s
 * 100 bytes to the pipe, and the read completes with exactly those bytes.
 * (If aio_read blocked waiting for data, the write would never happen and
 * the watchdog would fail the test.) kaio's counters are only NOTEd here;
 * test_nb_pipe_poll_counters asserts which path kaio took. */
#include "harness.h"

int main(void)
{
    t_init("test_nb_pipe_read", 30);
    unsigned long long (*counter)(const char *) =
        (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    char buf[256], msg[100];
    memset(buf, 0, sizeof buf);
    fill_pat(msg, sizeof msg, 0, 31);
    struct aiocb cb;
    t_cb(&cb, p[0], buf, sizeof buf, 0);
    int r = aio_read(&cb);
    OUT("aio_read(empty pipe) = %d", r);
    CHECK(r == 0, "aio_read: %s", errname(errno));
    int e = aio_error(&cb);
    OUT("aio_error = %s", errname(e));
    CHECK(e == EINPROGRESS, "aio_error %s", errname(e));

    ssize_t w = write(p[1], msg, sizeof msg);
    OUT("write(pipe, 100) = %zd", w);
    CHECK(w == (ssize_t)sizeof msg, "write: %s", errname(errno));
    t_wait(&cb);
    e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("aio_error = %s, aio_return = %zd", errname(e), n);
    CHECK(e == 0 && n == (ssize_t)sizeof msg, "result %s %zd", errname(e), n);
    CHECK(memcmp(buf, msg, sizeof msg) == 0, "bytes differ");
    OUT("cksum %08x", cksum(buf, sizeof msg));
    if (IS_KAIO && counter)
        NOTE("kaio counters: poll %llu, inline %llu, thread %llu, kernel %llu",
             counter("poll"), counter("inline"), counter("thread"), counter("kernel"));
    close(p[0]);
    close(p[1]);
    return t_done();
}
