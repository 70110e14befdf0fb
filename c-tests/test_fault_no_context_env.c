/* KAIO_ONLY: io_setup refused, simulated without using up the system-wide
 * pool: the test holds one 1-event kernel context of its own and sets
 * KAIO_MAX_EVENTS=65536, so kaio's io_setup asks for more than is left of
 * /proc/sys/fs/aio-max-nr (65536 by default; skipped if larger) and fails
 * with EAGAIN. Unlike test_nb_no_context, which holds the whole pool for a
 * moment (other processes' io_setup fails meanwhile), this takes one event
 * slot from other processes. Everything must still work on kaio's threads,
 * with exactly one completion and notification per request: 16 O_DIRECT
 * writes then reads of distinct blocks (data verified), a 16-read
 * lio_listio(LIO_WAIT), an aio_fsync after writes, a pipe read woken by a
 * write, and a pipe read cancelled (AIO_CANCELED or AIO_NOTCANCELED; it
 * completes either way). Counters: no_context > 0, kernel == 0. */
#include "harness.h"
#include <linux/aio_abi.h>
#include <sys/syscall.h>

#define NB 16

int main(void)
{
    t_init("test_fault_no_context_env", 60);
    FILE *f = fopen("/proc/sys/fs/aio-max-nr", "r");
    unsigned long maxnr = 0;
    if (!f || fscanf(f, "%lu", &maxnr) != 1) T_SKIP("cannot read aio-max-nr");
    fclose(f);
    if (maxnr > 65536) T_SKIP("aio-max-nr %lu: kaio's io_setup(65536) could succeed", maxnr);
    aio_context_t held = 0;
    if (syscall(SYS_io_setup, 1, &held) != 0) T_SKIP("io_setup(1): %s", errname(errno));
    setenv("KAIO_MAX_EVENTS", "65536", 1); /* read by kaio on first use */
    unsigned long long (*counter)(const char *) =
        (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
    CHECK(counter != NULL, "kaio_counter");
    if (!counter) return t_done();
    const int SIG = SIGRTMIN + 8;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIG);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    const char *path = t_make_file(0, "noctx_env", NB * 8192, 87);
    int fd = open(path, O_RDWR | O_DIRECT);
    if (fd < 0) { unlink(path); T_SKIP("no O_DIRECT in %s", t_dir()); }
    char *buf = NULL;
    CHECK(posix_memalign((void **)&buf, 4096, 2 * NB * 4096) == 0, "memalign");
    struct aiocb cb[NB];
    fill_pat(buf, NB * 4096, 1 << 30, 88);
    for (int i = 0; i < NB; i++) {
        t_cb(&cb[i], fd, buf + i * 4096, 4096, (off_t)i * 8192);
        cb[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        cb[i].aio_sigevent.sigev_signo = SIG;
        cb[i].aio_sigevent.sigev_value.sival_int = i;
        CHECK(aio_write(&cb[i]) == 0, "aio_write: %s", errname(errno));
    }
    struct aiocb fs;
    t_cb(&fs, fd, NULL, 0, 0);
    CHECK(aio_fsync(O_DSYNC, &fs) == 0, "aio_fsync: %s", errname(errno));
    int wrote = 0, notes[NB] = { 0 }, nn = 0;
    for (int i = 0; i < NB; i++) {
        t_wait(&cb[i]);
        wrote += aio_error(&cb[i]) == 0 && aio_return(&cb[i]) == 4096;
    }
    t_wait(&fs);
    siginfo_t si;
    struct timespec ts = { 10, 0 }, zero = { 0, 0 };
    while (nn < NB && sigtimedwait(&set, &si, &ts) == SIG) {
        if (si.si_value.sival_int >= 0 && si.si_value.sival_int < NB) notes[si.si_value.sival_int]++;
        nn++;
    }
    int extra = sigtimedwait(&set, &si, &zero) == SIG;
    int once = 0;
    for (int i = 0; i < NB; i++) once += notes[i] == 1;
    OUT("writes %d/%d, fsync %s, notified exactly once %d/%d, extra %d", wrote, NB,
        errname(aio_error(&fs)), once, NB, extra);
    CHECK(wrote == NB && aio_error(&fs) == 0 && once == NB && !extra, "writes");

    struct aiocb *list[NB];
    char *rb = buf + NB * 4096;
    for (int i = 0; i < NB; i++) {
        t_cb(&cb[i], fd, rb + i * 4096, 4096, (off_t)i * 8192);
        cb[i].aio_lio_opcode = LIO_READ;
        list[i] = &cb[i];
    }
    int r = lio_listio(LIO_WAIT, list, NB, NULL);
    int good = 0;
    for (int i = 0; i < NB; i++)
        good += aio_return(&cb[i]) == 4096 &&
                check_pat(rb + i * 4096, 4096, (1 << 30) + (uint64_t)i * 4096, 88) < 0;
    OUT("lio_listio(LIO_WAIT) = %d, reads right %d/%d", r, good, NB);
    CHECK(r == 0 && good == NB, "reads");

    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    char c1 = 0, c2 = 0;
    struct aiocb pr1, pr2;
    t_cb(&pr1, p[0], &c1, 1, 0);
    t_cb(&pr2, p[0], &c2, 1, 0);
    CHECK(aio_read(&pr1) == 0 && aio_read(&pr2) == 0, "pipe aio_read: %s", errname(errno));
    int cr = aio_cancel(p[0], &pr2);
    NOTE("aio_cancel of the second pipe read: %d", cr);
    CHECK(cr == AIO_CANCELED || cr == AIO_NOTCANCELED, "aio_cancel = %d", cr);
    CHECK(write(p[1], "ab", 2) == 2, "write");
    t_wait(&pr1);
    t_wait(&pr2);
    int e2 = aio_error(&pr2);
    OUT("pipe read: %zd '%c'; cancelled read finished: %s", aio_return(&pr1), c1,
        e2 == ECANCELED || (e2 == 0 && c2 == 'b') ? "yes" : "no");
    CHECK(aio_return(&pr1) == 1 && c1 == 'a', "pipe read");
    CHECK(e2 == ECANCELED || (e2 == 0 && aio_return(&pr2) == 1 && c2 == 'b'), "second read %s", errname(e2));

    unsigned long long nc = counter("no_context"), kern = counter("kernel");
    NOTE("no_context %llu, thread %llu, kernel %llu", nc, counter("thread"), kern);
    OUT("served without a kernel context: %s", nc > 0 && kern == 0 ? "yes" : "no");
    CHECK(nc > 0 && kern == 0, "no_context %llu kernel %llu", nc, kern);
    syscall(SYS_io_destroy, held);
    close(p[0]);
    close(p[1]);
    close(fd);
    free(buf);
    unlink(path);
    return t_done();
}
