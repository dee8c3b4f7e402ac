//! The kernel's key retention service (`add_key(2)`, `keyctl(2)`), for the tests that
//! check a container cannot reach the host's keyrings.

use std::ffi::CStr;
use std::io;

/// `KEY_SPEC_USER_KEYRING`: the calling user's keyring.
pub const USER_KEYRING: i32 = -4;

const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
const KEYCTL_UNLINK: libc::c_long = 9;
const KEYCTL_SEARCH: libc::c_long = 10;
const KEYCTL_READ: libc::c_long = 11;

fn result(ret: libc::c_long) -> io::Result<i64> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// Adds a key of type `user` named `description` to `keyring`; returns its serial.
pub fn add_user_key(description: &CStr, payload: &[u8], keyring: i32) -> io::Result<i32> {
    // SAFETY: add_key reads the two NUL-terminated strings and `payload.len()` bytes of
    // the payload during the call only.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            c"user".as_ptr(),
            description.as_ptr(),
            payload.as_ptr(),
            payload.len(),
            keyring as libc::c_long,
        )
    };
    result(ret).map(|k| k as i32)
}

/// The serial of a special keyring (`USER_KEYRING`, ...), without creating it.
pub fn keyring_id(special: i32) -> io::Result<i32> {
    // SAFETY: KEYCTL_GET_KEYRING_ID takes two integers and touches no memory of ours.
    let ret = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_GET_KEYRING_ID, special as libc::c_long, 0) };
    result(ret).map(|k| k as i32)
}

/// Searches `keyring` (recursively) for a `user` key named `description`.
pub fn search_user_key(keyring: i32, description: &CStr) -> io::Result<i32> {
    // SAFETY: KEYCTL_SEARCH reads the two NUL-terminated strings during the call only;
    // destination keyring 0 links the result nowhere.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_SEARCH,
            keyring as libc::c_long,
            c"user".as_ptr(),
            description.as_ptr(),
            0 as libc::c_long,
        )
    };
    result(ret).map(|k| k as i32)
}

/// The payload of key `key` (at most 4096 bytes).
pub fn read_key(key: i32) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: KEYCTL_READ writes at most `buf.len()` bytes into `buf`, which lives
    // through the call.
    let ret = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_READ, key as libc::c_long, buf.as_mut_ptr(), buf.len()) };
    let n = result(ret)? as usize;
    buf.truncate(n.min(4096));
    Ok(buf)
}

/// Unlinks key `key` from `keyring`.
pub fn unlink_key(key: i32, keyring: i32) -> io::Result<()> {
    // SAFETY: KEYCTL_UNLINK takes two integers and touches no memory of ours.
    let ret = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_UNLINK, key as libc::c_long, keyring as libc::c_long) };
    result(ret).map(|_| ())
}
