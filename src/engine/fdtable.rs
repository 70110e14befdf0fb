//! Requests in flight per file descriptor, so that `aio_cancel(fd, NULL)` can
//! tell AIO_ALLDONE from AIO_NOTCANCELED without a table of requests.
//! Two levels of lazily allocated pages of counters: memory is allocated per
//! page of 1024 descriptors, never per request.

use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

const PAGE: usize = 1024;
const PAGES: usize = 1024;

type Page = [AtomicU32; PAGE];

static PAGES_TABLE: [AtomicPtr<Page>; PAGES] = [const { AtomicPtr::new(ptr::null_mut()) }; PAGES];
/// Shared counter for descriptors beyond the table (>= 1 Mi): conservative.
static OVERFLOW: AtomicU32 = AtomicU32::new(0);

fn slot(fd: i32, create: bool) -> Option<&'static AtomicU32> {
    let fd = usize::try_from(fd).ok()?;
    let (p, i) = (fd / PAGE, fd % PAGE);
    let Some(entry) = PAGES_TABLE.get(p) else {
        return Some(&OVERFLOW);
    };
    let mut page = entry.load(Ordering::Acquire);
    if page.is_null() {
        if !create {
            return None;
        }
        // Without memory for a page, the shared (conservative) counter.
        let Some(fresh) = super::mem::try_box([const { AtomicU32::new(0) }; PAGE]) else {
            return Some(&OVERFLOW);
        };
        let fresh = Box::into_raw(fresh);
        match entry.compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => page = fresh,
            Err(existing) => {
                // SAFETY: `fresh` came from Box::into_raw and was never shared.
                drop(unsafe { Box::from_raw(fresh) });
                page = existing;
            }
        }
    }
    // SAFETY: pages are never freed; `page` is a valid, initialised page.
    unsafe { (*page).get(i) }
}

pub fn inc(fd: i32) {
    if let Some(c) = slot(fd, true) {
        c.fetch_add(1, Ordering::SeqCst);
    }
}

pub fn dec(fd: i32) {
    if let Some(c) = slot(fd, false) {
        c.fetch_sub(1, Ordering::SeqCst);
    }
}

pub fn in_flight(fd: i32) -> u32 {
    slot(fd, false).map_or(0, |c| c.load(Ordering::SeqCst))
}

/// In a `fork()` child: no request is inherited.
pub fn reset_after_fork() {
    for entry in &PAGES_TABLE {
        let page = entry.load(Ordering::Relaxed);
        if !page.is_null() {
            // SAFETY: pages are never freed.
            for c in unsafe { (*page).iter() } {
                c.store(0, Ordering::Relaxed);
            }
        }
    }
    OVERFLOW.store(0, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_descriptor_without_crosstalk() {
        inc(100_001);
        inc(100_001);
        inc(100_002);
        assert_eq!(in_flight(100_001), 2);
        assert_eq!(in_flight(100_002), 1);
        assert_eq!(in_flight(100_003), 0);
        dec(100_001);
        dec(100_001);
        dec(100_002);
        assert_eq!(in_flight(100_001), 0);
        assert_eq!(in_flight(-1), 0);
    }
}
