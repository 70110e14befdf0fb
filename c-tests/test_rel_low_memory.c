/* Issue 9, case 8: little memory. With the address space limited
 * (RLIMIT_AS) to a few MiB above what the process already uses, an AIO
 * call may refuse with a clean error (-1/EAGAIN, or ENOMEM), or do its
 * work; it must never kill the process (an allocation failure that aborts:
 * SIGABRT).
 *
 * For K = 1, 2, 4, 8, 16, 64 MiB, a fork()ed child sets RLIMIT_AS to its
 * current VmSize (/proc/self/status) + K MiB, either before its first aio
 * call ("fresh") or after the whole workload has run once without the
 * limit ("warm"), then runs a workload on every path (harness_rel_work.h):
 * cold and hot buffered reads, a buffered write, O_DIRECT reads, a pipe
 * read completed later, aio_write + aio_fsync, lio_listio LIO_NOWAIT (list
 * sigevent) and LIO_WAIT, with SIGEV_NONE, SIGEV_SIGNAL and SIGEV_THREAD.
 * Each submission returns 0 or -1 with EAGAIN/ENOMEM (lio_listio also
 * EIO); an accepted request completes within 3 s with the right result
 * and data; a notification arrives at most once (glibc itself loses a
 * SIGEV_THREAD notification when its thread cannot be created, so arrival
 * is not required here: test_rel_no_threads covers that). Buffers, files
 * and the stack are prepared before the limit; the test itself allocates
 * nothing afterwards.
 * The parent prints, per K and variant, whether the child exited normally
 * (OUT); details are NOTEs. The children run in parallel. */
#include "harness.h"
#include "harness_rel_res.h"
#include "harness_rel_work.h"
#include <sys/resource.h>

static const int Ks[] = { 1, 2, 4, 8, 16, 64 };
#define NK ((int)(sizeof Ks / sizeof Ks[0]))

static const struct step { enum r_path path; int note; } steps[] = {
    { R_COLD_READ, SIGEV_NONE }, { R_BUF_WRITE, SIGEV_SIGNAL }, { R_DIRECT_READ, SIGEV_THREAD },
    { R_PIPE_READ, SIGEV_SIGNAL }, { R_HOT_READ, SIGEV_THREAD }, { R_FSYNC, SIGEV_NONE },
    { R_LIO_NOWAIT, SIGEV_SIGNAL }, { R_LIO_WAIT, SIGEV_NONE }, { R_DIRECT_READ, SIGEV_SIGNAL },
    { R_COLD_READ, SIGEV_THREAD }, { R_PIPE_READ, SIGEV_THREAD }, { R_LIO_NOWAIT, SIGEV_THREAD },
};
#define NSTEPS ((int)(sizeof steps / sizeof steps[0]))

/* VmSize in bytes, read without allocating; 0 if unknown. */
static unsigned long vm_size(void)
{
    static char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strstr(buf, "VmSize:");
    return p ? strtoul(p + 7, NULL, 10) * 1024 : 0;
}

/* Grow the main stack's mapping now, so later calls never need to. */
static void __attribute__((noinline)) pregrow_stack(void)
{
    volatile char big[512 * 1024];
    for (size_t i = 0; i < sizeof big; i += 4096) big[i] = 1;
}

static int run_steps(const char *tag, struct r_env *v, int base)
{
    int acc = 0;
    for (int i = 0; i < NSTEPS; i++) {
        char what[160];
        snprintf(what, sizeof what, "%s, step %d %s, %s", tag, i, r_path_names[steps[i].path],
                 r_note_name(steps[i].note));
        acc += r_run_case(what, v, steps[i].path, steps[i].note, base + i * 10);
    }
    return acc;
}

static void child(void *arg)
{
    long packed = (long)arg;
    int k = Ks[packed / 2], warm = (int)(packed % 2);
    char tag[64];
    snprintf(tag, sizeof tag, "K=%d MiB %s", k, warm ? "warm" : "fresh");
    r_stage = tag;
    r_opt.allow_enomem = 1;
    r_opt.notes_required = 0;
    struct r_env v;
    if (r_env_open(&v) != 0) { OUT("%s: open failed", tag); _exit(2); }
    pregrow_stack();
    if (warm) {
        char t2[128];
        snprintf(t2, sizeof t2, "%s (before the limit)", tag);
        run_steps(t2, &v, 0);
    }
    unsigned long vm = vm_size();
    if (!vm) { OUT("%s: no VmSize", tag); _exit(2); }
    struct rlimit rl = { vm + (unsigned long)k * 1024 * 1024, vm + (unsigned long)k * 1024 * 1024 };
    if (setrlimit(RLIMIT_AS, &rl) != 0) { OUT("%s: setrlimit: %s", tag, errname(errno)); _exit(2); }
    NOTE("%s: VmSize %lu KiB, RLIMIT_AS %lu KiB", tag, vm / 1024, (unsigned long)rl.rlim_cur / 1024);
    int acc = run_steps(tag, &v, 120);
    NOTE("%s: %d request(s) accepted under the limit; VmSize now %lu KiB", tag, acc,
         vm_size() / 1024);
    r_note_counters(tag);
}

int main(void)
{
    t_init("test_rel_low_memory", 30);
    struct r_child c[2 * NK];
    for (int i = 0; i < 2 * NK; i++) r_child_start(&c[i], child, (void *)(long)i, 10);
    r_child_wait_all(c, 2 * NK, 15);
    for (int i = 0; i < 2 * NK; i++) {
        r_child_print(&c[i]);
        int st = c[i].status;
        int normal = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) <= 1;
        OUT("K=%d MiB, limit set %s: child %s", Ks[i / 2],
            i % 2 ? "after AIO ran" : "before the first aio call",
            normal ? "exited normally" : r_status_str(st));
        CHECK(normal && WEXITSTATUS(st) == 0, "K=%d MiB %s: child %s", Ks[i / 2],
              i % 2 ? "warm" : "fresh", r_status_str(st));
    }
    return t_done();
}
