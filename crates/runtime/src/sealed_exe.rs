//! CVE-2019-5736: the program a process that enters a container runs from must not be a
//! writable host file.
//!
//! A process the runtime starts in a container (the init, an exec's child) is a fork of
//! the runtime until it execs the user's program, so its /proc/PID/exe is the runtime's
//! own binary; and a container's `#!/proc/self/exe` script makes that very exec load the
//! runtime's binary again, inside the container, dumpable. A container process that opens
//! it there can reopen it for writing once it is no longer executing and replace the
//! host's runtime. So every binary whose code crosses into a container
//! (`lindocker-runtime` for `create`/`run`/`exec`, `lindocker-shim`, which calls the
//! runtime's library in a fork) first re-executes itself from a sealed image:
//!
//! - a private overlayfs mount (never attached anywhere) whose only layers are the
//!   binary's directory and an empty directory: an overlay without an upper layer is
//!   read-only in its superblock, so every open for writing fails with EROFS, and no
//!   mount flag a container could change makes it writable (runc's `exeseal` does the
//!   same). It costs a few system calls and no copy: the pages are the binary's own.
//! - if that fails (no overlayfs, a file system overlayfs refuses), a copy in a memfd
//!   sealed against writing, growing and shrinking (runc's and crun's older method).
//!
//! The engine starts the shim (in the spawned child) and the runtime for `exec` from such
//! an image already, so that [`ensure`] finds them sealed and no second exec is needed;
//! any other caller (an admin, containerd) gets the re-exec.
//!
//! The original path travels in `LINDOCKER_SEALED_FROM`, trusted only by a process that
//! runs sealed, for code that looks for the binaries installed beside it.
//!
//! As with runc's overlay, the host's file itself is not write-locked while a sealed
//! process runs it (no ETXTBSY for the host's root): replace an installed binary by
//! renaming a new file over it, as installers do, not by writing into it.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags, SealFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags};

/// The path of the binary a sealed process was made from.
pub const ORIGIN_ENV: &str = "LINDOCKER_SEALED_FROM";
/// The pid that re-executed itself sealed (exec keeps the pid): a second attempt in the
/// same process means the sealing did not take, and is an error rather than a loop.
const PID_ENV: &str = "LINDOCKER_SEALED_PID";
/// overlayfs' `f_type`.
const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
/// The empty directory under the binary's directory in the overlay (overlayfs wants two
/// layers when it has no upper one). Root's, on /run.
const EMPTY_LAYER: &str = "/run/lindocker-empty-layer";
/// The seals a memfd copy must carry.
fn memfd_seals() -> SealFlags {
    SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE
}

