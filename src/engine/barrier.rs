//! Ordering `aio_fsync` after earlier writes. The kernel's `IOCB_CMD_FSYNC`
//! does not wait for writes still in flight, so kaio holds an fsync until
//! every write submitted before it has completed, then submits it.
//!
//! Writes are counted in one of two epochs (parity of `EPOCH`), lock-free.
//! An fsync that finds writes in flight flips the epoch and waits for the
//! old epoch's count to reach zero; fsyncs that arrive meanwhile wait for
//! the next flip. The barrier is process-wide (it may wait for writes on
//! other descriptors too), which is conservative but never wrong.

use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use super::complete::{self, Mode};
use super::lock::Locked;
use super::stats::{self, STATS};
use super::{reap, reaper, submit};
use crate::abi::{AioCb, flags};

const NO_DRAIN: u32 = 2;

static EPOCH: AtomicU32 = AtomicU32::new(0);
static WRITES: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];
/// Parity being drained, or NO_DRAIN.
static DRAINING: AtomicU32 = AtomicU32::new(NO_DRAIN);

/// Held fsyncs, linked through `AioCb::link`.
struct Held {
    /// Waiting for the epoch in `DRAINING` to drain.
    current: *mut AioCb,
    /// Arrived during the drain: wait for the next one.
    next: *mut AioCb,
}

// SAFETY: the raw pointers are only touched under the lock.
unsafe impl Send for Held {}

static HELD: Locked<Held> = Locked::new(Held {
    current: ptr::null_mut(),
    next: ptr::null_mut(),
});

/// Register a write about to be submitted; returns its epoch parity.
pub fn write_begin() -> u32 {
    loop {
        let e = EPOCH.load(Ordering::SeqCst);
        let p = e & 1;
        WRITES[p as usize].fetch_add(1, Ordering::SeqCst);
        if EPOCH.load(Ordering::SeqCst) == e {
            return p;
        }
        // The epoch flipped under us: count the write in the new one.
        write_done(p, Mode::Normal);
    }
}

/// A write of parity `p` completed (or was never submitted).
pub fn write_done(p: u32, mode: Mode) {
    let left = WRITES[(p & 1) as usize].fetch_sub(1, Ordering::SeqCst) - 1;
    if left == 0 && DRAINING.load(Ordering::SeqCst) == p {
        match mode {
            Mode::Normal => release(),
            Mode::SignalSafe => reaper::push(reaper::Job::BarrierRelease),
        }
    }
}

fn push(list: &mut *mut AioCb, cb: *mut AioCb) {
    // SAFETY: `cb` is a held request; its link field is kaio's.
    unsafe { (*cb).link.store(*list, Ordering::Relaxed) };
    *list = cb;
}

/// Submit `cb` (an fsync) now, or hold it behind writes in flight.
///
/// # Safety
/// `cb` is a prepared, in-progress fsync request.
pub unsafe fn fsync(cb: *mut AioCb) {
    let held = HELD.with(|h| {
        let d = DRAINING.load(Ordering::SeqCst);
        if d == NO_DRAIN {
            let p = EPOCH.load(Ordering::SeqCst) & 1;
            if WRITES[p as usize].load(Ordering::SeqCst) == 0 {
                return false;
            }
            reaper::work_begin();
            EPOCH.fetch_add(1, Ordering::SeqCst);
            DRAINING.store(p, Ordering::SeqCst);
            push(&mut h.current, cb);
        } else {
            push(&mut h.next, cb);
        }
        // SAFETY: in progress, kaio owns the private fields.
        unsafe { (*cb).flags.fetch_or(flags::HELD, Ordering::SeqCst) };
        true
    });
    if held {
        stats::bump(&STATS.fsync_held);
        reaper::kick();
        release();
    } else {
        // SAFETY: forwarded.
        unsafe { submit::fsync_now(cb) };
    }
}

/// Submit the fsyncs whose writes have all completed.
pub fn release() {
    let mut ready: *mut AioCb = ptr::null_mut();
    HELD.with(|h| {
        loop {
            let d = DRAINING.load(Ordering::SeqCst);
            if d == NO_DRAIN || WRITES[d as usize].load(Ordering::SeqCst) != 0 {
                break;
            }
            while !h.current.is_null() {
                let cb = h.current;
                // SAFETY: held requests are valid until completed.
                h.current = unsafe { (*cb).link.load(Ordering::Relaxed) };
                push(&mut ready, cb);
            }
            if h.next.is_null() {
                DRAINING.store(NO_DRAIN, Ordering::SeqCst);
                reaper::work_done();
            } else {
                h.current = core::mem::replace(&mut h.next, ptr::null_mut());
                let p = EPOCH.fetch_add(1, Ordering::SeqCst) & 1;
                DRAINING.store(p, Ordering::SeqCst);
            }
        }
    });
    let mut any = false;
    while !ready.is_null() {
        let cb = ready;
        // SAFETY: taken off the held lists above; still in progress.
        unsafe {
            ready = (*cb).link.load(Ordering::Relaxed);
            (*cb).flags.fetch_and(!flags::HELD, Ordering::SeqCst);
            submit::fsync_now(cb);
        }
        any = true;
    }
    if any {
        // Waiters of these fsyncs may now need to reap the kernel.
        reap::kick_leader();
    }
}

fn unlink(list: &mut *mut AioCb, pred: &dyn Fn(*mut AioCb) -> bool, out: &mut *mut AioCb) {
    let mut cursor: *mut *mut AioCb = list;
    // SAFETY: walking kaio's own list of held, valid aiocbs under the lock.
    unsafe {
        while !(*cursor).is_null() {
            let cb = *cursor;
            if pred(cb) {
                *cursor = (*cb).link.load(Ordering::Relaxed);
                push(out, cb);
            } else {
                cursor = (*cb).link.as_ptr();
            }
        }
    }
}

/// Take held fsyncs matching `pred` off the lists and complete them with
/// ECANCELED (notification included). Returns how many.
pub fn cancel(pred: &dyn Fn(*mut AioCb) -> bool) -> usize {
    let mut taken: *mut AioCb = ptr::null_mut();
    HELD.with(|h| {
        unlink(&mut h.current, pred, &mut taken);
        unlink(&mut h.next, pred, &mut taken);
    });
    let mut n = 0;
    while !taken.is_null() {
        let cb = taken;
        // SAFETY: unlinked above, so only we complete it.
        unsafe {
            taken = (*cb).link.load(Ordering::Relaxed);
            (*cb).flags.fetch_and(!flags::HELD, Ordering::SeqCst);
            complete::complete(cb, -(libc::ECANCELED as i64), Mode::Normal);
        }
        stats::bump(&STATS.cancelled);
        n += 1;
    }
    if n > 0 {
        reap::kick_leader();
    }
    // A drain whose fsyncs were all cancelled still ends normally when its
    // writes finish (release() then finds nothing to submit).
    n
}

/// In a `fork()` child: the parent's writes and fsyncs are not ours.
pub fn reset_after_fork() {
    WRITES[0].store(0, Ordering::Relaxed);
    WRITES[1].store(0, Ordering::Relaxed);
    DRAINING.store(NO_DRAIN, Ordering::Relaxed);
    HELD.reset_after_fork(Held {
        current: ptr::null_mut(),
        next: ptr::null_mut(),
    });
}
