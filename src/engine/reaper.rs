//! The reaper: one kaio thread, started the first time a request needs work
//! done when nobody may be calling into kaio — a notification, a stream
//! waiting for readiness, a `lio_listio` list event, a held `aio_fsync`.
//! While such work is outstanding it reaps the kernel's completions itself;
//! it also finishes what signal-safe reapers (`aio_error`, `aio_suspend`)
//! may not do themselves, handed over without memory or locks:
//! - requests whose completion needs a thread or a lock (a `SIGEV_THREAD`
//!   notification, a stream transfer after readiness, a lane to advance, a
//!   request to route to a thread), pushed on a stack linked through the
//!   aiocbs, with their result in `return_value` (not yet published);
//! - finished `lio_listio` groups (list notification, freeing);
//! - an fsync barrier to release.
//!
//! It never exits. If it cannot be started, requests that need it are
//! refused with EAGAIN at submission.

use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};

use super::complete::Mode;
use super::stack::{self, Stack};
use super::{barrier, context, lio, overflow, stream, submit, threads, wait};
use crate::abi::{AioCb, flags};
use crate::sys::{self, Errno};

/// Outstanding items that need the reaper: in-flight requests with a
/// notification, streams waiting for readiness, lists with a list
/// notification, an active fsync drain.
static WORK: AtomicUsize = AtomicUsize::new(0);
/// Futex word the idle reaper sleeps on.
static KICK: AtomicU32 = AtomicU32::new(0);
static IDLE: AtomicBool = AtomicBool::new(false);
const NOT_STARTED: u32 = 0;
const STARTING: u32 = 1;
const RUNNING: u32 = 2;
static STATE: AtomicU32 = AtomicU32::new(NOT_STARTED);

/// Requests handed over by signal-safe reapers (stack through `link`).
static DEFERRED: Stack = Stack::new(ptr::null_mut());
/// Finished heap groups (stack through `Group::next`).
static GROUPS: AtomicPtr<lio::Group> = AtomicPtr::new(ptr::null_mut());
static RELEASE: AtomicBool = AtomicBool::new(false);
/// Streams that can neither wait in the kernel nor have a thread of their
/// own: handed over here (stack through `link`), then watched by the
/// reaper with `poll(2)` in [`USER_POLLED`] (the reaper's own list).
static USER_POLL_IN: Stack = Stack::new(ptr::null_mut());
static USER_POLLED: AtomicPtr<AioCb> = AtomicPtr::new(ptr::null_mut());

/// Make sure the reaper runs; EAGAIN if its thread cannot be created (the
/// caller refuses the request that needs it). Ordinary context.
pub fn ensure() -> Result<(), Errno> {
    loop {
        match STATE.load(Ordering::Acquire) {
            RUNNING => return Ok(()),
            STARTING => {
                // SAFETY: sched_yield has no preconditions.
                unsafe { libc::sched_yield() };
            }
            _ => {
                if STATE
                    .compare_exchange(NOT_STARTED, STARTING, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    continue;
                }
                return match threads::spawn(c"kaio-reaper", 256 * 1024, main_loop) {
                    Ok(()) => {
                        STATE.store(RUNNING, Ordering::Release);
                        Ok(())
                    }
                    Err(e) => {
                        STATE.store(NOT_STARTED, Ordering::Release);
                        Err(e)
                    }
                };
            }
        }
    }
}

/// Count one more item of reaper work (the reaper must be running: see
/// [`ensure`]). Called before the item can complete.
pub fn work_begin() {
    WORK.fetch_add(1, Ordering::SeqCst);
}

/// `ensure` + `work_begin`.
pub fn work_begin_ensured() -> Result<(), Errno> {
    ensure()?;
    work_begin();
    Ok(())
}

/// One item of reaper work is finished.
pub fn work_done() {
    WORK.fetch_sub(1, Ordering::SeqCst);
}

/// Wake the reaper if it sleeps while it has work (after a request reached
/// the kernel: it may have to reap it). Costs a system call only then.
pub fn kick() {
    if WORK.load(Ordering::SeqCst) > 0 && IDLE.load(Ordering::SeqCst) {
        wake_reaper();
    }
}

fn wake_reaper() {
    KICK.fetch_add(1, Ordering::SeqCst);
    let _ = sys::futex_wake(&KICK, 1);
    super::complete::bump_seq();
}

