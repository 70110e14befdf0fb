/* An aio_write to a full pipe makes progress on its own: once another
 * thread drains the pipe with plain blocking read()s, the written bytes
 * arrive even though the submitting thread makes NO aio_* call meanwhile
 * (it only pthread_join()s the reader). POSIX AIO is asynchronous: a
 * program may hand a pipe to a reader (a thread, a child process) and wait
 * for the reader, not for the request. Afterwards aio_return is 4096. */
#include "harness.h"

static size_t filled;
static char *all;
static size_t got;
static int rfd;

static void *reader(void *arg)
{
    (void)arg;
    while (got < filled + 4096) {
        ssize_t n = read(rfd, all + got, filled + 4096 - got);
        if (n <= 0) break;
        got += n;
    }
    return NULL;
}

int main(void)
{
    t_init("test_nb_pipe_progress", 30);
    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", errname(errno));
    rfd = p[0];
    int fl = fcntl(p[1], F_GETFL);
    fcntl(p[1], F_SETFL, fl | O_NONBLOCK);
    static char fill[4096];
    ssize_t w;
    for (;;) {
        fill_pat(fill, sizeof fill, filled, 51);
        if ((w = write(p[1], fill, sizeof fill)) <= 0) break;
        filled += w;
    }
    fcntl(p[1], F_SETFL, fl);
    NOTE("pipe holds %zu bytes", filled);
    all = malloc(filled + 4096);

    static char msg[4096];
    fill_pat(msg, sizeof msg, filled, 51);
    struct aiocb cb;
    t_cb(&cb, p[1], msg, sizeof msg, 0);
    int r = aio_write(&cb);
    int e = aio_error(&cb);
    OUT("aio_write(full pipe, 4096) = %d, aio_error = %s", r, errname(e));
    CHECK(r == 0 && e == EINPROGRESS, "aio_write %d %s", r, errname(e));

    /* No aio_* call until the reader has everything. */
    pthread_t th;
    pthread_create(&th, NULL, reader, NULL);
    pthread_join(th, NULL);
    long bad = check_pat(all, got, 0, 51);
    OUT("reader got %s bytes, %s", got == filled + 4096 ? "all" : "NOT all",
        bad < 0 ? "in order" : "OUT OF ORDER");
    CHECK(got == filled + 4096 && bad < 0, "got %zu, first bad %ld", got, bad);
    t_wait(&cb);
    e = aio_error(&cb);
    ssize_t n = aio_return(&cb);
    OUT("aio_error = %s, aio_return = %zd", errname(e), n);
    CHECK(e == 0 && n == 4096, "result %s %zd", errname(e), n);
    free(all);
    close(p[0]);
    close(p[1]);
    return t_done();
}
