/* The kernel AIO context exit cost, for bench/run.py (timed with hyperfine -N).
 *   exit_cost            returns at once
 *   exit_cost setup      io_setup(128) and returns with the context alive
 *   exit_cost destroy    io_setup(128), io_destroy, then returns
 * A process that exits with a live context waits out the kernel's teardown
 * (an RCU grace period) in exit; io_destroy waits for it explicitly. */
#define _GNU_SOURCE
#include <linux/aio_abi.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) return 0;
    aio_context_t ctx = 0;
    if (syscall(SYS_io_setup, 128, &ctx) != 0) { perror("io_setup"); return 1; }
    if (strcmp(argv[1], "destroy") == 0 && syscall(SYS_io_destroy, ctx) != 0) {
        perror("io_destroy");
        return 1;
    }
    return 0;
}
