//! glibc's x86_64 `struct aiocb` (== `struct aiocb64`, 168 bytes) and
//! `struct sigevent`, with kaio's use of the private fields.
//!
//! A request's whole state lives in the caller's aiocb, so `aio_error` and
//! `aio_return` need no lookup table and no lock:
//!
//! | offset | glibc name        | kaio's use                                  |
//! |-------:|-------------------|---------------------------------------------|
//! | 96     | `__next_prio`     | the `lio_listio` group the request belongs to |
//! | 104    | `__abs_prio`      | request flags ([`flags`])                    |
//! | 108    | `__policy`        | write-barrier parity of a write             |
//! | 112    | `__error_code`    | `aio_error` value, published last (release) |
//! | 120    | `__return_value`  | `aio_return` value, published first         |
//! | 116    | (padding)         | kaio's own descriptor for the request's file |
//! | 136    | `__glibc_reserved`| link for lists kaio holds (held fsyncs, queues) |
//! | 144    | (reserved)        | bytes done by earlier partial transfers     |
//! | 152    | (reserved)        | the file's inode number (identity check)    |
//! | 160    | (reserved)        | the file's device number (identity check)   |
//! | 164    | (reserved)        | submission number (`aio_waitcomplete`)      |

use core::ffi::{c_int, c_void};
use core::mem::{offset_of, size_of};
use core::sync::atomic::{AtomicI32, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};

/// `union sigval`.
pub type SigVal = usize;

/// `struct sigevent`, glibc x86_64 (64 bytes).
#[repr(C)]
pub struct SigEvent {
    pub sigev_value: SigVal,
    pub sigev_signo: c_int,
    pub sigev_notify: c_int,
    /// `_sigev_un`: `_tid` (SIGEV_THREAD_ID) or `_function` (SIGEV_THREAD).
    pub sigev_notify_function: usize,
    /// `_attribute` (SIGEV_THREAD).
    pub sigev_notify_attributes: *mut c_void,
    _pad: [u8; 32],
}

impl SigEvent {
    /// The target thread of `SIGEV_THREAD_ID` (aliases the function slot).
    pub fn thread_id(&self) -> c_int {
        self.sigev_notify_function as u32 as c_int
    }
}

/// `struct aiocb` / `struct aiocb64`, glibc x86_64.
#[repr(C)]
pub struct AioCb {
    pub aio_fildes: c_int,
    pub aio_lio_opcode: c_int,
    pub aio_reqprio: c_int,
    pub aio_buf: *mut c_void,
    pub aio_nbytes: usize,
    pub aio_sigevent: SigEvent,
    /// `__next_prio`: the request's `lio_listio` group, or null.
    pub(crate) group: AtomicPtr<c_void>,
    /// `__abs_prio`: [`flags`].
    pub(crate) flags: AtomicU32,
    /// `__policy`: write-barrier parity of a write.
    pub(crate) parity: AtomicU32,
    /// `__error_code`.
    pub(crate) error_code: AtomicI32,
    /// kaio's duplicate of `aio_fildes` while [`flags::BOUND`]: the open
    /// file the request was submitted on, whatever the program does with
    /// the number meanwhile.
    pub(crate) bound_fd: AtomicI32,
    /// `__return_value`.
    pub(crate) return_value: AtomicIsize,
    pub aio_offset: i64,
    /// First 8 bytes of `__glibc_reserved`: link in a list kaio holds.
    pub(crate) link: AtomicPtr<AioCb>,
    /// Bytes already transferred by earlier partial attempts.
    pub(crate) progress: AtomicUsize,
    /// `st_ino` of the file when the request was accepted (0: not recorded).
    pub(crate) file_ino: AtomicU64,
    /// `st_dev` of the file, folded to 32 bits.
    pub(crate) file_dev: AtomicU32,
    /// Submission number of an enrolled request (`aio_waitcomplete`).
    pub(crate) generation: AtomicU32,
}

