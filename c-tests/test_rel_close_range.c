/* A program that closes every descriptor above 2 (close_range(3, ~0U, 0), or
 * a closefrom-style loop of close()) after it has used AIO, then opens its
 * own files, which take the low numbers again, must find those files intact
 * however much AIO it does afterwards (issue 9, case 2). A library may not
 * keep using descriptor numbers it no longer owns: kaio's internal eventfd
 * number now names one of the program's files.
 *
 * Each variant runs in a fork()ed child (fresh AIO state), which writes its
 * transcript into shared memory (descriptors do not survive the close):
 *  1. AIO before: an O_DIRECT read, a pipe read that has to wait (poll
 *     path), a cold buffered read (page cache dropped), each waited for with
 *     aio_suspend.
 *  2. Close every descriptor >= 3; open 8 program files (O_RDWR, 4096
 *     pattern bytes each; at least as many as the numbers used before).
 *  3. AIO after, each bounded by 2 s: a pipe read pending while a cold read
 *     completes (aio_suspend on the cold read) and while a second read of
 *     the pipe, queued behind it, is cancelled (AIO_CANCELED, ECANCELED;
 *     kaio: each after its reaping thread sleeps in the kernel, so both
 *     completions must wake it), the pipe read completed by
 *     another thread's write, an O_DIRECT read, SIGEV_THREAD notifications
 *     of a cold read and of a pipe read fed by another thread, and a
 *     lio_listio(LIO_WAIT) of an O_DIRECT and a cold read.
 *  4. Every request returned the right bytes, every notification came once,
 *     and every program file kept its size, content and offset (0). */
#include "harness.h"
#include "harness_relfd.h"

enum { PROG_FILES_MIN = 8, PROG_SIZE = 4096, DSIZE = 65536, CSIZE = 262144 };

static int open_direct(int slot, const char *name, unsigned seed)
{
    return rel_open_file(slot, name, DSIZE, seed, O_RDONLY | O_DIRECT);
}

/* A file whose pages are not in the page cache (the read needs a thread). */
static int open_cold(int slot, const char *name, unsigned seed)
{
    int fd = rel_open_file(slot, name, CSIZE, seed, O_RDWR);
    if (fd >= 0) {
        fsync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    }
    return fd;
}

static void *aligned(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 4096, n)) return NULL;
    memset(p, 0, n);
    return p;
}

/* One read, waited for (2 s), checked against the pattern; 1 if right. */
static int read_ok(const char *what, struct aiocb *cb, unsigned seed)
{
    int done = rel_wait_done(cb, 2.0);
    int e = done ? aio_error(cb) : EINPROGRESS;
    ssize_t n = done ? aio_return(cb) : -1;
    int ok = done && e == 0 && n == (ssize_t)cb->aio_nbytes &&
             check_pat((const void *)cb->aio_buf, n, cb->aio_offset, seed) < 0;
    C_CHECK(ok, "%s: done %d, aio_error %s, aio_return %zd", what, done, errname(e), n);
    return ok;
}

struct feeder {
    int fd;
    unsigned delay_ms;
    char msg[64];
};

static void *feed(void *arg)
{
    struct feeder *f = arg;
    usleep(f->delay_ms * 1000);
    if (write(f->fd, f->msg, sizeof f->msg) != (ssize_t)sizeof f->msg) REL->failures++;
    return NULL;
}

static volatile int notified[2];
static void on_notify(union sigval v)
{
    __atomic_fetch_add(&notified[v.sival_int], 1, __ATOMIC_SEQ_CST);
}

static int pipe_read_ok(const char *what, struct aiocb *cb, const char *msg, size_t len)
{
    int done = rel_wait_done(cb, 2.0);
    int e = done ? aio_error(cb) : EINPROGRESS;
    ssize_t n = done ? aio_return(cb) : -1;
    int ok = done && e == 0 && n == (ssize_t)len && memcmp((const void *)cb->aio_buf, msg, len) == 0;
    C_CHECK(ok, "%s: done %d, aio_error %s, aio_return %zd", what, done, errname(e), n);
    return ok;
}

