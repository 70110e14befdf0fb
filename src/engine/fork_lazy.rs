//! A lazily created shared object that a `fork()` child can abandon.
//!
//! Lock-free queues cannot be drained or reset in a fork child: another
//! thread of the parent may have been half-way through a push or pop, and
//! that thread does not exist in the child, so the queue's state can never
//! settle (a pop would spin forever). The child simply forgets the parent's
//! object (its memory, a copy, is leaked) and creates a fresh one on first
//! use.

use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

pub struct ForkLazy<T> {
    ptr: AtomicPtr<T>,
}

impl<T> ForkLazy<T> {
    pub const fn new() -> Self {
        Self {
            ptr: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The object, if created (no allocation: usable in any context).
    pub fn get(&self) -> Option<&T> {
        // SAFETY: a non-null pointer came from Box::into_raw below and is
        // never freed.
        unsafe { self.ptr.load(Ordering::Acquire).as_ref() }
    }

    /// The object, created by `make` on first use (ordinary context).
    pub fn get_or_init(&self, make: impl FnOnce() -> T) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        let fresh = Box::into_raw(Box::new(make()));
        match self
            .ptr
            .compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: just published; never freed.
            Ok(_) => unsafe { &*fresh },
            Err(existing) => {
                // SAFETY: `fresh` was never shared.
                drop(unsafe { Box::from_raw(fresh) });
                // SAFETY: as in `get`.
                unsafe { &*existing }
            }
        }
    }

    /// The object, created by `make` on first use; `None` if `make` or the
    /// allocation fails (memory short). Ordinary context.
    pub fn get_or_try_init(&self, make: impl FnOnce() -> Option<T>) -> Option<&T> {
        if let Some(v) = self.get() {
            return Some(v);
        }
        let fresh = Box::into_raw(super::mem::try_box(make()?)?);
        match self
            .ptr
            .compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: just published; never freed.
            Ok(_) => Some(unsafe { &*fresh }),
            Err(existing) => {
                // SAFETY: `fresh` was never shared.
                drop(unsafe { Box::from_raw(fresh) });
                // SAFETY: as in `get`.
                Some(unsafe { &*existing })
            }
        }
    }

    /// In a `fork()` child (single-threaded): abandon the parent's object.
    pub fn forget_after_fork(&self) {
        self.ptr.store(ptr::null_mut(), Ordering::Relaxed);
    }
}
