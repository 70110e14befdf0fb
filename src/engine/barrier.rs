//! Ordering `aio_fsync` after earlier writes to its file. The kernel's
//! `IOCB_CMD_FSYNC` does not wait for writes still in flight, so kaio holds
//! an fsync until every write to the same file submitted before it has
//! completed, then submits it.
//!
//! Files are hashed (device and inode) into [`BUCKETS`] buckets; in each,
//! writes are counted in one of two epochs (parity of the bucket's epoch),
//! lock-free. An fsync that finds writes in flight in its bucket flips the
//! bucket's epoch and waits for the old epoch's count to reach zero; fsyncs
//! that arrive meanwhile wait for the next flip. An fsync may wait for
//! writes to another file of its bucket (conservative, never wrong); it
//! never waits for a slow write to a file of another bucket (POSIX: fsync
//! covers the operations of its own file).

use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use super::complete::{self, Mode};
use super::lock::Locked;
use super::stats::{self, STATS};
use super::{reap, reaper, submit};
use crate::abi::{AioCb, flags};

/// Buckets of the barrier (a power of two).
pub const BUCKETS: usize = 256;
const NO_DRAIN: u32 = 2;

struct Bucket {
    epoch: AtomicU32,
    writes: [AtomicU32; 2],
    /// Parity being drained, or NO_DRAIN.
    draining: AtomicU32,
}

static BUCKET: [Bucket; BUCKETS] = [const {
    Bucket {
        epoch: AtomicU32::new(0),
        writes: [AtomicU32::new(0), AtomicU32::new(0)],
        draining: AtomicU32::new(NO_DRAIN),
    }
}; BUCKETS];

/// The bucket of a file.
pub fn bucket_of(dev: u64, ino: u64) -> usize {
    let x = (ino ^ dev.rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x >> 56) as usize % BUCKETS
}

/// Held fsyncs of one bucket, linked through `AioCb::link`.
#[derive(Clone, Copy)]
struct Held {
    /// Waiting for the epoch in `draining` to drain.
    current: *mut AioCb,
    /// Arrived during the drain: wait for the next one.
    next: *mut AioCb,
}

// SAFETY: the raw pointers are only touched under the lock.
unsafe impl Send for Held {}

const NONE_HELD: Held = Held {
    current: ptr::null_mut(),
    next: ptr::null_mut(),
};

static HELD: Locked<[Held; BUCKETS]> = Locked::new([NONE_HELD; BUCKETS]);

/// Register a write to a file of bucket `b` about to be submitted; returns
/// its token (bucket and epoch parity) for [`write_done`].
pub fn write_begin(b: usize) -> u32 {
    let bk = &BUCKET[b % BUCKETS];
    loop {
        let e = bk.epoch.load(Ordering::SeqCst);
        let p = e & 1;
        bk.writes[p as usize].fetch_add(1, Ordering::SeqCst);
        if bk.epoch.load(Ordering::SeqCst) == e {
            return ((b % BUCKETS) as u32) << 1 | p;
        }
        // The epoch flipped under us: count the write in the new one.
        write_done(((b % BUCKETS) as u32) << 1 | p, Mode::Normal);
    }
}

/// A write with token `t` completed (or was never submitted).
pub fn write_done(t: u32, mode: Mode) {
    let b = (t >> 1) as usize % BUCKETS;
    let p = t & 1;
    let bk = &BUCKET[b];
    let left = bk.writes[p as usize].fetch_sub(1, Ordering::SeqCst) - 1;
    if left == 0 && bk.draining.load(Ordering::SeqCst) == p {
        match mode {
            Mode::Normal => release(),
            Mode::SignalSafe => reaper::release_barrier(),
        }
    }
}

fn push(list: &mut *mut AioCb, cb: *mut AioCb) {
    // SAFETY: `cb` is a held request; its link field is kaio's.
    unsafe { (*cb).link.store(*list, Ordering::Relaxed) };
    *list = cb;
}

/// Whether an fsync of bucket `b` would have to wait (then the reaper must
/// run: see `reaper::ensure`).
pub fn would_hold(b: usize) -> bool {
    let bk = &BUCKET[b % BUCKETS];
    bk.draining.load(Ordering::SeqCst) != NO_DRAIN
        || bk.writes[(bk.epoch.load(Ordering::SeqCst) & 1) as usize].load(Ordering::SeqCst) != 0
}

/// Submit `cb` (an fsync of a file of bucket `b`) now, or hold it behind
/// writes in flight.
///
/// # Safety
/// `cb` is a prepared, in-progress fsync request; the reaper runs.
pub unsafe fn fsync(cb: *mut AioCb, b: usize) {
    let b = b % BUCKETS;
    let bk = &BUCKET[b];
    let held = HELD.with(|all| {
        let h = &mut all[b];
        let d = bk.draining.load(Ordering::SeqCst);
        if d == NO_DRAIN {
            let p = bk.epoch.load(Ordering::SeqCst) & 1;
            if bk.writes[p as usize].load(Ordering::SeqCst) == 0 {
                return false;
            }
            reaper::work_begin();
            bk.epoch.fetch_add(1, Ordering::SeqCst);
            bk.draining.store(p, Ordering::SeqCst);
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

/// Submit the fsyncs whose writes have all completed (every bucket).
pub fn release() {
    let mut ready: *mut AioCb = ptr::null_mut();
    HELD.with(|all| {
        for (b, h) in all.iter_mut().enumerate() {
            let bk = &BUCKET[b];
            loop {
                let d = bk.draining.load(Ordering::SeqCst);
                if d == NO_DRAIN || bk.writes[d as usize].load(Ordering::SeqCst) != 0 {
                    break;
                }
                while !h.current.is_null() {
                    let cb = h.current;
                    // SAFETY: held requests are valid until completed.
                    h.current = unsafe { (*cb).link.load(Ordering::Relaxed) };
                    push(&mut ready, cb);
                }
                if h.next.is_null() {
                    bk.draining.store(NO_DRAIN, Ordering::SeqCst);
                    reaper::work_done();
                } else {
                    h.current = core::mem::replace(&mut h.next, ptr::null_mut());
                    let p = bk.epoch.fetch_add(1, Ordering::SeqCst) & 1;
                    bk.draining.store(p, Ordering::SeqCst);
                }
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
    HELD.with(|all| {
        for h in all.iter_mut() {
            unlink(&mut h.current, pred, &mut taken);
            unlink(&mut h.next, pred, &mut taken);
        }
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
    for bk in &BUCKET {
        bk.writes[0].store(0, Ordering::Relaxed);
        bk.writes[1].store(0, Ordering::Relaxed);
        bk.draining.store(NO_DRAIN, Ordering::Relaxed);
    }
    HELD.reset_after_fork([NONE_HELD; BUCKETS]);
}
