//! Every `extern "C"` export of libkaio: the 17 POSIX AIO symbols, unversioned
//! so that a preloaded libkaio interposes both `aio_read@GLIBC_2.34` and
//! `@GLIBC_2.2.5`, and the `kaio_*` extensions declared in `kaio.h`.
//! This layer only checks pointers, converts `Result` to `-1` + `errno` (in
//! `c_result`) and calls the engine — or glibc, under `KAIO_DISABLE=1`.

use core::ffi::{CStr, c_char, c_int};

use crate::abi::{AioCb, AioInit, SigEvent};
use crate::engine::{self, Op};
use crate::passthrough;
use crate::sys::Errno;

fn set_errno(e: Errno) {
    // SAFETY: __errno_location always returns this thread's errno.
    unsafe { *libc::__errno_location() = e };
}

/// The one place where an error becomes `-1` and `errno`.
fn c_result<T>(r: Result<T, Errno>, ok: impl FnOnce(T) -> c_int) -> c_int {
    match r {
        Ok(v) => ok(v),
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

fn non_null<T>(p: *mut T) -> Result<*mut T, Errno> {
    if p.is_null() {
        Err(libc::EINVAL)
    } else {
        Ok(p)
    }
}

/// Start an asynchronous read.
/// <https://pubs.opengroup.org/onlinepubs/9799919799/functions/aio_read.html>
///
/// # Safety
/// `cb` must be null (EINVAL) or a valid aiocb that stays valid and
/// unmodified until the request completes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aio_read(cb: *mut AioCb) -> c_int {
    if let Some(g) = passthrough::glibc() {
        // SAFETY: glibc's aio_read, same contract.
        return unsafe { (g.aio_read)(cb) };
    }
    // SAFETY: caller's contract.
    c_result(
        non_null(cb).and_then(|cb| unsafe { engine::read_write(cb, Op::Read) }),
        |_| 0,
    )
}

/// Start an asynchronous write.
/// <https://pubs.opengroup.org/onlinepubs/9799919799/functions/aio_write.html>
///
/// # Safety
/// As for [`aio_read`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aio_write(cb: *mut AioCb) -> c_int {
    if let Some(g) = passthrough::glibc() {
        // SAFETY: glibc's aio_write, same contract.
        return unsafe { (g.aio_write)(cb) };
    }
    // SAFETY: caller's contract.
    c_result(
        non_null(cb).and_then(|cb| unsafe { engine::read_write(cb, Op::Write) }),
        |_| 0,
    )
}

/// The error status of a request: EINPROGRESS, 0 or its errno. No system
/// call, no lock: safe in a signal handler and in a busy loop.
/// <https://pubs.opengroup.org/onlinepubs/9799919799/functions/aio_error.html>
///
/// # Safety
/// `cb` must be null (EINVAL) or a valid aiocb.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aio_error(cb: *const AioCb) -> c_int {
    if let Some(g) = passthrough::glibc_if_known() {
        // SAFETY: glibc's aio_error, same contract.
        return unsafe { (g.aio_error)(cb) };
    }
    // SAFETY: caller's contract.
    c_result(
        non_null(cb.cast_mut()).map(|cb| engine::error(unsafe { &*cb })),
        |e| e,
    )
}

/// The final result of a request (its `read`/`write`/`fsync` return value).
/// <https://pubs.opengroup.org/onlinepubs/9799919799/functions/aio_return.html>
///
/// # Safety
/// `cb` must be null (EINVAL) or a valid aiocb.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aio_return(cb: *mut AioCb) -> isize {
    if let Some(g) = passthrough::glibc_if_known() {
        // SAFETY: glibc's aio_return, same contract.
        return unsafe { (g.aio_return)(cb) };
    }
    match non_null(cb) {
        // SAFETY: caller's contract.
        Ok(cb) => engine::return_value(unsafe { &*cb }),
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

/// Wait until one of `list` has completed, a signal handler runs (EINTR) or
/// the relative `timeout` passes (EAGAIN). A cancellation point.
/// <https://pubs.opengroup.org/onlinepubs/9799919799/functions/aio_suspend.html>
///
/// # Safety
/// `list` must hold `nent` entries, each null or a valid aiocb; `timeout`
/// null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aio_suspend(
    list: *const *const AioCb,
    nent: c_int,
    timeout: *const libc::timespec,
) -> c_int {
    if let Some(g) = passthrough::glibc_if_known() {
        // SAFETY: glibc's aio_suspend, same contract.
        return unsafe { (g.aio_suspend)(list, nent, timeout) };
    }
    // A cancellation point: act on a pending request before holding anything.
    crate::sys::testcancel();
    let r = (|| {
        let n = usize::try_from(nent).map_err(|_| libc::EINVAL)?;
        if list.is_null() && n > 0 {
            return Err(libc::EINVAL);
        }
        let entries = if n == 0 {
            &[][..]
        } else {
            // SAFETY: caller's contract: `nent` readable entries.
            unsafe { core::slice::from_raw_parts(list, n) }
        };
        // SAFETY: caller's contract.
        engine::suspend(entries, unsafe { timeout.as_ref() })
    })();
    c_result(r, |_| 0)
}

