//! Non-blocking transfers and the poll path. A request that can be served
//! without blocking (a page-cache hit via RWF_NOWAIT, a pipe that already
//! has data or room) completes inside `aio_read`/`aio_write` with no thread
//! hand-off. A pipe, socket or tty that is not ready waits in the kernel
//! with `IOCB_CMD_POLL`; when it becomes ready the transfer is tried again.

use core::sync::atomic::Ordering;

use super::complete;
use super::stats::{self, STATS};
use super::submit::{self, Op};
use super::{context, dedicated, iov, overflow, reap, reaper};
use crate::abi::{AioCb, flags};
use crate::sys::{self, Errno, IOCB_CMD_POLL, Iocb};

/// The outcome of a non-blocking attempt.
pub enum Attempt {
    /// Finished: bytes, or `-errno`.
    Done(i64),
    /// Not ready (progress, if any, is recorded in the aiocb).
    WouldBlock,
    /// The descriptor does not support non-blocking attempts.
    Unsupported,
}

/// Try the rest of `c`'s transfer once, without blocking.
pub fn try_once(c: &AioCb, op: Op) -> Attempt {
    if matches!(op, Op::Fsync { .. }) {
        return Attempt::Unsupported;
    }
    let f = c.flags.load(Ordering::Relaxed);
    let stream = f & flags::STREAM != 0;
    let fd = submit::io_fd(c);
    let len = iov::total(c, op);
    let done = c.progress.load(Ordering::Relaxed).min(len);
    let rest = len - done;
    let iovs = iov::rest(c, op, done);
    let iovs = iovs.as_slice();
    // Streams ignore offsets (as read/write do); files use theirs.
    let off = if stream {
        -1
    } else {
        c.aio_offset.saturating_add(done as i64)
    };
    // SAFETY: the caller promised the buffers valid for the life of the
    // request (the kernel checks them and says EFAULT).
    let r = unsafe {
        if op.is_read() {
            sys::preadv2(fd, iovs, off, libc::RWF_NOWAIT)
        } else if f & flags::SOCKET != 0 {
            sys::sendmsg(fd, iovs, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
        } else if stream {
            write_no_sigpipe(fd, iovs)
        } else {
            sys::pwritev2(fd, iovs, off, libc::RWF_NOWAIT)
        }
    };
    match r {
        // Reads return what there is (a pipe's partial data; 0 at EOF). A
        // short file read from the page cache is only a partial hit: the
        // rest must be read, as a blocking read(2) would.
        Ok(n) if op.is_read() && (stream || n == rest || n == 0) => {
            Attempt::Done((done + n) as i64)
        }
        Ok(n) if n == rest => Attempt::Done((done + n) as i64),
        Ok(n) if op.is_read() => {
            // A short file read: the end of the file (the next attempt
            // reads 0: complete here, no thread), or the end of what the
            // page cache holds (EAGAIN: a thread reads the rest).
            c.progress.store(done + n, Ordering::Relaxed);
            try_once(c, op)
        }
        Ok(n) => {
            c.progress.store(done + n, Ordering::Relaxed);
            Attempt::WouldBlock
        }
        Err(libc::EAGAIN) => Attempt::WouldBlock,
        Err(libc::EOPNOTSUPP) => {
            c.flags.fetch_or(flags::UNSUPPORTED, Ordering::Relaxed);
            Attempt::Unsupported
        }
        Err(libc::EINTR) => Attempt::WouldBlock,
        Err(_) if done > 0 => Attempt::Done(done as i64),
        Err(e) => Attempt::Done(-(e as i64)),
    }
}

/// `write` to a pipe or tty without RWF_NOWAIT's blocking and without a
/// SIGPIPE reaching the application: glibc's workers, with every signal
/// blocked, never raise one in the caller either.
///
/// # Safety
/// Every iovec must describe readable memory.
unsafe fn write_no_sigpipe(fd: i32, iovs: &[libc::iovec]) -> Result<usize, i32> {
    // SAFETY: sigset operations on local sets; masks of this thread only.
    unsafe {
        let mut pipe_set: libc::sigset_t = core::mem::zeroed();
        let mut old: libc::sigset_t = core::mem::zeroed();
        let mut pending: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut pipe_set);
        libc::sigaddset(&mut pipe_set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &pipe_set, &mut old);
        libc::sigpending(&mut pending);
        let was_pending = libc::sigismember(&pending, libc::SIGPIPE) == 1;
        let r = sys::pwritev2(fd, iovs, -1, libc::RWF_NOWAIT);
        if r == Err(libc::EPIPE) && !was_pending {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&pipe_set, core::ptr::null_mut(), &zero);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut());
        r
    }
}

