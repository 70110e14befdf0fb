/* A small AIO workload on every path, for test_rel_no_threads and
 * test_rel_low_memory (issue 9). Include after harness.h and
 * harness_rel_res.h.
 *
 * r_env_open() prepares everything a case needs before resources are taken
 * away (a 256 KiB file opened buffered and O_DIRECT, static buffers), so a
 * case itself allocates nothing. r_run_case() runs one case:
 *   paths: a buffered read of data not in the page cache (fdatasync +
 *   POSIX_FADV_DONTNEED first) or in it, a buffered write, an O_DIRECT
 *   read, a pipe read whose 100 bytes are written after the submission,
 *   aio_write + aio_fsync, lio_listio(LIO_NOWAIT) with a list sigevent,
 *   lio_listio(LIO_WAIT) (a cold read, an O_DIRECT read, a write);
 *   notification: SIGEV_NONE, SIGEV_SIGNAL or SIGEV_THREAD.
 * and asserts: each submission returns 0 or -1 with an allowed errno
 * (lio_listio: also EIO; each entry then EAGAIN/allowed or accepted);
 * an accepted request completes within 3 s with the right result and data;
 * notifications (r_opt.notes_required): an accepted request's notification
 * arrives within the 3 s while the program only waits for it (sigtimedwait
 * or a flag set by the SIGEV_THREAD function), and exactly once; none for
 * a refused request; a refused-entirely lio_listio(LIO_NOWAIT) may still
 * notify, at most once. Without notes_required: at most once (awaited for
 * 300 ms after completion; a NOTE says if it was lost).
 * The cold region is checked with mincore() before the submission. An
 * RWF_NOWAIT read of it (kaio's first attempt) still starts the kernel's
 * read of those pages and may find them ready if the caller is preempted
 * meanwhile (seen under a CPU hog): then a "cold" read completes inline.
 * Either outcome passes; it only means that run did not reach the pool.
 */
#ifndef KAIO_HARNESS_REL_WORK_H
#define KAIO_HARNESS_REL_WORK_H

#define R_BOUND_US 3000000LL
#define R_LEN 16384
#define R_FSIZE (256 * 1024)
#define R_PIPE_MSG 100
#define R_SEED_FILE 70
#define R_SEED_WRITE 71
#define R_SEED_PIPE 72
#define R_OFF_COLD (64 * 1024)
#define R_OFF_HOT (128 * 1024)
#define R_OFF_DIRECT (192 * 1024)
#define R_MAX_IDS 256

enum r_path {
    R_COLD_READ, R_HOT_READ, R_BUF_WRITE, R_DIRECT_READ, R_PIPE_READ, R_FSYNC,
    R_LIO_NOWAIT, R_LIO_WAIT,
};
static const char *const r_path_names[] = {
    "cold buffered read", "hot buffered read", "buffered write", "O_DIRECT read",
    "pipe read completed later", "aio_write + aio_fsync", "lio_listio(LIO_NOWAIT) list sigevent",
    "lio_listio(LIO_WAIT) cold read + O_DIRECT read + write",
};

static inline const char *r_note_name(int n)
{
    return n == SIGEV_NONE ? "SIGEV_NONE" : n == SIGEV_SIGNAL ? "SIGEV_SIGNAL" : "SIGEV_THREAD";
}

static struct {
    int allow_enomem;   /* ENOMEM is also an acceptable refusal */
    int notes_required; /* notifications must arrive (else: at most once) */
    pthread_attr_t *thread_attr; /* for SIGEV_THREAD */
} r_opt;

static volatile int r_thr_notes[R_MAX_IDS];
static int r_sig_notes[R_MAX_IDS];
static int r_sig;

static void r_on_note(union sigval v)
{
    if (v.sival_int >= 0 && v.sival_int < R_MAX_IDS)
        __atomic_fetch_add(&r_thr_notes[v.sival_int], 1, __ATOMIC_SEQ_CST);
}

struct r_env {
    int fd, fd_direct;
    void *cold_map; /* PROT_READ mapping of the cold region (for mincore) */
};

static _Alignas(4096) char r_bufs[3][R_LEN];
static _Alignas(4096) char r_wbuf[R_LEN];
static char r_back[R_LEN];

