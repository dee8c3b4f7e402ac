//! `COPY` and `ADD`: sources from a [`SourceTree`] into a step's root file system, with
//! Docker's rules (BuildKit's where they differ), and the content hash that keys the
//! step cache.
//!
//! The destination root is hostile: earlier `RUN` steps and the base image made it. Its
//! paths are resolved only with `openat2(RESOLVE_IN_ROOT)` from a descriptor of the root
//! (a symlinked destination directory is followed, inside the root), and entries are
//! made one name at a time in a directory descriptor: files `O_CREAT | O_EXCL |
//! O_NOFOLLOW`, a symlink at a file's name replaced rather than written through, owners
//! and modes set on descriptors. `--chown` names are looked up in the destination's own
//! `/etc/passwd` and `/etc/group`, read inside the root.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use lindocker_dockerfile::ignore::Ignore;
use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Stat, Uid};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use super::context::{self, Node, Selected, SourceTree, Visitor};
use crate::{EngineError, inroot, users};

/// One source of a COPY/ADD after expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopySource {
    /// A path (wildcards allowed) in the source tree.
    Path(String),
    /// A heredoc (`COPY <<EOF /dest`): a file of that name and content.
    Inline {
        /// The file's name.
        name: String,
        /// Its content.
        content: Vec<u8>,
    },
}

/// What COPY/ADD was asked, expanded.
#[derive(Debug, Clone, Copy)]
pub struct CopyRequest<'a> {
    /// The sources, in order.
    pub sources: &'a [CopySource],
    /// Absolute (the builder joins WORKDIR); a trailing `/` kept (a directory).
    pub dest: &'a str,
    /// `user[:group]`, names resolved in the DESTINATION root's /etc/passwd and
    /// /etc/group (in-root reads).
    pub chown: Option<&'a str>,
    /// `--chmod`: the permission bits of every file and directory copied.
    pub chmod: Option<u32>,
    /// ADD: local tar archives are extracted; URLs refused.
    pub add: bool,
    /// `--exclude` patterns.
    pub exclude: &'a [String],
    /// `--parents`: the sources' paths are kept under the destination.
    pub parents: bool,
}

/// What the sources of a request are, once selected in the tree.
enum Item<'a> {
    Tree(Selected),
    Inline(&'a str, &'a [u8]),
}

/// The request checked (URLs, several sources into a non-directory) and its sources
/// selected.
fn select<'a>(tree: &SourceTree, request: &CopyRequest<'a>) -> Result<Vec<Item<'a>>, EngineError> {
    let command = if request.add { "ADD" } else { "COPY" };
    let mut items = Vec::new();
    for source in request.sources {
        match source {
            CopySource::Path(path) if is_url(path) => {
                return Err(EngineError::Invalid(if request.add {
                    format!("ADD from a URL is not supported offline: {path}")
                } else {
                    format!("source can't be a URL for COPY: {path}")
                }));
            }
            CopySource::Path(path) => items.extend(tree.select(path)?.into_iter().map(Item::Tree)),
            CopySource::Inline { name, content } => items.push(Item::Inline(name, content)),
        }
    }
    if request.sources.len() > 1 && !names_dir(request.dest) {
        return Err(EngineError::Invalid(format!(
            "When using {command} with more than one source file, the destination must be a directory and end with a /"
        )));
    }
    Ok(items)
}

/// Whether the destination says it is a directory: a trailing `/` (or `/.`).
fn names_dir(dest: &str) -> bool {
    dest.ends_with('/') || dest.ends_with("/.") || dest == "."
}

/// Whether a source names something remote (`ADD https://...`, a git repository).
fn is_url(source: &str) -> bool {
    source.contains("://") || (source.starts_with("git@") && source.contains(':'))
}