/// Hand `cb` to the reaper with the kernel's result `res` (a poll's
/// readiness, or a completion to finish in an ordinary context).
/// Async-signal-safe: one CAS and a futex wake.
///
/// # Safety
/// `cb` is in progress and owned by the caller, which gives it up.
pub unsafe fn defer(cb: *mut AioCb, res: i64) {
    // SAFETY: caller's contract: the result waits in the private field
    // until the reaper publishes it.
    unsafe { (*cb).return_value.store(res as isize, Ordering::Relaxed) };
    // SAFETY: as above: handed over, on no other list.
    unsafe { stack::push(&DEFERRED, cb) };
    wake_reaper();
}

/// Hand a finished heap group to the reaper (async-signal-safe).
///
/// # Safety
/// `g` is a heap group whose last member just completed.
pub unsafe fn defer_group(g: *mut lio::Group) {
    let mut head = GROUPS.load(Ordering::SeqCst);
    loop {
        // SAFETY: the group is ours (its last member is done).
        unsafe { (*g).next = head };
        match GROUPS.compare_exchange_weak(head, g, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => break,
            Err(cur) => head = cur,
        }
    }
    wake_reaper();
}

/// Hand a stream request to the reaper to watch with `poll(2)` (no kernel
/// poll and no thread could be had). Ordinary context.
///
/// # Safety
/// `cb` is an accepted stream request owned by the caller, which gives it up.
pub unsafe fn user_poll(cb: *mut AioCb) {
    // The request waits for readiness: the reaper has work (ready() ends it).
    work_begin();
    // SAFETY: caller's contract.
    unsafe { (*cb).flags.fetch_or(flags::POLL, Ordering::SeqCst) };
    // SAFETY: as above: handed over, on no other list.
    unsafe { stack::push(&USER_POLL_IN, cb) };
    wake_reaper();
}

/// How long the reaper sleeps in `poll(2)` while it watches streams.
const USER_POLL_MS: i32 = 10;

