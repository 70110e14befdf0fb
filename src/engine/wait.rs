//! Sleeping until requests complete (`aio_suspend`, `lio_listio(LIO_WAIT)`,
//! the reaper). A waiter whose requests may sit in the kernel tries to
//! become the reaper itself and blocks in `io_getevents` — one wake-up per
//! completion, as with libaio. Others sleep on the completion sequence futex.

use core::sync::atomic::Ordering;

use super::complete::{Mode, SEQ};
use super::{context, reap};
use crate::sys::{self, Errno};

/// An absolute `CLOCK_MONOTONIC` deadline.
pub type Deadline = libc::timespec;

/// `now + rel`, or EINVAL for a malformed timespec.
pub fn deadline_after(rel: &libc::timespec) -> Result<Deadline, Errno> {
    if rel.tv_nsec < 0 || rel.tv_nsec >= 1_000_000_000 {
        return Err(libc::EINVAL);
    }
    let now = sys::monotonic_now();
    let mut sec = now.tv_sec.saturating_add(rel.tv_sec.max(0));
    let mut nsec = now.tv_nsec + if rel.tv_sec < 0 { 0 } else { rel.tv_nsec };
    if rel.tv_sec < 0 {
        // A negative timeout has already expired.
        return Ok(now);
    }
    if nsec >= 1_000_000_000 {
        nsec -= 1_000_000_000;
        sec = sec.saturating_add(1);
    }
    Ok(libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    })
}

/// Time left until `d`, clamped at zero.
fn remaining(d: &Deadline) -> libc::timespec {
    let now = sys::monotonic_now();
    let mut sec = d.tv_sec - now.tv_sec;
    let mut nsec = d.tv_nsec - now.tv_nsec;
    if nsec < 0 {
        nsec += 1_000_000_000;
        sec -= 1;
    }
    if sec < 0 {
        libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        }
    } else {
        libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        }
    }
}

/// How one wait step ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Something happened (or may have): re-check the condition.
    Again,
    TimedOut,
    Interrupted,
}

/// How long a follower sleeps at most while a parked holder reaps for it:
/// it then checks that the holder is still there (see
/// `reap::take_over_if_stalled`).
const WATCH_TICK: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 100_000_000,
};

/// How long a waiter sleeps between looks at the ring when the kernel will
/// not let anyone block in `io_getevents` (EPERM/ENOSYS).
const POLL_TICK: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 2_000_000,
};

/// One step of waiting: become the reaper and block in the kernel, or sleep
/// on the sequence futex until it moves past `seq` (taken before the caller
/// last checked its condition).
pub fn step(seq: u32, deadline: Option<&Deadline>, mode: Mode, cancellable: bool) -> Step {
    let kernel = reap::kernel_in_flight() > 0;
    let ctx = if kernel { context::current() } else { None };
    let mut tick: Option<libc::timespec> = None;
    let mut polling = false;
    if let Some(ctx) = ctx {
        if let Some(g) = reap::acquire() {
            let rel = deadline.map(remaining);
            // The reaper holds the reap lock, so it cannot be cancelled inside
            // io_getevents; a cancellable waiter blocks in slices and acts on a
            // cancellation between them, holding nothing.
            let slice = if cancellable {
                Some(rel.map_or(CANCEL_SLICE, |r| shorter(r, CANCEL_SLICE)))
            } else {
                rel
            };
            let r = reap::reap_blocking(&g, ctx, seq, slice.as_ref(), mode);
            drop(g);
            if cancellable {
                sys::testcancel();
            }
            match r {
                Err(libc::EINTR) => return Step::Interrupted,
                Ok(reap::Reaped::TimedOut) if deadline.is_some_and(passed) => {
                    return Step::TimedOut;
                }
                // Cannot block in the kernel (nested over an interrupted
                // reader, or io_getevents refused): sleep a little, look again.
                Err(_) => {
                    tick = Some(POLL_TICK);
                    polling = true;
                }
                _ => return Step::Again,
            }
        } else if reap::take_over_if_stalled(ctx) {
            return Step::Again;
        } else if reap::held_elsewhere() {
            tick = Some(WATCH_TICK);
        }
    }
    // Follower: announce ourselves (bit 0), then sleep while SEQ is unchanged.
    // Polling the ring (io_getevents refused), the sleep is a fixed tick:
    // our own release of the reap lock moved SEQ, which must not end it.
    let cur = SEQ.load(Ordering::SeqCst);
    if cur & !1 != seq & !1 && !polling {
        return Step::Again;
    }
    if cur & 1 == 0
        && SEQ
            .compare_exchange(cur, cur | 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
    {
        return Step::Again;
    }
    // Always with a deadline: an untimed futex wait is restarted after a
    // handler installed with SA_RESTART (glibc's SIGCANCEL handler is one);
    // a timed one returns EINTR, as io_getevents does for the leader.
    let mut until = deadline.copied().unwrap_or_else(far_future);
    let mut ticked = false;
    if let Some(t) = tick {
        let soon = deadline_after(&t).unwrap_or(until);
        if is_shorter_or_equal(&soon, &until) {
            until = soon;
            ticked = true;
        }
    }
    // A follower holds nothing, so it can be cancelled right inside the wait
    // (asynchronous cancellation): no window between a check and the sleep.
    let r = if cancellable {
        let r = sys::with_async_cancel(|| sys::futex_wait(&SEQ, cur | 1, Some(&until)));
        // A request that was pending before asynchronous cancellation was
        // enabled (its signal already handled) is acted on here, not lost
        // when the wait then ends normally.
        sys::testcancel();
        r
    } else {
        sys::futex_wait(&SEQ, cur | 1, Some(&until))
    };
    match r {
        Err(libc::ETIMEDOUT) if ticked => Step::Again,
        Err(libc::ETIMEDOUT) if deadline.is_some() => Step::TimedOut,
        Err(libc::EINTR) => Step::Interrupted,
        _ => Step::Again,
    }
}

fn passed(d: &Deadline) -> bool {
    let r = remaining(d);
    r.tv_sec == 0 && r.tv_nsec == 0
}

/// How long a cancellable waiter blocks in `io_getevents` at a time.
const CANCEL_SLICE: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 50_000_000,
};

