//! A small bounded pool of kaio threads for I/O the kernel would only do by
//! blocking: buffered file I/O that missed the page cache (RWF_NOWAIT said
//! EAGAIN), fsync where the kernel has no asynchronous fsync, and everything
//! on regular files when no kernel context could be had. This is the
//! Solaris "kaio" model: the kernel path first, threads only for what would
//! block. At most `KAIO_THREADS` threads, created on demand; idle ones exit
//! after a few seconds; every signal blocked in them.

use super::fork_lazy::ForkLazy;
use core::sync::atomic::{AtomicU32, Ordering};

use crossbeam_queue::SegQueue;

use super::complete;
use super::stats::{self, STATS};
use super::submit::Op;
use super::{config, iov, threads};
use crate::abi::AioCb;
use crate::sys;

struct Task(usize, Op);

static QUEUE: ForkLazy<SegQueue<Task>> = ForkLazy::new();
static WORKERS: AtomicU32 = AtomicU32::new(0);
static IDLE: AtomicU32 = AtomicU32::new(0);
/// Futex word idle workers sleep on; bumped when work is queued.
static WORK_SEQ: AtomicU32 = AtomicU32::new(0);

const IDLE_EXIT: libc::timespec = libc::timespec {
    tv_sec: 3,
    tv_nsec: 0,
};

/// Queue `cb` for a pool thread.
///
/// # Safety
/// `cb` is prepared (in progress) and owned by kaio until completed.
pub unsafe fn submit(cb: *mut AioCb, op: Op) {
    let q = QUEUE.get_or_init(SegQueue::new);
    stats::bump(&STATS.thread);
    q.push(Task(cb as usize, op));
    WORK_SEQ.fetch_add(1, Ordering::SeqCst);
    if IDLE.load(Ordering::SeqCst) > 0 {
        let _ = sys::futex_wake(&WORK_SEQ, 1);
        return;
    }
    let max = config::get().threads;
    let mut n = WORKERS.load(Ordering::SeqCst);
    while n < max {
        match WORKERS.compare_exchange(n, n + 1, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => {
                if !spawn() {
                    WORKERS.fetch_sub(1, Ordering::SeqCst);
                }
                return;
            }
            Err(cur) => n = cur,
        }
    }
}

fn spawn() -> bool {
    threads::spawn("kaio-pool", 128 * 1024, worker).is_ok()
}

fn worker() {
    let Some(q) = QUEUE.get() else { return };
    loop {
        while let Some(Task(cb, op)) = q.pop() {
            // SAFETY: the task owns the request until it completes it.
            unsafe { run(cb as *mut AioCb, op) };
        }
        let seq = WORK_SEQ.load(Ordering::SeqCst);
        if !q.is_empty() {
            continue;
        }
        IDLE.fetch_add(1, Ordering::SeqCst);
        let deadline = deadline_in(&IDLE_EXIT);
        let r = sys::futex_wait(&WORK_SEQ, seq, Some(&deadline));
        IDLE.fetch_sub(1, Ordering::SeqCst);
        if r == Err(libc::ETIMEDOUT) && q.is_empty() {
            WORKERS.fetch_sub(1, Ordering::SeqCst);
            if q.is_empty() {
                return;
            }
            // Work arrived as we were leaving: stay, if the pool has room
            // (otherwise a worker that made it full will take it).
            if WORKERS.fetch_add(1, Ordering::SeqCst) >= config::get().threads {
                WORKERS.fetch_sub(1, Ordering::SeqCst);
                return;
            }
        }
    }
}

fn deadline_in(rel: &libc::timespec) -> libc::timespec {
    let now = sys::monotonic_now();
    libc::timespec {
        tv_sec: now.tv_sec + rel.tv_sec,
        tv_nsec: now.tv_nsec,
    }
}

/// Do the blocking I/O of `cb`, from where earlier attempts left off.
///
/// # Safety
/// `cb` is owned by the calling thread until it is completed here.
pub unsafe fn run(cb: *mut AioCb, op: Op) {
    // SAFETY: caller's contract; the aiocb is not modified while in progress.
    let res = blocking_io(unsafe { &*cb }, op);
    // SAFETY: forwarded: completed exactly once, here.
    unsafe { complete::finish(cb, op, res) };
}

/// The blocking system call(s) for a request; `-errno` on error.
pub fn blocking_io(c: &AioCb, op: Op) -> i64 {
    let fd = c.aio_fildes;
    if let Op::Fsync { data_only } = op {
        loop {
            match sys::fsync(fd, data_only) {
                Err(libc::EINTR) => continue,
                Ok(_) => return 0,
                Err(e) => return -(e as i64),
            }
        }
    }
    let len = iov::total(c, op);
    let mut done = c.progress.load(Ordering::Relaxed).min(len);
    let mut seekable = true;
    loop {
        let iovs = iov::rest(c, op, done);
        let at = if seekable {
            c.aio_offset.saturating_add(done as i64)
        } else {
            -1
        };
        // SAFETY: the caller promised the buffers valid for the life of the
        // request (the kernel checks them: EFAULT).
        let r = unsafe {
            if op.is_read() {
                sys::preadv2(fd, iovs.as_slice(), at, 0)
            } else {
                sys::pwritev2(fd, iovs.as_slice(), at, 0)
            }
        };
        match r {
            Err(libc::EINTR) => continue,
            // Not seekable (a pipe or socket without a kernel context):
            // read(2)/write(2) semantics, as glibc falls back to them.
            Err(libc::ESPIPE) if seekable => seekable = false,
            // A regular file: a short read means end of file; a short
            // write continues (write(2) on a blocking fd would).
            Ok(n) if op.is_write() && n > 0 && done + n < len => done += n,
            Ok(n) => return (done + n) as i64,
            // Some bytes moved before the error: report them, as write(2).
            Err(_) if done > 0 => return done as i64,
            Err(e) => return -(e as i64),
        }
    }
}

/// In a `fork()` child: no pool thread exists there.
pub fn reset_after_fork() {
    QUEUE.forget_after_fork();
    WORKERS.store(0, Ordering::Relaxed);
    IDLE.store(0, Ordering::Relaxed);
}
