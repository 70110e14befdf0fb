/* aio_fsync of a reused aiocb (issue 9, case 11). POSIX: aio_fsync uses
 * only aio_fildes (and aio_sigevent) of the aiocb; whatever aio_buf,
 * aio_nbytes and aio_offset still hold from an earlier request is ignored.
 * Programs reuse aiocbs that way (fio does for every --fsync). For a file
 * written through a plain descriptor and through an O_DIRECT one: one aiocb
 * serves an aio_write of 4 KiB at offset 8192, then, unchanged but for the
 * call, aio_fsync(O_SYNC) and aio_fsync(O_DSYNC): each must return 0, end
 * with aio_error 0 and aio_return 0, and the file must hold the bytes.
 * On kaio (kaio-only checks, IS_KAIO): an fsync of a file goes to the kernel
 * (IOCB_CMD_FSYNC). A control aio_fsync on a fresh, zeroed aiocb shows the
 * file system takes it there (counter "kernel" +1, "thread" +0); then each
 * fsync of the reused aiocb must count the same way. Current kaio copies the
 * stale aio_buf/aio_nbytes/aio_offset into the IOCB_CMD_FSYNC, the kernel
 * answers EINVAL, and kaio falls back to its thread pool ("thread" +1) with
 * a wrong KAIO_VERBOSE message: a re-executed child runs the same sequence
 * with KAIO_VERBOSE=1 and its stderr is shown (NOTE); on kaio it must not
 * say that the kernel has no asynchronous fsync when the control showed it
 * has. */
#include "harness.h"
#include <sys/wait.h>

static unsigned long long (*counter)(const char *);

static unsigned long long kc(const char *name)
{
    return IS_KAIO && counter ? counter(name) : 0;
}

/* Wait for cb (5 s at most); 1 if it finished. */
static int wait_cb(struct aiocb *cb)
{
    const struct aiocb *l[1] = { cb };
    for (int i = 0; i < 50 && aio_error(cb) == EINPROGRESS; i++) {
        struct timespec ts = { 0, 100 * 1000000 };
        aio_suspend(l, 1, &ts);
    }
    return aio_error(cb) != EINPROGRESS;
}

/* One aio_fsync of `cb`; prints its result; checks the kaio path if
 * `want_kernel`. */
static void one_fsync(const char *what, int op, struct aiocb *cb, int want_kernel)
{
    unsigned long long k0 = kc("kernel"), t0 = kc("thread");
    int r = aio_fsync(op, cb);
    int e = r ? errno : 0;
    int done = r == 0 && wait_cb(cb);
    int err = done ? aio_error(cb) : -1;
    ssize_t ret = done ? aio_return(cb) : -2;
    OUT("%s: aio_fsync(%s) = %d %s; aio_error %s, aio_return %zd", what,
        op == O_SYNC ? "O_SYNC" : "O_DSYNC", r, errname(e), done ? errname(err) : "(hung)", ret);
    CHECK(r == 0 && done && err == 0 && ret == 0, "%s: fsync of the reused aiocb failed", what);
    if (IS_KAIO) {
        unsigned long long dk = kc("kernel") - k0, dt = kc("thread") - t0;
        NOTE("%s: kaio kernel +%llu, thread +%llu", what, dk, dt);
        if (want_kernel)
            CHECK(dk == 1 && dt == 0, "%s: kaio served the fsync with kernel +%llu, thread +%llu: "
                  "it did not reach the kernel (a zeroed aiocb's fsync does)", what, dk, dt);
    }
}

