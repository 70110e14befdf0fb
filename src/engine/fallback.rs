//! Requests the kernel cannot take asynchronously (pipes, sockets, ttys, or
//! every request when no kernel context could be had) run on a kaio thread
//! that does the blocking system call, like glibc's workers but one thread
//! per request so that no request waits behind another on the same fd.

use core::sync::atomic::Ordering;

use super::complete::{self, Mode};
use super::stats::{self, STATS};
use super::submit::{self, Op};
use super::{fdtable, reap};
use crate::abi::{AioCb, flags};
use crate::sys;

struct Task(*mut AioCb, Op);
// SAFETY: the aiocb is handed to the thread, its only user until completion.
unsafe impl Send for Task {}

/// Run `cb` on a new kaio thread.
///
/// # Safety
/// `cb` is prepared and valid until completion.
pub unsafe fn start(cb: *mut AioCb, op: Op) {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    c.flags
        .fetch_or(flags::THREAD | flags::FD_COUNTED, Ordering::Relaxed);
    if op == Op::Write {
        c.flags.fetch_or(flags::WRITE, Ordering::Relaxed);
        c.parity
            .store(super::barrier::write_begin(), Ordering::Relaxed);
    }
    fdtable::inc(c.aio_fildes);
    let task = Task(cb, op);
    // All signals blocked in the new thread (it inherits this mask).
    // SAFETY: sigset operations on local, initialised sets.
    let mut all: libc::sigset_t = unsafe { core::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { core::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    let spawned = std::thread::Builder::new()
        .name("kaio-io".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let task = task;
            // SAFETY: this thread owns the request until it completes it.
            unsafe { run(task.0, task.1) }
        });
    // SAFETY: restoring the caller's own mask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut()) };
    match spawned {
        Ok(_) => stats::bump(&STATS.thread),
        // No thread could be made: the request fails with EAGAIN, as POSIX
        // allows ("resources unavailable").
        // SAFETY: the thread never started, so the request is still ours.
        Err(_) => unsafe { submit::fail(cb, libc::EAGAIN) },
    }
}

/// # Safety
/// `cb` is owned by this thread until completion.
unsafe fn run(cb: *mut AioCb, op: Op) {
    // SAFETY: caller's contract; the aiocb is not modified while in progress.
    let (fd, buf, len, off) = unsafe {
        (
            (*cb).aio_fildes,
            (*cb).aio_buf as *mut u8,
            (*cb).aio_nbytes,
            (*cb).aio_offset,
        )
    };
    let res = loop {
        // SAFETY: the caller promised `buf` is valid for `len` bytes for the
        // life of the request (the kernel checks it and returns EFAULT).
        let r = unsafe {
            match op {
                Op::Read => match sys::pread(fd, buf, len, off) {
                    Err(libc::ESPIPE) => sys::read(fd, buf, len),
                    r => r,
                },
                Op::Write => match sys::pwrite(fd, buf, len, off) {
                    Err(libc::ESPIPE) => sys::write(fd, buf, len),
                    r => r,
                },
                Op::Fsync { data_only } => sys::fsync(fd, data_only),
            }
        };
        match r {
            Err(libc::EINTR) => continue,
            Ok(n) => break n as i64,
            Err(e) => break -(e as i64),
        }
    };
    // SAFETY: completed exactly once, here.
    unsafe { complete::complete(cb, res, Mode::Normal) };
    reap::kick_leader();
}
