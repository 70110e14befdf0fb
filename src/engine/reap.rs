//! Taking completions from the kernel. One thread at a time holds the reap
//! lock (a try-lock: nobody ever blocks on it, so it is async-signal-safe)
//! and either reads the user-mapped completion ring — no system call — or
//! blocks in `io_getevents` for everyone.
//!
//! The lock word names its holder (`pthread_self()`) and whether the holder
//! is *parked* in `io_getevents` or *busy* reading the ring. That makes the
//! lock safe against what signal handlers do:
//! - A handler that interrupted the holder on its own thread (its
//!   `aio_suspend` or `aio_error` for another request) is a nested holder:
//!   it reaps instead of waiting for a holder that cannot run until the
//!   handler returns. Ring slots are claimed one at a time with a CAS on the
//!   ring's head, so nested and interrupted readers never take the same
//!   event; the one event `io_getevents` may have returned is kept in a
//!   static slot that either may claim.
//! - A holder that left with `siglongjmp` (or whose thread exited) never
//!   unparks: waiters watch for a parked holder that leaves completions in
//!   the ring, ask procfs where its thread is, and take the lock over once
//!   it is certainly not inside `io_getevents`.

use core::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

use super::complete::{self, Mode};
use super::stats::{self, STATS};
use super::{context, iov, overflow, reaper, slots, stream, submit};
use crate::abi::{AioCb, flags};
use crate::sys::{self, AioRingHeader, Errno, IoEvent, ThreadState};

/// Requests in the kernel (not counting the wake poll).
static KERNEL_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

pub fn kernel_in_flight() -> usize {
    KERNEL_IN_FLIGHT.load(Ordering::SeqCst)
}

/// A request is about to be handed to the kernel.
pub fn kernel_enter() {
    KERNEL_IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
}

/// The kernel refused a request that `kernel_enter` counted.
pub fn kernel_refused() {
    KERNEL_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
}

// ---- the reap lock ------------------------------------------------------

/// Lock word: 0 = free, else `holder | BUSY` or `holder | PARKED`, where
/// `holder` is the holder's `pthread_self()` (aligned, so its low bits are
/// free).
static LOCK: AtomicUsize = AtomicUsize::new(0);
const BUSY: usize = 1;
const PARKED: usize = 2;
const STATE: usize = 3;
/// Kernel thread id of a parked holder (for the procfs check).
static PARKED_TID: AtomicI32 = AtomicI32::new(0);
/// Ring events claimed by nested holders since the interrupted holder last
/// started a claim: bounded, so the ring's head cannot wrap around under
/// an interrupted claim (which would make its CAS succeed on a stale slot).
static NESTED_CLAIMS: AtomicU32 = AtomicU32::new(0);

fn me() -> usize {
    // SAFETY: pthread_self is always callable and async-signal-safe (a
    // thread-pointer read).
    let t = unsafe { libc::pthread_self() } as usize;
    debug_assert!(t & STATE == 0);
    t & !STATE
}

/// Holding the reap lock.
pub struct Guard {
    /// The lock word while this guard reaps (`holder | BUSY`).
    word: usize,
    /// For a nested holder: the word to put back when it is done.
    restore: Option<usize>,
}

impl Guard {
    /// Nested over a holder interrupted while reading the ring: it may not
    /// block in the kernel, and claims only a bounded number of events.
    fn over_busy(&self) -> bool {
        self.restore.is_some_and(|w| w & STATE == BUSY)
    }

    /// Whether this holder may block in `io_getevents`.
    pub fn may_park(&self) -> bool {
        !self.over_busy()
    }
}

/// Take the reap lock if it is free, or as a nested holder if this thread
/// holds it (a signal handler that interrupted the holder). Never blocks.
pub fn acquire() -> Option<Guard> {
    let me = me();
    let cur = LOCK.load(Ordering::Acquire);
    if cur == 0 {
        return LOCK
            .compare_exchange(0, me | BUSY, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| Guard {
                word: me | BUSY,
                restore: None,
            });
    }
    if cur & !STATE != me {
        return None;
    }
    if cur & STATE == PARKED
        && LOCK
            .compare_exchange(cur, me | BUSY, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        return None;
    }
    Some(Guard {
        word: me | BUSY,
        restore: Some(cur),
    })
}

