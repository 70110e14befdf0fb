//! Accepting a request: validate, mark it in progress, and route it — to the
//! kernel (regular files and block devices), to a kaio thread (anything
//! else, or no kernel context), or straight to completion with an error.
//!
//! A request that cannot be given what it needs (a thread, the reaper,
//! memory) is refused with -1/EAGAIN, as POSIX allows, before it is in
//! progress; a request once accepted always completes.
//!
//! The descriptor number is only trusted while the caller is inside
//! `aio_read` & co.: a request that runs later is bound to the open file it
//! was submitted on — a stream by a duplicate descriptor kaio holds, a
//! regular file by its identity (device, inode), checked before the late
//! I/O (a duplicate of a regular file would drop the program's `fcntl`
//! locks when kaio closed it). The kernel path needs neither: `io_submit`
//! takes its own reference.

use core::sync::atomic::{AtomicU32, Ordering};

use super::classify::{self, FdKind};
use super::complete::{self, Mode};
use super::notify::Notify;
use super::stats::{self, STATS};
use super::stream::{self, Attempt};
use super::verbose::{self, Reason};
use super::{
    barrier, context, dedicated, done, fdtable, iov, lane, overflow, pool, reap, reaper, slots,
};
use crate::abi::{AIO_PRIO_DELTA_MAX, AioCb, flags};
use crate::sys::{
    self, Errno, FileId, IOCB_CMD_FDSYNC, IOCB_CMD_FSYNC, IOCB_CMD_PREAD, IOCB_CMD_PREADV,
    IOCB_CMD_PWRITE, IOCB_CMD_PWRITEV, Iocb,
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

/// A per-process number mixed into each in-flight aiocb's stamp; a new one
/// in every `fork()` child (whose copies of the parent's aiocbs in flight
/// are not in flight there).
static EPOCH: AtomicU32 = AtomicU32::new(0);

fn epoch() -> u32 {
    let e = EPOCH.load(Ordering::Relaxed);
    if e != 0 {
        return e;
    }
    let t = sys::monotonic_now();
    let fresh = ((t.tv_nsec as u32) ^ (sys::getpid() as u32).rotate_left(16)) | 1;
    match EPOCH.compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => fresh,
        Err(cur) => cur,
    }
}

/// In a `fork()` child: a new epoch.
pub fn reset_after_fork() {
    EPOCH.store(0, Ordering::Relaxed);
}

/// The stamp an in-flight aiocb at `cb` carries in its flags' high bits.
fn stamp(cb: *const AioCb) -> u32 {
    let x = (cb as u64 ^ u64::from(epoch())).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((x >> 40) as u32) << flags::STAMP_SHIFT
}

/// Whether `c` is a request kaio has in flight (so submitting it again
/// would corrupt kaio's bookkeeping): in progress, counted, and stamped
/// for its address in this process.
fn in_flight(cb: *const AioCb, c: &AioCb) -> bool {
    let f = c.flags.load(Ordering::Acquire);
    c.error_code.load(Ordering::Acquire) == libc::EINPROGRESS
        && f & flags::FD_COUNTED != 0
        && f & !flags::LOW_MASK == stamp(cb)
}