/* Create and open the file, block r_sig. Returns 0, or -1. */
static inline int r_env_open(struct r_env *v)
{
    r_sig = SIGRTMIN + 3;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, r_sig);
    sigprocmask(SIG_BLOCK, &set, NULL);
    const char *path = t_make_file(0, "rel_work", R_FSIZE, R_SEED_FILE);
    v->fd = open(path, O_RDWR);
    v->fd_direct = open(path, O_RDONLY | O_DIRECT);
    unlink(path);
    fill_pat(r_wbuf, R_LEN, 0, R_SEED_WRITE);
    if (v->fd < 0 || v->fd_direct < 0) return -1;
    /* mincore() tells page-cache residency only to who may write the file
     * (test_rel_no_threads drops to uid 65534); the file is unlinked. */
    fchmod(v->fd, 0666);
    v->cold_map = mmap(NULL, R_LEN, PROT_READ, MAP_SHARED, v->fd, R_OFF_COLD);
    return v->cold_map == MAP_FAILED ? -1 : 0;
}

struct r_rq {
    struct aiocb cb;
    int op; /* 'r' read, 'w' write, 'f' fsync */
    int pipe;
    int accepted;
    int id;
};

static inline void r_set_note(struct sigevent *ev, int note, int id)
{
    memset(ev, 0, sizeof *ev);
    ev->sigev_notify = note;
    ev->sigev_value.sival_int = id;
    if (note == SIGEV_SIGNAL) ev->sigev_signo = r_sig;
    if (note == SIGEV_THREAD) {
        ev->sigev_notify_function = r_on_note;
        ev->sigev_notify_attributes = r_opt.thread_attr;
    }
}

/* Did a submission return 0 (accepted) or -1 with an allowed errno? */
static inline int r_accepted(const char *what, int r, int e)
{
    if (r == 0) return 1;
    CHECK(e == EAGAIN || (r_opt.allow_enomem && e == ENOMEM),
          "%s: -1 with %s (only EAGAIN%s is allowed)", what, errname(e),
          r_opt.allow_enomem ? " or ENOMEM" : "");
    NOTE("%s: refused (-1, %s)", what, errname(e));
    return 0;
}

/* Pick up signal notifications arriving within wait_us. */
static inline void r_collect_signals(long long wait_us)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, r_sig);
    long long end = r_now_us() + wait_us;
    for (;;) {
        long long left = end - r_now_us();
        if (left < 0) left = 0;
        struct timespec ts = { left / 1000000, (left % 1000000) * 1000 };
        siginfo_t si;
        int s = sigtimedwait(&set, &si, &ts);
        if (s == r_sig) {
            int id = si.si_value.sival_int;
            if (id >= 0 && id < R_MAX_IDS) r_sig_notes[id]++;
            continue;
        }
        if (s < 0 && errno == EINTR) continue;
        return;
    }
}

static inline int r_notes_of(int note, int id)
{
    return note == SIGEV_SIGNAL ? r_sig_notes[id] : note == SIGEV_THREAD ? r_thr_notes[id] : 0;
}

/* Wait (until `end`) for the notification of `id`, calling no aio_*. */
static inline int r_wait_note(int note, int id, long long end)
{
    while (r_notes_of(note, id) == 0 && r_now_us() < end) {
        if (note == SIGEV_SIGNAL) r_collect_signals(20000);
        else r_sleep_ms(2);
    }
    return r_notes_of(note, id) > 0;
}

static inline int r_wait_done(struct aiocb *cb, long long end)
{
    const struct aiocb *l[1] = { cb };
    while (aio_error(cb) == EINPROGRESS) {
        long long left = end - r_now_us();
        if (left <= 0) return 0;
        struct timespec ts = { left / 1000000, (left % 1000000) * 1000 };
        aio_suspend(l, 1, &ts);
    }
    return 1;
}

/* Check an accepted, completed request's result and data; 1 if right. */
static inline int r_verify(const char *what, struct r_rq *q, int fd)
{
    int e = aio_error(&q->cb);
    ssize_t n = aio_return(&q->cb);
    size_t want = q->op == 'f' ? 0 : q->pipe ? R_PIPE_MSG : R_LEN;
    int right = e == 0 && n == (ssize_t)want;
    if (right && q->op == 'r')
        right = check_pat((const void *)q->cb.aio_buf, want,
                          q->pipe ? 0 : (uint64_t)q->cb.aio_offset,
                          q->pipe ? R_SEED_PIPE : R_SEED_FILE) < 0;
    if (right && q->op == 'w')
        right = pread(fd, r_back, R_LEN, q->cb.aio_offset) == R_LEN &&
                check_pat(r_back, R_LEN, (uint64_t)q->cb.aio_offset, R_SEED_WRITE) < 0;
    CHECK(right, "%s: request %d (%c) completed with aio_error %s, aio_return %zd (want %zu)%s",
          what, q->id % 10, q->op, errname(e), n, want,
          e == 0 && n == (ssize_t)want ? ", wrong data" : "");
    return right;
}

