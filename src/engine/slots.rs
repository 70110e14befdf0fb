//! The iocbs handed to `io_submit` live in a slab allocated once, with the
//! kernel context, until their completion is reaped. The kernel copies an
//! iocb during `io_submit` and never looks at it again, but it returns its
//! address in every completion (`io_event.obj`), and tools such as valgrind
//! read the iocb there when `io_getevents` returns: it must still be valid.
//! Free slots are a lock-free queue of indices: no allocation per request.

use super::fork_lazy::ForkLazy;
use core::cell::UnsafeCell;

use super::mem::{self, BoundedQueue};
use crate::sys::{self, Errno, Iocb};

struct Slab {
    iocbs: Box<[UnsafeCell<Iocb>]>,
    free: BoundedQueue<u32>,
}

// SAFETY: a slot is used by one owner at a time: taken from `free` by the
// submitter, handed to the kernel, given back by whoever reaps it.
unsafe impl Sync for Slab {}
// SAFETY: as above.
unsafe impl Send for Slab {}

static SLAB: ForkLazy<Slab> = ForkLazy::new();

/// Allocate the slab: `n` iocbs, at least the kernel ring's capacity.
/// `false` if memory is short.
pub fn init(n: usize) -> bool {
    SLAB.get_or_try_init(|| {
        let n = n.max(1);
        let free = BoundedQueue::new(n)?;
        for i in 0..n {
            let _ = free.push(i as u32);
        }
        Some(Slab {
            iocbs: mem::try_slice(n, |_| UnsafeCell::new(Iocb::default()))?,
            free,
        })
    })
    .is_some()
}

/// Put `iocb` in a free slot; `None` if all are in the kernel (the ring is
/// full).
pub fn take(iocb: Iocb) -> Option<*mut Iocb> {
    let slab = SLAB.get()?;
    let i = slab.free.pop()? as usize;
    let cell = slab.iocbs.get(i)?;
    // SAFETY: slot `i` was free: nobody else refers to it.
    unsafe { *cell.get() = iocb };
    Some(cell.get())
}

/// A slot's iocb is no longer in the kernel (reaped, or refused).
pub fn give_back(p: *mut Iocb) {
    let Some(slab) = SLAB.get() else { return };
    let base = slab.iocbs.as_ptr() as usize;
    let at = p as usize;
    let size = core::mem::size_of::<UnsafeCell<Iocb>>();
    if at < base || (at - base) % size != 0 || (at - base) / size >= slab.iocbs.len() {
        return;
    }
    let _ = slab.free.push(((at - base) / size) as u32);
}

/// `io_submit` of one iocb from a slot. EAGAIN if no slot is free.
pub fn submit_one(ctx: u64, iocb: Iocb) -> Result<(), Errno> {
    let p = take(iocb).ok_or(libc::EAGAIN)?;
    let list = [p];
    // SAFETY: one valid iocb in a slot that stays valid until reaped; its
    // buffer is the caller's, valid until completion.
    match unsafe { sys::io_submit(ctx, &list) } {
        Ok(1) => Ok(()),
        Ok(_) => {
            give_back(p);
            Err(libc::EAGAIN)
        }
        Err(e) => {
            give_back(p);
            Err(e)
        }
    }
}

/// In a `fork()` child: none of the parent's iocbs is in the child's kernel
/// context (it has none).
pub fn reset_after_fork() {
    // The parent's free list may be mid-update; the child's next kernel
    // context allocates a fresh slab.
    SLAB.forget_after_fork();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_and_foreign_pointers_ignored() {
        assert!(init(4));
        let a = take(Iocb {
            aio_data: 1,
            ..Iocb::default()
        });
        let b = take(Iocb {
            aio_data: 2,
            ..Iocb::default()
        });
        let (Some(a), Some(b)) = (a, b) else {
            panic!("slots")
        };
        assert_ne!(a, b);
        // SAFETY: slots hold the iocbs just stored.
        assert_eq!(unsafe { (*a).aio_data }, 1);
        give_back(a);
        // Pointers outside the slab (or misaligned) are not taken as slots.
        let mut outside = Iocb::default();
        give_back(&mut outside);
        give_back((b as usize + 1) as *mut Iocb);
        give_back(b);
        let mut seen = Vec::new();
        while let Some(p) = take(Iocb::default()) {
            seen.push(p);
        }
        // Every slot comes back exactly once: no duplicate from the bogus gives.
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), seen.len());
        for p in seen {
            give_back(p);
        }
    }
}
