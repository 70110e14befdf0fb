//! Publishing a request's result into its aiocb, and everything that must
//! follow: barrier and per-fd bookkeeping, the `lio_listio` group, the
//! notification, waking waiters.
//!
//! Publication order: `__return_value`, then `__error_code` with release, so
//! an `aio_error` that sees a final value (acquire) can read the result. After
//! that store the caller owns the aiocb again: nothing reads it afterwards.

use core::sync::atomic::{AtomicU32, Ordering};

use super::notify::Notify;
use super::stats::{self, STATS};
use super::{barrier, done, fdtable, lio, reaper};
use crate::abi::{AioCb, flags};
use crate::sys;

/// Where a completion is being processed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Possibly inside a signal handler (`aio_error`, `aio_suspend`): only
    /// atomics, futex wakes and signal queueing; the rest goes to the reaper.
    SignalSafe,
    /// An ordinary thread context: do everything here.
    Normal,
}

/// The completion sequence: bumped (by 2) after every batch of
/// publications; bit 0 says a thread sleeps on it. Waiters sleep on it with
/// a futex; a completion costs a wake-up system call only when one does.
pub static SEQ: AtomicU32 = AtomicU32::new(0);

/// Publish `res` (bytes, or `-errno`) for `cb` and run what follows.
///
/// # Safety
/// `cb` must be an in-progress request that kaio accepted, completed exactly
/// once (by whoever took it from the kernel, a queue, or a thread).
pub unsafe fn complete(cb: *mut AioCb, res: i64, mode: Mode) {
    // SAFETY: in progress, so the caller must not touch it and it is valid.
    let c = unsafe { &*cb };
    let f = c.flags.load(Ordering::Relaxed);
    let notify = if f & flags::NOTIFY != 0 {
        Notify::from_sigevent(&c.aio_sigevent).unwrap_or(Notify::None)
    } else {
        Notify::None
    };
    let group = c.group.load(Ordering::Relaxed);
    let parity = c.parity.load(Ordering::Relaxed);
    if f & flags::FD_COUNTED != 0 {
        fdtable::dec(c.aio_fildes);
    }
    let (ret, err) = if res < 0 {
        (-1isize, (-res) as i32)
    } else {
        (res as isize, 0)
    };
    c.return_value.store(ret, Ordering::Relaxed);
    c.error_code.store(err, Ordering::Release);
    stats::bump(&STATS.completed);
    // From here on, `cb` belongs to the caller again (or to whoever calls
    // aio_waitcomplete, for an enrolled request).
    done::completed(cb, f & flags::ENROLLED != 0);
    // Only now may an fsync waiting for this write go ahead: whoever sees
    // the fsync complete must see this write complete too.
    if f & flags::WRITE != 0 {
        barrier::write_done(parity, mode);
    }
    if !group.is_null() {
        // SAFETY: a group outlives its members' completions (lio.rs).
        unsafe { lio::member_done(group.cast(), err != 0, mode) };
    }
    if f & flags::NOTIFY != 0 {
        if mode == Mode::Normal || notify.is_signal_safe() {
            notify.deliver();
        } else {
            reaper::push(reaper::Job::Notify(notify));
        }
        reaper::work_done();
    }
}

/// Complete a request from an ordinary thread (a kaio thread, the reaper):
/// publish, start the next request of its lane, wake whoever may wait.
///
/// # Safety
/// As for [`complete`].
pub unsafe fn finish(cb: *mut AioCb, op: super::submit::Op, res: i64) {
    // SAFETY: still in progress until `complete` publishes it.
    let (f, key) = unsafe {
        (
            (*cb).flags.load(Ordering::Relaxed),
            super::lane::Key::of(&*cb, op),
        )
    };
    // SAFETY: forwarded.
    unsafe { complete(cb, res, Mode::Normal) };
    if f & flags::LANE != 0 {
        super::lane::advance(key);
    }
    super::reap::kick_leader();
}

/// Complete a request in the submitting thread, inside `aio_read` & co.
/// (a page-cache hit, a ready pipe, nothing to transfer).
///
/// # Safety
/// As for [`complete`].
pub unsafe fn inline(cb: *mut AioCb, res: i64) {
    stats::bump(&STATS.inline);
    // SAFETY: forwarded.
    unsafe { complete(cb, res, Mode::Normal) };
    super::reap::kick_leader();
}

/// Tell waiters that something was published (or that the reap lock was
/// released, so one of them may take it).
pub fn bump_seq() {
    let old = SEQ.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
        Some(v.wrapping_add(2) & !1)
    });
    if let Ok(old) = old
        && old & 1 != 0
    {
        let _ = sys::futex_wake(&SEQ, i32::MAX);
    }
}