static inline void r_prep(struct r_rq *q, struct r_env *v, enum r_path p, int id, int slot,
                          int pipe_rd)
{
    memset(q, 0, sizeof *q);
    q->id = id;
    char *b = r_bufs[slot];
    memset(b, 0, R_LEN);
    switch (p) {
    case R_COLD_READ: t_cb(&q->cb, v->fd, b, R_LEN, R_OFF_COLD); q->op = 'r'; break;
    case R_HOT_READ: t_cb(&q->cb, v->fd, b, R_LEN, R_OFF_HOT); q->op = 'r'; break;
    case R_DIRECT_READ: t_cb(&q->cb, v->fd_direct, b, R_LEN, R_OFF_DIRECT); q->op = 'r'; break;
    case R_PIPE_READ: t_cb(&q->cb, pipe_rd, b, R_LEN, 0); q->op = 'r'; q->pipe = 1; break;
    default: t_cb(&q->cb, v->fd, r_wbuf, R_LEN, 0); q->op = 'w'; break;
    }
}

/* Wait until `end` for the notifications of the accepted requests (or of
 * the list); CHECK (notes_required) or NOTE those that did not come.
 * Returns 1 if one did not come. */
static inline int r_wait_notes(const char *what, enum r_path path, struct r_rq *q, int nq,
                               int list_note, int list_id, int list_accepted, long long end)
{
    int late = 0;
    if (path == R_LIO_NOWAIT) {
        if (list_accepted > 0 && !r_wait_note(list_note, list_id, end)) {
            late = 1;
            int list_notified_within_3s = 0;
            if (r_opt.notes_required)
                CHECK(list_notified_within_3s, "%s: the list notification did not arrive within "
                      "3 s (%d of 3 entries accepted)", what, list_accepted);
            else NOTE("%s: the list notification did not arrive", what);
        }
        return late;
    }
    for (int i = 0; i < nq; i++) {
        int n = q[i].cb.aio_sigevent.sigev_notify;
        if (q[i].accepted && n != SIGEV_NONE && !r_wait_note(n, q[i].id, end)) {
            late = 1;
            int notified_within_3s = 0;
            if (r_opt.notes_required)
                CHECK(notified_within_3s, "%s: request accepted, its %s notification did not "
                      "arrive within 3 s", what, r_note_name(n));
            else NOTE("%s: the %s notification did not arrive", what, r_note_name(n));
        }
    }
    return late;
}

/* Run one case; ids base..base+9 name its notifications (base % 10 == 0,
 * base + 9 < R_MAX_IDS). Returns the number of accepted requests. */
