//! Raw Linux system calls and kernel structures: the only module that talks
//! to the kernel directly. Results are `Result<_, Errno>` with a positive
//! errno; nothing here reads or writes the C `errno`.

pub mod fault;
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
    if let Some(e) = fault::hit(fault::Point::IoSetup) {
        return Err(e);
    }
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
    if let Some(e) = fault::hit(fault::Point::IoSubmit) {
        return Err(e);
    }
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
    if let Some(e) = fault::hit(fault::Point::IoGetevents) {
        return Err(e);
    }
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

/// What `fstat` says about an open file: its type and its identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    pub mode: u32,
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    /// The file type bits (`S_IFMT`).
    pub fn kind(&self) -> u32 {
        self.mode & libc::S_IFMT
    }
}

/// `fstat(fd)`: type and identity (`st_dev`, `st_ino`) of an open file.
pub fn fstat_id(fd: i32) -> Result<FileId, Errno> {
    // SAFETY: all-zero is a valid `stat`.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // `st` is a writable `struct stat`.
    check(sc!(libc::SYS_fstat, fd, &mut st as *mut libc::stat))?;
    Ok(FileId {
        mode: st.st_mode,
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

/// `fstat(fd)`; returns the file mode bits (`st_mode`).
pub fn fstat_mode(fd: i32) -> Result<u32, Errno> {
    fstat_id(fd).map(|id| id.mode)
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, min)`: a new descriptor for the same open
/// file, numbered `min` or above.
pub fn dup_at_least(fd: i32, min: i32) -> Result<i32, Errno> {
    check(sc!(libc::SYS_fcntl, fd, libc::F_DUPFD_CLOEXEC, min)).map(|v| v as i32)
}

/// `close(fd)` (async-signal-safe).
pub fn close(fd: i32) {
    // Closing a descriptor kaio owns.
    let _ = sc!(libc::SYS_close, fd);
}

/// The soft `RLIMIT_NOFILE`, or 1024 if it cannot be read.
pub fn nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // `lim` is a writable rlimit; pid 0 is this process.
    let r = sc!(
        libc::SYS_prlimit64,
        0,
        libc::RLIMIT_NOFILE,
        0usize,
        &mut lim as *mut libc::rlimit
    );
    if r < 0 { 1024 } else { lim.rlim_cur }
}

/// `fcntl(fd, F_SETSIG, sig)`: kaio tags the descriptors it hands out with a
/// signal number that is only used if the program enables `O_ASYNC` on them
/// (it never does), so that a descriptor number reused by the program is
/// recognised as no longer kaio's.
pub fn set_tag(fd: i32, tag: i32) -> Result<usize, Errno> {
    check(sc!(libc::SYS_fcntl, fd, 10, tag))
}

/// `fcntl(fd, F_GETSIG)`.
pub fn get_tag(fd: i32) -> Result<i32, Errno> {
    check(sc!(libc::SYS_fcntl, fd, 11)).map(|v| v as i32)
}

/// `socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC)`.
pub fn socketpair_dgram() -> Result<[i32; 2], Errno> {
    let mut fds = [-1i32; 2];
    // `fds` is a writable pair of ints.
    check(sc!(
        libc::SYS_socketpair,
        libc::AF_UNIX,
        libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        0,
        fds.as_mut_ptr()
    ))?;
    Ok(fds)
}

/// Send one byte on a socket without blocking (`ENOTSOCK` on anything that
/// is not a socket: never a write into a file).
pub fn send_byte(fd: i32) -> Result<usize, Errno> {
    let b = 1u8;
    // One byte from a local; no address.
    check(sc!(
        libc::SYS_sendto,
        fd,
        &b as *const u8,
        1,
        libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        0usize,
        0usize
    ))
}

/// Receive and discard what a socket holds, without blocking.
pub fn drain_socket(fd: i32) {
    let mut buf = [0u8; 64];
    for _ in 0..64 {
        // Into a local buffer; no address.
        let r = sc!(
            libc::SYS_recvfrom,
            fd,
            buf.as_mut_ptr(),
            buf.len(),
            libc::MSG_DONTWAIT,
            0usize,
            0usize
        );
        if r <= 0 {
            return;
        }
    }
}

/// The calling thread's kernel id.
pub fn gettid() -> i32 {
    sc!(libc::SYS_gettid) as i32
}

/// Whether every page of `[addr, addr + len)` is resident (`mincore`): a
/// copy to or from it will not fault (and so cannot wait for userfaultfd
/// or swap). `false` if any page is not, or the range is not mapped.
pub fn resident(addr: usize, len: usize) -> bool {
    const PAGE: usize = 4096;
    const CHUNK: usize = 256;
    if len == 0 {
        return true;
    }
    let Some(end) = addr.checked_add(len) else {
        return false;
    };
    let mut at = addr & !(PAGE - 1);
    let mut vec = [0u8; CHUNK];
    while at < end {
        let pages = (end - at).div_ceil(PAGE).min(CHUNK);
        // `vec` has room for `pages` bytes; mincore only reads page tables.
        if sc!(libc::SYS_mincore, at, pages * PAGE, vec.as_mut_ptr()) < 0 {
            return false;
        }
        if vec.iter().take(pages).any(|v| v & 1 == 0) {
            return false;
        }
        at += pages * PAGE;
    }
    true
}

/// Read a `u32` at `addr` of this process without faulting if it is not
/// mapped (`process_vm_readv` on ourselves); falls back to a plain read if
/// the call is not allowed here.
///
/// # Safety
/// If `process_vm_readv` is unavailable, `addr` must be readable.
pub unsafe fn read_u32_checked(addr: usize) -> Option<u32> {
    let mut v = 0u32;
    let local = libc::iovec {
        iov_base: (&mut v as *mut u32).cast(),
        iov_len: 4,
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: 4,
    };
    // Reads 4 bytes of our own memory into a local.
    let r = sc!(
        libc::SYS_process_vm_readv,
        getpid(),
        &local as *const libc::iovec,
        1,
        &remote as *const libc::iovec,
        1,
        0
    );
    match r {
        4 => Some(v),
        r if r == -(libc::EPERM as isize) || r == -(libc::ENOSYS as isize) => {
            // SAFETY: caller's contract.
            Some(unsafe { core::ptr::read_volatile(addr as *const u32) })
        }
        _ => None,
    }
}

/// Write `prefix`, the decimal `n` and `suffix` into `out`, NUL-terminated
/// (no allocation: usable in any context). `out` must be long enough.
fn proc_path(out: &mut [u8], prefix: &[u8], n: i32, suffix: &[u8]) {
    let mut digits = [0u8; 10];
    let mut d = digits.len();
    let mut v = n.max(0) as u32;
    loop {
        d -= 1;
        digits[d] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let parts: [&[u8]; 4] = [prefix, &digits[d..], suffix, b"\0"];
    let mut at = 0;
    for part in parts {
        for &b in part {
            if let Some(slot) = out.get_mut(at) {
                *slot = b;
            }
            at += 1;
        }
    }
}

/// What `/proc/self/task/TID/syscall` says about thread `tid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    /// Gone (exited).
    Gone,
    /// Running on a CPU right now (user or kernel mode).
    Running,
    /// Blocked in system call `nr` (-1: blocked, not in a system call).
    Blocked(i64),
    /// /proc cannot tell.
    Unknown,
}

/// Where thread `tid` of this process is, from procfs (no allocation).
pub fn thread_state(tid: i32) -> ThreadState {
    let mut path = [0u8; 48];
    proc_path(&mut path, b"/proc/self/task/", tid, b"/syscall");
    // A NUL-terminated path in a local buffer.
    let fd = sc!(
        libc::SYS_openat,
        libc::AT_FDCWD,
        path.as_ptr(),
        libc::O_RDONLY | libc::O_CLOEXEC
    );
    if fd == -(libc::ENOENT as isize) {
        // The task is gone — or there is no /proc at all.
        let probe = c"/proc/self/stat";
        // A NUL-terminated path we name.
        let p = sc!(
            libc::SYS_openat,
            libc::AT_FDCWD,
            probe.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC
        );
        if p < 0 {
            return ThreadState::Unknown;
        }
        close(p as i32);
        return ThreadState::Gone;
    }
    if fd < 0 {
        return ThreadState::Unknown;
    }
    let mut buf = [0u8; 32];
    // SAFETY: reading into a local buffer.
    let r = unsafe { read(fd as i32, buf.as_mut_ptr(), buf.len()) };
    close(fd as i32);
    let Ok(len) = r else {
        return ThreadState::Unknown;
    };
    let text = buf.get(..len).unwrap_or(&[]);
    if text.starts_with(b"running") {
        return ThreadState::Running;
    }
    let field = text
        .split(|&b| b == b' ' || b == b'\n')
        .next()
        .unwrap_or(&[]);
    let (neg, digits) = match field.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, field),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return ThreadState::Unknown;
    }
    let v = digits
        .iter()
        .fold(0i64, |a, &b| a * 10 + i64::from(b - b'0'));
    ThreadState::Blocked(if neg { -v } else { v })
}

