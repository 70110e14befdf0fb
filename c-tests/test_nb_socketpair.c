/* An aio_read on an empty AF_UNIX stream socket never blocks the caller:
 * it returns 0 at once, EINPROGRESS; the SAME thread then write()s 100
 * bytes from the other end and the read completes with them. Both
 * directions of one socketpair, one after the other, then both at once. */
#include "harness.h"
#include <sys/socket.h>

static void one_way(int from, int to, const char *name, unsigned seed)
{
    char buf[256], msg[100];
    memset(buf, 0, sizeof buf);
    fill_pat(msg, sizeof msg, 0, seed);
    struct aiocb cb;
    t_cb(&cb, to, buf, sizeof buf, 0);
    int r = aio_read(&cb);
    int e = aio_error(&cb);
    OUT("%s: aio_read = %d, aio_error = %s", name, r, errname(e));
    CHECK(r == 0 && e == EINPROGRESS, "%s: %d %s", name, r, errname(e));
    CHECK(write(from, msg, sizeof msg) == (ssize_t)sizeof msg, "write: %s", errname(errno));
    t_wait(&cb);
    e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("%s: aio_error = %s, aio_return = %zd, cksum %08x", name, errname(e), n,
        cksum(buf, n > 0 ? (size_t)n : 0));
    CHECK(e == 0 && n == (ssize_t)sizeof msg && memcmp(buf, msg, sizeof msg) == 0,
          "%s: result %s %zd", name, errname(e), n);
}

int main(void)
{
    t_init("test_nb_socketpair", 30);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair: %s", errname(errno));
    one_way(sv[1], sv[0], "0<-1", 41);
    one_way(sv[0], sv[1], "1<-0", 42);

    /* Both ends waiting at once. */
    char b0[64], b1[64];
    struct aiocb c0, c1;
    t_cb(&c0, sv[0], b0, sizeof b0, 0);
    t_cb(&c1, sv[1], b1, sizeof b1, 0);
    CHECK(aio_read(&c0) == 0 && aio_read(&c1) == 0, "aio_read: %s", errname(errno));
    OUT("both: aio_error = %s, %s", errname(aio_error(&c0)), errname(aio_error(&c1)));
    CHECK(aio_error(&c0) == EINPROGRESS && aio_error(&c1) == EINPROGRESS, "not in progress");
    CHECK(write(sv[0], "to-one", 6) == 6, "write");
    t_wait(&c1);
    OUT("end 1 got %zd bytes: %.6s; end 0 still %s", aio_return(&c1), b1,
        errname(aio_error(&c0)));
    CHECK(aio_return(&c1) == 6 && memcmp(b1, "to-one", 6) == 0, "end 1 data");
    CHECK(aio_error(&c0) == EINPROGRESS, "end 0 completed without data");
    CHECK(write(sv[1], "to-zero", 7) == 7, "write");
    t_wait(&c0);
    OUT("end 0 got %zd bytes: %.7s", aio_return(&c0), b0);
    CHECK(aio_return(&c0) == 7 && memcmp(b0, "to-zero", 7) == 0, "end 0 data");
    close(sv[0]);
    close(sv[1]);
    return t_done();
}
