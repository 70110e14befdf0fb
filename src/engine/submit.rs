//! Accepting a request: validate, mark it in progress, and route it — to the
//! kernel (regular files and block devices), to a kaio thread (anything
//! else, or no kernel context), or straight to completion with an error.

use core::sync::atomic::Ordering;

use super::classify::{self, FdKind};
use super::complete::{self, Mode};
use super::notify::Notify;
use super::stats::{self, STATS};
use super::stream::{self, Attempt};
use super::verbose::{self, Reason};
use super::{barrier, context, done, fdtable, iov, lane, overflow, pool, reap, reaper, slots};
use crate::abi::{AIO_PRIO_DELTA_MAX, AioCb, flags};
use crate::sys::{
    self, Errno, IOCB_CMD_FDSYNC, IOCB_CMD_FSYNC, IOCB_CMD_PREAD, IOCB_CMD_PREADV, IOCB_CMD_PWRITE,
    IOCB_CMD_PWRITEV, Iocb,
};

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    /// `aio_readv`: iovecs in `aio_buf`, their count in `aio_nbytes`.
    Readv,
    /// `aio_writev`.
    Writev,
    Fsync {
        data_only: bool,
    },
}

impl Op {
    /// The value left in `aio_lio_opcode` after submission: glibc's for the
    /// POSIX operations (it overwrites the field too), the kernel's
    /// `IOCB_CMD_PREADV`/`PWRITEV` for kaio's vectored extensions.
    fn recorded_opcode(self) -> i32 {
        match self {
            Op::Read => 0,
            Op::Write => 1,
            Op::Fsync { data_only: true } => 3,
            Op::Fsync { data_only: false } => 4,
            Op::Readv => 7,
            Op::Writev => 8,
        }
    }

    fn kernel_opcode(self) -> u16 {
        match self {
            Op::Read => IOCB_CMD_PREAD,
            Op::Write => IOCB_CMD_PWRITE,
            Op::Readv => IOCB_CMD_PREADV,
            Op::Writev => IOCB_CMD_PWRITEV,
            Op::Fsync { data_only: true } => IOCB_CMD_FDSYNC,
            Op::Fsync { data_only: false } => IOCB_CMD_FSYNC,
        }
    }

    /// The operation recorded by `prepare`, read back from `aio_lio_opcode`.
    pub fn recorded(cb: &AioCb) -> Op {
        match cb.aio_lio_opcode {
            1 => Op::Write,
            3 => Op::Fsync { data_only: true },
            4 => Op::Fsync { data_only: false },
            7 => Op::Readv,
            8 => Op::Writev,
            _ => Op::Read,
        }
    }

    pub fn is_write(self) -> bool {
        matches!(self, Op::Write | Op::Writev)
    }

    pub fn is_read(self) -> bool {
        matches!(self, Op::Read | Op::Readv)
    }

    pub fn is_vectored(self) -> bool {
        matches!(self, Op::Readv | Op::Writev)
    }
}

/// Validate `cb` and mark it in progress. Errors are returned to the caller
/// of `aio_read` & co. as -1/errno (glibc also stores EINVAL in the aiocb for
/// a bad `aio_reqprio`; so do we).
///
/// # Safety
/// `cb` must be valid for reads and writes.
pub unsafe fn prepare(cb: *mut AioCb, op: Op) -> Result<(), Errno> {
    // SAFETY: caller's contract.
    let c = unsafe { &mut *cb };
    // As glibc: a sync request has no priority (it is set to 0, unchecked).
    if matches!(op, Op::Fsync { .. }) {
        c.aio_reqprio = 0;
    }
    let notify = if !(0..=AIO_PRIO_DELTA_MAX).contains(&c.aio_reqprio) {
        Err(libc::EINVAL)
    } else {
        Notify::from_sigevent(&c.aio_sigevent)
    };
    let notify = match notify {
        Ok(n) => n,
        Err(e) => {
            c.return_value.store(-1, Ordering::Relaxed);
            c.error_code.store(e, Ordering::Release);
            return Err(e);
        }
    };
    super::fork::register();
    c.aio_lio_opcode = op.recorded_opcode();
    c.group.store(core::ptr::null_mut(), Ordering::Relaxed);
    c.link.store(core::ptr::null_mut(), Ordering::Relaxed);
    c.progress.store(0, Ordering::Relaxed);
    let mut f = 0;
    if !notify.is_none() {
        f |= flags::NOTIFY;
        reaper::work_begin();
    }
    if done::enrolling() {
        f |= flags::ENROLLED;
        done::enrolled();
    }
    // In progress from now until published: aio_cancel(fd, NULL) must see it.
    f |= flags::FD_COUNTED;
    fdtable::inc(c.aio_fildes);
    c.flags.store(f, Ordering::Relaxed);
    c.return_value.store(0, Ordering::Relaxed);
    c.error_code.store(libc::EINPROGRESS, Ordering::Release);
    stats::bump(&STATS.submitted);
    Ok(())
}

