//! Accepting a request: validate, mark it in progress, and route it — to the
//! kernel (regular files and block devices), to a kaio thread (anything
//! else, or no kernel context), or straight to completion with an error.

use core::sync::atomic::Ordering;

use super::complete::{self, Mode};
use super::notify::Notify;
use super::stats::{self, STATS};
use super::{barrier, context, fallback, fdtable, reap, reaper};
use crate::abi::{AIO_PRIO_DELTA_MAX, AioCb, flags};
use crate::sys::{
    self, Errno, IOCB_CMD_FDSYNC, IOCB_CMD_FSYNC, IOCB_CMD_PREAD, IOCB_CMD_PWRITE, Iocb,
};

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    Fsync { data_only: bool },
}

impl Op {
    /// The value glibc leaves in `aio_lio_opcode` after submission.
    fn glibc_opcode(self) -> i32 {
        match self {
            Op::Read => 0,
            Op::Write => 1,
            Op::Fsync { data_only: true } => 3,
            Op::Fsync { data_only: false } => 4,
        }
    }

    fn kernel_opcode(self) -> u16 {
        match self {
            Op::Read => IOCB_CMD_PREAD,
            Op::Write => IOCB_CMD_PWRITE,
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
            _ => Op::Read,
        }
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
    c.aio_lio_opcode = op.glibc_opcode();
    c.group.store(core::ptr::null_mut(), Ordering::Relaxed);
    c.link.store(core::ptr::null_mut(), Ordering::Relaxed);
    let mut f = 0;
    if !notify.is_none() {
        f |= flags::NOTIFY;
        reaper::work_begin();
    }
    c.flags.store(f, Ordering::Relaxed);
    c.return_value.store(0, Ordering::Relaxed);
    c.error_code.store(libc::EINPROGRESS, Ordering::Release);
    stats::bump(&STATS.submitted);
    Ok(())
}

/// Where a prepared request goes.
pub enum Route {
    Kernel(u64),
    Thread,
    Fail(Errno),
}

/// Only regular files and block devices are asynchronous under `io_submit`;
/// pipes, sockets and character devices would block in it.
pub fn route(fd: i32) -> Route {
    match sys::fstat_mode(fd) {
        Err(e) => Route::Fail(e),
        Ok(mode) => {
            let kind = mode & libc::S_IFMT;
            if kind == libc::S_IFREG || kind == libc::S_IFBLK {
                match context::get_or_create() {
                    Some(ctx) => Route::Kernel(ctx),
                    None => Route::Thread,
                }
            } else {
                Route::Thread
            }
        }
    }
}

/// Complete a prepared request with an error, in the caller's thread.
///
/// # Safety
/// `cb` is prepared and not yet handed to anyone.
pub unsafe fn fail(cb: *mut AioCb, e: Errno) {
    stats::bump(&STATS.failed_at_submit);
    // SAFETY: forwarded.
    unsafe { complete::complete(cb, -(e as i64), Mode::Normal) };
    reap::kick_leader();
}

/// Fill `iocb` for `cb` and do the bookkeeping of a kernel request.
///
/// # Safety
/// `cb` is prepared and about to be submitted.
pub unsafe fn kernel_iocb(cb: *mut AioCb, op: Op, iocb: &mut Iocb) {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    let mut f = flags::KERNEL | flags::FD_COUNTED;
    if op == Op::Write {
        f |= flags::WRITE;
        c.parity.store(barrier::write_begin(), Ordering::Relaxed);
    }
    c.flags.fetch_or(f, Ordering::Relaxed);
    fdtable::inc(c.aio_fildes);
    *iocb = Iocb {
        aio_data: cb as u64,
        aio_lio_opcode: op.kernel_opcode(),
        aio_fildes: c.aio_fildes as u32,
        aio_buf: c.aio_buf as u64,
        aio_nbytes: c.aio_nbytes as u64,
        aio_offset: c.aio_offset,
        ..Iocb::default()
    };
    reap::kernel_enter();
}

/// The kernel refused `cb` (submitted with `kernel_iocb`) with `e`.
///
/// # Safety
/// `cb` was refused by io_submit, so it is still ours.
pub unsafe fn kernel_refused(cb: *mut AioCb, e: Errno) {
    reap::kernel_refused();
    // SAFETY: forwarded.
    unsafe { fail(cb, e) };
}

/// Submit one prepared read or write.
///
/// # Safety
/// `cb` is prepared (in progress) and valid until completion.
pub unsafe fn read_write(cb: *mut AioCb, op: Op) {
    // SAFETY: caller's contract.
    let fd = unsafe { (*cb).aio_fildes };
    match route(fd) {
        // SAFETY: forwarded.
        Route::Fail(e) => unsafe { fail(cb, e) },
        // SAFETY: forwarded.
        Route::Thread => unsafe { fallback::start(cb, op) },
        // SAFETY: forwarded.
        Route::Kernel(ctx) => unsafe { submit_kernel(ctx, cb, op) },
    }
}

/// # Safety
/// As for `read_write`.
unsafe fn submit_kernel(ctx: u64, cb: *mut AioCb, op: Op) {
    let mut iocb = Iocb::default();
    // SAFETY: forwarded.
    unsafe { kernel_iocb(cb, op, &mut iocb) };
    let list = [&mut iocb as *mut Iocb];
    stats::bump(&STATS.io_submit_calls);
    // SAFETY: one valid iocb whose buffer the caller keeps valid.
    match unsafe { sys::io_submit(ctx, &list) } {
        Ok(1) => {
            stats::bump(&STATS.kernel);
            // SAFETY: flags are kaio's while in progress... but the request
            // may already be complete: read nothing from `cb` here.
            reaper::kick();
        }
        // The ring is full: never fail where glibc would queue; a thread
        // serves it instead.
        Err(libc::EAGAIN) | Ok(_) => {
            // SAFETY: refused, still ours.
            unsafe { undo_kernel(cb) };
            // SAFETY: forwarded.
            unsafe { fallback::start(cb, op) };
        }
        // SAFETY: refused, still ours.
        Err(e) => unsafe { kernel_refused(cb, e) },
    }
}

/// Take back the bookkeeping of `kernel_iocb` for a request that goes
/// elsewhere instead.
///
/// # Safety
/// `cb` was refused by the kernel.
pub unsafe fn undo_kernel(cb: *mut AioCb) {
    reap::kernel_refused();
    // SAFETY: still ours.
    let c = unsafe { &*cb };
    let f = c.flags.fetch_and(
        !(flags::KERNEL | flags::FD_COUNTED | flags::WRITE),
        Ordering::Relaxed,
    );
    if f & flags::WRITE != 0 {
        barrier::write_done(c.parity.load(Ordering::Relaxed), Mode::Normal);
    }
    if f & flags::FD_COUNTED != 0 {
        fdtable::dec(c.aio_fildes);
    }
}

/// Submit a prepared fsync whose earlier writes are complete.
///
/// # Safety
/// `cb` is a prepared fsync, not held.
pub unsafe fn fsync_now(cb: *mut AioCb) {
    // SAFETY: caller's contract.
    let op = Op::recorded(unsafe { &*cb });
    // SAFETY: as above.
    let fd = unsafe { (*cb).aio_fildes };
    match route(fd) {
        // SAFETY: forwarded.
        Route::Fail(e) => unsafe { fail(cb, e) },
        // SAFETY: forwarded.
        Route::Thread => unsafe { fallback::start(cb, op) },
        Route::Kernel(ctx) => {
            let mut iocb = Iocb::default();
            // SAFETY: forwarded.
            unsafe { kernel_iocb(cb, op, &mut iocb) };
            let list = [&mut iocb as *mut Iocb];
            stats::bump(&STATS.io_submit_calls);
            // SAFETY: one valid iocb; fsync has no buffer.
            match unsafe { sys::io_submit(ctx, &list) } {
                Ok(1) => {
                    stats::bump(&STATS.kernel);
                    reaper::kick();
                }
                // No kernel fsync for this file system, or a full ring: a
                // kaio thread calls fsync(2) itself.
                _ => {
                    // SAFETY: refused, still ours.
                    unsafe { undo_kernel(cb) };
                    // SAFETY: forwarded.
                    unsafe { fallback::start(cb, op) };
                }
            }
        }
    }
}
