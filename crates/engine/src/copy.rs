//! `cp` between the host and a container, through descriptors only.
//!
//! The container side is hostile: its processes may plant symlinks to host paths, swap
//! files while we copy, or leave device nodes and FIFOs. So every container path is
//! resolved with `openat2(RESOLVE_IN_ROOT)` from a descriptor of the container's root
//! ([`crate::inroot`]), trees are walked from descriptor to descriptor by single names
//! (`openat(dir, name, O_NOFOLLOW)`), files are created with `O_CREAT | O_EXCL |
//! O_NOFOLLOW`, symlinks are copied as symlinks (never followed), and nothing but a
//! regular file is ever opened for its contents. The same walk serves both directions.
//! Docker's rules for where things land apply: into an existing directory, `SRC/.` for
//! a directory's contents, `-L` to follow a symlink given as the source (inside the
//! container's root when it is the container's).

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat, Timespec, Timestamps};
use rustix::io::Errno;

use crate::inroot;

/// How deep a tree may go: each level holds a few descriptors open.
const MAX_DEPTH: usize = lindocker_storage::pack::MAX_DEPTH;

/// `cp` flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    /// `-L`: follow a symlink given as the source (only the source itself).
    pub follow_link: bool,
    /// `-a`: keep the source's owners.
    pub archive: bool,
}

/// What a copy left out.
#[derive(Debug, Default)]
pub struct Copied {
    /// Device nodes and sockets, which are not copied (a device node of the host's disk
    /// planted in a container must not appear on the host, nor the reverse).
    pub skipped: Vec<PathBuf>,
}

/// Why a copy failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The source is not there.
    #[error("Could not find the file {0}")]
    NotFound(String),
    /// Something Docker's rules refuse, or an I/O error on a path.
    #[error("{0}")]
    Failed(String),
}

fn failed(what: impl std::fmt::Display, e: impl std::fmt::Display) -> CopyError {
    CopyError::Failed(format!("{what}: {e}"))
}

/// Copies the container's `path` (under `root`, a descriptor of the container's `/`) to
/// the host path `dest`.
pub fn copy_out(root: &OwnedFd, path: &str, dest: &Path, opts: CopyOptions) -> Result<Copied, CopyError> {
    let flags = if opts.follow_link { OFlags::PATH } else { OFlags::PATH | OFlags::NOFOLLOW };
    let src = inroot::open(root, Path::new(path), flags).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => CopyError::NotFound(path.to_owned()),
        _ => failed(path, e),
    })?;
    let mut walk = Walk { out: true, opts, copied: Copied::default() };
    walk.top(src, path, Side::Host(dest))?;
    Ok(walk.copied)
}

/// Copies the host path `source` into the container's `path` (under `root`).
pub fn copy_in(source: &Path, root: &OwnedFd, path: &str, opts: CopyOptions) -> Result<Copied, CopyError> {
    let flags = if opts.follow_link { OFlags::PATH } else { OFlags::PATH | OFlags::NOFOLLOW };
    let src = rustix::fs::open(source, flags | OFlags::CLOEXEC, Mode::empty()).map_err(|e| match e {
        Errno::NOENT => CopyError::Failed(format!("{}: no such file or directory", source.display())),
        e => failed(source.display(), e),
    })?;
    let mut walk = Walk { out: false, opts, copied: Copied::default() };
    walk.top(src, &source.to_string_lossy(), Side::Container { root, path })?;
    Ok(walk.copied)
}

/// Writes the container's `path` (under `root`) as a tar stream to `out`, named by its
/// last component (`DIR/.`: the directory's contents), as `cp CONTAINER:PATH -` does.
pub fn tar_out(root: &OwnedFd, path: &str, opts: CopyOptions, out: impl io::Write) -> Result<Copied, CopyError> {
    let flags = if opts.follow_link { OFlags::PATH } else { OFlags::PATH | OFlags::NOFOLLOW };
    let src = inroot::open(root, Path::new(path), flags | OFlags::CLOEXEC).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => CopyError::NotFound(path.to_owned()),
        _ => failed(path, e),
    })?;
    let st = rustix::fs::fstat(&src).map_err(|e| failed(path, e))?;
    let is_dir = file_type(&st) == FileType::Directory;
    if path.ends_with('/') && !is_dir {
        return Err(failed(path, "not a directory"));
    }
    if inroot::on_pseudo_fs(&src).map_err(|e| failed(path, e))? {
        return Err(failed(path, "refusing to copy from a kernel pseudo-filesystem"));
    }
    let name = match inroot::last_name(Path::new(path)).filter(|_| !path.ends_with("/.")) {
        Some(name) => PathBuf::from(name),
        None if is_dir => PathBuf::from("."),
        None => return Err(failed(path, "no file name")),
    };
    let skipped = lindocker_storage::pack::pack_node(src, &name, out).map_err(|e| failed(path, e))?;
    Ok(Copied { skipped })
}