/// Check a request's arguments and mark it in progress. Errors are returned
/// to the caller of `aio_read` & co. as -1/errno (glibc also stores EINVAL
/// in the aiocb for a bad `aio_reqprio`; so do we). An aiocb already in
/// flight is refused with EINVAL and left alone: the misuse stays with it.
///
/// # Safety
/// `cb` must be valid for reads and writes.
pub unsafe fn prepare(cb: *mut AioCb, op: Op) -> Result<(), Errno> {
    // SAFETY: caller's contract.
    let c = unsafe { &mut *cb };
    if in_flight(cb, c) {
        stats::bump(&STATS.refused);
        return Err(libc::EINVAL);
    }
    // As glibc: a sync request has no priority (it is set to 0, unchecked).
    if matches!(op, Op::Fsync { .. }) {
        c.aio_reqprio = 0;
    }
    let notify = if !(0..=AIO_PRIO_DELTA_MAX).contains(&c.aio_reqprio) {
        Err(libc::EINVAL)
    } else {
        Notify::from_sigevent(&c.aio_sigevent)
    };
    // A notification must come even if nobody calls kaio: the reaper.
    let notify = notify.and_then(|n| {
        if !n.is_none() {
            reaper::work_begin_ensured()?;
        }
        Ok(n)
    });
    let notify = match notify {
        Ok(n) => n,
        Err(e) => {
            c.return_value.store(-1, Ordering::Relaxed);
            c.error_code.store(e, Ordering::Release);
            if e == libc::EAGAIN {
                stats::bump(&STATS.refused);
            }
            return Err(e);
        }
    };
    super::fork::register();
    c.aio_lio_opcode = op.recorded_opcode();
    c.group.store(core::ptr::null_mut(), Ordering::Relaxed);
    c.link.store(core::ptr::null_mut(), Ordering::Relaxed);
    c.progress.store(0, Ordering::Relaxed);
    c.file_ino.store(0, Ordering::Relaxed);
    c.file_dev.store(0, Ordering::Relaxed);
    let mut f = stamp(cb);
    if !notify.is_none() {
        f |= flags::NOTIFY;
    }
    if done::enrolling() {
        f |= flags::ENROLLED;
        c.generation.store(done::enrolled(), Ordering::Relaxed);
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

/// Undo [`prepare`] for a request that cannot be served after all (no
/// thread, no memory): it never was in progress, and the caller gets
/// -1/`e` (EAGAIN). Nothing else may hold the request.
///
/// # Safety
/// `cb` is prepared and not handed to anyone.
pub unsafe fn refuse(cb: *mut AioCb, e: Errno) -> Errno {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    let f = c.flags.load(Ordering::Relaxed);
    if f & flags::BOUND != 0 {
        sys::close(c.bound_fd.load(Ordering::Relaxed));
    }
    if f & flags::FD_COUNTED != 0 {
        fdtable::dec(c.aio_fildes);
    }
    if f & flags::NOTIFY != 0 {
        reaper::work_done();
    }
    if f & flags::ENROLLED != 0 {
        done::unenrolled();
    }
    if f & flags::WRITE != 0 {
        barrier::write_done(c.parity.load(Ordering::Relaxed), Mode::Normal);
    }
    c.flags
        .store(f & flags::LOW_MASK & !flags::FD_COUNTED, Ordering::Relaxed);
    c.return_value.store(-1, Ordering::Relaxed);
    c.error_code.store(e, Ordering::Release);
    stats::bump(&STATS.refused);
    STATS.submitted.fetch_sub(1, Ordering::Relaxed);
    e
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

/// Complete an accepted request with an error from an ordinary context
/// (its lane, if any, moves on).
///
/// # Safety
/// `cb` is ours and held by no queue.
pub unsafe fn fail_later(cb: *mut AioCb, e: Errno) {
    // SAFETY: caller's contract.
    let op = Op::recorded(unsafe { &*cb });
    // SAFETY: forwarded.
    unsafe { complete::finish(cb, op, -(e as i64)) };
}

/// Record the identity of the file a request was accepted on.
pub fn identify(c: &AioCb, id: &FileId) {
    c.file_ino.store(id.ino, Ordering::Relaxed);
    c.file_dev.store(fold_dev(id.dev), Ordering::Relaxed);
    c.flags.fetch_or(flags::IDENTIFIED, Ordering::Relaxed);
}

fn fold_dev(dev: u64) -> u32 {
    (dev ^ (dev >> 32)) as u32
}

/// The descriptor kaio uses for `c`'s I/O: its own duplicate if it holds
/// one, else the caller's number.
pub fn io_fd(c: &AioCb) -> i32 {
    if c.flags.load(Ordering::Relaxed) & flags::BOUND != 0 {
        c.bound_fd.load(Ordering::Relaxed)
    } else {
        c.aio_fildes
    }
}

/// Whether the descriptor kaio would use for `c` still names the file the
/// request was accepted on (true if no identity was recorded).
pub fn same_file(c: &AioCb) -> bool {
    if c.flags.load(Ordering::Relaxed) & flags::IDENTIFIED == 0 {
        return true;
    }
    sys::fstat_id(io_fd(c)).is_ok_and(|id| {
        id.ino == c.file_ino.load(Ordering::Relaxed)
            && fold_dev(id.dev) == c.file_dev.load(Ordering::Relaxed)
    })
}

/// Bind a stream request to its open file with a duplicate descriptor kaio
/// keeps (at a high number) until the request completes. Without a free
/// descriptor it stays unbound (identity-checked before each transfer).
pub fn bind(c: &AioCb) {
    if c.flags.load(Ordering::Relaxed) & flags::BOUND != 0 {
        return;
    }
    if let Ok(fd) = sys::dup_at_least(c.aio_fildes, context::high_fd_base()) {
        c.bound_fd.store(fd, Ordering::Relaxed);
        c.flags.fetch_or(flags::BOUND, Ordering::SeqCst);
    }
}

/// Bookkeeping of a write that leaves the caller's thread: a file write
/// enters the fsync barrier of its file's bucket.
///
/// # Safety
/// `cb` is prepared and owned by kaio.
pub unsafe fn track(cb: *mut AioCb, op: Op) {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    let f = c.flags.load(Ordering::Relaxed);
    if op.is_write() && f & (flags::STREAM | flags::WRITE) == 0 {
        let b = barrier::bucket_of(
            u64::from(c.file_dev.load(Ordering::Relaxed)),
            c.file_ino.load(Ordering::Relaxed),
        );
        c.parity.store(barrier::write_begin(b), Ordering::Relaxed);
        c.flags.fetch_or(flags::WRITE, Ordering::SeqCst);
    }
}

/// The barrier bucket of a request's (identified) file.
pub fn bucket(c: &AioCb) -> usize {
    barrier::bucket_of(
        u64::from(c.file_dev.load(Ordering::Relaxed)),
        c.file_ino.load(Ordering::Relaxed),
    )
}

/// The kernel's view of a read, write or fsync.
pub fn fill_iocb(cb: *mut AioCb, op: Op) -> Iocb {
    // SAFETY: kaio owns the request while in progress.
    let c = unsafe { &*cb };
    let mut iocb = Iocb {
        aio_data: cb as u64,
        aio_lio_opcode: op.kernel_opcode(),
        aio_fildes: io_fd(c) as u32,
        ..Iocb::default()
    };
    // An fsync carries no buffer: the kernel refuses one with EINVAL (and
    // an aiocb reused from a write still has its buffer fields set).
    if !matches!(op, Op::Fsync { .. }) {
        iocb.aio_buf = c.aio_buf as u64;
        iocb.aio_nbytes = c.aio_nbytes as u64;
        iocb.aio_offset = c.aio_offset;
    }
    iocb
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

/// Where a request that the kernel will not take goes: a stream to a
/// thread of its own, a file to the pool. From an ordinary context, for a
/// request accepted earlier (it completes whatever happens).
///
/// # Safety
/// `cb` is ours and held by no queue.
pub unsafe fn to_thread(cb: *mut AioCb, op: Op) {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    if c.flags.fetch_and(!flags::POLL, Ordering::SeqCst) & flags::POLL != 0 {
        // It was waiting for readiness: that reaper work ends here.
        reaper::work_done();
    }
    if c.flags.load(Ordering::Relaxed) & flags::STREAM != 0 {
        // SAFETY: forwarded.
        unsafe { dedicated::start_or_fail(cb, op) };
    } else {
        // SAFETY: forwarded.
        unsafe { track(cb, op) };
        // SAFETY: forwarded.
        unsafe { pool::submit_or_run(cb) };
    }
}

/// The kernel refused `cb` (prepared with [`kernel_iocb`]) with `e`: queue
/// it if the ring was full, hand it to a thread if the kernel cannot do it,
/// or fail it. `Err(EAGAIN)` (only `at_submit`, the caller then refuses the
/// request) if a thread was needed and none could be had.
///
/// # Safety
/// `cb` was refused by io_submit, so it is still ours.
pub unsafe fn kernel_refused(
    cb: *mut AioCb,
    op: Op,
    e: Errno,
    at_submit: bool,
) -> Result<(), Errno> {
    reap::kernel_refused();
    // SAFETY: forwarded.
    unsafe { route_refused(cb, op, e, at_submit) }
}

/// [`kernel_refused`] for a request no longer counted in the kernel (a
/// batch uncounts all its refused members first, so that none of them
/// takes its siblings for requests in flight).
///
/// # Safety
/// As for [`kernel_refused`].
pub unsafe fn route_refused(
    cb: *mut AioCb,
    op: Op,
    e: Errno,
    at_submit: bool,
) -> Result<(), Errno> {
    let fsync = matches!(op, Op::Fsync { .. });
    let to_threads = match e {
        // SAFETY: forwarded (the ring is full; completions will flush it).
        libc::EAGAIN if reap::kernel_in_flight() > 0 => {
            unsafe { overflow::push(cb) };
            return Ok(());
        }
        // A full ring with nothing of ours in flight: a pool thread does it.
        libc::EAGAIN => true,
        libc::EINVAL if fsync => {
            // SAFETY: still ours.
            verbose::say(Reason::NoKernelFsync, unsafe { (*cb).aio_fildes });
            true
        }
        e if reap::fatal(e) => {
            // A seccomp profile or a kernel without AIO: never again.
            context::kernel_broken();
            verbose::say(Reason::NoContext(e), -1);
            true
        }
        _ => false,
    };
    if !to_threads {
        // SAFETY: forwarded; `complete` undoes the bookkeeping.
        unsafe { fail(cb, e) };
        return Ok(());
    }
    // SAFETY: still ours.
    unsafe { (*cb).flags.fetch_and(!flags::KERNEL, Ordering::SeqCst) };
    if at_submit {
        // The barrier already counts this write (kernel_iocb tracked it).
        // SAFETY: forwarded.
        return unsafe { pool::submit(cb) };
    }
    // SAFETY: forwarded.
    unsafe { pool::submit_or_run(cb) };
    Ok(())
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

/// Whether a copy to or from the request's buffers can run in the caller's
/// thread without waiting for a page fault (a buffer backed by
/// userfaultfd or swapped out would block `aio_read` itself, for as long as
/// the fault takes — forever if this thread is the one that resolves it).
fn buffers_resident(c: &AioCb, op: Op) -> bool {
    let done = c.progress.load(Ordering::Relaxed);
    iov::rest(c, op, done)
        .as_slice()
        .iter()
        .all(|v| sys::resident(v.iov_base as usize, v.iov_len))
}

/// Submit one read or write (`aio_read`, `aio_write`, and their vectored
/// forms), on the path its descriptor needs. Err: refused (-1/errno for
/// the caller), the request is not in progress.
///
/// # Safety
/// `cb` is valid until completion.
pub unsafe fn read_write(cb: *mut AioCb, op: Op) -> Result<(), Errno> {
    // SAFETY: forwarded.
    unsafe { prepare(cb, op)? };
    // SAFETY: prepared.
    unsafe { start(cb, op) }
}

/// Route a prepared read or write. Err: refused (see [`refuse`]).
///
/// # Safety
/// `cb` is prepared (in progress) and valid until completion.
pub unsafe fn start(cb: *mut AioCb, op: Op) -> Result<(), Errno> {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    if let Err(e) = validate(c, op) {
        // SAFETY: forwarded.
        unsafe { fail(cb, e) };
        return Ok(());
    }
    // Nothing to transfer: the plain calls' answer (pread of a directory is
    // EISDIR, where preadv2 of nothing returns 0 without looking).
    if c.aio_nbytes == 0 && !op.is_vectored() && !is_stream(c.aio_fildes) {
        let r = sys::zero_length_io(c.aio_fildes, op.is_write(), c.aio_offset);
        // SAFETY: completed exactly once, here.
        unsafe { complete::inline(cb, r.map_or_else(|e| -(e as i64), |n| n as i64)) };
        return Ok(());
    }
    let fl = match classify::status_flags(c.aio_fildes) {
        Ok(fl) => fl,
        Err(e) => {
            // SAFETY: forwarded.
            unsafe { fail(cb, e) };
            return Ok(());
        }
    };
    // O_DIRECT goes to the kernel, which pins the pages itself: no check.
    let resident = fl & libc::O_DIRECT == 0 && buffers_resident(c, op);
    // The common buffered case needs no fstat: try the page cache at the
    // request's offset; a pipe or socket answers ESPIPE.
    if fl & (libc::O_DIRECT | libc::O_APPEND) == 0 && resident {
        match stream::try_once(c, op) {
            Attempt::Done(res) if res != -(libc::ESPIPE as i64) => {
                // SAFETY: completed exactly once, here.
                unsafe { complete::inline(cb, res) };
                return Ok(());
            }
            // Not ready, partial, unsupported, or not seekable: decide by type.
            _ => {}
        }
    }
    let (kind, id) = match classify::kind(c.aio_fildes, fl) {
        Ok(k) => k,
        Err(e) => {
            // SAFETY: forwarded.
            unsafe { fail(cb, e) };
            return Ok(());
        }
    };
    identify(c, &id);
    let r = match kind {
        // SAFETY: forwarded.
        FdKind::Direct => unsafe { kernel(cb, op, true) },
        FdKind::Buffered { append: true } if op.is_write() => {
            // SAFETY: forwarded.
            unsafe { via_lane(cb, op, resident) }
        }
        // The non-blocking attempt above did not finish it.
        // SAFETY: forwarded.
        FdKind::Buffered { .. } => unsafe { to_pool(cb, op) },
        FdKind::Stream { socket } => {
            // A device that took the positioned attempt and gave part of a
            // read: that is what read(2) returns.
            let got = c.progress.load(Ordering::Relaxed);
            if op.is_read() && got > 0 {
                // SAFETY: completed exactly once, here.
                unsafe { complete::inline(cb, got as i64) };
                return Ok(());
            }
            // A stream may wait for readiness: the reaper must run.
            if let Err(e) = reaper::ensure() {
                // SAFETY: not handed to anyone yet.
                return Err(unsafe { refuse(cb, e) });
            }
            let mut f = flags::STREAM | if socket { flags::SOCKET } else { 0 };
            if id.kind() == 0 && sys::is_signalfd(c.aio_fildes) {
                f |= flags::NO_POLL;
            }
            c.flags.fetch_or(f, Ordering::Relaxed);
            // SAFETY: forwarded.
            unsafe { via_lane(cb, op, resident) }
        }
    };
    // SAFETY: refused before anyone else held it.
    r.map_err(|e| unsafe { refuse(cb, e) })
}

/// Hand a file request to the thread pool (EAGAIN: no thread can serve it).
///
/// # Safety
/// As for [`start`].
unsafe fn to_pool(cb: *mut AioCb, op: Op) -> Result<(), Errno> {
    // SAFETY: caller's contract.
    verbose::say(Reason::CacheMiss, unsafe { (*cb).aio_fildes });
    // SAFETY: forwarded.
    unsafe { track(cb, op) };
    // SAFETY: forwarded.
    unsafe { pool::submit(cb) }
}

/// Requests that must keep call order go through their descriptor's lane.
/// `inline_ok`: the caller's thread may copy its buffers (resident).
///
/// # Safety
/// As for [`start`].
unsafe fn via_lane(cb: *mut AioCb, op: Op, inline_ok: bool) -> Result<(), Errno> {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    let key = lane::Key::of(c, op);
    // A request that waits behind another runs later: bind it now.
    // SAFETY: caller's contract.
    let head = unsafe {
        lane::enter(key, cb, || {
            if c.flags.load(Ordering::Relaxed) & flags::STREAM != 0 {
                bind(c);
            }
        })
    }?;
    if !head {
        return Ok(());
    }
    // SAFETY: forwarded.
    match unsafe { start_head(cb, op, inline_ok, true) } {
        Ok(true) => lane::advance(key),
        Ok(false) => {}
        Err(e) => {
            // Refused: the lane moves on without it.
            lane::advance(key);
            return Err(e);
        }
    }
    Ok(())
}

/// Start a request that reached the head of its lane later (from an
/// ordinary context). Returns `true` if it completed synchronously (the
/// caller then advances the lane).
///
/// # Safety
/// `cb` is prepared and owned by kaio.
pub unsafe fn start_lane_head(cb: *mut AioCb) -> bool {
    // SAFETY: caller's contract.
    let op = Op::recorded(unsafe { &*cb });
    // SAFETY: forwarded; not at submission, so it cannot be refused.
    unsafe { start_head(cb, op, true, false) }.unwrap_or(true)
}

/// Start the head of a lane. `at_submit`: inside the submitting call (a
/// missing thread refuses the request); else it must complete somehow.
///
/// # Safety
/// `cb` is prepared and owned by kaio.
unsafe fn start_head(
    cb: *mut AioCb,
    op: Op,
    inline_ok: bool,
    at_submit: bool,
) -> Result<bool, Errno> {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    if c.flags.load(Ordering::Relaxed) & flags::STREAM != 0 {
        // SAFETY: forwarded.
        return unsafe { stream::start(cb, op, inline_ok, at_submit) };
    }
    // A buffered O_APPEND write: the page cache without blocking if it can
    // (no thread, no kernel context), else a pool thread.
    if !at_submit && !same_file(c) {
        // SAFETY: ours; completes once (the caller advances the lane).
        unsafe { complete::inline(cb, -(libc::EBADF as i64)) };
        return Ok(true);
    }
    match if inline_ok {
        stream::try_once(c, op)
    } else {
        Attempt::WouldBlock
    } {
        Attempt::Done(res) => {
            // SAFETY: completed exactly once, here.
            unsafe { complete::inline(cb, res) };
            Ok(true)
        }
        Attempt::WouldBlock | Attempt::Unsupported => {
            if at_submit {
                // SAFETY: forwarded.
                unsafe { to_pool(cb, op) }?;
            } else {
                // SAFETY: forwarded.
                unsafe { track(cb, op) };
                // SAFETY: forwarded.
                unsafe { pool::submit_or_run(cb) };
            }
            Ok(false)
        }
    }
}

/// An O_DIRECT request (or an fsync): to the kernel, asynchronously.
/// `at_submit`: Err(EAGAIN) if it needs a thread and none can be had.
///
/// # Safety
/// `cb` is prepared and owned by kaio.
pub unsafe fn kernel(cb: *mut AioCb, op: Op, at_submit: bool) -> Result<(), Errno> {
    let Some(ctx) = context::get_or_create() else {
        stats::bump(&STATS.no_context);
        // SAFETY: forwarded.
        unsafe { track(cb, op) };
        if at_submit {
            // SAFETY: forwarded.
            return unsafe { pool::submit(cb) };
        }
        // SAFETY: forwarded.
        unsafe { pool::submit_or_run(cb) };
        return Ok(());
    };
    // A notification of a kernel request may be reaped where it cannot be
    // sent (a signal handler): the reaper must run (prepare ensured it).
    let mut iocb = Iocb::default();
    // SAFETY: forwarded.
    unsafe { kernel_iocb(cb, op, &mut iocb) };
    stats::bump(&STATS.io_submit_calls);
    match slots::submit_one(ctx, iocb) {
        Ok(()) => {
            stats::bump(&STATS.kernel);
            // The request may already be complete: read nothing from `cb`.
            reaper::kick();
            Ok(())
        }
        // SAFETY: refused, still ours.
        Err(e) => unsafe { kernel_refused(cb, op, e, at_submit) },
    }
}

/// `aio_fsync` after the descriptor check: prepare, then submit now or
/// hold behind earlier writes to the file.
///
/// # Safety
/// `cb` is valid until completion.
pub unsafe fn fsync(cb: *mut AioCb, data_only: bool, id: &FileId) -> Result<(), Errno> {
    // SAFETY: forwarded.
    unsafe { prepare(cb, Op::Fsync { data_only })? };
    // SAFETY: prepared.
    unsafe { start_fsync(cb, id) }
}

/// Route a prepared fsync of the file `id`: submit it now or hold it behind
/// earlier writes to the file. Err: refused (see [`refuse`]).
///
/// # Safety
/// `cb` is a prepared fsync, valid until completion.
pub unsafe fn start_fsync(cb: *mut AioCb, id: &FileId) -> Result<(), Errno> {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    identify(c, id);
    let b = bucket(c);
    // A held fsync is released when its writes are reaped, maybe by a
    // signal-safe reaper that leaves the release to the reaper thread.
    if barrier::would_hold(b)
        && let Err(e) = reaper::ensure()
    {
        // SAFETY: not handed to anyone yet.
        return Err(unsafe { refuse(cb, e) });
    }
    // SAFETY: prepared.
    unsafe { barrier::fsync(cb, b) };
    Ok(())
}

/// Submit a prepared fsync whose earlier writes are complete.
///
/// # Safety
/// `cb` is a prepared fsync, not held.
pub unsafe fn fsync_now(cb: *mut AioCb) {
    // SAFETY: caller's contract.
    let c = unsafe { &*cb };
    let op = Op::recorded(c);
    if !same_file(c) {
        // SAFETY: ours; completes once.
        unsafe { fail_later(cb, libc::EBADF) };
        return;
    }
    // IOCB_CMD_FSYNC never blocks in io_submit, whatever the descriptor.
    // SAFETY: forwarded; not at submission (may run from a release), so a
    // missing thread means running the fsync here.
    let _ = unsafe { kernel(cb, op, false) };
}
