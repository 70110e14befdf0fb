/* lio_listio with sigevents that can never be delivered (sigev_notify 99;
 * SIGEV_SIGNAL with signal 65 > SIGRTMAX). Documented difference (README,
 * "sigevent that can never be delivered"), asserted per backend:
 *  - the list's sigevent, LIO_NOWAIT: kaio -1/EINVAL and nothing is
 *    submitted (buffers untouched, aiocbs not in progress); glibc 0, the
 *    requests run, the list notification is lost.
 *  - the list's sigevent, LIO_WAIT: ignored by both (POSIX: sig is only used
 *    with LIO_NOWAIT): 0, requests done.
 *  - one entry's sigevent (sigev_notify 99), LIO_WAIT: kaio fails that entry
 *    (aio_error EINVAL, nothing read) so lio_listio is -1/EIO; glibc runs it
 *    (aio_error 0) and returns 0. The other entries succeed on both. */
#include "harness.h"

static int fd;
static char b[2][4096];
static struct aiocb cb[2];
static struct aiocb *list[2] = { &cb[0], &cb[1] };

static void setup(void)
{
    memset(b, 0x22, sizeof b);
    for (int k = 0; k < 2; k++) {
        t_cb(&cb[k], fd, b[k], 4096, (off_t)k * 4096);
        cb[k].aio_lio_opcode = LIO_READ;
    }
}

static int untouched(int k)
{
    for (int i = 0; i < 4096; i++) if (b[k][i] != 0x22) return 0;
    return 1;
}

static int read_ok(int k)
{
    return aio_error(&cb[k]) == 0 && aio_return(&cb[k]) == 4096 &&
           check_pat(b[k], 4096, (uint64_t)k * 4096, 75) < 0;
}

static void list_sig(const char *what, int notify, int signo)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = notify;
    sev.sigev_signo = signo;
    setup();
    errno = 0;
    int r = lio_listio(LIO_NOWAIT, list, 2, &sev);
    int e = errno;
    NOTE("list sigevent %s, LIO_NOWAIT: %d %s (%s)", what, r, r ? errname(e) : "",
         IS_KAIO ? "kaio: -1 EINVAL, nothing submitted" : "glibc: 0, notification lost");
    if (IS_KAIO) {
        usleep(20000);
        int idle = untouched(0) && untouched(1) && aio_error(&cb[0]) != EINPROGRESS &&
                   aio_error(&cb[1]) != EINPROGRESS;
        CHECK(r == -1 && e == EINVAL && idle, "%s: got %d %s, idle %d", what, r, errname(e), idle);
    } else {
        CHECK(r == 0, "%s: got %d %s", what, r, errname(e));
        t_wait(&cb[0]);
        t_wait(&cb[1]);
        CHECK(read_ok(0) && read_ok(1), "%s: reads", what);
    }
    OUT("list sigevent %s, LIO_NOWAIT: checked", what);

    setup();
    r = lio_listio(LIO_WAIT, list, 2, &sev);
    OUT("list sigevent %s, LIO_WAIT: %d, reads %s", what, r, read_ok(0) && read_ok(1) ? "ok" : "wrong");
    CHECK(r == 0 && read_ok(0) && read_ok(1), "%s LIO_WAIT", what);
}

int main(void)
{
    t_init("test_bad_lio_sigevent", 30);
    const char *path = t_make_file(0, "bad_lio_sigevent", 8192, 75);
    fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));
    list_sig("sigev_notify 99", 99, SIGRTMIN);
    list_sig("SIGEV_SIGNAL 65", SIGEV_SIGNAL, 65);

    setup();
    cb[0].aio_sigevent.sigev_notify = 99;
    errno = 0;
    int r = lio_listio(LIO_WAIT, list, 2, NULL);
    int e = errno;
    int e0 = aio_error(&cb[0]);
    NOTE("entry sigev_notify 99, LIO_WAIT: %d %s, entry %s (%s)", r, r ? errname(e) : "",
         errname(e0), IS_KAIO ? "kaio: -1 EIO, entry EINVAL" : "glibc: 0, entry done");
    if (IS_KAIO)
        CHECK(r == -1 && e == EIO && e0 == EINVAL && aio_return(&cb[0]) == -1 && untouched(0),
              "bad entry: %d %s %s", r, errname(e), errname(e0));
    else
        CHECK(r == 0 && read_ok(0), "bad entry: %d %s %s", r, errname(e), errname(e0));
    OUT("entry sigev_notify 99, LIO_WAIT: other entry %s", read_ok(1) ? "ok" : "wrong");
    CHECK(read_ok(1), "other entry");
    close(fd);
    unlink(path);
    return t_done();
}
