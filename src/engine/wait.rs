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

/// One step of waiting: become the reaper and block in the kernel, or sleep
/// on the sequence futex until it moves past `seq` (taken before the caller
/// last checked its condition).
pub fn step(seq: u32, deadline: Option<&Deadline>, mode: Mode) -> Step {
    if reap::kernel_in_flight() > 0
        && let Some(ctx) = context::current()
        && reap::try_lock()
    {
        let rel = deadline.map(remaining);
        let r = reap::reap_blocking(ctx, seq, rel.as_ref(), mode);
        reap::unlock();
        return match r {
            Err(libc::EINTR) => Step::Interrupted,
            Ok(reap::Reaped::TimedOut) => Step::TimedOut,
            _ => Step::Again,
        };
    }
    // Follower: announce ourselves (bit 0), then sleep while SEQ is unchanged.
    let cur = SEQ.load(Ordering::SeqCst);
    if cur & !1 != seq & !1 {
        return Step::Again;
    }
    if cur & 1 == 0
        && SEQ
            .compare_exchange(cur, cur | 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
    {
        return Step::Again;
    }
    match sys::futex_wait(&SEQ, cur | 1, deadline) {
        Err(libc::ETIMEDOUT) => Step::TimedOut,
        Err(libc::EINTR) => Step::Interrupted,
        _ => Step::Again,
    }
}

/// The completion sequence, to snapshot before checking a condition and
/// pass to [`step`].
pub fn snapshot() -> u32 {
    SEQ.load(Ordering::SeqCst)
}

/// Wait until `done()`; `Err(EAGAIN)` when the deadline passes, `Err(EINTR)`
/// when a signal handler ran (unless `restart`).
pub fn wait_until(
    done: &dyn Fn() -> bool,
    deadline: Option<&Deadline>,
    mode: Mode,
    restart: bool,
) -> Result<(), Errno> {
    loop {
        let seq = SEQ.load(Ordering::SeqCst);
        if done() {
            return Ok(());
        }
        match step(seq, deadline, mode) {
            Step::Again => {}
            Step::TimedOut => {
                return if done() { Ok(()) } else { Err(libc::EAGAIN) };
            }
            Step::Interrupted if !restart => {
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
