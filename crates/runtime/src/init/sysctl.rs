//! `linux.sysctl`, written by the init inside the container's namespaces (a sysctl under
//! `net.` or an IPC one acts on the writer's namespace). Never through a path the
//! container's tree could redirect: through a fresh procfs instance of our own (attached
//! nowhere, so nothing can be mounted over its files), or, where the kernel refuses one,
//! the container's `/proc` checked to be a procfs; the file is then opened beneath it
//! without following a symlink or crossing a mount.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags};

/// `PROC_SUPER_MAGIC`: the file system type of procfs.
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// A descriptor of a procfs root for the calling process's namespaces.
pub fn open_proc() -> std::io::Result<OwnedFd> {
    let fresh = (|| {
        let fs = rustix::mount::fsopen("proc", FsOpenFlags::FSOPEN_CLOEXEC)?;
        rustix::mount::fsconfig_create(&fs)?;
        rustix::mount::fsmount(
            &fs,
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_NODEV | MountAttrFlags::MOUNT_ATTR_NOEXEC,
        )
    })();
    let proc = match fresh {
        Ok(fd) => fd,
        Err(_) => rustix::fs::openat2(
            rustix::fs::CWD,
            "/proc",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )?,
    };
    if rustix::fs::fstatfs(&proc)?.f_type as i64 != PROC_SUPER_MAGIC {
        return Err(std::io::Error::other("/proc is not a procfs"));
    }
    Ok(proc)
}

/// `net.ipv4.ip_forward` as `sys/net/ipv4/ip_forward` (the spec check refused any name
/// with `/` or an empty or `..` part).
fn relative_path(key: &str) -> PathBuf {
    let mut path = PathBuf::from("sys");
    for part in key.split('.') {
        path.push(part);
    }
    path
}

/// Writes `value` to sysctl `key` through `proc` (from [`open_proc`]).
pub fn write(proc: &OwnedFd, key: &str, value: &str) -> std::io::Result<()> {
    let fd = rustix::fs::openat2(
        proc,
        relative_path(key),
        OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_XDEV,
    )?;
    std::fs::File::from(fd).write_all(value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_to_paths() {
        assert_eq!(relative_path("net.ipv4.ip_forward"), PathBuf::from("sys/net/ipv4/ip_forward"));
    }
}
