//! The memory a request transfers, as iovecs: one buffer (`aio_buf`,
//! `aio_nbytes`) or, for `aio_readv`/`aio_writev`, FreeBSD's convention of an
//! iovec array in `aio_buf` and its length in `aio_nbytes`. `rest` skips what
//! earlier partial transfers already moved.

use super::submit::Op;
use crate::abi::AioCb;

/// Most iovecs a vectored request may have (`IOV_MAX`).
pub const IOV_MAX: usize = 1024;

/// The iovecs of what is left to transfer.
pub enum Rest<'a> {
    One([libc::iovec; 1]),
    User(&'a [libc::iovec]),
    Trimmed(Vec<libc::iovec>),
}

impl Rest<'_> {
    pub fn as_slice(&self) -> &[libc::iovec] {
        match self {
            Rest::One(v) => v,
            Rest::User(v) => v,
            Rest::Trimmed(v) => v,
        }
    }
}

/// The caller's iovec array of a vectored request; empty if the count is
/// out of range (the kernel then says EINVAL).
fn user_iovs(c: &AioCb) -> &[libc::iovec] {
    if c.aio_buf.is_null() || c.aio_nbytes == 0 || c.aio_nbytes > IOV_MAX {
        return &[];
    }
    // SAFETY: for aio_readv/aio_writev the caller passes `aio_nbytes` valid
    // iovecs at `aio_buf`, unmodified while the request is in progress.
    unsafe { core::slice::from_raw_parts(c.aio_buf as *const libc::iovec, c.aio_nbytes) }
}

/// Whether a vectored request's iovec count is acceptable.
pub fn valid_count(c: &AioCb) -> bool {
    c.aio_nbytes <= IOV_MAX
}

/// Total bytes of the request.
pub fn total(c: &AioCb, op: Op) -> usize {
    if op.is_vectored() {
        user_iovs(c)
            .iter()
            .fold(0usize, |a, v| a.saturating_add(v.iov_len))
    } else {
        c.aio_nbytes
    }
}

/// What is left after `done` bytes.
pub fn rest(c: &AioCb, op: Op, done: usize) -> Rest<'_> {
    if !op.is_vectored() {
        let len = c.aio_nbytes.saturating_sub(done);
        // SAFETY: pointer arithmetic within the caller's buffer (done <= len).
        let base = unsafe { (c.aio_buf as *mut u8).add(done.min(c.aio_nbytes)) };
        return Rest::One([libc::iovec {
            iov_base: base.cast(),
            iov_len: len,
        }]);
    }
    let all = user_iovs(c);
    if done == 0 {
        return Rest::User(all);
    }
    let mut skip = done;
    let mut out = Vec::with_capacity(all.len());
    for v in all {
        if skip >= v.iov_len {
            skip -= v.iov_len;
            continue;
        }
        // SAFETY: within the caller's iovec (skip < iov_len).
        let base = unsafe { (v.iov_base as *mut u8).add(skip) };
        out.push(libc::iovec {
            iov_base: base.cast(),
            iov_len: v.iov_len - skip,
        });
        skip = 0;
    }
    Rest::Trimmed(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cb_with(buf: *mut u8, nbytes: usize) -> Box<AioCb> {
        // SAFETY: an all-zero aiocb is what C callers get from memset.
        let mut c: Box<AioCb> = Box::new(unsafe { core::mem::zeroed() });
        c.aio_buf = buf.cast();
        c.aio_nbytes = nbytes;
        c
    }

    #[test]
    fn flat_rest_skips_what_was_done() {
        let mut data = [0u8; 100];
        let c = cb_with(data.as_mut_ptr(), 100);
        assert_eq!(total(&c, Op::Read), 100);
        let r = rest(&c, Op::Read, 30);
        let v = r.as_slice();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].iov_len, 70);
        assert_eq!(v[0].iov_base as usize, data.as_ptr() as usize + 30);
    }

    #[test]
    fn vectored_rest_trims_across_iovecs() {
        let mut a = [0u8; 10];
        let mut b = [0u8; 20];
        let mut c3 = [0u8; 5];
        let iovs = [
            libc::iovec {
                iov_base: a.as_mut_ptr().cast(),
                iov_len: 10,
            },
            libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: 20,
            },
            libc::iovec {
                iov_base: c3.as_mut_ptr().cast(),
                iov_len: 5,
            },
        ];
        let c = cb_with(iovs.as_ptr() as *mut u8, 3);
        assert_eq!(total(&c, Op::Readv), 35);
        assert_eq!(rest(&c, Op::Readv, 0).as_slice().len(), 3);
        let r = rest(&c, Op::Readv, 14);
        let v = r.as_slice();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].iov_len, 16);
        assert_eq!(v[0].iov_base as usize, b.as_ptr() as usize + 4);
        assert_eq!(v[1].iov_len, 5);
        assert!(rest(&c, Op::Readv, 35).as_slice().is_empty());
    }

    #[test]
    fn vectored_count_is_bounded() {
        let c = cb_with(core::ptr::null_mut(), IOV_MAX + 1);
        assert!(!valid_count(&c));
        assert_eq!(total(&c, Op::Writev), 0);
    }
}
