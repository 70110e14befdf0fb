/* lio_listio entries with an opcode that is not LIO_READ, LIO_WRITE or
 * LIO_NOP (99, -1, 5, 127, 130 — values glibc does not use internally
 * either): that entry completes with aio_error EINVAL, aio_return -1 and does
 * nothing; the other entries run normally. LIO_WAIT returns -1/EIO; LIO_NOWAIT
 * returns 0 and the list notification comes once, after every entry, the bad
 * one included. An entry with aio_reqprio 21 (out of 0..20) is refused when
 * queued: aio_error EINVAL, not run; the others run; LIO_WAIT returns -1/EIO,
 * LIO_NOWAIT -1/EINVAL (glibc reports the failed enqueue's errno). */
#include "harness.h"

int main(void)
{
    t_init("test_bad_lio_opcode", 30);
    const int SIG = SIGRTMIN + 5;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIG);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    const char *path = t_make_file(0, "bad_lio_opcode", 16384, 73);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open: %s", errname(errno));
    static const int bad[] = { 99, -1, 5, 127, 130 };
    for (int mode = 0; mode < 2; mode++)
        for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            static char b[3][4096];
            memset(b, 0x11, sizeof b);
            struct aiocb cb[3];
            struct aiocb *list[3];
            for (int k = 0; k < 3; k++) {
                t_cb(&cb[k], fd, b[k], 4096, (off_t)k * 4096);
                cb[k].aio_lio_opcode = LIO_READ;
                list[k] = &cb[k];
            }
            cb[1].aio_lio_opcode = bad[i];
            struct sigevent sev;
            memset(&sev, 0, sizeof sev);
            sev.sigev_notify = SIGEV_SIGNAL;
            sev.sigev_signo = SIG;
            sev.sigev_value.sival_int = 100 + (int)i;
            int m = mode ? LIO_NOWAIT : LIO_WAIT;
            errno = 0;
            int r = lio_listio(m, list, 3, mode ? &sev : NULL);
            int e = errno;
            OUT("%s, opcode %d: lio_listio = %d %s", mode ? "LIO_NOWAIT" : "LIO_WAIT", bad[i], r,
                r ? errname(e) : "");
            if (mode) CHECK(r == 0, "LIO_NOWAIT: %s", errname(e));
            else CHECK(r == -1 && e == EIO, "LIO_WAIT: want -1 EIO");
            for (int k = 0; k < 3; k++) t_wait(&cb[k]);
            int e1 = aio_error(&cb[1]);
            ssize_t n1 = aio_return(&cb[1]);
            int good = aio_error(&cb[0]) == 0 && aio_return(&cb[0]) == 4096 &&
                       aio_error(&cb[2]) == 0 && aio_return(&cb[2]) == 4096 &&
                       check_pat(b[0], 4096, 0, 73) < 0 && check_pat(b[2], 4096, 8192, 73) < 0;
            int untouched = 1;
            for (int k = 0; k < 4096; k++) if (b[1][k] != 0x11) untouched = 0;
            OUT("  bad entry: aio_error = %s, aio_return = %zd, buffer untouched: %s; others: %s",
                errname(e1), n1, untouched ? "yes" : "no", good ? "ok" : "wrong");
            CHECK(e1 == EINVAL && n1 == -1 && untouched && good, "entries");
            if (mode) {
                siginfo_t si;
                struct timespec ts = { 10, 0 };
                int s = sigtimedwait(&set, &si, &ts);
                struct timespec zero = { 0, 0 };
                int again = sigtimedwait(&set, &si, &zero);
                OUT("  list notification: %s, value %s, second: %s", s == SIG ? "yes" : "no",
                    s == SIG && si.si_value.sival_int == 100 + (int)i ? "right" : "wrong",
                    again == SIG ? "yes" : "no");
                CHECK(s == SIG && si.si_value.sival_int == 100 + (int)i && again < 0, "notification");
            }
        }
    for (int mode = 0; mode < 2; mode++) {
        static char b[3][4096];
        memset(b, 0x11, sizeof b);
        struct aiocb cb[3];
        struct aiocb *list[3];
        for (int k = 0; k < 3; k++) {
            t_cb(&cb[k], fd, b[k], 4096, (off_t)k * 4096);
            cb[k].aio_lio_opcode = LIO_READ;
            list[k] = &cb[k];
        }
        cb[1].aio_reqprio = 21;
        errno = 0;
        int r = lio_listio(mode ? LIO_NOWAIT : LIO_WAIT, list, 3, NULL);
        int e = errno;
        t_wait(&cb[0]);
        t_wait(&cb[2]);
        int untouched = 1;
        for (int k = 0; k < 4096; k++) if (b[1][k] != 0x11) untouched = 0;
        int good = aio_return(&cb[0]) == 4096 && aio_return(&cb[2]) == 4096 &&
                   check_pat(b[0], 4096, 0, 73) < 0 && check_pat(b[2], 4096, 8192, 73) < 0;
        OUT("%s, entry with aio_reqprio 21: lio_listio = %d %s; entry %s, untouched %s; others %s",
            mode ? "LIO_NOWAIT" : "LIO_WAIT", r, r ? errname(e) : "", errname(aio_error(&cb[1])),
            untouched ? "yes" : "no", good ? "ok" : "wrong");
        CHECK(r == -1 && e == (mode ? EINVAL : EIO), "lio_listio %d %s", r, errname(e));
        CHECK(aio_error(&cb[1]) == EINVAL && untouched && good, "entries");
    }
    close(fd);
    unlink(path);
    return t_done();
}
