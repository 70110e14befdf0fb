//! A bounded pool of kaio threads for I/O the kernel would only do by
//! blocking: buffered file I/O that missed the page cache (RWF_NOWAIT said
//! EAGAIN), fsync where the kernel has no asynchronous fsync, and everything
//! on regular files when no kernel context could be had. This is the
//! Solaris "kaio" model: the kernel path first, threads only for what would
//! block. At most `KAIO_THREADS` threads, created on demand; idle ones exit
//! after a few seconds; every signal blocked in them.
//!
//! Fairness between files: at most [`READS_PER_FILE`] reads and one write
//! (or fsync) of one file run at once, so a file that blocks for seconds (a
//! hung NFS or FUSE server, a buffer whose pages arrive late) holds a few
//! threads, never the whole pool, and writes to one file do not contend for
//! its inode lock (glibc runs one request per descriptor at a time).
//!
//! The queue is a FIFO linked through the aiocbs (`AioCb::link`) under a
//! lock: no memory per request. A request is accepted only if a thread can
//! serve it: when none exists and none can be created, `submit` says EAGAIN.

use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use super::complete;
use super::lock::Locked;
use super::stats::{self, STATS};
use super::submit::Op;
use super::{config, iov, threads};
use crate::abi::AioCb;
use crate::sys::{self, Errno};

/// Reads of one file that may run at once.
pub const READS_PER_FILE: u16 = 4;

#[derive(Clone, Copy)]
struct Running {
    key: u64,
    reads: u16,
    writes: u16,
}

struct Pool {
    head: *mut AioCb,
    tail: *mut AioCb,
    workers: u32,
    idle: u32,
    /// Files with requests running (one entry per file; at most `workers`).
    running: Vec<Running>,
}

// SAFETY: the raw pointers are only touched under the lock.
unsafe impl Send for Pool {}

static POOL: Locked<Pool> = Locked::new(Pool {
    head: ptr::null_mut(),
    tail: ptr::null_mut(),
    workers: 0,
    idle: 0,
    running: Vec::new(),
});
/// Futex word idle workers sleep on; bumped when work may be runnable.
static WORK_SEQ: AtomicU32 = AtomicU32::new(0);

const IDLE_EXIT: libc::timespec = libc::timespec {
    tv_sec: 3,
    tv_nsec: 0,
};

/// The pool's key of a request's file (0 if unknown: shares one key).
fn key_of(c: &AioCb) -> u64 {
    c.file_ino.load(Ordering::Relaxed) ^ (u64::from(c.file_dev.load(Ordering::Relaxed)) << 40)
}

fn is_write(c: &AioCb) -> bool {
    !Op::recorded(c).is_read()
}

impl Pool {
    fn allowed(&self, c: &AioCb) -> bool {
        let key = key_of(c);
        match self.running.iter().find(|r| r.key == key) {
            None => true,
            Some(r) if is_write(c) => r.writes == 0,
            Some(r) => r.reads < READS_PER_FILE,
        }
    }

    /// Count `c` as running (within the capacity reserved at submission:
    /// one entry per worker at most); `false` if it cannot be tracked.
    fn start(&mut self, c: &AioCb) -> bool {
        let key = key_of(c);
        let w = is_write(c);
        if let Some(r) = self.running.iter_mut().find(|r| r.key == key) {
            if w {
                r.writes += 1;
            } else {
                r.reads += 1;
            }
            return true;
        }
        if self.running.len() == self.running.capacity() {
            return false;
        }
        self.running.push(Running {
            key,
            reads: u16::from(!w),
            writes: u16::from(w),
        });
        true
    }

    fn stop(&mut self, key: u64, write: bool) {
        if let Some(i) = self.running.iter().position(|r| r.key == key) {
            let r = &mut self.running[i];
            if write {
                r.writes = r.writes.saturating_sub(1);
            } else {
                r.reads = r.reads.saturating_sub(1);
            }
            if r.reads == 0 && r.writes == 0 {
                self.running.swap_remove(i);
            }
        }
    }

    fn push(&mut self, cb: *mut AioCb) {
        // SAFETY: a queued request is ours; its link field is kaio's.
        unsafe { (*cb).link.store(ptr::null_mut(), Ordering::Relaxed) };
        if self.tail.is_null() {
            self.head = cb;
        } else {
            // SAFETY: the tail is a queued request.
            unsafe { (*self.tail).link.store(cb, Ordering::Relaxed) };
        }
        self.tail = cb;
    }

    /// Unlink `cb` (following `prev`, or the head if null).
    fn unlink(&mut self, prev: *mut AioCb, cb: *mut AioCb) {
        // SAFETY: `cb` (and `prev`) are queued requests.
        let next = unsafe { (*cb).link.load(Ordering::Relaxed) };
        if prev.is_null() {
            self.head = next;
        } else {
            // SAFETY: as above.
            unsafe { (*prev).link.store(next, Ordering::Relaxed) };
        }
        if self.tail == cb {
            self.tail = prev;
        }
    }

