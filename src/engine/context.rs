//! The process's one kernel AIO context, created lazily by the first request
//! that needs it (a context costs ~35 ms at exit, so page-cache-only and
//! pipe-only programs never get one), plus the wake channel used to wake a
//! thread blocked in `io_getevents` when a completion arrives from elsewhere.
//!
//! When the kernel refuses AIO (`io_setup` fails: `aio-max-nr` used up, a
//! seccomp profile; `io_submit` or `io_getevents` says EPERM/ENOSYS), the
//! context is marked unusable: new requests go to kaio's threads, and those
//! already in the kernel are reaped from the mapped ring.
//!
//! The wake channel is a datagram socket pair that kaio keeps at high
//! descriptor numbers and checks (`fstat` identity) before each use: a
//! program that closes every descriptor (`close_range`) and reuses the
//! numbers gets no byte written into its files — kaio notices, and makes a
//! new pair. A wake-up is a `send`, which fails with ENOTSOCK on a file.

use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};

use super::config;
use super::lock::RawLock;
use crate::sys::{self, AIO_RING_MAGIC, AioRingHeader};

const UNINIT: u32 = 0;
const READY: u32 = 1;
/// `io_setup` failed: every request goes to kaio threads instead, so
/// nothing fails where glibc works.
const UNAVAILABLE: u32 = 2;

static STATE: AtomicU32 = AtomicU32::new(UNINIT);
/// The kernel refused `io_submit`/`io_getevents` with EPERM/ENOSYS.
static BROKEN: AtomicBool = AtomicBool::new(false);
static CTX: AtomicU64 = AtomicU64::new(0);
/// Ring entries, when the user-mapped ring is in the expected format.
static RING_NR: AtomicU32 = AtomicU32::new(0);
static INIT_LOCK: RawLock = RawLock::new();

/// The context id if it exists (for reaping); never creates it
/// (async-signal-safe).
pub fn current() -> Option<u64> {
    if STATE.load(Ordering::Acquire) == READY {
        Some(CTX.load(Ordering::Relaxed))
    } else {
        None
    }
}

/// The context for a new request, created on first use; `None` if the
/// kernel refused one or refuses to serve this process.
pub fn get_or_create() -> Option<u64> {
    if BROKEN.load(Ordering::Relaxed) {
        return None;
    }
    match STATE.load(Ordering::Acquire) {
        READY => return Some(CTX.load(Ordering::Relaxed)),
        UNAVAILABLE => return None,
        _ => {}
    }
    INIT_LOCK.lock();
    if STATE.load(Ordering::Acquire) == UNINIT {
        super::fork::register();
        let nr = config::get().max_events;
        match sys::io_setup(nr) {
            Ok(ctx) => {
                CTX.store(ctx, Ordering::Relaxed);
                let ring = check_ring(ctx);
                RING_NR.store(ring, Ordering::Relaxed);
                // One iocb slot per event the ring can hold (plus the wake
                // poll), so the ring fills before the slots run out.
                if !super::slots::init(ring.max(nr.saturating_mul(2)) as usize + 64) {
                    // No memory for the slots: this context takes nothing.
                    BROKEN.store(true, Ordering::Relaxed);
                    super::verbose::say(super::verbose::Reason::NoContext(libc::ENOMEM), -1);
                }
                STATE.store(READY, Ordering::Release);
            }
            Err(e) => {
                STATE.store(UNAVAILABLE, Ordering::Release);
                super::verbose::say(super::verbose::Reason::NoContext(e), -1);
            }
        }
    }
    INIT_LOCK.unlock();
    if BROKEN.load(Ordering::Relaxed) {
        return None;
    }
    current()
}

/// The kernel answered `io_submit` or `io_getevents` with EPERM/ENOSYS:
/// submit nothing more, and never block in `io_getevents` again.
pub fn kernel_broken() {
    if !BROKEN.swap(true, Ordering::SeqCst) {
        super::stats::bump(&super::stats::STATS.kernel_refused);
    }
}

