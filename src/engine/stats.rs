//! Per-process counters: how requests were served. Read by `kaio_counter`
//! and `kaio_stats`, printed at exit (`KAIO_SHOW_STATS=1`) and, under
//! `KAIO_STATS_DIR` (`kaio-run -s`), kept in a file that outlives the process
//! however it ends, for `kaio-run` to sum over a whole process tree.
//!
//! The counters are one page-aligned page of relaxed atomics, `STATS`. With
//! `KAIO_STATS_DIR` set, that very page is replaced (`mmap(MAP_FIXED |
//! MAP_SHARED)`) by page 1 of a file `$KAIO_STATS_DIR/PID` when the library
//! is loaded, so a counter update stays one relaxed `fetch_add` on a static
//! address, whether or not a file is behind it, and the values reach the file
//! even if the process leaves with `_exit` or is killed. A `fork()` child
//! gets a file of its own (see [`Stats::reset`]).
//!
//! File layout (8192 bytes): page 0 is text, NUL-padded:
//! `kaio-stats 1\npid PID\ncounters NAME NAME ...\n`; page 1 is [`Stats`]:
//! the counters as native-endian u64 in that order, then at offset 4072 the
//! process name (`/proc/self/comm`, NUL-padded, refreshed at exit) and at
//! 4088 the flags word ([`FLAG_DISABLED`], [`FLAG_EXITED`]).

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::sys;

const PAGE: usize = 4096;
const WORDS: usize = PAGE / 8;

/// Flags word: kaio forwarded every call to glibc (`KAIO_DISABLE`).
pub const FLAG_DISABLED: u64 = 1;
/// Flags word: the process ran `exit` or `_exit` (not killed, not exec'd).
pub const FLAG_EXITED: u64 = 2;

macro_rules! counters {
    ($($name:ident: $doc:literal),* $(,)?) => {
        /// kaio's counters, each a relaxed atomic, alone in one page (which
        /// a statistics file may replace: see the module's documentation).
        #[repr(C, align(4096))]
        pub struct Stats {
            $(#[doc = $doc] pub $name: AtomicU64,)*
            _pad: [AtomicU64; PAD],
            /// The process's name, NUL-padded (for `kaio-run`).
            comm: [AtomicU64; 2],
            /// `FLAG_*` bits.
            flags: AtomicU64,
        }

        /// How many counters there are.
        pub const COUNT: usize = [$(stringify!($name)),*].len();
        const PAD: usize = WORDS - COUNT - 3;

        pub static STATS: Stats = Stats {
            $($name: AtomicU64::new(0),)*
            _pad: [const { AtomicU64::new(0) }; PAD],
            comm: [const { AtomicU64::new(0) }; 2],
            flags: AtomicU64::new(0),
        };

        /// Every counter's name and meaning, in order: the single list that
        /// `struct kaio_stats`, the statistics printout and file, and the
        /// man page follow (`c-tests/checks/counters.sh` checks them).
        pub const NAMES: [(&str, &str); COUNT] = [$((stringify!($name), $doc)),*];

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
            /// Every counter's value, in declaration order.
            pub fn values(&self) -> [u64; COUNT] {
                [$(self.$name.load(Ordering::Relaxed)),*]
            }
            /// In a `fork()` child: the counters start afresh, in a
            /// statistics file of the child's own if the parent had one
            /// (the parent's file is never touched).
            pub fn reset(&self) {
                if after_fork() {
                    $(self.$name.store(0, Ordering::Relaxed);)*
                }
            }
        }
    };
}