/// Start a stream request (the head of its lane). Returns `true` if it
/// completed synchronously. `inline_ok`: the caller's thread may copy the
/// buffers now; `at_submit`: inside the submitting call (Err(EAGAIN) if a
/// thread is needed and none can be had).
///
/// # Safety
/// `cb` is prepared and owned by kaio.
pub unsafe fn start(
    cb: *mut AioCb,
    op: Op,
    inline_ok: bool,
    at_submit: bool,
) -> Result<bool, Errno> {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    if !at_submit && !submit::same_file(c) {
        // The descriptor kaio holds was closed under it (close_range) and
        // its number reused: never transfer there.
        // SAFETY: ours; completes once (the caller advances the lane).
        unsafe { complete::inline(cb, -(libc::EBADF as i64)) };
        return Ok(true);
    }
    let attempt = if inline_ok {
        try_once(c, op)
    } else {
        Attempt::WouldBlock
    };
    match attempt {
        Attempt::Done(res) => {
            // SAFETY: completed exactly once, here.
            unsafe { complete::inline(cb, res) };
            Ok(true)
        }
        Attempt::WouldBlock if inline_ok && nonblocking(c) => {
            // O_NONBLOCK: what read(2)/write(2) say now — EAGAIN, or the
            // part of a write that fitted (glibc's worker calls them once).
            let got = c.progress.load(Ordering::Relaxed);
            let res = if got > 0 {
                got as i64
            } else {
                -(libc::EAGAIN as i64)
            };
            // SAFETY: completed exactly once, here.
            unsafe { complete::inline(cb, res) };
            Ok(true)
        }
        Attempt::WouldBlock if c.flags.load(Ordering::Relaxed) & (flags::NO_POLL) == 0 => {
            // From now on the request outlives the caller's call: hold the
            // open file, whatever the program does with the number.
            submit::bind(c);
            // SAFETY: still ours.
            let r = unsafe { wait_ready(cb, op, at_submit) };
            // SAFETY: still ours if refused.
            unsafe { partial_or(cb, r) }
        }
        Attempt::WouldBlock | Attempt::Unsupported => {
            submit::bind(c);
            if at_submit {
                // SAFETY: still ours.
                let r = unsafe { dedicated::start(cb, op) };
                // SAFETY: still ours if refused.
                return unsafe { partial_or(cb, r) };
            } else {
                // SAFETY: still ours.
                unsafe { dedicated::start_or_fail(cb, op) };
            }
            Ok(false)
        }
    }
}

/// A request that cannot wait (no thread, no kernel: `r` is Err) but has
/// already moved part of its data completes with that part, as a write(2)
/// interrupted half-way does: refusing it would make the caller write those
/// bytes twice.
///
/// # Safety
/// `cb` is ours (refused requests are still ours).
unsafe fn partial_or(cb: *mut AioCb, r: Result<(), Errno>) -> Result<bool, Errno> {
    match r {
        Ok(()) => Ok(false),
        Err(e) => {
            // SAFETY: caller's contract.
            let got = unsafe { (*cb).progress.load(Ordering::Relaxed) };
            if got == 0 {
                return Err(e);
            }
            // SAFETY: completed exactly once, here.
            unsafe { complete::inline(cb, got as i64) };
            Ok(true)
        }
    }
}

/// Whether the request's open file is in non-blocking mode now.
fn nonblocking(c: &AioCb) -> bool {
    sys::fcntl_getfl(submit::io_fd(c)).is_ok_and(|fl| fl & libc::O_NONBLOCK != 0)
}

