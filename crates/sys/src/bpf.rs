//! The few `bpf(2)` commands a runtime needs to confine a cgroup's device access: load a
//! program, attach it to a cgroup, list and detach what is attached. `libc` has the
//! system call number but not `union bpf_attr`; each command's part of it is declared
//! here as its own `repr(C)` struct (the kernel accepts a shorter attr, the rest zero).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `BPF_PROG_TYPE_CGROUP_DEVICE`: a program that decides each device access of a cgroup.
pub const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE`: the attach type of device programs.
pub const ATTACH_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`: several programs on one cgroup, all of which must allow.
pub const F_ALLOW_MULTI: u32 = 2;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;

/// The `BPF_PROG_LOAD` part of `union bpf_attr` (up to `expected_attach_type`).
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH` / `BPF_PROG_DETACH` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// The `BPF_PROG_QUERY` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct ProgQuery {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    // Explicit, so that it is zero: newer kernels read fields after it.
    _pad: u32,
}

/// The `BPF_PROG_GET_FD_BY_ID` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct GetFdById {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `bpf(cmd, attr, sizeof attr)`.
///
/// # Safety
/// `attr` must be the struct the kernel expects for `cmd`, and every address inside it
/// must point at memory valid (and writable where the kernel writes) for the call.
unsafe fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: the caller vouches for `attr`'s layout and the addresses in it; the kernel
    // reads (and for some commands writes) exactly `size_of::<T>()` bytes of it.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>()) };
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// Loads `program` (eBPF instructions, 8 bytes each, in the machine's byte order) as a
/// program of `prog_type` under `license`. When the verifier refuses it, the error
/// carries the verifier's log.
pub fn prog_load(prog_type: u32, program: &[u8], license: &CStr) -> io::Result<OwnedFd> {
    if program.is_empty() || !program.len().is_multiple_of(8) || program.len() / 8 > u32::MAX as usize {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let load = |log: Option<&mut [u8]>| -> io::Result<OwnedFd> {
        let mut attr = ProgLoad {
            prog_type,
            insn_cnt: (program.len() / 8) as u32,
            insns: program.as_ptr() as u64,
            license: license.as_ptr() as u64,
            ..Default::default()
        };
        if let Some(log) = log {
            attr.log_level = 1;
            attr.log_size = log.len().min(u32::MAX as usize) as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
        }
        // SAFETY: `attr` is the PROG_LOAD layout; `insns` points at `program` (a whole
        // number of instructions, counted in insn_cnt), `license` at a NUL-terminated
        // string, `log_buf` (if set) at a writable buffer of `log_size` bytes: all
        // borrowed for the call. The kernel copies what it needs.
        let fd = unsafe { bpf(BPF_PROG_LOAD, &mut attr)? };
        // SAFETY: on success the kernel returned a new descriptor that nobody else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    };
    match load(None) {
        Ok(fd) => Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::EACCES) || e.raw_os_error() == Some(libc::EINVAL) => {
            // Once more, for the verifier's reason.
            let mut log = vec![0u8; 64 * 1024];
            let again = load(Some(&mut log));
            let text = CStr::from_bytes_until_nul(&log).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            match again {
                Ok(fd) => Ok(fd),
                Err(e) => Err(io::Error::new(e.kind(), format!("{e}; verifier: {}", text.trim()))),
            }
        }
        Err(e) => Err(e),
    }
}

/// Attaches `prog` to the cgroup directory `cgroup` as `attach_type` with `flags`.
pub fn prog_attach(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>, attach_type: u32, flags: u32) -> io::Result<()> {
    let mut attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        attach_flags: flags,
        ..Default::default()
    };
    // SAFETY: `attr` is the PROG_ATTACH layout and holds only integers; both descriptors
    // are borrowed, so open, for the call.
    unsafe { bpf(BPF_PROG_ATTACH, &mut attr)? };
    Ok(())
}

/// Detaches `prog` (attached as `attach_type`) from the cgroup directory `cgroup`.
pub fn prog_detach(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>, attach_type: u32) -> io::Result<()> {
    let mut attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        ..Default::default()
    };
    // SAFETY: `attr` is the PROG_DETACH layout and holds only integers; both descriptors
    // are borrowed, so open, for the call.
    unsafe { bpf(BPF_PROG_DETACH, &mut attr)? };
    Ok(())
}

/// The ids of the programs attached as `attach_type` to the cgroup directory `cgroup`
/// itself (not those inherited from its ancestors).
pub fn prog_query(cgroup: BorrowedFd<'_>, attach_type: u32) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 16];
    loop {
        let mut attr = ProgQuery {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        // SAFETY: `attr` is the PROG_QUERY layout; `prog_ids` points at `ids`, writable
        // for `prog_cnt` u32s, borrowed for the call; the descriptor is open.
        match unsafe { bpf(BPF_PROG_QUERY, &mut attr) } {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) && ids.len() < 1 << 16 => {
                ids = vec![0; (attr.prog_cnt as usize).max(ids.len() * 2)];
            }
            Err(e) => return Err(e),
        }
    }
}

/// A descriptor of the loaded program with id `id`.
pub fn prog_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetFdById { prog_id: id, ..Default::default() };
    // SAFETY: `attr` is the GET_FD_BY_ID layout and holds only integers.
    let fd = unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)? };
    // SAFETY: on success the kernel returned a new descriptor that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
