//! A container's filesystem: the image's layers, an init layer with the files the engine
//! writes for each container (/etc/hosts, /etc/hostname, /etc/resolv.conf), and a private
//! read-write layer, joined by overlayfs under `merged/`.

use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use lindocker_sys::atomic::{AtomicWrite, Durability};
use rustix::mount::OpenTreeFlags;

use crate::StorageError;
use crate::layers::LayerStore;
use crate::overlay::{self, Overlay};
use crate::pack::{Source, pack_dir};

/// Files of the init layer, relative to the container's root.
pub const INIT_FILES: [&str; 3] = ["etc/hosts", "etc/hostname", "etc/resolv.conf"];

/// The directories of one container's filesystem.
#[derive(Debug, Clone)]
pub struct ContainerFs {
    dir: PathBuf,
    volatile: bool,
}

impl ContainerFs {
    /// The filesystem kept under `dir` (the container's directory).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        ContainerFs { dir: dir.into(), volatile: false }
    }

    /// The same, mounted without syncs of its read-write layer (see
    /// [`Overlay::volatile`]): for a container removed when it ends.
    pub fn volatile(mut self, volatile: bool) -> Self {
        self.volatile = volatile;
        self
    }

    /// Makes the init, upper, work and merged directories; `init` gives the contents of
    /// the [`INIT_FILES`] (missing ones are created empty).
    pub fn create(&self, init: &[(&str, &[u8])]) -> Result<(), StorageError> {
        for sub in ["upper", "work", "merged", "init/etc"] {
            let dir = self.dir.join(sub);
            fs::create_dir_all(&dir).map_err(|e| StorageError::io(&dir, e))?;
        }
        for name in INIT_FILES {
            let content = init.iter().find(|(n, _)| *n == name).map(|(_, c)| *c).unwrap_or_default();
            self.write_init_file(name, content)?;
        }
        Ok(())
    }

    /// Replaces one init-layer file (the engine rewrites /etc/hosts as networks change).
    pub fn write_init_file(&self, name: &str, content: &[u8]) -> Result<(), StorageError> {
        let path = self.init_dir().join(name);
        AtomicWrite::new(Durability::CrashSafe).write(&path, content).map_err(|e| StorageError::io(&path, e))
    }

    /// The init layer's directory.
    pub fn init_dir(&self) -> PathBuf {
        self.dir.join("init")
    }

    /// The read-write layer's directory.
    pub fn upper_dir(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// Where the container's root filesystem is mounted.
    pub fn merged_dir(&self) -> PathBuf {
        self.dir.join("merged")
    }

    /// Mounts the overlay of `layers` (chain ids, bottom first) + init + upper on
    /// `merged/`, unless it is mounted already.
    pub fn mount(&self, store: &LayerStore, layers: &[String]) -> Result<PathBuf, StorageError> {
        let merged = self.merged_dir();
        if overlay::is_mounted(&merged) {
            return Ok(merged);
        }
        let mut lower = vec![self.init_dir()];
        for chain in layers.iter().rev() {
            lower.push(store.diff_dir(chain)?);
        }
        self.allow_volatile_remount();
        let overlay =
            Overlay { lower, upper: Some((self.upper_dir(), self.dir.join("work"))), volatile: self.volatile };
        overlay.mount(&merged)?;
        Ok(merged)
    }

    /// [`ContainerFs::mount`] for a container in a user namespace: the layers and the
    /// read-write directories are seen through id-mapped mounts of `userns`, so that
    /// files root owns on disk belong to the namespace's root, and what it writes lands
    /// on disk as root's (an overlay mount itself cannot be id-mapped; its layers can).
    pub fn mount_idmapped(
        &self,
        store: &LayerStore,
        layers: &[String],
        userns: BorrowedFd<'_>,
    ) -> Result<PathBuf, StorageError> {
        let merged = self.merged_dir();
        if overlay::is_mounted(&merged) {
            return Ok(merged);
        }
        let idmapped = |dir: &Path| -> Result<OwnedFd, StorageError> {
            let err = |e: std::io::Error| StorageError::Mount { path: dir.to_path_buf(), source: e };
            let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
            let fd = rustix::mount::open_tree(rustix::fs::CWD, dir, flags).map_err(|e| err(e.into()))?;
            lindocker_sys::idmap_mount(fd.as_fd(), userns).map_err(err)?;
            Ok(fd)
        };
        // Named through /proc/self/fd while the detached mounts are open; the overlay
        // keeps what it needs of them once it is made.
        let via = |fd: &OwnedFd, rel: &Path| PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())).join(rel);
        let all_layers = idmapped(store.dir())?;
        let own = idmapped(&self.dir)?;
        let mut lower = vec![via(&own, Path::new("init"))];
        for chain in layers.iter().rev() {
            let diff = store.diff_dir(chain)?;
            lower.push(via(&all_layers, diff.strip_prefix(store.dir()).unwrap_or(&diff)));
        }
        let upper = Some((via(&own, Path::new("upper")), via(&own, Path::new("work"))));
        self.allow_volatile_remount();
        Overlay { lower, upper, volatile: self.volatile }.mount(&merged)?;
        Ok(merged)
    }

    /// A volatile overlay leaves `work/work/incompat/volatile` behind, and the kernel
    /// refuses to mount its layers again while it exists (they may be torn by a crash).
    /// Ours may be: a volatile container's writes are not meant to outlive a crash.
    fn allow_volatile_remount(&self) {
        if self.volatile {
            // It holds a `dirty` file once the overlay was mounted (a created container's
            // filesystem, mounted at create and again at start).
            let _ = fs::remove_dir_all(self.dir.join("work/work/incompat/volatile"));
        }
    }

    /// Unmounts `merged/` if mounted.
    pub fn unmount(&self) -> Result<(), StorageError> {
        overlay::unmount(&self.merged_dir())
    }

    /// Writes the container's changes as an OCI layer tar: whiteouts translated, the
    /// init-layer files left out.
    pub fn commit(&self, out: impl Write) -> Result<(), StorageError> {
        let exclude: Vec<&Path> = INIT_FILES.iter().map(Path::new).collect();
        let upper = self.upper_dir();
        pack_dir(&upper, Source::OverlayUpper, &exclude, out).map_err(|e| StorageError::io(&upper, e))
    }

    /// Writes the merged view as a root filesystem tar; mounts it for the time of the
    /// export if the container is not running.
    pub fn export(&self, store: &LayerStore, layers: &[String], out: impl Write) -> Result<(), StorageError> {
        let was_mounted = overlay::is_mounted(&self.merged_dir());
        let merged = self.mount(store, layers)?;
        let result = pack_dir(&merged, Source::Plain, &[], out).map_err(|e| StorageError::io(&merged, e));
        if !was_mounted {
            self.unmount()?;
        }
        result
    }

    /// Changes in the read-write layer, as `docker diff` prints them: `A`, `C` or `D`
    /// and the path. A path is "added" when no image layer had it.
    pub fn diff(&self, store: &LayerStore, layers: &[String]) -> Result<Vec<(char, String)>, StorageError> {
        use rustix::fs::{Mode, OFlags};
        let open = |dir: &Path| {
            rustix::fs::open(dir, OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| StorageError::io(dir, e.into()))
        };
        let lower =
            layers.iter().rev().map(|c| store.diff_dir(c).and_then(|d| open(&d))).collect::<Result<Vec<_>, _>>()?;
        let upper = self.upper_dir();
        let mut out = Vec::new();
        walk_changes(&open(&upper)?, Path::new("/"), &lower, &mut out)
            .map_err(|e| StorageError::io(&upper, e.into()))?;
        Ok(out)
    }

    /// Removes the container's filesystem (unmounting it first).
    pub fn remove(&self) -> Result<(), StorageError> {
        self.unmount()?;
        for sub in ["upper", "work", "merged", "init"] {
            let dir = self.dir.join(sub);
            match fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io(&dir, e)),
            }
        }
        Ok(())
    }
}

