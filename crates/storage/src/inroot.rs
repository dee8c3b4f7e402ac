//! Paths inside a tree that someone else controls (a container's root, a volume),
//! resolved by the kernel as if the tree's top were `/` (`openat2` with
//! `RESOLVE_IN_ROOT`): a symlink to `/etc` or a `../../..` lands inside the tree, never
//! on the host.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Opens `path` (taken relative to `root`, even when absolute) with `flags`.
pub fn open_in_root(root: impl AsFd, path: &Path, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    let rel: PathBuf = path.components().filter(|c| !matches!(c, Component::RootDir)).collect();
    let rel = if rel.as_os_str().is_empty() { Path::new(".") } else { &rel };
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
            other => return other,
        }
    }
}
