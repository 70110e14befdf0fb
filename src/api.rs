//! Safe Rust access to kaio's own extensions. The POSIX calls themselves,
//! and the vectored and `aio_waitcomplete` extensions, take raw aiocbs whose
//! buffers must outlive the request: they are in [`crate::ffi`], `unsafe`.
//!
//! ```
//! let before = kaio::api::stats();
//! assert!(before.completed <= before.submitted);
//! assert!(!kaio::api::version().is_empty());
//! ```

use std::os::fd::{BorrowedFd, RawFd};

pub use crate::ffi::KaioStats as Stats;

/// kaio's version.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// This process's counters (what `KAIO_SHOW_STATS=1` prints at exit).
pub fn stats() -> Stats {
    let mut s = Stats::default();
    // SAFETY: a valid, writable KaioStats.
    unsafe { crate::ffi::kaio_stats(&mut s) };
    s
}

/// One counter by name (`"submitted"`, `"kernel"`, `"inline"`, `"poll"`,
/// `"thread"`, ...); `None` for an unknown name.
pub fn counter(name: &str) -> Option<u64> {
    crate::engine::counter(name.as_bytes())
}

/// The completion eventfd (see [`crate::ffi::kaio_completion_fd`]): readable
/// whenever a request completes; lives as long as the process.
pub fn completion_fd() -> std::io::Result<BorrowedFd<'static>> {
    let fd: RawFd = crate::engine::completion_fd().map_err(std::io::Error::from_raw_os_error)?;
    // SAFETY: kaio never closes this descriptor while the process lives.
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}