/// Complete a prepared request with an error, in the caller's thread
/// (`complete` undoes any bookkeeping done by [`track`]).
///
/// # Safety
/// `cb` is prepared and not yet handed to anyone.
pub unsafe fn fail(cb: *mut AioCb, e: Errno) {
    stats::bump(&STATS.failed_at_submit);
    // SAFETY: forwarded.
    unsafe { complete::complete(cb, -(e as i64), Mode::Normal) };
    reap::kick_leader();
}

/// Bookkeeping of a request that leaves the caller's thread: a file write
/// enters the fsync barrier.
///
/// # Safety
/// `cb` is prepared and owned by kaio.
pub unsafe fn track(cb: *mut AioCb, op: Op) {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    let f = c.flags.load(Ordering::Relaxed);
    if op.is_write() && f & (flags::STREAM | flags::WRITE) == 0 {
        c.parity.store(barrier::write_begin(), Ordering::Relaxed);
        c.flags.fetch_or(flags::WRITE, Ordering::SeqCst);
    }
}

/// The kernel's view of a read, write or fsync.
pub fn fill_iocb(cb: *mut AioCb, op: Op) -> Iocb {
    // SAFETY: kaio owns the request while in progress.
    let c = unsafe { &*cb };
    Iocb {
        aio_data: cb as u64,
        aio_lio_opcode: op.kernel_opcode(),
        aio_fildes: c.aio_fildes as u32,
        aio_buf: c.aio_buf as u64,
        aio_nbytes: c.aio_nbytes as u64,
        aio_offset: c.aio_offset,
        ..Iocb::default()
    }
}

/// Track `cb` as a kernel request and fill its iocb (for `io_submit`).
///
/// # Safety
/// `cb` is prepared and about to be submitted.
pub unsafe fn kernel_iocb(cb: *mut AioCb, op: Op, iocb: &mut Iocb) {
    // SAFETY: forwarded.
    unsafe { track(cb, op) };
    // SAFETY: as above.
    unsafe { (*cb).flags.fetch_or(flags::KERNEL, Ordering::SeqCst) };
    *iocb = fill_iocb(cb, op);
    reap::kernel_enter();
}

/// The kernel refused `cb` (prepared with [`kernel_iocb`]) with `e`: queue
/// it if the ring was full, hand it to a thread if the kernel cannot do it,
/// or fail it.
///
/// # Safety
/// `cb` was refused by io_submit, so it is still ours.
pub unsafe fn kernel_refused(cb: *mut AioCb, op: Op, e: Errno) {
    reap::kernel_refused();
    let fsync = matches!(op, Op::Fsync { .. });
    match e {
        // SAFETY: forwarded (the ring is full; completions will flush it).
        libc::EAGAIN if reap::kernel_in_flight() > 0 => unsafe { overflow::push(cb) },
        // SAFETY: forwarded. A full ring with nothing of ours in flight, or
        // a file system without asynchronous fsync: a pool thread does it.
        libc::EAGAIN => unsafe { pool::submit(cb, op) },
        libc::EINVAL if fsync => {
            // SAFETY: still ours.
            verbose::say(Reason::NoKernelFsync, unsafe { (*cb).aio_fildes });
            // SAFETY: as above.
            unsafe { pool::submit(cb, op) }
        }
        // SAFETY: forwarded; `complete` undoes the bookkeeping.
        _ => unsafe { fail(cb, e) },
    }
}