/// Cancel requests on `fd` (all of them if `cb` is null): AIO_CANCELED,
/// AIO_NOTCANCELED (already in the kernel or running) or AIO_ALLDONE.
/// <https://pubs.opengroup.org/onlinepubs/9799919799/functions/aio_cancel.html>
///
/// # Safety
/// `cb` must be null or a valid aiocb.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aio_cancel(fd: c_int, cb: *mut AioCb) -> c_int {
    if let Some(g) = passthrough::glibc() {
        // SAFETY: glibc's aio_cancel, same contract.
        return unsafe { (g.aio_cancel)(fd, cb) };
    }
    // SAFETY: caller's contract.
    c_result(unsafe { engine::cancel(fd, cb) }, |v| v)
}

/// Asynchronous `fsync` (`O_SYNC`) or `fdatasync` (`O_DSYNC`), ordered after
/// every write submitted before it.
/// <https://pubs.opengroup.org/onlinepubs/9799919799/functions/aio_fsync.html>
///
/// # Safety
/// As for [`aio_read`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aio_fsync(op: c_int, cb: *mut AioCb) -> c_int {
    if let Some(g) = passthrough::glibc() {
        // SAFETY: glibc's aio_fsync, same contract.
        return unsafe { (g.aio_fsync)(op, cb) };
    }
    let r = match op {
        libc::O_SYNC => Ok(false),
        libc::O_DSYNC => Ok(true),
        _ => Err(libc::EINVAL),
    };
    // SAFETY: caller's contract.
    c_result(
        r.and_then(|d| non_null(cb).map(|cb| (cb, d)))
            .and_then(|(cb, d)| unsafe { engine::fsync(cb, d) }),
        |_| 0,
    )
}

/// Submit a list of requests; `LIO_WAIT` waits for all (-1/EIO if any
/// failed), `LIO_NOWAIT` notifies `sig` when all are done.
/// <https://pubs.opengroup.org/onlinepubs/9799919799/functions/lio_listio.html>
///
/// # Safety
/// `list` must hold `nent` entries, each null or a valid aiocb that stays
/// valid until complete; `sig` null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lio_listio(
    mode: c_int,
    list: *const *mut AioCb,
    nent: c_int,
    sig: *mut SigEvent,
) -> c_int {
    if let Some(g) = passthrough::glibc() {
        // SAFETY: glibc's lio_listio, same contract.
        return unsafe { (g.lio_listio)(mode, list, nent, sig) };
    }
    let r = (|| {
        if mode != crate::abi::LIO_WAIT && mode != crate::abi::LIO_NOWAIT {
            return Err(libc::EINVAL);
        }
        let n = usize::try_from(nent).map_err(|_| libc::EINVAL)?;
        if list.is_null() && n > 0 {
            return Err(libc::EINVAL);
        }
        let entries = if n == 0 {
            &[][..]
        } else {
            // SAFETY: caller's contract: `nent` readable entries.
            unsafe { core::slice::from_raw_parts(list, n) }
        };
        // SAFETY: caller's contract.
        unsafe { engine::listio(mode, entries, sig) }
    })();
    c_result(r, |_| 0)
}

