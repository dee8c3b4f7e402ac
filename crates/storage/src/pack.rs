//! Writing a directory tree as a tar: a container's upper dir as an OCI layer (overlay
//! whiteouts become `.wh.` files, opaque directories `.wh..wh..opq`), or a merged view
//! as a plain root filesystem for `export`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

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
    let mut packer = Packer { builder: tar::Builder::new(out), source, exclude, links: HashMap::new() };
    packer.builder.follow_symlinks(false);
    packer.walk(dir, Path::new(""))?;
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
    fn walk(&mut self, dir: &Path, rel: &Path) -> io::Result<()> {
        let mut names: Vec<OsString> =
            fs::read_dir(dir)?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
        names.sort();
        for name in names {
            let full = dir.join(&name);
            let rel = rel.join(&name);
            if self.exclude.iter().any(|x| rel.starts_with(x)) {
                continue;
            }
            let meta = fs::symlink_metadata(&full)?;
            let file_type = meta.file_type();
            if self.source == Source::OverlayUpper && file_type.is_char_device() && meta.rdev() == 0 {
                let mut whiteout = OsString::from(WHITEOUT_PREFIX);
                whiteout.push(&name);
                let path = rel.parent().unwrap_or(Path::new("")).join(whiteout);
                self.empty_file(&path, &meta)?;
                continue;
            }
            let xattrs = xattrs(&full)?;
            let mut header = header_from(&meta);
            if file_type.is_dir() {
                header.set_entry_type(EntryType::Directory);
                header.set_size(0);
                self.append(&mut header, &with_slash(&rel), &xattrs, io::empty())?;
                if self.source == Source::OverlayUpper
                    && rustix::fs::lgetxattr(&full, OVERLAY_OPAQUE_XATTR, &mut [0u8; 8]).is_ok_and(|n| n > 0)
                {
                    self.empty_file(&rel.join(OPAQUE_MARKER), &meta)?;
                }
                self.walk(&full, &rel)?;
            } else if file_type.is_symlink() {
                header.set_entry_type(EntryType::Symlink);
                header.set_size(0);
                let target = fs::read_link(&full)?;
                self.append_pax(&xattrs)?;
                self.builder.append_link(&mut header, &rel, &target)?;
            } else if file_type.is_file() {
                if meta.nlink() > 1 {
                    if let Some(first) = self.links.get(&(meta.dev(), meta.ino())).cloned() {
                        header.set_entry_type(EntryType::Link);
                        header.set_size(0);
                        self.builder.append_link(&mut header, &rel, &first)?;
                        continue;
                    }
                    self.links.insert((meta.dev(), meta.ino()), rel.clone());
                }
                header.set_entry_type(EntryType::Regular);
                header.set_size(meta.len());
                self.append(&mut header, &rel, &xattrs, File::open(&full)?)?;
            } else {
                let kind = if file_type.is_char_device() {
                    EntryType::Char
                } else if file_type.is_block_device() {
                    EntryType::Block
                } else if file_type.is_fifo() {
                    EntryType::Fifo
                } else {
                    continue; // sockets have no place in a layer
                };
                header.set_entry_type(kind);
                header.set_size(0);
                header.set_device_major(rustix::fs::major(meta.rdev()))?;
                header.set_device_minor(rustix::fs::minor(meta.rdev()))?;
                self.append(&mut header, &rel, &xattrs, io::empty())?;
            }
        }
        Ok(())
    }

    fn empty_file(&mut self, path: &Path, like: &fs::Metadata) -> io::Result<()> {
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

fn header_from(meta: &fs::Metadata) -> Header {
    let mut header = Header::new_gnu();
    header.set_mode(meta.mode() & 0o7777);
    header.set_uid(meta.uid().into());
    header.set_gid(meta.gid().into());
    header.set_mtime(meta.mtime().max(0) as u64);
    header
}

/// The attributes a layer carries: everything but overlayfs' own bookkeeping.
fn xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut names = vec![0u8; 4096];
    let n = match rustix::fs::llistxattr(path, &mut names) {
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
        let len = rustix::fs::lgetxattr(path, name.as_str(), &mut value)?;
        value.truncate(len);
        out.push((name, value));
    }
    Ok(out)
}
