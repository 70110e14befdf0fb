/* A signal handler that waits for AIO (issue 9, case 4). aio_suspend,
 * aio_error and aio_return are async-signal-safe (POSIX), so a handler may
 * wait for a request Y while its thread was itself interrupted inside
 * aio_suspend waiting for another request X.
 *
 * Each round: the main thread submits a long O_DIRECT read (harness_rel_sig.h;
 * X is its last part) and waits for X in aio_suspend (4 s timeout). A second
 * thread sends SIGUSR1 (no SA_RESTART) to the main thread once /proc shows it
 * asleep in that wait. The handler waits for Y, either with aio_suspend (1 s
 * timeout) or by spinning on aio_error for at most 1 s (clock_gettime), and
 * records aio_error/aio_return of Y. Asserted: the handler sees Y complete
 * (aio_suspend 0, aio_error 0, aio_return the expected count, the right
 * bytes); afterwards main's aio_suspend returns 0 or -1/EINTR, X completes
 * with the right data and so does the rest of the long read.
 * Kinds of Y:
 *   direct-before  1 MiB O_DIRECT read (another fd) submitted before the signal
 *   direct-during  the same, submitted by another thread while the handler waits
 *   pipe-before    pipe read submitted before the signal; another thread
 *                  writes the pipe while the handler waits
 *   pipe-during    pipe read submitted and written by another thread while
 *                  the handler waits
 *   cold-before    1 MiB buffered read of a file dropped from the page cache
 * A round whose signal did not land while main was in aio_suspend (the long
 * read finished first) is repeated (up to 3 attempts; NOTE lines). */
#include "harness_rel_sig.h"

enum kind { K_DIRECT_BEFORE, K_DIRECT_DURING, K_PIPE_BEFORE, K_PIPE_DURING, K_COLD_BEFORE, K_N };
static const char *kind_name[K_N] = { "direct-before", "direct-during", "pipe-before",
                                      "pipe-during", "cold-before" };
enum variant { V_SUSPEND, V_SPIN };

#define YLEN (1u << 20)
#define PIPE_MSG 100
#define HWAIT 1.0 /* seconds the handler waits for Y */

static struct aiocb ycb;
static char *ybuf;
static int cur_kind, cur_variant, ypipe[2] = { -1, -1 }, dfd, cfd;
static volatile int main_armed, main_returned, h_started, h_done, h_main_in_suspend,
    y_submitted, h_rc, h_errno, h_err, actor_wrote;
static volatile long h_ret;
static int still_in_flight; /* a request never completed: keep the buffers */
static volatile double h_secs;

static int during(int k) { return k == K_DIRECT_DURING || k == K_PIPE_DURING; }

static void on_usr1(int sig)
{
    (void)sig;
    int saved = errno;
    h_main_in_suspend = main_armed && !main_returned;
    double t0 = rs_now();
    __atomic_store_n(&h_started, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&y_submitted, __ATOMIC_ACQUIRE) && rs_now() - t0 < HWAIT)
        rs_sleep_ms(1);
    h_rc = -2;
    h_errno = 0;
    if (!y_submitted) {
        h_err = -1;
        h_ret = -1;
    } else {
        double t1 = rs_now();
        if (cur_variant == V_SUSPEND) {
            const struct aiocb *l[1] = { &ycb };
            struct timespec to = { (time_t)HWAIT, 0 };
            h_rc = aio_suspend(l, 1, &to);
            h_errno = h_rc ? errno : 0;
        } else {
            while (aio_error(&ycb) == EINPROGRESS && rs_now() - t1 < HWAIT)
                ;
        }
        h_err = aio_error(&ycb);
        h_ret = h_err == 0 ? (long)aio_return(&ycb) : -1;
    }
    h_secs = rs_now() - t0;
    __atomic_store_n(&h_done, 1, __ATOMIC_RELEASE);
    errno = saved;
}

static void prepare_y(void)
{
    memset(ybuf, 0, YLEN);
    switch (cur_kind) {
    case K_DIRECT_BEFORE:
    case K_DIRECT_DURING:
        t_cb(&ycb, dfd, ybuf, YLEN, RS_LEN);
        break;
    case K_PIPE_BEFORE:
    case K_PIPE_DURING:
        if (pipe(ypipe) != 0) { OUT("pipe: %s", errname(errno)); exit(1); }
        t_cb(&ycb, ypipe[0], ybuf, 4096, 0);
        break;
    default:
        (void)posix_fadvise(cfd, 0, 0, POSIX_FADV_DONTNEED);
        t_cb(&ycb, cfd, ybuf, YLEN, 0);
        break;
    }
}

