//! Unpacking a layer tar into a directory overlayfs can use as a lower layer.
//!
//! Every entry is created relative to a directory descriptor that was opened with
//! `openat2(RESOLVE_IN_ROOT)` on the layer directory, so neither `..` nor a symlink the
//! layer itself planted (absolute or relative) can make a write land outside it. OCI
//! whiteouts become overlay whiteouts: `.wh.NAME` a 0/0 character device, `.wh..wh..opq`
//! the `trusted.overlay.opaque` attribute on its directory.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::Timespec;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, Timestamps};
use rustix::io::Errno;
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use crate::StorageError;

/// Prefix of an OCI whiteout file.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Name of the OCI opaque-directory marker.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// The overlayfs attribute that makes a directory opaque.
pub const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What unpacking a layer found out about it.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// `sha256:<hex>` of the uncompressed tar stream: the layer's diff id.
    pub diff_id: String,
    /// Bytes of the uncompressed tar stream.
    pub size: u64,
}

/// Unpacks a (possibly gzip- or zstd-compressed) layer tar from `input` into the empty
/// directory `dest`, and returns its diff id.
pub fn unpack_layer(input: impl Read, dest: &Path) -> Result<Unpacked, StorageError> {
    let mut hashing = HashingReader::new(decompress(input)?);
    let root = rfs::open(dest, OFlags::DIRECTORY | OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| StorageError::io(dest, e.into()))?;
    let mut unpacker = Unpacker::new(root, None);
    {
        // Headers are checked before the tar reader takes their bodies into memory.
        let mut archive = tar::Archive::new(crate::tar_guard::TarGuard::new(&mut hashing));
        let entries = archive.entries().map_err(StorageError::BadLayer)?;
        for entry in entries {
            let mut entry = entry.map_err(StorageError::BadLayer)?;
            unpacker.entry(&mut entry)?;
        }
    }
    // The tar reader stops at the end-of-archive blocks; the diff id covers every byte.
    io::copy(&mut hashing, &mut io::sink()).map_err(StorageError::BadLayer)?;
    unpacker.finish()?;
    Ok(Unpacked { diff_id: hashing.digest(), size: hashing.count })
}

/// What [`extract`] left out.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Device nodes in the tar, which are not made.
    pub skipped: Vec<PathBuf>,
}

/// Extracts a (possibly compressed) tar from `input` into the directory `dest` (a
/// descriptor), as `cp - CONTAINER:DIR` does: the tar is hostile, so every entry, hard
/// link target and parent is resolved inside `dest` (`..` refused, symlinks and absolute
/// names kept inside it), device nodes are skipped, no extended attribute is set, and
/// `.wh.` names are plain names. Entries get the tar's owners with `keep_owners`, else
/// `owner`; with `ids`, those owners are a user namespace's ids and land in its range.
pub fn extract(
    input: impl Read,
    dest: &impl AsFd,
    keep_owners: bool,
    owner: (u32, u32),
    ids: Option<IdMap>,
) -> Result<Extracted, StorageError> {
    let root = rfs::openat(dest, ".", OFlags::DIRECTORY | OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| StorageError::io(Path::new("."), e.into()))?;
    let owner = (!keep_owners).then(|| (rfs::Uid::from_raw(owner.0), rfs::Gid::from_raw(owner.1)));
    let mut unpacker = Unpacker::new(root, Some(CopyMode { owner, ids, skipped: Vec::new() }));
    let mut archive = tar::Archive::new(crate::tar_guard::TarGuard::new(decompress(input)?));
    for entry in archive.entries().map_err(StorageError::BadLayer)? {
        let mut entry = entry.map_err(StorageError::BadLayer)?;
        unpacker.entry(&mut entry)?;
    }
    unpacker.finish()?;
    Ok(Extracted { skipped: unpacker.copy.map(|c| c.skipped).unwrap_or_default() })
}

/// A user namespace's ids as the host sees them: its uid `u` is host uid
/// `uid.0 + u` for `u < uid.1`, and likewise for gids.
#[derive(Debug, Clone, Copy)]
pub struct IdMap {
    /// First host uid and how many.
    pub uid: (u32, u32),
    /// First host gid and how many.
    pub gid: (u32, u32),
}