/// `--exclude` patterns as a matcher.
fn excludes(request: &CopyRequest) -> Result<Option<Ignore>, EngineError> {
    if request.exclude.is_empty() {
        return Ok(None);
    }
    Ignore::parse(&request.exclude.join("\n"))
        .map(Some)
        .map_err(|e| EngineError::Invalid(format!("invalid --exclude pattern: {}", e.message)))
}

/// Whether `--exclude` leaves out the selected source `top` (by its name or its tree
/// path), with nothing an exception could bring back below it.
fn left_out(exclude: Option<&Ignore>, top: &Selected) -> bool {
    let Some(x) = exclude else { return false };
    let name = top.name.as_deref().unwrap_or("");
    if name.is_empty() && top.path.is_empty() {
        return false; // the whole tree: its entries are matched one by one
    }
    let is_dir = FileType::from_raw_mode(top.st.st_mode) == FileType::Directory;
    (x.excludes(name) || x.excludes(&top.path))
        && !(is_dir && x.may_include_below(name) && x.may_include_below(&top.path))
}

/// The cache key part of a COPY/ADD: sha256 over the selected sources' paths,
/// contents, modes (and ownership for --from); mtimes do not count.
pub fn source_digest(tree: &SourceTree, request: &CopyRequest) -> Result<String, EngineError> {
    let mut h = Sha256::new();
    let field = |h: &mut Sha256, bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(&mut h, b"lindocker-copy-1");
    field(&mut h, format!("{:?}", (request.chown, request.chmod, request.add, request.parents)).as_bytes());
    for pattern in request.exclude {
        field(&mut h, pattern.as_bytes());
    }
    let exclude = excludes(request)?;
    for item in select(tree, request)? {
        match item {
            Item::Inline(name, content) => {
                field(&mut h, b"inline");
                field(&mut h, name.as_bytes());
                field(&mut h, content);
            }
            Item::Tree(top) if left_out(exclude.as_ref(), &top) => {}
            Item::Tree(top) => {
                field(&mut h, b"source");
                field(&mut h, top.path.as_bytes());
                field(&mut h, top.name.as_deref().unwrap_or("").as_bytes());
                field(&mut h, top.parents.join("/").as_bytes());
                let mut visitor = Hashing { h: &mut h, owners: tree.is_rootfs() };
                tree.walk(&top, exclude.as_ref(), &mut visitor)?;
            }
        }
    }
    Ok(format!("sha256:{:x}", h.finalize()))
}

/// Hashes what a walk visits.
struct Hashing<'a> {
    h: &'a mut Sha256,
    owners: bool,
}

impl Hashing<'_> {
    fn head(&mut self, tag: u8, node: &Node<'_>) {
        let name = node.name.as_bytes();
        self.h.update([tag]);
        self.h.update((name.len() as u64).to_le_bytes());
        self.h.update(name);
        self.h.update(node.st.st_mode.to_le_bytes());
        if self.owners {
            self.h.update(node.st.st_uid.to_le_bytes());
            self.h.update(node.st.st_gid.to_le_bytes());
        }
    }
}