impl Drop for Guard {
    fn drop(&mut self) {
        match self.restore {
            // Back to what the interrupted holder left (busy or parked).
            Some(prev) => {
                let _ =
                    LOCK.compare_exchange(self.word, prev, Ordering::Release, Ordering::Relaxed);
            }
            None => {
                let _ = LOCK.compare_exchange(self.word, 0, Ordering::Release, Ordering::Relaxed);
            }
        }
        // Waiters re-check (one may take the lock now).
        complete::bump_seq();
    }
}

/// Whether a thread is parked in `io_getevents` (it reaps for everyone).
fn someone_parked() -> bool {
    LOCK.load(Ordering::SeqCst) & STATE == PARKED
}

/// Whether the lock is held by another thread.
pub fn held_elsewhere() -> bool {
    let w = LOCK.load(Ordering::Relaxed);
    w != 0 && w & !STATE != me()
}

// ---- the ring -----------------------------------------------------------

/// The ring's `head` (ours to advance) and `tail` (the kernel's), which the
/// kernel updates concurrently: accessed as atomics.
fn ring_indices(ctx: u64) -> (&'static AtomicU32, &'static AtomicU32) {
    let ring = ctx as *mut AioRingHeader;
    // SAFETY: `ctx` is the address of the live ring mapping (context.rs),
    // never unmapped; head and tail are naturally aligned u32 fields.
    unsafe {
        (
            AtomicU32::from_ptr(core::ptr::addr_of_mut!((*ring).head)),
            AtomicU32::from_ptr(core::ptr::addr_of_mut!((*ring).tail)),
        )
    }
}

/// Whether the user-mapped ring holds no completion (false if it cannot be
/// read, so the caller asks the kernel).
fn ring_is_empty(ctx: u64) -> bool {
    if context::ring_entries() == 0 {
        return false;
    }
    let (head, tail) = ring_indices(ctx);
    head.load(Ordering::Relaxed) == tail.load(Ordering::Acquire)
}

/// Claim the oldest event of the ring, if any: copy it, then advance the
/// head with a CAS (a nested reader may have taken it meanwhile: retry).
fn claim_ring_event(g: &Guard, ctx: u64, nr: u32) -> Option<IoEvent> {
    let (head_a, tail_a) = ring_indices(ctx);
    let events = (ctx as usize + 32) as *const IoEvent;
    loop {
        if g.over_busy() {
            if NESTED_CLAIMS.fetch_add(1, Ordering::Relaxed) >= nr / 2 {
                return None;
            }
        } else {
            NESTED_CLAIMS.store(0, Ordering::Relaxed);
        }
        let head = head_a.load(Ordering::Acquire);
        let tail = tail_a.load(Ordering::Acquire);
        if head >= nr || tail >= nr || head == tail {
            return None;
        }
        // SAFETY: head < nr, and the ring holds nr events after its header;
        // the acquire load of tail makes the kernel's writes visible.
        let ev = unsafe { core::ptr::read_volatile(events.add(head as usize)) };
        if head_a
            .compare_exchange(head, (head + 1) % nr, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            stats::bump(&STATS.ring_reaped);
            return Some(ev);
        }
    }
}

/// Process every completion the ring holds. Returns how many.
pub fn drain(g: &Guard, ctx: u64, mode: Mode) -> usize {
    let nr = context::ring_entries();
    let mut total = 0;
    if nr > 0 {
        while let Some(ev) = claim_ring_event(g, ctx, nr) {
            process(&ev, mode);
            total += 1;
        }
    } else {
        // Unknown ring format: ask the kernel, without waiting.
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            let mut ev = [IoEvent::default(); 1];
            stats::bump(&STATS.getevents_calls);
            match sys::io_getevents(ctx, 0, &mut ev, Some(&zero)) {
                Ok(1) => {
                    process(&ev[0], mode);
                    total += 1;
                }
                Err(e) if fatal(e) => {
                    context::kernel_broken();
                    break;
                }
                _ => break,
            }
        }
    }
    // Slots were freed: submit what waits for them.
    if total > 0 || kernel_in_flight() == 0 {
        overflow::flush(ctx, mode);
    }
    total
}

