//! A thread of its own for a stream request that may block indefinitely and
//! cannot wait in the kernel (a descriptor without non-blocking support, or
//! no kernel context at all). Such requests never occupy the bounded pool.

use core::sync::atomic::Ordering;

use super::complete;
use super::stats::{self, STATS};
use super::submit::{self, Op};
use super::{pool, threads};
use crate::abi::{AioCb, flags};

struct Task(*mut AioCb, Op);
// SAFETY: the aiocb is handed to the thread, its only user until completion.
unsafe impl Send for Task {}

/// Run `cb` to completion on a new thread.
///
/// # Safety
/// `cb` is prepared and owned by kaio.
pub unsafe fn start(cb: *mut AioCb, op: Op) {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    c.flags.fetch_or(flags::THREAD, Ordering::SeqCst);
    super::verbose::say(super::verbose::Reason::NoNonblocking, c.aio_fildes);
    let task = Task(cb, op);
    let spawned = threads::spawn("kaio-io", 64 * 1024, move || {
        let task = task;
        // SAFETY: this thread owns the request until it completes it.
        unsafe { run(task.0, task.1) }
    });
    match spawned {
        Ok(_) => stats::bump(&STATS.thread),
        // No thread could be made: fail with EAGAIN, as POSIX allows.
        // SAFETY: the thread never started, so the request is still ours.
        Err(_) => unsafe { submit::fail(cb, libc::EAGAIN) },
    }
}

/// # Safety
/// `cb` is owned by this thread until completion.
unsafe fn run(cb: *mut AioCb, op: Op) {
    // SAFETY: caller's contract.
    let res = pool::blocking_io(unsafe { &*cb }, op);
    // SAFETY: forwarded: completed exactly once, here.
    unsafe { complete::finish(cb, op, res) };
}
