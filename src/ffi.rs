//! Every `extern "C"` export of libkaio: the 17 POSIX AIO symbols, unversioned
//! so that a preloaded libkaio interposes both `aio_read@GLIBC_2.34` and
//! `@GLIBC_2.2.5`, and the `kaio_*` extensions declared in `kaio.h`.
//! This layer only checks pointers, converts `Result` to `-1` + `errno` (in
//! [`c_result`]) and calls the engine.

use core::ffi::{CStr, c_char, c_int};

use crate::abi::{AioCb, AioInit, SigEvent};
use crate::engine::{self, Op};
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
