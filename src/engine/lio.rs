//! `lio_listio`: a batch of requests in one `io_submit`, a group that counts
//! its members down, and the list notification or the `LIO_WAIT` wake-up
//! when the last one completes.
//!
//! Groups live on the heap and count their members plus one reference held
//! by the caller: whoever drops the count to zero frees the group (and sends
//! the list notification). So a `LIO_WAIT` caller interrupted by a signal
//! returns EINTR at once, as POSIX says, and its members still complete,
//! each once, with its own notification.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::classify::{FdKind, classify};
use super::complete::Mode;
use super::mem;
use super::notify::Notify;
use super::stats::{self, STATS};
use super::submit::{self, Op};
use super::{context, reap, reaper, slots, wait};
use crate::abi::{AioCb, LIO_NOP, LIO_READ, LIO_WAIT, LIO_WRITE};
use crate::sys::{self, Errno, Iocb};

/// Requests submitted with one `io_submit` (64 iocbs: 4 KiB of stack).
const CHUNK: usize = 64;

/// The members of one `lio_listio` call still in flight.
pub struct Group {
    /// Members not yet complete, plus one held by the submitter.
    remaining: AtomicU32,
    failed: AtomicBool,
    /// The list notification (LIO_NOWAIT).
    notify: Notify,
    /// Counted as reaper work (a list notification is due).
    counted: bool,
    /// Link in the reaper's list of finished groups.
    pub next: *mut Group,
}

impl Group {
    fn new(notify: Notify, counted: bool) -> Option<*mut Group> {
        mem::try_box(Group {
            remaining: AtomicU32::new(1),
            failed: AtomicBool::new(false),
            notify,
            counted,
            next: core::ptr::null_mut(),
        })
        .map(Box::into_raw)
    }
}

/// A member of `g` completed.
///
/// # Safety
/// `g` is a live group with this member counted in `remaining`.
pub unsafe fn member_done(g: *mut Group, failed: bool, mode: Mode) {
    // SAFETY: live until `remaining` reaches zero, which only we can see.
    let grp = unsafe { &*g };
    if failed {
        grp.failed.store(true, Ordering::SeqCst);
    }
    // Unless it is the last, this decrement is our last touch of the group.
    if grp.remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
        // Freeing is not async-signal-safe: from a signal-safe context the
        // reaper finishes the group.
        if mode == Mode::Normal {
            // SAFETY: last member: we own the group now.
            unsafe { finish(g) };
        } else {
            // SAFETY: last member: the group is handed to the reaper.
            unsafe { reaper::defer_group(g) };
        }
    }
}

/// Deliver a finished heap group's list notification and free it.
///
/// # Safety
/// `g` came from `Box::into_raw` in `listio` and all members are done.
pub unsafe fn finish(g: *mut Group) {
    // SAFETY: caller's contract.
    let grp = unsafe { Box::from_raw(g) };
    grp.notify.deliver();
    if grp.counted {
        reaper::work_done();
    }
}

