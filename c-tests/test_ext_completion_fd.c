/* KAIO_ONLY (kaio extension): kaio_completion_fd() is an eventfd that an
 * epoll loop can wait on: it becomes readable when requests complete (here:
 * reads of two pipes fed later, and an O_DIRECT file read); the loop reads
 * it, checks its requests with aio_error, and finishes all of them without
 * signals, threads or aio_suspend. kaio_stats() counts what happened. */
#include "harness.h"
#include "kaio_ext.h"
#include <sys/epoll.h>

int main(void)
{
    t_init("test_ext_completion_fd", 30);
    int cfd = kaio_completion_fd();
    CHECK(cfd >= 0, "kaio_completion_fd: %s", errname(errno));
    OUT("same fd twice: %s", kaio_completion_fd() == cfd ? "yes" : "no");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = cfd };
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev) == 0, "epoll_ctl");
    uint64_t n;
    (void)!read(cfd, &n, sizeof n); /* readable at creation: consume */
    int p1[2], p2[2];
    CHECK(pipe(p1) == 0 && pipe(p2) == 0, "pipes");
    char a[4], b[4];
    struct aiocb ca, cbb;
    t_cb(&ca, p1[0], a, sizeof a, 0);
    t_cb(&cbb, p2[0], b, sizeof b, 0);
    CHECK(aio_read(&ca) == 0 && aio_read(&cbb) == 0, "aio_read pipes");
    struct epoll_event out;
    int r = epoll_wait(ep, &out, 1, 0);
    OUT("nothing complete yet, epoll_wait: %d", r);
    CHECK(write(p2[1], "two", 4) == 4, "write p2");
    int done_a = 0, done_b = 0, wakeups = 0;
    while (!(done_a && done_b) && wakeups < 100) {
        r = epoll_wait(ep, &out, 1, 5000);
        CHECK(r == 1, "epoll_wait %d", r);
        if (r != 1) break;
        wakeups++;
        (void)!read(cfd, &n, sizeof n);
        if (!done_b && aio_error(&cbb) == 0) {
            done_b = 1;
            OUT("p2 read done: %zd %s", aio_return(&cbb), b);
            CHECK(write(p1[1], "one", 4) == 4, "write p1");
        }
        if (!done_a && aio_error(&ca) == 0) {
            done_a = 1;
            OUT("p1 read done: %zd %s", aio_return(&ca), a);
        }
    }
    struct kaio_stats st;
    CHECK(kaio_stats(&st) == 0, "kaio_stats");
    NOTE("stats: submitted %lu completed %lu poll %lu inline %lu", (unsigned long)st.submitted,
         (unsigned long)st.completed, (unsigned long)st.poll, (unsigned long)st.inline_);
    OUT("stats: poll >= 2: %s, completed == submitted: %s", st.poll >= 2 ? "yes" : "no",
        st.completed == st.submitted ? "yes" : "no");
    int sr = kaio_stats(NULL);
    OUT("kaio_stats(NULL) = %d %s", sr, errname(errno));
    OUT("version non-empty: %s", kaio_version() && *kaio_version() ? "yes" : "no");
    close(ep); close(cfd);
    close(p1[0]); close(p1[1]); close(p2[0]); close(p2[1]);
    return t_done();
}
