//! Writing a directory tree as a tar: a container's upper dir as an OCI layer (overlay
//! whiteouts become `.wh.` files, opaque directories `.wh..wh..opq`), or a merged view
//! as a plain root filesystem for `export`.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Stat};
use tar::{EntryType, Header};

use crate::unpack::{OPAQUE_MARKER, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX};

/// How to read the tree being packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An overlay upper directory: whiteouts and opaque markers are translated.
    OverlayUpper,
    /// A plain tree (a merged view, an import): everything is taken as it is.
    Plain,
}

/// Writes `dir` as a tar stream to `out`, skipping the relative paths in `exclude`
/// (and everything beneath them).
pub fn pack_dir(dir: &Path, source: Source, exclude: &[&Path], out: impl Write) -> io::Result<()> {
    let fd = rfs::open(dir, OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    pack_fd(fd, source, exclude, out)
}

/// Writes the tree under the open directory `dir` as a tar stream to `out`. The walk
/// goes from descriptor to descriptor and never follows a symlink, so a tree that a
/// container controls (and may change while it is read) cannot lead it onto the host.
pub fn pack_fd(dir: OwnedFd, source: Source, exclude: &[&Path], out: impl Write) -> io::Result<()> {
    let mut packer = Packer { builder: tar::Builder::new(out), source, exclude, links: HashMap::new() };
    packer.builder.follow_symlinks(false);
    packer.walk(&dir, Path::new(""))?;
    packer.builder.into_inner()?.flush()
}

struct Packer<'a, W: Write> {
    builder: tar::Builder<W>,
    source: Source,
    exclude: &'a [&'a Path],
    /// (device, inode) -> first path, so later names of a file become hard links.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> Packer<'_, W> {
    fn walk(&mut self, dir: &OwnedFd, rel: &Path) -> io::Result<()> {
        let mut names: Vec<OsString> = Vec::new();
        for entry in rfs::Dir::read_from(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(OsStr::from_bytes(name).to_owned());
            }
        }
        names.sort();
        for name in names {
            let rel = rel.join(&name);
            if self.exclude.iter().any(|x| rel.starts_with(x)) {
                continue;
            }
            let meta = match rfs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(meta) => meta,
                Err(rustix::io::Errno::NOENT) => continue, // removed while we read
                Err(e) => return Err(e.into()),
            };
            let file_type = FileType::from_raw_mode(meta.st_mode);
            if self.source == Source::OverlayUpper && file_type == FileType::CharacterDevice && meta.st_rdev == 0 {
                let mut whiteout = OsString::from(WHITEOUT_PREFIX);
                whiteout.push(&name);
                let path = rel.parent().unwrap_or(Path::new("")).join(whiteout);
                self.empty_file(&path, &meta)?;
                continue;
            }
            let xattrs = xattrs(dir, &name)?;
            match file_type {
                FileType::Directory => {
                    // NOFOLLOW: if a symlink took the directory's place since the stat,
                    // the open fails rather than walking wherever it points.
                    let sub = rfs::openat(
                        dir,
                        &name,
                        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )?;
                    let meta = rfs::fstat(&sub)?;
                    let mut header = header_from(&meta);
                    header.set_entry_type(EntryType::Directory);
                    header.set_size(0);
                    self.append(&mut header, &with_slash(&rel), &xattrs, io::empty())?;
                    if self.source == Source::OverlayUpper
                        && rfs::fgetxattr(&sub, OVERLAY_OPAQUE_XATTR, &mut [0u8; 8]).is_ok_and(|n| n > 0)
                    {
                        self.empty_file(&rel.join(OPAQUE_MARKER), &meta)?;
                    }
                    self.walk(&sub, &rel)?;
                }
                FileType::Symlink => {
                    let mut header = header_from(&meta);
                    header.set_entry_type(EntryType::Symlink);
                    header.set_size(0);
                    let target = rfs::readlinkat(dir, &name, Vec::new())?;
                    self.append_pax(&xattrs)?;
                    self.builder.append_link(&mut header, &rel, Path::new(OsStr::from_bytes(target.to_bytes())))?;
                }
                FileType::RegularFile => {
                    let file = File::from(rfs::openat(
                        dir,
                        &name,
                        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
                        Mode::empty(),
                    )?);
                    let meta = rfs::fstat(&file)?;
                    if FileType::from_raw_mode(meta.st_mode) != FileType::RegularFile {
                        continue; // replaced by something else while we read
                    }
                    let mut header = header_from(&meta);
                    if meta.st_nlink > 1 {
                        let key = (meta.st_dev, meta.st_ino);
                        if let Some(first) = self.links.get(&key).cloned() {
                            header.set_entry_type(EntryType::Link);
                            header.set_size(0);
                            self.builder.append_link(&mut header, &rel, &first)?;
                            continue;
                        }
                        self.links.insert(key, rel.clone());
                    }
                    header.set_entry_type(EntryType::Regular);
                    header.set_size(meta.st_size as u64);
                    // At most the announced size, even if the file grows meanwhile.
                    self.append(&mut header, &rel, &xattrs, io::Read::take(file, meta.st_size as u64))?;
                }
                FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
                    let mut header = header_from(&meta);
                    header.set_entry_type(match file_type {
                        FileType::CharacterDevice => EntryType::Char,
                        FileType::BlockDevice => EntryType::Block,
                        _ => EntryType::Fifo,
                    });
                    header.set_size(0);
                    header.set_device_major(rfs::major(meta.st_rdev))?;
                    header.set_device_minor(rfs::minor(meta.st_rdev))?;
                    self.append(&mut header, &rel, &xattrs, io::empty())?;
                }
                _ => {} // sockets have no place in a layer
            }
        }
        Ok(())
    }

    fn empty_file(&mut self, path: &Path, like: &Stat) -> io::Result<()> {
        let mut header = header_from(like);
        header.set_entry_type(EntryType::Regular);
        header.set_mode(0o644);
        header.set_size(0);
        self.builder.append_data(&mut header, path, io::empty())
    }

    fn append(
        &mut self,
        header: &mut Header,
        path: &Path,
        xattrs: &[(String, Vec<u8>)],
        data: impl io::Read,
    ) -> io::Result<()> {
        self.append_pax(xattrs)?;
        self.builder.append_data(header, path, data)
    }

    fn append_pax(&mut self, xattrs: &[(String, Vec<u8>)]) -> io::Result<()> {
        if xattrs.is_empty() {
            return Ok(());
        }
        let records: Vec<(String, &[u8])> =
            xattrs.iter().map(|(name, value)| (format!("SCHILY.xattr.{name}"), value.as_slice())).collect();
        self.builder.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v)))
    }
}

