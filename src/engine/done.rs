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
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

use crossbeam_queue::ArrayQueue;

use super::stats::{self, STATS};
use super::wait;
use crate::abi::AioCb;
use crate::sys::{self, Errno};

/// Most enrolled completions waiting to be reaped at once.
const CAPACITY: usize = 65536;

static ENROLL: AtomicBool = AtomicBool::new(false);
static DONE: ForkLazy<ArrayQueue<usize>> = ForkLazy::new();
/// Enrolled requests submitted and not yet reaped by aio_waitcomplete.
static OUTSTANDING: AtomicUsize = AtomicUsize::new(0);
static COMPLETION_FD: AtomicI32 = AtomicI32::new(-1);

/// Start enrolling requests (ordinary context: allocates the queue once).
fn enable() {
    DONE.get_or_init(|| ArrayQueue::new(CAPACITY));
    ENROLL.store(true, Ordering::SeqCst);
}

pub fn enrolling() -> bool {
    ENROLL.load(Ordering::Relaxed)
}

/// A request was enrolled at submission.
pub fn enrolled() {
    OUTSTANDING.fetch_add(1, Ordering::SeqCst);
}

/// Called for every published completion (any context: lock-free, no
/// allocation; the eventfd write is an async-signal-safe system call).
pub fn completed(cb: *mut AioCb, enrolled: bool) {
    if enrolled
        && let Some(q) = DONE.get()
        && q.push(cb as usize).is_err()
    {
        stats::bump(&STATS.waitcomplete_overflow);
    }
    let fd = COMPLETION_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writing 8 bytes from a local to our eventfd.
        let _ = unsafe { sys::write(fd, one.as_ptr(), 8) };
    }
}

/// `aio_waitcomplete`: the next enrolled completion, its aiocb and result.
/// EAGAIN if no enrolled request is outstanding (nothing will come),
/// EINPROGRESS when the timeout passes, EINTR on a signal.
pub fn wait_any(timeout: Option<&libc::timespec>) -> Result<(*mut AioCb, isize), Errno> {
    enable();
    let deadline = match timeout {
        Some(t) => Some(wait::deadline_after(t)?),
        None => None,
    };
    let q = DONE.get().ok_or(libc::EAGAIN)?;
    if OUTSTANDING.load(Ordering::SeqCst) == 0 {
        return Err(libc::EAGAIN);
    }
    let taken = AtomicUsize::new(0);
    let take = || match q.pop() {
        Some(p) => {
            taken.store(p, Ordering::Relaxed);
            true
        }
        None => false,
    };
    let how = wait::How {
        mode: super::complete::Mode::Normal,
        restart: false,
        cancellable: true,
    };
    match wait::wait_until(&take, deadline.as_ref(), how) {
        Ok(()) => {
            OUTSTANDING.fetch_sub(1, Ordering::SeqCst);
            let cb = taken.load(Ordering::Relaxed) as *mut AioCb;
            // SAFETY: an enrolled, completed request: its owner reaps it
            // through us and has not freed it.
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
        return Ok(fd);
    }
    enable();
    let new = sys::eventfd(libc::EFD_NONBLOCK | libc::EFD_CLOEXEC)?;
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
            // SAFETY: closing the eventfd we just made and never shared.
            unsafe { libc::close(new) };
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