impl Visitor for Hashing<'_> {
    fn enter(&mut self, node: &Node<'_>) -> Result<(), EngineError> {
        self.head(b'd', node);
        Ok(())
    }

    fn leave(&mut self, _node: &Node<'_>) -> Result<(), EngineError> {
        self.h.update([b'u']);
        Ok(())
    }

    fn leaf(&mut self, node: &Node<'_>) -> Result<(), EngineError> {
        self.head(b'f', node);
        let err = |e: io::Error| EngineError::Invalid(format!("failed to read {}: {e}", node.rel));
        match FileType::from_raw_mode(node.st.st_mode) {
            FileType::RegularFile => {
                let mut file = context::open_regular(node.fd).map_err(err)?;
                let n = io::copy(&mut file, &mut HashWriter(self.h)).map_err(err)?;
                self.h.update(n.to_le_bytes());
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(node.fd, "", Vec::new()).map_err(|e| err(e.into()))?;
                self.h.update((target.as_bytes().len() as u64).to_le_bytes());
                self.h.update(target.as_bytes());
            }
            _ => {}
        }
        Ok(())
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Copies into `rootfs` (the step's mounted root: the parent's layers with an empty
/// upper dir, which the builder then commits as the layer). Everything under rootfs is
/// hostile: resolve the destination in root, never follow its symlinks out.
pub fn copy(tree: &SourceTree, request: &CopyRequest, rootfs: &Path) -> Result<(), EngineError> {
    let items = select(tree, request)?;
    let exclude = excludes(request)?;
    let root = inroot::open_dir(rootfs).map_err(|e| EngineError::io(rootfs, e))?;
    let owner = request.chown.map(|spec| chown_ids(&root, spec)).transpose()?;
    let slash = names_dir(request.dest);
    let dest = dest_parts(request.dest);
    let mut out =
        Out { root: &root, owner, chmod: request.chmod, keep_owners: tree.is_rootfs(), links: HashMap::new() };
    let several = items.len() > 1;
    if several && !slash && !request.parents && !out.is_dir(&dest)? {
        let command = if request.add { "ADD" } else { "COPY" };
        return Err(EngineError::Invalid(format!(
            "When using {command} with more than one source file, the destination must be a directory and end with a /"
        )));
    }
    for item in &items {
        match item {
            Item::Inline(name, content) => {
                let (dir, _, name) = out.file_target(&dest, slash || several, name)?;
                out.write_inline(&dir, &name, content)?;
            }
            Item::Tree(top) => {
                let is_dir = FileType::from_raw_mode(top.st.st_mode) == FileType::Directory;
                let name = top.name.as_deref().unwrap_or("");
                let mut dest = dest.clone();
                let mut as_dir = slash || several;
                if request.parents {
                    let below =
                        if is_dir { &top.parents[..] } else { &top.parents[..top.parents.len().saturating_sub(1)] };
                    dest.extend(below.iter().cloned());
                    as_dir = true;
                }
                if left_out(exclude.as_ref(), top) {
                    continue;
                }
                if is_dir {
                    let (dir, created) = out.ensure_dir(&dest)?;
                    let path = in_root_path(&dest);
                    let mut visitor = Copying { out: &mut out, stack: Vec::new(), top: Some((dir, path, created)) };
                    tree.walk(top, exclude.as_ref(), &mut visitor)?;
                } else if request.add && is_archive(&top.fd) {
                    let (dir, _) = out.ensure_dir(&dest)?;
                    out.extract(&top.fd, &dir, name)?;
                } else {
                    let (dir, dir_path, file) = out.file_target(&dest, as_dir, name)?;
                    let node = Node { rel: name, name: &file, fd: &top.fd, st: &top.st };
                    out.leaf(&dir, &dir_path, &node)?;
                }
            }
        }
    }
    Ok(())
}

/// The destination's components (`..` clamped at `/`, as `path.Clean` does).
fn dest_parts(dest: &str) -> Vec<String> {
    context::clean(dest).0
}

/// `/a/b` for the components `[a, b]`.
fn in_root_path(parts: &[String]) -> String {
    format!("/{}", parts.join("/"))
}

/// `--chown`'s `user[:group]` as ids: a number as it is (its group the same number when
/// none is given), a name from the destination's `/etc/passwd` (its primary group) or
/// `/etc/group`, read inside the root.
fn chown_ids(root: &OwnedFd, spec: &str) -> Result<(u32, u32), EngineError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() || group.is_some_and(str::is_empty) {
        return Err(EngineError::Invalid(format!("invalid --chown value {spec:?}: expected user[:group]")));
    }
    let (uid, mut gid) = match user.parse::<u32>() {
        Ok(n) => (n, n),
        Err(_) => {
            let (uid, gid, _) = users::resolve_at(root, user)?;
            (uid, gid)
        }
    };
    if let Some(group) = group {
        gid = match group.parse::<u32>() {
            Ok(n) => n,
            Err(_) => users::resolve_at(root, &format!("0:{group}"))?.1,
        };
    }
    Ok((uid, gid))
}

/// Whether the regular file `fd` is a tar archive (plain, gzip or zstd), as Docker
/// decides for `ADD`: its first (decompressed) block is a tar header.
fn is_archive(fd: &OwnedFd) -> bool {
    let Ok(file) = context::open_regular(fd) else { return false };
    let Ok(mut input) = lindocker_storage::unpack::decompress(file) else { return false };
    let mut block = [0u8; 512];
    let mut got = 0;
    while got < block.len() {
        match input.read(&mut block[got..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got += n,
        }
    }
    context::is_tar_header(&block)
}

/// The writing side of a copy: the destination root and what every entry gets.
struct Out<'a> {
    root: &'a OwnedFd,
    /// `--chown`'s ids.
    owner: Option<(u32, u32)>,
    chmod: Option<u32>,
    /// Keep the sources' owners (a `--from` tree), unless `--chown`.
    keep_owners: bool,
    /// Files with several links already copied: (device, inode) to the in-root path of
    /// the copy, which later names link to.
    links: HashMap<(u64, u64), String>,
}

impl Out<'_> {
    fn owner_of(&self, st: &Stat) -> (Uid, Gid) {
        let (u, g) = match self.owner {
            Some(ids) => ids,
            None if self.keep_owners => (st.st_uid, st.st_gid),
            None => (0, 0),
        };
        (Uid::from_raw(u), Gid::from_raw(g))
    }

    fn mode_of(&self, st: &Stat) -> Mode {
        Mode::from_raw_mode(self.chmod.unwrap_or(st.st_mode & 0o7777))
    }

    /// Whether the destination `dest` is a directory (inside the root).
    fn is_dir(&self, dest: &[String]) -> Result<bool, EngineError> {
        let path = in_root_path(dest);
        match inroot::open(self.root, Path::new(&path), OFlags::PATH) {
            Ok(fd) => Ok(FileType::from_raw_mode(fstat(&fd, &path)?.st_mode) == FileType::Directory),
            Err(_) => Ok(false),
        }
    }

    /// The directory `dest` inside the root, its symlinks followed there (a dangling one
    /// to where it points, inside the root), made with its missing parents (mode 0755,
    /// the `--chown` owner); and whether its last component was made here.
    fn ensure_dir(&self, dest: &[String]) -> Result<(OwnedFd, bool), EngineError> {
        let mut fd = reopen_dir(self.root, "/")?;
        // The path walked so far, as written (symlinks and `..` in it are resolved
        // again by every in-root open).
        let mut path = String::new();
        let mut created = false;
        let mut queue: Vec<String> = dest.iter().rev().cloned().collect();
        let mut links = 0;
        while let Some(part) = queue.pop() {
            let before = path.len();
            path.push('/');
            path.push_str(&part);
            match inroot::open(self.root, Path::new(&path), OFlags::RDONLY | OFlags::DIRECTORY) {
                Ok(dir) => {
                    fd = dir;
                    created = false;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && part != ".." => {}
                Err(e) if e.raw_os_error() == Some(Errno::NOTDIR.raw_os_error()) => {
                    return Err(EngineError::Invalid(format!("cannot copy to non-directory: {path}")));
                }
                Err(e) => return Err(EngineError::io(Path::new(&path), e)),
            }
            match rustix::fs::mkdirat(&fd, part.as_str(), Mode::from_raw_mode(0o700)) {
                Ok(()) => {}
                Err(Errno::EXIST) => {
                    // A dangling symlink: made where it points, inside the root (as
                    // Docker follows it there).
                    let target =
                        rustix::fs::readlinkat(&fd, part.as_str(), Vec::new()).map_err(|e| io_error(&path, e))?;
                    links += 1;
                    if links > 40 {
                        return Err(io_error(&path, Errno::LOOP));
                    }
                    let target = String::from_utf8_lossy(target.as_bytes()).into_owned();
                    path.truncate(before);
                    if target.starts_with('/') {
                        path.clear();
                        fd = reopen_dir(self.root, "/")?;
                    }
                    queue.extend(target.split('/').filter(|p| !p.is_empty() && *p != ".").rev().map(str::to_owned));
                    continue;
                }
                Err(e) => return Err(io_error(&path, e)),
            }
            let dir = rustix::fs::openat(
                &fd,
                part.as_str(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| io_error(&path, e))?;
            let (uid, gid) = self.owner.unwrap_or((0, 0));
            rustix::fs::fchown(&dir, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                .map_err(|e| io_error(&path, e))?;
            rustix::fs::fchmod(&dir, Mode::from_raw_mode(0o755)).map_err(|e| io_error(&path, e))?;
            fd = dir;
            created = true;
        }
        Ok((fd, created))
    }

    /// Where a file named `name` goes for the destination `dest`: into it when it is a
    /// directory (`as_dir`, a trailing `/`, or an existing directory, symlinks followed
    /// inside the root), else it is the file's own path.
    /// Returns the directory, its in-root path and the file's name there.
    fn file_target(
        &self,
        dest: &[String],
        as_dir: bool,
        name: &str,
    ) -> Result<(OwnedFd, String, OsString), EngineError> {
        if as_dir || dest.is_empty() || self.is_dir(dest)? {
            let (dir, _) = self.ensure_dir(dest)?;
            return Ok((dir, in_root_path(dest), OsString::from(name)));
        }
        let (last, parent) = dest.split_last().expect("not empty");
        let (dir, _) = self.ensure_dir(parent)?;
        Ok((dir, in_root_path(parent), OsString::from(last)))
    }

    /// A heredoc's file.
    fn write_inline(&self, dir: &OwnedFd, name: &OsStr, content: &[u8]) -> Result<(), EngineError> {
        let shown = name.to_string_lossy();
        let fd = create_file(dir, name).map_err(|e| io_error(&shown, e))?;
        let mut file = File::from(fd);
        file.write_all(content).map_err(|e| EngineError::io(Path::new(&*shown), e))?;
        let (uid, gid) = self.owner.unwrap_or((0, 0));
        rustix::fs::fchown(&file, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
            .map_err(|e| io_error(&shown, e))?;
        rustix::fs::fchmod(&file, Mode::from_raw_mode(self.chmod.unwrap_or(0o644))).map_err(|e| io_error(&shown, e))
    }

    /// Extracts the archive `fd` into the directory `dir` (everything inside it, no
    /// device nodes, owners the tar's unless `--chown`).
    fn extract(&self, fd: &OwnedFd, dir: &OwnedFd, name: &str) -> Result<(), EngineError> {
        let file = context::open_regular(fd).map_err(|e| EngineError::Invalid(format!("{name}: {e}")))?;
        let (uid, gid) = self.owner.unwrap_or((0, 0));
        lindocker_storage::unpack::extract(file, dir, self.owner.is_none(), (uid, gid), None)
            .map_err(|e| EngineError::Invalid(format!("failed to extract {name}: {e}")))?;
        Ok(())
    }

    /// Copies the non-directory `node` to the entry `node.name` of `dir` (in-root path
    /// `dir_path`), replacing a non-directory there, never following it.
    fn leaf(&mut self, dir: &OwnedFd, dir_path: &str, node: &Node<'_>) -> Result<(), EngineError> {
        let name = node.name;
        let shown = format!("{}/{}", dir_path.trim_end_matches('/'), name.to_string_lossy());
        let err = |e: Errno| io_error(&shown, e);
        let st = node.st;
        let (uid, gid) = self.owner_of(st);
        match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&key) {
                        if self.link(first, dir, name).is_ok() {
                            return Ok(());
                        }
                    } else {
                        self.links.insert(key, shown.clone());
                    }
                }
                let out = create_file(dir, name).map_err(err)?;
                let mut input = context::open_regular(node.fd).map_err(|e| EngineError::io(Path::new(node.rel), e))?;
                let mut output = File::from(out);
                io::copy(&mut input, &mut output).map_err(|e| EngineError::io(Path::new(&shown), e))?;
                rustix::fs::fchown(&output, Some(uid), Some(gid)).map_err(err)?;
                // After the chown, which drops file capabilities.
                copy_xattrs(&input, &output);
                rustix::fs::fchmod(&output, self.mode_of(st)).map_err(err)?;
                rustix::fs::futimens(&output, &crate::copy::times(st)).map_err(err)
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(node.fd, "", Vec::new()).map_err(err)?;
                remove_non_dir(dir, name).map_err(err)?;
                rustix::fs::symlinkat(target.as_c_str(), dir, name).map_err(err)?;
                rustix::fs::chownat(dir, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW).map_err(err)?;
                rustix::fs::utimensat(dir, name, &crate::copy::times(st), AtFlags::SYMLINK_NOFOLLOW).map_err(err)
            }
            FileType::Fifo => {
                remove_non_dir(dir, name).map_err(err)?;
                rustix::fs::mknodat(dir, name, FileType::Fifo, self.mode_of(st), 0).map_err(err)?;
                // By name without following: a symlink put there meanwhile is changed
                // itself, not what it points at.
                rustix::fs::chownat(dir, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW).map_err(err)
            }
            // Devices and sockets are not copied (a device node of the host's disk in a
            // context must not reach an image).
            _ => Ok(()),
        }
    }

    /// A hard link `name` in `dir` to the copy at the in-root path `first`.
    fn link(&self, first: &str, dir: &OwnedFd, name: &OsStr) -> Result<(), Errno> {
        let (first_dir, first_name) = first.rsplit_once('/').unwrap_or(("", first));
        let from = inroot::open(self.root, Path::new(&format!("/{first_dir}")), OFlags::PATH | OFlags::DIRECTORY)
            .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
        remove_non_dir(dir, name)?;
        rustix::fs::linkat(&from, first_name, dir, name, AtFlags::empty())
    }

    /// The directory `name` in `dir` (in-root path `dir_path`) for a copied directory:
    /// an existing one is used (a symlink there is followed only inside the root, to a
    /// directory; anything else there is replaced); and whether it was made here.
    fn make_dir(&self, dir: &OwnedFd, dir_path: &str, name: &OsStr) -> Result<(OwnedFd, bool), EngineError> {
        let shown = format!("{}/{}", dir_path.trim_end_matches('/'), name.to_string_lossy());
        let err = |e: Errno| io_error(&shown, e);
        let open = || {
            rustix::fs::openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                Mode::empty(),
            )
        };
        match open() {
            Ok(fd) => return Ok((fd, false)),
            Err(Errno::NOENT) => {}
            Err(Errno::LOOP | Errno::NOTDIR) => {
                let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(err)?;
                if FileType::from_raw_mode(st.st_mode) == FileType::Symlink
                    && let Ok(fd) = inroot::open(self.root, Path::new(&shown), OFlags::RDONLY | OFlags::DIRECTORY)
                {
                    return Ok((fd, false));
                }
                remove_non_dir(dir, name).map_err(err)?;
            }
            Err(e) => return Err(err(e)),
        }
        rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)).map_err(err)?;
        Ok((open().map_err(err)?, true))
    }
}

