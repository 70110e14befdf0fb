//! Fault injection for tests: `KAIO_FAULT=point=N[+][:ERRNO],...` makes the
//! N-th call at `point` fail (with `+`: that call and every later one), as
//! if the kernel or the allocator had refused it. Points: `io_setup`,
//! `io_submit`, `io_getevents`, `thread` (thread creation), `alloc`
//! (kaio's own heap allocations). ERRNO is a number or one of EAGAIN,
//! ENOMEM, EPERM, ENOSYS, EINTR, EINVAL, EBADF, EFAULT (default: EAGAIN, ENOMEM
//! for `alloc`). Without the variable each point costs one relaxed load.
//!
//! Read once, with `getenv` (no allocation), on the first check.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// A place where a failure can be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    IoSetup = 0,
    IoSubmit = 1,
    IoGetevents = 2,
    Thread = 3,
    Alloc = 4,
}

const NAMES: [&[u8]; 5] = [
    b"io_setup",
    b"io_submit",
    b"io_getevents",
    b"thread",
    b"alloc",
];
const POINTS: usize = NAMES.len();

const UNREAD: u32 = 0;
const OFF: u32 = 1;
const ON: u32 = 2;
static STATE: AtomicU32 = AtomicU32::new(UNREAD);

/// Per point: calls so far.
static CALLS: [AtomicU64; POINTS] = [const { AtomicU64::new(0) }; POINTS];
/// Per point: the call number that fails (0 = none), whether later ones do
/// too (bit 63), and the errno (bits 32..48).
static RULE: [AtomicU64; POINTS] = [const { AtomicU64::new(0) }; POINTS];

const FROM_ON: u64 = 1 << 63;

/// Whether the call now made at `p` must fail; with which errno.
#[inline]
pub fn hit(p: Point) -> Option<i32> {
    match STATE.load(Ordering::Relaxed) {
        OFF => None,
        UNREAD => {
            read_env();
            hit(p)
        }
        _ => check(p),
    }
}

#[cold]
fn check(p: Point) -> Option<i32> {
    let i = p as usize;
    let rule = RULE[i].load(Ordering::Relaxed);
    let at = rule & 0xffff_ffff;
    if at == 0 {
        return None;
    }
    let n = CALLS[i].fetch_add(1, Ordering::Relaxed) + 1;
    let fails = n == at || (rule & FROM_ON != 0 && n > at);
    fails.then_some(((rule >> 32) & 0xffff) as i32)
}

/// Calls made so far at `p` (while fault injection is on), for tests that
/// loop over N.
pub fn calls(p: Point) -> u64 {
    CALLS[p as usize].load(Ordering::Relaxed)
}

fn errno_by_name(s: &[u8]) -> Option<i32> {
    Some(match s {
        b"EAGAIN" => libc::EAGAIN,
        b"ENOMEM" => libc::ENOMEM,
        b"EPERM" => libc::EPERM,
        b"ENOSYS" => libc::ENOSYS,
        b"EINTR" => libc::EINTR,
        b"EINVAL" => libc::EINVAL,
        b"EBADF" => libc::EBADF,
        b"EFAULT" => libc::EFAULT,
        _ => return number(s).and_then(|v| i32::try_from(v).ok()),
    })
}

fn number(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 12 {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}

/// One `point=N[+][:ERRNO]` item; `None` if malformed.
fn parse_item(item: &[u8]) -> Option<(usize, u64)> {
    let eq = item.iter().position(|&b| b == b'=')?;
    let (name, rest) = item.split_at(eq);
    let rest = rest.get(1..)?;
    let point = NAMES.iter().position(|n| *n == name)?;
    let (count, errno) = match rest.iter().position(|&b| b == b':') {
        Some(c) => (rest.get(..c)?, errno_by_name(rest.get(c + 1..)?)?),
        None => (
            rest,
            if point == Point::Alloc as usize {
                libc::ENOMEM
            } else {
                libc::EAGAIN
            },
        ),
    };
    let (count, from_on) = match count.split_last() {
        Some((b'+', head)) => (head, FROM_ON),
        _ => (count, 0),
    };
    let at = number(count).filter(|&n| n > 0 && n <= u64::from(u32::MAX))?;
    Some((point, at | from_on | ((errno as u64 & 0xffff) << 32)))
}

/// Parse the whole variable into `RULE`; returns whether any rule is set.
fn parse(spec: &[u8]) -> bool {
    let mut any = false;
    for item in spec.split(|&b| b == b',') {
        if item.is_empty() {
            continue;
        }
        match parse_item(item) {
            Some((p, rule)) => {
                RULE[p].store(rule, Ordering::Relaxed);
                any = true;
            }
            None => crate::sys::warn_raw(b"kaio: KAIO_FAULT: ignoring a malformed item\n"),
        }
    }
    any
}

#[cold]
fn read_env() {
    // SAFETY: getenv with a NUL-terminated name; the result is a C string
    // owned by the environment, read at once.
    let raw = unsafe { libc::getenv(c"KAIO_FAULT".as_ptr()) };
    let on = if raw.is_null() {
        false
    } else {
        // SAFETY: getenv returned a NUL-terminated string.
        parse(unsafe { core::ffi::CStr::from_ptr(raw) }.to_bytes())
    };
    STATE.store(if on { ON } else { OFF }, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_parse_with_defaults_and_suffixes() {
        assert_eq!(
            parse_item(b"io_submit=3"),
            Some((1, 3 | ((libc::EAGAIN as u64) << 32)))
        );
        assert_eq!(
            parse_item(b"alloc=2+"),
            Some((4, 2 | FROM_ON | ((libc::ENOMEM as u64) << 32)))
        );
        assert_eq!(
            parse_item(b"io_getevents=1+:EPERM"),
            Some((2, 1 | FROM_ON | ((libc::EPERM as u64) << 32)))
        );
        assert_eq!(parse_item(b"thread=7:11"), Some((3, 7 | (11u64 << 32))));
        for bad in [
            &b"io_submit"[..],
            b"nope=1",
            b"io_setup=0",
            b"io_setup=x",
            b"thread=1:EWHAT",
        ] {
            assert_eq!(parse_item(bad), None, "{:?}", core::str::from_utf8(bad));
        }
    }
}
