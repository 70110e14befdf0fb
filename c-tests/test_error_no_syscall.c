/* KAIO_ONLY: aio_error and aio_return make no system call. An O_DIRECT read
 * is polled with aio_error until done; kaio must have taken the completion
 * from the user-mapped ring (ring_reaped grows) without any io_getevents
 * (getevents_calls unchanged). The syscall count of the whole blog run is
 * checked separately with strace (check-blog-syscalls.sh). */
#include "harness.h"

int main(void)
{
    t_init("test_error_no_syscall", 30);
    unsigned long long (*counter)(const char *) =
        (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "kaio_counter");
    CHECK(counter != NULL, "kaio_counter not found");
    if (!counter) return t_done();
    const char *path = t_make_file(0, "nosys", 4 << 20, 9);
    int fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0 && errno == EINVAL) { unlink(path); T_SKIP("no O_DIRECT here"); }
    CHECK(fd >= 0, "open");
    void *buf = NULL;
    CHECK(posix_memalign(&buf, 4096, 4 << 20) == 0, "posix_memalign");
    unsigned long long ge = counter("getevents_calls"), ring = counter("ring_reaped");
    struct aiocb cb;
    unsigned long spins = 0;
    for (int i = 0; i < 20; i++) {
        t_cb(&cb, fd, buf, 4 << 20, 0);
        CHECK(aio_read(&cb) == 0, "aio_read");
        while (aio_error(&cb) == EINPROGRESS) spins++;
        CHECK(aio_return(&cb) == 4 << 20, "aio_return");
    }
    NOTE("spins %lu", spins);
    OUT("io_getevents calls while polling: %llu", counter("getevents_calls") - ge);
    OUT("completions from the ring: %llu", counter("ring_reaped") - ring);
    CHECK(counter("getevents_calls") == ge, "aio_error made io_getevents calls");
    CHECK(counter("ring_reaped") - ring == 20, "ring reaped %llu", counter("ring_reaped") - ring);
    CHECK(check_pat(buf, 4 << 20, 0, 9) < 0, "data");
    close(fd);
    unlink(path);
    free(buf);
    return t_done();
}
