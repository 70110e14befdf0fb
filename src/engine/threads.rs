//! kaio's own threads: started with every signal blocked, so signals meant
//! for the application never land on them (and a SIGPIPE raised by a
//! transfer stays on the thread that caused it).

use std::io;
use std::thread::JoinHandle;

/// Start a named thread whose signal mask blocks everything. The caller's
/// own mask is restored before returning.
pub fn spawn<F: FnOnce() + Send + 'static>(
    name: &str,
    stack: usize,
    f: F,
) -> io::Result<JoinHandle<()>> {
    // SAFETY: sigset operations on local, initialised sets; only this
    // thread's mask changes, and it is restored below. The new thread
    // inherits the all-blocked mask.
    let mut all: libc::sigset_t = unsafe { core::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { core::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    let r = std::thread::Builder::new()
        .name(name.into())
        .stack_size(stack)
        .spawn(f);
    // SAFETY: restoring the caller's own mask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut()) };
    r
}
