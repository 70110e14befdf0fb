/* POSIX <aio.h>: what the header alone must define, checked at compile time
 * with nothing else included first (this file starts with <aio.h>; the
 * harness comes after the checks). kaio programs use glibc's <aio.h> (kaio.h
 * includes it), so this checks the header a kaio program compiles against:
 *   - struct aiocb with at least: int aio_fildes; off_t aio_offset;
 *     volatile void *aio_buf; size_t aio_nbytes; int aio_reqprio;
 *     struct sigevent aio_sigevent; int aio_lio_opcode (names and types);
 *   - the types off_t, pthread_attr_t, size_t, ssize_t and struct timespec;
 *     the tag sigevent;
 *   - the constants AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED, LIO_NOP,
 *     LIO_NOWAIT, LIO_READ, LIO_WAIT, LIO_WRITE (usable in #if is not
 *     required: glibc defines them as enumerators and macros);
 *   - the eight functions with their prototypes (assigned to pointers of the
 *     exact POSIX types; -Werror makes any mismatch fail the build). One
 *     known difference: POSIX declares lio_listio's list as
 *     "struct aiocb *restrict const []"; glibc omits the element's restrict,
 *     so the pointer here has glibc's element type (SPEC.md, H6).
 * At run time: the constants within each group are distinct. */
#include <aio.h>

_Static_assert(__builtin_types_compatible_p(__typeof__(((struct aiocb *)0)->aio_fildes), int), "aio_fildes");
_Static_assert(__builtin_types_compatible_p(__typeof__(((struct aiocb *)0)->aio_offset), off_t), "aio_offset");
_Static_assert(__builtin_types_compatible_p(__typeof__(((struct aiocb *)0)->aio_buf), volatile void *), "aio_buf");
_Static_assert(__builtin_types_compatible_p(__typeof__(((struct aiocb *)0)->aio_nbytes), size_t), "aio_nbytes");
_Static_assert(__builtin_types_compatible_p(__typeof__(((struct aiocb *)0)->aio_reqprio), int), "aio_reqprio");
_Static_assert(__builtin_types_compatible_p(__typeof__(((struct aiocb *)0)->aio_sigevent), struct sigevent), "aio_sigevent");
_Static_assert(__builtin_types_compatible_p(__typeof__(((struct aiocb *)0)->aio_lio_opcode), int), "aio_lio_opcode");

static off_t h_off;
static pthread_attr_t *h_attr;
static size_t h_size;
static ssize_t h_ssize;
static struct timespec h_ts;
static struct sigevent *h_sev;

static int (*const h_read)(struct aiocb *) = aio_read;
static int (*const h_write)(struct aiocb *) = aio_write;
static int (*const h_error)(const struct aiocb *) = aio_error;
static ssize_t (*const h_return)(struct aiocb *) = aio_return;
static int (*const h_cancel)(int, struct aiocb *) = aio_cancel;
static int (*const h_fsync)(int, struct aiocb *) = aio_fsync;
static int (*const h_suspend)(const struct aiocb *const[], int, const struct timespec *) = aio_suspend;
static int (*const h_lio)(int, struct aiocb *const[restrict], int, struct sigevent *restrict) = lio_listio;

static const int h_consts[] = { AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED,
                                LIO_NOP, LIO_READ, LIO_WRITE, LIO_NOWAIT, LIO_WAIT };

#include "harness.h"

static int distinct(const int *v, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (v[i] == v[j]) return 0;
    return 1;
}

int main(void)
{
    t_init("test_spec_header", 10);
    (void)h_off; (void)h_attr; (void)h_size; (void)h_ssize; (void)h_ts; (void)h_sev;
    int fns = h_read && h_write && h_error && h_return && h_cancel && h_fsync && h_suspend && h_lio;
    OUT("eight functions declared with POSIX prototypes: %s", fns ? "yes" : "no");
    OUT("AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED distinct: %s", distinct(h_consts, 3) ? "yes" : "no");
    OUT("LIO_NOP, LIO_READ, LIO_WRITE distinct: %s", distinct(h_consts + 3, 3) ? "yes" : "no");
    OUT("LIO_NOWAIT, LIO_WAIT distinct: %s", distinct(h_consts + 6, 2) ? "yes" : "no");
    CHECK(fns && distinct(h_consts, 3) && distinct(h_consts + 3, 3) && distinct(h_consts + 6, 2),
          "header");
    /* The functions the pointers name are the ones that run: one call. */
    int p[2];
    CHECK(pipe(p) == 0 && write(p[1], "ok", 2) == 2, "pipe");
    char b[2];
    struct aiocb cb;
    t_cb(&cb, p[0], b, 2, 0);
    CHECK(h_read(&cb) == 0, "aio_read");
    const struct aiocb *l[1] = { &cb };
    while (h_error(&cb) == EINPROGRESS) h_suspend(l, 1, NULL);
    OUT("through the pointers: aio_return %zd", h_return(&cb));
    return t_done();
}
