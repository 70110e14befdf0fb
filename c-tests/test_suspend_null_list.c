/* KAIO_ONLY: aio_suspend with list NULL and nent > 0 is rejected with
 * -1/EINVAL (glibc dereferences the NULL list and crashes). nent 0 with a
 * NULL list is an empty list: 0. */
#include "harness.h"

int main(void)
{
    t_init("test_suspend_null_list", 30);
    /* Through a volatile: <aio.h> declares the list nonnull. */
    const struct aiocb *const *volatile nil = NULL;
    errno = 0;
    int r = aio_suspend(nil, 1, NULL);
    int err = errno;
    OUT("aio_suspend(NULL, 1) = %d %s", r, r ? errname(err) : "");
    CHECK(r == -1 && err == EINVAL, "got %d %s", r, errname(err));

    struct timespec zero = { 0, 0 };
    errno = 0;
    r = aio_suspend(nil, 3, &zero);
    err = errno;
    OUT("aio_suspend(NULL, 3, {0,0}) = %d %s", r, r ? errname(err) : "");
    CHECK(r == -1 && err == EINVAL, "got %d %s", r, errname(err));

    r = aio_suspend(nil, 0, NULL);
    OUT("aio_suspend(NULL, 0) = %d", r);
    CHECK(r == 0, "got %d %s", r, errname(errno));
    return t_done();
}
