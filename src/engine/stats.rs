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
            /// Zero every counter (a `fork()` child starts afresh).
            pub fn reset(&self) { $(self.$name.store(0, Ordering::Relaxed);)* }
        }
    };
}

counters! {
    submitted: "Requests accepted by aio_read/aio_write/aio_fsync/lio_listio.",
    completed: "Requests whose result was published.",
    kernel: "Requests submitted to the kernel with io_submit.",
    io_submit_calls: "io_submit system calls made.",
    thread: "Requests served by a kaio thread (not a regular file or block device, or no kernel context).",
    failed_at_submit: "Requests that failed before reaching the kernel (their error shows in aio_error).",
    fsync_held: "aio_fsync requests held until earlier writes completed.",
    cancelled: "Requests cancelled by aio_cancel.",
    ring_reaped: "Completions read from the user-mapped ring without a system call.",
    getevents_reaped: "Completions returned by io_getevents.",
    getevents_calls: "io_getevents system calls made.",
    notifications: "Notifications sent (signals queued, threads started).",
    lio_batches: "lio_listio calls.",
}

pub fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

pub fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}
