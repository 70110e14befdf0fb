//! kaio: the POSIX asynchronous I/O API of `<aio.h>`, with glibc's x86_64
//! ABI, executed on Linux's native AIO (`io_submit`) instead of a pool of
//! user threads.
//!
//! Layers: [`ffi`] holds every `extern "C"` export and turns errors into
//! `-1` + `errno`; `engine` does the work; `sys` is the only module that
//! makes system calls.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod abi;
mod engine;
pub mod ffi;
mod passthrough;
mod sys;