/// `lio_listio(mode, list, nent, sig)` after the argument checks of the FFI
/// layer. Returns the value for the caller: Ok, or the errno for -1.
///
/// # Safety
/// Every non-null entry of `list` must be a valid aiocb that stays valid
/// until it completes.
pub unsafe fn listio(mode: i32, list: &[*mut AioCb], sig: Notify) -> Result<(), Errno> {
    stats::bump(&STATS.lio_batches);
    let wait_mode = mode == LIO_WAIT;
    // The last member may complete in a signal-safe reaper, which leaves
    // freeing the group (and its notification) to the reaper thread.
    let reaper_ok = if sig.is_none() {
        reaper::ensure().is_ok()
    } else {
        reaper::work_begin_ensured().is_ok()
    };
    let group = if !wait_mode && sig.is_none() {
        core::ptr::null_mut()
    } else {
        let g = if reaper_ok {
            Group::new(sig, !sig.is_none())
        } else {
            None
        };
        match g {
            Some(g) => g,
            None => {
                if reaper_ok && !sig.is_none() {
                    reaper::work_done();
                }
                // No group can be had (memory, or the reaper thread): queue
                // nothing, and say so in every entry's error status (POSIX:
                // the caller checks each aiocb after EAGAIN).
                // SAFETY: caller's contract.
                unsafe { refuse_all(list) };
                return Err(libc::EAGAIN);
            }
        }
    };

    let mut enqueue_error: Option<Errno> = None;
    // Entries accepted (queued): with none, LIO_WAIT has nothing to wait
    // for and, as glibc, returns the enqueue error itself rather than EIO.
    let mut accepted = 0usize;
    let mut iocbs = [Iocb::default(); CHUNK];
    let mut members: [*mut AioCb; CHUNK] = [core::ptr::null_mut(); CHUNK];
    let mut pending = 0usize;
    let mut pending_ctx = 0u64;

    for &cb in list {
        if cb.is_null() {
            continue;
        }
        // SAFETY: caller's contract.
        // SAFETY: caller's contract.
        let raw = unsafe { (*cb).aio_lio_opcode };
        if raw == LIO_NOP {
            continue;
        }
        // As glibc (its internal opcodes): 3 is fdatasync, 4 fsync, and any
        // value whose low 7 bits are 0 or 1 a read or a write.
        let op = match (raw, raw & 127) {
            (3, _) => Op::Fsync { data_only: true },
            (4, _) => Op::Fsync { data_only: false },
            (_, LIO_READ) => Op::Read,
            (_, LIO_WRITE) => Op::Write,
            // glibc accepts an unknown opcode and completes the entry with
            // EINVAL; so does kaio (the entry is a failed member).
            _ => {
                // SAFETY: caller's contract.
                if let Err(e) = unsafe { submit::prepare(cb, Op::Read) } {
                    enqueue_error = Some(e);
                    continue;
                }
                accepted += 1;
                // SAFETY: prepared; restore the caller's opcode.
                unsafe { (*cb).aio_lio_opcode = raw };
                if !group.is_null() {
                    // SAFETY: live group; prepared request.
                    unsafe {
                        (*group).remaining.fetch_add(1, Ordering::SeqCst);
                        (*cb).group.store(group.cast(), Ordering::Relaxed);
                    }
                }
                // SAFETY: prepared, not handed out.
                unsafe { submit::fail(cb, libc::EINVAL) };
                continue;
            }
        };
        // SAFETY: caller's contract.
        if let Err(e) = unsafe { submit::prepare(cb, op) } {
            enqueue_error = Some(e);
            continue;
        }
        accepted += 1;
        if !group.is_null() {
            // SAFETY: the group is live (we hold one count).
            unsafe { (*group).remaining.fetch_add(1, Ordering::SeqCst) };
            // SAFETY: prepared request, kaio's private field.
            unsafe { (*cb).group.store(group.cast(), Ordering::Relaxed) };
        }
        if let Op::Fsync { .. } = op {
            // SAFETY: prepared; ordered after earlier writes like aio_fsync.
            let id = match sys::fstat_id(unsafe { (*cb).aio_fildes }) {
                Ok(id) => id,
                Err(_) => {
                    // SAFETY: prepared, not handed out.
                    unsafe { submit::fail(cb, libc::EBADF) };
                    continue;
                }
            };
            // SAFETY: prepared, not handed out.
            if let Err(e) = unsafe { submit::start_fsync(cb, &id) } {
                // Refused (no reaper thread): not a member after all.
                enqueue_error = Some(e);
                accepted -= 1;
                if !group.is_null() {
                    // SAFETY: the group is live; undo this member's count.
                    unsafe { (*group).remaining.fetch_sub(1, Ordering::SeqCst) };
                }
            }
            continue;
        }
        // SAFETY: caller's contract.
        if let Err(e) = submit::validate(unsafe { &*cb }, op) {
            // SAFETY: prepared, not handed out.
            unsafe { submit::fail(cb, e) };
            continue;
        }
        // O_DIRECT requests are batched into one io_submit; the others take
        // their own path (page cache, poll, pool) one by one.
        // SAFETY: caller's contract.
        let direct = match classify(unsafe { (*cb).aio_fildes }) {
            Ok((FdKind::Direct, id)) => {
                // SAFETY: prepared.
                submit::identify(unsafe { &*cb }, &id);
                true
            }
            _ => false,
        };
        match context::get_or_create().filter(|_| direct) {
            Some(ctx) => {
                if pending == CHUNK {
                    // SAFETY: the first `pending` iocbs were filled for members.
                    unsafe { flush(pending_ctx, &mut iocbs, &members, pending) };
                    pending = 0;
                }
                pending_ctx = ctx;
                // SAFETY: prepared; `pending < CHUNK`.
                unsafe { submit::kernel_iocb(cb, op, &mut iocbs[pending]) };
                members[pending] = cb;
                pending += 1;
            }
            None => {
                // SAFETY: prepared, owned by kaio until completed.
                if let Err(e) = unsafe { submit::start(cb, op) } {
                    // Refused (no thread or memory): not a member after all.
                    enqueue_error = Some(e);
                    accepted -= 1;
                    if !group.is_null() {
                        // SAFETY: the group is live; undo this member's count.
                        unsafe { (*group).remaining.fetch_sub(1, Ordering::SeqCst) };
                    }
                }
            }
        }
    }
    if pending > 0 {
        // SAFETY: as above.
        unsafe { flush(pending_ctx, &mut iocbs, &members, pending) };
    }

    if !wait_mode {
        if !group.is_null() {
            // Drop the submitter's count; if every member is already done (or
            // there were none) the list notification goes out now.
            // SAFETY: live group, our count.
            unsafe { member_done(group, false, Mode::Normal) };
        }
        return match enqueue_error {
            Some(e) => Err(e),
            None => Ok(()),
        };
    }
    // SAFETY: LIO_WAIT always has a group; we hold one count of it.
    let g = unsafe { &*group };
    if accepted == 0 {
        // SAFETY: our count; no member holds one.
        unsafe { member_done(group, false, Mode::Normal) };
        return match enqueue_error {
            Some(e) => Err(e),
            None => Ok(()),
        };
    }
    // Not a cancellation point (as glibc's); a signal handler that runs
    // ends the wait with EINTR (POSIX), unless the reaper could not be
    // started (then nobody else could free the group: wait on).
    let how = wait::How {
        mode: Mode::Normal,
        restart: !reaper_ok,
        cancellable: false,
    };
    let r = wait::wait_until(&|| g.remaining.load(Ordering::SeqCst) == 1, None, how);
    let failed = g.failed.load(Ordering::SeqCst);
    // SAFETY: drop our count: the group is freed by whoever is last.
    unsafe { member_done(group, false, Mode::Normal) };
    match r {
        Err(e) => Err(e),
        Ok(()) if enqueue_error.is_some() || failed => Err(libc::EIO),
        Ok(()) => Ok(()),
    }
}

