//! The engine through its C ABI, from Rust: kernel path, ring reaping,
//! fsync ordering, lio_listio, cancel. Files live in target/ (a real disk,
//! so O_DIRECT works).

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests may panic

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use kaio::abi::AioCb;
use kaio::ffi;

fn temp_file(name: &str, len: usize) -> (i32, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("{name}.{}", std::process::id()));
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &data).expect("write temp file");
    let c = CString::new(path.as_os_str().as_bytes()).expect("path");
    // SAFETY: valid C string.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR) };
    assert!(fd >= 0);
    (fd, path)
}

fn cb(fd: i32, buf: *mut u8, len: usize, off: i64) -> Box<AioCb> {
    // SAFETY: an all-zero aiocb is what C callers get from memset.
    let mut cb: Box<AioCb> = Box::new(unsafe { std::mem::zeroed() });
    cb.aio_fildes = fd;
    cb.aio_buf = buf.cast();
    cb.aio_nbytes = len;
    cb.aio_offset = off;
    cb.aio_sigevent.sigev_notify = libc::SIGEV_NONE;
    cb
}

fn wait(cb: &AioCb) {
    let list = [cb as *const AioCb];
    // SAFETY: a valid one-entry list.
    while unsafe { ffi::aio_error(cb) } == libc::EINPROGRESS {
        let _ = unsafe { ffi::aio_suspend(list.as_ptr(), 1, std::ptr::null()) };
    }
}

fn counter(name: &str) -> u64 {
    let c = CString::new(name).expect("name");
    // SAFETY: valid C string.
    unsafe { ffi::kaio_counter(c.as_ptr()) }
}

#[test]
fn buffered_read_is_served_inline_from_the_page_cache() {
    let (fd, path) = temp_file("read", 65536);
    let mut buf = vec![0u8; 4096];
    let mut c = cb(fd, buf.as_mut_ptr(), 4096, 8192);
    let inline_before = counter("inline");
    // SAFETY: buffer and aiocb outlive the request.
    assert_eq!(unsafe { ffi::aio_read(&mut *c) }, 0);
    // Just written, so cached: done before aio_read returned.
    assert_eq!(unsafe { ffi::aio_error(&*c) }, 0);
    assert_eq!(unsafe { ffi::aio_return(&mut *c) }, 4096);
    assert!(
        buf.iter()
            .enumerate()
            .all(|(i, &b)| b == ((8192 + i) * 7 % 251) as u8)
    );
    assert!(counter("inline") > inline_before);
    unsafe { libc::close(fd) };
    let _ = std::fs::remove_file(path);
}

#[test]
fn direct_read_goes_to_the_kernel() {
    let (fd, path) = temp_file("dread", 65536);
    let c_path = CString::new(path.as_os_str().as_bytes()).expect("path");
    // SAFETY: valid C string.
    let dfd = unsafe { libc::open(c_path.as_ptr(), libc::O_RDONLY | libc::O_DIRECT) };
    if dfd < 0 {
        // No O_DIRECT on this file system: nothing to check here.
        unsafe { libc::close(fd) };
        return;
    }
    let mut raw = vec![0u8; 3 * 4096];
    let off = raw.as_ptr().align_offset(4096);
    let buf = raw[off..off + 4096].as_mut_ptr();
    let mut c = cb(dfd, buf, 4096, 8192);
    let kernel_before = counter("kernel");
    // SAFETY: buffer and aiocb outlive the request.
    assert_eq!(unsafe { ffi::aio_read(&mut *c) }, 0);
    wait(&c);
    assert_eq!(unsafe { ffi::aio_error(&*c) }, 0);
    assert_eq!(unsafe { ffi::aio_return(&mut *c) }, 4096);
    let got = &raw[off..off + 4096];
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, &b)| b == ((8192 + i) * 7 % 251) as u8)
    );
    assert!(counter("kernel") > kernel_before);
    unsafe { libc::close(dfd) };
    unsafe { libc::close(fd) };
    let _ = std::fs::remove_file(path);
}

#[test]
fn fsync_completes_after_every_earlier_write() {
    let (fd, path) = temp_file("fsync", 0);
    let mut bufs: Vec<Vec<u8>> = (0..16).map(|i| vec![i as u8; 4096]).collect();
    let mut cbs: Vec<Box<AioCb>> = bufs
        .iter_mut()
        .enumerate()
        .map(|(i, b)| cb(fd, b.as_mut_ptr(), 4096, (i * 4096) as i64))
        .collect();
    for c in &mut cbs {
        // SAFETY: buffers and aiocbs outlive the requests.
        assert_eq!(unsafe { ffi::aio_write(&mut **c) }, 0);
    }
    let mut s = cb(fd, std::ptr::null_mut(), 0, 0);
    assert_eq!(unsafe { ffi::aio_fsync(libc::O_SYNC, &mut *s) }, 0);
    wait(&s);
    assert_eq!(unsafe { ffi::aio_error(&*s) }, 0);
    for c in &mut cbs {
        // Published before the fsync completed: a plain load must show it.
        assert_eq!(unsafe { ffi::aio_error(&**c) }, 0);
        assert_eq!(unsafe { ffi::aio_return(&mut **c) }, 4096);
    }
    assert_eq!(std::fs::metadata(&path).expect("stat").len(), 16 * 4096);
    unsafe { libc::close(fd) };
    let _ = std::fs::remove_file(path);
}

#[test]
fn lio_wait_reports_eio_when_one_entry_fails() {
    let (fd, path) = temp_file("lio", 16384);
    let mut a = vec![0u8; 4096];
    let mut b = vec![0u8; 4096];
    let mut good = cb(fd, a.as_mut_ptr(), 4096, 0);
    good.aio_lio_opcode = 0;
    let mut bad = cb(-1, b.as_mut_ptr(), 4096, 0);
    bad.aio_lio_opcode = 0;
    let list = [
        &mut *good as *mut AioCb,
        std::ptr::null_mut(),
        &mut *bad as *mut AioCb,
    ];
    // SAFETY: valid list of 3 entries.
    let r = unsafe { ffi::lio_listio(0, list.as_ptr(), 3, std::ptr::null_mut()) };
    assert_eq!(r, -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::EIO)
    );
    assert_eq!(unsafe { ffi::aio_error(&*good) }, 0);
    assert_eq!(unsafe { ffi::aio_error(&*bad) }, libc::EBADF);
    unsafe { libc::close(fd) };
    let _ = std::fs::remove_file(path);
}

#[test]
fn bad_arguments_get_posix_errnos() {
    // SAFETY: null pointers are what is being tested; kaio rejects them.
    unsafe {
        assert_eq!(ffi::aio_read(std::ptr::null_mut()), -1);
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EINVAL)
        );
        assert_eq!(ffi::aio_suspend(std::ptr::null(), -1, std::ptr::null()), -1);
        assert_eq!(
            ffi::lio_listio(5, std::ptr::null(), 0, std::ptr::null_mut()),
            -1
        );
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EINVAL)
        );
        assert_eq!(ffi::aio_cancel(-1, std::ptr::null_mut()), -1);
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EBADF)
        );
    }
    let mut c = cb(0, std::ptr::null_mut(), 0, 0);
    c.aio_reqprio = 21;
    assert_eq!(unsafe { ffi::aio_read(&mut *c) }, -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::EINVAL)
    );
}
