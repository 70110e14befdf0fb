//! What kind of descriptor a request targets decides its path. A descriptor
//! can be closed and reopened as something else at any time, so nothing is
//! cached: `fcntl(F_GETFL)` for every request, `fstat` only where the path
//! depends on the file type (O_DIRECT, O_APPEND, or a buffered attempt that
//! could not finish at once). The `fstat` also gives the file's identity,
//! which requests that run later check before touching the descriptor.

use crate::sys::{self, Errno, FileId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdKind {
    /// O_DIRECT regular file or block device: truly asynchronous under
    /// `io_submit`.
    Direct,
    /// Regular file or block device through the page cache: `io_submit`
    /// would complete it synchronously (blocking) inside the call.
    Buffered { append: bool },
    /// Pipe, FIFO, socket, tty, character device: `io_submit` would block
    /// until data or space arrives.
    Stream { socket: bool },
}

/// The descriptor's status flags (`F_GETFL`); EBADF if it is not open.
pub fn status_flags(fd: i32) -> Result<i32, Errno> {
    sys::fcntl_getfl(fd).map_err(|_| libc::EBADF)
}

/// The kind of an open descriptor with status flags `fl`, and its identity.
pub fn kind(fd: i32, fl: i32) -> Result<(FdKind, FileId), Errno> {
    let id = sys::fstat_id(fd)?;
    let mode = id.kind();
    let kind = if mode == libc::S_IFREG || mode == libc::S_IFBLK {
        if fl & libc::O_DIRECT != 0 {
            FdKind::Direct
        } else {
            FdKind::Buffered {
                append: fl & libc::O_APPEND != 0,
            }
        }
    } else {
        FdKind::Stream {
            socket: mode == libc::S_IFSOCK,
        }
    };
    Ok((kind, id))
}

/// Both steps at once.
pub fn classify(fd: i32) -> Result<(FdKind, FileId), Errno> {
    kind(fd, status_flags(fd)?)
}