/// Whether `fd` is a signalfd (`/proc/self/fd/N` links to
/// `anon_inode:[signalfd]`): readiness of a signalfd is the reading
/// thread's pending signals, which a poll in the kernel cannot see.
pub fn is_signalfd(fd: i32) -> bool {
    let mut path = [0u8; 40];
    proc_path(&mut path, b"/proc/self/fd/", fd, b"");
    let mut link = [0u8; 64];
    // A NUL-terminated path and a local output buffer.
    let r = sc!(
        libc::SYS_readlinkat,
        libc::AT_FDCWD,
        path.as_ptr(),
        link.as_mut_ptr(),
        link.len()
    );
    r > 0 && link.get(..r as usize) == Some(&b"anon_inode:[signalfd]"[..])
}

/// Whether a signal that just interrupted a wait of this thread must have
/// been one whose handler asked for `SA_RESTART`: every signal this thread
/// can receive (not blocked) with a handler installed has `SA_RESTART`.
/// (A stop and continue interrupts too: it also wants the wait resumed.)
/// Used after EINTR from a wait the kernel itself never restarts
/// (`io_getevents`, a timed futex), to do what an untimed wait would.
pub fn interrupt_wants_restart() -> bool {
    // SAFETY: querying this thread's mask and the handlers, no change.
    unsafe {
        let mut mask: libc::sigset_t = core::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, ptr::null(), &mut mask);
        for sig in 1..=libc::SIGRTMAX() {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP || libc::sigismember(&mask, sig) == 1 {
                continue;
            }
            let mut old: libc::sigaction = core::mem::zeroed();
            if libc::sigaction(sig, ptr::null(), &mut old) != 0 {
                continue;
            }
            let h = old.sa_sigaction;
            if h != libc::SIG_DFL && h != libc::SIG_IGN && old.sa_flags & libc::SA_RESTART == 0 {
                return false;
            }
        }
    }
    true
}