/// Extracts the tar stream `input` (hostile: a client's) into the container's directory
/// `path` (under `root`), which must exist, as `cp - CONTAINER:DIR` does. Everything lands
/// inside that directory (see [`lindocker_storage::unpack::extract`]); owners are the
/// tar's with `-a`, else root's; for a `--user-ns` container (`ids`: its uid and gid
/// ranges), those of its namespace.
pub fn tar_in(
    input: impl io::Read,
    root: &OwnedFd,
    path: &str,
    opts: CopyOptions,
    ids: Option<(crate::userns::IdRange, crate::userns::IdRange)>,
) -> Result<Copied, CopyError> {
    let dir = match inroot::open(root, Path::new(path), OFlags::PATH | OFlags::CLOEXEC) {
        Ok(fd) => fd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(CopyError::Failed(format!("no such directory in the container: {path}")));
        }
        Err(e) => return Err(failed(path, e)),
    };
    let st = rustix::fs::fstat(&dir).map_err(|e| failed(path, e))?;
    if file_type(&st) != FileType::Directory {
        return Err(failed(path, "the destination must be a directory to extract a tar stream into"));
    }
    if inroot::on_pseudo_fs(&dir).map_err(|e| failed(path, e))? {
        return Err(failed(path, "refusing to copy into a kernel pseudo-filesystem"));
    }
    let ids = ids.map(|(u, g)| lindocker_storage::unpack::IdMap { uid: (u.host, u.size), gid: (g.host, g.size) });
    let extracted =
        lindocker_storage::unpack::extract(input, &dir, opts.archive, (0, 0), ids).map_err(|e| failed(path, e))?;
    Ok(Copied { skipped: extracted.skipped })
}

/// Copies the contents of the directory `src` (an `O_PATH` descriptor, resolved inside a
/// container's or an image's root) into the host directory `dest`, which then takes the
/// owner, mode and times of `src`: an image's files filling a new volume, owners and
/// set-id bits kept, as Docker does.
pub fn copy_contents(src: &OwnedFd, dest: &Path) -> Result<Copied, CopyError> {
    let st = rustix::fs::fstat(src).map_err(|e| failed(dest.display(), e))?;
    let dest_fd = rustix::fs::open(dest, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| failed(dest.display(), e))?;
    let mut walk =
        Walk { out: false, opts: CopyOptions { follow_link: false, archive: true }, copied: Copied::default() };
    walk.children(src, &st, &dest_fd, Path::new("/"), 0)?;
    walk.finish(&dest_fd, &st).map_err(|e| failed(dest.display(), e))?;
    Ok(walk.copied)
}

/// Where the copy goes.
enum Side<'a> {
    /// A host path (the admin's: trusted).
    Host(&'a Path),
    /// A path inside a container's root.
    Container { root: &'a OwnedFd, path: &'a str },
}

/// Where one node lands: a new (or replaced) entry `name` in `dir`, the contents of an
/// existing directory, or an existing regular file rewritten in place.
enum Target {
    Entry(OwnedFd, std::ffi::OsString),
    Contents(OwnedFd),
    File(OwnedFd),
}

/// How deep in the tree a node is, and whether it is where another filesystem is mounted.
#[derive(Clone, Copy)]
struct Level {
    depth: usize,
    mount_point: bool,
}

impl Level {
    const TOP: Level = Level { depth: 0, mount_point: false };
}

struct Walk {
    /// Copying out of a container: set-id bits are dropped.
    out: bool,
    opts: CopyOptions,
    copied: Copied,
}

