//! Files inside a container's root, reached only through descriptors: every lookup is
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` from a descriptor of the root, so
//! `..` and symlinks (absolute or relative, planted by the image or the container) land
//! inside the root, never on the host. Nothing here builds a host path from a container
//! path.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Opens `path` (taken relative to `root`, even when absolute) with `flags`, resolving
/// every component as if `root` were `/`. With `O_NOFOLLOW` a symlink as the last
/// component is opened itself (with `O_PATH`), not followed.
pub fn open(root: impl AsFd, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    let rel = relative(path);
    let rel = if rel.as_os_str().is_empty() { Path::new(".") } else { rel.as_path() };
    loop {
        match rustix::fs::openat2(
            root.as_fd(),
            rel,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ) {
            // openat2 asks callers to retry when a rename raced with the lookup.
            Err(Errno::AGAIN) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}

/// `path` without its root and `.` components (`..` stays: the kernel clamps it at the
/// root).
pub fn relative(path: &Path) -> PathBuf {
    path.components().filter(|c| matches!(c, Component::Normal(_) | Component::ParentDir)).collect()
}

/// A descriptor of a directory on the host (a trusted path: the engine's own merged
/// directory, a volume's data or an admin's bind source).
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// The root directory of the running process `pid`, which must belong to the container
/// `id` (it is in the container's cgroup, `PARENT/ID`, or below it): a pid the
/// container's process left behind and another process took over must not hand us that
/// process's root. The check and the open go through one descriptor of `/proc/PID`,
/// which stops working (ESRCH) once that process is gone, even if the pid is reused.
pub fn running_root(pid: i32, id: &str) -> io::Result<OwnedFd> {
    let proc_dir = running_proc(pid, id)?;
    // Following the `root` magic link is the point here: it is the container's `/`.
    let root =
        rustix::fs::openat(&proc_dir, "root", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    // Still the same process after the open (ESRCH otherwise).
    rustix::fs::statat(&proc_dir, "cgroup", rustix::fs::AtFlags::empty())?;
    Ok(root)
}

/// An `O_PATH` descriptor of `/proc/PID` for the running process `pid`, checked to be
/// container `id`'s as for [`running_root`]. Lookups under it fail once that process is
/// gone, so what is opened through it is that process's, even if the pid is reused;
/// callers check again (`statat(.., "cgroup")`) after their open.
pub fn running_proc(pid: i32, id: &str) -> io::Result<OwnedFd> {
    if pid <= 0 {
        return Err(io::Error::other(format!("container {id} has no process")));
    }
    let proc_dir =
        rustix::fs::open(format!("/proc/{pid}"), OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let cgroup = read_regular(&proc_dir, Path::new("cgroup"), 64 * 1024)?;
    // The container's cgroup, or one it made below it (systemd in a container does).
    let ours = String::from_utf8_lossy(&cgroup).lines().any(|line| {
        line.rsplit_once(':').is_some_and(|(_, path)| {
            let path = path.trim_end_matches('/');
            path.ends_with(&format!("/{id}")) || path.contains(&format!("/{id}/"))
        })
    });
    if !ours {
        return Err(io::Error::other(format!("process {pid} is not container {id}'s")));
    }
    Ok(proc_dir)
}

/// Opens the file `fd` (an `O_PATH` descriptor) refers to again, for reading or writing,
/// through the host's procfs: the same inode, whatever has since been renamed or swapped
/// in at its path, and without ever opening a path of the container's tree.
pub fn reopen(fd: &impl AsFd, flags: OFlags) -> io::Result<OwnedFd> {
    let path = format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd());
    Ok(rustix::fs::open(path, flags | OFlags::CLOEXEC | OFlags::NOCTTY, Mode::empty())?)
}

/// Reads the regular file at `path` inside `root`, at most `limit` bytes. Anything else
/// there (a FIFO that would block, a device, a directory) is an error; the file is never
/// opened for reading unless it is a regular file.
pub fn read_regular(root: impl AsFd, path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let fd = open(root, path, OFlags::PATH)?;
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(io::Error::other(format!("{}: not a regular file", path.display())));
    }
    let file = File::from(reopen(&fd, OFlags::RDONLY | OFlags::NONBLOCK)?);
    let mut out = Vec::new();
    file.take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(io::Error::other(format!("{}: larger than {limit} bytes", path.display())));
    }
    Ok(out)
}

/// Whether `fd` lies on a kernel pseudo-filesystem (procfs, sysfs, cgroupfs, ...), whose
/// files are the host kernel's interfaces rather than the container's data: reading
/// `/proc/kmsg` as the host's root would take the host's log and block, writing there
/// would act on the host.
pub fn on_pseudo_fs(fd: &impl AsFd) -> io::Result<bool> {
    lindocker_storage::pack::on_pseudo_fs(fd)
}

/// The last normal component of `path`, if it has one.
pub fn last_name(path: &Path) -> Option<&OsStr> {
    match path.components().next_back()? {
        Component::Normal(name) => Some(name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_and_dots_stay_inside_the_root() {
        let root = std::env::temp_dir().join(format!("lindocker-inroot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/passwd"), "inside\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../etc/passwd", root.join("up")).unwrap();
        let fd = open_dir(&root).unwrap();
        for p in ["/abs", "up", "/../../etc/passwd", "etc/../../etc/passwd"] {
            assert_eq!(read_regular(&fd, Path::new(p), 100).unwrap(), b"inside\n", "{p}");
        }
        assert!(read_regular(&fd, Path::new("etc"), 100).is_err(), "a directory is not read");
        assert!(read_regular(&fd, Path::new("etc/passwd"), 3).is_err(), "bounded");
        rustix::fs::mknodat(&fd, "fifo", FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        assert!(read_regular(&fd, Path::new("fifo"), 100).is_err(), "a FIFO is refused, not waited on");
        std::fs::remove_dir_all(&root).unwrap();
    }

    mod resolution {
        use super::*;
        use proptest::prelude::*;
        use std::sync::atomic::{AtomicUsize, Ordering};

        static CASE: AtomicUsize = AtomicUsize::new(0);

        /// Removes a case's tree however the case ends.
        struct Cleanup(PathBuf);

        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }

        /// Path pieces a hostile tree is made of: climbs, absolute jumps, our own
        /// names, the directory outside the root, magic links.
        fn piece() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("..".to_owned()),
                Just(".".to_owned()),
                Just("a".to_owned()),
                Just("b".to_owned()),
                Just("l0".to_owned()),
                Just("l1".to_owned()),
                Just("l2".to_owned()),
                Just("outside".to_owned()),
                Just("".to_owned()),
                Just("/proc/self/root".to_owned()),
                Just("/proc/self/cwd".to_owned()),
            ]
        }

        fn path() -> impl Strategy<Value = String> {
            (any::<bool>(), prop::collection::vec(piece(), 0..6))
                .prop_map(|(absolute, parts)| format!("{}{}", if absolute { "/" } else { "" }, parts.join("/")))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Whatever symlinks a tree holds and whatever path is asked for, what opens
            /// lies inside the root.
            #[test]
            fn never_outside_the_root(
                links in prop::collection::vec((0..3usize, 0..3usize, path()), 0..6),
                wanted in path(),
                nofollow in any::<bool>(),
            ) {
                // tmpfs where there is one: thousands of small files, quickly.
                let tmp = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
                let base = tmp.join(format!(
                    "lindocker-inroot-prop-{}-{}",
                    std::process::id(),
                    CASE.fetch_add(1, Ordering::Relaxed)
                ));
                let _cleanup = Cleanup(base.clone());
                let root = base.join("root");
                std::fs::create_dir_all(root.join("a/b")).unwrap();
                std::fs::create_dir_all(base.join("outside/a/b")).unwrap();
                let dirs = ["", "a", "a/b"];
                for (dir, name, target) in &links {
                    // Targets naming the outside directory by its host path too.
                    let target = target.replace("outside", &base.join("outside").display().to_string());
                    let _ = std::os::unix::fs::symlink(target, root.join(dirs[*dir]).join(format!("l{name}")));
                }
                let fd = open_dir(&root).unwrap();
                let flags = if nofollow { OFlags::PATH | OFlags::NOFOLLOW } else { OFlags::PATH };
                let wanted = wanted.replace("outside", &base.join("outside").display().to_string());
                // The kernel names what opened by its real path (`/dev/shm` or the temp
                // directory may be a symlink).
                let real_root = root.canonicalize().unwrap();
                if let Ok(opened) = open(&fd, Path::new(&wanted), flags) {
                    let at = std::fs::read_link(format!("/proc/self/fd/{}", opened.as_raw_fd())).unwrap();
                    prop_assert!(at.starts_with(&real_root), "{wanted:?} opened {}", at.display());
                }
            }
        }
    }
}
