//! Publishing a request's result into its aiocb, and everything that must
//! follow, in one fixed order:
//!
//! 1. release what the request held (its duplicate descriptor, its count in
//!    the per-fd table);
//! 2. publish: `__return_value`, then `__error_code` with release, so an
//!    `aio_error` that sees a final value (acquire) can read the result —
//!    from here on the caller owns the aiocb again and nothing reads it;
//! 3. `aio_waitcomplete`/`kaio_completion_fd` bookkeeping;
//! 4. the request's own notification;
//! 5. its `lio_listio` group, whose list notification therefore never
//!    overtakes a member's own;
//! 6. ordering follow-ups: the fsync barrier (an fsync waiting for this
//!    write may go ahead), and, in [`finish`], the next request of a lane;
//! 7. waking waiters.
//!
//! In a signal-safe context (`aio_error`, `aio_suspend`) steps that need a
//! thread or a lock are not taken: such a request is handed to the reaper
//! before step 1, which completes it from an ordinary context.

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

/// Whether completing `c` needs an ordinary context.
fn needs_normal(c: &AioCb, f: u32) -> bool {
    f & flags::LANE != 0
        || (f & flags::NOTIFY != 0
            && Notify::from_sigevent(&c.aio_sigevent).is_ok_and(|n| !n.is_signal_safe()))
}

/// Publish `res` (bytes, or `-errno`) for `cb` and run what follows.
///
/// # Safety
/// `cb` must be an in-progress request that kaio accepted, completed exactly
/// once (by whoever took it from the kernel, a queue, or a thread).
pub unsafe fn complete(cb: *mut AioCb, res: i64, mode: Mode) {
    // SAFETY: in progress, so the caller must not touch it and it is valid.
    let c = unsafe { &*cb };
    let f = c.flags.load(Ordering::Relaxed);
    if mode == Mode::SignalSafe && needs_normal(c, f) {
        // SAFETY: ours until completed; the reaper completes it.
        unsafe { reaper::defer(cb, res) };
        return;
    }
    let notify = if f & flags::NOTIFY != 0 {
        Notify::from_sigevent(&c.aio_sigevent).unwrap_or(Notify::None)
    } else {
        Notify::None
    };
    let group = c.group.load(Ordering::Relaxed);
    let parity = c.parity.load(Ordering::Relaxed);
    let generation = c.generation.load(Ordering::Relaxed);
    // 1. What the request held.
    if f & flags::BOUND != 0 {
        sys::close(c.bound_fd.load(Ordering::Relaxed));
    }
    if f & flags::FD_COUNTED != 0 {
        fdtable::dec(c.aio_fildes);
    }
    let (ret, err) = if res < 0 {
        (-1isize, (-res) as i32)
    } else {
        (res as isize, 0)
    };
    // 2. Publish.
    c.return_value.store(ret, Ordering::Relaxed);
    c.error_code.store(err, Ordering::Release);
    stats::bump(&STATS.completed);
    // 3. From here on, `cb` belongs to the caller again (or to whoever calls
    // aio_waitcomplete, for an enrolled request).
    done::completed(cb, f & flags::ENROLLED != 0, generation);
    // 4. The request's own notification.
    if f & flags::NOTIFY != 0 {
        notify.deliver();
        reaper::work_done();
    }
    // 5. Its list.
    if !group.is_null() {
        // SAFETY: a group outlives its members' completions (lio.rs).
        unsafe { lio::member_done(group.cast(), err != 0, mode) };
    }
    // 6. Only now may an fsync waiting for this write go ahead: whoever sees
    // the fsync complete must see this write complete too.
    if f & flags::WRITE != 0 {
        barrier::write_done(parity, mode);
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
