/* Requests that must notify nobody:
 *  - a zeroed aiocb (sigev_notify 0 = SIGEV_SIGNAL, sigev_signo 0): accepted,
 *    completes, no signal (signal 0 cannot be delivered), no crash;
 *  - SIGEV_NONE with a signal number and a function filled in anyway: neither
 *    the handler nor the function ever runs.
 * Both for a read, a write and an fsync. */
#include "harness.h"

static volatile sig_atomic_t sig_hits;
static int fn_hits;

static void on_sig(int s) { (void)s; sig_hits++; }
static void on_fn(union sigval v) { (void)v; __atomic_fetch_add(&fn_hits, 1, __ATOMIC_ACQ_REL); }

int main(void)
{
    t_init("test_notify_none", 30);
    int sig = SIGRTMIN + 2;
    signal(sig, on_sig);
    const char *path = t_make_file(0, "notify_none", 8192, 14);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "open: %s", errname(errno));

    char rbuf[2][4096], wbuf[4096];
    fill_pat(wbuf, sizeof wbuf, 4096, 15);
    struct aiocb cb[6];
    for (int k = 0; k < 2; k++) {
        struct aiocb *r = &cb[3 * k], *w = &cb[3 * k + 1], *s = &cb[3 * k + 2];
        memset(r, 0, 3 * sizeof *r);
        r->aio_fildes = w->aio_fildes = s->aio_fildes = fd;
        r->aio_buf = rbuf[k];
        r->aio_nbytes = 4096;
        w->aio_buf = wbuf;
        w->aio_nbytes = 4096;
        w->aio_offset = 4096;
        if (k == 1) {
            for (int j = 0; j < 3; j++) {
                cb[3 + j].aio_sigevent.sigev_notify = SIGEV_NONE;
                cb[3 + j].aio_sigevent.sigev_signo = sig;
                cb[3 + j].aio_sigevent.sigev_notify_function = on_fn;
            }
        }
        const char *kind = k ? "SIGEV_NONE" : "zeroed";
        int a = aio_read(r), b = aio_write(w), c = aio_fsync(O_SYNC, s);
        OUT("%s: aio_read = %d, aio_write = %d, aio_fsync = %d", kind, a, b, c);
        CHECK(a == 0 && b == 0 && c == 0, "submit: %s", errname(errno));
        for (int j = 0; j < 3; j++) t_wait(&cb[3 * k + j]);
        ssize_t rn = aio_return(r), wn = aio_return(w), sn = aio_return(s);
        OUT("%s: results %zd %zd %zd", kind, rn, wn, sn);
        CHECK(rn == 4096 && wn == 4096 && sn == 0, "results %zd %zd %zd", rn, wn, sn);
        CHECK(check_pat(rbuf[k], 4096, 0, 14) == -1, "read data");
    }
    struct timespec d = { 0, 100 * 1000 * 1000 };
    nanosleep(&d, NULL);
    OUT("signal handler runs = %d, function runs = %d", (int)sig_hits,
        __atomic_load_n(&fn_hits, __ATOMIC_ACQUIRE));
    CHECK(sig_hits == 0 && fn_hits == 0, "something was notified");
    close(fd);
    unlink(path);
    return t_done();
}