    /// The oldest queued request that may run now, taken off the queue.
    fn take_runnable(&mut self) -> Option<*mut AioCb> {
        let mut prev: *mut AioCb = ptr::null_mut();
        let mut cur = self.head;
        while !cur.is_null() {
            // SAFETY: queued requests are valid until completed.
            let c = unsafe { &*cur };
            if self.allowed(c) && self.start(c) {
                self.unlink(prev, cur);
                return Some(cur);
            }
            prev = cur;
            cur = c.link.load(Ordering::Relaxed);
        }
        None
    }

    fn remove(&mut self, cb: *mut AioCb) -> bool {
        let mut prev: *mut AioCb = ptr::null_mut();
        let mut cur = self.head;
        while !cur.is_null() {
            if cur == cb {
                self.unlink(prev, cur);
                return true;
            }
            prev = cur;
            // SAFETY: queued requests are valid.
            cur = unsafe { (*cur).link.load(Ordering::Relaxed) };
        }
        false
    }
}

/// Queue `cb` for a pool thread. EAGAIN (and `cb` not queued) if no
/// thread exists and none can be created.
///
/// # Safety
/// `cb` is prepared (in progress) and owned by kaio until completed.
pub unsafe fn submit(cb: *mut AioCb) -> Result<(), Errno> {
    let max = config::get().threads;
    let spawn_one = POOL.with(|p| {
        // Room to track one running file per worker, reserved once, so
        // that starting a request never needs memory.
        let want = max as usize;
        if p.running.capacity() < want
            && (crate::sys::fault::hit(crate::sys::fault::Point::Alloc).is_some()
                || p.running.try_reserve_exact(want - p.running.len()).is_err())
        {
            return None;
        }
        p.push(cb);
        if p.idle > 0 {
            return Some(false);
        }
        if p.workers < max {
            p.workers += 1;
            return Some(true);
        }
        Some(false)
    });
    let Some(spawn_one) = spawn_one else {
        return Err(libc::EAGAIN);
    };
    WORK_SEQ.fetch_add(1, Ordering::SeqCst);
    let _ = sys::futex_wake(&WORK_SEQ, 1);
    if spawn_one && threads::spawn(c"kaio-pool", 128 * 1024, worker).is_err() {
        let stranded = POOL.with(|p| {
            p.workers -= 1;
            p.workers == 0 && p.remove(cb)
        });
        if stranded {
            return Err(libc::EAGAIN);
        }
    }
    stats::bump(&STATS.thread);
    Ok(())
}

/// Queue `cb`, or, if no thread can serve it, do its blocking I/O here and
/// now (a request already accepted must complete).
///
/// # Safety
/// As for [`submit`]; ordinary context.
pub unsafe fn submit_or_run(cb: *mut AioCb) {
    // SAFETY: forwarded.
    if unsafe { submit(cb) }.is_err() {
        stats::bump(&STATS.thread);
        // SAFETY: not queued: ours to run.
        unsafe { run(cb) };
    }
}

fn worker() {
    loop {
        let seq = WORK_SEQ.load(Ordering::SeqCst);
        if let Some(cb) = POOL.with(|p| p.take_runnable()) {
            // SAFETY: taken off the queue: this thread owns the request.
            let (key, write) = unsafe { (key_of(&*cb), is_write(&*cb)) };
            // SAFETY: as above: completed exactly once, here.
            unsafe { run(cb) };
            let more = POOL.with(|p| {
                p.stop(key, write);
                !p.head.is_null() && p.idle > 0
            });
            if more {
                // What this request held back may run on another thread.
                WORK_SEQ.fetch_add(1, Ordering::SeqCst);
                let _ = sys::futex_wake(&WORK_SEQ, 1);
            }
            continue;
        }
        POOL.with(|p| p.idle += 1);
        let deadline = deadline_in(&IDLE_EXIT);
        let r = sys::futex_wait(&WORK_SEQ, seq, Some(&deadline));
        let leave = POOL.with(|p| {
            p.idle -= 1;
            if r == Err(libc::ETIMEDOUT) && p.head.is_null() {
                p.workers -= 1;
                true
            } else {
                false
            }
        });
        if leave {
            return;
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
pub unsafe fn run(cb: *mut AioCb) {
    // SAFETY: caller's contract; the aiocb is not modified while in progress.
    let c = unsafe { &*cb };
    let op = Op::recorded(c);
    let res = if super::submit::same_file(c) {
        blocking_io(c, op)
    } else {
        // The program closed the descriptor and the number names another
        // file now: never read or write it (POSIX lets close cancel).
        -(libc::EBADF as i64)
    };
    // SAFETY: forwarded: completed exactly once, here.
    unsafe { complete::finish(cb, op, res) };
}

/// The blocking system call(s) for a request; `-errno` on error.
pub fn blocking_io(c: &AioCb, op: Op) -> i64 {
    let fd = super::submit::io_fd(c);
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
    POOL.reset_after_fork(Pool {
        head: ptr::null_mut(),
        tail: ptr::null_mut(),
        workers: 0,
        idle: 0,
        running: Vec::new(),
    });
}
