/* KAIO_ONLY (glibc's aio hangs in a child forked after its worker ran):
 * after the parent used AIO, a forked child can use AIO at once and its
 * request completes; the parent's request started before the fork still
 * completes in the parent. */
#include "harness.h"
#include <sys/wait.h>

int main(void)
{
    t_init("test_fork_child_aio", 30);
    const char *path = t_make_file(0, "fork", 1 << 20, 3);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open");
    static char a[4096], b[4096];
    struct aiocb cb;
    t_cb(&cb, fd, a, sizeof a, 0);
    CHECK(aio_read(&cb) == 0, "warm-up");
    t_wait(&cb);
    int pfd[2];
    CHECK(pipe(pfd) == 0, "pipe");
    /* In flight across the fork: a pipe read in the parent. */
    struct aiocb pending;
    char pc = 0;
    t_cb(&pending, pfd[0], &pc, 1, 0);
    CHECK(aio_read(&pending) == 0, "pending read");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct aiocb c2;
        t_cb(&c2, fd, b, sizeof b, 4096);
        int ok = aio_read(&c2) == 0;
        if (ok) t_wait(&c2);
        ok = ok && aio_error(&c2) == 0 && aio_return(&c2) == 4096 && check_pat(b, 4096, 4096, 3) < 0;
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    OUT("child AIO: %s", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "failed");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
    (void)!write(pfd[1], "p", 1);
    t_wait(&pending);
    OUT("parent pending read: %s %zd %c", errname(aio_error(&pending)), aio_return(&pending), pc);
    CHECK(aio_return(&pending) == 1 && pc == 'p', "parent read");
    close(fd);
    unlink(path);
    return t_done();
}