static void child(void *arg)
{
    int use_loop = *(int *)arg;
    const char *how = use_loop ? "close loop" : "close_range";
    char *dbuf = aligned(DSIZE), *cbuf = aligned(CSIZE);
    static char pbuf[64];
    struct aiocb cb;

    /* 1. AIO before the close. */
    int d = open_direct(0, "rel_cr_direct", 11);
    if (d < 0) { C_NOTE("SKIP: O_DIRECT: %s", errname(errno)); _exit(77); }
    int c = open_cold(1, "rel_cr_cold", 12);
    int p[2];
    C_CHECK(d >= 0 && c >= 0 && pipe(p) == 0, "setup: %s", errname(errno));
    t_cb(&cb, d, dbuf, 4096, 0);
    C_CHECK(aio_read(&cb) == 0, "aio_read direct: %s", errname(errno));
    int ok_before = read_ok("before: O_DIRECT read", &cb, 11);
    t_cb(&cb, p[0], pbuf, sizeof pbuf, 0);
    C_CHECK(aio_read(&cb) == 0, "aio_read pipe: %s", errname(errno));
    struct feeder fd0 = { p[1], 20, { 0 } };
    fill_pat(fd0.msg, sizeof fd0.msg, 0, 13);
    pthread_t th;
    pthread_create(&th, NULL, feed, &fd0);
    ok_before &= pipe_read_ok("before: pipe read", &cb, fd0.msg, sizeof fd0.msg);
    pthread_join(th, NULL);
    t_cb(&cb, c, cbuf, 4096, 8192);
    C_CHECK(aio_read(&cb) == 0, "aio_read cold: %s", errname(errno));
    ok_before &= read_ok("before: cold read", &cb, 12);
    C_OUT("%s: AIO before the close: %s", how, ok_before ? "ok" : "FAILED");

    /* Which numbers are in use now (kaio's own descriptors among them). */
    int maxfd = 2;
    char kinds[512] = "";
    for (int fd = 3; fd < 64; fd++) {
        if (fcntl(fd, F_GETFD) < 0) continue;
        maxfd = fd;
        const char *k = rel_fd_kind(fd);
        if (strncmp(k, "anon_inode:", 11) == 0 && strlen(kinds) < 400)
            snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), " %d=%s", fd, k + 11);
    }
    C_NOTE("%s: before the close, highest fd %d; anonymous:%s", how, maxfd, kinds[0] ? kinds : " none");

    /* 2. Close everything above 2; the program opens its own files. */
    if (use_loop) {
        long max = sysconf(_SC_OPEN_MAX);
        if (max < 0 || max > 65536) max = 65536;
        for (int fd = 3; fd < max; fd++) close(fd);
    } else {
        C_CHECK(syscall(SYS_close_range, 3, ~0U, 0) == 0, "close_range: %s", errname(errno));
    }
    int nprog = maxfd - 2 > PROG_FILES_MIN ? maxfd - 2 : PROG_FILES_MIN;
    if (nprog > 32) nprog = 32;
    int prog[32];
    for (int i = 0; i < nprog; i++) {
        char name[32];
        snprintf(name, sizeof name, "rel_cr_prog%d", i);
        prog[i] = rel_open_file(2, name, PROG_SIZE, 20 + i, O_RDWR);
        C_CHECK(prog[i] >= 0, "open program file: %s", errname(errno));
    }
    C_NOTE("%s: program files on fds %d..%d", how, prog[0], prog[nprog - 1]);
    C_OUT("%s: opened %s program files on the lowest numbers", how,
          prog[0] == 3 && prog[nprog - 1] == 2 + nprog ? "the" : "NOT the");

    /* 3. AIO after the close. */
    d = open_direct(0, "rel_cr_direct2", 14);
    c = open_cold(1, "rel_cr_cold2", 15);
    C_CHECK(d >= 0 && c >= 0 && pipe(p) == 0, "setup 2: %s", errname(errno));
    int ok = 1;

    /* a. A pipe read waits while a cold read completes, and while a second
     * read of the same pipe, queued behind it, is cancelled. (kaio: first
     * let its reaping thread fall asleep in the kernel, so that both
     * completions from outside the kernel have to wake it.) */
    struct aiocb pr, pq, cr;
    static char pbuf2[64], pbufq[64];
    t_cb(&pr, p[0], pbuf2, sizeof pbuf2, 0);
    t_cb(&pq, p[0], pbufq, sizeof pbufq, 0);
    t_cb(&cr, c, cbuf, 65536, 0);
    C_CHECK(aio_read(&pr) == 0 && aio_read(&pq) == 0, "aio_read pipe: %s", errname(errno));
    rel_wait_reaper_in_kernel();
    C_CHECK(aio_read(&cr) == 0, "aio_read cold: %s", errname(errno));
    ok &= read_ok("after: cold read while a pipe read waits", &cr, 15);
    rel_wait_reaper_in_kernel();
    int cr_ = aio_cancel(p[0], &pq);
    int qe = rel_wait_done(&pq, 2.0) ? aio_error(&pq) : EINPROGRESS;
    C_CHECK(cr_ == AIO_CANCELED && qe == ECANCELED, "after: cancel of the queued pipe read: %d, %s",
            cr_, errname(qe));
    ok &= cr_ == AIO_CANCELED && qe == ECANCELED;
    C_CHECK(aio_error(&pr) == EINPROGRESS, "after: pipe read done before its data: %s",
            errname(aio_error(&pr)));
    /* b. Another thread feeds the pipe. */
    struct feeder f1 = { p[1], 20, { 0 } };
    fill_pat(f1.msg, sizeof f1.msg, 0, 16);
    pthread_create(&th, NULL, feed, &f1);
    ok &= pipe_read_ok("after: pipe read", &pr, f1.msg, sizeof f1.msg);
    pthread_join(th, NULL);
    /* c. O_DIRECT. */
    t_cb(&cb, d, dbuf, 8192, 8192);
    C_CHECK(aio_read(&cb) == 0, "aio_read direct: %s", errname(errno));
    ok &= read_ok("after: O_DIRECT read", &cb, 14);
    /* d. Notifications. */
    struct aiocb n0, n1;
    static char pbuf3[64];
    t_cb(&n0, c, cbuf, 65536, 131072);
    n0.aio_sigevent.sigev_notify = SIGEV_THREAD;
    n0.aio_sigevent.sigev_notify_function = on_notify;
    n0.aio_sigevent.sigev_value.sival_int = 0;
    t_cb(&n1, p[0], pbuf3, sizeof pbuf3, 0);
    n1.aio_sigevent = n0.aio_sigevent;
    n1.aio_sigevent.sigev_value.sival_int = 1;
    C_CHECK(aio_read(&n0) == 0 && aio_read(&n1) == 0, "aio_read notify: %s", errname(errno));
    struct feeder f2 = { p[1], 20, { 0 } };
    fill_pat(f2.msg, sizeof f2.msg, 0, 17);
    pthread_create(&th, NULL, feed, &f2);
    ok &= read_ok("after: notified cold read", &n0, 15);
    ok &= pipe_read_ok("after: notified pipe read", &n1, f2.msg, sizeof f2.msg);
    pthread_join(th, NULL);
    double end = rel_now() + 2.0;
    while ((notified[0] < 1 || notified[1] < 1) && rel_now() < end) usleep(1000);
    usleep(20000);
    C_CHECK(notified[0] == 1 && notified[1] == 1, "notifications: %d %d (want 1 1)", notified[0],
            notified[1]);
    ok &= notified[0] == 1 && notified[1] == 1;
    /* e. lio_listio(LIO_WAIT): O_DIRECT + cold. */
    struct aiocb l0, l1;
    char *dbuf2 = aligned(4096);
    t_cb(&l0, d, dbuf2, 4096, 32768);
    l0.aio_lio_opcode = LIO_READ;
    t_cb(&l1, c, cbuf, 65536, 196608);
    l1.aio_lio_opcode = LIO_READ;
    struct aiocb *list[2] = { &l0, &l1 };
    int lr = lio_listio(LIO_WAIT, list, 2, NULL);
    C_CHECK(lr == 0, "lio_listio: %d %s", lr, errname(errno));
    ok &= lr == 0 && read_ok("after: lio O_DIRECT", &l0, 14) && read_ok("after: lio cold", &l1, 15);
    C_OUT("%s: AIO after the close: %s", how, ok ? "ok" : "FAILED");

    /* 4. The program's files. */
    int intact = 0;
    for (int i = 0; i < nprog; i++) {
        char why[256];
        int good = rel_file_intact(prog[i], PROG_SIZE, 20 + i, why, sizeof why);
        C_CHECK(good, "program file on fd %d changed: %s", prog[i], why);
        intact += good;
    }
    C_OUT("%s: program files unchanged (size, content, offset): %s", how,
          intact == nprog ? "all" : "NOT all");
    if (IS_KAIO)
        C_NOTE("%s: kaio submitted %llu, completed %llu, poll %llu, thread %llu, kernel %llu", how,
               rel_counter("submitted"), rel_counter("completed"), rel_counter("poll"),
               rel_counter("thread"), rel_counter("kernel"));
    fflush(stdout);
    _exit(REL->failures ? 1 : 0);
}

int main(void)
{
    t_init("test_rel_close_range", 30);
    rel_log_init();
    for (int v = 0; v < 2; v++) {
        int st = rel_run_child(child, &v, 12.0);
        if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 77) T_SKIP("O_DIRECT unavailable");
        CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: status %#x", v, st);
    }
    return t_done();
}
