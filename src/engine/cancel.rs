//! `aio_cancel`. Requests in the kernel cannot be cancelled (`io_cancel`
//! returns EINVAL for reads and writes) and requests on a kaio thread are
//! already running: both are AIO_NOTCANCELED and complete normally, and so
//! are requests waiting for ring space (they are in a lock-free queue that
//! any reaper may be flushing). What kaio still holds is cancelled — an
//! fsync waiting for earlier writes, a request waiting in its descriptor's
//! lane — with ECANCELED, and its notification fires, as glibc does for
//! requests it dequeues.

use core::sync::atomic::Ordering;

use super::complete::{self, Mode};
use super::stats::{self, STATS};
use super::{barrier, fdtable, lane, reap};
use crate::abi::{AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED, AioCb, flags};
use crate::sys::{self, Errno};

/// Complete requests taken out of kaio's queues with ECANCELED.
fn cancelled(list: &[*mut AioCb]) {
    for &cb in list {
        stats::bump(&STATS.cancelled);
        // SAFETY: taken out of a queue, so only we complete it.
        unsafe { complete::complete(cb, -(libc::ECANCELED as i64), Mode::Normal) };
    }
    if !list.is_empty() {
        reap::kick_leader();
    }
}

/// Cancel one request kaio holds; `false` if it is not held (any more).
///
/// # Safety
/// `cb` is a valid aiocb.
unsafe fn cancel_one(cb: *mut AioCb) -> bool {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    let f = c.flags.load(Ordering::SeqCst);
    if f & flags::HELD != 0 && barrier::cancel(&|x| x == cb) > 0 {
        return true;
    }
    if f & flags::LANE_WAIT != 0 {
        let taken = lane::take_waiting(&|x| x == cb);
        if !taken.is_empty() {
            cancelled(&taken);
            return true;
        }
    }
    // Waiting for ring space (QUEUED): the request leaves for the kernel as
    // soon as a slot is free; like one already in the kernel, it is not
    // cancelled (AIO_NOTCANCELED).
    false
}

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
        // SAFETY: forwarded.
        if unsafe { cancel_one(cb) } {
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
    let held = barrier::cancel(&|x| unsafe { (*x).aio_fildes } == fd);
    // SAFETY: as above, for lane waiters.
    let waiting = lane::take_waiting(&|x| unsafe { (*x).aio_fildes } == fd);
    cancelled(&waiting);
    Ok(if fdtable::in_flight(fd) > 0 {
        AIO_NOTCANCELED
    } else if held + waiting.len() > 0 {
        AIO_CANCELED
    } else {
        AIO_ALLDONE
    })
}