// The first 13 are in the order of `struct kaio_stats` since 0.1.0 (its
// ABI); new counters go at the end, each also into `ffi::KaioStats`.
counters! {
    submitted: "Requests accepted by aio_read, aio_write, aio_readv, aio_writev, aio_fsync and lio_listio (one per list entry).",
    completed: "Requests whose result was published (aio_error no longer says EINPROGRESS), failed and cancelled ones included.",
    kernel: "Requests submitted to the kernel with io_submit: O_DIRECT files and block devices, fsyncs.",
    inline: "Requests completed inside aio_read or aio_write without blocking: a page-cache hit (RWF_NOWAIT), a ready pipe or socket.",
    poll: "Requests that waited for readiness with the kernel's IOCB_CMD_POLL (pipes, sockets, terminals).",
    thread: "Requests served by a kaio thread: a buffered request that missed the page cache, a descriptor without non-blocking support, an fsync the kernel cannot do asynchronously.",
    ring_full: "Times a request waited in kaio's queue because the kernel ring was full (see KAIO_MAX_EVENTS).",
    no_context: "Requests served by threads because io_setup failed (aio-max-nr exhausted).",
    cancelled: "Requests cancelled by aio_cancel (AIO_CANCELED).",
    notifications: "Notifications sent: signals queued (SIGEV_SIGNAL, SIGEV_THREAD_ID) and threads started (SIGEV_THREAD), lio_listio's included.",
    ring_reaped: "Completions read from the kernel's user-mapped ring, without a system call.",
    getevents_calls: "io_getevents system calls made.",
    io_submit_calls: "io_submit system calls made (a lio_listio batch takes one).",
    failed_at_submit: "Requests that failed before reaching the kernel or a thread (a bad descriptor, buffer or offset): their error is in aio_error.",
    fsync_held: "aio_fsync requests held until the file writes submitted before them had completed.",
    getevents_reaped: "Completions returned by io_getevents.",
    lio_batches: "lio_listio calls.",
    waitcomplete_overflow: "Completions aio_waitcomplete could not be told of (over 65536 unreaped).",
    refused: "Requests refused at submission with EAGAIN (no thread or memory could be had) or EINVAL (the aiocb was already in flight).",
    kernel_refused: "Times the kernel refused AIO for good (io_submit/io_getevents said EPERM or ENOSYS): threads serve everything after.",
    reap_takeovers: "Times a waiter took over reaping from a holder that left without returning (siglongjmp out of aio_suspend).",
}

const _: () = assert!(core::mem::size_of::<Stats>() == PAGE);

pub fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

pub fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Stats {
    /// The page as words (every field is an `AtomicU64`, `repr(C)`).
    fn words(&self) -> &[AtomicU64; WORDS] {
        // SAFETY: same size and alignment, and every word is an AtomicU64.
        unsafe { &*(self as *const Stats).cast::<[AtomicU64; WORDS]>() }
    }

    fn image(&self) -> [u64; WORDS] {
        let mut img = [0u64; WORDS];
        for (out, w) in img.iter_mut().zip(self.words()) {
            *out = w.load(Ordering::Relaxed);
        }
        img
    }

    /// Record a `FLAG_*` bit (and the file, if any, records it too).
    pub fn set_flag(&self, flag: u64) {
        self.flags.fetch_or(flag, Ordering::Relaxed);
    }

    fn flag(&self, flag: u64) -> bool {
        self.flags.load(Ordering::Relaxed) & flag != 0
    }
}

/// A small fixed buffer that formats without allocating (usable at exit,
/// in a `fork()` child and in a signal handler).
struct Out<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Out<N> {
    fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }

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

    fn text(&self) -> &[u8] {
        let (t, _) = self.buf.split_at(self.len);
        t
    }

    /// Whether everything pushed fitted (with room for a NUL).
    fn fits(&self) -> bool {
        self.len < N
    }

    fn to_stderr(&self) {
        let t = self.text();
        // SAFETY: writing our own buffer to stderr, one write(2).
        let _ = unsafe { sys::write(2, t.as_ptr(), t.len()) };
    }
}

/// A few errno names for messages (no `strerror`: not async-signal-safe).
fn errno_text(e: sys::Errno) -> &'static str {
    match e {
        libc::ENOENT => "No such file or directory",
        libc::EACCES => "Permission denied",
        libc::EPERM => "Operation not permitted",
        libc::ENOTDIR => "Not a directory",
        libc::EROFS => "Read-only file system",
        libc::ENOSPC => "No space left on device",
        libc::EDQUOT => "Disk quota exceeded",
        libc::EEXIST => "File exists",
        libc::ENAMETOOLONG => "File name too long",
        libc::ENOMEM => "Cannot allocate memory",
        libc::EMFILE => "Too many open files",
        _ => "error",
    }
}

// ---- the statistics file ------------------------------------------------

/// `KAIO_STATS_DIR`, copied once when first read (a `fork()` child reads it
/// again, without allocating).
struct DirBuf(UnsafeCell<[u8; DIR_MAX]>);
// SAFETY: written once, by the one thread that wins `ATTACH`, before
// `DIR_LEN` is published with release ordering; read only after that.
unsafe impl Sync for DirBuf {}
const DIR_MAX: usize = 3072;
static DIR: DirBuf = DirBuf(UnsafeCell::new([0; DIR_MAX]));
static DIR_LEN: AtomicUsize = AtomicUsize::new(0);

