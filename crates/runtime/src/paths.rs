//! Paths inside the container's root, resolved by the kernel as if the root were `/`
//! (`openat2` with `RESOLVE_IN_ROOT`): a symlink in the rootfs pointing at `/etc` or
//! `../../..` lands inside the rootfs, never on the host.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Opens `path` (taken relative to `root`, even when absolute) with `flags`.
pub fn open_in_root(root: impl AsFd, path: &Path, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    let rel = relative(path);
    loop {
        match rustix::fs::openat2(
            root.as_fd(),
            if rel.as_os_str().is_empty() { Path::new(".") } else { &rel },
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ) {
            // openat2 asks callers to retry when a rename raced with the lookup.
            Err(Errno::AGAIN) => continue,
            other => return other,
        }
    }
}

/// Creates every missing directory of `path` inside `root` and returns an `O_PATH`
/// descriptor of the last one.
pub fn mkdir_all_in_root(root: impl AsFd, path: &Path, mode: u32) -> rustix::io::Result<OwnedFd> {
    // Usually the directory is there: one lookup.
    match open_in_root(root.as_fd(), path, OFlags::PATH | OFlags::DIRECTORY) {
        Err(Errno::NOENT) => {}
        other => return other,
    }
    let mut current = PathBuf::new();
    let mut fd = open_in_root(root.as_fd(), &current, OFlags::PATH | OFlags::DIRECTORY)?;
    for c in relative(path).components() {
        let Component::Normal(name) = c else { continue };
        current.push(name);
        match open_in_root(root.as_fd(), &current, OFlags::PATH | OFlags::DIRECTORY) {
            Ok(next) => fd = next,
            Err(Errno::NOENT) => {
                let parent = open_in_root(root.as_fd(), current.parent().unwrap_or(Path::new("")), OFlags::DIRECTORY)?;
                match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(mode)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(e),
                }
                fd = open_in_root(root.as_fd(), &current, OFlags::PATH | OFlags::DIRECTORY)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(fd)
}

/// Makes sure a regular file exists at `path` inside `root` (a bind mount target for a
/// file), creating its directories, and returns an `O_PATH` descriptor of it.
pub fn touch_in_root(root: impl AsFd, path: &Path) -> rustix::io::Result<OwnedFd> {
    if let Ok(fd) = open_in_root(root.as_fd(), path, OFlags::PATH) {
        return Ok(fd);
    }
    let rel = relative(path);
    let parent = mkdir_all_in_root(root.as_fd(), rel.parent().unwrap_or(Path::new("")), 0o755)?;
    let parent = rustix::fs::openat(&parent, ".", OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let name = rel.file_name().ok_or(Errno::INVAL)?;
    drop(rustix::fs::openat(
        &parent,
        name,
        OFlags::CREATE | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?);
    open_in_root(root.as_fd(), path, OFlags::PATH)
}

/// The `/proc/self/fd/N` path of a descriptor, through which `mount(2)` reaches exactly
/// the file we resolved.
pub fn fd_path(fd: &impl AsFd) -> String {
    use std::os::fd::AsRawFd;
    format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd())
}

fn relative(path: &Path) -> PathBuf {
    path.components().filter(|c| matches!(c, Component::Normal(_) | Component::ParentDir)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_stay_inside_the_root() {
        let root = std::env::temp_dir().join(format!("lindocker-paths-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../../../real", root.join("up")).unwrap();
        let rootfd = rustix::fs::open(&root, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        // "/escape/etc" must be created as ROOT/etc, not touch the host's /etc.
        mkdir_all_in_root(&rootfd, Path::new("/escape/lindocker-test-dir"), 0o755).unwrap();
        assert!(root.join("lindocker-test-dir").is_dir());
        assert!(!Path::new("/lindocker-test-dir").exists());
        mkdir_all_in_root(&rootfd, Path::new("/up/sub"), 0o755).unwrap();
        assert!(root.join("real/sub").is_dir());
        touch_in_root(&rootfd, Path::new("/escape/a/file")).unwrap();
        assert!(root.join("a/file").is_file());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
