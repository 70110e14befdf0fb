/* Without kernel AIO (issue 9, case 6): another process holds all of
 * /proc/sys/fs/aio-max-nr, so this process's io_setup fails with EAGAIN.
 * POSIX AIO must still work (kaio: on its threads).
 *
 * A forked holder takes every event left (io_setup of aio-max-nr - aio-nr,
 * then halving sizes until io_setup(1) says EAGAIN) and, while it holds,
 * takes again whatever other processes give back (it watches aio-nr every
 * 0.2 ms). The test checks that its own io_setup(1) now fails with EAGAIN,
 * then runs the workload of harness_rel_fallback.h in a fresh forked child;
 * every request must complete with the right result (on kaio, the counters
 * must show it ran without a kernel context). Then the holder is
 * told to go (its contexts go with it) and reaped. The hold lasts well under
 * a second: meanwhile other processes that create a context fall back too.
 * glibc never calls io_setup, so it passes trivially. Skipped (77) if
 * aio-max-nr cannot be read, is too large to hold (over 4 M events), or the
 * holder cannot take it all. */
#include "harness_rel_fallback.h"
#include <linux/aio_abi.h>
#include <sys/syscall.h>

#define MAX_HELD 65536

static long read_long(const char *path)
{
    char buf[64];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    return strtol(buf, NULL, 10);
}

static aio_context_t held[MAX_HELD];
static int nheld;
static long events_held;

/* Take what is left of aio-max-nr: sizes from `want` halving down to 1. */
static void take_all(long want)
{
    long size = want > 0 ? want : 1;
    while (size >= 1 && nheld < MAX_HELD) {
        aio_context_t ctx = 0;
        if (syscall(SYS_io_setup, (unsigned)size, &ctx) == 0) {
            held[nheld++] = ctx;
            events_held += size;
        } else if (errno == EAGAIN || errno == ENOMEM || errno == EINVAL) {
            size /= 2;
        } else {
            break;
        }
    }
}

/* The holder: ctl is read-only; it writes what it holds to rep, then
 * keeps topping up until ctl has data or is closed. */
static void holder(int ctl, int rep)
{
    long max = read_long("/proc/sys/fs/aio-max-nr"), nr = read_long("/proc/sys/fs/aio-nr");
    take_all(max - nr);
    aio_context_t probe = 0;
    int full = syscall(SYS_io_setup, 1, &probe) != 0 && errno == EAGAIN;
    if (!full) syscall(SYS_io_destroy, probe);
    dprintf(rep, "%d %ld %d\n", full, events_held, nheld);
    close(rep);
    struct pollfd pfd = { .fd = ctl, .events = POLLIN };
    double t0 = rf_now();
    while (rf_now() - t0 < 15) {
        int r = poll(&pfd, 1, 0);
        if (r != 0) break; /* told to go, or the test died */
        long m = read_long("/proc/sys/fs/aio-max-nr"), n = read_long("/proc/sys/fs/aio-nr");
        if (m > 0 && n >= 0 && n < m) take_all(m - n);
        struct timespec d = { 0, 200 * 1000 };
        nanosleep(&d, NULL);
    }
    for (int i = 0; i < nheld; i++) syscall(SYS_io_destroy, held[i]);
    _exit(0);
}

static int workload_child(void *arg)
{
    (void)arg;
    rf_expect_no_context = 1;
    return rf_workload();
}

int main(void)
{
    t_init("test_rel_aio_max_nr", 30);
    long max = read_long("/proc/sys/fs/aio-max-nr"), nr = read_long("/proc/sys/fs/aio-nr");
    if (max < 0 || nr < 0) T_SKIP("cannot read /proc/sys/fs/aio-max-nr and aio-nr");
    if (max - nr > 4L * 1024 * 1024) T_SKIP("aio-max-nr %ld: too much to hold", max);
    NOTE("aio-max-nr %ld, aio-nr %ld before", max, nr);

    int ctl[2], rep[2];
    CHECK(pipe(ctl) == 0 && pipe(rep) == 0, "pipe");
    fflush(stdout);
    pid_t hp = fork();
    if (hp < 0) T_SKIP("fork: %s", errname(errno));
    if (hp == 0) {
        close(ctl[1]);
        close(rep[0]);
        alarm(20);
        holder(ctl[0], rep[1]);
    }
    close(ctl[0]);
    close(rep[1]);
    char buf[128];
    ssize_t n = 0, k;
    while (n < (ssize_t)sizeof buf - 1 && (k = read(rep[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0)
        n += k;
    buf[n > 0 ? n : 0] = 0;
    close(rep[0]);
    int full = 0, nctx = 0;
    long ev = 0;
    int parsed = sscanf(buf, "%d %ld %d", &full, &ev, &nctx) == 3;
    NOTE("holder: %ld events in %d contexts, aio-nr now %ld", ev, nctx,
         read_long("/proc/sys/fs/aio-nr"));

    int skip = !parsed || !full;
    struct rf_child ch;
    if (!skip) {
        /* This process cannot get a context now (a few tries: another
         * process may give events back just before the holder retakes them). */
        int e = 0;
        for (int i = 0; i < 20; i++) {
            aio_context_t ctx = 0;
            if (syscall(SYS_io_setup, 1, &ctx) == 0) {
                syscall(SYS_io_destroy, ctx);
                e = 0;
                rf_sleep_ms(1);
                continue;
            }
            e = errno;
            break;
        }
        OUT("io_setup(1) while another process holds aio-max-nr: %s", errname(e));
        CHECK(e == EAGAIN, "io_setup(1): %s", errname(e));
        rf_spawn(&ch, "aio-max-nr held", workload_child, NULL);
        rf_reap(&ch, 1, 15);
    }
    /* Release the holder and reap it within 5 s. */
    (void)!write(ctl[1], "q", 1);
    close(ctl[1]);
    int st = 0;
    double t0 = rf_now();
    while (waitpid(hp, &st, WNOHANG) != hp) {
        if (rf_now() - t0 > 5) {
            kill(hp, SIGKILL);
            waitpid(hp, &st, 0);
            break;
        }
        rf_sleep_ms(2);
    }
    NOTE("aio-nr after the holder left: %ld", read_long("/proc/sys/fs/aio-nr"));
    if (skip) T_SKIP("the holder could not take all of aio-max-nr (%s)", buf);
    int code = rf_print(&ch);
    if (code == 77) T_SKIP("no O_DIRECT in %s", t_dir());
    return t_done();
}