const NOT_TRIED: u32 = 0;
const ATTACHING: u32 = 1;
const ATTACHED: u32 = 2;
static ATTACH: AtomicU32 = AtomicU32::new(NOT_TRIED);
/// `STATS` is a mapping of this process's statistics file.
static MAPPED: AtomicBool = AtomicBool::new(false);
/// The mapping still is the parent's file (a fork child could make no
/// other): the child must not zero it.
static PARENTS: AtomicBool = AtomicBool::new(false);

fn dir() -> &'static [u8] {
    let n = DIR_LEN.load(Ordering::Acquire);
    // SAFETY: see `DirBuf`; `n <= DIR_MAX`.
    let all: &[u8; DIR_MAX] = unsafe { &*DIR.0.get() };
    all.get(..n).unwrap_or(&[])
}

/// The process name (`/proc/self/comm`) as two NUL-padded words.
fn comm_words() -> [u64; 2] {
    let mut name = [0u8; 16];
    // SAFETY: a NUL-terminated path.
    let path = c"/proc/self/comm".as_ptr().cast();
    if let Ok(fd) = unsafe { sys::open(path, libc::O_RDONLY | libc::O_CLOEXEC, 0) } {
        // SAFETY: reading into a local buffer.
        let n = unsafe { sys::read(fd, name.as_mut_ptr(), 15) }.unwrap_or(0);
        sys::close(fd);
        for (i, b) in name.iter_mut().enumerate() {
            if i >= n || *b == b'\n' {
                *b = 0;
            }
        }
    }
    let mut w = [[0u8; 8]; 2];
    for (i, b) in name.iter().enumerate() {
        if let Some(slot) = w.get_mut(i / 8).and_then(|x| x.get_mut(i % 8)) {
            *slot = *b;
        }
    }
    w.map(u64::from_ne_bytes)
}

fn record_comm() {
    for (slot, w) in STATS.comm.iter().zip(comm_words()) {
        slot.store(w, Ordering::Relaxed);
    }
}

type Path = Out<{ DIR_MAX + 64 }>;

/// Create `$KAIO_STATS_DIR/PID` (or `PID.N` if taken: the same pid after
/// `exec`) and map its page 1 over `STATS`, starting with `img` (the page's
/// words; its process name is filled in here). Allocation-free: also runs
/// in a `fork()` child, where `STATS` still is the parent's file.
/// The file's name is left in `path` (for a message).
fn map_file(mut img: [u64; WORDS], path: &mut Path) -> Result<(), sys::Errno> {
    let pid = sys::getpid();
    let mut fd = Err(libc::EEXIST);
    for n in 0..100u64 {
        *path = Out::new();
        path.push(dir());
        path.push(b"/");
        path.number(pid as u64);
        if n > 0 {
            path.push(b".");
            path.number(n);
        }
        let shown = path.len;
        path.push(b"\0");
        if !path.fits() {
            return Err(libc::ENAMETOOLONG);
        }
        let flags =
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC | libc::O_NOFOLLOW;
        // SAFETY: NUL-terminated above.
        fd = unsafe { sys::open(path.buf.as_ptr(), flags, 0o600) };
        path.len = shown;
        if fd != Err(libc::EEXIST) {
            break;
        }
    }
    let fd = fd?;
    let [lo, hi] = comm_words();
    img[WORDS - 3] = lo;
    img[WORDS - 2] = hi;
    let r = fill_and_map(fd, pid, &img);
    sys::close(fd);
    r
}

fn fill_and_map(fd: i32, pid: i32, img: &[u64; WORDS]) -> Result<(), sys::Errno> {
    sys::ftruncate(fd, 2 * PAGE)?;
    let mut head = Out::<PAGE>::new();
    head.push(b"kaio-stats 1\npid ");
    head.number(pid as u64);
    head.push(b"\ncounters");
    for (name, _) in NAMES {
        head.push(b" ");
        head.push(name.as_bytes());
    }
    head.push(b"\n");
    let t = head.text();
    // SAFETY: our buffers.
    unsafe { sys::pwrite(fd, t.as_ptr(), t.len(), 0) }?;
    // SAFETY: as above.
    unsafe { sys::pwrite(fd, img.as_ptr().cast(), PAGE, PAGE) }?;
    // SAFETY: STATS is one page of atomics that nothing else shares; the
    // file's page holds the same values.
    unsafe { sys::map_fixed(&STATS as *const Stats as usize, PAGE, fd, PAGE) }?;
    MAPPED.store(true, Ordering::Release);
    Ok(())
}

