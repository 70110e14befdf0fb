/* POSIX aio_write: "If O_APPEND is set for the file descriptor, write
 * operations append to the file in the same order as the calls were made."
 * 1000 aio_writes of distinct 64-byte records (record i contains i) to a
 * file opened O_WRONLY|O_APPEND|O_TRUNC, all in flight together; after all
 * complete the file holds exactly the 1000 records, in submission order. */
#include "harness.h"

#define NREC 1000
#define RLEN 64

int main(void)
{
    t_init("test_nb_append_order", 45);
    char path[512];
    snprintf(path, sizeof path, "%s/nb_append.%d", t_dir(), (int)getpid());
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "open: %s", errname(errno));
    static char rec[NREC][RLEN];
    static struct aiocb cb[NREC];
    int fail = 0;
    for (int i = 0; i < NREC; i++) {
        fill_pat(rec[i], RLEN, 0, 1000 + i);
        snprintf(rec[i], 16, "rec %06d|", i);
        t_cb(&cb[i], fd, rec[i], RLEN, 0);   /* offset ignored with O_APPEND */
        if (aio_write(&cb[i]) != 0) fail++;
    }
    OUT("submitted %d, failed %d", NREC, fail);
    CHECK(fail == 0, "aio_write: %s", errname(errno));
    int ok = 0;
    for (int i = 0; i < NREC; i++) {
        t_wait(&cb[i]);
        ok += aio_error(&cb[i]) == 0 && aio_return(&cb[i]) == RLEN;
    }
    OUT("%d/%d writes returned %d", ok, NREC, RLEN);
    CHECK(ok == NREC, "results");
    close(fd);

    struct stat sb;
    CHECK(stat(path, &sb) == 0, "stat");
    OUT("file size %lld", (long long)sb.st_size);
    CHECK(sb.st_size == NREC * RLEN, "size %lld", (long long)sb.st_size);
    static char all[NREC * RLEN + 1];
    fd = open(path, O_RDONLY);
    ssize_t n = read(fd, all, sizeof all);
    close(fd);
    int in_place = 0, first_bad = -1;
    for (int i = 0; i < NREC; i++) {
        if ((size_t)n >= (size_t)(i + 1) * RLEN && memcmp(all + (size_t)i * RLEN, rec[i], RLEN) == 0)
            in_place++;
        else if (first_bad < 0)
            first_bad = i;
    }
    OUT("%d/%d records in submission order", in_place, NREC);
    if (first_bad >= 0 && n >= (first_bad + 1) * RLEN)
        NOTE("first misplaced: position %d holds \"%.11s\"", first_bad, all + (size_t)first_bad * RLEN);
    CHECK(n == NREC * RLEN && in_place == NREC, "order");
    unlink(path);
    return t_done();
}
