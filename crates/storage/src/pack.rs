//! Writing a directory tree as a tar: a container's upper dir as an OCI layer (overlay
//! whiteouts become `.wh.` files, opaque directories `.wh..wh..opq`), or a merged view
//! as a plain root filesystem for `export`.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Dir, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use tar::{EntryType, Header};

use crate::unpack::{OPAQUE_MARKER, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX};

/// How to read the tree being packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An overlay upper directory: whiteouts and opaque markers are translated.
    OverlayUpper,
    /// A plain tree (a merged view, an import): everything is taken as it is.
    Plain,
    /// A container's files copied out to the admin (`cp CONTAINER:PATH -`), under the
    /// policy of a copy to a host directory: device nodes, FIFOs and sockets are skipped
    /// (and reported), set-id bits dropped, only `user.*` attributes kept (never
    /// `security.capability`), a kernel pseudo-filesystem mounted inside packed as its
    /// directory alone, and a tree deeper than [`MAX_DEPTH`] an error.
    Container,
}

/// The deepest directory a [`Source::Container`] walk descends to, as `cp` to a host
/// directory: a container can build a tree deep enough to exhaust the walk.
pub const MAX_DEPTH: usize = 128;

/// Writes `dir` as a tar stream to `out`, skipping the relative paths in `exclude`
/// (and everything beneath them).
///
/// The tree may belong to a running container, whose processes can rename and replace
/// entries while we walk: so the walk goes from descriptor to descriptor by single
/// names (`O_NOFOLLOW`), never by path strings, and a file is opened for its contents
/// only through the descriptor that showed it to be a regular file. A directory swapped
/// for a symlink to a host directory, or a file swapped for a device node or a FIFO,
/// never brings the host's data into the tar.
pub fn pack_dir(dir: &Path, source: Source, exclude: &[&Path], out: impl Write) -> io::Result<()> {
    let mut packer =
        Packer { builder: tar::Builder::new(out), source, exclude, links: HashMap::new(), skipped: Vec::new() };
    packer.builder.follow_symlinks(false);
    let root = rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    packer.walk(&root, Path::new(""))?;
    packer.builder.into_inner()?.flush()
}

/// Writes the file `node` (an `O_PATH` descriptor, of any type) as a tar stream named
/// `name` to `out`, with everything under it if it is a directory: `cp CONTAINER:PATH -`.
/// The walk is [`pack_dir`]'s, from descriptor to descriptor, under the policy of
/// [`Source::Container`]. Returns the paths it skipped.
pub fn pack_node(node: OwnedFd, name: &Path, out: impl Write) -> io::Result<Vec<PathBuf>> {
    let mut packer = Packer {
        builder: tar::Builder::new(out),
        source: Source::Container,
        exclude: &[],
        links: HashMap::new(),
        skipped: Vec::new(),
    };
    packer.builder.follow_symlinks(false);
    if name == Path::new(".") {
        // A directory's contents (`DIR/.`), under their own names.
        let dir = rustix::fs::openat(&node, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        packer.walk(&dir, Path::new(""))?;
    } else {
        packer.node(node, name.to_owned())?;
    }
    packer.builder.into_inner()?.flush()?;
    Ok(packer.skipped)
}

struct Packer<'a, W: Write> {
    builder: tar::Builder<W>,
    source: Source,
    exclude: &'a [&'a Path],
    /// (device, inode) -> first path, so later names of a file become hard links.
    links: HashMap<(u64, u64), PathBuf>,
    /// What a [`Source::Container`] walk left out.
    skipped: Vec<PathBuf>,
}

