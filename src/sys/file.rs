//! The few file and memory system calls of kaio's statistics file (see
//! `engine::stats`): all async-signal-safe, usable in a `fork()` child.

use super::{Errno, check, raw};

/// `openat(AT_FDCWD, path, flags, mode)`.
///
/// # Safety
/// `path` must be NUL-terminated.
pub unsafe fn open(path: *const u8, flags: i32, mode: u32) -> Result<i32, Errno> {
    check(sc!(libc::SYS_openat, libc::AT_FDCWD, path, flags, mode)).map(|v| v as i32)
}

pub fn ftruncate(fd: i32, len: usize) -> Result<usize, Errno> {
    check(sc!(libc::SYS_ftruncate, fd, len))
}

/// `pwrite64(fd, buf, len, off)`.
///
/// # Safety
/// `buf` must be readable for `len` bytes.
pub unsafe fn pwrite(fd: i32, buf: *const u8, len: usize, off: usize) -> Result<usize, Errno> {
    check(sc!(libc::SYS_pwrite64, fd, buf, len, off))
}

/// `mmap(addr, len, PROT_READ | PROT_WRITE, MAP_FIXED | ...)`: a shared
/// mapping of `fd` at `off`, or (`fd < 0`) private anonymous memory,
/// replacing whatever was mapped at `addr`.
///
/// # Safety
/// `addr..addr + len` must be memory that only atomics access, page-aligned,
/// that nothing else shares.
pub unsafe fn map_fixed(addr: usize, len: usize, fd: i32, off: usize) -> Result<usize, Errno> {
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let flags = if fd < 0 {
        libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS
    } else {
        libc::MAP_FIXED | libc::MAP_SHARED
    };
    check(sc!(libc::SYS_mmap, addr, len, prot, flags, fd, off))
}

/// `exit_group(status)`: what glibc's `_exit` does.
pub fn exit_group(status: i32) -> ! {
    loop {
        let _ = sc!(libc::SYS_exit_group, status);
    }
}
