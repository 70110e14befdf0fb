//! Raw Linux system calls and kernel structures: the only module that talks
//! to the kernel directly. Results are `Result<_, Errno>` with a positive
//! errno; nothing here reads or writes the C `errno`.

mod kernel_abi;
mod raw;

pub use kernel_abi::*;

use core::ptr;
use core::sync::atomic::AtomicU32;

/// A positive errno value.
pub type Errno = i32;

fn check(r: isize) -> Result<usize, Errno> {
    if r < 0 {
        Err((-r) as Errno)
    } else {
        Ok(r as usize)
    }
}

macro_rules! sc {
    ($nr:expr $(, $a:expr)*) => {{
        let mut args = [0usize; 6];
        let vals: &[usize] = &[$($a as usize),*];
        let mut i = 0;
        while i < vals.len() { args[i] = vals[i]; i += 1; }
        // SAFETY: each caller below documents the syscall's contract.
        unsafe { raw::syscall6($nr as i64, args) }
    }};
}

mod file;
pub use file::*;

/// `io_setup(nr, &ctx)`: create a kernel AIO context; returns its id, which
/// is also the address of its completion ring.
pub fn io_setup(nr: u32) -> Result<u64, Errno> {
    let mut ctx: u64 = 0;
    // The kernel writes the new id to `ctx`, a valid local.
    check(sc!(libc::SYS_io_setup, nr, &mut ctx as *mut u64))?;
    Ok(ctx)
}

/// `io_submit`: returns how many of `iocbs` the kernel accepted.
///
/// # Safety
/// Every pointer in `iocbs` must point to a valid `Iocb` whose buffer stays
/// valid until its completion is reaped.
pub unsafe fn io_submit(ctx: u64, iocbs: &[*mut Iocb]) -> Result<usize, Errno> {
    check(sc!(libc::SYS_io_submit, ctx, iocbs.len(), iocbs.as_ptr()))
}

/// `io_getevents`: wait for at least `min` completions, up to `out.len()`,
/// or until `timeout` (relative; `None` = forever) passes. Never restarted
/// after a signal handler runs: returns `EINTR`.
pub fn io_getevents(
    ctx: u64,
    min: usize,
    out: &mut [IoEvent],
    timeout: Option<&libc::timespec>,
) -> Result<usize, Errno> {
    let ts = timeout.map_or(ptr::null(), |t| t as *const libc::timespec);
    // `out` is a writable buffer of `out.len()` events; `ts` is null or valid.
    check(sc!(
        libc::SYS_io_getevents,
        ctx,
        min,
        out.len(),
        out.as_mut_ptr(),
        ts
    ))
}

const FUTEX_WAIT_BITSET_PRIVATE: i32 = libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG;
const FUTEX_WAKE_PRIVATE: i32 = libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG;

/// Sleep while `*word == expected`, until an absolute `CLOCK_MONOTONIC`
/// deadline (`None` = forever). Errors: `EAGAIN` (value changed),
/// `ETIMEDOUT`, `EINTR`.
pub fn futex_wait(
    word: &AtomicU32,
    expected: u32,
    deadline: Option<&libc::timespec>,
) -> Result<usize, Errno> {
    let ts = deadline.map_or(ptr::null(), |t| t as *const libc::timespec);
    // `word` is a live, aligned 32-bit atomic; `ts` is null or valid.
    check(sc!(
        libc::SYS_futex,
        word.as_ptr(),
        FUTEX_WAIT_BITSET_PRIVATE,
        expected,
        ts,
        0usize,
        u32::MAX
    ))
}

/// Wake up to `n` threads sleeping on `word`.
pub fn futex_wake(word: &AtomicU32, n: i32) -> Result<usize, Errno> {
    // `word` is a live atomic; FUTEX_WAKE only uses its address.
    check(sc!(libc::SYS_futex, word.as_ptr(), FUTEX_WAKE_PRIVATE, n))
}

/// `fstat(fd)`; returns the file mode bits (`st_mode`).
pub fn fstat_mode(fd: i32) -> Result<u32, Errno> {
    // SAFETY: all-zero is a valid `stat`.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // `st` is a writable `struct stat`.
    check(sc!(libc::SYS_fstat, fd, &mut st as *mut libc::stat))?;
    Ok(st.st_mode)
}

/// `fcntl(fd, F_GETFL)`.
pub fn fcntl_getfl(fd: i32) -> Result<i32, Errno> {
    check(sc!(libc::SYS_fcntl, fd, libc::F_GETFL)).map(|v| v as i32)
}

