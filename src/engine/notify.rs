//! Completion notifications: `SIGEV_NONE`, `SIGEV_SIGNAL`, `SIGEV_THREAD`,
//! `SIGEV_THREAD_ID`. The sigevent is copied before a request is published,
//! because the caller may reuse its aiocb as soon as `aio_error` says done.

use core::ffi::c_void;
use core::ptr;

use super::stats::{self, STATS};
use crate::abi::SigEvent;
use crate::sys::{self, Errno};

/// What to do when a request (or a `lio_listio` list) completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notify {
    None,
    /// `rt_sigqueueinfo` to the process.
    Signal {
        signo: i32,
        value: usize,
    },
    /// `rt_tgsigqueueinfo` to one thread of the process.
    ThreadSignal {
        tid: i32,
        signo: i32,
        value: usize,
    },
    /// A new thread runs `function(value)` with `attrs`.
    Thread {
        function: usize,
        attrs: usize,
        value: usize,
    },
}

fn sigrtmax() -> i32 {
    libc::SIGRTMAX()
}

impl Notify {
    /// Validate a sigevent at submission. kaio rejects (EINVAL) what could
    /// never be delivered, where glibc accepts it and loses the event. A
    /// signal number of 0 (a zeroed aiocb) is accepted and delivers nothing,
    /// as glibc's queueing of the null signal does.
    pub fn from_sigevent(ev: &SigEvent) -> Result<Notify, Errno> {
        match ev.sigev_notify {
            libc::SIGEV_NONE => Ok(Notify::None),
            libc::SIGEV_SIGNAL => match ev.sigev_signo {
                0 => Ok(Notify::None),
                s if s > 0 && s <= sigrtmax() => Ok(Notify::Signal {
                    signo: s,
                    value: ev.sigev_value,
                }),
                _ => Err(libc::EINVAL),
            },
            libc::SIGEV_THREAD_ID => match ev.sigev_signo {
                s if s > 0 && s <= sigrtmax() && ev.thread_id() > 0 => Ok(Notify::ThreadSignal {
                    tid: ev.thread_id(),
                    signo: s,
                    value: ev.sigev_value,
                }),
                _ => Err(libc::EINVAL),
            },
            libc::SIGEV_THREAD if ev.sigev_notify_function != 0 => Ok(Notify::Thread {
                function: ev.sigev_notify_function,
                attrs: ev.sigev_notify_attributes as usize,
                value: ev.sigev_value,
            }),
            _ => Err(libc::EINVAL),
        }
    }

    pub fn is_none(&self) -> bool {
        *self == Notify::None
    }

    /// Whether delivery is async-signal-safe (a system call, no thread).
    pub fn is_signal_safe(&self) -> bool {
        !matches!(self, Notify::Thread { .. })
    }

    /// Deliver. Signals are async-signal-safe; starting a thread is not, so
    /// callers in a signal-safe context hand `Thread` to the reaper instead.
    pub fn deliver(&self) {
        match *self {
            Notify::None => return,
            Notify::Signal { signo, value } => {
                let _ = sys::queue_signal(signo, value);
            }
            Notify::ThreadSignal { tid, signo, value } => {
                let _ = sys::queue_signal_thread(tid, signo, value);
            }
            Notify::Thread {
                function,
                attrs,
                value,
            } => start_thread(function, attrs, value),
        }
        stats::bump(&STATS.notifications);
    }
}

struct ThreadCall {
    function: usize,
    value: usize,
}

extern "C" fn notify_trampoline(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the Box leaked by `start_thread`, handed over once.
    let call = unsafe { Box::from_raw(arg.cast::<ThreadCall>()) };
    // Like glibc: the notification runs with no signal blocked (kaio's own
    // threads block all signals, and this one inherited that mask).
    // SAFETY: an empty set is valid; this only changes this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, ptr::null_mut());
    }
    // SAFETY: the caller gave `function` as a `void (*)(union sigval)`;
    // `union sigval` is passed like a pointer-sized integer on this ABI.
    let f: extern "C" fn(usize) = unsafe { core::mem::transmute(call.function) };
    f(call.value);
    ptr::null_mut()
}