/// glibc's tuning call. kaio sizes itself (see `KAIO_MAX_EVENTS`), so the
/// values are accepted and ignored.
/// <https://man7.org/linux/man-pages/man3/aio_init.3.html>
///
/// # Safety
/// `init` may be any pointer; it is not read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aio_init(init: *const AioInit) {
    if let Some(g) = passthrough::glibc() {
        // SAFETY: glibc's aio_init, same contract.
        return unsafe { (g.aio_init)(init) };
    }
    let _ = init;
}

macro_rules! alias64 {
    ($($name64:ident => $name:ident ($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {$(
        /// The `_FILE_OFFSET_BITS=64` name; on x86_64 `struct aiocb64` is
        #[doc = concat!("`struct aiocb`, so this is [`", stringify!($name), "`].")]
        ///
        /// # Safety
        #[doc = concat!("As for [`", stringify!($name), "`].")]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name64($($arg: $ty),*) -> $ret {
            // SAFETY: same contract.
            unsafe { $name($($arg),*) }
        }
    )*};
}

alias64! {
    aio_read64 => aio_read(cb: *mut AioCb) -> c_int;
    aio_write64 => aio_write(cb: *mut AioCb) -> c_int;
    aio_error64 => aio_error(cb: *const AioCb) -> c_int;
    aio_return64 => aio_return(cb: *mut AioCb) -> isize;
    aio_suspend64 => aio_suspend(list: *const *const AioCb, nent: c_int, timeout: *const libc::timespec) -> c_int;
    aio_cancel64 => aio_cancel(fd: c_int, cb: *mut AioCb) -> c_int;
    aio_fsync64 => aio_fsync(op: c_int, cb: *mut AioCb) -> c_int;
    lio_listio64 => lio_listio(mode: c_int, list: *const *mut AioCb, nent: c_int, sig: *mut SigEvent) -> c_int;
}

/// The value of one of kaio's counters, by name ("submitted", "completed",
/// "kernel", "thread", "ring_reaped", ...), or 0 for an unknown name. Lets a
/// program (or a test) check that kaio served its requests.
///
/// # Safety
/// `name` must be null or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kaio_counter(name: *const c_char) -> u64 {
    if name.is_null() {
        return 0;
    }
    // SAFETY: caller's contract.
    let name = unsafe { CStr::from_ptr(name) };
    engine::counter(name.to_bytes()).unwrap_or(0)
}

/// kaio's version, e.g. "0.1.0".
#[unsafe(no_mangle)]
pub extern "C" fn kaio_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Start an asynchronous vectored read (FreeBSD 13's calling convention):
/// `aio_buf` points to an array of `struct iovec`, `aio_nbytes` is its
/// length (at most `IOV_MAX`); `aio_offset` as for [`aio_read`]. Finish it
/// with `aio_error`/`aio_return`/`aio_suspend` like any request.
/// <https://man.freebsd.org/cgi/man.cgi?query=aio_readv>
///
/// # Safety
/// As for [`aio_read`]; the iovec array and every buffer it names must stay
/// valid and unmodified until the request completes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aio_readv(cb: *mut AioCb) -> c_int {
    if passthrough::glibc().is_some() {
        // glibc has no vectored AIO to forward to.
        set_errno(libc::ENOSYS);
        return -1;
    }
    // SAFETY: caller's contract.
    c_result(
        non_null(cb).and_then(|cb| unsafe { engine::read_write(cb, Op::Readv) }),
        |_| 0,
    )
}

/// Start an asynchronous vectored write (see [`aio_readv`]).
/// <https://man.freebsd.org/cgi/man.cgi?query=aio_writev>
///
/// # Safety
/// As for [`aio_readv`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aio_writev(cb: *mut AioCb) -> c_int {
    if passthrough::glibc().is_some() {
        // glibc has no vectored AIO to forward to.
        set_errno(libc::ENOSYS);
        return -1;
    }
    // SAFETY: caller's contract.
    c_result(
        non_null(cb).and_then(|cb| unsafe { engine::read_write(cb, Op::Writev) }),
        |_| 0,
    )
}