/// Opportunistic, never-blocking reap for `aio_error`: if nobody else is
/// reaping, read what the ring holds. No system call unless a completion
/// needs one (a signal to queue, a waiter to wake).
pub fn try_reap() {
    if KERNEL_IN_FLIGHT.load(Ordering::Relaxed) == 0 {
        return;
    }
    let Some(ctx) = context::current() else {
        return;
    };
    // Nothing in the ring: no lock, no write to shared memory (fio polls
    // every in-flight request with aio_error in a loop).
    if ring_is_empty(ctx) && !getevents_slot_full() {
        return;
    }
    if let Some(g) = acquire() {
        claim_getevents_slot(Mode::SignalSafe);
        drain(&g, ctx, Mode::SignalSafe);
    } else {
        take_over_if_stalled(ctx);
    }
}

/// Errors that say the kernel will never serve this process's AIO (a
/// seccomp profile, a kernel without it).
pub fn fatal(e: Errno) -> bool {
    matches!(e, libc::EPERM | libc::ENOSYS | libc::EACCES)
}

fn process(ev: &IoEvent, mode: Mode) {
    // The iocb's slot is free again (its content is no longer needed).
    slots::give_back(ev.obj as *mut sys::Iocb);
    if context::is_wake_token(ev.data) {
        context::wake_reaped(ev.data);
        return;
    }
    KERNEL_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    let cb = ev.data as *mut AioCb;
    // SAFETY: kaio put the aiocb's address in `aio_data`; the request was in
    // the kernel until now, so the aiocb is valid and only we handle it.
    if unsafe { (*cb).flags.load(Ordering::SeqCst) } & flags::POLL != 0 {
        // Readiness, not completion: the transfer is still to be done.
        match mode {
            // SAFETY: a polling request whose poll event we just took.
            Mode::Normal => unsafe { stream::ready(cb, ev.res) },
            // SAFETY: as above; the reaper does the transfer.
            Mode::SignalSafe => unsafe { reaper::defer(cb, ev.res) },
        }
        return;
    }
    if ev.res > 0 {
        // SAFETY: as above: the request is still ours until completed.
        unsafe { mark_read_defined(&*cb, ev.res as usize) };
    }
    // SAFETY: as above: the request completes only here.
    unsafe { complete::complete(cb, ev.res, mode) };
}

/// A read the kernel completed filled `n` bytes of the caller's buffers;
/// under valgrind, say so (no system call showed it).
fn mark_read_defined(c: &AioCb, n: usize) {
    let op = submit::Op::recorded(c);
    if !op.is_read() {
        return;
    }
    let iovs = iov::rest(c, op, 0);
    let mut left = n;
    for v in iovs.as_slice() {
        let take = v.iov_len.min(left);
        sys::mark_defined(v.iov_base as usize, take);
        left -= take;
        if left == 0 {
            break;
        }
    }
}

// ---- blocking in io_getevents ----------------------------------------------

/// Where a parked holder's `io_getevents` puts its one event: static, so
/// that a nested holder (a handler that interrupted it right after the
/// call returned) or a holder that took over can claim it. `data` is 0
/// while empty (no request or wake token has address 0).
#[repr(C)]
struct Slot {
    data: AtomicU64,
    obj: AtomicU64,
    res: AtomicI64,
    res2: AtomicI64,
}
static GETEVENTS_SLOT: Slot = Slot {
    data: AtomicU64::new(0),
    obj: AtomicU64::new(0),
    res: AtomicI64::new(0),
    res2: AtomicI64::new(0),
};

fn getevents_slot_full() -> bool {
    GETEVENTS_SLOT.data.load(Ordering::Relaxed) != 0
}

