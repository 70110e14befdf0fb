//! Completions reported to whoever asks for "any" completion rather than for
//! a given aiocb: `aio_waitcomplete` (FreeBSD) and `kaio_completion_fd()` (an
//! eventfd for epoll/poll event loops).
//!
//! `aio_waitcomplete` returns aiocb pointers, so kaio must know the caller
//! still owns them: a request is reported only if it was submitted after the
//! process first called `aio_waitcomplete` or `kaio_completion_fd` (it is
//! then "enrolled", and the caller reaps it with `aio_waitcomplete` instead
//! of `aio_return`). Requests from before are never reported, so a program
//! that only uses `aio_return` pays nothing and kaio never holds a pointer
//! to an aiocb its owner may have freed.

use super::fork_lazy::ForkLazy;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering};

use super::mem::BoundedQueue;
use super::stats::{self, STATS};
use super::wait;
use crate::abi::{AioCb, flags};
use crate::sys::{self, Errno};

/// Most enrolled completions waiting to be reaped at once.
const CAPACITY: usize = 65536;

static ENROLL: AtomicBool = AtomicBool::new(false);
/// Completed enrolled requests: (aiocb address, submission number). The
/// number tells a stale entry (the aiocb was reaped with `aio_return` and
/// submitted again) from the completion it was queued for.
static DONE: ForkLazy<BoundedQueue<(usize, u32)>> = ForkLazy::new();
/// Enrolled requests submitted and not yet reported.
static OUTSTANDING: AtomicUsize = AtomicUsize::new(0);
/// Submission numbers (never 0 for an enrolled request).
static GENERATION: AtomicU32 = AtomicU32::new(0);
static COMPLETION_FD: AtomicI32 = AtomicI32::new(-1);

/// The `F_SETSIG` tag kaio puts on the eventfd it hands out, to recognise
/// it (an eventfd's inode is shared by all eventfds): never delivered,
/// since kaio never sets `O_ASYNC` on it.
const FD_TAG: i32 = 61;

/// Start enrolling requests (ordinary context: allocates the queue once).
fn enable() -> Result<(), Errno> {
    DONE.get_or_try_init(|| BoundedQueue::new(CAPACITY))
        .ok_or(libc::EAGAIN)?;
    ENROLL.store(true, Ordering::SeqCst);
    Ok(())
}

pub fn enrolling() -> bool {
    ENROLL.load(Ordering::Relaxed)
}

/// A request was enrolled at submission: its submission number.
pub fn enrolled() -> u32 {
    OUTSTANDING.fetch_add(1, Ordering::SeqCst);
    loop {
        let g = GENERATION.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if g != 0 {
            return g;
        }
    }
}

/// An enrolled request was refused after all.
pub fn unenrolled() {
    OUTSTANDING.fetch_sub(1, Ordering::SeqCst);
}

/// Whether the completion eventfd at `fd` is still the one kaio made (the
/// program may have closed it and reused the number for a file).
fn completion_fd_ok(fd: i32) -> bool {
    sys::get_tag(fd) == Ok(FD_TAG)
}

/// Called for every published completion (any context: lock-free, no
/// allocation; the eventfd write is an async-signal-safe system call).
/// `cb` belongs to its owner again: only its address is used.
pub fn completed(cb: *mut AioCb, enrolled: bool, generation: u32) {
    if enrolled
        && let Some(q) = DONE.get()
        && q.push((cb as usize, generation)).is_err()
    {
        stats::bump(&STATS.waitcomplete_overflow);
    }
    let fd = COMPLETION_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        if !completion_fd_ok(fd) {
            // Not ours any more: never write to it.
            let _ = COMPLETION_FD.compare_exchange(fd, -1, Ordering::SeqCst, Ordering::SeqCst);
            return;
        }
        let one = 1u64.to_ne_bytes();
        // SAFETY: writing 8 bytes from a local to our eventfd.
        let _ = unsafe { sys::write(fd, one.as_ptr(), 8) };
    }
}

/// Mark a completed enrolled request reported; `false` if it already was
/// (or is not the completion `generation` names any more).
fn claim(c: &AioCb) -> bool {
    let mut f = c.flags.load(Ordering::Acquire);
    loop {
        if f & flags::ENROLLED == 0 || f & flags::REAPED != 0 {
            return false;
        }
        match c.flags.compare_exchange_weak(
            f,
            f | flags::REAPED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => return true,
            Err(cur) => f = cur,
        }
    }
}