/// Wait for any request to complete (FreeBSD semantics): store its aiocb in
/// `*iocbp` and return its result, doing `aio_return`'s work. Reports the
/// requests submitted after the process first called `aio_waitcomplete` or
/// [`kaio_completion_fd`]. -1 with EAGAIN if none is outstanding,
/// EINPROGRESS when `timeout` (relative; NULL = forever; zero = poll) passes,
/// EINTR on a signal, EINVAL for a bad timeout. A cancellation point.
/// <https://man.freebsd.org/cgi/man.cgi?query=aio_waitcomplete>
///
/// # Safety
/// `iocbp` must be null (EINVAL) or writable; `timeout` null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aio_waitcomplete(
    iocbp: *mut *mut AioCb,
    timeout: *const libc::timespec,
) -> libc::ssize_t {
    if iocbp.is_null() {
        set_errno(libc::EINVAL);
        return -1;
    }
    crate::sys::testcancel();
    // SAFETY: caller's contract.
    match engine::wait_any(unsafe { timeout.as_ref() }) {
        Ok((cb, ret)) => {
            // SAFETY: caller's contract.
            unsafe { *iocbp = cb };
            ret
        }
        Err(e) => {
            // SAFETY: caller's contract.
            unsafe { *iocbp = core::ptr::null_mut() };
            set_errno(e);
            -1
        }
    }
}

/// An eventfd that becomes readable whenever kaio completes a request, so
/// an epoll/poll/select event loop can drive POSIX AIO without signals or
/// threads: when it is readable, read it (8 bytes, the number of
/// completions since the last read) and look at your requests with
/// `aio_error`, or reap them with `aio_waitcomplete` and a zero timeout.
/// The same descriptor is returned on every call; it is close-on-exec and
/// non-blocking. -1 with errno if it cannot be created.
///
/// # Safety
/// Always safe to call.
#[unsafe(no_mangle)]
pub extern "C" fn kaio_completion_fd() -> c_int {
    c_result(engine::completion_fd(), |fd| fd)
}

/// kaio's counters, for `kaio_stats`: the counters of `KAIO_SHOW_STATS`, in
/// the same order, each described in kaio(7). Its size is fixed, 64 counters
/// (512 bytes): counters added later take `reserved` slots.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KaioStats {
    /// Requests accepted by aio_read, aio_write, aio_readv, aio_writev, aio_fsync and lio_listio (one per list entry).
    pub submitted: u64,
    /// Requests whose result was published (aio_error no longer says EINPROGRESS), failed and cancelled ones included.
    pub completed: u64,
    /// Requests submitted to the kernel with io_submit: O_DIRECT files and block devices, fsyncs.
    pub kernel: u64,
    /// Requests completed inside aio_read or aio_write without blocking: a page-cache hit (RWF_NOWAIT), a ready pipe or socket.
    pub inline_: u64,
    /// Requests that waited for readiness with the kernel's IOCB_CMD_POLL (pipes, sockets, terminals).
    pub poll: u64,
    /// Requests served by a kaio thread: a buffered request that missed the page cache, a descriptor without non-blocking support, an fsync the kernel cannot do asynchronously.
    pub thread: u64,
    /// Times a request waited in kaio's queue because the kernel ring was full (see KAIO_MAX_EVENTS).
    pub ring_full: u64,
    /// Requests served by threads because io_setup failed (aio-max-nr exhausted).
    pub no_context: u64,
    /// Requests cancelled by aio_cancel (AIO_CANCELED).
    pub cancelled: u64,
    /// Notifications sent: signals queued (SIGEV_SIGNAL, SIGEV_THREAD_ID) and threads started (SIGEV_THREAD), lio_listio's included.
    pub notifications: u64,
    /// Completions read from the kernel's user-mapped ring, without a system call.
    pub ring_reaped: u64,
    /// io_getevents system calls made.
    pub getevents_calls: u64,
    /// io_submit system calls made (a lio_listio batch takes one).
    pub io_submit_calls: u64,
    /// Requests that failed before reaching the kernel or a thread (a bad descriptor, buffer or offset): their error is in aio_error.
    pub failed_at_submit: u64,
    /// aio_fsync requests held until the file writes submitted before them had completed.
    pub fsync_held: u64,
    /// Completions returned by io_getevents.
    pub getevents_reaped: u64,
    /// lio_listio calls.
    pub lio_batches: u64,
    /// Completions aio_waitcomplete could not be told of (over 65536 unreaped).
    pub waitcomplete_overflow: u64,
    /// Requests refused at submission with EAGAIN (no thread or memory could be had) or EINVAL (the aiocb was already in flight).
    pub refused: u64,
    /// Times the kernel refused AIO for good (io_submit/io_getevents said EPERM or ENOSYS): threads serve everything after.
    pub kernel_refused: u64,
    /// Times a waiter took over reaping from a holder that left without returning (siglongjmp out of aio_suspend).
    pub reap_takeovers: u64,
    /// Room for the counters of later versions (0 until then).
    pub reserved: [u64; 43],
}