impl<W: Write> Packer<'_, W> {
    /// Packs the entries of the directory `dir` (a descriptor), named `rel` in the tar.
    fn walk(&mut self, dir: &OwnedFd, rel: &Path) -> io::Result<()> {
        let mut names: Vec<OsString> = Vec::new();
        let mut entries = Dir::read_from(dir)?;
        while let Some(entry) = entries.read() {
            let name = OsStr::from_bytes(entry?.file_name().to_bytes()).to_owned();
            if name != "." && name != ".." {
                names.push(name);
            }
        }
        names.sort();
        for name in names {
            let rel = rel.join(&name);
            if self.exclude.iter().any(|x| rel.starts_with(x)) {
                continue;
            }
            let fd = match rustix::fs::openat(
                dir,
                &name,
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => continue, // removed while we walked
                Err(e) => return Err(e.into()),
            };
            self.node(fd, rel)?;
        }
        Ok(())
    }

    /// Packs the file `fd` (an `O_PATH` descriptor), named `rel` in the tar, and what is
    /// under it.
    fn node(&mut self, fd: OwnedFd, rel: PathBuf) -> io::Result<()> {
        let name = rel.file_name().unwrap_or_default().to_owned();
        let st = rustix::fs::fstat(&fd)?;
        let file_type = FileType::from_raw_mode(st.st_mode);
        if self.source == Source::OverlayUpper && file_type == FileType::CharacterDevice && st.st_rdev == 0 {
            let mut whiteout = OsString::from(WHITEOUT_PREFIX);
            whiteout.push(&name);
            let path = rel.parent().unwrap_or(Path::new("")).join(whiteout);
            return self.empty_file(&path, &st);
        }
        let container = self.source == Source::Container;
        let mut header = header_from(&st);
        if container {
            header.set_mode(st.st_mode & 0o1777);
        }
        let keep = |xattrs: Vec<(String, Vec<u8>)>| match container {
            true => xattrs.into_iter().filter(|(name, _)| name.starts_with("user.")).collect(),
            false => xattrs,
        };
        match file_type {
            FileType::Directory => {
                if container && rel.components().count() > MAX_DEPTH {
                    return Err(io::Error::other(format!("more than {MAX_DEPTH} directories deep")));
                }
                let dir_fd =
                    rustix::fs::openat(&fd, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
                let xattrs = keep(xattrs(&dir_fd)?);
                header.set_entry_type(EntryType::Directory);
                header.set_size(0);
                self.append(&mut header, &with_slash(&rel), &xattrs, io::empty())?;
                if self.source == Source::OverlayUpper
                    && rustix::fs::fgetxattr(&dir_fd, OVERLAY_OPAQUE_XATTR, &mut [0u8; 8]).is_ok_and(|n| n > 0)
                {
                    self.empty_file(&rel.join(OPAQUE_MARKER), &st)?;
                }
                // A mount of procfs, sysfs and the like: its directory, not the kernel's files.
                if !(container && on_pseudo_fs(&dir_fd)?) {
                    self.walk(&dir_fd, &rel)?;
                }
            }
            FileType::Symlink => {
                header.set_entry_type(EntryType::Symlink);
                header.set_size(0);
                let target = rustix::fs::readlinkat(&fd, "", Vec::new())?;
                let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
                self.builder.append_link(&mut header, &rel, &target)?;
            }
            FileType::RegularFile => {
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = self.links.get(&key).cloned() {
                        header.set_entry_type(EntryType::Link);
                        header.set_size(0);
                        return self.builder.append_link(&mut header, &rel, &first);
                    }
                    self.links.insert(key, rel.clone());
                }
                // The same inode the descriptor showed to be a regular file.
                let file = File::from(rustix::fs::open(
                    format!("/proc/self/fd/{}", fd.as_raw_fd()),
                    OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
                    Mode::empty(),
                )?);
                let xattrs = keep(xattrs(&file)?);
                let size = st.st_size as u64;
                header.set_entry_type(EntryType::Regular);
                header.set_size(size);
                // Exactly the size in the header, even if the file changes meanwhile.
                let data = file.take(size).chain(io::repeat(0)).take(size);
                self.append(&mut header, &rel, &xattrs, data)?;
            }
            FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo | FileType::Socket if container => {
                self.skipped.push(rel);
            }
            FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
                let kind = match file_type {
                    FileType::CharacterDevice => EntryType::Char,
                    FileType::BlockDevice => EntryType::Block,
                    _ => EntryType::Fifo,
                };
                header.set_entry_type(kind);
                header.set_size(0);
                header.set_device_major(rustix::fs::major(st.st_rdev))?;
                header.set_device_minor(rustix::fs::minor(st.st_rdev))?;
                self.append(&mut header, &rel, &[], io::empty())?;
            }
            _ => {} // sockets have no place in a layer
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

/// Whether `fd` is on a kernel pseudo-filesystem (procfs, sysfs, cgroupfs, ...), whose
/// files are the host kernel's interfaces rather than a container's data: reading
/// `/proc/kmsg` as the host's root would take the host's log and block, writing there
/// would act on the host.
pub fn on_pseudo_fs(fd: &impl AsFd) -> io::Result<bool> {
    const PSEUDO: [i64; 11] = [
        0x9fa0,      // proc
        0x6265_6572, // sysfs
        0x6367_7270, // cgroup2
        0x0027_e0eb, // cgroup
        0x6462_6720, // debugfs
        0x7363_6673, // securityfs
        0x7472_6163, // tracefs
        0xcafe_4a11, // bpf
        0x6265_6570, // configfs
        0xde5e_81e4, // efivarfs
        0x6165_676c, // pstore
    ];
    let st = rustix::fs::fstatfs(fd)?;
    #[allow(clippy::unnecessary_cast)]
    Ok(PSEUDO.contains(&(st.f_type as i64)))
}

fn with_slash(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    if !s.as_bytes().ends_with(b"/") {
        s.push("/");
    }
    PathBuf::from(s)
}

fn header_from(st: &Stat) -> Header {
    let mut header = Header::new_gnu();
    header.set_mode(st.st_mode & 0o7777);
    header.set_uid(st.st_uid.into());
    header.set_gid(st.st_gid.into());
    header.set_mtime(st.st_mtime.max(0) as u64);
    header
}

/// The attributes a layer carries: everything but overlayfs' own bookkeeping.
fn xattrs(fd: &impl AsFd) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut names = vec![0u8; 4096];
    let n = match rustix::fs::flistxattr(fd, &mut names) {
        Ok(n) => n,
        Err(Errno::NOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        if name.starts_with("trusted.overlay.") {
            continue;
        }
        let mut value = vec![0u8; 64 * 1024];
        let len = rustix::fs::fgetxattr(fd, name.as_str(), &mut value)?;
        value.truncate(len);
        out.push((name, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_source_keeps_only_user_attributes_and_no_set_id_bits() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("lindocker-pack-xattr-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("d")).unwrap();
        let file = dir.join("d/f");
        std::fs::write(&file, "x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o6755)).unwrap();
        rustix::fs::setxattr(&file, "user.kept", b"1", rustix::fs::XattrFlags::empty()).unwrap();
        rustix::fs::setxattr(&file, "trusted.dropped", b"1", rustix::fs::XattrFlags::empty()).unwrap();
        let node = rustix::fs::open(dir.join("d"), OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).unwrap();
        let mut tar = Vec::new();
        pack_node(node, Path::new("d"), &mut tar).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            assert_eq!(entry.header().mode().unwrap() & 0o6000, 0, "set-id bits kept");
            if let Some(pax) = entry.pax_extensions().unwrap() {
                for ext in pax {
                    seen.push(ext.unwrap().key().unwrap().to_owned());
                }
            }
        }
        assert_eq!(seen, ["SCHILY.xattr.user.kept"]);
    }
}
