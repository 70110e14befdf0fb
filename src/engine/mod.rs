//! The engine: submission, completion reaping, fallbacks and notification,
//! between the C ABI layer (`ffi`) and the kernel (`sys`). Nothing here
//! touches `errno`: every operation returns `Result<_, Errno>`.

mod barrier;
mod cancel;
mod classify;
mod complete;
mod config;
mod context;
mod dedicated;
mod done;
mod fdtable;
mod fork;
mod fork_lazy;
pub(crate) use fork_lazy::ForkLazy;
mod iov;
mod lane;
mod lio;
mod lock;
mod mem;
mod notify;
mod overflow;
mod pool;
mod reap;
mod reaper;
mod slots;
mod stack;
pub mod stats;
mod stream;
mod submit;
mod threads;
mod verbose;
mod wait;

use core::sync::atomic::Ordering;

use crate::abi::{AioCb, LIO_NOWAIT, LIO_WAIT, SigEvent};
use crate::sys::Errno;
pub use notify::Notify;
pub use submit::Op;

/// `aio_read` / `aio_write`.
///
/// # Safety
/// `cb` is a valid aiocb that stays valid, and unmodified, until complete.
pub unsafe fn read_write(cb: *mut AioCb, op: Op) -> Result<(), Errno> {
    // SAFETY: forwarded.
    unsafe { submit::read_write(cb, op) }
}

/// `aio_fsync`.
///
/// # Safety
/// As for `read_write`.
pub unsafe fn fsync(cb: *mut AioCb, data_only: bool) -> Result<(), Errno> {
    // SAFETY: caller's contract.
    let id = crate::sys::fstat_id(unsafe { (*cb).aio_fildes }).map_err(|_| libc::EBADF)?;
    // SAFETY: forwarded.
    unsafe { submit::fsync(cb, data_only, &id) }
}

/// `aio_error`: a load, plus a lock-free look at the completion ring if the
/// request is in the kernel. No system call, no lock, no allocation.
pub fn error(cb: &AioCb) -> i32 {
    let e = cb.error_code.load(Ordering::Acquire);
    if e != libc::EINPROGRESS {
        return e;
    }
    if cb.flags.load(Ordering::Relaxed) & (crate::abi::flags::KERNEL | crate::abi::flags::POLL) != 0
    {
        reap::try_reap();
    }
    cb.error_code.load(Ordering::Acquire)
}

/// `aio_return`: the published result (an enrolled request is then
/// reported: `aio_waitcomplete` will not return it).
pub fn return_value(cb: &AioCb) -> isize {
    if done::enrolling() {
        done::returned(cb);
    }
    cb.error_code.load(Ordering::Acquire);
    cb.return_value.load(Ordering::Relaxed)
}

/// `aio_suspend` after argument checks: wait until one of `list` is done.
pub fn suspend(list: &[*const AioCb], timeout: Option<&libc::timespec>) -> Result<(), Errno> {
    let deadline = match timeout {
        Some(t) => Some(wait::deadline_after(t)?),
        None => None,
    };
    let live = || list.iter().filter(|p| !p.is_null());
    if live().next().is_none() {
        return Ok(());
    }
    // SAFETY: the caller passes valid aiocbs (null entries are skipped).
    let done =
        || live().any(|&p| unsafe { (*p).error_code.load(Ordering::Acquire) } != libc::EINPROGRESS);
    let how = wait::How {
        mode: complete::Mode::SignalSafe,
        restart: false,
        cancellable: true,
    };
    wait::wait_until(&done, deadline.as_ref(), how)
}

/// `aio_cancel`.
///
/// # Safety
/// `cb` is null or a valid aiocb.
pub unsafe fn cancel(fd: i32, cb: *mut AioCb) -> Result<i32, Errno> {
    // SAFETY: forwarded.
    unsafe { cancel::cancel(fd, cb) }
}

/// `lio_listio`.
///
/// # Safety
/// Non-null entries of `list` are valid aiocbs that stay valid until done;
/// `sig` is null or valid.
pub unsafe fn listio(mode: i32, list: &[*mut AioCb], sig: *const SigEvent) -> Result<(), Errno> {
    if mode != LIO_WAIT && mode != LIO_NOWAIT {
        return Err(libc::EINVAL);
    }
    let notify = if mode == LIO_NOWAIT && !sig.is_null() {
        // SAFETY: caller's contract.
        Notify::from_sigevent(unsafe { &*sig })?
    } else {
        Notify::None
    };
    // SAFETY: forwarded.
    unsafe { lio::listio(mode, list, notify) }
}

/// A counter by name (see `stats`), or `fault:POINT`: the calls made at a
/// fault-injection point while `KAIO_FAULT` is set (for tests that loop).
pub fn counter(name: &[u8]) -> Option<u64> {
    use crate::sys::fault::{self, Point};
    if let Some(point) = name.strip_prefix(b"fault:") {
        let p = match point {
            b"io_setup" => Point::IoSetup,
            b"io_submit" => Point::IoSubmit,
            b"io_getevents" => Point::IoGetevents,
            b"thread" => Point::Thread,
            b"alloc" => Point::Alloc,
            _ => return None,
        };
        return Some(fault::calls(p));
    }
    stats::STATS.by_name(name)
}

/// `aio_waitcomplete`.
pub fn wait_any(timeout: Option<&libc::timespec>) -> Result<(*mut AioCb, isize), Errno> {
    done::wait_any(timeout)
}

/// `kaio_completion_fd`.
pub fn completion_fd() -> Result<i32, Errno> {
    done::completion_fd()
}

/// Whether `KAIO_DISABLE=1` asks to forward everything to glibc.
pub fn disabled() -> bool {
    config::get().disable
}

/// One line on stderr (raw write: usable at any time).
pub fn warn(msg: &str) {
    // SAFETY: writing a valid buffer to stderr.
    let _ = unsafe { crate::sys::write(2, msg.as_ptr(), msg.len()) };
}