/// Call the notification function on this thread: when no thread can be
/// created (RLIMIT_NPROC, pids.max, memory), the notification still comes,
/// exactly once, from a kaio thread (or the completing one).
fn call_here(function: usize, value: usize) {
    // SAFETY: as in `notify_trampoline`.
    let f: extern "C" fn(usize) = unsafe { core::mem::transmute(function) };
    f(value);
}

fn start_thread(function: usize, attrs: usize, value: usize) {
    if crate::sys::fault::hit(crate::sys::fault::Point::Thread).is_some() {
        return call_here(function, value);
    }
    let Some(call) = super::mem::try_box(ThreadCall { function, value }) else {
        return call_here(function, value);
    };
    let call = Box::into_raw(call);
    let mut tid: libc::pthread_t = 0;
    // SAFETY: attr objects are initialised before use and destroyed after;
    // a user-supplied attr is used as given (as glibc does).
    unsafe {
        let mut own: libc::pthread_attr_t = core::mem::zeroed();
        let attr_ptr = if attrs == 0 {
            libc::pthread_attr_init(&mut own);
            libc::pthread_attr_setdetachstate(&mut own, libc::PTHREAD_CREATE_DETACHED);
            &own as *const libc::pthread_attr_t
        } else {
            attrs as *const libc::pthread_attr_t
        };
        let rc = libc::pthread_create(&mut tid, attr_ptr, notify_trampoline, call.cast());
        if attrs == 0 {
            libc::pthread_attr_destroy(&mut own);
        }
        if rc != 0 {
            // The thread never started: reclaim its argument and call the
            // function here.
            drop(Box::from_raw(call));
            call_here(function, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(notify: i32, signo: i32, function: usize) -> SigEvent {
        // SAFETY: all-zero is a valid SigEvent (plain data).
        let mut e: SigEvent = unsafe { core::mem::zeroed() };
        e.sigev_notify = notify;
        e.sigev_signo = signo;
        e.sigev_value = 77;
        e.sigev_notify_function = function;
        e
    }

    #[test]
    fn zeroed_sigevent_is_signal_zero_and_delivers_nothing() {
        assert_eq!(Notify::from_sigevent(&ev(0, 0, 0)), Ok(Notify::None));
    }

    #[test]
    fn valid_sigevents() {
        assert_eq!(
            Notify::from_sigevent(&ev(libc::SIGEV_NONE, 99, 0)),
            Ok(Notify::None)
        );
        assert_eq!(
            Notify::from_sigevent(&ev(libc::SIGEV_SIGNAL, libc::SIGUSR1, 0)),
            Ok(Notify::Signal {
                signo: libc::SIGUSR1,
                value: 77
            })
        );
        assert_eq!(
            Notify::from_sigevent(&ev(libc::SIGEV_THREAD_ID, libc::SIGUSR2, 1234)),
            Ok(Notify::ThreadSignal {
                tid: 1234,
                signo: libc::SIGUSR2,
                value: 77
            })
        );
        assert!(matches!(
            Notify::from_sigevent(&ev(libc::SIGEV_THREAD, 0, 0x1000)),
            Ok(Notify::Thread { .. })
        ));
    }

    #[test]
    fn undeliverable_sigevents_are_einval() {
        for e in [
            ev(99, 0, 0),
            ev(libc::SIGEV_SIGNAL, -1, 0),
            ev(libc::SIGEV_SIGNAL, libc::SIGRTMAX() + 1, 0),
            ev(libc::SIGEV_THREAD, 0, 0),
            ev(libc::SIGEV_THREAD_ID, 0, 1234),
            ev(libc::SIGEV_THREAD_ID, libc::SIGUSR1, 0),
        ] {
            assert_eq!(Notify::from_sigevent(&e), Err(libc::EINVAL));
        }
    }

    #[test]
    fn only_thread_notification_is_unsafe_in_signal_context() {
        assert!(
            Notify::Signal {
                signo: 10,
                value: 0
            }
            .is_signal_safe()
        );
        assert!(
            !Notify::Thread {
                function: 1,
                attrs: 0,
                value: 0
            }
            .is_signal_safe()
        );
    }
}
