//! `KAIO_DISABLE=1`: forward every POSIX AIO call to the next definition
//! in the process — glibc's — found with `dlsym(RTLD_NEXT)`, for A/B
//! comparisons in the field without relinking or removing the preload.

use core::ffi::{c_int, c_void};

use crate::abi::{AioCb, AioInit, SigEvent};
use crate::engine::ForkLazy;

/// glibc's own entry points.
pub struct Glibc {
    pub aio_read: unsafe extern "C" fn(*mut AioCb) -> c_int,
    pub aio_write: unsafe extern "C" fn(*mut AioCb) -> c_int,
    pub aio_error: unsafe extern "C" fn(*const AioCb) -> c_int,
    pub aio_return: unsafe extern "C" fn(*mut AioCb) -> isize,
    pub aio_suspend:
        unsafe extern "C" fn(*const *const AioCb, c_int, *const libc::timespec) -> c_int,
    pub aio_cancel: unsafe extern "C" fn(c_int, *mut AioCb) -> c_int,
    pub aio_fsync: unsafe extern "C" fn(c_int, *mut AioCb) -> c_int,
    pub lio_listio: unsafe extern "C" fn(c_int, *const *mut AioCb, c_int, *mut SigEvent) -> c_int,
    pub aio_init: unsafe extern "C" fn(*const AioInit),
}

/// Fork-safe, like the engine's lazily created state.
static GLIBC: ForkLazy<Option<Glibc>> = ForkLazy::new();

fn next(name: &core::ffi::CStr) -> Option<*mut c_void> {
    // SAFETY: dlsym with a NUL-terminated name; RTLD_NEXT searches the
    // objects loaded after libkaio (libc).
    let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
    (!p.is_null()).then_some(p)
}

/// A symbol's address as the function pointer type `F`.
///
/// # Safety
/// `p` must be the address of a function whose C signature is `F`.
unsafe fn cast<F: Copy>(p: *mut c_void) -> F {
    const { assert!(core::mem::size_of::<F>() == core::mem::size_of::<*mut c_void>()) };
    // SAFETY: same size (checked above); caller's contract for the type.
    unsafe { core::mem::transmute_copy::<*mut c_void, F>(&p) }
}

fn resolve() -> Option<Glibc> {
    // SAFETY: each symbol is glibc's function of that name, whose C
    // signature is the one given here (the same as kaio's export).
    unsafe {
        Some(Glibc {
            aio_read: cast(next(c"aio_read")?),
            aio_write: cast(next(c"aio_write")?),
            aio_error: cast(next(c"aio_error")?),
            aio_return: cast(next(c"aio_return")?),
            aio_suspend: cast(next(c"aio_suspend")?),
            aio_cancel: cast(next(c"aio_cancel")?),
            aio_fsync: cast(next(c"aio_fsync")?),
            lio_listio: cast(next(c"lio_listio")?),
            aio_init: cast(next(c"aio_init")?),
        })
    }
}

/// glibc's functions if kaio is disabled. Decides (once) from an ordinary
/// context: the submission calls.
pub fn glibc() -> Option<&'static Glibc> {
    GLIBC
        .get_or_init(|| {
            if !crate::engine::disabled() {
                return None;
            }
            let g = resolve();
            if g.is_none() {
                crate::engine::warn("kaio: KAIO_DISABLE=1 but glibc's aio functions were not found: kaio stays on\n");
            }
            g
        })
        .as_ref()
}

/// The same, for async-signal-safe callers: never initialises (a process
/// that has submitted nothing has nothing to ask about).
pub fn glibc_if_known() -> Option<&'static Glibc> {
    GLIBC.get().and_then(Option::as_ref)
}