/* The sequence; returns whether the control fsync went to the kernel. */
static int run(const char *path, int direct)
{
    const char *what = direct ? "O_DIRECT" : "buffered";
    int fd = open(path, O_RDWR | (direct ? O_DIRECT : 0));
    if (fd < 0 && direct) {
        NOTE("O_DIRECT refused (%s): buffered", errname(errno));
        fd = open(path, O_RDWR);
    }
    if (fd < 0) { OUT("open: %s", errname(errno)); exit(1); }
    char *buf = NULL;
    if (posix_memalign((void **)&buf, 4096, 4096) != 0) exit(1);
    fill_pat(buf, 4096, 8192, 61 + direct);

    /* Control: a fresh, zeroed aiocb. */
    static struct aiocb fresh;
    memset(&fresh, 0, sizeof fresh);
    fresh.aio_fildes = fd;
    fresh.aio_sigevent.sigev_notify = SIGEV_NONE;
    unsigned long long k0 = kc("kernel"), t0 = kc("thread");
    int r = aio_fsync(O_SYNC, &fresh);
    int ok = r == 0 && wait_cb(&fresh);
    OUT("%s: control aio_fsync(O_SYNC) on a zeroed aiocb: %d, aio_error %s, aio_return %zd", what,
        r, ok ? errname(aio_error(&fresh)) : "(hung)", ok ? aio_return(&fresh) : (ssize_t)-2);
    CHECK(ok && aio_error(&fresh) == 0, "%s: control fsync", what);
    int kernel_fsync = IS_KAIO && kc("kernel") - k0 == 1 && kc("thread") - t0 == 0;
    if (IS_KAIO)
        NOTE("%s: control fsync: kaio kernel +%llu, thread +%llu (%s)", what, kc("kernel") - k0,
             kc("thread") - t0, kernel_fsync ? "asynchronous fsync in the kernel"
                                             : "no kernel fsync here: path not checked");

    /* The reused aiocb: a write, then fsyncs with its fields left as they are. */
    static struct aiocb cb;
    t_cb(&cb, fd, buf, 4096, 8192);
    r = aio_write(&cb);
    ok = r == 0 && wait_cb(&cb);
    ssize_t n = ok ? aio_return(&cb) : -2;
    OUT("%s: aio_write(4096 at 8192) = %d, aio_return %zd", what, r, n);
    CHECK(n == 4096, "%s: write", what);
    NOTE("%s: reused aiocb still has aio_buf %s, aio_nbytes %zu, aio_offset %lld", what,
         cb.aio_buf ? "set" : "NULL", cb.aio_nbytes, (long long)cb.aio_offset);
    one_fsync(what, O_SYNC, &cb, kernel_fsync);
    one_fsync(what, O_DSYNC, &cb, kernel_fsync);

    char *back = NULL;
    if (posix_memalign((void **)&back, 4096, 4096) != 0) exit(1);
    ssize_t got = pread(fd, back, 4096, 8192);
    OUT("%s: file holds the bytes: %s", what,
        got == 4096 && check_pat(back, 4096, 8192, 61 + direct) < 0 ? "yes" : "no");
    CHECK(got == 4096 && check_pat(back, 4096, 8192, 61 + direct) < 0, "%s: contents", what);
    free(back);
    free(buf);
    close(fd);
    return kernel_fsync;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--verbose-child") == 0) {
        /* Re-executed with KAIO_VERBOSE=1: the same sequence, quietly. */
        t_init("test_rel_fsync_reused_cb (verbose child)", 20);
        counter = (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
        run(argv[2], 0);
        run(argv[2], 1);
        return t_done();
    }
    t_init("test_rel_fsync_reused_cb", 30);
    counter = (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
    const char *path = t_make_file(0, "rel_fsync_reuse", 16384, 60);
    int kf = run(path, 0);
    kf |= run(path, 1);

    /* KAIO_VERBOSE=1 in a re-executed child; its stderr captured. */
    int p[2];
    if (pipe(p) != 0) { OUT("pipe failed"); return 1; }
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);      /* its transcript is not ours */
        dup2(p[1], 2);
        setenv("KAIO_VERBOSE", "1", 1);
        execl("/proc/self/exe", "test_rel_fsync_reused_cb", "--verbose-child", path,
              (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    static char text[8192];
    size_t len = 0;
    ssize_t got;
    while (len < sizeof text - 1 && (got = read(p[0], text + len, sizeof text - 1 - len)) > 0)
        len += (size_t)got;
    text[len] = 0;
    close(p[0]);
    int status = -1;
    for (int i = 0; i < 200; i++) {      /* reaped with a timeout (10 s) */
        if (waitpid(pid, &status, WNOHANG) == pid) break;
        struct timespec d = { 0, 50 * 1000000 };
        nanosleep(&d, NULL);
        if (i == 199) { kill(pid, SIGKILL); waitpid(pid, &status, 0); }
    }
    /* Its own checks are the ones above (its exit status says the same). */
    OUT("KAIO_VERBOSE=1 child: %s", WIFEXITED(status) ? "exited" : "did not exit");
    CHECK(WIFEXITED(status), "verbose child status %#x", status);
    NOTE("KAIO_VERBOSE=1 child: exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    int wrong = strstr(text, "no asynchronous fsync") != NULL;
    if (len == 0) NOTE("KAIO_VERBOSE=1 child's stderr: (nothing)");
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        NOTE("KAIO_VERBOSE=1 child's stderr: %s", line);
    if (IS_KAIO && kf)
        CHECK(!wrong, "kaio says the kernel has no asynchronous fsync, though the control "
              "fsync went to the kernel");
    unlink(path);
    return t_done();
}