/// `eventfd2(0, flags)`.
pub fn eventfd(flags: i32) -> Result<i32, Errno> {
    check(sc!(libc::SYS_eventfd2, 0, flags)).map(|v| v as i32)
}

/// `read(fd, buf)`.
///
/// # Safety
/// `buf` must be writable for `len` bytes.
pub unsafe fn read(fd: i32, buf: *mut u8, len: usize) -> Result<usize, Errno> {
    check(sc!(libc::SYS_read, fd, buf, len))
}

/// `write(fd, buf)`.
///
/// # Safety
/// `buf` must be readable for `len` bytes.
pub unsafe fn write(fd: i32, buf: *const u8, len: usize) -> Result<usize, Errno> {
    check(sc!(libc::SYS_write, fd, buf, len))
}

/// A zero-length `pread64` (`write == false`) or `pwrite64`, falling back
/// to `read`/`write` on ESPIPE as glibc does: the descriptor checks of the
/// plain calls (a directory gives EISDIR) without transferring anything.
pub fn zero_length_io(fd: i32, write: bool, off: i64) -> Result<usize, Errno> {
    let mut byte = 0u8;
    let p = &mut byte as *mut u8;
    // Zero bytes from or to a valid local: nothing is transferred.
    let r = if write {
        sc!(libc::SYS_pwrite64, fd, p, 0, off)
    } else {
        sc!(libc::SYS_pread64, fd, p, 0, off)
    };
    if r == -(libc::ESPIPE as isize) {
        return check(if write {
            sc!(libc::SYS_write, fd, p, 0)
        } else {
            sc!(libc::SYS_read, fd, p, 0)
        });
    }
    check(r)
}

/// `preadv2(fd, iov, off, flags)`; `off == -1` reads at the file position
/// (the only choice for pipes and sockets).
///
/// # Safety
/// Every iovec must describe writable memory.
pub unsafe fn preadv2(fd: i32, iov: &[libc::iovec], off: i64, flags: i32) -> Result<usize, Errno> {
    check(sc!(
        libc::SYS_preadv2,
        fd,
        iov.as_ptr(),
        iov.len(),
        off,
        0,
        flags
    ))
}

/// `pwritev2(fd, iov, off, flags)`.
///
/// # Safety
/// Every iovec must describe readable memory.
pub unsafe fn pwritev2(fd: i32, iov: &[libc::iovec], off: i64, flags: i32) -> Result<usize, Errno> {
    check(sc!(
        libc::SYS_pwritev2,
        fd,
        iov.as_ptr(),
        iov.len(),
        off,
        0,
        flags
    ))
}

/// `sendmsg(fd, {iov}, flags)`.
///
/// # Safety
/// Every iovec must describe readable memory.
pub unsafe fn sendmsg(fd: i32, iov: &[libc::iovec], flags: i32) -> Result<usize, Errno> {
    // SAFETY: all-zero is a valid msghdr (no name, no control data).
    let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = iov.len();
    check(sc!(
        libc::SYS_sendmsg,
        fd,
        &msg as *const libc::msghdr,
        flags
    ))
}

/// Tell valgrind (if the program runs under it; otherwise nothing happens)
/// that the kernel wrote `[addr, addr + len)` behind its back: memory kaio
/// reads from the completion ring, and the buffers of completions reaped
/// there without a system call for valgrind to see.
pub fn mark_defined(addr: usize, len: usize) {
    // VG_USERREQ__MAKE_MEM_DEFINED: memcheck's ('M' << 24 | 'C' << 16) + 2.
    const MAKE_MEM_DEFINED: u64 = 0x4d43_0002;
    if len > 0 {
        raw::valgrind_request(MAKE_MEM_DEFINED, [addr as u64, len as u64, 0, 0, 0]);
    }
}

/// Largest transfer the kernel does in one call (`MAX_RW_COUNT`).
pub const MAX_RW_COUNT: usize = 0x7fff_f000;

static DEV_NULL: core::sync::atomic::AtomicI32 = core::sync::atomic::AtomicI32::new(-1);

