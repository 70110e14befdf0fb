//! Per-process counters: how requests were served. Read by `kaio_counter`
//! (tests use them to prove kaio served a call) and, later, printed at exit.

use core::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident: $doc:literal),* $(,)?) => {
        /// kaio's counters; each is a relaxed atomic.
        pub struct Stats { $(#[doc = $doc] pub $name: AtomicU64,)* }
        pub static STATS: Stats = Stats { $($name: AtomicU64::new(0),)* };
        impl Stats {
            /// A counter by name, for `kaio_counter`.
            pub fn by_name(&self, name: &[u8]) -> Option<u64> {
                $(if name == stringify!($name).as_bytes() {
                    return Some(self.$name.load(Ordering::Relaxed));
                })*
                None
            }
            /// Every counter with its name, in declaration order.
            pub fn each(&self, mut f: impl FnMut(&str, u64)) {
                $(f(stringify!($name), self.$name.load(Ordering::Relaxed));)*
            }
            /// Zero every counter (a `fork()` child starts afresh).
            pub fn reset(&self) { $(self.$name.store(0, Ordering::Relaxed);)* }
        }
    };
}

counters! {
    submitted: "Requests accepted by aio_read/aio_write/aio_fsync/lio_listio.",
    completed: "Requests whose result was published.",
    kernel: "Requests submitted to the kernel with io_submit (asynchronous in the kernel).",
    inline: "Requests completed inside aio_read/aio_write without blocking (page-cache hit, ready pipe).",
    poll: "Requests that waited for readiness with the kernel's IOCB_CMD_POLL (pipes, sockets, ttys).",
    thread: "Requests served by a kaio thread (cache miss on a buffered file, no async support).",
    ring_full: "Times a request waited in kaio's queue because the kernel ring was full.",
    no_context: "Requests served by threads because io_setup failed (aio-max-nr exhausted).",
    io_submit_calls: "io_submit system calls made.",
    failed_at_submit: "Requests that failed before reaching the kernel (their error shows in aio_error).",
    fsync_held: "aio_fsync requests held until earlier writes completed.",
    cancelled: "Requests cancelled by aio_cancel.",
    ring_reaped: "Completions read from the user-mapped ring without a system call.",
    getevents_reaped: "Completions returned by io_getevents.",
    getevents_calls: "io_getevents system calls made.",
    notifications: "Notifications sent (signals queued, threads started).",
    lio_batches: "lio_listio calls.",
    waitcomplete_overflow: "Completions aio_waitcomplete could not be told of (over 65536 unreaped).",
    refused: "Requests refused at submission with EAGAIN (no thread or memory could be had) or EINVAL (the aiocb was already in flight).",
    kernel_refused: "Times the kernel refused AIO for good (io_submit/io_getevents said EPERM or ENOSYS): threads serve everything after.",
    reap_takeovers: "Times a waiter took over reaping from a holder that left without returning (siglongjmp out of aio_suspend).",
}

pub fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

pub fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// A small fixed buffer that formats without allocating (usable at exit,
/// after other libraries' destructors may have run).
struct Out {
    buf: [u8; 2048],
    len: usize,
}

impl Out {
    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }

    fn number(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        let (_, used) = digits.split_at(i);
        self.push(used);
    }
}

extern "C" fn print_stats() {
    let mut out = Out {
        buf: [0; 2048],
        len: 0,
    };
    out.push(b"kaio: statistics (pid ");
    out.number(crate::sys::getpid() as u64);
    out.push(b")\n");
    STATS.each(|name, value| {
        // One short block: what happened (and always the two totals).
        if value == 0 && name != "submitted" && name != "completed" {
            return;
        }
        out.push(b"kaio:   ");
        out.push(name.as_bytes());
        out.push(b" ");
        out.number(value);
        out.push(b"\n");
    });
    let (text, _) = out.buf.split_at(out.len);
    // SAFETY: writing our own buffer to stderr, one write(2).
    let _ = unsafe { crate::sys::write(2, text.as_ptr(), text.len()) };
}

/// `KAIO_SHOW_STATS=1`: print the counters to stderr when the process exits.
pub fn print_at_exit() {
    // SAFETY: registering a handler that only reads atomics and writes(2).
    unsafe { libc::atexit(print_stats) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_without_allocation() {
        let mut out = Out {
            buf: [0; 2048],
            len: 0,
        };
        for v in [0, 7, 10, 1234567890, u64::MAX] {
            out.number(v);
            out.push(b" ");
        }
        let (text, _) = out.buf.split_at(out.len);
        assert_eq!(text, b"0 7 10 1234567890 18446744073709551615 ");
    }

    #[test]
    fn every_counter_has_a_name() {
        let mut names = Vec::new();
        STATS.each(|n, _| names.push(n.to_string()));
        for n in &names {
            assert!(STATS.by_name(n.as_bytes()).is_some(), "{n}");
        }
        assert!(names.iter().any(|n| n == "submitted"));
        assert_eq!(STATS.by_name(b"no such counter"), None);
    }
}