impl Walk {
    /// The source `src` (an `O_PATH` descriptor, named `shown` by the user) to `side`,
    /// following Docker's rules for the destination.
    fn top(&mut self, src: OwnedFd, shown: &str, side: Side<'_>) -> Result<(), CopyError> {
        let st = rustix::fs::fstat(&src).map_err(|e| failed(shown, e))?;
        let is_dir = file_type(&st) == FileType::Directory;
        if shown.ends_with('/') && !is_dir {
            return Err(failed(shown, "not a directory"));
        }
        if inroot::on_pseudo_fs(&src).map_err(|e| failed(shown, e))? {
            return Err(failed(shown, "refusing to copy from a kernel pseudo-filesystem"));
        }
        // `DIR/.` (and `/`) copy a directory's contents; anything else the entry itself.
        let name = inroot::last_name(Path::new(shown)).filter(|_| !shown.ends_with("/.")).map(OsStr::to_owned);
        let contents = is_dir && name.is_none();
        let target = match side {
            Side::Host(dest) => host_target(dest, is_dir)?,
            Side::Container { root, path } => container_target(root, path, is_dir)?,
        };
        match target {
            Target::Contents(dir) => {
                let dir = reopen_dir(&dir).map_err(|e| failed(shown, e))?;
                if contents {
                    self.children(&src, &st, &dir, Path::new(shown), 0)
                } else {
                    let name = name.unwrap_or_else(|| "root".into());
                    self.node(&src, &st, dir.as_fd(), &name, Path::new(shown), Level::TOP)
                }
            }
            Target::Entry(dir, name) => self.node(&src, &st, dir.as_fd(), &name, Path::new(shown), Level::TOP),
            Target::File(file) => {
                if file_type(&st) != FileType::RegularFile {
                    return Err(failed(shown, "only a regular file can replace an existing file"));
                }
                let out = inroot::reopen(&file, OFlags::WRONLY | OFlags::TRUNC | OFlags::NONBLOCK)
                    .map_err(|e| failed(shown, e))?;
                self.data(&src, out, &st, Path::new(shown))
            }
        }
    }

    /// Copies `src` (an `O_PATH` descriptor of a file of any type, described by `st`) to
    /// the entry `name` of `dir`, replacing a non-directory there.
    fn node(
        &mut self,
        src: &OwnedFd,
        st: &Stat,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        shown: &Path,
        level: Level,
    ) -> Result<(), CopyError> {
        let Level { depth, mount_point } = level;
        let err = |e: Errno| failed(shown.display(), e);
        match file_type(st) {
            FileType::Directory => {
                if depth >= MAX_DEPTH {
                    return Err(failed(shown.display(), format!("more than {MAX_DEPTH} directories deep")));
                }
                let dest = make_dir(dir, name).map_err(err)?;
                // A mount of procfs, sysfs and the like inside the tree: its directory,
                // not the kernel's files.
                let pseudo = mount_point && inroot::on_pseudo_fs(src).unwrap_or(true);
                if !pseudo {
                    self.children(src, st, &dest, shown, depth)?;
                }
                self.finish(&dest, st).map_err(err)
            }
            FileType::RegularFile => {
                let out = create_file(dir, name).map_err(err)?;
                self.data(src, out, st, shown)
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(src, "", Vec::new()).map_err(err)?;
                remove_non_dir(dir, name).map_err(err)?;
                rustix::fs::symlinkat(target.as_c_str(), dir, name).map_err(err)?;
                if self.opts.archive {
                    let (uid, gid) = owner(st);
                    rustix::fs::chownat(dir, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW).map_err(err)?;
                }
                rustix::fs::utimensat(dir, name, &times(st), AtFlags::SYMLINK_NOFOLLOW).map_err(err)
            }
            FileType::Fifo => {
                remove_non_dir(dir, name).map_err(err)?;
                // The mode at creation only: a chmod by name could follow a symlink
                // swapped in meanwhile.
                rustix::fs::mknodat(dir, name, FileType::Fifo, Mode::from_raw_mode(self.mode(st)), 0).map_err(err)
            }
            _ => {
                self.copied.skipped.push(shown.to_owned());
                Ok(())
            }
        }
    }