/// `aio_return` of a completed request: an enrolled one is reported, and
/// `aio_waitcomplete` will not report it again.
pub fn returned(c: &AioCb) {
    if c.error_code.load(Ordering::Acquire) != libc::EINPROGRESS && claim(c) {
        OUTSTANDING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether a queued entry still names a completion nobody has reported.
fn live(addr: usize, generation: u32) -> bool {
    let c = addr as *const AioCb;
    // The aiocb may have been reaped with aio_return and freed: read its
    // submission number without faulting.
    let gen_addr = addr + core::mem::offset_of!(AioCb, generation);
    // SAFETY: `addr` was a valid aiocb; if the read cannot be checked it
    // is made directly (enrolled aiocbs stay valid until reported).
    match unsafe { sys::read_u32_checked(gen_addr) } {
        Some(g) if g == generation => {}
        _ => return false,
    }
    // SAFETY: the aiocb is mapped (just read) and carries the number of
    // this completion: its owner has not reused it since.
    let c = unsafe { &*c };
    c.error_code.load(Ordering::Acquire) != libc::EINPROGRESS && claim(c)
}

/// `aio_waitcomplete`: the next enrolled completion, its aiocb and result.
/// EAGAIN if no enrolled request is outstanding (nothing will come),
/// EINPROGRESS when the timeout passes, EINTR on a signal.
pub fn wait_any(timeout: Option<&libc::timespec>) -> Result<(*mut AioCb, isize), Errno> {
    enable()?;
    let deadline = match timeout {
        Some(t) => Some(wait::deadline_after(t)?),
        None => None,
    };
    let q = DONE.get().ok_or(libc::EAGAIN)?;
    let taken = AtomicUsize::new(0);
    let take = || {
        while let Some((p, g)) = q.pop() {
            if live(p, g) {
                taken.store(p, Ordering::Relaxed);
                return true;
            }
        }
        false
    };
    if OUTSTANDING.load(Ordering::SeqCst) == 0 && !take() {
        return Err(libc::EAGAIN);
    }
    let how = wait::How {
        mode: super::complete::Mode::Normal,
        restart: false,
        cancellable: true,
    };
    let got = taken.load(Ordering::Relaxed) != 0;
    match if got {
        Ok(())
    } else {
        wait::wait_until(&take, deadline.as_ref(), how)
    } {
        Ok(()) => {
            OUTSTANDING.fetch_sub(1, Ordering::SeqCst);
            let cb = taken.load(Ordering::Relaxed) as *mut AioCb;
            // SAFETY: an enrolled, completed request just claimed: its
            // owner reaps it through us.
            let ret = unsafe { (*cb).return_value.load(Ordering::Acquire) };
            Ok((cb, ret))
        }
        Err(libc::EAGAIN) => Err(libc::EINPROGRESS),
        Err(e) => Err(e),
    }
}

/// `kaio_completion_fd`: an eventfd that counts completions from now on.
pub fn completion_fd() -> Result<i32, Errno> {
    let fd = COMPLETION_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        if completion_fd_ok(fd) {
            return Ok(fd);
        }
        let _ = COMPLETION_FD.compare_exchange(fd, -1, Ordering::SeqCst, Ordering::SeqCst);
    }
    enable()?;
    let new = sys::eventfd(libc::EFD_NONBLOCK | libc::EFD_CLOEXEC)?;
    let new = super::context::move_high(new);
    if sys::set_tag(new, FD_TAG).is_err() {
        sys::close(new);
        return Err(libc::EMFILE);
    }
    match COMPLETION_FD.compare_exchange(-1, new, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => {
            // Readable at once: requests may have completed before the loop
            // started watching; it should look.
            let one = 1u64.to_ne_bytes();
            // SAFETY: writing 8 bytes from a local to our eventfd.
            let _ = unsafe { sys::write(new, one.as_ptr(), 8) };
            Ok(new)
        }
        Err(existing) => {
            // Closing the eventfd we just made and never shared.
            sys::close(new);
            Ok(existing)
        }
    }
}

/// In a `fork()` child: the parent's requests and event loop are not ours.
pub fn reset_after_fork() {
    // A queue another thread was using at fork time cannot be drained here.
    DONE.forget_after_fork();
    OUTSTANDING.store(0, Ordering::Relaxed);
    // The child keeps the descriptor (its event loop may hold it) but gets
    // its own eventfd on its next kaio_completion_fd() call.
    COMPLETION_FD.store(-1, Ordering::Relaxed);
}
