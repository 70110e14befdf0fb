//! kaio: the POSIX asynchronous I/O API of `<aio.h>`, with glibc's x86_64
//! ABI, executed on Linux's native AIO (`io_submit`) instead of a pool of
//! user threads.
//!
//! Layers: [`ffi`] holds every `extern "C"` export and turns errors into
//! `-1` + `errno`; `engine` does the work; `sys` is the only module that
//! makes system calls. [`abi`] is glibc's `struct aiocb`; [`api`] is a safe
//! Rust view of kaio's extensions.
//!
//! Most users never see this crate: they preload or link `libkaio.so` and
//! keep calling `aio_read` from C (see the README and `man 7 kaio`).

#![deny(unsafe_op_in_unsafe_fn)]

pub mod abi;
pub mod api;
mod engine;
pub mod ffi;
mod passthrough;
mod sys;