static void write_pipe_msg(void)
{
    char msg[PIPE_MSG];
    fill_pat(msg, sizeof msg, 0, 44);
    if (write(ypipe[1], msg, sizeof msg) != (ssize_t)sizeof msg) {
        OUT("write(pipe): %s", errname(errno));
        exit(1);
    }
    actor_wrote = 1;
}

/* Submits Y (during kinds) and writes Y's pipe once the handler runs. */
static void *actor(void *arg)
{
    (void)arg;
    double t0 = rs_now();
    while (!__atomic_load_n(&h_started, __ATOMIC_ACQUIRE)) {
        if (rs_now() - t0 > 6) return NULL;
        rs_sleep_ms(1);
    }
    if (during(cur_kind)) {
        if (aio_read(&ycb) != 0) {
            OUT("aio_read(Y) in the actor: %s", errname(errno));
            exit(1);
        }
        __atomic_store_n(&y_submitted, 1, __ATOMIC_RELEASE);
    }
    if (cur_kind == K_PIPE_BEFORE || cur_kind == K_PIPE_DURING) {
        rs_sleep_ms(20); /* the handler is waiting by now */
        write_pipe_msg();
    }
    return NULL;
}

static int y_data_ok(void)
{
    if (cur_kind == K_PIPE_BEFORE || cur_kind == K_PIPE_DURING) {
        char msg[PIPE_MSG];
        fill_pat(msg, sizeof msg, 0, 44);
        return memcmp(ybuf, msg, sizeof msg) == 0;
    }
    if (cur_kind == K_COLD_BEFORE) return check_pat(ybuf, YLEN, 0, 42) < 0;
    return check_pat(ybuf, YLEN, RS_LEN, 41) < 0;
}

static long y_expected(void)
{
    return cur_kind == K_PIPE_BEFORE || cur_kind == K_PIPE_DURING ? PIPE_MSG : (long)YLEN;
}