/// Watch the streams handed over with [`user_poll`] for up to `wait_ms`;
/// transfer for those that are ready. Reaper thread only.
fn poll_streams(wait_ms: i32) {
    // Adopt the new ones.
    let mut incoming = USER_POLL_IN.swap(ptr::null_mut(), Ordering::SeqCst);
    while !incoming.is_null() {
        let cb = incoming;
        // SAFETY: handed over: ours.
        unsafe {
            incoming = (*cb).link.load(Ordering::Relaxed);
            (*cb)
                .link
                .store(USER_POLLED.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        USER_POLLED.store(cb, Ordering::Relaxed);
    }
    let mut list = USER_POLLED.load(Ordering::Relaxed);
    if list.is_null() {
        return;
    }
    const MAX: usize = 64;
    let mut fds = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; MAX];
    let mut cbs = [ptr::null_mut::<AioCb>(); MAX];
    let mut n = 0;
    while !list.is_null() && n < MAX {
        // SAFETY: on our list: ours.
        let c = unsafe { &*list };
        fds[n].fd = submit::io_fd(c);
        fds[n].events = stream::events(submit::Op::recorded(c)) as i16;
        cbs[n] = list;
        n += 1;
        list = c.link.load(Ordering::Relaxed);
    }
    // SAFETY: `fds` holds `n` initialised pollfds.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), n as libc::nfds_t, wait_ms) };
    if r <= 0 {
        return;
    }
    // Unlink the ready ones, then transfer (ready() may hand them back).
    let mut ready = [ptr::null_mut::<AioCb>(); MAX];
    let mut nready = 0;
    for i in 0..n {
        if fds[i].revents != 0 {
            ready[nready] = cbs[i];
            nready += 1;
        }
    }
    let mut prev: *mut AioCb = ptr::null_mut();
    let mut cur = USER_POLLED.load(Ordering::Relaxed);
    while !cur.is_null() {
        // SAFETY: on our list.
        let next = unsafe { (*cur).link.load(Ordering::Relaxed) };
        if ready[..nready].contains(&cur) {
            if prev.is_null() {
                USER_POLLED.store(next, Ordering::Relaxed);
            } else {
                // SAFETY: on our list.
                unsafe { (*prev).link.store(next, Ordering::Relaxed) };
            }
        } else {
            prev = cur;
        }
        cur = next;
    }
    for &cb in &ready[..nready] {
        // SAFETY: off the list: ours; a readiness (poll's revents).
        unsafe { stream::ready(cb, 1) };
    }
}

fn has_user_polls() -> bool {
    !USER_POLL_IN.load(Ordering::SeqCst).is_null() || !USER_POLLED.load(Ordering::Relaxed).is_null()
}

/// Ask the reaper to release fsyncs whose writes are done (signal-safe).
pub fn release_barrier() {
    RELEASE.store(true, Ordering::SeqCst);
    wake_reaper();
}

/// Run what was handed over, oldest first.
fn run_handed_over() -> bool {
    let mut any = false;
    let mut fifo = stack::take_fifo(&DEFERRED);
    while !fifo.is_null() {
        let cb = fifo;
        any = true;
        // SAFETY: handed over: ours until completed.
        fifo = unsafe { stack::next(cb) };
        // SAFETY: as above.
        let c = unsafe { &*cb };
        let res = c.return_value.load(Ordering::Relaxed) as i64;
        let f = c.flags.load(Ordering::SeqCst);
        let op = submit::Op::recorded(c);
        if f & flags::TO_THREAD != 0 {
            c.flags.fetch_and(!flags::TO_THREAD, Ordering::SeqCst);
            // SAFETY: ours; routed once.
            unsafe { submit::to_thread(cb, op) };
        } else if f & flags::POLL != 0 {
            // SAFETY: a poll's readiness, handed over once.
            unsafe { stream::ready(cb, res) };
        } else {
            // SAFETY: a completion handed over once.
            unsafe { super::complete::finish(cb, op, res) };
        }
    }
    let mut groups = GROUPS.swap(ptr::null_mut(), Ordering::SeqCst);
    while !groups.is_null() {
        let g = groups;
        // SAFETY: handed over by its last member.
        groups = unsafe { (*g).next };
        // SAFETY: as above.
        unsafe { lio::finish(g) };
        any = true;
    }
    if RELEASE.swap(false, Ordering::SeqCst) {
        barrier::release();
        any = true;
    }
    if !overflow::is_empty()
        && let Some(ctx) = context::current()
    {
        overflow::flush(ctx, Mode::Normal);
    }
    any
}

fn has_handed_over() -> bool {
    !DEFERRED.load(Ordering::SeqCst).is_null()
        || !GROUPS.load(Ordering::SeqCst).is_null()
        || RELEASE.load(Ordering::SeqCst)
}

fn main_loop() {
    loop {
        let seq = wait::snapshot();
        run_handed_over();
        let polls = has_user_polls();
        let must_reap = WORK.load(Ordering::SeqCst) > 0 && super::reap::kernel_in_flight() > 0;
        if polls {
            poll_streams(if must_reap { 0 } else { USER_POLL_MS });
        }
        if must_reap && context::current().is_some() {
            // Watching streams too: reap in short slices.
            let slice = polls.then(|| {
                wait::deadline_after(&libc::timespec {
                    tv_sec: 0,
                    tv_nsec: i64::from(USER_POLL_MS) * 1_000_000,
                })
            });
            let deadline = slice.and_then(Result::ok);
            wait::step(seq, deadline.as_ref(), Mode::Normal, false);
            continue;
        }
        if polls {
            continue;
        }
        let k = KICK.load(Ordering::SeqCst);
        IDLE.store(true, Ordering::SeqCst);
        let busy = has_handed_over()
            || (WORK.load(Ordering::SeqCst) > 0 && super::reap::kernel_in_flight() > 0);
        if !busy {
            let _ = sys::futex_wait(&KICK, k, None);
        }
        IDLE.store(false, Ordering::SeqCst);
    }
}

/// In a `fork()` child: the reaper thread does not exist there.
pub fn reset_after_fork() {
    DEFERRED.store(ptr::null_mut(), Ordering::Relaxed);
    GROUPS.store(ptr::null_mut(), Ordering::Relaxed);
    RELEASE.store(false, Ordering::Relaxed);
    USER_POLL_IN.store(ptr::null_mut(), Ordering::Relaxed);
    USER_POLLED.store(ptr::null_mut(), Ordering::Relaxed);
    WORK.store(0, Ordering::Relaxed);
    IDLE.store(false, Ordering::Relaxed);
    STATE.store(NOT_STARTED, Ordering::Relaxed);
}
