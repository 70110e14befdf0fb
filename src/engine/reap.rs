//! Taking completions from the kernel. One thread at a time holds the reap
//! lock (a try-lock: nobody ever blocks on it, so it is async-signal-safe)
//! and either reads the user-mapped completion ring — no system call — or
//! blocks in `io_getevents` for everyone.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use super::complete::{self, Mode};
use super::stats::{self, STATS};
use super::{context, iov, overflow, reaper, slots, stream, submit};
use crate::abi::{AioCb, flags};
use crate::sys::{self, AioRingHeader, Errno, IOCB_CMD_POLL, IoEvent, Iocb};

/// `aio_data` of kaio's own poll on the wake eventfd.
const WAKE_TOKEN: u64 = u64::MAX;
const BATCH: usize = 64;

static REAP_LOCK: AtomicBool = AtomicBool::new(false);
/// Requests in the kernel (not counting the wake poll).
static KERNEL_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Whether the wake poll is in the kernel.
static WAKE_ARMED: AtomicBool = AtomicBool::new(false);
/// Threads blocked in `io_getevents` (0 or 1: only the lock holder blocks).
static LEADERS_IN_KERNEL: AtomicU32 = AtomicU32::new(0);

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

pub fn try_lock() -> bool {
    REAP_LOCK
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
}

/// Release the reap lock and let waiters re-check (one may take over).
pub fn unlock() {
    REAP_LOCK.store(false, Ordering::Release);
    complete::bump_seq();
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
    if ring_is_empty(ctx) {
        return;
    }
    if try_lock() {
        drain(ctx, Mode::SignalSafe);
        REAP_LOCK.store(false, Ordering::Release);
        // Published something, or someone failed to take the lock while we
        // held it: either way waiters re-check.
        complete::bump_seq();
    }
}

/// Read every completion the ring holds. Caller holds the reap lock.
/// Returns how many were processed.
pub fn drain(ctx: u64, mode: Mode) -> usize {
    let nr = context::ring_entries();
    let mut total = 0;
    loop {
        let mut events = [IoEvent::default(); BATCH];
        let n = if nr > 0 {
            let n = read_ring(ctx, nr, &mut events);
            stats::add(&STATS.ring_reaped, n as u64);
            n
        } else {
            // Unknown ring format: ask the kernel, without waiting.
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            stats::bump(&STATS.getevents_calls);
            sys::io_getevents(ctx, 0, &mut events, Some(&zero)).unwrap_or(0)
        };
        for ev in events.iter().take(n) {
            process(ev, mode);
        }
        total += n;
        if n < BATCH {
            if total > 0 {
                refill(ctx, mode);
            }
            return total;
        }
    }
}

