/* Without kernel AIO (issue 9, case 6): a seccomp filter, as some container
 * profiles install, makes exactly one of io_setup, io_submit or io_getevents
 * (with io_pgetevents) fail with EPERM, or with ENOSYS. An application's
 * POSIX AIO must still work: kaio has to fall back to threads whichever of
 * them fails. glibc never makes these system calls, so it passes trivially;
 * the test's value is on kaio.
 *
 * Six forked children, one per (system call, errno), one after the other. Each
 * installs the filter (prctl(PR_SET_NO_NEW_PRIVS), then
 * PR_SET_SECCOMP/SECCOMP_MODE_FILTER; x86_64 only), checks that the filter
 * answers (the raw system call with invalid arguments returns the chosen
 * errno instead of EINVAL), then runs the workload of harness_rel_fallback.h:
 * every request must complete with the right result, every wait bounded
 * (where io_setup is refused, kaio's counters must show no kernel context).
 * The parent prints each child's findings. Skipped (77) without seccomp. */
#include "harness_rel_fallback.h"
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/aio_abi.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

struct combo {
    const char *label;
    long nr, nr2; /* nr2: a second system call refused alike, or -1 */
    int err;
};

static const struct combo combos[] = {
    { "io_setup EPERM", SYS_io_setup, -1, EPERM },
    { "io_submit EPERM", SYS_io_submit, -1, EPERM },
    { "io_getevents EPERM", SYS_io_getevents, SYS_io_pgetevents, EPERM },
    { "io_setup ENOSYS", SYS_io_setup, -1, ENOSYS },
    { "io_submit ENOSYS", SYS_io_submit, -1, ENOSYS },
    { "io_getevents ENOSYS", SYS_io_getevents, SYS_io_pgetevents, ENOSYS },
};
#define NCOMBO ((int)(sizeof combos / sizeof combos[0]))

/* 0, or the errno of the prctl that failed. */
static int install_filter(const struct combo *c)
{
#if defined(__x86_64__)
    long nr2 = c->nr2 >= 0 ? c->nr2 : c->nr;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)c->nr, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)c->err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = (unsigned short)(sizeof f / sizeof f[0]), .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) return errno;
    return 0;
#else
    (void)c;
    return ENOSYS;
#endif
}

static int child(void *arg)
{
    const struct combo *c = arg;
    int e = install_filter(c);
    if (e) {
        dprintf(rf_fd, "skip: seccomp filter: %s\n", errname(e));
        return 77;
    }
    /* Invalid arguments (no events, context 0): EINVAL from the kernel,
     * the chosen errno from the filter. */
    aio_context_t ctx = 0;
    struct iocb *iocbs[1] = { NULL };
    struct io_event ev[1];
    errno = 0;
    long r = c->nr == SYS_io_setup ? syscall(SYS_io_setup, 0, &ctx)
             : c->nr == SYS_io_submit ? syscall(SYS_io_submit, 0, 0L, iocbs)
                                      : syscall(SYS_io_getevents, 0, 0L, 0L, ev, NULL);
    int fe = errno;
    int r2 = 0, fe2 = c->err;
    if (c->nr2 >= 0) {
        errno = 0;
        r2 = (int)syscall(c->nr2, 0, 0L, 0L, ev, NULL, NULL);
        fe2 = errno;
    }
    RF_LINE(r == -1 && fe == c->err, "filter answers %s", errname(fe));
    /* Only noted: valgrind answers ENOSYS itself for io_pgetevents. */
    if (c->nr2 >= 0) RF_NOTE("io_pgetevents answers %d %s", r2, errname(fe2));
    rf_expect_no_context = c->nr == SYS_io_setup;
    return rf_workload();
}

int main(void)
{
    t_init("test_rel_seccomp", 80);
#if !defined(__x86_64__)
    T_SKIP("the seccomp filter is written for x86_64");
#endif
    /* One child at a time: a child that busy-waits must have the CPU to
     * show it (beside a CPU hog, six children at once would not). */
    struct rf_child ch[NCOMBO];
    for (int i = 0; i < NCOMBO; i++) {
        rf_spawn(&ch[i], combos[i].label, child, (void *)&combos[i]);
        rf_reap(&ch[i], 1, 12);
    }
    int skipped = 0;
    for (int i = 0; i < NCOMBO; i++) skipped += rf_print(&ch[i]) == 77;
    if (skipped == NCOMBO) T_SKIP("seccomp filters unavailable here");
    CHECK(skipped == 0, "%d of %d children could not install a filter", skipped, NCOMBO);
    return t_done();
}