/// Whether waiting in `io_getevents` is impossible (poll the ring instead).
pub fn getevents_broken() -> bool {
    BROKEN.load(Ordering::Relaxed)
}

/// Validate the ring header (as seastar and fio do) and keep it out of
/// `fork()` children, which would otherwise share it and steal our events.
/// Returns the number of ring entries, or 0 if the ring must not be read.
fn check_ring(ctx: u64) -> u32 {
    let ring = ctx as *const AioRingHeader;
    // SAFETY: io_setup returned `ctx`, the address of a readable mapping that
    // starts with this header and lives until io_destroy (never called).
    let (magic, incompat, hdr, nr) = unsafe {
        (
            core::ptr::read_volatile(&(*ring).magic),
            core::ptr::read_volatile(&(*ring).incompat_features),
            core::ptr::read_volatile(&(*ring).header_length),
            core::ptr::read_volatile(&(*ring).nr),
        )
    };
    let len = (32 + nr as usize * 32).next_multiple_of(4096);
    let _ = sys::madvise(ctx as usize, len, libc::MADV_DONTFORK);
    // The kernel fills the ring: valgrind must not call it uninitialised.
    sys::mark_defined(ctx as usize, len);
    if magic == AIO_RING_MAGIC && incompat == 0 && hdr == 32 && nr > 0 {
        nr
    } else {
        0
    }
}

/// Ring entries if the ring can be read from user space, else 0.
pub fn ring_entries() -> u32 {
    RING_NR.load(Ordering::Relaxed)
}

// ---- the wake channel ---------------------------------------------------

/// The socket pair: `[0]` is polled in the kernel, `[1]` is written to.
static WAKE_FD: [AtomicI32; 2] = [AtomicI32::new(-1), AtomicI32::new(-1)];
/// Their inode numbers (sockets have unique ones): the identity check.
static WAKE_INO: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
/// Generation of the pair; the wake poll's token carries it.
static WAKE_GEN: AtomicU32 = AtomicU32::new(0);
/// Whether the current pair's poll is in the kernel.
static WAKE_ARMED: AtomicBool = AtomicBool::new(false);
static WAKE_LOCK: AtomicBool = AtomicBool::new(false);

/// `aio_data` of kaio's own poll on the wake socket: a value no aiocb
/// address has, with the pair's generation in the low bits.
const WAKE_TOKEN: u64 = 0xffff_0000_0000_0000;

pub fn is_wake_token(data: u64) -> bool {
    data & WAKE_TOKEN == WAKE_TOKEN
}

/// Lowest descriptor number kaio uses for its own descriptors: high, so a
/// program that counts on getting the lowest free numbers (after closing 0,
/// say) is not surprised, and not too high (the kernel's table grows to it).
pub fn high_fd_base() -> i32 {
    (sys::nofile_limit() / 2).clamp(3, 1000) as i32
}

/// Move a fresh descriptor of ours to a high number (close-on-exec).
pub fn move_high(fd: i32) -> i32 {
    match sys::dup_at_least(fd, high_fd_base()) {
        Ok(high) => {
            sys::close(fd);
            high
        }
        Err(_) => fd,
    }
}

fn still_ours(i: usize) -> bool {
    let fd = WAKE_FD[i].load(Ordering::Acquire);
    fd >= 0
        && sys::fstat_id(fd).is_ok_and(|id| {
            id.kind() == libc::S_IFSOCK && id.ino == WAKE_INO[i].load(Ordering::Relaxed)
        })
}

/// Forget the pair (the program closed or replaced one of its descriptors:
/// they are not ours to close any more).
fn forget_pair() {
    WAKE_FD[0].store(-1, Ordering::Release);
    WAKE_FD[1].store(-1, Ordering::Release);
    WAKE_GEN.fetch_add(1, Ordering::SeqCst);
    WAKE_ARMED.store(false, Ordering::SeqCst);
}

