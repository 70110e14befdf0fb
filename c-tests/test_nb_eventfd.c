/* An aio_read of 8 bytes on an eventfd whose count is 0 never blocks the
 * caller: it returns 0 at once, EINPROGRESS; the SAME thread then adds 5 to
 * the counter with write(), and the read completes with 8 bytes holding 5
 * (which resets the counter to 0). */
#include "harness.h"
#include <sys/eventfd.h>

int main(void)
{
    t_init("test_nb_eventfd", 30);
    int efd = eventfd(0, 0);
    CHECK(efd >= 0, "eventfd: %s", errname(errno));
    uint64_t v = 0;
    struct aiocb cb;
    t_cb(&cb, efd, &v, sizeof v, 0);
    int r = aio_read(&cb);
    int e = aio_error(&cb);
    OUT("aio_read(eventfd, count 0) = %d, aio_error = %s", r, errname(e));
    CHECK(r == 0 && e == EINPROGRESS, "%d %s", r, errname(e));
    uint64_t five = 5;
    CHECK(write(efd, &five, sizeof five) == 8, "write: %s", errname(errno));
    t_wait(&cb);
    e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("aio_error = %s, aio_return = %zd, value = %llu", errname(e), n, (unsigned long long)v);
    CHECK(e == 0 && n == 8 && v == 5, "%s %zd %llu", errname(e), n, (unsigned long long)v);
    /* The read consumed the count: a non-blocking read now finds nothing. */
    fcntl(efd, F_SETFL, O_NONBLOCK);
    uint64_t rest;
    ssize_t k = read(efd, &rest, sizeof rest);
    OUT("counter after: read = %zd (%s)", k, errname(k < 0 ? errno : 0));
    CHECK(k == -1 && errno == EAGAIN, "counter not consumed");
    close(efd);
    return t_done();
}