/// The poll events a request waits for.
pub fn events(op: Op) -> u64 {
    (if op == Op::Write {
        libc::POLLOUT
    } else {
        libc::POLLIN
    }) as u64
}

/// Fill a poll iocb for `cb`.
pub fn poll_iocb(cb: *mut AioCb, op: Op) -> Iocb {
    // SAFETY: kaio owns the request while in progress.
    let fd = submit::io_fd(unsafe { &*cb });
    Iocb {
        aio_data: cb as u64,
        aio_lio_opcode: IOCB_CMD_POLL,
        aio_fildes: fd as u32,
        aio_buf: events(op),
        ..Iocb::default()
    }
}

/// Wait for readiness in the kernel (`IOCB_CMD_POLL`); without a usable
/// context, on a thread of its own (`at_submit`: Err(EAGAIN) if none).
///
/// # Safety
/// `cb` is prepared and owned by kaio.
pub unsafe fn wait_ready(cb: *mut AioCb, op: Op, at_submit: bool) -> Result<(), Errno> {
    let thread = |cb: *mut AioCb| {
        if at_submit {
            // SAFETY: still ours.
            unsafe { dedicated::start(cb, op) }
        } else {
            // SAFETY: still ours.
            unsafe { dedicated::start_or_fail(cb, op) };
            Ok(())
        }
    };
    let Some(ctx) = context::get_or_create() else {
        return thread(cb);
    };
    // SAFETY: kaio owns the private fields while in progress.
    let c = unsafe { &*cb };
    let first = c
        .flags
        .fetch_or(flags::POLL | flags::POLLED, Ordering::SeqCst)
        & flags::POLLED
        == 0;
    if first {
        stats::bump(&STATS.poll);
        super::verbose::say(super::verbose::Reason::NotReady, c.aio_fildes);
    }
    // Readiness is processed by whoever reaps; the reaper (running: the
    // stream was accepted with it) must reap when nobody calls into kaio.
    reaper::work_begin();
    let iocb = poll_iocb(cb, op);
    reap::kernel_enter();
    stats::bump(&STATS.io_submit_calls);
    match super::slots::submit_one(ctx, iocb) {
        Ok(()) => {
            reaper::kick();
            Ok(())
        }
        Err(libc::EAGAIN) if reap::kernel_in_flight() > 1 => {
            reap::kernel_refused();
            // SAFETY: refused: still ours.
            unsafe { overflow::push(cb) };
            Ok(())
        }
        Err(e) => {
            reap::kernel_refused();
            reaper::work_done();
            c.flags.fetch_and(!flags::POLL, Ordering::SeqCst);
            if reap::fatal(e) {
                context::kernel_broken();
            }
            thread(cb)
        }
    }
}

/// The kernel says `cb`'s descriptor is ready (or its poll failed with
/// `res < 0`): transfer, or wait again. Ordinary thread context only.
///
/// # Safety
/// `cb` is a polling request whose poll event was just reaped.
pub unsafe fn ready(cb: *mut AioCb, res: i64) {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    c.flags.fetch_and(!flags::POLL, Ordering::SeqCst);
    reaper::work_done();
    let op = submit::Op::recorded(c);
    if !submit::same_file(c) {
        // SAFETY: completed exactly once, here.
        unsafe { complete::finish(cb, op, -(libc::EBADF as i64)) };
        return;
    }
    let attempt = if res < 0 {
        Attempt::Unsupported
    } else {
        try_once(c, op)
    };
    match attempt {
        // SAFETY: completed exactly once, here.
        Attempt::Done(r) => unsafe { complete::finish(cb, op, r) },
        Attempt::WouldBlock if nonblocking(c) => {
            let got = c.progress.load(Ordering::Relaxed);
            let res = if got > 0 {
                got as i64
            } else {
                -(libc::EAGAIN as i64)
            };
            // SAFETY: completed exactly once, here.
            unsafe { complete::finish(cb, op, res) };
        }
        // SAFETY: still ours.
        Attempt::WouldBlock => {
            let _ = unsafe { wait_ready(cb, op, false) };
        }
        // SAFETY: still ours.
        Attempt::Unsupported => unsafe { dedicated::start_or_fail(cb, op) },
    }
}
