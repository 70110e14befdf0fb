/* epoll_loop: drive POSIX AIO from an event loop, without signals, threads
 * or aio_suspend, with kaio's completion eventfd.
 *
 * It checksums several files at once, keeping DEPTH reads in flight per
 * file: each completion makes kaio_completion_fd() readable; the loop reads
 * the eventfd, collects the finished reads with aio_error/aio_return, and
 * submits the next ones. A real server would watch its sockets in the same
 * epoll set.
 *
 *   cc epoll_loop.c $(pkg-config --cflags --libs kaio) -o epoll_loop
 *   ./epoll_loop FILE...
 */
#include <kaio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEPTH 4
#define CHUNK (256 * 1024)

struct file {
    const char *name;
    int fd;
    off_t size, next;      /* file size, next offset to read */
    int inflight;
    uint32_t sum;          /* order-independent checksum of all bytes */
    struct aiocb cb[DEPTH];
    char *buf[DEPTH];
    int busy[DEPTH];
};

static uint32_t add_sum(uint32_t s, const unsigned char *p, size_t n, off_t off)
{
    for (size_t i = 0; i < n; i++) s += (uint32_t)p[i] * (uint32_t)(off + (off_t)i + 1);
    return s;
}

/* Start reads on free slots while the file has bytes left. */
static int fill(struct file *f)
{
    for (int i = 0; i < DEPTH && f->next < f->size; i++) {
        if (f->busy[i]) continue;
        struct aiocb *cb = &f->cb[i];
        memset(cb, 0, sizeof *cb);
        cb->aio_fildes = f->fd;
        cb->aio_buf = f->buf[i];
        cb->aio_nbytes = CHUNK;
        cb->aio_offset = f->next;
        cb->aio_sigevent.sigev_notify = SIGEV_NONE;
        if (aio_read(cb) != 0) { perror("aio_read"); return -1; }
        f->next += CHUNK;
        f->busy[i] = 1;
        f->inflight++;
    }
    return 0;
}

/* Collect finished reads. */
static int reap(struct file *f)
{
    for (int i = 0; i < DEPTH; i++) {
        if (!f->busy[i]) continue;
        int e = aio_error(&f->cb[i]);
        if (e == EINPROGRESS) continue;
        ssize_t n = aio_return(&f->cb[i]);
        if (e != 0) { fprintf(stderr, "%s: %s\n", f->name, strerror(e)); return -1; }
        f->sum = add_sum(f->sum, (const unsigned char *)f->buf[i], (size_t)n, f->cb[i].aio_offset);
        f->busy[i] = 0;
        f->inflight--;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: %s FILE...\n", argv[0]); return 2; }
    int nf = argc - 1;
    struct file *files = calloc((size_t)nf, sizeof *files);
    for (int k = 0; k < nf; k++) {
        struct file *f = &files[k];
        struct stat st;
        f->name = argv[k + 1];
        f->fd = open(f->name, O_RDONLY);
        if (f->fd < 0 || fstat(f->fd, &st) != 0) { perror(f->name); return 1; }
        f->size = st.st_size;
        for (int i = 0; i < DEPTH; i++) f->buf[i] = malloc(CHUNK);
    }

    int cfd = kaio_completion_fd();
    if (cfd < 0) { perror("kaio_completion_fd"); return 1; }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = cfd };
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev) != 0) { perror("epoll"); return 1; }

    int active = 0;
    for (int k = 0; k < nf; k++) {
        if (fill(&files[k]) != 0) return 1;
        active += files[k].inflight > 0;
    }
    unsigned long wakeups = 0;
    while (active > 0) {
        struct epoll_event out;
        int r = epoll_wait(ep, &out, 1, -1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { perror("epoll_wait"); return 1; }
        uint64_t n;
        (void)!read(cfd, &n, sizeof n);   /* reset: completions since last read */
        wakeups++;
        active = 0;
        for (int k = 0; k < nf; k++) {
            if (reap(&files[k]) != 0 || fill(&files[k]) != 0) return 1;
            active += files[k].inflight > 0;
        }
    }
    for (int k = 0; k < nf; k++) {
        printf("%08x %lld %s\n", files[k].sum, (long long)files[k].size, files[k].name);
        close(files[k].fd);
    }
    fprintf(stderr, "epoll_loop: %d files, %lu wakeups\n", nf, wakeups);
    close(ep);
    return 0;
}