    /// Copies the entries of the directory `src` into the directory `dest`.
    fn children(
        &mut self,
        src: &OwnedFd,
        st: &Stat,
        dest: &OwnedFd,
        shown: &Path,
        depth: usize,
    ) -> Result<(), CopyError> {
        let err = |e: Errno| failed(shown.display(), e);
        if inroot::on_pseudo_fs(dest).map_err(|e| failed(shown.display(), e))? {
            return Err(failed(shown.display(), "refusing to copy into a kernel pseudo-filesystem"));
        }
        let listing = rustix::fs::openat(src, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(err)?;
        let reader = listing.try_clone().map_err(|e| failed(shown.display(), e))?;
        let mut entries = Dir::new(reader).map_err(err)?;
        while let Some(entry) = entries.read() {
            let entry = entry.map_err(err)?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            let child_shown = shown.join(name);
            let child = match rustix::fs::openat(
                &listing,
                name,
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => continue, // removed while we copied
                Err(e) => return Err(failed(child_shown.display(), e)),
            };
            let child_st = rustix::fs::fstat(&child).map_err(|e| failed(child_shown.display(), e))?;
            let mount_point = child_st.st_dev != st.st_dev;
            self.node(&child, &child_st, dest.as_fd(), name, &child_shown, Level { depth: depth + 1, mount_point })?;
        }
        Ok(())
    }

    /// The contents of the regular file `src` into `out`, then mode, owner and times.
    fn data(&mut self, src: &OwnedFd, out: OwnedFd, st: &Stat, shown: &Path) -> Result<(), CopyError> {
        let mut input =
            File::from(inroot::reopen(src, OFlags::RDONLY | OFlags::NONBLOCK).map_err(|e| failed(shown.display(), e))?);
        let mut output = File::from(out);
        io::copy(&mut input, &mut output).map_err(|e| failed(shown.display(), e))?;
        self.finish(&output, st).map_err(|e| failed(shown.display(), e))
    }

    /// Owner (with `-a`), mode and times of a copied file or directory, on its descriptor.
    fn finish(&self, fd: &impl AsFd, st: &Stat) -> Result<(), Errno> {
        if self.opts.archive {
            let (uid, gid) = owner(st);
            rustix::fs::fchown(fd, Some(uid), Some(gid))?;
        }
        rustix::fs::fchmod(fd, Mode::from_raw_mode(self.mode(st)))?;
        rustix::fs::futimens(fd, &times(st))
    }

    /// The permission bits to give a copy. Out of a container, set-id bits go: a setuid
    /// binary a container planted must not become one on the host.
    fn mode(&self, st: &Stat) -> u32 {
        let mode = st.st_mode & 0o7777;
        if self.out { mode & !0o6000 } else { mode }
    }
}

/// Where a copy to the host path `dest` lands.
fn host_target(dest: &Path, is_dir: bool) -> Result<Target, CopyError> {
    let shown = dest.display();
    let slash = dest.as_os_str().as_bytes().ends_with(b"/");
    match std::fs::metadata(dest) {
        Ok(m) if m.is_dir() => Ok(Target::Contents(inroot::open_dir(dest).map_err(|e| failed(&shown, e))?)),
        Ok(_) if is_dir => Err(failed(&shown, "cannot copy a directory to a file")),
        Ok(_) if slash => Err(failed(&shown, "not a directory")),
        Ok(_) | Err(_) => {
            if slash && !is_dir {
                return Err(failed(&shown, "destination directory does not exist"));
            }
            let name = inroot::last_name(dest).ok_or_else(|| failed(&shown, "no file name"))?;
            let parent = match dest.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let dir = inroot::open_dir(parent).map_err(|e| failed(parent.display(), e))?;
            Ok(Target::Entry(dir, name.to_owned()))
        }
    }
}

/// Where a copy to the container path `path` lands: the path is resolved inside the
/// root, symlinks included (as Docker does); a regular file there is rewritten, a device
/// or FIFO refused. A dangling symlink as the last component leads to its target, also
/// resolved inside the root.
fn container_target(root: &OwnedFd, path: &str, is_dir: bool) -> Result<Target, CopyError> {
    let mut path = PathBuf::from(path);
    let slash = path.as_os_str().as_bytes().ends_with(b"/");
    for _ in 0..40 {
        let shown = path.display();
        let fd = match inroot::open(root, &path, OFlags::PATH) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound && !slash => {
                let rel = inroot::relative(&path);
                let parent = rel.parent().unwrap_or(Path::new("")).to_owned();
                let no_dir = || CopyError::Failed(format!("no such directory in the container: /{}", parent.display()));
                let name = inroot::last_name(&rel).ok_or_else(no_dir)?.to_owned();
                let dir = inroot::open(root, &parent, OFlags::PATH | OFlags::DIRECTORY).map_err(|_| no_dir())?;
                if inroot::on_pseudo_fs(&dir).map_err(|e| failed(&shown, e))? {
                    return Err(failed(&shown, "refusing to copy into a kernel pseudo-filesystem"));
                }
                match rustix::fs::readlinkat(&dir, &name, Vec::new()) {
                    Ok(target) => {
                        let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
                        path = Path::new("/").join(parent).join(target);
                        continue;
                    }
                    Err(_) => return Ok(Target::Entry(dir, name)),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(CopyError::Failed(format!("no such directory in the container: {shown}")));
            }
            Err(e) => return Err(failed(&shown, e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| failed(&shown, e))?;
        if inroot::on_pseudo_fs(&fd).map_err(|e| failed(&shown, e))? {
            return Err(failed(&shown, "refusing to copy into a kernel pseudo-filesystem"));
        }
        return match file_type(&st) {
            FileType::Directory => Ok(Target::Contents(fd)),
            FileType::RegularFile if is_dir => Err(failed(&shown, "cannot copy a directory to a file")),
            FileType::RegularFile if slash => Err(failed(&shown, "not a directory")),
            FileType::RegularFile => Ok(Target::File(fd)),
            _ => Err(failed(&shown, "not a directory or a regular file")),
        };
    }
    Err(failed(path.display(), "too many levels of symbolic links"))
}

/// The directory `name` in `dir`, made if missing; a non-directory there (a symlink
/// included) is replaced, never followed.
fn make_dir(dir: BorrowedFd<'_>, name: &OsStr) -> Result<OwnedFd, Errno> {
    let open = || {
        rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    match open() {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOENT) => {}
        Err(Errno::LOOP | Errno::NOTDIR) => remove_non_dir(dir, name)?,
        Err(e) => return Err(e),
    }
    match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(e),
    }
    open()
}

/// A new regular file `name` in `dir`, replacing a non-directory there; `O_EXCL` never
/// follows a symlink.
pub(crate) fn create_file(dir: BorrowedFd<'_>, name: &OsStr) -> Result<OwnedFd, Errno> {
    let create = || {
        rustix::fs::openat(
            dir,
            name,
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
    };
    match create() {
        Err(Errno::EXIST) => {
            remove_non_dir(dir, name)?;
            create()
        }
        other => other,
    }
}

/// Unlinks `name` from `dir` unless it is a directory (which a file must not replace).
fn remove_non_dir(dir: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// An `O_PATH` directory descriptor opened again for reading and for `fchmod`.
fn reopen_dir(fd: &OwnedFd) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(fd, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
}

fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

fn owner(st: &Stat) -> (rustix::fs::Uid, rustix::fs::Gid) {
    (rustix::fs::Uid::from_raw(st.st_uid), rustix::fs::Gid::from_raw(st.st_gid))
}

/// The access and modification times of `st`, for `futimens`/`utimensat`.
pub(crate) fn times(st: &Stat) -> Timestamps {
    Timestamps {
        last_access: Timespec { tv_sec: st.st_atime as _, tv_nsec: st.st_atime_nsec as _ },
        last_modification: Timespec { tv_sec: st.st_mtime as _, tv_nsec: st.st_mtime_nsec as _ },
    }
}

#[cfg(test)]
mod tests {
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

    /// Path pieces: climbs (often), the outside directory by a relative name and by its
    /// absolute host path (`OUT`), our own names and links.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => Just(".."),
            2 => Just("outside"),
            2 => Just("OUT"),
            1 => Just("."),
            1 => Just("a"),
            1 => Just("b"),
            2 => Just("l0"),
            1 => Just("l1"),
            1 => Just("l2"),
            1 => Just("secret"),
            1 => Just(""),
        ]
        .prop_map(str::to_owned)
    }

    fn path() -> impl Strategy<Value = String> {
        (any::<bool>(), prop::collection::vec(piece(), 0..5), any::<bool>()).prop_map(|(absolute, parts, slash)| {
            format!("{}{}{}", if absolute { "/" } else { "" }, parts.join("/"), if slash { "/" } else { "" })
        })
    }

    /// `path` and every file under it (symlinks as such), with the contents of regular
    /// files.
    fn listing(path: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let meta = std::fs::symlink_metadata(path).unwrap();
        let data = if meta.is_file() { std::fs::read(path).unwrap() } else { Vec::new() };
        out.push((path.to_owned(), data));
        if meta.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).collect();
            entries.sort();
            for entry in entries {
                listing(&entry, out);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Whatever symlinks the container planted and whatever path is asked for, a copy
        /// in changes nothing outside the root, and a copy out carries no byte of a file
        /// outside it.
        #[test]
        fn copies_stay_inside_the_root(
            links in prop::collection::vec((0..3usize, 0..3usize, path()), 0..6),
            wanted in path(),
            directory in any::<bool>(),
            follow_link in any::<bool>(),
        ) {
            let tmp = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
            let base = tmp.join(format!("lindocker-copy-prop-{}-{}", std::process::id(), CASE.fetch_add(1, Ordering::Relaxed)));
            // A run killed mid-case leaves its tree; a later process with the same pid
            // would find `src` or `out` already there.
            let _ = std::fs::remove_dir_all(&base);
            let _cleanup = Cleanup(base.clone());
            let (root, outside) = (base.join("root"), base.join("outside"));
            std::fs::create_dir_all(root.join("a/b")).unwrap();
            std::fs::create_dir_all(outside.join("a/b")).unwrap();
            std::fs::write(outside.join("secret"), "SECRET").unwrap();
            std::fs::write(root.join("a/file"), "inside").unwrap();
            let source = base.join("src");
            if directory {
                std::fs::create_dir_all(source.join("b")).unwrap();
                std::fs::write(source.join("b/payload"), "payload").unwrap();
            } else {
                std::fs::write(&source, "payload").unwrap();
            }
            let dirs = ["", "a", "a/b"];
            for (dir, name, target) in &links {
                let target = target.replace("OUT", &outside.display().to_string());
                let _ = std::os::unix::fs::symlink(target, root.join(dirs[*dir]).join(format!("l{name}")));
            }
            let mut before = Vec::new();
            listing(&outside, &mut before);
            listing(&source, &mut before);
            let names = |dir: &Path| {
                let mut names: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
                names.sort();
                names
            };
            let top = names(&base);
            let rootfd = inroot::open_dir(&root).unwrap();
            let wanted = wanted.replace("OUT", &outside.display().to_string());
            let opts = CopyOptions { follow_link, archive: false };
            let _ = copy_in(&source, &rootfd, &wanted, opts);
            let mut after = Vec::new();
            listing(&outside, &mut after);
            listing(&source, &mut after);
            prop_assert_eq!(&before, &after, "copy in to {:?} changed the outside", wanted);
            prop_assert_eq!(&top, &names(&base), "copy in to {:?} wrote beside the root", wanted);
            let out = base.join("out");
            std::fs::create_dir(&out).unwrap();
            let top = names(&base);
            let _ = copy_out(&rootfd, &wanted, &out.join("x"), opts);
            let _ = copy_out(&rootfd, &wanted, &out, opts);
            let mut copied = Vec::new();
            listing(&out, &mut copied);
            for (path, data) in &copied {
                prop_assert!(data != b"SECRET", "copy out of {:?} read the outside into {}", wanted, path.display());
            }
            let mut after = Vec::new();
            listing(&outside, &mut after);
            listing(&source, &mut after);
            prop_assert_eq!(&before, &after, "copy out of {:?} changed the outside", wanted);
            prop_assert_eq!(&top, &names(&base), "copy out of {:?} wrote beside the root", wanted);
        }
    }
}
