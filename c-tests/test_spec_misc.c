/* Smaller "shall"s of the POSIX AIO pages that no other test checks:
 *  1. aio_read/aio_write: "The aiocbp->aio_lio_opcode field shall be ignored"
 *     (set to 99 and to LIO_NOP: the transfer still happens);
 *  2. "the requested operation takes place at the absolute position in the
 *     file as given by aio_offset, as if lseek() were called immediately
 *     prior" (the file offset is moved elsewhere first; without O_APPEND);
 *  3. aio_fsync: "All other members of the structure referenced by aiocbp
 *     are ignored" (aio_buf NULL, aio_nbytes SIZE_MAX, aio_offset -1,
 *     aio_lio_opcode 99: accepted, completes with 0);
 *  4. lio_listio: "If the mode argument is LIO_WAIT, the function shall wait
 *     until all I/O is complete and the sig argument shall be ignored"
 *     (a SIGEV_SIGNAL sig: no signal comes; a sig that could never be
 *     delivered, sigev_notify 99, is ignored too: 0);
 *  5. aio_cancel(fd, NULL): "all outstanding cancelable asynchronous I/O
 *     requests against fildes shall be canceled": two reads queued behind a
 *     running one on an empty pipe are cancelled (ECANCELED, -1) and the
 *     call says AIO_NOTCANCELED for the running one ("at least one of the
 *     requested operation(s) cannot be canceled because it is in progress");
 *  6. "For requested operations that are not successfully canceled, the
 *     aiocbp shall not be modified by aio_cancel()": the running read's
 *     aiocb's public members are what they were, still EINPROGRESS;
 *  7. aio_fsync: "[EINVAL] This implementation does not support synchronized
 *     I/O for this file" (a pipe): glibc accepts the request (0) and its
 *     worker's fsync() fails: aio_error EINVAL, aio_return -1. POSIX lists it
 *     under "shall fail" (at the call); the answer is required as glibc
 *     gives it, asynchronously (SPEC.md says so);
 *  8. aio_read: "submitted at a priority equal to a base scheduling priority
 *     minus aiocbp->aio_reqprio": two reads queued behind a running one on a
 *     pipe, aio_reqprio 10 then 0: the next data goes to the aio_reqprio 0
 *     one (glibc's per-fd queue and kaio's lane both order by priority);
 *  9. aio_write: "[ECANCELED] The requested I/O was canceled before the I/O
 *     completed due to an explicit aio_cancel() request": a write queued
 *     behind a write that waits for room in a full pipe: AIO_CANCELED,
 *     ECANCELED, -1; the first completes once the pipe is drained;
 * 10. aio_fsync: "The aio_sigevent member determines the asynchronous
 *     notification to occur ... when all operations have achieved
 *     synchronized I/O completion": SIGEV_SIGNAL after 4 writes: exactly one
 *     signal, and when it arrives the fsync and the 4 writes are done. */
#include "harness.h"

