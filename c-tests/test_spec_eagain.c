/* KAIO_ONLY (uses kaio's fault injection, KAIO_FAULT): POSIX aio_read /
 * aio_write / aio_fsync: "shall fail if: [EAGAIN] The requested asynchronous
 * I/O operation was not queued due to system resource limitations";
 * lio_listio: "[EAGAIN] The resources necessary to queue all the I/O
 * requests were not available. The application may check the error status
 * for each aiocb to determine the individual request(s) that failed."
 * The program re-executes itself with KAIO_FAULT=thread=1+ (every thread
 * creation fails), so nothing that needs a kaio thread can be promised:
 *   - aio_read and aio_write with SIGEV_SIGNAL (the notification needs the
 *     reaper thread): -1/EAGAIN, and the aiocb is not in progress;
 *   - aio_read of an empty pipe (waiting needs the reaper): -1/EAGAIN;
 *   - aio_fsync with SIGEV_SIGNAL: -1/EAGAIN;
 *   - lio_listio(LIO_NOWAIT) with a list sigevent: -1/EAGAIN, and every
 *     entry's error status says EAGAIN (not EINPROGRESS);
 *   - a request that needs no thread (a page-cache read, SIGEV_NONE) is
 *     still accepted and completes. */
#include "harness.h"
#include <sys/wait.h>

static void child(const char *path)
{
    int fd = open(path, O_RDWR);
    int p[2];
    CHECK(fd >= 0 && pipe(p) == 0, "setup");
    char buf[4096];
    CHECK(pread(fd, buf, sizeof buf, 0) == 4096, "warm");

    struct aiocb cb;
    t_cb(&cb, fd, buf, 4096, 0);
    int r = aio_read(&cb);
    t_wait(&cb);
    OUT("page-cache read, SIGEV_NONE: aio_read %d, aio_error %s, aio_return %zd", r,
        errname(aio_error(&cb)), aio_return(&cb));
    CHECK(r == 0 && aio_return(&cb) == 4096, "control read");

    t_cb(&cb, fd, buf, 4096, 0);
    cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    cb.aio_sigevent.sigev_signo = SIGRTMIN + 1;
    errno = 0;
    r = aio_read(&cb);
    int e = errno;
    OUT("read with SIGEV_SIGNAL: aio_read %d %s, aio_error %s", r, r ? errname(e) : "",
        errname(aio_error(&cb)));
    CHECK(r == -1 && e == EAGAIN && aio_error(&cb) != EINPROGRESS, "SIGEV_SIGNAL read");

    t_cb(&cb, fd, buf, 512, 0);
    cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    cb.aio_sigevent.sigev_signo = SIGRTMIN + 1;
    errno = 0;
    r = aio_write(&cb);
    e = errno;
    OUT("write with SIGEV_SIGNAL: aio_write %d %s, aio_error %s", r, r ? errname(e) : "",
        errname(aio_error(&cb)));
    CHECK(r == -1 && e == EAGAIN && aio_error(&cb) != EINPROGRESS, "SIGEV_SIGNAL write");

    t_cb(&cb, p[0], buf, 16, 0);
    errno = 0;
    r = aio_read(&cb);
    e = errno;
    OUT("read of an empty pipe: aio_read %d %s, aio_error %s", r, r ? errname(e) : "",
        errname(aio_error(&cb)));
    CHECK(r == -1 && e == EAGAIN && aio_error(&cb) != EINPROGRESS, "pipe read");

    t_cb(&cb, fd, NULL, 0, 0);
    cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    cb.aio_sigevent.sigev_signo = SIGRTMIN + 1;
    errno = 0;
    r = aio_fsync(O_SYNC, &cb);
    e = errno;
    OUT("aio_fsync with SIGEV_SIGNAL: %d %s, aio_error %s", r, r ? errname(e) : "",
        errname(aio_error(&cb)));
    CHECK(r == -1 && e == EAGAIN && aio_error(&cb) != EINPROGRESS, "fsync");

    enum { N = 3 };
    struct aiocb l[N];
    struct aiocb *list[N];
    static char b[N][512];
    for (int i = 0; i < N; i++) {
        t_cb(&l[i], fd, b[i], sizeof b[i], (off_t)i * 512);
        l[i].aio_lio_opcode = LIO_READ;
        list[i] = &l[i];
    }
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGRTMIN + 1;
    errno = 0;
    r = lio_listio(LIO_NOWAIT, list, N, &sev);
    e = errno;
    int eagain = 0;
    for (int i = 0; i < N; i++) eagain += aio_error(&l[i]) == EAGAIN;
    OUT("lio_listio(LIO_NOWAIT) with a list sigevent: %d %s, entries with EAGAIN: %d of %d", r,
        r ? errname(e) : "", eagain, N);
    CHECK(r == -1 && e == EAGAIN && eagain == N, "lio_listio");
    close(fd);
    close(p[0]);
    close(p[1]);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "child") == 0) {
        t_init("test_spec_eagain (child)", 10);
        child(argv[2]);
        return t_done();
    }
    t_init("test_spec_eagain", 10);
    const char *path = t_make_file(0, "spec_eagain", 8192, 5);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("KAIO_FAULT", "thread=1+", 1);
        execl("/proc/self/exe", argv[0], "child", path, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
    unlink(path);
    return t_done();
}
