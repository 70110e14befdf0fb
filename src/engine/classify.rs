//! What kind of descriptor a request targets decides its path. Two cheap
//! system calls per request (`fcntl(F_GETFL)`, `fstat`): a descriptor can be
//! closed and reopened as something else at any time, so nothing is cached.

use crate::sys::{self, Errno};

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

pub fn classify(fd: i32) -> Result<FdKind, Errno> {
    let fl = sys::fcntl_getfl(fd).map_err(|_| libc::EBADF)?;
    let mode = sys::fstat_mode(fd)? & libc::S_IFMT;
    Ok(if mode == libc::S_IFREG || mode == libc::S_IFBLK {
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
    })
}