/* 1: round done (printed); 0: the signal missed aio_suspend, try again. */
static int run_round(struct rs_long *L, int attempt)
{
    const char *vname = cur_variant == V_SUSPEND ? "aio_suspend" : "aio_error-spin";
    main_armed = main_returned = h_started = h_done = h_main_in_suspend = 0;
    y_submitted = actor_wrote = 0;
    h_rc = -2;
    h_err = -1;
    h_ret = -1;
    prepare_y();
    if (rs_long_submit(L) != 0) exit(1);
    if (!during(cur_kind)) {
        if (aio_read(&ycb) != 0) { OUT("aio_read(Y): %s", errname(errno)); exit(1); }
        __atomic_store_n(&y_submitted, 1, __ATOMIC_RELEASE);
    }
    pthread_t act;
    int has_actor = cur_kind != K_DIRECT_BEFORE && cur_kind != K_COLD_BEFORE;
    if (has_actor && pthread_create(&act, NULL, actor, NULL) != 0) {
        OUT("pthread_create");
        exit(1);
    }
    struct rs_signaller s = { .target = pthread_self(), .tid = rs_gettid(), .sig = SIGUSR1,
                              .armed = &main_armed, .returned = &main_returned, .give_up = 3 };
    rs_signaller_start(&s);

    struct aiocb *x = rs_long_x(L);
    const struct aiocb *lx[1] = { x };
    struct timespec to = { 4, 0 };
    __atomic_store_n(&main_armed, 1, __ATOMIC_RELEASE);
    int r = aio_suspend(lx, 1, &to);
    int err = errno;
    __atomic_store_n(&main_returned, 1, __ATOMIC_RELEASE);
    rs_signaller_join(&s);
    if (s.sent) {
        double t0 = rs_now();
        while (!__atomic_load_n(&h_done, __ATOMIC_ACQUIRE) && rs_now() - t0 < 3)
            rs_sleep_ms(1);
    }
    if (has_actor) {
        if (!s.sent) h_started = 1; /* let the actor finish */
        pthread_join(act, NULL);
    }
    int missed = !s.sent || !h_main_in_suspend || !h_done;

    /* Afterwards: Y completes (if the handler did not see it), X and the
     * rest of the long read complete. */
    if ((cur_kind == K_PIPE_BEFORE || cur_kind == K_PIPE_DURING) && y_submitted && !actor_wrote)
        write_pipe_msg();
    double dl = rs_now() + 3;
    int y_later = y_submitted ? rs_wait_until(&ycb, dl) : -1;
    int ye = y_submitted ? aio_error(&ycb) : -1;
    long yr = ye == 0 ? (long)aio_return(&ycb) : -1;
    int xe_wait = rs_wait_until(x, dl);
    int xe = aio_error(x);
    long xr = xe == 0 ? (long)aio_return(x) : -1;
    int xdata = xe == 0 && check_pat(L->xbuf, RS_LEN, 0, 41) < 0;
    int rest = 0;
    for (int i = 0; i < RS_NF - 1; i++)
        if (rs_wait_until(&L->cb[i], dl) == 0 && aio_error(&L->cb[i]) == 0 &&
            aio_return(&L->cb[i]) == (ssize_t)RS_LEN)
            rest++;
    for (int i = 0; i < RS_NF; i++)
        if (aio_error(&L->cb[i]) == EINPROGRESS) still_in_flight = 1;
    if (y_submitted && ye == EINPROGRESS) still_in_flight = 1;
    if (ypipe[0] >= 0) {
        close(ypipe[0]);
        close(ypipe[1]);
        ypipe[0] = ypipe[1] = -1;
    }
    NOTE("round %s/%s attempt %d: signal %s after %.1f ms, in aio_suspend %d; handler %.3f s; "
         "main aio_suspend %d %s",
         kind_name[cur_kind], vname, attempt, s.sent ? "sent" : "not sent", s.waited * 1e3,
         h_main_in_suspend, h_secs, r, r ? errname(err) : "");
    if (missed && attempt < 3) {
        NOTE("  the signal missed main's aio_suspend: round repeated");
        return 0;
    }
    CHECK(!missed, "round %s/%s: signal never landed in main's aio_suspend", kind_name[cur_kind], vname);

    const char *hs = cur_variant == V_SUSPEND ? (h_rc == 0 ? "0" : errname(h_errno)) : "-";
    OUT("%s/%s: in handler: aio_suspend %s, aio_error %s, aio_return %ld; data %s", kind_name[cur_kind],
        vname, hs, h_err < 0 ? "?" : errname(h_err), h_ret,
        h_err == 0 && h_ret == y_expected() && y_data_ok() ? "right" : "WRONG");
    if (cur_variant == V_SUSPEND)
        CHECK(h_rc == 0, "%s: aio_suspend(Y) in the handler = %d %s after %.3f s", kind_name[cur_kind],
              h_rc, errname(h_errno), h_secs);
    CHECK(h_err == 0, "%s/%s: Y in the handler: aio_error %s after %.3f s", kind_name[cur_kind], vname,
          h_err < 0 ? "?" : errname(h_err), h_secs);
    CHECK(h_err != 0 || h_ret == y_expected(), "%s/%s: aio_return(Y) %ld", kind_name[cur_kind], vname,
          h_ret);
    int main_ok = r == 0 || (r == -1 && err == EINTR);
    OUT("%s/%s: afterwards: main aio_suspend %s; X %s %ld data %s; rest of long read %d/%d; Y %s %ld",
        kind_name[cur_kind], vname, main_ok ? "0 or EINTR" : errname(err), errname(xe), xr,
        xdata ? "right" : "WRONG", rest, RS_NF - 1, errname(ye), yr);
    CHECK(main_ok, "main's aio_suspend = %d %s", r, errname(err));
    CHECK(xe_wait == 0 && xe == 0 && xr == (long)RS_LEN && xdata, "X: %s %ld", errname(xe), xr);
    CHECK(rest == RS_NF - 1, "long read: %d/%d", rest, RS_NF - 1);
    CHECK(y_later == 0 && ye == 0 && yr == y_expected() && y_data_ok(), "Y: %s %ld", errname(ye), yr);
    return 1;
}

int main(void)
{
    t_init("test_rel_handler_waits", 40);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART */
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");

    const char *lpath = t_make_file(0, "rel_hw_long", RS_LEN + YLEN, 41);
    const char *cpath = t_make_file(1, "rel_hw_cold", YLEN, 42);
    struct rs_long L;
    if (rs_long_open(&L, lpath) != 0) {
        unlink(lpath);
        unlink(cpath);
        T_SKIP("no O_DIRECT in %s", t_dir());
    }
    dfd = open(lpath, O_RDONLY | O_DIRECT);
    cfd = open(cpath, O_RDONLY);
    CHECK(dfd >= 0 && cfd >= 0, "open: %s", errname(errno));
    /* Written back, so that POSIX_FADV_DONTNEED can drop it. */
    CHECK(fdatasync(cfd) == 0, "fdatasync: %s", errname(errno));
    CHECK(posix_memalign((void **)&ybuf, 4096, YLEN) == 0, "posix_memalign");

    for (int k = 0; k < K_N; k++)
        for (int v = V_SUSPEND; v <= V_SPIN; v++) {
            cur_kind = k;
            cur_variant = v;
            for (int attempt = 1; !still_in_flight && !run_round(&L, attempt); attempt++)
                ;
        }
    CHECK(!still_in_flight, "a request was still in progress after a round: rounds stopped");
    if (!still_in_flight) {
        rs_long_close(&L);
        free(ybuf);
    }
    close(dfd);
    close(cfd);
    unlink(lpath);
    unlink(cpath);
    return t_done();
}
