/* kaio's extensions for tests that also build without -lkaio (the glibc
 * build, run with LD_PRELOAD=libkaio.so): the declarations come from kaio.h;
 * in that build they are weak, so the program links without libkaio and the
 * dynamic linker binds them to the preloaded library at run time. */
#ifndef KAIO_TEST_EXT_H
#define KAIO_TEST_EXT_H
#include "../include/kaio.h"
#ifndef KAIO_LINKED
#pragma weak aio_readv
#pragma weak aio_writev
#pragma weak aio_waitcomplete
#pragma weak kaio_completion_fd
#pragma weak kaio_stats
#pragma weak kaio_version
#pragma weak kaio_counter
#endif
#endif