static inline int r_run_case(const char *what, struct r_env *v, enum r_path path, int note,
                             int base)
{
    struct r_rq q[3];
    int nq = 0, list_note = SIGEV_NONE, list_accepted = 0, list_id = base + 9;
    int p[2] = { -1, -1 };
    long long end = r_now_us() + R_BOUND_US;
    /* The page cache as the case wants it (nothing here allocates). */
    fdatasync(v->fd);
    posix_fadvise(v->fd, 0, 0, POSIX_FADV_DONTNEED);
    if (r_drop_cache(v->fd, R_OFF_COLD, R_LEN, v->cold_map) != 1)
        NOTE("%s: the cold region is still (partly) in the page cache", what);
    int warmed = pread(v->fd, r_back, R_LEN, R_OFF_HOT) == R_LEN;
    CHECK(warmed, "%s: pread of the hot region", what);
    if (path == R_PIPE_READ && pipe(p) != 0) {
        CHECK(0, "%s: pipe: %s", what, errname(errno));
        return 0;
    }
    r_stage = what;
    switch (path) {
    case R_COLD_READ: case R_HOT_READ: case R_DIRECT_READ: case R_PIPE_READ: case R_BUF_WRITE: {
        r_prep(&q[0], v, path, base, 0, p[0]);
        r_set_note(&q[0].cb.aio_sigevent, note, base);
        int r = q[0].op == 'r' ? aio_read(&q[0].cb) : aio_write(&q[0].cb);
        q[0].accepted = r_accepted(what, r, errno);
        nq = 1;
        if (path == R_PIPE_READ) {
            char msg[R_PIPE_MSG];
            fill_pat(msg, sizeof msg, 0, R_SEED_PIPE);
            CHECK(write(p[1], msg, sizeof msg) == (ssize_t)sizeof msg, "%s: pipe write", what);
        }
        break;
    }
    case R_FSYNC: {
        r_prep(&q[0], v, R_BUF_WRITE, base, 0, -1);
        int r = aio_write(&q[0].cb);
        q[0].accepted = r_accepted(what, r, errno);
        memset(&q[1], 0, sizeof q[1]);
        t_cb(&q[1].cb, v->fd, NULL, 0, 0);
        q[1].op = 'f';
        q[1].id = base + 1;
        r_set_note(&q[1].cb.aio_sigevent, note, base + 1);
        r = aio_fsync(O_SYNC, &q[1].cb);
        q[1].accepted = r_accepted(what, r, errno);
        nq = 2;
        break;
    }
    case R_LIO_NOWAIT: case R_LIO_WAIT: {
        r_prep(&q[0], v, R_COLD_READ, base, 0, -1);
        r_prep(&q[1], v, R_DIRECT_READ, base + 1, 1, -1);
        r_prep(&q[2], v, R_BUF_WRITE, base + 2, 2, -1);
        q[0].cb.aio_lio_opcode = LIO_READ;
        q[1].cb.aio_lio_opcode = LIO_READ;
        q[2].cb.aio_lio_opcode = LIO_WRITE;
        nq = 3;
        struct aiocb *list[3] = { &q[0].cb, &q[1].cb, &q[2].cb };
        struct sigevent ev;
        list_note = path == R_LIO_NOWAIT ? note : SIGEV_NONE;
        r_set_note(&ev, list_note, list_id);
        int r = lio_listio(path == R_LIO_WAIT ? LIO_WAIT : LIO_NOWAIT, list, 3,
                           list_note == SIGEV_NONE ? NULL : &ev);
        int e = errno;
        if (r != 0) {
            CHECK(e == EAGAIN || e == EIO || (r_opt.allow_enomem && e == ENOMEM),
                  "%s: lio_listio -1 with %s (EAGAIN or EIO allowed)", what, errname(e));
            NOTE("%s: lio_listio = -1, %s", what, errname(e));
        }
        for (int i = 0; i < 3; i++) {
            int ee = aio_error(&q[i].cb);
            q[i].accepted = r == 0 || !(ee == EAGAIN || (r_opt.allow_enomem && ee == ENOMEM));
            list_accepted += q[i].accepted;
            if (!q[i].accepted) NOTE("%s: entry %d refused (%s)", what, i, errname(ee));
            if (path == R_LIO_WAIT && q[i].accepted)
                CHECK(ee != EINPROGRESS, "%s: entry %d still in progress after LIO_WAIT returned",
                      what, i);
        }
        break;
    }
    }
    r_stage = "waiting for completions";

    int late = 0, accepted_n = 0, good = 0, all_done = 1;
    /* Required notifications are awaited first, by themselves (no aio_*
     * call while waiting); optional ones only briefly, after completion. */
    if (r_opt.notes_required)
        late = r_wait_notes(what, path, q, nq, list_note, list_id, list_accepted, end);
    for (int i = 0; i < nq; i++) {
        if (!q[i].accepted) continue;
        accepted_n++;
        int complete_within_3s = r_wait_done(&q[i].cb, end);
        CHECK(complete_within_3s, "%s: request %d (%c) accepted but not complete after 3 s",
              what, i, q[i].op);
        if (complete_within_3s) good += r_verify(what, &q[i], v->fd);
        else all_done = 0;
    }
    if (!r_opt.notes_required) {
        long long soon = r_now_us() + 300000;
        late = r_wait_notes(what, path, q, nq, list_note, list_id, list_accepted,
                            soon < end ? soon : end);
    }
    /* 3. Exactly once: late or duplicate notifications. */
    r_collect_signals(100000);
    if (path != R_LIO_NOWAIT && path != R_LIO_WAIT) {
        for (int i = 0; i < nq; i++) {
            int n = q[i].cb.aio_sigevent.sigev_notify;
            if (n == SIGEV_NONE) continue;
            int got = r_notes_of(n, q[i].id), want = q[i].accepted ? 1 : 0;
            if (r_opt.notes_required)
                CHECK(got == want || (late && got == 0), "%s: request %d: %d notification(s), "
                      "want %d", what, i, got, want);
            else
                CHECK(got <= want, "%s: request %d: %d notification(s), want at most %d", what, i,
                      got, want);
        }
    }
    if (path == R_LIO_NOWAIT) {
        int got = r_notes_of(list_note, list_id);
        if (r_opt.notes_required && list_accepted > 0)
            CHECK(got == 1 || (late && got == 0), "%s: %d list notification(s), want 1", what, got);
        else
            CHECK(got <= 1, "%s: %d list notification(s), want at most 1", what, got);
    }
    NOTE("%s: %d request(s), %d accepted, %d complete and right%s", what, nq, accepted_n, good,
         path == R_LIO_NOWAIT ? (r_notes_of(list_note, list_id) ? "; list notified" :
                                 "; list not notified") : "");
    if (p[0] >= 0 && all_done) { close(p[0]); close(p[1]); }
    return accepted_n;
}

#endif