/// Process the event a parked holder's `io_getevents` left, if any (the
/// caller holds the lock).
fn claim_getevents_slot(mode: Mode) -> bool {
    let s = &GETEVENTS_SLOT;
    let (obj, res, res2) = (
        s.obj.load(Ordering::Relaxed),
        s.res.load(Ordering::Relaxed),
        s.res2.load(Ordering::Relaxed),
    );
    let data = s.data.swap(0, Ordering::AcqRel);
    if data == 0 {
        return false;
    }
    stats::bump(&STATS.getevents_reaped);
    process(
        &IoEvent {
            data,
            obj,
            res,
            res2,
        },
        mode,
    );
    true
}

/// How a blocking reap ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Reaped {
    /// Completions were processed, or something changed: re-check.
    Progress,
    /// The timeout passed with nothing to process.
    TimedOut,
}

/// With no wake channel, a parked holder returns this often to notice
/// completions that do not come from the kernel.
const NO_WAKE_SLICE: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 10_000_000,
};

/// Caller holds the reap lock: reap what is ready, or block in the kernel
/// until at least one completion or `timeout` (relative; `None` = forever).
/// `seq` is the caller's snapshot of the completion sequence: if it moved
/// (a completion outside the kernel) the caller re-checks instead.
pub fn reap_blocking(
    g: &Guard,
    ctx: u64,
    seq: u32,
    timeout: Option<&libc::timespec>,
    mode: Mode,
) -> Result<Reaped, Errno> {
    let claimed = claim_getevents_slot(mode);
    if drain(g, ctx, mode) > 0 || claimed {
        return Ok(Reaped::Progress);
    }
    if timeout.is_some_and(|t| t.tv_sec <= 0 && t.tv_nsec <= 0) {
        return Ok(Reaped::TimedOut);
    }
    if !g.may_park() || context::getevents_broken() {
        // The kernel will not let us wait: the caller sleeps and polls.
        return Err(libc::ENOSYS);
    }
    let mut slice = timeout.copied();
    if !context::arm_wake(ctx) {
        slice = Some(match slice {
            Some(t) if (t.tv_sec, t.tv_nsec) < (0, NO_WAKE_SLICE.tv_nsec) => t,
            _ => NO_WAKE_SLICE,
        });
    }
    // Park: from here until unpark, a nested holder (a handler on this
    // thread) may reap in our place, and other threads know where we are.
    PARKED_TID.store(sys::gettid(), Ordering::Relaxed);
    if LOCK
        .compare_exchange(
            g.word,
            g.word & !STATE | PARKED,
            Ordering::SeqCst,
            Ordering::Relaxed,
        )
        .is_err()
    {
        return Ok(Reaped::Progress);
    }
    // A completion published outside the kernel before we parked did not
    // wake the kernel: it moved the sequence.
    let moved = complete::SEQ.load(Ordering::SeqCst) & !1 != seq & !1;
    let r = if moved {
        Ok(0)
    } else {
        GETEVENTS_SLOT.data.store(0, Ordering::Relaxed);
        stats::bump(&STATS.getevents_calls);
        let out = GETEVENTS_SLOT.data.as_ptr().cast::<IoEvent>();
        // SAFETY: the slot is four naturally aligned 8-byte words laid out
        // as an io_event (repr(Rust) statics of atomics: checked below).
        let buf = unsafe { core::slice::from_raw_parts_mut(out, 1) };
        sys::io_getevents(ctx, 1, buf, slice.as_ref())
    };
    // Unpark; if another thread took the lock over meanwhile, the event we
    // may have got is its to claim.
    if LOCK
        .compare_exchange(
            g.word & !STATE | PARKED,
            g.word,
            Ordering::SeqCst,
            Ordering::Relaxed,
        )
        .is_err()
    {
        return Ok(Reaped::Progress);
    }
    let got = match r {
        Ok(n) => n,
        Err(e) if fatal(e) => {
            context::kernel_broken();
            return Err(libc::ENOSYS);
        }
        Err(e) => return Err(e),
    };
    let claimed = claim_getevents_slot(mode);
    let drained = drain(g, ctx, mode);
    Ok(if got == 0 && !claimed && drained == 0 {
        if moved {
            Reaped::Progress
        } else {
            Reaped::TimedOut
        }
    } else {
        Reaped::Progress
    })
}