impl IdMap {
    /// The host ids of the namespace's `uid` and `gid`; an error for ids outside it.
    fn to_host(self, uid: rfs::Uid, gid: rfs::Gid) -> Result<(rfs::Uid, rfs::Gid), StorageError> {
        let map = |id: u32, (first, size): (u32, u32)| (id < size).then(|| first.checked_add(id)).flatten();
        match (map(uid.as_raw(), self.uid), map(gid.as_raw(), self.gid)) {
            (Some(u), Some(g)) => Ok((rfs::Uid::from_raw(u), rfs::Gid::from_raw(g))),
            _ => Err(StorageError::BadLayer(io::Error::other(format!(
                "owner {}:{} is outside the container's id range",
                uid.as_raw(),
                gid.as_raw()
            )))),
        }
    }
}

/// How [`extract`] differs from unpacking a layer.
struct CopyMode {
    /// The owner of every entry, unless the tar's are kept.
    owner: Option<(rfs::Uid, rfs::Gid)>,
    /// The container's id range, for a container in a user namespace.
    ids: Option<IdMap>,
    skipped: Vec<PathBuf>,
}

/// Wraps `input` in the decompressor its first bytes call for.
pub fn decompress<'a>(input: impl Read + 'a) -> Result<Box<dyn Read + 'a>, StorageError> {
    let mut input = io::BufReader::with_capacity(256 * 1024, input);
    let magic = io::BufRead::fill_buf(&mut input).map_err(StorageError::BadLayer)?;
    Ok(if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(input))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::Decoder::with_buffer(input).map_err(StorageError::BadLayer)?)
    } else {
        Box::new(input)
    })
}

