//! The reaper: one kaio thread, started the first time a request needs work
//! done when nobody may be calling into kaio — a notification, a `lio_listio`
//! list event, a held `aio_fsync`. While such work is outstanding it reaps
//! the kernel's completions itself; it also runs the jobs that signal-safe
//! reapers (`aio_error`, `aio_suspend`) may not run: starting notification
//! threads, list notifications, releasing held fsyncs. It never exits.

use super::fork_lazy::ForkLazy;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use crossbeam_queue::ArrayQueue;

use super::complete::Mode;
use super::notify::Notify;
use super::{barrier, context, lio, overflow, stream, threads, wait};
use crate::abi::AioCb;
use crate::sys;

/// Work the reaper does on behalf of a signal-safe context.
pub enum Job {
    Notify(Notify),
    ListDone(*mut lio::Group),
    BarrierRelease,
    /// A polled descriptor is ready (poll result).
    PollReady(*mut AioCb, i64),
    /// Ring slots were freed: submit queued requests.
    Flush,
}

// SAFETY: the pointers in a Job are handed over to the reaper, which is then
// their only user (a finished list's group; a user attr/function pointer).
unsafe impl Send for Job {}

const QUEUE_CAPACITY: usize = 65536;
static JOBS: ForkLazy<ArrayQueue<Job>> = ForkLazy::new();

/// Outstanding items that need the reaper: in-flight requests with a
/// notification, lists with a list notification, an active fsync drain.
static WORK: AtomicUsize = AtomicUsize::new(0);
/// Futex word the idle reaper sleeps on.
static KICK: AtomicU32 = AtomicU32::new(0);
static IDLE: AtomicBool = AtomicBool::new(false);
static STARTED: AtomicBool = AtomicBool::new(false);

/// Count one more item of reaper work and make sure the reaper runs. Called
/// before the item can complete, from an ordinary (not signal) context.
pub fn work_begin() {
    start();
    WORK.fetch_add(1, Ordering::SeqCst);
}

/// Wake the reaper if it sleeps while it has work (after a request reached
/// the kernel: it may have to reap it). Costs a system call only then.
pub fn kick() {
    if WORK.load(Ordering::SeqCst) > 0 && IDLE.load(Ordering::SeqCst) {
        KICK.fetch_add(1, Ordering::SeqCst);
        let _ = sys::futex_wake(&KICK, 1);
    }
}

/// One item of reaper work is finished.
pub fn work_done() {
    WORK.fetch_sub(1, Ordering::SeqCst);
}

/// Queue a job for the reaper (lock-free, async-signal-safe).
pub fn push(job: Job) {
    let mut job = job;
    if let Some(q) = JOBS.get() {
        loop {
            match q.push(job) {
                Ok(()) => break,
                // Full (65536 jobs waiting): the reaper drains it; yield.
                Err(back) => {
                    job = back;
                    // SAFETY: sched_yield has no preconditions.
                    unsafe { libc::sched_yield() };
                }
            }
        }
        KICK.fetch_add(1, Ordering::SeqCst);
        let _ = sys::futex_wake(&KICK, 1);
        super::complete::bump_seq();
    }
}

fn run(job: Job) {
    match job {
        Job::Notify(n) => n.deliver(),
        // SAFETY: the group was handed over by its last member.
        Job::ListDone(g) => unsafe { lio::finish(g) },
        Job::BarrierRelease => barrier::release(),
        // SAFETY: handed over by the reaper that took the poll event.
        Job::PollReady(cb, res) => unsafe { stream::ready(cb, res) },
        Job::Flush => {
            if let Some(ctx) = context::current() {
                overflow::flush(ctx);
            }
        }
    }
}

fn start() {
    if STARTED.load(Ordering::Acquire) {
        return;
    }
    JOBS.get_or_init(|| ArrayQueue::new(QUEUE_CAPACITY));
    if STARTED.swap(true, Ordering::AcqRel) {
        return;
    }
    let spawned = threads::spawn("kaio-reaper", 256 * 1024, main_loop);
    if spawned.is_err() {
        STARTED.store(false, Ordering::Release);
    }
}

fn has_jobs() -> bool {
    JOBS.get().is_some_and(|q| !q.is_empty())
}

fn main_loop() {
    loop {
        let seq = wait::snapshot();
        if let Some(q) = JOBS.get() {
            while let Some(job) = q.pop() {
                run(job);
            }
        }
        let must_reap = WORK.load(Ordering::SeqCst) > 0 && super::reap::kernel_in_flight() > 0;
        if must_reap && context::current().is_some() {
            wait::step(seq, None, Mode::Normal, false);
            continue;
        }
        let k = KICK.load(Ordering::SeqCst);
        IDLE.store(true, Ordering::SeqCst);
        let busy =
            has_jobs() || (WORK.load(Ordering::SeqCst) > 0 && super::reap::kernel_in_flight() > 0);
        if !busy {
            let _ = sys::futex_wait(&KICK, k, None);
        }
        IDLE.store(false, Ordering::SeqCst);
    }
}

/// In a `fork()` child: the reaper thread does not exist there.
pub fn reset_after_fork() {
    JOBS.forget_after_fork();
    WORK.store(0, Ordering::Relaxed);
    IDLE.store(false, Ordering::Relaxed);
    STARTED.store(false, Ordering::Relaxed);
}