/// Copies what a walk of a directory source visits.
struct Copying<'a, 'b> {
    out: &'a mut Out<'b>,
    /// The destination directories entered: descriptor, in-root path, made here.
    stack: Vec<(OwnedFd, String, bool)>,
    /// The destination of the walk's top directory.
    top: Option<(OwnedFd, String, bool)>,
}

impl Visitor for Copying<'_, '_> {
    fn enter(&mut self, node: &Node<'_>) -> Result<(), EngineError> {
        let frame = match self.top.take() {
            Some(top) => top,
            None => {
                let (dir, dir_path, _) = self.stack.last().expect("the top was entered first");
                let (fd, created) = self.out.make_dir(dir, dir_path, node.name)?;
                let path = format!("{}/{}", dir_path.trim_end_matches('/'), node.name.to_string_lossy());
                (fd, path, created)
            }
        };
        self.stack.push(frame);
        Ok(())
    }

    fn leave(&mut self, node: &Node<'_>) -> Result<(), EngineError> {
        let (fd, path, created) = self.stack.pop().expect("entered");
        // Only a directory made here takes the source's owner, mode and times; one that
        // was there keeps its own (as BuildKit does).
        if created {
            let err = |e: Errno| io_error(&path, e);
            let (uid, gid) = self.out.owner_of(node.st);
            rustix::fs::fchown(&fd, Some(uid), Some(gid)).map_err(err)?;
            rustix::fs::fchmod(&fd, self.out.mode_of(node.st)).map_err(err)?;
            rustix::fs::futimens(&fd, &crate::copy::times(node.st)).map_err(err)?;
        }
        Ok(())
    }