/// Bits of the aiocb's private flags word, valid while the request is in
/// progress.
pub mod flags {
    /// The request is (or was) in the kernel's hands.
    pub const KERNEL: u32 = 1 << 0;
    /// The request waits in a kaio queue (a held fsync): cancellable.
    pub const HELD: u32 = 1 << 1;
    /// The request is a write tracked by the fsync barrier.
    pub const WRITE: u32 = 1 << 2;
    /// Completion needs a notification (signal or thread).
    pub const NOTIFY: u32 = 1 << 3;
    /// The request runs on a kaio thread.
    pub const THREAD: u32 = 1 << 4;
    /// Counted in the per-fd in-flight table (from acceptance to publication).
    pub const FD_COUNTED: u32 = 1 << 5;
    /// Waiting for readiness with the kernel's `IOCB_CMD_POLL`.
    pub const POLL: u32 = 1 << 6;
    /// Waiting in the ring-full queue (cancellable until submitted).
    pub const QUEUED: u32 = 1 << 7;
    /// Part of a per-fd ordered lane (O_APPEND or non-seekable writes,
    /// stream reads): its completion starts the next one.
    pub const LANE: u32 = 1 << 8;
    /// Waiting in a lane behind an earlier request (cancellable).
    pub const LANE_WAIT: u32 = 1 << 9;
    /// The descriptor is a socket (writes use MSG_NOSIGNAL).
    pub const SOCKET: u32 = 1 << 10;
    /// The descriptor is a pipe, socket, tty or other stream.
    pub const STREAM: u32 = 1 << 11;
    /// Reported to `aio_waitcomplete` when it completes.
    pub const ENROLLED: u32 = 1 << 12;
    /// Has waited for readiness at least once (counted once in the stats).
    pub const POLLED: u32 = 1 << 13;
    /// `bound_fd` holds kaio's duplicate of the descriptor.
    pub const BOUND: u32 = 1 << 14;
    /// An enrolled request already reported (by `aio_return` or
    /// `aio_waitcomplete`): never reported again.
    pub const REAPED: u32 = 1 << 15;
    /// `file_ino`/`file_dev` identify the file (checked before late I/O).
    pub const IDENTIFIED: u32 = 1 << 16;
    /// The reaper must route this request to a thread (the kernel refused
    /// it where a signal-safe caller could not).
    pub const TO_THREAD: u32 = 1 << 17;
    /// A stream the kernel's poll cannot watch (a signalfd): a thread of
    /// its own does the blocking transfer.
    pub const NO_POLL: u32 = 1 << 18;
    /// The descriptor refused a non-blocking attempt (EOPNOTSUPP): only a
    /// blocking call serves it.
    pub const UNSUPPORTED: u32 = 1 << 19;
    /// Bits 20..32: the in-flight stamp (see `engine::accept`).
    pub const STAMP_SHIFT: u32 = 20;
    pub const LOW_MASK: u32 = (1 << STAMP_SHIFT) - 1;
}

// The layout must be glibc's, byte for byte.
const _: () = {
    assert!(size_of::<AioCb>() == 168);
    assert!(size_of::<AioCb>() == size_of::<libc::aiocb>());
    assert!(core::mem::align_of::<AioCb>() == core::mem::align_of::<libc::aiocb>());
    assert!(offset_of!(AioCb, aio_fildes) == offset_of!(libc::aiocb, aio_fildes));
    assert!(offset_of!(AioCb, aio_lio_opcode) == offset_of!(libc::aiocb, aio_lio_opcode));
    assert!(offset_of!(AioCb, aio_reqprio) == offset_of!(libc::aiocb, aio_reqprio));
    assert!(offset_of!(AioCb, aio_buf) == offset_of!(libc::aiocb, aio_buf));
    assert!(offset_of!(AioCb, aio_nbytes) == offset_of!(libc::aiocb, aio_nbytes));
    assert!(offset_of!(AioCb, aio_sigevent) == offset_of!(libc::aiocb, aio_sigevent));
    assert!(offset_of!(AioCb, aio_offset) == offset_of!(libc::aiocb, aio_offset));
    // Private fields (not visible in `libc::aiocb`): glibc's offsets.
    assert!(offset_of!(AioCb, group) == 96);
    assert!(offset_of!(AioCb, flags) == 104);
    assert!(offset_of!(AioCb, parity) == 108);
    assert!(offset_of!(AioCb, error_code) == 112);
    assert!(offset_of!(AioCb, return_value) == 120);
    assert!(offset_of!(AioCb, bound_fd) == 116);
    assert!(offset_of!(AioCb, link) == 136);
    assert!(offset_of!(AioCb, progress) == 144);
    assert!(offset_of!(AioCb, file_ino) == 152);
    assert!(offset_of!(AioCb, file_dev) == 160);
    assert!(offset_of!(AioCb, generation) == 164);
    assert!(size_of::<SigEvent>() == size_of::<libc::sigevent>());
    assert!(offset_of!(SigEvent, sigev_value) == offset_of!(libc::sigevent, sigev_value));
    assert!(offset_of!(SigEvent, sigev_signo) == offset_of!(libc::sigevent, sigev_signo));
    assert!(offset_of!(SigEvent, sigev_notify) == offset_of!(libc::sigevent, sigev_notify));
    assert!(offset_of!(SigEvent, sigev_notify_function) == 16);
    assert!(offset_of!(SigEvent, sigev_notify_attributes) == 24);
};

/// `<aio.h>` constants (glibc values).
pub const LIO_READ: c_int = 0;
pub const LIO_WRITE: c_int = 1;
pub const LIO_NOP: c_int = 2;
pub const LIO_WAIT: c_int = 0;
pub const LIO_NOWAIT: c_int = 1;
pub const AIO_CANCELED: c_int = 0;
pub const AIO_NOTCANCELED: c_int = 1;
pub const AIO_ALLDONE: c_int = 2;
/// `AIO_PRIO_DELTA_MAX`: `aio_reqprio` must lie in `0..=20`.
pub const AIO_PRIO_DELTA_MAX: c_int = 20;

/// `struct aioinit` (glibc extension for `aio_init`).
#[repr(C)]
pub struct AioInit {
    pub aio_threads: c_int,
    pub aio_num: c_int,
    pub aio_locks: c_int,
    pub aio_usedba: c_int,
    pub aio_debug: c_int,
    pub aio_numusers: c_int,
    pub aio_idle_time: c_int,
    pub aio_reserved: c_int,
}