/// A message on stderr (raw write: usable in any context).
pub fn warn_raw(msg: &[u8]) {
    // SAFETY: writing a valid buffer to stderr.
    let _ = unsafe { write(2, msg.as_ptr(), msg.len()) };
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

/// Whether `[buf, buf + len)` lies in user space, as `read(2)`/`write(2)`
/// check it before clamping the length (`preadv2` and `io_submit` clamp
/// first, then check only the clamped range). Asks the kernel: a `write` of
/// the range to /dev/null checks it and moves nothing. /dev/null is opened
/// for each check (rare: lengths over 2 GiB) and closed at once, so kaio
/// never writes to a descriptor number the program may have reused.
pub fn user_range_ok(buf: *const u8, len: usize) -> bool {
    let path = c"/dev/null";
    // Opening a path we name, write-only, close-on-exec.
    let fd = sc!(
        libc::SYS_openat,
        libc::AT_FDCWD,
        path.as_ptr(),
        libc::O_WRONLY | libc::O_CLOEXEC
    );
    if fd < 0 {
        return true;
    }
    // write(2) to /dev/null runs access_ok on the whole range and copies
    // nothing.
    let r = sc!(libc::SYS_write, fd, buf, len);
    close(fd as i32);
    r != -(libc::EFAULT as isize)
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

#[cfg(test)]
mod proc_path_tests {
    #[test]
    fn paths_are_nul_terminated() {
        let mut b = [0xffu8; 40];
        super::proc_path(&mut b, b"/proc/self/fd/", 1234, b"/x");
        assert_eq!(&b[..20], b"/proc/self/fd/1234/x");
        assert_eq!(b[20], 0);
        super::proc_path(&mut b, b"/p/", 0, b"");
        assert_eq!(&b[..4], b"/p/0");
        assert_eq!(b[4], 0);
    }
}
