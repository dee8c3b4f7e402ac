//! Device nodes in the container's /dev: the defaults every container gets, the spec's
//! `linux.devices`, and the usual symlinks.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Spec};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::{Step, step};
use crate::paths::{fd_path, mkdir_all_in_root, touch_in_root};

/// A device to create: path, type, major, minor, mode, owner.
struct Device {
    path: PathBuf,
    typ: LinuxDeviceType,
    major: u32,
    minor: u32,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// The devices the OCI spec says every Linux container has.
const DEFAULTS: &[(&str, u32, u32)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// Creates the default and configured devices and the /dev symlinks.
pub fn create_all(spec: &Spec, root: &OwnedFd, in_user_ns: bool) -> Result<(), Step> {
    let linux = spec.linux().as_ref().expect("checked at load");
    let configured: &[LinuxDevice] = linux.devices().as_deref().unwrap_or_default();
    let mut devices: Vec<Device> = DEFAULTS
        .iter()
        .filter(|(p, _, _)| !configured.iter().any(|d| d.path() == Path::new(p)))
        .map(|(p, major, minor)| Device {
            path: p.into(),
            typ: LinuxDeviceType::C,
            major: *major,
            minor: *minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect();
    devices.extend(configured.iter().map(|d| Device {
        path: d.path().clone(),
        typ: d.typ(),
        major: d.major() as u32,
        minor: d.minor() as u32,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    }));
    for d in &devices {
        create(root, d, in_user_ns).map_err(step(format!("create device {}", d.path.display())))?;
    }
    let dev = mkdir_all_in_root(root, Path::new("/dev"), 0o755).map_err(|e| step("open /dev")(e.into()))?;
    let dev = rustix::fs::openat(&dev, ".", OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| step("open /dev")(e.into()))?;
    // /dev/ptmx must lead to the container's own devpts instance.
    match rustix::fs::unlinkat(&dev, "ptmx", AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => {}
        Err(e) => return Err(step("remove /dev/ptmx")(e.into())),
    }
    for (name, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        match rustix::fs::symlinkat(target, &dev, name) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(step(format!("symlink /dev/{name}"))(e.into())),
        }
    }
    Ok(())
}

fn create(root: &OwnedFd, d: &Device, in_user_ns: bool) -> std::io::Result<()> {
    if in_user_ns {
        // mknod is not allowed in a user namespace: show the host's node instead.
        let target = touch_in_root(root, &d.path)?;
        let source = lindocker_sys_cstr(&d.path);
        let target = lindocker_sys_cstr(Path::new(&fd_path(&target)));
        return lindocker_sys::mount(Some(&source), &target, None, libc::MS_BIND, None);
    }
    let parent_path = d.path.parent().unwrap_or(Path::new("/dev"));
    let name = d.path.file_name().ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let parent = mkdir_all_in_root(root, parent_path, 0o755)?;
    let parent = rustix::fs::openat(&parent, ".", OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    match rustix::fs::unlinkat(&parent, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => {}
        Err(e) => return Err(e.into()),
    }
    let file_type = match d.typ {
        LinuxDeviceType::B => FileType::BlockDevice,
        LinuxDeviceType::P => FileType::Fifo,
        _ => FileType::CharacterDevice,
    };
    let dev = rustix::fs::makedev(d.major, d.minor);
    make_node(&parent, name, file_type, dev, d, &|| {})
}

/// mknod `name` in `parent`, then its exact mode and owner. `race` runs right after the
/// mknod (a test hook: where a process sharing the directory could swap the name).
fn make_node(
    parent: &OwnedFd,
    name: &std::ffi::OsStr,
    file_type: FileType,
    dev: rustix::fs::Dev,
    d: &Device,
    race: &dyn Fn(),
) -> std::io::Result<()> {
    rustix::fs::mknodat(parent, name, file_type, Mode::from_raw_mode(d.mode), dev)?;
    race();
    // mknod applies the umask: set the mode exactly, and the owner, through a descriptor
    // of the node itself (before pivot_root the directory may be a volume a container
    // shares, so the name could be a symlink to a host file by now).
    let node = rustix::fs::openat(parent, name, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?;
    let st = rustix::fs::fstat(&node)?;
    if FileType::from_raw_mode(st.st_mode) != file_type || (file_type != FileType::Fifo && st.st_rdev != dev) {
        return Err(std::io::Error::other("the device node was replaced while it was made"));
    }
    rustix::fs::chownat(
        &node,
        "",
        Some(rustix::fs::Uid::from_raw(d.uid)),
        Some(rustix::fs::Gid::from_raw(d.gid)),
        AtFlags::EMPTY_PATH,
    )?;
    // An O_PATH descriptor takes no fchmod; its /proc/self/fd link names the very inode.
    rustix::fs::chmod(fd_path(&node).as_str(), Mode::from_raw_mode(d.mode))?;
    Ok(())
}

fn lindocker_sys_cstr(p: &Path) -> std::ffi::CString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    /// The name is swapped for a symlink to a host file right after the mknod (as a
    /// container sharing the directory through a volume could): the host file's mode
    /// and owner stay as they were.
    #[test]
    fn a_symlink_swapped_in_after_mknod_is_not_followed() {
        let dir = std::env::temp_dir().join(format!("devnode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, "host").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
        let parent = rustix::fs::open(&dir, OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).unwrap();
        let d = Device {
            path: "/dev/node".into(),
            typ: LinuxDeviceType::P,
            major: 0,
            minor: 0,
            mode: 0o6777,
            uid: 4242,
            gid: 4242,
        };
        let node = dir.join("node");
        let swap = || {
            std::fs::remove_file(&node).unwrap();
            std::os::unix::fs::symlink(&victim, &node).unwrap();
        };
        let made = make_node(&parent, "node".as_ref(), FileType::Fifo, rustix::fs::makedev(0, 0), &d, &swap);
        let meta = std::fs::metadata(&victim).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o600);
        assert_eq!((meta.uid(), meta.gid()), (0, 0));
        assert!(made.is_err(), "a swapped node must not count as made");
    }

    #[test]
    fn a_node_gets_its_exact_mode_and_owner() {
        let dir = std::env::temp_dir().join(format!("devnode-ok-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let parent = rustix::fs::open(&dir, OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).unwrap();
        let d = Device {
            path: "/dev/node".into(),
            typ: LinuxDeviceType::P,
            major: 0,
            minor: 0,
            mode: 0o666,
            uid: 4242,
            gid: 4343,
        };
        make_node(&parent, "node".as_ref(), FileType::Fifo, rustix::fs::makedev(0, 0), &d, &|| {}).unwrap();
        let meta = std::fs::symlink_metadata(dir.join("node")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o666);
        assert_eq!((meta.uid(), meta.gid()), (4242, 4343));
    }
}