fn warn_no_file(e: sys::Errno, path: &Path) {
    let mut m = Out::<{ DIR_MAX + 256 }>::new();
    m.push(b"kaio: KAIO_STATS_DIR=");
    m.push(dir());
    m.push(b": cannot create ");
    m.push(path.text());
    m.push(b": ");
    m.push(errno_text(e).as_bytes());
    m.push(b" (accepted: the absolute path of a writable directory): the statistics of pid ");
    m.number(sys::getpid() as u64);
    m.push(b" are not recorded\n");
    m.to_stderr();
}

/// Read `KAIO_STATS_DIR` and, if set, start keeping the counters in a file
/// there. Runs when the library is loaded, and again (doing nothing) when
/// the configuration is first read; racing callers wait for the first.
pub fn attach() {
    if let Err(state) =
        ATTACH.compare_exchange(NOT_TRIED, ATTACHING, Ordering::AcqRel, Ordering::Acquire)
    {
        // Another thread is mapping the page: wait, so that no count made
        // now is lost in the page being replaced.
        let mut s = state;
        while s == ATTACHING {
            std::thread::yield_now();
            s = ATTACH.load(Ordering::Acquire);
        }
        return;
    }
    // SAFETY: getenv with a NUL-terminated name; the value is copied at once.
    let raw = unsafe { libc::getenv(c"KAIO_STATS_DIR".as_ptr()) };
    if !raw.is_null() {
        // SAFETY: getenv returns a NUL-terminated string.
        let value = unsafe { core::ffi::CStr::from_ptr(raw) }.to_bytes();
        // Trailing slashes add nothing.
        let mut n = value.len();
        while n > 1 && value.get(n - 1) == Some(&b'/') {
            n -= 1;
        }
        let value = value.get(..n).unwrap_or(value);
        if !value.is_empty() && value.first() != Some(&b'/') {
            let mut m = Out::<{ DIR_MAX + 256 }>::new();
            m.push(b"kaio: KAIO_STATS_DIR=");
            m.push(value);
            m.push(b" is not an absolute path (accepted: the absolute path of a writable directory): statistics are not recorded\n");
            m.to_stderr();
        } else if value.len() + 32 > DIR_MAX {
            let mut m = Out::<256>::new();
            m.push(b"kaio: KAIO_STATS_DIR is longer than ");
            m.number((DIR_MAX - 32) as u64);
            m.push(b" bytes: statistics are not recorded\n");
            m.to_stderr();
        } else if !value.is_empty() {
            // SAFETY: we won ATTACH: nobody else writes or reads DIR yet.
            let buf = unsafe { &mut *DIR.0.get() };
            if let Some(d) = buf.get_mut(..value.len()) {
                d.copy_from_slice(value);
            }
            DIR_LEN.store(value.len(), Ordering::Release);
            let mut path = Path::new();
            match map_file(STATS.image(), &mut path) {
                Ok(()) => hooks(),
                Err(e) => warn_no_file(e, &path),
            }
        }
    }
    ATTACH.store(ATTACHED, Ordering::Release);
}

/// Attach when the library is loaded, before any thread can count: a
/// `.init_array` entry (a static link may leave it out; then `attach` runs
/// when the configuration is first read).
#[used]
#[unsafe(link_section = ".init_array")]
static ATTACH_AT_LOAD: extern "C" fn() = attach_at_load;

extern "C" fn attach_at_load() {
    attach();
}

// ---- exit and fork --------------------------------------------------------

/// `KAIO_SHOW_STATS`: print at exit.
static SHOW: AtomicBool = AtomicBool::new(false);
/// The exit work ran (once per process).
static EXITED: AtomicBool = AtomicBool::new(false);
/// This process is a `fork()` child of the one that turned statistics on.
static CHILD: AtomicBool = AtomicBool::new(false);
/// The process whose counters `STATS` holds, once `hooks` ran (0 before):
/// a `vfork()` child, which shares the parent's memory, has another pid.
static OWNER: AtomicI32 = AtomicI32::new(0);
static HOOKED: AtomicBool = AtomicBool::new(false);

/// The exit and fork handlers (once per process; children inherit them).
fn hooks() {
    if HOOKED.swap(true, Ordering::AcqRel) {
        return;
    }
    OWNER.store(sys::getpid(), Ordering::Relaxed);
    // SAFETY: registering handlers that only touch atomics, make
    // async-signal-safe system calls and format into stack buffers.
    unsafe {
        libc::pthread_atfork(None, None, Some(in_child));
        libc::atexit(exit_handler);
    }
}

/// `KAIO_SHOW_STATS=1`: print the counters to stderr when the process
/// exits, through `exit` or `_exit`.
pub fn print_at_exit() {
    SHOW.store(true, Ordering::Relaxed);
    hooks();
}

extern "C" fn in_child() {
    STATS.reset();
}

