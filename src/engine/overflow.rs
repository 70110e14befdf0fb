//! Requests that found the kernel ring full (`io_submit` said EAGAIN) wait
//! here, in a lock-free queue, and are submitted as completions free slots.
//! None is lost and the caller is never told EAGAIN while kaio can queue.

use super::fork_lazy::ForkLazy;
use core::sync::atomic::Ordering;

use crossbeam_queue::SegQueue;

use super::stats::{self, STATS};
use super::submit::{self, Op};
use super::{reap, reaper, slots, stream};
use crate::abi::{AioCb, flags};
use crate::sys::Iocb;

static QUEUE: ForkLazy<SegQueue<usize>> = ForkLazy::new();

/// Queue `cb` (bookkeeping done, not counted as in the kernel).
///
/// # Safety
/// `cb` was refused by the kernel and is owned by kaio.
pub unsafe fn push(cb: *mut AioCb) {
    // SAFETY: kaio owns the private fields while in progress.
    unsafe { (*cb).flags.fetch_or(flags::QUEUED, Ordering::SeqCst) };
    stats::bump(&STATS.ring_full);
    // SAFETY: as above.
    super::verbose::say(super::verbose::Reason::RingFull, unsafe {
        (*cb).aio_fildes
    });
    // Someone must flush the queue even if nobody calls into kaio.
    reaper::work_begin();
    QUEUE.get_or_init(SegQueue::new).push(cb as usize);
    // If nothing is in the kernel, no completion will come to flush us.
    if reap::kernel_in_flight() == 0
        && let Some(ctx) = super::context::current()
    {
        flush(ctx);
    }
    reaper::kick();
}

pub fn is_empty() -> bool {
    QUEUE.get().is_none_or(|q| q.is_empty())
}

/// Submit queued requests while the ring takes them. Ordinary thread context
/// only (the queue frees memory as it drains).
pub fn flush(ctx: u64) {
    let Some(q) = QUEUE.get() else { return };
    while let Some(addr) = q.pop() {
        let cb = addr as *mut AioCb;
        // SAFETY: queued requests are valid until completed.
        let c = unsafe { &*cb };
        // Claim it against aio_cancel.
        if c.flags.fetch_and(!flags::QUEUED, Ordering::SeqCst) & flags::QUEUED == 0 {
            reaper::work_done();
            continue;
        }
        let op = Op::recorded(c);
        let iocb: Iocb = if c.flags.load(Ordering::Relaxed) & flags::POLL != 0 {
            stream::poll_iocb(cb, op)
        } else {
            submit::fill_iocb(cb, op)
        };
        reap::kernel_enter();
        stats::bump(&STATS.io_submit_calls);
        match slots::submit_one(ctx, iocb) {
            Ok(()) => {
                stats::bump(&STATS.kernel);
                reaper::work_done();
            }
            Err(libc::EAGAIN) => {
                reap::kernel_refused();
                c.flags.fetch_or(flags::QUEUED, Ordering::SeqCst);
                q.push(addr);
                return;
            }
            Err(e) => {
                reap::kernel_refused();
                reaper::work_done();
                // SAFETY: refused: still ours.
                unsafe { submit::fail(cb, e) };
            }
        }
    }
}

/// In a `fork()` child: the parent's queue is not ours.
pub fn reset_after_fork() {
    QUEUE.forget_after_fork();
}
