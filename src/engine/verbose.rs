//! `KAIO_VERBOSE=1`: say on stderr, once per reason, why a request left the
//! fast path (counts are in `KAIO_SHOW_STATS`).

use core::sync::atomic::{AtomicBool, Ordering};

use super::config;

/// Why a request took a slower path.
#[derive(Clone, Copy)]
pub enum Reason {
    CacheMiss,
    NotReady,
    NoNonblocking,
    NoContext(i32),
    RingFull,
    NoKernelFsync,
}

static SAID: [AtomicBool; 6] = [const { AtomicBool::new(false) }; 6];

fn text(r: Reason) -> (usize, String) {
    match r {
        Reason::CacheMiss => (0, "a buffered request missed the page cache (RWF_NOWAIT said EAGAIN): served by kaio's thread pool".into()),
        Reason::NotReady => (1, "a pipe/socket/tty was not ready: waiting for readiness with IOCB_CMD_POLL".into()),
        Reason::NoNonblocking => {
            (2, "a descriptor does not support non-blocking I/O: served by a thread of its own".into())
        }
        Reason::NoContext(e) => (
            3,
            format!(
                "io_setup failed ({}; see /proc/sys/fs/aio-max-nr and KAIO_MAX_EVENTS): every request goes to threads",
                errno_name(e)
            ),
        ),
        Reason::RingFull => (4, "the kernel AIO ring is full: requests wait in kaio's queue (KAIO_MAX_EVENTS)".into()),
        Reason::NoKernelFsync => (5, "the kernel has no asynchronous fsync here: served by kaio's thread pool".into()),
    }
}

/// An errno's name and number, e.g. "EAGAIN, errno 11".
fn errno_name(e: i32) -> String {
    let name = match e {
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::ENOSYS => "ENOSYS",
        libc::EINVAL => "EINVAL",
        libc::EPERM => "EPERM",
        libc::EFAULT => "EFAULT",
        _ => return format!("errno {e}"),
    };
    format!("{name}, errno {e}")
}

/// Explain `r` on stderr if `KAIO_VERBOSE=1`, the first time it happens.
/// Ordinary thread context only.
pub fn say(r: Reason, fd: i32) {
    if !config::get().verbose {
        return;
    }
    let (i, what) = text(r);
    if SAID.get(i).is_some_and(|s| s.swap(true, Ordering::Relaxed)) {
        return;
    }
    // A reason that concerns no one descriptor (io_setup) names none.
    let on = if fd >= 0 {
        format!("fd {fd}: ")
    } else {
        String::new()
    };
    super::warn(&format!("kaio: {on}{what} (said once)\n"));
}