/// Make a new pair (async-signal-safe: system calls only). `false` if the
/// descriptor table is full or another thread is making one.
fn make_pair() -> bool {
    if WAKE_LOCK.swap(true, Ordering::Acquire) {
        return false;
    }
    let ok = match sys::socketpair_dgram() {
        Ok([a, b]) => {
            let (a, b) = (move_high(a), move_high(b));
            match (sys::fstat_id(a), sys::fstat_id(b)) {
                (Ok(ia), Ok(ib)) => {
                    WAKE_INO[0].store(ia.ino, Ordering::Relaxed);
                    WAKE_INO[1].store(ib.ino, Ordering::Relaxed);
                    WAKE_FD[0].store(a, Ordering::Release);
                    WAKE_FD[1].store(b, Ordering::Release);
                    true
                }
                _ => {
                    sys::close(a);
                    sys::close(b);
                    false
                }
            }
        }
        Err(_) => false,
    };
    WAKE_LOCK.store(false, Ordering::Release);
    ok
}

/// Make sure a poll on the wake socket is in the kernel, so that a thread
/// blocked in `io_getevents` can be woken. `false` if there is no working
/// channel (the caller then blocks in short slices).
pub fn arm_wake(ctx: u64) -> bool {
    // An armed poll holds our socket in the kernel; if the program closes
    // the other end, the poll completes with an error and is re-armed.
    if WAKE_ARMED.load(Ordering::SeqCst) {
        return true;
    }
    if !still_ours(0) || !still_ours(1) {
        if WAKE_FD[0].load(Ordering::Acquire) >= 0 {
            forget_pair();
        }
        if !make_pair() {
            return false;
        }
    }
    if WAKE_ARMED.swap(true, Ordering::SeqCst) {
        return true;
    }
    let generation = WAKE_GEN.load(Ordering::SeqCst);
    let iocb = sys::Iocb {
        aio_data: WAKE_TOKEN | u64::from(generation & 0xffff),
        aio_lio_opcode: sys::IOCB_CMD_POLL,
        aio_fildes: WAKE_FD[0].load(Ordering::Relaxed) as u32,
        aio_buf: libc::POLLIN as u64,
        ..sys::Iocb::default()
    };
    if super::slots::submit_one(ctx, iocb).is_err() {
        WAKE_ARMED.store(false, Ordering::SeqCst);
        return false;
    }
    true
}

/// Wake the thread blocked in `io_getevents` (async-signal-safe).
pub fn wake() {
    let fd = WAKE_FD[1].load(Ordering::Acquire);
    if fd < 0 {
        return;
    }
    if !still_ours(1) {
        forget_pair();
        return;
    }
    let _ = sys::send_byte(fd);
}

/// The wake poll with token `data` completed.
pub fn wake_reaped(data: u64) {
    let generation = WAKE_GEN.load(Ordering::SeqCst);
    if data & 0xffff != u64::from(generation & 0xffff) {
        // A poll of a pair the program closed: nothing of ours to read.
        return;
    }
    if still_ours(0) {
        sys::drain_socket(WAKE_FD[0].load(Ordering::Acquire));
    } else {
        forget_pair();
    }
    WAKE_ARMED.store(false, Ordering::SeqCst);
}

/// In a `fork()` child: the kernel gave the child no context; forget ours
/// (never `io_destroy` it: the id is the parent's).
pub fn reset_after_fork() {
    for (i, slot) in WAKE_FD.iter().enumerate() {
        let fd = slot.swap(-1, Ordering::Relaxed);
        if fd >= 0 && still_ours_fd(fd, i) {
            // Closing the child's copy of our own socket.
            sys::close(fd);
        }
    }
    WAKE_ARMED.store(false, Ordering::Relaxed);
    WAKE_LOCK.store(false, Ordering::Relaxed);
    BROKEN.store(false, Ordering::Relaxed);
    CTX.store(0, Ordering::Relaxed);
    RING_NR.store(0, Ordering::Relaxed);
    INIT_LOCK.reset_after_fork();
    STATE.store(UNINIT, Ordering::Release);
}

fn still_ours_fd(fd: i32, i: usize) -> bool {
    sys::fstat_id(fd).is_ok_and(|id| {
        id.kind() == libc::S_IFSOCK && id.ino == WAKE_INO[i].load(Ordering::Relaxed)
    })
}
