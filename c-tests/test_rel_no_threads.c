/* Issue 9, case 7: no thread can be created (RLIMIT_NPROC used up, a
 * container's pids.max full). POSIX lets a submission fail with -1/EAGAIN
 * when resources are short ("the request was not queued due to system
 * resource limitations"); a request that WAS accepted must complete, and
 * its notification must arrive, exactly once, by itself (the program need
 * not call into the AIO library to make it happen).
 *
 * Each case runs in a fork()ed child in which thread creation is made
 * impossible before the first aio call, in two ways:
 *   seccomp  a filter makes clone() with CLONE_THREAD fail with EAGAIN and
 *            clone3() fail with ENOSYS (so glibc falls back to clone);
 *   nproc    RLIMIT_NPROC = 1, then setresuid/setresgid(65534) (root is
 *            exempt from RLIMIT_NPROC; uid 65534 already has this process,
 *            so no new thread fits). Skipped if we cannot change uid.
 * Each child first checks that pthread_create really fails (EAGAIN).
 * "control": the same cases with threads allowed (every request must then
 * be accepted: this proves the checks of accepted requests on glibc).
 * Cases: buffered reads of data not in the page cache (fsync +
 * POSIX_FADV_DONTNEED) and in it, buffered writes, O_DIRECT reads, pipe
 * reads whose data is written after the submission, aio_fsync after a
 * write, lio_listio(LIO_NOWAIT) with a list sigevent, lio_listio(LIO_WAIT);
 * with SIGEV_NONE, SIGEV_SIGNAL and SIGEV_THREAD.
 * For each submission: either -1/EAGAIN (for lio_listio: -1/EAGAIN or EIO,
 * each entry EAGAIN or accepted), or the request completes within 3 s with
 * the right result and data, and its notification arrives within those 3 s
 * while the program only waits for it (sigtimedwait, or a flag the
 * SIGEV_THREAD function sets), and exactly once (none for a refused one).
 * A refused lio_listio(LIO_NOWAIT) may still send its list notification
 * (glibc does): at most once then.
 *
 * glibc 2.36: every submission fails with -1/EAGAIN (it cannot start a
 * helper thread and has none), lio_listio likewise (LIO_NOWAIT: the list
 * signal is still sent). The test passes on glibc. */
#include "harness.h"
#include "harness_rel_res.h"
#include "harness_rel_work.h"
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>

enum method { M_CONTROL, M_SECCOMP, M_NPROC };
static const char *const method_names[] = { "control", "seccomp", "nproc" };
#define NMETHODS 3

static const struct tcase { enum r_path path; int note; } cases[] = {
    { R_COLD_READ, SIGEV_NONE }, { R_COLD_READ, SIGEV_SIGNAL }, { R_COLD_READ, SIGEV_THREAD },
    { R_HOT_READ, SIGEV_SIGNAL }, { R_HOT_READ, SIGEV_THREAD },
    { R_BUF_WRITE, SIGEV_NONE }, { R_BUF_WRITE, SIGEV_SIGNAL },
    { R_DIRECT_READ, SIGEV_NONE }, { R_DIRECT_READ, SIGEV_SIGNAL }, { R_DIRECT_READ, SIGEV_THREAD },
    { R_PIPE_READ, SIGEV_NONE }, { R_PIPE_READ, SIGEV_SIGNAL }, { R_PIPE_READ, SIGEV_THREAD },
    { R_FSYNC, SIGEV_NONE }, { R_FSYNC, SIGEV_SIGNAL },
    { R_LIO_NOWAIT, SIGEV_SIGNAL }, { R_LIO_NOWAIT, SIGEV_THREAD },
    { R_LIO_WAIT, SIGEV_NONE },
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* ---- making thread creation impossible ---------------------------------- */

static int block_seccomp(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* clone(flags, ...): the low 32 bits of flags */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAGAIN),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

static int block_nproc(void)
{
    struct rlimit rl = { 1, 1 };
    if (setrlimit(RLIMIT_NPROC, &rl) != 0) return -1;
    if (setgroups(0, NULL) != 0) return -1;
    if (setresgid(65534, 65534, 65534) != 0) return -1;
    return setresuid(65534, 65534, 65534);
}

static void *idle_thread(void *a) { return a; }

static void run_case(void *arg)
{
    long packed = (long)arg;
    enum method m = (enum method)(packed / 100);
    const struct tcase *tc = &cases[packed % 100];
    char what[160];
    snprintf(what, sizeof what, "[%s] %s, %s", method_names[m], r_path_names[tc->path],
             r_note_name(tc->note));
    r_stage = what;
    r_opt.notes_required = 1;
    struct r_env v;
    if (r_env_open(&v) != 0) { OUT("%s: open failed", what); _exit(2); }
    if (m != M_CONTROL) {
        if ((m == M_SECCOMP ? block_seccomp() : block_nproc()) != 0) {
            NOTE("%s: cannot block thread creation: %s", what, errname(errno));
            _exit(77);
        }
        pthread_t th;
        int pr = pthread_create(&th, NULL, idle_thread, NULL);
        if (pr == 0) {
            pthread_join(th, NULL);
            NOTE("%s: pthread_create still works", what);
            _exit(77);
        }
        NOTE("%s: pthread_create = %s", what, errname(pr));
    }
    int acc = r_run_case(what, &v, tc->path, tc->note, 0);
    if (m == M_CONTROL) {
        int nq = tc->path == R_FSYNC ? 2 : tc->path >= R_LIO_NOWAIT ? 3 : 1;
        CHECK(acc == nq, "%s: with threads allowed, %d of %d accepted", what, acc, nq);
    }
    r_note_counters(what);
    OUT("%s: %s", what, t_failures ? "NOT ok" : "ok");
}

int main(void)
{
    t_init("test_rel_no_threads", 30);
    /* Every method and case in its own child, all in parallel. */
    static struct r_child c[NMETHODS][NCASES];
    for (int m = 0; m < NMETHODS; m++)
        for (int i = 0; i < NCASES; i++)
            r_child_start(&c[m][i], run_case, (void *)(long)(m * 100 + i), 6);
    r_child_wait_all(&c[0][0], NMETHODS * NCASES, 12);
    int usable = 0;
    for (int m = 0; m < NMETHODS; m++) {
        int skipped = 0;
        for (int i = 0; i < NCASES; i++) {
            int st = c[m][i].status;
            if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 77) {
                if (skipped++ == 0) r_child_print(&c[m][i]); /* says why (a NOTE) */
                else close(c[m][i].cap);
                continue;
            }
            r_child_print(&c[m][i]);
            if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) continue;
            t_failures++;
            if (!(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1))
                OUT("[%s] %s, %s: child %s", method_names[m], r_path_names[cases[i].path],
                    r_note_name(cases[i].note), r_status_str(st));
        }
        if (skipped == NCASES)
            OUT("[%s]: thread creation cannot be blocked this way here", method_names[m]);
        else usable += m != M_CONTROL;
        CHECK(skipped == 0 || skipped == NCASES, "[%s]: %d of %d children could not block threads",
              method_names[m], skipped, NCASES);
    }
    if (!usable) T_SKIP("thread creation could not be blocked");
    return t_done();
}
