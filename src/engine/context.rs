//! The process's one kernel AIO context, created lazily by the first request
//! that needs it (a context costs ~35 ms at exit, so page-cache-only and
//! pipe-only programs never get one), plus the eventfd used to wake a thread
//! blocked in `io_getevents` when a completion arrives from elsewhere.

use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

use super::config;
use super::lock::RawLock;
use crate::sys::{self, AIO_RING_MAGIC, AioRingHeader};

const UNINIT: u32 = 0;
const READY: u32 = 1;
/// `io_setup` failed (e.g. the system-wide `aio-max-nr` is used up): every
/// request goes to kaio threads instead, so nothing fails where glibc works.
const UNAVAILABLE: u32 = 2;

static STATE: AtomicU32 = AtomicU32::new(UNINIT);
static CTX: AtomicU64 = AtomicU64::new(0);
/// Ring entries, when the user-mapped ring is in the expected format.
static RING_NR: AtomicU32 = AtomicU32::new(0);
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
static INIT_LOCK: RawLock = RawLock::new();

/// The context id if it exists; never creates it (async-signal-safe).
pub fn current() -> Option<u64> {
    if STATE.load(Ordering::Acquire) == READY {
        Some(CTX.load(Ordering::Relaxed))
    } else {
        None
    }
}

/// The context, created on first use; `None` if the kernel refused one.
pub fn get_or_create() -> Option<u64> {
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
                super::slots::init(ring.max(nr.saturating_mul(2)) as usize + 64);
                if let Ok(fd) = sys::eventfd(libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) {
                    WAKE_FD.store(fd, Ordering::Relaxed);
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
    current()
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

pub fn wake_fd() -> i32 {
    WAKE_FD.load(Ordering::Relaxed)
}

/// In a `fork()` child: the kernel gave the child no context; forget ours
/// (never `io_destroy` it: the id is the parent's).
pub fn reset_after_fork() {
    let fd = WAKE_FD.swap(-1, Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: closing the child's copy of our own eventfd.
        unsafe { libc::close(fd) };
    }
    CTX.store(0, Ordering::Relaxed);
    RING_NR.store(0, Ordering::Relaxed);
    INIT_LOCK.reset_after_fork();
    STATE.store(UNINIT, Ordering::Release);
}