/// Checks the kernel would make differently from pread/pwrite (glibc's
/// path); their errors complete the request, as glibc reports them.
pub fn validate(c: &AioCb, op: Op) -> Result<(), Errno> {
    // A negative offset is EINVAL whatever the descriptor (-1 must not mean
    // "the file position" to preadv2).
    if c.aio_offset < 0 || (op.is_vectored() && !iov::valid_count(c)) {
        return Err(libc::EINVAL);
    }
    if op.is_vectored() {
        return if c.aio_buf.is_null() && c.aio_nbytes > 0 {
            Err(libc::EFAULT)
        } else {
            Ok(())
        };
    }
    // No buffer can be larger than SSIZE_MAX: pread(2) says EFAULT where
    // preadv2 and io_submit would say EINVAL. Above the kernel's 2 GiB clamp
    // the whole range is checked as pread(2) does, so a bogus length cannot
    // become a partial transfer.
    if c.aio_nbytes > isize::MAX as usize
        || (c.aio_nbytes > sys::MAX_RW_COUNT
            && !sys::user_range_ok(c.aio_buf as *const u8, c.aio_nbytes))
    {
        // The kernel checks the descriptor before the buffer.
        return Err(match classify::status_flags(c.aio_fildes) {
            Err(e) => e,
            Ok(fl) if !access_allows(fl, op) => libc::EBADF,
            Ok(_) => libc::EFAULT,
        });
    }
    Ok(())
}

/// A pipe, socket or character device: its requests keep their lane order
/// even when they transfer nothing.
fn is_stream(fd: i32) -> bool {
    sys::fstat_mode(fd).is_ok_and(|m| {
        matches!(
            m & libc::S_IFMT,
            libc::S_IFIFO | libc::S_IFSOCK | libc::S_IFCHR
        )
    })
}

/// Whether a descriptor opened with status flags `fl` may do `op`.
fn access_allows(fl: i32, op: Op) -> bool {
    if fl & libc::O_PATH != 0 {
        return false;
    }
    match fl & libc::O_ACCMODE {
        libc::O_RDONLY => op.is_read(),
        libc::O_WRONLY => op.is_write(),
        _ => true,
    }
}

/// Submit one prepared read or write, on the path its descriptor needs.
///
/// # Safety
/// `cb` is prepared (in progress) and valid until completion.
pub unsafe fn read_write(cb: *mut AioCb, op: Op) {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    if let Err(e) = validate(c, op) {
        // SAFETY: forwarded.
        return unsafe { fail(cb, e) };
    }
    // Nothing to transfer: the plain calls' answer (pread of a directory is
    // EISDIR, where preadv2 of nothing returns 0 without looking).
    if c.aio_nbytes == 0 && !op.is_vectored() && !is_stream(c.aio_fildes) {
        let r = sys::zero_length_io(c.aio_fildes, op.is_write(), c.aio_offset);
        // SAFETY: completed exactly once, here.
        unsafe { complete::inline(cb, r.map_or_else(|e| -(e as i64), |n| n as i64)) };
        return;
    }
    let fl = match classify::status_flags(c.aio_fildes) {
        Ok(fl) => fl,
        // SAFETY: forwarded.
        Err(e) => return unsafe { fail(cb, e) },
    };
    // The common buffered case needs no fstat: try the page cache at the
    // request's offset; a pipe or socket answers ESPIPE.
    if fl & (libc::O_DIRECT | libc::O_APPEND) == 0 {
        match stream::try_once(c, op) {
            Attempt::Done(res) if res != -(libc::ESPIPE as i64) => {
                // SAFETY: completed exactly once, here.
                unsafe { complete::inline(cb, res) };
                return;
            }
            // Not ready, partial, unsupported, or not seekable: decide by type.
            _ => {}
        }
    }
    match classify::kind(c.aio_fildes, fl) {
        // SAFETY: forwarded.
        Err(e) => unsafe { fail(cb, e) },
        // SAFETY: forwarded.
        Ok(FdKind::Direct) => unsafe { kernel(cb, op) },
        Ok(FdKind::Buffered { append }) => {
            if op.is_write() && append {
                // SAFETY: forwarded.
                unsafe { via_lane(cb, op) };
            } else {
                // The non-blocking attempt above did not finish it.
                // SAFETY: forwarded.
                unsafe { to_pool(cb, op) };
            }
        }
        Ok(FdKind::Stream { socket }) => {
            // A device that took the positioned attempt and gave part of a
            // read: that is what read(2) returns.
            let got = c.progress.load(Ordering::Relaxed);
            if op.is_read() && got > 0 {
                // SAFETY: completed exactly once, here.
                unsafe { complete::inline(cb, got as i64) };
                return;
            }
            let f = flags::STREAM | if socket { flags::SOCKET } else { 0 };
            c.flags.fetch_or(f, Ordering::Relaxed);
            // SAFETY: forwarded.
            unsafe { via_lane(cb, op) };
        }
    }
}