/// The fork child's part of [`Stats::reset`]: a file of its own. Returns
/// whether the counters may be zeroed (they are not the parent's file's).
fn after_fork() -> bool {
    let owner = OWNER.load(Ordering::Relaxed);
    let me = sys::getpid();
    if owner == 0 || owner == me {
        // No hooks (nothing to move), or done by the first of the two
        // handlers that call this (kaio's fork handler and ours).
        return !PARENTS.load(Ordering::Relaxed);
    }
    OWNER.store(me, Ordering::Relaxed);
    CHILD.store(true, Ordering::Relaxed);
    EXITED.store(false, Ordering::Relaxed);
    if ATTACH.load(Ordering::Acquire) == ATTACHING {
        // Forked while another thread attached: that thread is not here.
        ATTACH.store(ATTACHED, Ordering::Release);
    }
    if !MAPPED.load(Ordering::Acquire) {
        STATS.flags.fetch_and(!FLAG_EXITED, Ordering::Relaxed);
        return true;
    }
    // The child's page starts as an image (counters zero, the parent's
    // flags but "exited"), so the parent's file is never written.
    let mut img = STATS.image();
    for w in img.iter_mut().take(COUNT) {
        *w = 0;
    }
    if let Some(f) = img.last_mut() {
        *f &= !FLAG_EXITED;
    }
    let mut path = Path::new();
    match map_file(img, &mut path) {
        Ok(()) => true,
        Err(e) => {
            warn_no_file(e, &path);
            // Private memory rather than the parent's file.
            // SAFETY: as in fill_and_map.
            let anon = unsafe { sys::map_fixed(&STATS as *const Stats as usize, PAGE, -1, 0) };
            MAPPED.store(false, Ordering::Release);
            if anon.is_err() {
                PARENTS.store(true, Ordering::Relaxed);
                return false;
            }
            true
        }
    }
}

extern "C" fn exit_handler() {
    before_exit();
}

/// The end of the process (`exit` runs it as an `atexit` handler; kaio's
/// `_exit` calls it): mark the file, print if asked. Async-signal-safe.
pub fn before_exit() {
    let owner = OWNER.load(Ordering::Relaxed);
    if owner == 0 || owner != sys::getpid() {
        // No hooks: nothing to do; or a vfork() child, whose memory, and
        // counters, are its parent's.
        return;
    }
    if EXITED.swap(true, Ordering::AcqRel) {
        return;
    }
    if MAPPED.load(Ordering::Acquire) {
        record_comm();
        STATS.set_flag(FLAG_EXITED);
    }
    // A fork child that did no AIO has nothing to say.
    let idle_child = CHILD.load(Ordering::Relaxed) && STATS.submitted.load(Ordering::Relaxed) == 0;
    if SHOW.load(Ordering::Relaxed) && !idle_child {
        print_stats();
    }
}

fn print_stats() {
    let mut out = Out::<4096>::new();
    out.push(b"kaio: statistics (pid ");
    out.number(sys::getpid() as u64);
    out.push(b")\n");
    if STATS.flag(FLAG_DISABLED) {
        out.push(b"kaio:   disabled (KAIO_DISABLE): every call went to glibc\n");
    }
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
    out.to_stderr();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_without_allocation() {
        let mut out = Out::<64>::new();
        for v in [0, 7, 10, 1234567890, u64::MAX] {
            out.number(v);
            out.push(b" ");
        }
        assert_eq!(out.text(), b"0 7 10 1234567890 18446744073709551615 ");
        let mut small = Out::<4>::new();
        small.push(b"abcdef");
        assert_eq!(small.text(), b"abcd");
        assert!(!small.fits());
    }

    #[test]
    fn every_counter_has_a_name() {
        let mut names = Vec::new();
        STATS.each(|n, _| names.push(n.to_string()));
        for n in &names {
            assert!(STATS.by_name(n.as_bytes()).is_some(), "{n}");
        }
        assert_eq!(names.len(), COUNT);
        assert!(names.iter().zip(NAMES).all(|(a, (b, _))| a == b));
        assert!(names.iter().any(|n| n == "submitted"));
        assert_eq!(STATS.by_name(b"no such counter"), None);
    }

    #[test]
    fn the_page_layout_is_the_files() {
        let base = &STATS as *const Stats as usize;
        assert_eq!(base % PAGE, 0);
        assert_eq!(&STATS.submitted as *const AtomicU64 as usize, base);
        assert_eq!(&STATS.comm as *const _ as usize - base, 4072);
        assert_eq!(&STATS.flags as *const AtomicU64 as usize - base, 4088);
    }
}
