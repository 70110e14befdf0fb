//! `aio_cancel`. Requests in the kernel cannot be cancelled (`io_cancel`
//! returns EINVAL for reads and writes) and requests on a kaio thread are
//! already running: both are AIO_NOTCANCELED and complete normally. What kaio
//! still holds (an fsync waiting for earlier writes) is cancelled: ECANCELED,
//! and its notification fires, as glibc does for requests it dequeues.

use core::sync::atomic::Ordering;

use super::{barrier, fdtable};
use crate::abi::{AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED, AioCb, flags};
use crate::sys::{self, Errno};

/// # Safety
/// `cb`, if not null, must be a valid aiocb.
pub unsafe fn cancel(fd: i32, cb: *mut AioCb) -> Result<i32, Errno> {
    if sys::fcntl_getfl(fd).is_err() {
        return Err(libc::EBADF);
    }
    if !cb.is_null() {
        // SAFETY: caller's contract.
        let c = unsafe { &*cb };
        if c.aio_fildes != fd {
            return Err(libc::EINVAL);
        }
        if c.error_code.load(Ordering::Acquire) != libc::EINPROGRESS {
            return Ok(AIO_ALLDONE);
        }
        if c.flags.load(Ordering::SeqCst) & flags::HELD != 0 && barrier::cancel(&|x| x == cb) > 0 {
            return Ok(AIO_CANCELED);
        }
        return Ok(
            if c.error_code.load(Ordering::Acquire) == libc::EINPROGRESS {
                AIO_NOTCANCELED
            } else {
                AIO_ALLDONE
            },
        );
    }
    // SAFETY: held aiocbs are valid while held.
    let n = barrier::cancel(&|x| unsafe { (*x).aio_fildes } == fd);
    Ok(if fdtable::in_flight(fd) > 0 {
        AIO_NOTCANCELED
    } else if n > 0 {
        AIO_CANCELED
    } else {
        AIO_ALLDONE
    })
}
