//! Per-descriptor ordered lanes. POSIX wants writes to a non-seekable
//! descriptor, and O_APPEND writes, to happen in the order of the
//! `aio_write` calls; reads of one pipe or socket are served in call order
//! too. A lane runs one request at a time; the others wait (cancellable),
//! in `aio_reqprio` order (lower first), call order among equals.
//! Reads and writes have separate lanes, so a pending read never holds up
//! a write on the same socket.

use core::sync::atomic::Ordering;
use std::collections::VecDeque;

use super::lock::Locked;
use super::mem;
use super::submit::Op;
use crate::abi::{AioCb, flags};
use crate::sys::Errno;

/// A lane: descriptor and direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    fd: i32,
    write: bool,
}

impl Key {
    pub fn of(c: &AioCb, op: Op) -> Key {
        Key {
            fd: c.aio_fildes,
            write: op == Op::Write,
        }
    }
}

/// Busy lanes and what waits in them (aiocb addresses). A key present =
/// its head is running. Memory is reserved fallibly: without it the
/// request is refused (EAGAIN), never the process aborted.
static LANES: Locked<Vec<(Key, VecDeque<usize>)>> = Locked::new(Vec::new());

/// Enter the lane: `Ok(true)` if `cb` is the head and must be started now,
/// `Ok(false)` if it was queued behind the running one (after `on_queue`
/// ran, under the lanes' lock, before anyone can start it).
///
/// # Safety
/// `cb` is prepared and owned by kaio.
pub unsafe fn enter(key: Key, cb: *mut AioCb, on_queue: impl FnOnce()) -> Result<bool, Errno> {
    // SAFETY: prepared request; kaio owns its private fields.
    let c = unsafe { &*cb };
    LANES.with(|lanes| match lanes.iter_mut().find(|(k, _)| *k == key) {
        None => {
            mem::try_push(lanes, (key, VecDeque::new())).map_err(|_| libc::EAGAIN)?;
            c.flags.fetch_or(flags::LANE, Ordering::SeqCst);
            Ok(true)
        }
        Some((_, waiting)) => {
            if waiting.try_reserve(1).is_err() {
                return Err(libc::EAGAIN);
            }
            c.flags
                .fetch_or(flags::LANE | flags::LANE_WAIT, Ordering::SeqCst);
            on_queue();
            // Prioritized I/O, as glibc: a lower aio_reqprio runs earlier;
            // equal priorities keep call order.
            let prio = c.aio_reqprio;
            // SAFETY: waiting requests are valid until started or cancelled.
            let at = waiting
                .iter()
                .position(|&w| unsafe { (*(w as *const AioCb)).aio_reqprio } > prio);
            match at {
                Some(i) => waiting.insert(i, cb as usize),
                None => waiting.push_back(cb as usize),
            }
            Ok(false)
        }
    })
}

/// The head of `key` completed: start the next ones until one stays in
/// flight (or the lane is empty). Ordinary thread context only.
pub fn advance(key: Key) {
    loop {
        let next = LANES.with(|lanes| {
            let i = lanes.iter().position(|(k, _)| *k == key)?;
            match lanes[i].1.pop_front() {
                Some(cb) => Some(cb),
                None => {
                    lanes.swap_remove(i);
                    None
                }
            }
        });
        let Some(cb) = next else { return };
        let cb = cb as *mut AioCb;
        // SAFETY: taken off the lane, so only we start it.
        unsafe { (*cb).flags.fetch_and(!flags::LANE_WAIT, Ordering::SeqCst) };
        // SAFETY: a prepared request that waited in the lane.
        if unsafe { !super::submit::start_lane_head(cb) } {
            return;
        }
    }
}

/// Take waiting requests matching `pred` out of their lanes (for
/// `aio_cancel`); the caller completes them with ECANCELED.
pub fn take_waiting(pred: &dyn Fn(*mut AioCb) -> bool) -> Vec<*mut AioCb> {
    LANES.with(|lanes| {
        let mut out = Vec::new();
        for (_, waiting) in lanes.iter_mut() {
            waiting.retain(|&cb| {
                let cb = cb as *mut AioCb;
                if pred(cb) {
                    out.push(cb);
                    false
                } else {
                    true
                }
            });
        }
        out
    })
}

/// In a `fork()` child: the parent's lanes are not ours.
pub fn reset_after_fork() {
    LANES.reset_after_fork(Vec::new());
}
