/* KAIO_ONLY (KAIO_SHOW_STATS is a kaio feature): a child process started
 * with KAIO_SHOW_STATS=1 (this program re-executed with the argument
 * "child") does one request on each of kaio's paths:
 *   poll    aio_read of an empty pipe, then data written;
 *   inline  buffered aio_read of a range already in the page cache;
 *   kernel  O_DIRECT aio_read;
 *   thread  buffered aio_read of a range dropped from the page cache;
 * and exits normally. Its stderr, captured through a pipe, holds kaio's
 * statistics block: the first line starts with "kaio:" ("kaio: statistics
 * (pid N)"), and the lines "kaio:   <name> <value>" show kernel, inline,
 * poll and thread each >= 1. Parsed leniently. */
#include "harness.h"
#include <sys/wait.h>

#define BS 4096

static int wait_ok(struct aiocb *cb, size_t len, off_t off, unsigned seed)
{
    t_wait(cb);
    return aio_error(cb) == 0 && aio_return(cb) == (ssize_t)len &&
           check_pat((const void *)cb->aio_buf, len, off, seed) < 0;
}

static int child_main(const char *path)
{
    alarm(30);
    int ok = 1;
    void *mem = NULL;
    if (posix_memalign(&mem, BS, 64 * BS) != 0) return 2;
    char *buf = mem;
    struct aiocb cb;
    /* poll */
    int p[2];
    if (pipe(p) != 0) return 2;
    char pb[8];
    t_cb(&cb, p[0], pb, sizeof pb, 0);
    ok &= aio_read(&cb) == 0;
    ok &= write(p[1], "x", 1) == 1;
    t_wait(&cb);
    ok &= aio_return(&cb) == 1 && pb[0] == 'x';
    /* kernel: O_DIRECT */
    int dfd = open(path, O_RDONLY | O_DIRECT);
    if (dfd < 0) { fprintf(stderr, "O_DIRECT: %s\n", errname(errno)); return 2; }
    t_cb(&cb, dfd, buf, BS, 0);
    ok &= aio_read(&cb) == 0 && wait_ok(&cb, BS, 0, 91);
    close(dfd);
    /* thread: cold buffered (the file was fsync'ed by the parent) */
    int fd = open(path, O_RDONLY);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    t_cb(&cb, fd, buf, 16 * BS, 32 * BS);
    ok &= aio_read(&cb) == 0 && wait_ok(&cb, 16 * BS, 32 * BS, 91);
    /* inline: cached buffered (read it with read(2) first) */
    ok &= pread(fd, buf, 16 * BS, 8 * BS) == 16 * BS;
    t_cb(&cb, fd, buf, 16 * BS, 8 * BS);
    ok &= aio_read(&cb) == 0 && wait_ok(&cb, 16 * BS, 8 * BS, 91);
    close(fd);
    free(mem);
    if (!ok) fprintf(stderr, "child: a request failed\n");
    return ok ? 0 : 1;          /* exit(): kaio prints its statistics */
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "child") == 0) return child_main(argv[2]);
    t_init("test_nb_stats_output", 40);
    const char *path = t_make_file(0, "nb_stats", 64 * BS, 91);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && fsync(fd) == 0, "fsync: %s", errname(errno));
    close(fd);
    int e[2];
    CHECK(pipe(e) == 0, "pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(e[1], 2);
        close(e[0]);
        close(e[1]);
        setenv("KAIO_SHOW_STATS", "1", 1);
        char *args[] = { "test_nb_stats_output", "child", (char *)path, NULL };
        execv("/proc/self/exe", args);
        _exit(127);
    }
    close(e[1]);
    static char text[16384];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof text - 1 && (n = read(e[0], text + len, sizeof text - 1 - len)) > 0)
        len += n;
    text[len] = 0;
    close(e[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    OUT("child exit: %s", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "0" : "FAILED");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
    for (char *l = text; *l;) {
        char *nl = strchr(l, '\n');
        NOTE("child stderr: %.*s", nl ? (int)(nl - l) : (int)strlen(l), l);
        if (!nl) break;
        l = nl + 1;
    }
    OUT("stderr starts with \"kaio:\": %s", strncmp(text, "kaio:", 5) == 0 ? "yes" : "NO");
    CHECK(strncmp(text, "kaio:", 5) == 0, "stderr does not start with the stats block");
    const char *names[] = { "kernel", "inline", "poll", "thread" };
    for (int k = 0; k < 4; k++) {
        long long val = -1;
        for (char *l = text; *l;) {
            char *nl = strchr(l, '\n');
            if (nl) *nl = 0;
            char w[64];
            long long v;
            if (strncmp(l, "kaio:", 5) == 0 && sscanf(l + 5, " %63s %lld", w, &v) == 2 &&
                strcmp(w, names[k]) == 0)
                val = v;
            if (nl) *nl = '\n'; else break;
            l = nl + 1;
        }
        OUT("%s %s", names[k], val >= 1 ? ">= 1" : val < 0 ? "MISSING" : "0");
        CHECK(val >= 1, "counter %s = %lld", names[k], val);
    }
    unlink(path);
    return t_done();
}