/// `struct kaio_stats` has room for this many counters.
const KAIO_STATS_SLOTS: usize = 64;
const _: () = assert!(core::mem::size_of::<KaioStats>() == 8 * KAIO_STATS_SLOTS);
const _: () = assert!(engine::stats::COUNT <= KAIO_STATS_SLOTS);

impl Default for KaioStats {
    fn default() -> Self {
        Self::from_slots([0; KAIO_STATS_SLOTS])
    }
}

impl KaioStats {
    fn from_slots(slots: [u64; KAIO_STATS_SLOTS]) -> Self {
        // SAFETY: KaioStats is repr(C) and made of 64 u64 (asserted above).
        unsafe { core::mem::transmute::<[u64; KAIO_STATS_SLOTS], KaioStats>(slots) }
    }

    /// The counters now, in declaration order (the order of the fields:
    /// checked by the unit test below and c-tests/checks/counters.sh).
    fn now() -> Self {
        let mut slots = [0u64; KAIO_STATS_SLOTS];
        for (slot, v) in slots.iter_mut().zip(engine::stats::STATS.values()) {
            *slot = v;
        }
        Self::from_slots(slots)
    }
}

/// Fill `*out` with kaio's counters for this process. 0, or -1/EINVAL for
/// a NULL pointer.
///
/// # Safety
/// `out` must be null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kaio_stats(out: *mut KaioStats) -> c_int {
    if out.is_null() {
        set_errno(libc::EINVAL);
        return -1;
    }
    // SAFETY: caller's contract.
    unsafe { *out = KaioStats::now() };
    0
}

/// glibc's `_exit(2)`, interposed (not declared in kaio.h) so that
/// `KAIO_SHOW_STATS=1` also prints the statistics of a process that leaves
/// with `_exit`, as fio's and stress-ng's workers do, and a statistics file
/// (`KAIO_STATS_DIR`) records that the process exited. Then the
/// `exit_group` system call, as glibc's. Async-signal-safe, like glibc's.
#[unsafe(no_mangle)]
pub extern "C" fn _exit(status: c_int) -> ! {
    engine::stats::before_exit();
    crate::sys::exit_group(status)
}

/// `_Exit(3)`, glibc's other name for `_exit`.
#[unsafe(no_mangle)]
#[allow(non_snake_case)]
pub extern "C" fn _Exit(status: c_int) -> ! {
    _exit(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of `struct kaio_stats` (in include/kaio.h, generated from
    /// this file) are the counters, in order, with the same meanings.
    #[test]
    fn kaio_stats_fields_are_the_counters() {
        let h = include_str!("../include/kaio.h");
        let body = h
            .split("struct kaio_stats {")
            .nth(1)
            .and_then(|b| b.split("};").next())
            .unwrap_or("");
        let mut fields = Vec::new();
        let mut doc = String::new();
        let mut in_doc = false;
        for line in body.lines().map(str::trim) {
            if line == "/*" {
                in_doc = true;
            } else if line == "*/" {
                in_doc = false;
            } else if in_doc {
                doc.push_str(line);
            } else if let Some(f) = line
                .strip_prefix("uint64_t ")
                .and_then(|f| f.strip_suffix(';'))
            {
                fields.push((f.to_string(), std::mem::take(&mut doc)));
            }
        }
        let names: Vec<(String, String)> = engine::stats::NAMES
            .iter()
            .map(|(n, d)| {
                (
                    if *n == "inline" { "inline_" } else { n }.to_string(),
                    d.to_string(),
                )
            })
            .collect();
        assert_eq!(
            fields.get(..names.len()),
            Some(&names[..]),
            "include/kaio.h: run 'make header'?"
        );
        assert_eq!(fields.len(), names.len() + 1);
        let values = KaioStats::now();
        assert!(values.completed <= values.submitted);
    }
}
