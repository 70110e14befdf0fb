/* Sigevents that can never be delivered. Documented difference:
 *   kaio rejects them at submission: -1/EINVAL, nothing queued;
 *   glibc accepts them (0) and loses the notification; for SIGEV_SIGNAL
 *   with a bad signo its failed sigqueue turns the (done) request into
 *   aio_error EINVAL / aio_return -1; the other cases complete normally.
 * Cases: sigev_notify 99; SIGEV_SIGNAL with signo 65 and -1; SIGEV_THREAD_ID
 * with signo 0; SIGEV_THREAD with a NULL function (kaio only: glibc would
 * call NULL in its notification thread and crash). For aio_read, aio_write
 * and aio_fsync. On glibc every accepted request is waited for. */
#include "harness.h"
#include <sys/syscall.h>

#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

static int fd;
static char rbuf[4096], wbuf[4096];

static void one(const char *what, int op, int notify, int signo)
{
    struct aiocb cb;
    t_cb(&cb, fd, op == 1 ? wbuf : rbuf, 4096, 0);
    cb.aio_sigevent.sigev_notify = notify;
    cb.aio_sigevent.sigev_signo = signo;
    if (notify == SIGEV_THREAD_ID) cb.aio_sigevent._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    if (notify == SIGEV_THREAD) cb.aio_sigevent.sigev_notify_function = NULL;
    const char *opname = op == 0 ? "aio_read" : op == 1 ? "aio_write" : "aio_fsync";
    errno = 0;
    int r = op == 0 ? aio_read(&cb) : op == 1 ? aio_write(&cb) : aio_fsync(O_SYNC, &cb);
    int err = errno;
    NOTE("%s, %s: %d %s (%s expects %s)", what, opname, r, r ? errname(err) : "",
         IS_KAIO ? "kaio" : "glibc", IS_KAIO ? "-1 EINVAL" : "0");
    if (notify != SIGEV_THREAD) /* that case runs on kaio only */
        OUT("%s, %s: checked", what, opname);
    if (IS_KAIO) {
        CHECK(r == -1 && err == EINVAL, "%s %s: got %d %s", what, opname, r, errname(err));
        if (r == 0) t_wait(&cb);
    } else {
        CHECK(r == 0, "%s %s: got %d %s", what, opname, r, errname(err));
        if (r != 0) return;
        t_wait(&cb);
        int e = aio_error(&cb);
        ssize_t n = aio_return(&cb);
        int bad_signal = notify == SIGEV_SIGNAL;
        NOTE("glibc: %s %s: aio_error %s, aio_return %zd", what, opname, errname(e), n);
        if (bad_signal)
            CHECK(e == EINVAL && n == -1, "%s %s: %s %zd", what, opname, errname(e), n);
        else
            CHECK(e == 0 && n == (op == 2 ? 0 : 4096), "%s %s: %s %zd", what, opname,
                  errname(e), n);
    }
}

int main(void)
{
    t_init("test_notify_invalid", 30);
    const char *path = t_make_file(0, "notify_invalid", 4096, 17);
    fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open: %s", errname(errno));
    fill_pat(wbuf, sizeof wbuf, 0, 17);
    for (int op = 0; op < 3; op++) {
        one("sigev_notify 99", op, 99, SIGRTMIN);
        one("SIGEV_SIGNAL signo 65", op, SIGEV_SIGNAL, 65);
        one("SIGEV_SIGNAL signo -1", op, SIGEV_SIGNAL, -1);
        one("SIGEV_THREAD_ID signo 0", op, SIGEV_THREAD_ID, 0);
        if (IS_KAIO)
            one("SIGEV_THREAD NULL function", op, SIGEV_THREAD, 0);
        else
            NOTE("glibc: SIGEV_THREAD with NULL function not tried (it crashes)");
    }
    /* A valid request afterwards works and the file is intact. */
    struct aiocb cb;
    t_cb(&cb, fd, rbuf, 4096, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
    t_wait(&cb);
    ssize_t n = aio_return(&cb);
    OUT("final read: %zd, cksum %08x", n, cksum(rbuf, sizeof rbuf));
    CHECK(n == 4096 && check_pat(rbuf, sizeof rbuf, 0, 17) == -1, "final read");
    close(fd);
    unlink(path);
    return t_done();
}
