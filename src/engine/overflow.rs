//! Requests that found the kernel ring full (`io_submit` said EAGAIN) wait
//! here and are submitted as completions free slots. None is lost and the
//! caller is never told EAGAIN while kaio can queue.
//!
//! The queue is a lock-free stack linked through the aiocbs themselves
//! (`AioCb::link`): pushing and taking everything are single atomic
//! operations, so it needs no memory and any context may flush it — the
//! signal-safe reaper in `aio_error`/`aio_suspend` included.
//!
//! Who flushes: whoever reaps a completion (a slot is free again), and,
//! when nothing of ours is in the kernel, the pusher itself (push, then
//! look at the in-flight count; a reaper decrements the count, then looks
//! at the queue: one of the two sees the other).

use core::ptr;
use core::sync::atomic::Ordering;

use super::complete::Mode;
use super::stack::{self, Stack};
use super::stats::{self, STATS};
use super::submit::{self, Op};
use super::{context, reap, reaper, slots, stream};
use crate::abi::{AioCb, flags};
use crate::sys::Iocb;

static HEAD: Stack = Stack::new(ptr::null_mut());

fn push_raw(cb: *mut AioCb) {
    // SAFETY: a refused request is ours and on no other list.
    unsafe { stack::push(&HEAD, cb) };
}

/// Queue `cb` (bookkeeping done, not counted as in the kernel). Ordinary
/// context (the first time, it explains itself under `KAIO_VERBOSE`).
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
    push_raw(cb);
    // If nothing is in the kernel, no completion will come to flush us.
    if reap::kernel_in_flight() == 0
        && let Some(ctx) = context::current()
    {
        flush(ctx, Mode::Normal);
    }
}

pub fn is_empty() -> bool {
    HEAD.load(Ordering::SeqCst).is_null()
}

/// Give back the rest of a list (the ring filled up again).
fn put_back(mut list: *mut AioCb) {
    while !list.is_null() {
        let cb = list;
        // SAFETY: ours until pushed.
        list = unsafe { (*cb).link.load(Ordering::Relaxed) };
        push_raw(cb);
    }
}

/// Submit queued requests while the ring takes them. Any context: in a
/// signal-safe one, what needs a lock or a thread goes to the reaper.
pub fn flush(ctx: u64, mode: Mode) {
    let mut submitted = false;
    'again: loop {
        let mut list = stack::take_fifo(&HEAD);
        if list.is_null() {
            break;
        }
        while !list.is_null() {
            let cb = list;
            // SAFETY: queued requests are valid and ours until submitted.
            let c = unsafe { &*cb };
            list = c.link.load(Ordering::Relaxed);
            c.flags.fetch_and(!flags::QUEUED, Ordering::SeqCst);
            let op = Op::recorded(c);
            let iocb: Iocb = if c.flags.load(Ordering::Relaxed) & flags::POLL != 0 {
                stream::poll_iocb(cb, op)
            } else if !submit::same_file(c) {
                // The program closed the descriptor and the number now
                // names another file: never submit there.
                // SAFETY: ours; completes once, here.
                unsafe { refused(cb, libc::EBADF, mode) };
                continue;
            } else {
                submit::fill_iocb(cb, op)
            };
            reap::kernel_enter();
            stats::bump(&STATS.io_submit_calls);
            match slots::submit_one(ctx, iocb) {
                Ok(()) => {
                    stats::bump(&STATS.kernel);
                    submitted = true;
                }
                Err(libc::EAGAIN) if reap::kernel_in_flight() > 1 => {
                    reap::kernel_refused();
                    c.flags.fetch_or(flags::QUEUED, Ordering::SeqCst);
                    c.link.store(list, Ordering::Relaxed);
                    put_back(cb);
                    // Completions will flush the rest; but one may have come
                    // between the refusal and the push: if the kernel is
                    // empty now, go again.
                    if reap::kernel_in_flight() > 0 {
                        break 'again;
                    }
                    continue 'again;
                }
                Err(e) => {
                    reap::kernel_refused();
                    // SAFETY: refused: still ours.
                    unsafe { refused(cb, e, mode) };
                }
            }
        }
    }
    if submitted {
        // A waiter may have gone to sleep while its request waited here
        // (with nothing in the kernel, it had nothing to reap): now there
        // is, so waiters look again and one of them reaps.
        super::complete::bump_seq();
    }
}

/// The kernel refused a queued request for good (or has nothing of ours
/// and still says EAGAIN): a thread does it, or it fails with `e`.
///
/// # Safety
/// `cb` is ours, not in any queue.
unsafe fn refused(cb: *mut AioCb, e: i32, mode: Mode) {
    let c = unsafe { &*cb };
    let to_thread = e == libc::EAGAIN || reap::fatal(e);
    if reap::fatal(e) {
        context::kernel_broken();
    }
    match mode {
        // SAFETY: forwarded: ours.
        Mode::Normal if to_thread => unsafe { submit::to_thread(cb, Op::recorded(c)) },
        // SAFETY: forwarded: ours.
        Mode::Normal => unsafe { submit::fail_later(cb, e) },
        Mode::SignalSafe => {
            if to_thread {
                c.flags.fetch_or(flags::TO_THREAD, Ordering::SeqCst);
            }
            // SAFETY: ours; the reaper completes or routes it.
            unsafe { reaper::defer(cb, -(e as i64)) };
        }
    }
}

/// In a `fork()` child: the parent's queue is not ours.
pub fn reset_after_fork() {
    HEAD.store(ptr::null_mut(), Ordering::Relaxed);
}