// The getevents slot must look like a `struct io_event` to the kernel.
const _: () = {
    assert!(core::mem::size_of::<Slot>() == 32);
    assert!(core::mem::offset_of!(Slot, data) == 0);
    assert!(core::mem::offset_of!(Slot, obj) == 8);
    assert!(core::mem::offset_of!(Slot, res) == 16);
    assert!(core::mem::offset_of!(Slot, res2) == 24);
};

// ---- a holder that never came back -------------------------------------

/// What a waiter last saw of a parked holder that left completions waiting.
static WATCH_WORD: AtomicUsize = AtomicUsize::new(0);
static WATCH_HEAD: AtomicU32 = AtomicU32::new(u32::MAX);
static WATCH_SINCE: AtomicI64 = AtomicI64::new(0);
static TAKING_OVER: AtomicBool = AtomicBool::new(false);

fn now_ms() -> i64 {
    let t = sys::monotonic_now();
    t.tv_sec * 1000 + t.tv_nsec / 1_000_000
}

/// How long completions may wait under a parked holder before a waiter
/// asks where the holder is (a healthy holder takes them in microseconds).
const SUSPECT_MS: i64 = 200;
/// How long before a waiter takes over from a holder procfs cannot place
/// (shown running: in user space, or, starved of CPU, about to take its
/// events): long enough that a live holder has surely taken them.
const GIVE_UP_MS: i64 = 5000;

/// Called by waiters that could not take the lock: if a parked holder has
/// left completions in the ring for a while and its thread is certainly not
/// in `io_getevents` (it left with `siglongjmp`, or exited), take the lock
/// over and reap. Returns whether it did.
pub fn take_over_if_stalled(ctx: u64) -> bool {
    let w = LOCK.load(Ordering::SeqCst);
    if w & STATE != PARKED || w & !STATE == me() {
        return false;
    }
    let pending = !ring_is_empty(ctx) || getevents_slot_full();
    if !pending {
        WATCH_WORD.store(0, Ordering::Relaxed);
        return false;
    }
    let head = ring_indices(ctx).0.load(Ordering::Relaxed);
    let now = now_ms();
    if WATCH_WORD.swap(w, Ordering::Relaxed) != w
        || WATCH_HEAD.swap(head, Ordering::Relaxed) != head
    {
        WATCH_SINCE.store(now, Ordering::Relaxed);
        return false;
    }
    let waited = now - WATCH_SINCE.load(Ordering::Relaxed);
    if waited < SUSPECT_MS {
        return false;
    }
    let safe = match sys::thread_state(PARKED_TID.load(Ordering::Relaxed)) {
        ThreadState::Gone => true,
        ThreadState::Blocked(nr) => nr != libc::SYS_io_getevents && nr != 333,
        ThreadState::Running | ThreadState::Unknown => waited >= GIVE_UP_MS,
    };
    if !safe || TAKING_OVER.swap(true, Ordering::Acquire) {
        return false;
    }
    let me = me();
    let took = LOCK
        .compare_exchange(w, me | BUSY, Ordering::SeqCst, Ordering::Relaxed)
        .is_ok();
    if took {
        stats::bump(&STATS.reap_takeovers);
        let g = Guard {
            word: me | BUSY,
            restore: None,
        };
        claim_getevents_slot(Mode::SignalSafe);
        drain(&g, ctx, Mode::SignalSafe);
        WATCH_WORD.store(0, Ordering::Relaxed);
    }
    TAKING_OVER.store(false, Ordering::Release);
    took
}

/// Something completed outside the kernel: wake a thread parked in
/// `io_getevents` (if any) so it re-checks, and futex waiters.
pub fn kick_leader() {
    complete::bump_seq();
    if someone_parked() {
        context::wake();
    }
}

/// In a `fork()` child: nothing of the parent's is in flight here.
pub fn reset_after_fork() {
    LOCK.store(0, Ordering::Relaxed);
    KERNEL_IN_FLIGHT.store(0, Ordering::Relaxed);
    GETEVENTS_SLOT.data.store(0, Ordering::Relaxed);
    WATCH_WORD.store(0, Ordering::Relaxed);
    TAKING_OVER.store(false, Ordering::Relaxed);
}
