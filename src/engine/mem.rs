//! Memory kaio allocates for itself, always fallibly: a library that a C
//! program preloads must answer EAGAIN when memory is short, never abort the
//! program (Rust's infallible `Box::new`/`Vec` growth would). The fault
//! point `alloc` of `KAIO_FAULT` fails these allocations on demand.
//!
//! Also [`BoundedQueue`], a fixed-capacity lock-free MPMC queue (Vyukov's)
//! that never allocates after creation and whose `pop` never waits for a
//! `push` in progress, so a signal handler can use it while the code it
//! interrupted is inside `push` (crossbeam's `ArrayQueue::pop` spins then).

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::sys::fault::{self, Point};

/// Allocate `layout` (non-zero size), or `None`.
fn alloc(layout: Layout) -> Option<NonNull<u8>> {
    if fault::hit(Point::Alloc).is_some() || layout.size() == 0 {
        return None;
    }
    // SAFETY: the layout has a non-zero size (checked above).
    NonNull::new(unsafe { std::alloc::alloc(layout) })
}

/// `Box::new(value)`, or `None` if memory is short.
pub fn try_box<T>(value: T) -> Option<Box<T>> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return Some(Box::new(value));
    }
    let p = alloc(layout)?.cast::<T>();
    // SAFETY: `p` is a fresh allocation with `T`'s layout; writing a value
    // into it and handing it to Box, which frees it with the same layout.
    unsafe {
        p.as_ptr().write(value);
        Some(Box::from_raw(p.as_ptr()))
    }
}

/// A boxed slice of `n` values made by `make(i)`, or `None`.
pub fn try_slice<T>(n: usize, mut make: impl FnMut(usize) -> T) -> Option<Box<[T]>> {
    let mut v: Vec<T> = Vec::new();
    if fault::hit(Point::Alloc).is_some() || v.try_reserve_exact(n).is_err() {
        return None;
    }
    for i in 0..n {
        v.push(make(i));
    }
    Some(v.into_boxed_slice())
}

/// `Vec::push` that fails instead of aborting when memory is short.
pub fn try_push<T>(v: &mut Vec<T>, value: T) -> Result<(), T> {
    if v.len() == v.capacity() && (fault::hit(Point::Alloc).is_some() || v.try_reserve(1).is_err())
    {
        return Err(value);
    }
    v.push(value);
    Ok(())
}

struct Slot<T> {
    seq: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A bounded lock-free multi-producer multi-consumer queue of `Copy` values.
pub struct BoundedQueue<T: Copy> {
    slots: Box<[Slot<T>]>,
    mask: usize,
    head: AtomicUsize,
    tail: AtomicUsize,
}

// SAFETY: values are moved between threads through the slots' sequence
// protocol (a slot is written by one producer, then read by one consumer).
unsafe impl<T: Copy + Send> Sync for BoundedQueue<T> {}
// SAFETY: as above.
unsafe impl<T: Copy + Send> Send for BoundedQueue<T> {}

impl<T: Copy> BoundedQueue<T> {
    /// A queue of at least `capacity` entries (rounded up to a power of
    /// two), or `None` if memory is short.
    pub fn new(capacity: usize) -> Option<Self> {
        let cap = capacity.max(2).checked_next_power_of_two()?;
        let slots = try_slice(cap, |i| Slot {
            seq: AtomicUsize::new(i),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        })?;
        Some(Self {
            slots,
            mask: cap - 1,
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
        })
    }

    fn slot(&self, pos: usize) -> &Slot<T> {
        // `mask` is `len - 1` for a power-of-two length: always in bounds.
        &self.slots[pos & self.mask]
    }

    /// Add `value`; gives it back if the queue is full.
    pub fn push(&self, value: T) -> Result<(), T> {
        let mut pos = self.tail.load(Ordering::Relaxed);
        loop {
            let slot = self.slot(pos);
            let seq = slot.seq.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos) as isize;
            if diff == 0 {
                match self.tail.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the CAS gave this producer slot `pos`.
                        unsafe { (*slot.value.get()).write(value) };
                        slot.seq.store(pos.wrapping_add(1), Ordering::Release);
                        return Ok(());
                    }
                    Err(cur) => pos = cur,
                }
            } else if diff < 0 {
                return Err(value);
            } else {
                pos = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Take the oldest value, if one is fully pushed. Never waits.
    pub fn pop(&self) -> Option<T> {
        let mut pos = self.head.load(Ordering::Relaxed);
        loop {
            let slot = self.slot(pos);
            let seq = slot.seq.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos.wrapping_add(1)) as isize;
            if diff == 0 {
                match self.head.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the CAS gave this consumer slot `pos`,
                        // written by a producer (seq == pos + 1).
                        let v = unsafe { (*slot.value.get()).assume_init_read() };
                        slot.seq
                            .store(pos.wrapping_add(self.mask + 1), Ordering::Release);
                        return Some(v);
                    }
                    Err(cur) => pos = cur,
                }
            } else if diff < 0 {
                return None;
            } else {
                pos = self.head.load(Ordering::Relaxed);
            }
        }
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.head.load(Ordering::SeqCst) == self.tail.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_is_fifo_and_bounded() {
        let q = BoundedQueue::<u32>::new(3).unwrap_or_else(|| panic!("alloc"));
        for i in 0..4 {
            assert_eq!(q.push(i), Ok(()));
        }
        assert_eq!(q.push(9), Err(9));
        for i in 0..4 {
            assert_eq!(q.pop(), Some(i));
        }
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
    }

    #[test]
    fn queue_survives_many_threads() {
        let q = std::sync::Arc::new(BoundedQueue::<usize>::new(64).unwrap_or_else(|| panic!()));
        let total = std::sync::Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for t in 0..4 {
            let q = q.clone();
            hs.push(std::thread::spawn(move || {
                for i in 0..10_000 {
                    let mut v = t * 100_000 + i + 1;
                    while let Err(back) = q.push(v) {
                        v = back;
                        std::thread::yield_now();
                    }
                }
            }));
        }
        for _ in 0..2 {
            let q = q.clone();
            let total = total.clone();
            hs.push(std::thread::spawn(move || {
                let mut got = 0;
                while got < 20_000 {
                    if let Some(v) = q.pop() {
                        total.fetch_add(v, Ordering::Relaxed);
                        got += 1;
                    }
                }
            }));
        }
        for h in hs {
            let _ = h.join();
        }
        let want: usize = (0..4)
            .map(|t| (0..10_000).map(|i| t * 100_000 + i + 1).sum::<usize>())
            .sum();
        assert_eq!(total.load(Ordering::Relaxed), want);
    }

    #[test]
    fn fallible_helpers_allocate() {
        assert_eq!(try_box(5u64).map(|b| *b), Some(5));
        assert_eq!(try_slice(3, |i| i * 2).as_deref(), Some(&[0, 2, 4][..]));
        let mut v = Vec::new();
        assert_eq!(try_push(&mut v, 1), Ok(()));
        assert_eq!(v, [1]);
    }
}