/// Slots were freed: submit what waits for them (the queue frees memory as
/// it drains, so a signal-safe reaper leaves that to the reaper thread).
fn refill(ctx: u64, mode: Mode) {
    if overflow::is_empty() {
        return;
    }
    match mode {
        Mode::Normal => overflow::flush(ctx),
        Mode::SignalSafe => reaper::push(reaper::Job::Flush),
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

/// Copy up to `out.len()` events out of the user-mapped ring and give their
/// slots back to the kernel by advancing `head`.
fn read_ring(ctx: u64, nr: u32, out: &mut [IoEvent]) -> usize {
    let (head_a, tail_a) = ring_indices(ctx);
    let mut head = head_a.load(Ordering::Relaxed);
    let tail = tail_a.load(Ordering::Acquire);
    if head >= nr || tail >= nr {
        return 0;
    }
    let events = (ctx as usize + 32) as *const IoEvent;
    let mut n = 0;
    while head != tail && n < out.len() {
        // SAFETY: head < nr, and the ring holds nr events after its header;
        // the acquire load of tail makes the kernel's writes visible.
        out[n] = unsafe { core::ptr::read_volatile(events.add(head as usize)) };
        head = (head + 1) % nr;
        n += 1;
    }
    if n > 0 {
        head_a.store(head, Ordering::Release);
    }
    n
}

fn process(ev: &IoEvent, mode: Mode) {
    // The iocb's slot is free again (its content is no longer needed).
    slots::give_back(ev.obj as *mut Iocb);
    if ev.data == WAKE_TOKEN {
        let mut buf = [0u8; 8];
        // SAFETY: reading 8 bytes into a local; the fd is our nonblocking eventfd.
        let _ = unsafe { sys::read(context::wake_fd(), buf.as_mut_ptr(), 8) };
        WAKE_ARMED.store(false, Ordering::SeqCst);
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
            Mode::SignalSafe => reaper::push(reaper::Job::PollReady(cb, ev.res)),
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

/// How a blocking reap ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Reaped {
    /// Completions were processed, or something changed: re-check.
    Progress,
    /// The timeout passed with nothing to process.
    TimedOut,
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

/// Caller holds the reap lock: reap what is ready, or block in the kernel
/// until at least one completion or `timeout` (relative; `None` = forever).
/// `seq` is the caller's snapshot of the completion sequence: if it moved
/// (a completion outside the kernel) the caller re-checks instead.
pub fn reap_blocking(
    ctx: u64,
    seq: u32,
    timeout: Option<&libc::timespec>,
    mode: Mode,
) -> Result<Reaped, Errno> {
    if drain(ctx, mode) > 0 {
        return Ok(Reaped::Progress);
    }
    if timeout.is_some_and(|t| t.tv_sec <= 0 && t.tv_nsec <= 0) {
        return Ok(Reaped::TimedOut);
    }
    arm_wake(ctx);
    LEADERS_IN_KERNEL.fetch_add(1, Ordering::SeqCst);
    // A completion published outside the kernel before we announced
    // ourselves did not write the wake eventfd: it moved the sequence.
    if complete::SEQ.load(Ordering::SeqCst) & !1 != seq & !1 {
        LEADERS_IN_KERNEL.fetch_sub(1, Ordering::SeqCst);
        return Ok(Reaped::Progress);
    }
    let mut events = [IoEvent::default(); BATCH];
    stats::bump(&STATS.getevents_calls);
    let r = sys::io_getevents(ctx, 1, &mut events, timeout);
    LEADERS_IN_KERNEL.fetch_sub(1, Ordering::SeqCst);
    let got = r?;
    stats::add(&STATS.getevents_reaped, got as u64);
    for ev in events.iter().take(got) {
        process(ev, mode);
    }
    if drain(ctx, mode) == 0 && got > 0 {
        refill(ctx, mode);
    }
    Ok(if got == 0 {
        Reaped::TimedOut
    } else {
        Reaped::Progress
    })
}

/// Put a poll on the wake eventfd into the kernel, once: a completion that
/// does not come from the kernel (a kaio thread, a cancel) writes the
/// eventfd, the poll completes, and the blocked `io_getevents` returns.
fn arm_wake(ctx: u64) {
    let fd = context::wake_fd();
    if fd < 0 || WAKE_ARMED.swap(true, Ordering::SeqCst) {
        return;
    }
    let iocb = Iocb {
        aio_data: WAKE_TOKEN,
        aio_lio_opcode: IOCB_CMD_POLL,
        aio_fildes: fd as u32,
        aio_buf: libc::POLLIN as u64,
        ..Iocb::default()
    };
    if slots::submit_one(ctx, iocb).is_err() {
        WAKE_ARMED.store(false, Ordering::SeqCst);
    }
}

/// Something completed outside the kernel: wake a thread blocked in
/// `io_getevents` (if any) so it re-checks, and futex waiters.
pub fn kick_leader() {
    complete::bump_seq();
    if LEADERS_IN_KERNEL.load(Ordering::SeqCst) > 0 {
        let fd = context::wake_fd();
        if fd >= 0 {
            let one = 1u64.to_ne_bytes();
            // SAFETY: writing 8 bytes from a local to our eventfd.
            let _ = unsafe { sys::write(fd, one.as_ptr(), 8) };
        }
    }
}

/// In a `fork()` child: nothing of the parent's is in flight here.
pub fn reset_after_fork() {
    REAP_LOCK.store(false, Ordering::Relaxed);
    KERNEL_IN_FLIGHT.store(0, Ordering::Relaxed);
    WAKE_ARMED.store(false, Ordering::Relaxed);
    LEADERS_IN_KERNEL.store(0, Ordering::Relaxed);
}
