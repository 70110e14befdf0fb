//! A lock-free stack of in-progress aiocbs linked through `AioCb::link`:
//! how requests are handed between contexts without memory (the ring-full
//! queue, the reaper's hand-over lists). Pushing is one CAS and taking
//! everything one swap, so any context may do either, a signal handler
//! included; a request is on at most one such list at a time.

use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use crate::abi::AioCb;

/// The head of a stack (null: empty).
pub type Stack = AtomicPtr<AioCb>;

/// Push `cb`, which the caller owns and gives up.
///
/// # Safety
/// `cb` is an in-progress request on no other list.
pub unsafe fn push(stack: &Stack, cb: *mut AioCb) {
    let mut head = stack.load(Ordering::SeqCst);
    loop {
        // SAFETY: caller's contract: the link field is ours.
        unsafe { (*cb).link.store(head, Ordering::Relaxed) };
        match stack.compare_exchange_weak(head, cb, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return,
            Err(cur) => head = cur,
        }
    }
}

/// Take everything, oldest first, as a list linked through `link` (null:
/// nothing). Looks before it writes: most calls find the stack empty.
pub fn take_fifo(stack: &Stack) -> *mut AioCb {
    if stack.load(Ordering::SeqCst).is_null() {
        return ptr::null_mut();
    }
    let mut list = stack.swap(ptr::null_mut(), Ordering::SeqCst);
    let mut fifo: *mut AioCb = ptr::null_mut();
    while !list.is_null() {
        let cb = list;
        // SAFETY: taken off the stack: only we hold these requests.
        unsafe {
            list = (*cb).link.load(Ordering::Relaxed);
            (*cb).link.store(fifo, Ordering::Relaxed);
        }
        fifo = cb;
    }
    fifo
}

/// The next request of a list from [`take_fifo`] (read before the request
/// is handed on: its link field is then someone else's).
///
/// # Safety
/// `cb` is on a list the caller holds.
pub unsafe fn next(cb: *mut AioCb) -> *mut AioCb {
    // SAFETY: caller's contract.
    unsafe { (*cb).link.load(Ordering::Relaxed) }
}
