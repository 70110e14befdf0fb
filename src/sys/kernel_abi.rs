//! Kernel structures of native AIO (`include/uapi/linux/aio_abi.h`) and the
//! user-mapped completion ring (`fs/aio.c`, `struct aio_ring`).

/// `IOCB_CMD_*` opcodes.
pub const IOCB_CMD_PREAD: u16 = 0;
pub const IOCB_CMD_PWRITE: u16 = 1;
pub const IOCB_CMD_FSYNC: u16 = 2;
pub const IOCB_CMD_FDSYNC: u16 = 3;
pub const IOCB_CMD_POLL: u16 = 5;
pub const IOCB_CMD_PREADV: u16 = 7;
pub const IOCB_CMD_PWRITEV: u16 = 8;

/// `struct iocb`: what `io_submit` reads. The kernel copies it during the
/// call, so it may live on the submitter's stack.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct Iocb {
    pub aio_data: u64,
    pub aio_key: u32,
    pub aio_rw_flags: i32,
    pub aio_lio_opcode: u16,
    pub aio_reqprio: i16,
    pub aio_fildes: u32,
    pub aio_buf: u64,
    pub aio_nbytes: u64,
    pub aio_offset: i64,
    pub aio_reserved2: u64,
    pub aio_flags: u32,
    pub aio_resfd: u32,
}

/// `struct io_event`: one completion.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct IoEvent {
    pub data: u64,
    pub obj: u64,
    pub res: i64,
    pub res2: i64,
}

/// Header of the completion ring that `io_setup` maps at the address it
/// returns as the context id.
#[repr(C)]
pub struct AioRingHeader {
    pub id: u32,
    pub nr: u32,
    pub head: u32,
    pub tail: u32,
    pub magic: u32,
    pub compat_features: u32,
    pub incompat_features: u32,
    pub header_length: u32,
}

pub const AIO_RING_MAGIC: u32 = 0xa10a_10a1;

const _: () = assert!(core::mem::size_of::<Iocb>() == 64);
const _: () = assert!(core::mem::size_of::<IoEvent>() == 32);
const _: () = assert!(core::mem::size_of::<AioRingHeader>() == 32);