/// A reader that hashes and counts what passes through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Starts hashing `inner` from its current position.
    pub fn new(inner: R) -> Self {
        HashingReader { inner, hasher: Sha256::new(), count: 0 }
    }

    /// `sha256:<hex>` of everything read so far.
    pub fn digest(&self) -> String {
        format!("sha256:{:x}", self.hasher.clone().finalize())
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

struct Unpacker {
    root: OwnedFd,
    /// The directory the last entry went into: tars list a directory's files together.
    parent: Option<(PathBuf, OwnedFd)>,
    /// Directories and their times, set last because creating entries changes them.
    dirs: Vec<(PathBuf, Timespec)>,
    buf: Vec<u8>,
    /// This process's umask, which creation applies.
    umask: u32,
    /// Extracting for `cp`, not unpacking a layer.
    copy: Option<CopyMode>,
}

impl Unpacker {
    fn new(root: OwnedFd, copy: Option<CopyMode>) -> Unpacker {
        Unpacker { root, parent: None, dirs: Vec::new(), buf: vec![0; 128 * 1024], umask: umask(), copy }
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<(), StorageError> {
        let raw = entry.path().map_err(StorageError::BadLayer)?.into_owned();
        let Some(path) = clean(&raw)? else { return Ok(()) };
        let (dir, name) = match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) => (dir.to_path_buf(), name.to_owned()),
            _ => return Ok(()),
        };
        let name_bytes = name.as_bytes();
        let header = entry.header().clone();
        let kind = header.entry_type();
        if matches!(kind, EntryType::XGlobalHeader | EntryType::XHeader) {
            return Ok(());
        }

        let layer = self.copy.is_none();
        if layer && name_bytes == OPAQUE_MARKER.as_bytes() {
            self.make_dirs(&dir)?;
            let dirfd = self.open_dir(&dir)?;
            return rfs::fsetxattr(&dirfd, OVERLAY_OPAQUE_XATTR, b"y", rfs::XattrFlags::empty())
                .map_err(|e| StorageError::io(&path, e.into()));
        }
        if let Some(hidden) = name_bytes.strip_prefix(WHITEOUT_PREFIX.as_bytes()).filter(|_| layer) {
            if hidden.starts_with(WHITEOUT_PREFIX.as_bytes()) {
                return Ok(()); // aufs bookkeeping (.wh..wh.plnk and the like)
            }
            let parent = self.parent_of(&dir)?;
            let hidden = OsStr::from_bytes(hidden);
            remove_existing(&parent, hidden, &path)?;
            return rfs::mknodat(&parent, hidden, FileType::CharacterDevice, Mode::empty(), rfs::makedev(0, 0))
                .map_err(|e| StorageError::io(&path, e.into()));
        }

        let parent = self.parent_of(&dir)?;
        let mode = Mode::from_raw_mode(header.mode().map_err(StorageError::BadLayer)? & 0o7777);
        let mtime = Timespec { tv_sec: header.mtime().unwrap_or(0) as i64, tv_nsec: 0 };
        let (mut uid, mut gid) = owner(&header)?;
        let mut xattrs = xattrs(entry)?;
        if let Some(copy) = &mut self.copy {
            // A hostile tar sets no attribute (file capabilities, ACLs, security labels).
            xattrs.clear();
            if let Some((u, g)) = copy.owner {
                (uid, gid) = (u, g);
            }
            if let Some(ids) = copy.ids {
                (uid, gid) = ids.to_host(uid, gid)?;
            }
            if matches!(kind, EntryType::Char | EntryType::Block) {
                copy.skipped.push(path);
                return Ok(());
            }
        }
        let err = |e: Errno| StorageError::io(&path, e.into());

        match kind {
            EntryType::Directory => {
                match rfs::statat(&parent, &name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {}
                    Ok(_) => {
                        remove_existing(&parent, &name, &path)?;
                        rfs::mkdirat(&parent, &name, mode).map_err(err)?;
                    }
                    Err(_) => rfs::mkdirat(&parent, &name, mode).map_err(err)?,
                }
                let fd =
                    rfs::openat(&parent, &name, OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
                        .map_err(err)?;
                finish_fd(&fd, uid, gid, mode, &xattrs, None, None).map_err(err)?;
                self.dirs.push((path.clone(), mtime));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                // Created with its mode; an existing entry is replaced only if there is one
                // (most layers have none: one syscall saved per file).
                let create = || {
                    rfs::openat(
                        &parent,
                        &name,
                        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        mode,
                    )
                };
                let fd = match create() {
                    Err(Errno::EXIST) => {
                        remove_existing(&parent, &name, &path)?;
                        create()
                    }
                    other => other,
                }
                .map_err(err)?;
                let mut file = File::from(fd);
                write_sparse(entry, &mut file, &mut self.buf).map_err(|e| StorageError::io(&path, e))?;
                let created = Mode::from_raw_mode(mode.as_raw_mode() & !self.umask);
                finish_fd(&file, uid, gid, mode, &xattrs, Some(mtime), Some(created)).map_err(err)?;
            }
            EntryType::Symlink => {
                let target = entry.link_name().map_err(StorageError::BadLayer)?.unwrap_or_default();
                remove_existing(&parent, &name, &path)?;
                rfs::symlinkat(target.as_ref(), &parent, &name).map_err(err)?;
                rfs::chownat(&parent, &name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW).map_err(err)?;
                let times = Timestamps { last_access: mtime, last_modification: mtime };
                rfs::utimensat(&parent, &name, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(err)?;
            }
            EntryType::Link => {
                let target = entry.link_name().map_err(StorageError::BadLayer)?.unwrap_or_default();
                let Some(target) = clean(&target)? else {
                    return Err(StorageError::Unsafe {
                        path: path.clone(),
                        reason: "hard link to the layer root".into(),
                    });
                };
                let (tdir, tname) = (target.parent().unwrap_or(Path::new("")), target.file_name().unwrap_or_default());
                let tparent = self.open_dir(tdir)?;
                remove_existing(&parent, &name, &path)?;
                rfs::linkat(&tparent, tname, &parent, &name, AtFlags::empty()).map_err(err)?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let file_type = match kind {
                    EntryType::Char => FileType::CharacterDevice,
                    EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let dev = rfs::makedev(
                    header.device_major().ok().flatten().unwrap_or(0),
                    header.device_minor().ok().flatten().unwrap_or(0),
                );
                remove_existing(&parent, &name, &path)?;
                rfs::mknodat(&parent, &name, file_type, mode, dev).map_err(err)?;
                set_node_owner_and_mode(&parent, &name, uid, gid, mode).map_err(err)?;
                let times = Timestamps { last_access: mtime, last_modification: mtime };
                rfs::utimensat(&parent, &name, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(err)?;
            }
            other => {
                return Err(StorageError::Unsafe {
                    path: path.clone(),
                    reason: format!("unsupported tar entry type {other:?}"),
                });
            }
        }
        Ok(())
    }

    /// The directory `dir` (relative to the layer), created if the tar skipped it.
    fn parent_of(&mut self, dir: &Path) -> Result<OwnedFd, StorageError> {
        if let Some((cached, fd)) = &self.parent
            && cached == dir
        {
            return fd.try_clone().map_err(|e| StorageError::io(dir, e));
        }
        self.make_dirs(dir)?;
        let fd = self.open_dir(dir)?;
        self.parent = Some((dir.to_path_buf(), fd.try_clone().map_err(|e| StorageError::io(dir, e))?));
        Ok(fd)
    }

    fn open_dir(&self, dir: &Path) -> Result<OwnedFd, StorageError> {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        rfs::openat2(
            &self.root,
            dir,
            OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| StorageError::io(dir, e.into()))
    }

    /// Creates the missing directories of `dir`, each resolved inside the layer.
    fn make_dirs(&mut self, dir: &Path) -> Result<(), StorageError> {
        if dir.as_os_str().is_empty() || self.open_dir(dir).is_ok() {
            return Ok(());
        }
        let mut partial = PathBuf::new();
        for component in dir.components() {
            let parent = self.open_dir(&partial)?;
            partial.push(component);
            match rfs::mkdirat(&parent, component.as_os_str(), Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(StorageError::io(&partial, e.into())),
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), StorageError> {
        self.parent = None;
        // Deepest first, so setting a child's times never disturbs its parent's.
        self.dirs.sort_by_key(|(dir, _)| std::cmp::Reverse(dir.components().count()));
        for (dir, mtime) in std::mem::take(&mut self.dirs) {
            let dir: PathBuf = dir;
            let fd = self.open_dir(&dir)?;
            let times = Timestamps { last_access: mtime, last_modification: mtime };
            rfs::futimens(&fd, &times).map_err(|e| StorageError::io(&dir, e.into()))?;
        }
        Ok(())
    }
}

/// This process's umask, read without changing it (setting it to read it would race
/// with other threads unpacking).
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Umask:").map(|v| v.trim().to_owned())))
        .and_then(|v| u32::from_str_radix(&v, 8).ok())
        .unwrap_or(0o022)
}

/// The entry's path made relative, or an error for a `..` in it. `None` for the root.
fn clean(raw: &Path) -> Result<Option<PathBuf>, StorageError> {
    let mut out = PathBuf::new();
    for component in raw.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                return Err(StorageError::Unsafe {
                    path: raw.to_path_buf(),
                    reason: "path leaves the layer through '..'".into(),
                });
            }
        }
    }
    Ok(if out.as_os_str().is_empty() { None } else { Some(out) })
}

fn owner(header: &Header) -> Result<(rfs::Uid, rfs::Gid), StorageError> {
    let uid = header.uid().map_err(StorageError::BadLayer)?;
    let gid = header.gid().map_err(StorageError::BadLayer)?;
    let (Ok(uid), Ok(gid)) = (u32::try_from(uid), u32::try_from(gid)) else {
        return Err(StorageError::BadLayer(io::Error::other(format!("owner {uid}:{gid} out of range"))));
    };
    Ok((rfs::Uid::from_raw(uid), rfs::Gid::from_raw(gid)))
}

/// Extended attributes from the entry's PAX records (`SCHILY.xattr.NAME`).
fn xattrs<R: Read>(entry: &mut tar::Entry<R>) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
    let mut out = Vec::new();
    if let Some(extensions) = entry.pax_extensions().map_err(StorageError::BadLayer)? {
        for extension in extensions {
            let extension = extension.map_err(StorageError::BadLayer)?;
            // overlayfs' own attributes (redirect, metacopy, origin, ...) steer how the
            // kernel reads the layers; a layer may not set them (the opaque marker comes
            // from `.wh..wh..opq`, set by us).
            if let Ok(key) = extension.key()
                && let Some(name) = key.strip_prefix("SCHILY.xattr.")
                && !name.starts_with("trusted.overlay.")
            {
                out.push((name.to_owned(), extension.value_bytes().to_vec()));
            }
        }
    }
    Ok(out)
}

/// Owner, then mode (chown clears set-id bits), attributes and times on an open file.
/// What creation already got right is skipped: the owner when it is ours (root), the mode
/// when the file was `created` with it and no chown came after.
fn finish_fd(
    fd: impl AsFd,
    uid: rfs::Uid,
    gid: rfs::Gid,
    mode: Mode,
    xattrs: &[(String, Vec<u8>)],
    mtime: Option<Timespec>,
    created: Option<Mode>,
) -> Result<(), Errno> {
    let chown = uid != rustix::process::geteuid() || gid != rustix::process::getegid();
    if chown {
        rfs::fchown(&fd, Some(uid), Some(gid))?;
    }
    if chown || created != Some(mode) {
        rfs::fchmod(&fd, mode)?;
    }
    for (name, value) in xattrs {
        rfs::fsetxattr(&fd, name.as_str(), value, rfs::XattrFlags::empty())?;
    }
    if let Some(mtime) = mtime {
        rfs::futimens(&fd, &Timestamps { last_access: mtime, last_modification: mtime })?;
    }
    Ok(())
}

/// Owner, then mode (chown clears set-id bits), of the device or FIFO just made at `name`
/// in `parent`. A tree another container shares can have a symlink put there meanwhile:
/// the node is pinned by an `O_PATH|O_NOFOLLOW` descriptor, checked to be a node, and
/// changed through that descriptor only (chown with `AT_EMPTY_PATH`, chmod through its
/// `/proc/self/fd` link, as `fchmod` refuses `O_PATH`) so nothing reaches what a symlink
/// points at.
fn set_node_owner_and_mode(
    parent: &OwnedFd,
    name: &OsStr,
    uid: rfs::Uid,
    gid: rfs::Gid,
    mode: Mode,
) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    let fd = rfs::openat(parent, name, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?;
    let kind = FileType::from_raw_mode(rfs::fstat(&fd)?.st_mode);
    if !matches!(kind, FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) {
        return Err(Errno::NXIO);
    }
    rfs::chownat(&fd, "", Some(uid), Some(gid), AtFlags::EMPTY_PATH)?;
    rfs::chmod(format!("/proc/self/fd/{}", fd.as_raw_fd()), mode)
}

/// Removes whatever is at `name` so a new entry can take its place; a directory stays
/// only if it is empty-able (tar semantics: a later entry replaces an earlier one).
fn remove_existing(parent: &OwnedFd, name: &OsStr, path: &Path) -> Result<(), StorageError> {
    match rfs::unlinkat(parent, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(Errno::ISDIR) | Err(Errno::PERM) => match rfs::unlinkat(parent, name, AtFlags::REMOVEDIR) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(StorageError::io(path, e.into())),
        },
        Err(e) => Err(StorageError::io(path, e.into())),
    }
}