/// Whether `[buf, buf + len)` lies in user space, as `read(2)`/`write(2)`
/// check it before clamping the length (`preadv2` and `io_submit` clamp
/// first, then check only the clamped range). Asks the kernel: a `write` of
/// the range to /dev/null checks it and moves nothing.
pub fn user_range_ok(buf: *const u8, len: usize) -> bool {
    let mut fd = DEV_NULL.load(core::sync::atomic::Ordering::Relaxed);
    if fd < 0 {
        let path = c"/dev/null";
        // Opening a path we name, read-write, close-on-exec.
        let r = sc!(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC
        );
        if r < 0 {
            return true;
        }
        fd = r as i32;
        if let Err(existing) = DEV_NULL.compare_exchange(
            -1,
            fd,
            core::sync::atomic::Ordering::SeqCst,
            core::sync::atomic::Ordering::SeqCst,
        ) {
            let _ = sc!(libc::SYS_close, fd);
            fd = existing;
        }
    }
    // write(2) to /dev/null runs access_ok on the whole range and copies
    // nothing.
    sc!(libc::SYS_write, fd, buf, len) != -(libc::EFAULT as isize)
}

/// `fsync` or `fdatasync`.
pub fn fsync(fd: i32, data_only: bool) -> Result<usize, Errno> {
    if data_only {
        check(sc!(libc::SYS_fdatasync, fd))
    } else {
        check(sc!(libc::SYS_fsync, fd))
    }
}

/// `madvise(addr, len, advice)`.
pub fn madvise(addr: usize, len: usize, advice: i32) -> Result<usize, Errno> {
    // madvise with MADV_DONTFORK only changes VMA flags of our own mapping.
    check(sc!(libc::SYS_madvise, addr, len, advice))
}

pub fn getpid() -> i32 {
    sc!(libc::SYS_getpid) as i32
}

pub fn getuid() -> u32 {
    sc!(libc::SYS_getuid) as u32
}

/// Build the `siginfo_t` that glibc's AIO sends: `si_code = SI_ASYNCIO`,
/// sender pid and uid, and the caller's `sigev_value`.
fn asyncio_siginfo(signo: i32, value: usize) -> [u64; 16] {
    // siginfo_t is 128 bytes: si_signo@0, si_errno@4, si_code@8, then the
    // union at 16: si_pid@16, si_uid@20, si_value@24 (the `_rt` member).
    let mut info = [0u64; 16];
    info[0] = signo as u32 as u64; // si_errno = 0
    info[1] = (libc::SI_ASYNCIO as u32) as u64;
    info[2] = (getpid() as u32 as u64) | ((getuid() as u64) << 32);
    info[3] = value as u64;
    info
}

/// Queue `signo` with value `value` to this process, as glibc does for
/// `SIGEV_SIGNAL` (`rt_sigqueueinfo`, process-directed).
pub fn queue_signal(signo: i32, value: usize) -> Result<usize, Errno> {
    let info = asyncio_siginfo(signo, value);
    // `info` is a valid 128-byte siginfo; the target is our own pid.
    check(sc!(
        libc::SYS_rt_sigqueueinfo,
        getpid(),
        signo,
        info.as_ptr()
    ))
}

/// Queue `signo` to thread `tid` of this process (`SIGEV_THREAD_ID`).
pub fn queue_signal_thread(tid: i32, signo: i32, value: usize) -> Result<usize, Errno> {
    let info = asyncio_siginfo(signo, value);
    // As above, aimed at one thread of our own process.
    check(sc!(
        libc::SYS_rt_tgsigqueueinfo,
        getpid(),
        tid,
        signo,
        info.as_ptr()
    ))
}

/// `clock_gettime(CLOCK_MONOTONIC)` through the vDSO (libc), no syscall.
pub fn monotonic_now() -> libc::timespec {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is writable; CLOCK_MONOTONIC always exists. libc's
    // clock_gettime is async-signal-safe and does not touch errno on success.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts
}

unsafe extern "C" {
    fn pthread_setcanceltype(kind: libc::c_int, old: *mut libc::c_int) -> libc::c_int;
    fn pthread_testcancel();
}

/// Act on a pending cancellation request of this thread (a cancellation
/// point). The caller must hold nothing and no value with a destructor.
pub fn testcancel() {
    // SAFETY: always callable.
    unsafe { pthread_testcancel() };
}

/// glibc's `PTHREAD_CANCEL_ASYNCHRONOUS`.
const PTHREAD_CANCEL_ASYNCHRONOUS: libc::c_int = 1;

/// Run `f` with asynchronous cancellation enabled for this thread (a
/// pending or arriving `pthread_cancel` acts at once, even inside a system
/// call). `f` must hold nothing that needs releasing and no value with a
/// destructor.
pub fn with_async_cancel<R>(f: impl FnOnce() -> R) -> R {
    let mut old = 0;
    // SAFETY: changes only this thread's cancellation type.
    unsafe { pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &mut old) };
    let r = f();
    // SAFETY: restores the previous type.
    unsafe { pthread_setcanceltype(old, &mut old) };
    r
}
