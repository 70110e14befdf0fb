//! kaio's own threads: detached, named, started with every signal blocked,
//! so signals meant for the application never land on them (and a SIGPIPE
//! raised by a transfer stays on the thread that caused it).
//!
//! Made with `pthread_create` directly rather than `std::thread`, whose
//! bookkeeping allocates infallibly: when memory or threads are short
//! (RLIMIT_NPROC, a container's pids.max, RLIMIT_AS) `spawn` fails, and
//! the caller refuses the request with EAGAIN or uses a thread it has.

use core::ffi::c_void;

use super::mem;
use crate::sys::Errno;
use crate::sys::fault::{self, Point};

struct Start {
    name: &'static core::ffi::CStr,
    body: Box<dyn FnOnce() + Send>,
}

extern "C" fn trampoline(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the Box leaked by `spawn`, handed over once.
    let start = unsafe { Box::from_raw(arg.cast::<Start>()) };
    // SAFETY: naming the calling thread with a NUL-terminated name.
    unsafe { libc::pthread_setname_np(libc::pthread_self(), start.name.as_ptr()) };
    (start.body)();
    core::ptr::null_mut()
}

/// Start a detached thread named `name` with a `stack`-byte stack whose
/// signal mask blocks everything. The caller's own mask is restored before
/// returning. EAGAIN if the thread (or the memory for it) cannot be had.
pub fn spawn(
    name: &'static core::ffi::CStr,
    stack: usize,
    body: impl FnOnce() + Send + 'static,
) -> Result<(), Errno> {
    if let Some(e) = fault::hit(Point::Thread) {
        return Err(e);
    }
    let body: Box<dyn FnOnce() + Send> = mem::try_box(body).ok_or(libc::EAGAIN)?;
    let start = Box::into_raw(mem::try_box(Start { name, body }).ok_or(libc::EAGAIN)?);
    // SAFETY: sigset and attr operations on local, initialised objects; only
    // this thread's mask changes, and it is restored below. The new thread
    // inherits the all-blocked mask and owns `start`.
    unsafe {
        let mut all: libc::sigset_t = core::mem::zeroed();
        let mut old: libc::sigset_t = core::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        libc::pthread_attr_init(&mut attr);
        libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
        libc::pthread_attr_setstacksize(&mut attr, stack.max(libc::PTHREAD_STACK_MIN));
        let mut tid: libc::pthread_t = 0;
        let rc = libc::pthread_create(&mut tid, &attr, trampoline, start.cast());
        libc::pthread_attr_destroy(&mut attr);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut());
        if rc != 0 {
            // The thread never started: reclaim its start block.
            drop(Box::from_raw(start));
            return Err(libc::EAGAIN);
        }
    }
    Ok(())
}