/// Copies `input` to `file`, leaving holes where whole blocks are zero.
fn write_sparse(mut input: impl Read, file: &mut File, buf: &mut [u8]) -> io::Result<()> {
    const BLOCK: usize = 4096;
    let mut size = 0u64;
    let mut hole_at_end = false;
    loop {
        let n = read_full(&mut input, buf)?;
        if n == 0 {
            break;
        }
        for chunk in buf[..n].chunks(BLOCK) {
            if chunk.len() == BLOCK && chunk.iter().all(|&b| b == 0) {
                file.seek(SeekFrom::Current(BLOCK as i64))?;
                hole_at_end = true;
            } else {
                file.write_all(chunk)?;
                hole_at_end = false;
            }
        }
        size += n as u64;
    }
    if hole_at_end {
        file.set_len(size)?;
    }
    Ok(())
}

fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    /// A tar entry as a client may write it: any name, any link target.
    fn raw(builder: &mut tar::Builder<Vec<u8>>, kind: EntryType, name: &str, link: &str, body: &[u8]) {
        let mut header = Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(0o755);
        header.set_uid(4321);
        header.set_gid(4321);
        header.set_size(body.len() as u64);
        header.set_cksum();
        builder.append(&header, body).unwrap();
    }

    /// `cp -`: a hostile tar lands inside its directory, devices and attributes left out,
    /// owners replaced; `..` is refused.
    #[test]
    fn extract_keeps_a_hostile_tar_inside_its_directory() {
        let base = std::env::temp_dir().join(format!("lindocker-extract-{}", std::process::id()));
        let (dest, outside) = (base.join("dest"), base.join("outside"));
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "secret").unwrap();
        let out = outside.display().to_string();
        let secret = outside.join("secret").display().to_string();
        let mut b = tar::Builder::new(Vec::new());
        raw(&mut b, EntryType::Symlink, "up", "..", b"");
        raw(&mut b, EntryType::Regular, "up/climbed", "", b"x");
        raw(&mut b, EntryType::Symlink, "out", &out, b"");
        raw(&mut b, EntryType::Regular, "out/through", "", b"x");
        raw(&mut b, EntryType::Link, "hard", &secret, b"");
        raw(&mut b, EntryType::Regular, "/abs", "", b"abs");
        raw(&mut b, EntryType::Char, "null", "", b"");
        raw(&mut b, EntryType::Regular, ".wh.plain", "", b"w");
        let tar = b.into_inner().unwrap();
        let fd = rfs::open(&dest, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        // Each entry alone: one that fails must not hide what the others do.
        let mut entries = tar::Archive::new(&tar[..]);
        let mut results = Vec::new();
        for entry in entries.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut one = tar::Builder::new(Vec::new());
            let mut header = entry.header().clone();
            let mut body = Vec::new();
            entry.read_to_end(&mut body).unwrap();
            header.set_cksum();
            one.append(&header, &body[..]).unwrap();
            results.push(extract(&one.into_inner().unwrap()[..], &fd, false, (0, 0), None).is_ok());
        }
        let mut names: Vec<_> = std::fs::read_dir(&outside).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["secret"], "written outside");
        assert_eq!(std::fs::metadata(outside.join("secret")).unwrap().nlink(), 1);
        assert!(!base.join("climbed").exists());
        assert_eq!(std::fs::read(dest.join("abs")).unwrap(), b"abs");
        assert!(std::fs::symlink_metadata(dest.join("null")).is_err(), "a device node was made");
        assert_eq!(std::fs::read(dest.join(".wh.plain")).unwrap(), b"w", "a whiteout name is a plain name");
        assert_eq!(std::fs::metadata(dest.join("abs")).unwrap().uid(), 0);
        let mut dotdot = tar::Builder::new(Vec::new());
        raw(&mut dotdot, EntryType::Regular, "../escaped", "", b"x");
        assert!(extract(&dotdot.into_inner().unwrap()[..], &fd, false, (0, 0), None).is_err());
        assert!(!base.join("escaped").exists());
        assert!(results.iter().any(|ok| *ok));
        std::fs::remove_dir_all(&base).unwrap();
    }

    /// The race a container sharing a volume can run during copy-up: between `mknodat`
    /// and the mode change, it puts a symlink to a host file where the node was. The
    /// mode must never reach the host file.
    #[test]
    fn a_node_swapped_for_a_symlink_keeps_the_mode_off_the_target() {
        let dir = std::env::temp_dir().join(format!("lindocker-unpack-swap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("layer")).unwrap();
        let host = dir.join("host-file");
        std::fs::write(&host, "host\n").unwrap();
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&host, dir.join("layer/node")).unwrap();
        let parent = rfs::open(dir.join("layer"), OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).unwrap();
        let me = (rustix::process::geteuid(), rustix::process::getegid());
        let result = set_node_owner_and_mode(&parent, OsStr::new("node"), me.0, me.1, Mode::from_raw_mode(0o4777));
        let mode = std::fs::metadata(&host).unwrap().permissions().mode() & 0o7777;
        // A real node gets its mode.
        rfs::mknodat(&parent, "fifo", FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        set_node_owner_and_mode(&parent, OsStr::new("fifo"), me.0, me.1, Mode::from_raw_mode(0o1751)).unwrap();
        let fifo = std::fs::symlink_metadata(dir.join("layer/fifo")).unwrap().permissions().mode() & 0o7777;
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(fifo, 0o1751);
        assert_eq!(mode, 0o600, "the host file's mode changed");
        assert!(result.is_err(), "a symlink where the node was is an error");
    }

    #[test]
    fn overlayfs_attributes_from_a_layer_are_dropped() {
        let record = |key: &str, value: &str| {
            let body = format!(" {key}={value}\n");
            let mut len = body.len() + 1;
            while format!("{len}").len() + body.len() != len {
                len += 1;
            }
            format!("{len}{body}")
        };
        let pax = record("SCHILY.xattr.trusted.overlay.redirect", "/etc") + &record("SCHILY.xattr.user.kept", "yes");
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_size(pax.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "PaxHeader", pax.as_bytes()).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, "d", io::empty()).unwrap();
        let layer = b.into_inner().unwrap();
        let dir = std::env::temp_dir().join(format!("lindocker-unpack-xattr-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        unpack_layer(layer.as_slice(), &dir).unwrap();
        let redirect = rfs::getxattr(dir.join("d"), "trusted.overlay.redirect", &mut [0u8; 64]);
        let mut kept = [0u8; 8];
        let kept_len = rfs::getxattr(dir.join("d"), "user.kept", &mut kept);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(redirect, Err(Errno::NODATA), "an overlayfs attribute came from the layer");
        assert_eq!(&kept[..kept_len.unwrap()], b"yes");
    }

    #[test]
    fn clean_strips_roots_and_refuses_parent() {
        assert_eq!(clean(Path::new("/a/./b")).unwrap(), Some(PathBuf::from("a/b")));
        assert_eq!(clean(Path::new("./")).unwrap(), None);
        assert!(clean(Path::new("a/../../etc")).is_err());
    }
}
