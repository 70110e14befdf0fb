/* Threads cancelled inside aio_suspend do not lose or steal completions.
 * Each round: 6 pipe reads in flight; 6 threads wait in aio_suspend (no
 * timeout), thread i on reads i and i+1; a subset of them is
 * pthread_cancel()ed while blocked (joined: PTHREAD_CANCELED). Then every
 * pipe gets its data: each survivor's aio_suspend returns 0 and it exits
 * normally, and all 6 reads complete exactly once with the right bytes.
 * Rounds cancel {0,2,4}, {1,2,3,4,5} and all six (then the main thread's own
 * aio_suspend must still see the completions: nothing is left holding kaio's
 * reaping role), and one more round where a waiter is cancelled while the
 * data is being written. See test_nb_cancel_suspend for one thread. */
#include "harness.h"

#define NT 6

static struct aiocb cb[NT];
static char got[NT][16];
static volatile int blocked[NT];

static void *waiter(void *a)
{
    int i = (int)(intptr_t)a;
    const struct aiocb *l[2] = { &cb[i], &cb[(i + 1) % NT] };
    __atomic_store_n(&blocked[i], 1, __ATOMIC_RELEASE);
    for (;;) {
        int r = aio_suspend(l, 2, NULL);
        if (r == 0 && (aio_error(l[0]) != EINPROGRESS || aio_error(l[1]) != EINPROGRESS))
            return (void *)1;
        if (r != 0 && errno != EINTR) return (void *)2;
    }
}

static void round_(int round, unsigned cancel_mask, int cancel_during_write)
{
    int p[NT][2];
    for (int i = 0; i < NT; i++) {
        CHECK(pipe(p[i]) == 0, "pipe");
        memset(got[i], 0, sizeof got[i]);
        t_cb(&cb[i], p[i][0], got[i], sizeof got[i], 0);
        CHECK(aio_read(&cb[i]) == 0, "aio_read: %s", errname(errno));
        blocked[i] = 0;
    }
    pthread_t th[NT];
    for (int i = 0; i < NT; i++)
        pthread_create(&th[i], NULL, waiter, (void *)(intptr_t)i);
    for (int i = 0; i < NT; i++)
        while (!__atomic_load_n(&blocked[i], __ATOMIC_ACQUIRE)) usleep(1000);
    usleep(50000); /* let them block (a cancel before that acts on entry) */
    int cancelled_ok = 0, survived_ok = 0;
    if (!cancel_during_write)
        for (int i = 0; i < NT; i++)
            if (cancel_mask & (1u << i)) pthread_cancel(th[i]);
    for (int i = 0; i < NT; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof msg, "r%d-pipe%d", round, i);
        CHECK(write(p[i][1], msg, (size_t)n) == n, "write");
        if (cancel_during_write && i == 2)
            for (int k = 0; k < NT; k++)
                if (cancel_mask & (1u << k)) pthread_cancel(th[k]);
    }
    for (int i = 0; i < NT; i++) {
        void *res = NULL;
        pthread_join(th[i], &res);
        if (cancel_mask & (1u << i)) {
            /* Cancelled during the writes, a waiter may have returned first. */
            if (res == PTHREAD_CANCELED || (cancel_during_write && res == (void *)1)) cancelled_ok++;
        } else if (res == (void *)1) survived_ok++;
    }
    int good = 0;
    for (int i = 0; i < NT; i++) {
        t_wait(&cb[i]);
        char want[16];
        int n = snprintf(want, sizeof want, "r%d-pipe%d", round, i);
        ssize_t r = aio_return(&cb[i]);
        if (aio_error(&cb[i]) == 0 && r == n && memcmp(got[i], want, (size_t)n) == 0) good++;
        close(p[i][0]);
        close(p[i][1]);
    }
    int nc = __builtin_popcount(cancel_mask);
    OUT("round %d: cancelled %d/%d as expected, survivors %d/%d returned 0, reads right %d/%d",
        round, cancelled_ok, nc, survived_ok, NT - nc, good, NT);
    CHECK(cancelled_ok == nc && survived_ok == NT - nc && good == NT, "round %d", round);
}

int main(void)
{
    t_init("test_fault_cancel_suspend", 60);
    round_(1, 0x15, 0);   /* 0, 2, 4 */
    round_(2, 0x3e, 0);   /* all but 0 */
    round_(3, 0x3f, 0);   /* all */
    round_(4, 0x2a, 1);   /* 1, 3, 5 while data arrives */
    round_(5, 0x15, 0);
    return t_done();
}
