//! A thread of its own for a stream request that may block indefinitely and
//! cannot wait in the kernel (a descriptor without non-blocking support, or
//! no kernel context at all). Such requests never occupy the bounded pool.

use core::sync::atomic::Ordering;

use super::complete::{self, Mode};
use super::stats::{self, STATS};
use super::submit::{self, Op};
use super::{lane, pool, reap};
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
    // SAFETY: sigset operations on local sets: the thread starts with every
    // signal blocked; the caller's mask is restored.
    let mut all: libc::sigset_t = unsafe { core::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { core::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    let spawned = std::thread::Builder::new()
        .name("kaio-io".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let task = task;
            // SAFETY: this thread owns the request until it completes it.
            unsafe { run(task.0, task.1) }
        });
    // SAFETY: restoring the caller's own mask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut()) };
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
    let c = unsafe { &*cb };
    let res = pool::blocking_io(c, op);
    let f = c.flags.load(Ordering::Relaxed);
    let key = lane::Key::of(c, op);
    // SAFETY: completed exactly once, here.
    unsafe { complete::complete(cb, res, Mode::Normal) };
    if f & flags::LANE != 0 {
        lane::advance(key);
    }
    reap::kick_leader();
}