    fn leaf(&mut self, node: &Node<'_>) -> Result<(), EngineError> {
        let (dir, path, _) = self.stack.last().expect("the top was entered first");
        self.out.leaf(dir, path, node)
    }
}

/// Extended attributes of a copied file (file capabilities, ACLs, `user.` ones), as
/// BuildKit keeps them; `trusted.` ones (overlayfs' own) and SELinux labels stay behind.
/// Best effort: a file system without them gets the data alone.
fn copy_xattrs(from: &File, to: &File) {
    let mut names = vec![0u8; 64 * 1024];
    let Ok(n) = rustix::fs::flistxattr(from, &mut names[..]) else { return };
    let mut value = vec![0u8; 64 * 1024];
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if name.starts_with(b"trusted.") || name == b"security.selinux" {
            continue;
        }
        let Ok(name) = std::ffi::CString::new(name) else { continue };
        if let Ok(len) = rustix::fs::fgetxattr(from, name.as_c_str(), &mut value[..]) {
            let _ = rustix::fs::fsetxattr(to, name.as_c_str(), &value[..len], rustix::fs::XattrFlags::empty());
        }
    }
}

/// A new regular file `name` in `dir`, replacing a non-directory there or an empty
/// directory (as Docker's COPY does); `O_EXCL` never follows a symlink.
fn create_file(dir: &impl AsFd, name: &OsStr) -> Result<OwnedFd, Errno> {
    match crate::copy::create_file(dir.as_fd(), name) {
        Err(Errno::ISDIR | Errno::PERM) => {
            rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
            crate::copy::create_file(dir.as_fd(), name)
        }
        other => other,
    }
}

/// Unlinks `name` from `dir` unless it is a directory (a non-empty one is never
/// replaced by a file; an empty one is).
fn remove_non_dir(dir: &impl AsFd, name: &OsStr) -> Result<(), Errno> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(Errno::ISDIR | Errno::PERM) => rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR),
        Err(e) => Err(e),
    }
}

/// A directory of the root opened for creating entries and `fchmod`.
fn reopen_dir(root: &OwnedFd, path: &str) -> Result<OwnedFd, EngineError> {
    inroot::open(root, Path::new(path), OFlags::RDONLY | OFlags::DIRECTORY)
        .map_err(|e| EngineError::io(Path::new(path), e))
}

fn fstat(fd: &impl AsFd, path: &str) -> Result<Stat, EngineError> {
    rustix::fs::fstat(fd).map_err(|e| io_error(path, e))
}

fn io_error(path: &str, e: Errno) -> EngineError {
    EngineError::io(Path::new(path), e.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_remote() {
        assert!(is_url("https://example.com/a.tar.gz"));
        assert!(is_url("git@github.com:moby/moby.git"));
        assert!(!is_url("dir/file"));
    }
}