/// Hand a file request to the thread pool.
///
/// # Safety
/// As for [`read_write`].
unsafe fn to_pool(cb: *mut AioCb, op: Op) {
    // SAFETY: caller's contract.
    verbose::say(Reason::CacheMiss, unsafe { (*cb).aio_fildes });
    // SAFETY: forwarded.
    unsafe { track(cb, op) };
    // SAFETY: forwarded.
    unsafe { pool::submit(cb, op) };
}

/// Requests that must keep call order go through their descriptor's lane.
///
/// # Safety
/// As for [`read_write`].
unsafe fn via_lane(cb: *mut AioCb, op: Op) {
    // SAFETY: caller's contract.
    let key = lane::Key::of(unsafe { &*cb }, op);
    // SAFETY: forwarded.
    if unsafe { lane::enter(key, cb) } && unsafe { start_lane_head(cb) } {
        lane::advance(key);
    }
}

/// Start a request that reached the head of its lane. Returns `true` if it
/// completed synchronously (the caller then advances the lane).
///
/// # Safety
/// `cb` is prepared and owned by kaio.
pub unsafe fn start_lane_head(cb: *mut AioCb) -> bool {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    let op = Op::recorded(c);
    if c.flags.load(Ordering::Relaxed) & flags::STREAM != 0 {
        // SAFETY: forwarded.
        unsafe { stream::start(cb, op) }
    } else {
        // SAFETY: forwarded.
        unsafe { buffered(cb, op) }
    }
}

/// A buffered file request: the page cache without blocking if it can
/// (no thread, no kernel context), else a pool thread.
///
/// # Safety
/// As for [`read_write`]. Returns `true` if it completed synchronously.
unsafe fn buffered(cb: *mut AioCb, op: Op) -> bool {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    match stream::try_once(c, op) {
        Attempt::Done(res) => {
            // SAFETY: completed exactly once, here.
            unsafe { complete::inline(cb, res) };
            true
        }
        Attempt::WouldBlock | Attempt::Unsupported => {
            // SAFETY: forwarded.
            unsafe { to_pool(cb, op) };
            false
        }
    }
}

/// An O_DIRECT request: to the kernel, asynchronously.
///
/// # Safety
/// As for [`read_write`].
pub unsafe fn kernel(cb: *mut AioCb, op: Op) {
    let Some(ctx) = context::get_or_create() else {
        stats::bump(&STATS.no_context);
        // SAFETY: forwarded.
        unsafe { track(cb, op) };
        // SAFETY: forwarded.
        unsafe { pool::submit(cb, op) };
        return;
    };
    let mut iocb = Iocb::default();
    // SAFETY: forwarded.
    unsafe { kernel_iocb(cb, op, &mut iocb) };
    stats::bump(&STATS.io_submit_calls);
    match slots::submit_one(ctx, iocb) {
        Ok(()) => {
            stats::bump(&STATS.kernel);
            // The request may already be complete: read nothing from `cb`.
            reaper::kick();
        }
        // SAFETY: refused, still ours.
        Err(e) => unsafe { kernel_refused(cb, op, e) },
    }
}

/// Submit a prepared fsync whose earlier writes are complete.
///
/// # Safety
/// `cb` is a prepared fsync, not held.
pub unsafe fn fsync_now(cb: *mut AioCb) {
    // SAFETY: caller's contract.
    let op = Op::recorded(unsafe { &*cb });
    // IOCB_CMD_FSYNC never blocks in io_submit, whatever the descriptor.
    // SAFETY: forwarded.
    unsafe { kernel(cb, op) };
}
