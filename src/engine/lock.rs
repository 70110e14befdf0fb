//! A small futex lock with explicit lock/unlock, so that a `fork()` child can
//! reset it (a `std::sync::Mutex` held by a thread that does not exist in the
//! child could never be unlocked there).

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::sys;

/// 0 = unlocked, 1 = locked, 2 = locked with waiters.
pub struct RawLock {
    state: AtomicU32,
}

impl RawLock {
    pub const fn new() -> Self {
        Self {
            state: AtomicU32::new(0),
        }
    }

    pub fn lock(&self) {
        if self
            .state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        while self.state.swap(2, Ordering::Acquire) != 0 {
            let _ = sys::futex_wait(&self.state, 2, None);
        }
    }

    pub fn unlock(&self) {
        if self.state.swap(0, Ordering::Release) == 2 {
            let _ = sys::futex_wake(&self.state, 1);
        }
    }

    /// In a `fork()` child only: the holder, if any, does not exist there.
    pub fn reset_after_fork(&self) {
        self.state.store(0, Ordering::Relaxed);
    }
}

/// Data guarded by a [`RawLock`].
pub struct Locked<T> {
    lock: RawLock,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through `with`, under the lock.
unsafe impl<T: Send> Sync for Locked<T> {}

impl<T> Locked<T> {
    pub const fn new(value: T) -> Self {
        Self {
            lock: RawLock::new(),
            value: UnsafeCell::new(value),
        }
    }

    /// Run `f` with the lock held. `f` must not unwind (the crate aborts on
    /// panic) and must not call back into a path that takes this lock.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.lock.lock();
        // SAFETY: the lock gives exclusive access to the value.
        let r = f(unsafe { &mut *self.value.get() });
        self.lock.unlock();
        r
    }

    /// In a `fork()` child only: forget the holder and reset the value. The
    /// old value is not dropped: a thread that does not exist in the child
    /// may have been changing it, so it may not be consistent (its memory,
    /// the child's copy, is leaked).
    pub fn reset_after_fork(&self, value: T) {
        self.lock.reset_after_fork();
        // SAFETY: single-threaded in the child; no reference is live;
        // overwriting without dropping the old value.
        unsafe { core::ptr::write(self.value.get(), value) };
    }
}