/// Mark every entry of `list` not queued (EAGAIN), leaving alone any that
/// is in flight already.
///
/// # Safety
/// Non-null entries are valid aiocbs.
unsafe fn refuse_all(list: &[*mut AioCb]) {
    for &cb in list {
        // SAFETY: caller's contract.
        if cb.is_null() || unsafe { (*cb).aio_lio_opcode } == LIO_NOP {
            continue;
        }
        // SAFETY: as above.
        let opcode = unsafe { (*cb).aio_lio_opcode };
        // SAFETY: as above; prepare leaves an in-flight aiocb alone.
        if unsafe { submit::prepare(cb, Op::Read) }.is_ok() {
            // SAFETY: prepared, not handed out; the caller's opcode is kept
            // (it may submit the list again).
            unsafe {
                submit::refuse(cb, libc::EAGAIN);
                (*cb).aio_lio_opcode = opcode;
            }
        }
    }
}

/// Submit `n` filled iocbs with as few `io_submit` calls as the kernel allows
/// (each moved into a slot that stays valid until it is reaped).
///
/// # Safety
/// `iocbs[..n]` were filled by `kernel_iocb` for `members[..n]`.
unsafe fn flush(ctx: u64, iocbs: &mut [Iocb; CHUNK], members: &[*mut AioCb; CHUNK], n: usize) {
    let mut ptrs: [*mut Iocb; CHUNK] = [core::ptr::null_mut(); CHUNK];
    let mut slotted = 0;
    for (p, io) in ptrs.iter_mut().zip(iocbs.iter()).take(n) {
        match slots::take(*io) {
            Some(slot) => *p = slot,
            None => break,
        }
        slotted += 1;
    }
    let refuse = |from: usize, to: usize, e: i32| {
        // None of these is in the kernel: uncount them all before routing
        // any (a ring-full queue entry waits for completions of requests
        // really in flight, not for its refused siblings).
        for i in from..to {
            if let Some(&p) = ptrs.get(i)
                && !p.is_null()
            {
                slots::give_back(p);
            }
            reap::kernel_refused();
        }
        for i in from..to {
            if let Some(&cb) = members.get(i) {
                // SAFETY: refused by the kernel, still ours. Not refused to
                // the caller: the batch is already accepted, so a missing
                // thread means doing the I/O here.
                let _ = unsafe { submit::route_refused(cb, Op::recorded(&*cb), e, false) };
            }
        }
    };
    let mut start = 0;
    while start < slotted {
        stats::bump(&STATS.io_submit_calls);
        // SAFETY: the slots hold valid iocbs whose buffers are the caller's,
        // valid until completion.
        let r = unsafe { sys::io_submit(ctx, &ptrs[start..slotted]) };
        match r {
            Ok(k) if k > 0 => {
                stats::add(&STATS.kernel, k as u64);
                start += k;
            }
            other => {
                let e = match other {
                    Err(e) => e,
                    Ok(_) => libc::EAGAIN,
                };
                // A full ring refuses the rest too: queue them all at once.
                let end = if e == libc::EAGAIN {
                    slotted
                } else {
                    start + 1
                };
                refuse(start, end, e);
                start = end;
            }
        }
    }
    // No slot left for the rest: the ring is full.
    refuse(slotted, n, libc::EAGAIN);
    reaper::kick();
}
