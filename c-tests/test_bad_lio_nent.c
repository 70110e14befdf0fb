/* lio_listio with a huge nent (100000; glibc and kaio have no AIO_LISTIO_MAX:
 * sysconf gives -1): a list of only NULL entries or only LIO_NOP entries
 * returns 0 (LIO_WAIT and LIO_NOWAIT); a list of 100000 entries holding 1000
 * O_DIRECT reads (more than kaio's kernel ring: some wait for ring space)
 * scattered among NULLs and NOPs runs every read exactly once: LIO_WAIT
 * returns 0 with all data right; LIO_NOWAIT returns 0 and its list
 * notification comes once, after all of them. */
#include "harness.h"

#define N 100000
#define R 1000
#define SZ 4096

int main(void)
{
    t_init("test_bad_lio_nent", 60);
    const int SIG = SIGRTMIN + 6;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIG);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct aiocb **list = calloc(N, sizeof *list);
    struct aiocb *cbs = calloc(R, sizeof *cbs);
    char *data = NULL;
    CHECK(posix_memalign((void **)&data, 4096, (size_t)R * SZ) == 0, "memalign");
    CHECK(list && cbs && data, "calloc");
    struct aiocb nop;
    t_cb(&nop, -1, NULL, 0, 0);
    nop.aio_lio_opcode = LIO_NOP;

    for (int mode = 0; mode < 2; mode++) {
        int m = mode ? LIO_NOWAIT : LIO_WAIT;
        const char *mn = mode ? "LIO_NOWAIT" : "LIO_WAIT";
        memset(list, 0, N * sizeof *list);
        int r = lio_listio(m, list, N, NULL);
        OUT("%s, %d NULL entries: %d", mn, N, r);
        CHECK(r == 0, "%s", errname(errno));
        for (int i = 0; i < N; i++) list[i] = &nop;
        r = lio_listio(m, list, N, NULL);
        OUT("%s, %d LIO_NOP entries: %d", mn, N, r);
        CHECK(r == 0, "%s", errname(errno));
    }

    const char *path = t_make_file(0, "bad_lio_nent", (size_t)R * SZ, 77);
    int fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0) { unlink(path); T_SKIP("no O_DIRECT in %s", t_dir()); }
    for (int mode = 0; mode < 2; mode++) {
        for (int i = 0; i < N; i++) list[i] = (i % 3) ? &nop : NULL;
        memset(data, 0, (size_t)R * SZ);
        for (int k = 0; k < R; k++) {
            t_cb(&cbs[k], fd, data + (size_t)k * SZ, SZ, (off_t)k * SZ);
            cbs[k].aio_lio_opcode = LIO_READ;
            list[(size_t)k * (N / R) + (k % 7)] = &cbs[k];
        }
        struct sigevent sev;
        memset(&sev, 0, sizeof sev);
        sev.sigev_notify = SIGEV_SIGNAL;
        sev.sigev_signo = SIG;
        sev.sigev_value.sival_int = 4242;
        errno = 0;
        int r = lio_listio(mode ? LIO_NOWAIT : LIO_WAIT, list, N, mode ? &sev : NULL);
        int e = errno;
        OUT("%s, %d entries with %d reads: %d %s", mode ? "LIO_NOWAIT" : "LIO_WAIT", N, R, r,
            r ? errname(e) : "");
        CHECK(r == 0, "lio_listio: %s", errname(e));
        if (mode) {
            siginfo_t si;
            struct timespec ts = { 30, 0 };
            int s = sigtimedwait(&set, &si, &ts);
            int pending = 0;
            for (int k = 0; k < R; k++) if (aio_error(&cbs[k]) == EINPROGRESS) pending++;
            OUT("  list notification: %s, value %s; reads still in progress then: %d",
                s == SIG ? "yes" : "no", s == SIG && si.si_value.sival_int == 4242 ? "right" : "wrong",
                pending);
            CHECK(s == SIG && pending == 0, "notification %d, %d pending", s, pending);
            struct timespec zero = { 0, 0 };
            CHECK(sigtimedwait(&set, &si, &zero) < 0, "second notification");
        }
        int good = 0;
        for (int k = 0; k < R; k++) {
            t_wait(&cbs[k]);
            if (aio_error(&cbs[k]) == 0 && aio_return(&cbs[k]) == SZ &&
                check_pat(data + (size_t)k * SZ, SZ, (uint64_t)k * SZ, 77) < 0) good++;
        }
        OUT("  reads right: %d/%d", good, R);
        CHECK(good == R, "reads %d", good);
    }
    close(fd);
    unlink(path);
    free(list);
    free(cbs);
    free(data);
    return t_done();
}
