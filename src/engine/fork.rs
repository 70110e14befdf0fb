//! `fork()`: POSIX says no asynchronous I/O is inherited. The child gets no
//! kernel context (the kernel's rule), so kaio forgets everything of the
//! parent's and starts afresh on the child's first request. The parent's
//! ring is `MADV_DONTFORK`, so the child cannot steal its completions.

use core::sync::atomic::{AtomicBool, Ordering};

use super::stats::STATS;
use super::{barrier, context, done, fdtable, lane, overflow, pool, reap, reaper, slots, submit};

/// Not a `std::sync::Once`: a child forked while another thread was inside
/// `call_once` would wait for it forever.
static REGISTERED: AtomicBool = AtomicBool::new(false);

extern "C" fn in_child() {
    context::reset_after_fork();
    reap::reset_after_fork();
    barrier::reset_after_fork();
    fdtable::reset_after_fork();
    reaper::reset_after_fork();
    lane::reset_after_fork();
    slots::reset_after_fork();
    done::reset_after_fork();
    overflow::reset_after_fork();
    pool::reset_after_fork();
    submit::reset_after_fork();
    STATS.reset();
}

/// Install the atfork handler (once, on first use of the kernel).
pub fn register() {
    if !REGISTERED.swap(true, Ordering::AcqRel) {
        // SAFETY: registering a handler that only touches kaio's statics.
        unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
    }
}
