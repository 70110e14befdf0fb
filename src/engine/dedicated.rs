//! A thread of its own for a stream request that may block indefinitely and
//! cannot wait in the kernel (a descriptor without non-blocking support, or
//! no kernel context at all). Such requests never occupy the bounded pool.

use core::sync::atomic::Ordering;

use super::complete;
use super::stats::{self, STATS};
use super::submit::Op;
use super::{pool, threads};
use crate::abi::{AioCb, flags};
use crate::sys::Errno;

struct Task(*mut AioCb, Op);
// SAFETY: the aiocb is handed to the thread, its only user until completion.
unsafe impl Send for Task {}

/// Run `cb` to completion on a new thread; EAGAIN (and `cb` still ours) if
/// no thread can be created.
///
/// # Safety
/// `cb` is prepared and owned by kaio.
pub unsafe fn start(cb: *mut AioCb, op: Op) -> Result<(), Errno> {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    super::verbose::say(super::verbose::Reason::NoNonblocking, c.aio_fildes);
    let task = Task(cb, op);
    threads::spawn(c"kaio-io", 64 * 1024, move || {
        let task = task;
        // SAFETY: this thread owns the request until it completes it.
        unsafe { run(task.0, task.1) }
    })?;
    c.flags.fetch_or(flags::THREAD, Ordering::SeqCst);
    stats::bump(&STATS.thread);
    Ok(())
}

/// As [`start`], for a request accepted earlier: if no thread can be had,
/// the reaper watches the descriptor itself (`poll(2)`) and transfers when
/// it is ready — a descriptor without non-blocking support, which only a
/// blocking call can serve, completes with EAGAIN instead.
///
/// # Safety
/// As for [`start`].
pub unsafe fn start_or_fail(cb: *mut AioCb, op: Op) {
    // SAFETY: forwarded.
    if unsafe { start(cb, op) }.is_ok() {
        return;
    }
    // SAFETY: the thread never started, so the request is still ours.
    let c = unsafe { &*cb };
    if c.flags.load(Ordering::Relaxed) & (flags::STREAM | flags::UNSUPPORTED) == flags::STREAM {
        // SAFETY: ours; handed to the reaper.
        unsafe { super::reaper::user_poll(cb) };
    } else {
        // SAFETY: ours; completed once, here.
        unsafe { complete::finish(cb, op, -(libc::EAGAIN as i64)) };
    }
}

/// # Safety
/// `cb` is owned by this thread until completion.
unsafe fn run(cb: *mut AioCb, op: Op) {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    let res = if super::submit::same_file(c) {
        pool::blocking_io(c, op)
    } else {
        -(libc::EBADF as i64)
    };
    // SAFETY: forwarded: completed exactly once, here.
    unsafe { complete::finish(cb, op, res) };
}
