/* KAIO_ONLY: lio_listio with list NULL and nent > 0, or with nent < 0, fails
 * with -1/EINVAL (glibc dereferences NULL / misbehaves). Neither mode submits
 * anything or sends the list notification. */
#include "harness.h"

int main(void)
{
    t_init("test_lio_null_list", 30);
    const int SIG = SIGRTMIN + 4;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIG);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIG;

    /* volatile: glibc's <aio.h> declares the list nonnull. */
    struct aiocb *const *volatile nulllist = NULL;
    static const int modes[] = { LIO_WAIT, LIO_NOWAIT };
    for (int m = 0; m < 2; m++) {
        errno = 0;
        int r = lio_listio(modes[m], nulllist, 1, &sev);
        int e = errno;
        OUT("mode %d: lio_listio(NULL, 1) = %d %s", modes[m], r, errname(e));
        CHECK(r == -1 && e == EINVAL, "NULL list");
        errno = 0;
        r = lio_listio(modes[m], nulllist, 4, NULL);
        e = errno;
        OUT("mode %d: lio_listio(NULL, 4, no sigevent) = %d %s", modes[m], r, errname(e));
        CHECK(r == -1 && e == EINVAL, "NULL list");

        char buf[64];
        memset(buf, 0x42, sizeof buf);
        struct aiocb cb;
        t_cb(&cb, -1, buf, sizeof buf, 0);
        cb.aio_lio_opcode = LIO_READ;
        struct aiocb *list[1] = { &cb };
        errno = 0;
        r = lio_listio(modes[m], list, -1, &sev);
        e = errno;
        OUT("mode %d: lio_listio(list, -1) = %d %s", modes[m], r, errname(e));
        CHECK(r == -1 && e == EINVAL, "negative nent");
        errno = 0;
        r = lio_listio(modes[m], list, INT_MIN, &sev);
        e = errno;
        OUT("mode %d: lio_listio(list, INT_MIN) = %d %s", modes[m], r, errname(e));
        CHECK(r == -1 && e == EINVAL, "negative nent");
        OUT("mode %d: buffer untouched: %s", modes[m], buf[0] == 0x42 ? "yes" : "no");
    }
    /* Not part of the documented contract: diagnostics only. */
    errno = 0;
    int r0 = lio_listio(LIO_WAIT, nulllist, 0, NULL);
    NOTE("lio_listio(LIO_WAIT, NULL, 0) = %d %s", r0, errname(r0 ? errno : 0));

    struct timespec ts = { 0, 100000000 };
    siginfo_t si;
    int s = sigtimedwait(&set, &si, &ts);
    OUT("list notification sent: %s", s > 0 ? "yes" : "no");
    CHECK(s < 0, "a rejected call notified");
    return t_done();
}