/// Whether this process runs from a sealed image: a sealed memfd, or a file on a
/// read-only overlayfs (ours).
pub fn running_sealed() -> bool {
    let Ok(exe) = rustix::fs::open("/proc/self/exe", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) else {
        return false;
    };
    if rustix::fs::fcntl_get_seals(&exe).is_ok_and(|s| s.contains(memfd_seals())) {
        return true;
    }
    // `f_type`'s integer type differs between architectures.
    #[allow(clippy::unnecessary_cast)]
    let overlay = rustix::fs::fstatfs(&exe).is_ok_and(|s| s.f_type as i64 == OVERLAYFS_SUPER_MAGIC);
    overlay && rustix::fs::fstatvfs(&exe).is_ok_and(|s| s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
}

/// The path this program was installed at: `LINDOCKER_SEALED_FROM` for a sealed process
/// (whose /proc/self/exe names a file on a private mount), else /proc/self/exe.
pub fn program_path() -> io::Result<PathBuf> {
    static SEALED_FROM: OnceLock<Option<PathBuf>> = OnceLock::new();
    let from = SEALED_FROM.get_or_init(|| {
        let from = std::env::var_os(ORIGIN_ENV).map(PathBuf::from).filter(|p| p.is_absolute())?;
        running_sealed().then_some(from)
    });
    match from {
        Some(p) => Ok(p.clone()),
        None => std::env::current_exe(),
    }
}

/// Makes sure this process runs from a sealed image: if it does not, re-executes itself
/// from one, with the same arguments and environment (plus [`ORIGIN_ENV`]). Returns only
/// if it already runs sealed, or with the reason it could not.
pub fn ensure() -> io::Result<()> {
    if running_sealed() {
        return Ok(());
    }
    let pid = std::process::id().to_string();
    if std::env::var_os(PID_ENV).is_some_and(|p| p == pid.as_str()) {
        return Err(io::Error::other("re-executed from a sealed copy, yet /proc/self/exe is not sealed"));
    }
    let exe = std::env::current_exe()?;
    let sealed = seal(&exe)?;
    let c = |s: OsString| CString::new(s.into_vec()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
    let argv = std::env::args_os().map(c).collect::<io::Result<Vec<_>>>()?;
    let mut envp = sealed_env(&exe)?;
    envp.push(c(format!("{PID_ENV}={pid}").into())?);
    Err(lindocker_sys::exec_fd(sealed.as_fd(), &argv, &envp))
}

/// A sealed image of `binary` (this process's own program), to exec.
pub fn seal(binary: &Path) -> io::Result<OwnedFd> {
    overlay(binary).or_else(|_| memfd_copy())
}

/// The overlay's `lowerdir` option for `binary` (its directory over an empty one, on top
/// so nothing in the other layer can shadow it) and the binary's name in it.
pub fn overlay_params(binary: &Path) -> io::Result<(CString, CString)> {
    let invalid = || io::Error::from(io::ErrorKind::InvalidInput);
    let (Some(dir), Some(name)) = (binary.parent(), binary.file_name()) else { return Err(invalid()) };
    let empty = empty_layer()?;
    // overlayfs splits lowerdir at ':' and takes '\' as an escape.
    let escape = |p: &Path| {
        let mut out = Vec::new();
        for &b in p.as_os_str().as_bytes() {
            if b == b':' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out
    };
    let mut lower = escape(dir);
    lower.push(b':');
    lower.extend(escape(Path::new(empty)));
    Ok((CString::new(lower).map_err(|_| invalid())?, CString::new(name.as_bytes()).map_err(|_| invalid())?))
}

/// This process's environment for a sealed image of `binary`: [`ORIGIN_ENV`] names it.
pub fn sealed_env(binary: &Path) -> io::Result<Vec<CString>> {
    let c = |s: OsString| CString::new(s.into_vec()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
    let mut envp = Vec::new();
    for (key, value) in std::env::vars_os() {
        if key != ORIGIN_ENV && key != PID_ENV {
            let mut pair = key;
            pair.push("=");
            pair.push(value);
            envp.push(c(pair)?);
        }
    }
    let mut origin = OsString::from(format!("{ORIGIN_ENV}="));
    origin.push(binary.as_os_str());
    envp.push(c(origin)?);
    Ok(envp)
}

/// `binary` seen through a private, read-only overlayfs (an `O_PATH` descriptor).
fn overlay(binary: &Path) -> io::Result<OwnedFd> {
    let (lower, name) = overlay_params(binary)?;
    let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    rustix::mount::fsconfig_set_string(&fs, "lowerdir", lower.as_c_str())?;
    // Spares the kernel log a notice when the layers are on different file systems.
    let _ = rustix::mount::fsconfig_set_string(&fs, "xino", "off");
    rustix::mount::fsconfig_create(&fs)?;
    let mnt = rustix::mount::fsmount(
        &fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_RDONLY | MountAttrFlags::MOUNT_ATTR_NODEV | MountAttrFlags::MOUNT_ATTR_NOSUID,
    )?;
    // The mount lives as long as a descriptor or a process's program holds it.
    Ok(rustix::fs::openat(&mnt, name.as_c_str(), OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?)
}

/// The empty directory for the overlay's second layer: made if missing, and only used if
/// it is root's own directory that nobody else can write.
fn empty_layer() -> io::Result<&'static str> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    match std::fs::DirBuilder::new().mode(0o555).create(EMPTY_LAYER) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let m = std::fs::symlink_metadata(EMPTY_LAYER)?;
    if !m.is_dir() || m.uid() != 0 || m.mode() & 0o022 != 0 {
        return Err(io::Error::other(format!("{EMPTY_LAYER} is not a directory only root can write")));
    }
    Ok(EMPTY_LAYER)
}

/// A copy of this process's program in a memfd sealed against any change, opened
/// read-only (a descriptor open for writing would make exec fail with ETXTBSY).
fn memfd_copy() -> io::Result<OwnedFd> {
    use rustix::fs::MemfdFlags;
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    // MFD_EXEC (Linux 6.3) says the copy is meant to be executed; older kernels refuse it.
    let memfd = rustix::fs::memfd_create("lindocker-sealed-exe", flags | MemfdFlags::EXEC)
        .or_else(|_| rustix::fs::memfd_create("lindocker-sealed-exe", flags))?;
    let mut copy = std::fs::File::from(memfd);
    io::copy(&mut std::fs::File::open("/proc/self/exe")?, &mut copy)?;
    rustix::fs::fchmod(&copy, Mode::from_raw_mode(0o555))?;
    rustix::fs::fcntl_add_seals(&copy, memfd_seals())?;
    let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&copy));
    Ok(rustix::fs::open(path.as_str(), OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both images refuse every open for writing or, for the memfd, every write.
    #[test]
    fn sealed_images_cannot_be_written() {
        if !rustix::process::geteuid().is_root() {
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let fd = overlay(&exe).expect("overlay");
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        let err = std::fs::OpenOptions::new().write(true).open(&path).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
        let fd = memfd_copy().expect("memfd");
        assert!(rustix::fs::fcntl_get_seals(&fd).unwrap().contains(memfd_seals()));
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) {
            use std::io::Write;
            assert!(f.write_all(b"x").is_err());
        }
    }
}
