/* lio_listio(LIO_NOWAIT) with a SIGEV_THREAD list sigevent: the notify
 * function runs exactly once, in a thread other than the caller, with the
 * list's sigev_value, after every request of the list is done. */
#include "harness.h"
#include <semaphore.h>

#define N 6

static sem_t done_sem;
static pthread_t main_thread;
static struct aiocb cb[N];
static int calls, other_thread, all_done, got_value;
static int marker;

static void notify(union sigval v)
{
    __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
    other_thread = !pthread_equal(pthread_self(), main_thread);
    got_value = v.sival_ptr == &marker;
    all_done = 1;
    for (int i = 0; i < N; i++)
        if (aio_error(&cb[i]) == EINPROGRESS) all_done = 0;
    sem_post(&done_sem);
}

int main(void)
{
    t_init("test_lio_nowait_thread", 30);
    main_thread = pthread_self();
    sem_init(&done_sem, 0, 0);
    const char *path = t_make_file(0, "lio_nowait_thread", 1 << 20, 39);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));

    static char b[N][32768];
    struct aiocb *list[N];
    for (int i = 0; i < N; i++) {
        t_cb(&cb[i], fd, b[i], sizeof b[i], (off_t)i * 65536 + 7);
        cb[i].aio_lio_opcode = LIO_READ;
        list[i] = &cb[i];
    }
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = notify;
    sev.sigev_notify_attributes = NULL;
    sev.sigev_value.sival_ptr = &marker;
    int r = lio_listio(LIO_NOWAIT, list, N, &sev);
    OUT("lio_listio(LIO_NOWAIT) = %d", r);
    CHECK(r == 0, "lio_listio: %s", errname(errno));

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    int w;
    while ((w = sem_timedwait(&done_sem, &ts)) != 0 && errno == EINTR) {}
    CHECK(w == 0, "notify function not called");
    usleep(100000);                  /* would catch a (wrong) second call */
    OUT("notify calls %d, other thread %s, value %s, all done %s",
        __atomic_load_n(&calls, __ATOMIC_SEQ_CST), other_thread ? "yes" : "no",
        got_value ? "right" : "wrong", all_done ? "yes" : "no");
    CHECK(calls == 1 && other_thread && got_value && all_done, "notification");
    for (int i = 0; i < N; i++) {
        t_wait(&cb[i]);
        ssize_t n = aio_return(&cb[i]);
        CHECK(n == (ssize_t)sizeof b[i] && check_pat(b[i], sizeof b[i], (uint64_t)i * 65536 + 7, 39) < 0,
              "entry %d: %zd", i, n);
    }
    close(fd);
    unlink(path);
    return t_done();
}