fn with_slash(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    if !s.as_bytes().ends_with(b"/") {
        s.push("/");
    }
    PathBuf::from(s)
}

fn header_from(meta: &Stat) -> Header {
    let mut header = Header::new_gnu();
    header.set_mode(meta.st_mode & 0o7777);
    header.set_uid(meta.st_uid.into());
    header.set_gid(meta.st_gid.into());
    header.set_mtime(meta.st_mtime.max(0) as u64);
    header
}

/// The attributes a layer carries: everything but overlayfs' own bookkeeping. Read
/// without following `name` (the l* calls) through our own descriptor of its directory,
/// the one way to reach a symlink's or a device's attributes without opening it.
fn xattrs(dir: &impl AsFd, name: &OsStr) -> io::Result<Vec<(String, Vec<u8>)>> {
    use std::os::fd::AsRawFd;
    let path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_fd().as_raw_fd())).join(name);
    let mut names = vec![0u8; 4096];
    let n = match rustix::fs::llistxattr(&path, &mut names) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        if name.starts_with("trusted.overlay.") {
            continue;
        }
        let mut value = vec![0u8; 64 * 1024];
        let len = rustix::fs::lgetxattr(&path, name.as_str(), &mut value)?;
        value.truncate(len);
        out.push((name, value));
    }
    Ok(out)
}
