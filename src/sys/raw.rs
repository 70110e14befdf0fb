//! The `syscall` instruction itself. Every function returns the kernel's raw
//! result: a value `>= 0`, or `-errno`. None of them touches the caller's
//! `errno`, which matters because `aio_error` and friends must leave it alone.

#[cfg(target_arch = "x86_64")]
mod arch {
    use core::arch::asm;

    /// Issue system call `nr` with up to six arguments.
    ///
    /// # Safety
    /// The caller must uphold the contract of the particular system call
    /// (valid pointers, sizes and so on).
    #[inline(always)]
    pub unsafe fn syscall6(nr: i64, a: [usize; 6]) -> isize {
        let ret: isize;
        // SAFETY: x86_64 Linux syscall ABI: rax = number, rdi rsi rdx r10 r8 r9
        // = arguments; the kernel clobbers rcx and r11 only. Memory effects are
        // the caller's contract.
        unsafe {
            asm!(
                "syscall",
                inlateout("rax") nr as isize => ret,
                in("rdi") a[0],
                in("rsi") a[1],
                in("rdx") a[2],
                in("r10") a[3],
                in("r8") a[4],
                in("r9") a[5],
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod arch {
    /// Portable fallback through libc's `syscall()`, restoring `errno`.
    ///
    /// # Safety
    /// As for the x86_64 version.
    pub unsafe fn syscall6(nr: i64, a: [usize; 6]) -> isize {
        // SAFETY: errno location is valid for the calling thread.
        let errno = unsafe { libc::__errno_location() };
        // SAFETY: see above.
        let saved = unsafe { *errno };
        // SAFETY: forwarded contract.
        let r = unsafe { libc::syscall(nr as libc::c_long, a[0], a[1], a[2], a[3], a[4], a[5]) };
        let out = if r == -1 {
            -(unsafe { *errno }) as isize
        } else {
            r as isize
        };
        // SAFETY: see above.
        unsafe { *errno = saved };
        out
    }
}

pub use arch::syscall6;

/// Valgrind's "client request": a no-op instruction sequence unless the
/// program runs under valgrind, which then performs `req` with `args`.
#[cfg(target_arch = "x86_64")]
pub fn valgrind_request(req: u64, args: [u64; 5]) -> u64 {
    let block: [u64; 6] = [req, args[0], args[1], args[2], args[3], args[4]];
    let result: u64;
    // SAFETY: the rotations of rdi add up to 128 bits (rdi is unchanged)
    // and `xchg rbx, rbx` does nothing: on real hardware the sequence has
    // no effect. Valgrind recognises it and reads `block` (rax), writing
    // the result to rdx.
    unsafe {
        core::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            in("rax") block.as_ptr(),
            inout("rdx") 0u64 => result,
        );
    }
    result
}

#[cfg(not(target_arch = "x86_64"))]
pub fn valgrind_request(_req: u64, _args: [u64; 5]) -> u64 {
    0
}