fn is_shorter_or_equal(a: &libc::timespec, b: &libc::timespec) -> bool {
    (a.tv_sec, a.tv_nsec) <= (b.tv_sec, b.tv_nsec)
}

fn shorter(a: libc::timespec, b: libc::timespec) -> libc::timespec {
    if is_shorter_or_equal(&a, &b) { a } else { b }
}

/// A deadline that never comes (about 34 years away).
fn far_future() -> Deadline {
    let now = sys::monotonic_now();
    libc::timespec {
        tv_sec: now.tv_sec.saturating_add(1 << 30),
        tv_nsec: 0,
    }
}

/// The completion sequence, to snapshot before checking a condition and
/// pass to [`step`].
pub fn snapshot() -> u32 {
    SEQ.load(Ordering::SeqCst)
}

/// How a caller waits.
#[derive(Clone, Copy)]
pub struct How {
    /// Where completions taken from the kernel are processed.
    pub mode: Mode,
    /// Keep waiting after a signal handler ran (`lio_listio`), instead of
    /// returning EINTR (`aio_suspend`).
    pub restart: bool,
    /// A cancellation point (`aio_suspend`).
    pub cancellable: bool,
}

/// Wait until `done()`; `Err(EAGAIN)` when the deadline passes, `Err(EINTR)`
/// when a signal handler ran (unless `how.restart`).
pub fn wait_until(
    done: &dyn Fn() -> bool,
    deadline: Option<&Deadline>,
    how: How,
) -> Result<(), Errno> {
    loop {
        let seq = SEQ.load(Ordering::SeqCst);
        if done() {
            return Ok(());
        }
        match step(seq, deadline, how.mode, how.cancellable) {
            Step::Again => {}
            Step::TimedOut => {
                return if done() { Ok(()) } else { Err(libc::EAGAIN) };
            }
            // An untimed wait is restarted after a handler installed with
            // SA_RESTART, as POSIX says and glibc's untimed futex does; kaio
            // waits where the kernel never restarts, so it asks itself.
            Step::Interrupted
                if !(how.restart || deadline.is_none() && sys::interrupt_wants_restart()) =>
            {
                return if done() { Ok(()) } else { Err(libc::EINTR) };
            }
            Step::Interrupted => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_rejects_bad_nanoseconds() {
        for ns in [-1, 1_000_000_000] {
            assert!(matches!(
                deadline_after(&libc::timespec {
                    tv_sec: 0,
                    tv_nsec: ns
                }),
                Err(libc::EINVAL)
            ));
        }
    }

    #[test]
    fn deadline_carries_nanoseconds() {
        let before = sys::monotonic_now();
        let d = deadline_after(&libc::timespec {
            tv_sec: 1,
            tv_nsec: 999_999_999,
        })
        .unwrap_or(before);
        assert!(d.tv_nsec < 1_000_000_000);
        assert!(d.tv_sec > before.tv_sec);
        let r = remaining(&d);
        assert!(r.tv_sec <= 1 && r.tv_sec >= 0);
    }

    #[test]
    fn negative_or_past_deadline_leaves_nothing() {
        let d = deadline_after(&libc::timespec {
            tv_sec: -5,
            tv_nsec: 0,
        })
        .unwrap_or(sys::monotonic_now());
        let r = remaining(&d);
        assert_eq!((r.tv_sec, r.tv_nsec), (0, 0));
    }
}