int main(void)
{
    t_init("test_spec_misc", 10);
    const char *path = t_make_file(0, "spec_misc", 16384, 44);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open");
    char buf[4096];
    struct aiocb cb;

    /* 1 and 2. */
    int opcodes[2] = { 99, LIO_NOP };
    for (int k = 0; k < 2; k++) {
        CHECK(lseek(fd, 12000, SEEK_SET) == 12000, "lseek");
        t_cb(&cb, fd, buf, 1000, 5000);
        cb.aio_lio_opcode = opcodes[k];
        CHECK(aio_read(&cb) == 0, "aio_read: %s", errname(errno));
        t_wait(&cb);
        ssize_t n = aio_return(&cb);
        OUT("aio_read with aio_lio_opcode %d, file offset elsewhere: %zd bytes from aio_offset: %s",
            opcodes[k], n, n == 1000 && check_pat(buf, 1000, 5000, 44) < 0 ? "yes" : "no");
        CHECK(n == 1000 && check_pat(buf, 1000, 5000, 44) < 0, "read %zd", n);
        CHECK(lseek(fd, 0, SEEK_END) == 16384, "lseek");
        char w[100];
        memset(w, 'A' + k, sizeof w);
        t_cb(&cb, fd, w, sizeof w, 200 + 1000 * k);
        cb.aio_lio_opcode = opcodes[k];
        CHECK(aio_write(&cb) == 0, "aio_write: %s", errname(errno));
        t_wait(&cb);
        n = aio_return(&cb);
        char back[100];
        CHECK(pread(fd, back, sizeof back, 200 + 1000 * k) == 100, "pread");
        struct stat st;
        fstat(fd, &st);
        OUT("aio_write with aio_lio_opcode %d, file offset at EOF: %zd bytes at aio_offset: %s, "
            "file size unchanged: %s", opcodes[k], n, memcmp(back, w, 100) == 0 ? "yes" : "no",
            st.st_size == 16384 ? "yes" : "no");
        CHECK(n == 100 && memcmp(back, w, 100) == 0 && st.st_size == 16384, "write");
    }

    /* 3. */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = NULL;
    cb.aio_nbytes = SIZE_MAX;
    cb.aio_offset = -1;
    cb.aio_lio_opcode = 99;
    cb.aio_sigevent.sigev_notify = SIGEV_NONE;
    int r = aio_fsync(O_SYNC, &cb);
    OUT("aio_fsync with nonsense in the other members: %d %s", r, r ? errname(errno) : "");
    CHECK(r == 0, "aio_fsync: %s", errname(errno));
    if (r == 0) {
        t_wait(&cb);
        OUT("  completes: aio_error %s, aio_return %zd", errname(aio_error(&cb)), aio_return(&cb));
        CHECK(aio_error(&cb) == 0 && aio_return(&cb) == 0, "fsync result");
    }

    /* 4. */
    int sig = SIGRTMIN + 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct aiocb a[2];
    struct aiocb *list[2] = { &a[0], &a[1] };
    static char lb[2][512];
    for (int i = 0; i < 2; i++) {
        t_cb(&a[i], fd, lb[i], 512, (off_t)i * 4096);
        a[i].aio_lio_opcode = LIO_READ;
    }
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = sig;
    r = lio_listio(LIO_WAIT, list, 2, &sev);
    struct timespec wait = { 0, 200 * 1000 * 1000 };
    siginfo_t si;
    int got = sigtimedwait(&set, &si, &wait);
    OUT("lio_listio(LIO_WAIT) with a SIGEV_SIGNAL sig: %d, signal sent: %s", r, got > 0 ? "yes" : "no");
    CHECK(r == 0 && got < 0, "LIO_WAIT sig not ignored: r %d, signal %d", r, got);
    sev.sigev_notify = 99;
    r = lio_listio(LIO_WAIT, list, 2, &sev);
    OUT("lio_listio(LIO_WAIT) with sigev_notify 99: %d %s", r, r ? errname(errno) : "");
    CHECK(r == 0, "LIO_WAIT with an undeliverable sig: %d %s", r, errname(errno));

    /* 5 and 6. */
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct aiocb q[3];
    static char qb[3][8];
    for (int i = 0; i < 3; i++) {
        t_cb(&q[i], p[0], qb[i], 4, 0);
        CHECK(aio_read(&q[i]) == 0, "aio_read %d", i);
    }
    /* glibc: the first runs on its worker at once; kaio: the first waits in
     * the kernel, the others in the pipe's read lane. */
    struct timespec settle = { 0, 50 * 1000 * 1000 };
    nanosleep(&settle, NULL);
    /* Only the public members: the private ones are the implementation's. */
    struct aiocb before = q[0];
    r = aio_cancel(p[0], NULL);
    OUT("aio_cancel(fd, NULL) = %s", r == AIO_CANCELED ? "AIO_CANCELED" : r == AIO_NOTCANCELED ?
        "AIO_NOTCANCELED" : r == AIO_ALLDONE ? "AIO_ALLDONE" : "-1");
    CHECK(r == AIO_NOTCANCELED, "aio_cancel = %d", r);
    int same = before.aio_fildes == q[0].aio_fildes && before.aio_buf == q[0].aio_buf &&
               before.aio_nbytes == q[0].aio_nbytes && before.aio_offset == q[0].aio_offset &&
               before.aio_reqprio == q[0].aio_reqprio &&
               before.aio_lio_opcode == q[0].aio_lio_opcode &&
               memcmp(&before.aio_sigevent, &q[0].aio_sigevent, sizeof before.aio_sigevent) == 0;
    OUT("running read: aio_error %s, its aiocb unchanged: %s", errname(aio_error(&q[0])),
        same ? "yes" : "no");
    CHECK(aio_error(&q[0]) == EINPROGRESS && same, "running read modified");
    for (int i = 1; i < 3; i++) {
        int e = aio_error(&q[i]);
        ssize_t n = aio_return(&q[i]);
        OUT("queued read %d: aio_error %s, aio_return %zd", i, errname(e), n);
        CHECK(e == ECANCELED && n == -1, "queued read %d: %s %zd", i, errname(e), n);
    }
    CHECK(write(p[1], "data", 4) == 4, "write");
    t_wait(&q[0]);
    ssize_t n = aio_return(&q[0]);
    OUT("running read then: %zd %.4s", n, n == 4 ? qb[0] : "");
    CHECK(n == 4, "running read %zd", n);

    /* 7. */
    t_cb(&cb, p[0], NULL, 0, 0);
    errno = 0;
    r = aio_fsync(O_SYNC, &cb);
    int e7 = errno;
    if (r == 0) t_wait(&cb);
    OUT("aio_fsync on a pipe: %d %s; aio_error %s, aio_return %zd", r, r ? errname(e7) : "",
        r == 0 ? errname(aio_error(&cb)) : "-", r == 0 ? aio_return(&cb) : (ssize_t)0);
    CHECK(r == 0 && aio_error(&cb) == EINVAL && aio_return(&cb) == -1, "pipe fsync");
    close(p[0]);
    close(p[1]);

    /* 8. */
    CHECK(pipe(p) == 0, "pipe");
    struct aiocb pr[3];
    static char pb[3][8];
    int prio[3] = { 0, 10, 0 };
    for (int i = 0; i < 3; i++) {
        t_cb(&pr[i], p[0], pb[i], 4, 0);
        pr[i].aio_reqprio = prio[i];
        CHECK(aio_read(&pr[i]) == 0, "aio_read %d: %s", i, errname(errno));
        if (i == 0) nanosleep(&settle, NULL); /* the first is the running one */
    }
    CHECK(write(p[1], "1111", 4) == 4, "write");
    t_wait(&pr[0]);
    CHECK(write(p[1], "2222", 4) == 4, "write");
    const struct aiocb *two[2] = { &pr[1], &pr[2] };
    while (aio_error(&pr[1]) == EINPROGRESS && aio_error(&pr[2]) == EINPROGRESS)
        (void)aio_suspend(two, 2, NULL);
    int hi_first = aio_error(&pr[2]) == 0 && aio_error(&pr[1]) == EINPROGRESS;
    OUT("queued reads aio_reqprio 10 then 0: the next data went to aio_reqprio 0: %s",
        hi_first ? "yes" : "no");
    CHECK(hi_first, "priority order: reqprio10 %s, reqprio0 %s", errname(aio_error(&pr[1])),
          errname(aio_error(&pr[2])));
    CHECK(write(p[1], "3333", 4) == 4, "write");
    for (int i = 0; i < 3; i++) t_wait(&pr[i]);
    OUT("  data: reqprio 0 first: %.4s, second: %.4s, reqprio 10: %.4s", pb[0], pb[2], pb[1]);
    close(p[0]);
    close(p[1]);

    /* 9. */
    CHECK(pipe(p) == 0, "pipe");
    (void)fcntl(p[1], F_SETPIPE_SZ, 4096);
    int fl = fcntl(p[1], F_GETFL);
    fcntl(p[1], F_SETFL, fl | O_NONBLOCK);
    static char fill[65536];
    ssize_t filled = 0, k;
    while ((k = write(p[1], fill, sizeof fill)) > 0) filled += k;
    fcntl(p[1], F_SETFL, fl);
    struct aiocb w1, w2;
    char d1[16], d2[16];
    memset(d1, '1', sizeof d1);
    memset(d2, '2', sizeof d2);
    t_cb(&w1, p[1], d1, sizeof d1, 0);
    t_cb(&w2, p[1], d2, sizeof d2, 0);
    CHECK(aio_write(&w1) == 0, "aio_write 1");
    nanosleep(&settle, NULL);
    CHECK(aio_write(&w2) == 0, "aio_write 2");
    r = aio_cancel(p[1], &w2);
    int e2 = aio_error(&w2);
    ssize_t n2 = aio_return(&w2);
    OUT("write queued behind a blocked write: aio_cancel %s, aio_error %s, aio_return %zd",
        r == AIO_CANCELED ? "AIO_CANCELED" : r == AIO_NOTCANCELED ? "AIO_NOTCANCELED" : "other",
        errname(e2), n2);
    CHECK(r == AIO_CANCELED && e2 == ECANCELED && n2 == -1, "cancel queued write");
    ssize_t drained = 0;
    while (drained < filled + (ssize_t)sizeof d1) {
        k = read(p[0], fill, sizeof fill);
        if (k <= 0) break;
        drained += k;
    }
    t_wait(&w1);
    OUT("  the blocked write: aio_return %zd, pipe gave filler + it: %s", aio_return(&w1),
        drained == filled + (ssize_t)sizeof d1 ? "yes" : "no");
    CHECK(aio_return(&w1) == (ssize_t)sizeof d1 && drained == filled + (ssize_t)sizeof d1,
          "first write");
    close(p[0]);
    close(p[1]);

    /* 10. */
    struct aiocb ws[4], fs;
    static char wd[4][4096];
    for (int i = 0; i < 4; i++) {
        memset(wd[i], 'a' + i, sizeof wd[i]);
        t_cb(&ws[i], fd, wd[i], sizeof wd[i], (off_t)i * 4096);
        CHECK(aio_write(&ws[i]) == 0, "aio_write");
    }
    t_cb(&fs, fd, NULL, 0, 0);
    fs.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    fs.aio_sigevent.sigev_signo = sig;
    fs.aio_sigevent.sigev_value.sival_int = 1010;
    CHECK(aio_fsync(O_DSYNC, &fs) == 0, "aio_fsync");
    struct timespec five = { 5, 0 }, more = { 0, 100 * 1000 * 1000 };
    int count = 0, all_done = 1;
    while (sigtimedwait(&set, &si, count ? &more : &five) > 0) {
        count++;
        CHECK(si.si_value.sival_int == 1010 && si.si_code == SI_ASYNCIO, "fsync signal info");
        if (aio_error(&fs) == EINPROGRESS) all_done = 0;
        for (int i = 0; i < 4; i++) if (aio_error(&ws[i]) == EINPROGRESS) all_done = 0;
    }
    OUT("aio_fsync SIGEV_SIGNAL: %d signal(s), fsync and writes done by then: %s", count,
        all_done ? "yes" : "no");
    CHECK(count == 1 && all_done, "fsync notification");
    t_wait(&fs);
    for (int i = 0; i < 4; i++) t_wait(&ws[i]);
    close(fd);
    unlink(path);
    return t_done();
}
