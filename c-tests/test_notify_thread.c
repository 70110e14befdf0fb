/* SIGEV_THREAD: for each of 8 file reads, sigev_notify_function runs exactly
 * once, with that request's sival_ptr, in a thread other than main, created
 * with sigev_notify_attributes (a stack size 4 MiB above the default: the
 * notification thread's own stack, per pthread_getattr_np, is at least that).
 * Requests with NULL attributes notify too. */
#include "harness.h"

#define NR 8
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_t main_thread;
static size_t want_stack;
static struct slot { int calls, on_main, small_stack; size_t stack; } slots[NR + 1];
static int total;

static void on_done(union sigval v)
{
    struct slot *s = v.sival_ptr;
    size_t sz = 0;
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        pthread_attr_getstacksize(&a, &sz);
        pthread_attr_destroy(&a);
    }
    pthread_mutex_lock(&mu);
    s->calls++;
    s->stack = sz;
    if (pthread_equal(pthread_self(), main_thread)) s->on_main++;
    if (s != &slots[NR] && sz < want_stack) s->small_stack++;
    total++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void *plain(void *arg)
{
    pthread_attr_t a;
    pthread_getattr_np(pthread_self(), &a);
    pthread_attr_getstacksize(&a, (size_t *)arg);
    pthread_attr_destroy(&a);
    return NULL;
}

int main(void)
{
    t_init("test_notify_thread", 30);
    main_thread = pthread_self();
    size_t def = 0;
    pthread_t th;
    pthread_create(&th, NULL, plain, &def);
    pthread_join(th, NULL);
    want_stack = def + 4 * 1024 * 1024;
    NOTE("default stack %zu, requested %zu", def, want_stack);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    CHECK(pthread_attr_setstacksize(&attr, want_stack) == 0, "setstacksize");

    const char *path = t_make_file(0, "notify_thread", (NR + 1) * 4096, 13);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open: %s", errname(errno));
    static char bufs[NR + 1][4096];
    struct aiocb cb[NR + 1];
    for (int i = 0; i <= NR; i++) {
        t_cb(&cb[i], fd, bufs[i], 4096, (off_t)i * 4096);
        cb[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
        cb[i].aio_sigevent.sigev_notify_function = on_done;
        cb[i].aio_sigevent.sigev_notify_attributes = i < NR ? &attr : NULL;
        cb[i].aio_sigevent.sigev_value.sival_ptr = &slots[i];
        CHECK(aio_read(&cb[i]) == 0, "aio_read %d: %s", i, errname(errno));
    }
    pthread_mutex_lock(&mu);
    while (total < NR + 1) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    struct timespec d = { 0, 100 * 1000 * 1000 };
    nanosleep(&d, NULL); /* any duplicate call would show up now */

    int once = 0, on_main = 0, small = 0, data_bad = 0;
    pthread_mutex_lock(&mu);
    for (int i = 0; i <= NR; i++) {
        once += slots[i].calls == 1;
        on_main += slots[i].on_main;
        small += slots[i].small_stack;
        if (slots[i].small_stack)
            NOTE("request %d: notification thread stack %zu < %zu", i, slots[i].stack, want_stack);
    }
    int tot = total;
    pthread_mutex_unlock(&mu);
    for (int i = 0; i <= NR; i++) {
        t_wait(&cb[i]);
        if (aio_return(&cb[i]) != 4096 || check_pat(bufs[i], 4096, (uint64_t)i * 4096, 13) != -1)
            data_bad++;
    }
    OUT("calls = %d, slots called exactly once = %d, on main thread = %d", tot, once, on_main);
    OUT("attribute stack too small = %d, data bad = %d", small, data_bad);
    CHECK(tot == NR + 1 && once == NR + 1, "calls %d once %d", tot, once);
    CHECK(on_main == 0, "ran on main thread %d times", on_main);
    CHECK(small == 0, "%d notification threads ignored the attributes' stack size", small);
    CHECK(data_bad == 0, "data");
    pthread_attr_destroy(&attr);
    close(fd);
    unlink(path);
    return t_done();
}