/// Lists the changes under the open upper directory `dir` (at `rel` in the container).
/// The walk goes by descriptors and never follows a symlink (the container may swap one
/// in while it runs), and a path is looked up in the lower layers without following any
/// symlink either (an image's `etc -> /` must not make it a host path).
fn walk_changes(
    dir: &OwnedFd,
    rel: &Path,
    lower: &[OwnedFd],
    out: &mut Vec<(char, String)>,
) -> Result<(), rustix::io::Errno> {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(name);
        }
    }
    names.sort();
    for name in names {
        let name = OsStr::from_bytes(&name);
        let path = rel.join(name);
        let inner = path.strip_prefix("/").unwrap_or(&path);
        let in_lower = lower.iter().any(|l| {
            rustix::fs::openat2(
                l,
                inner,
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
            )
            .is_ok()
        });
        let meta = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(meta) => meta,
            Err(rustix::io::Errno::NOENT) => continue, // removed meanwhile
            Err(e) => return Err(e),
        };
        let kind = FileType::from_raw_mode(meta.st_mode);
        if kind == FileType::CharacterDevice && meta.st_rdev == 0 {
            out.push(('D', path.display().to_string()));
            continue;
        }
        out.push((if in_lower { 'C' } else { 'A' }, path.display().to_string()));
        if kind == FileType::Directory {
            let sub = rustix::fs::openat(
                dir,
                name,
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            walk_changes(&sub, &path, lower, out)?;
        }
    }
    Ok(())
}
