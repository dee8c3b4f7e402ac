//! The trees `COPY` and `ADD` read from: the build context (a directory read in place,
//! or a tar from stdin unpacked into scratch space), with `.dockerignore` applied, or
//! the root file system of another stage or image (`COPY --from`).
//!
//! A tree is reached only through a descriptor of its top. Source paths are cleaned
//! lexically and clamped at the top (`../x` is `x`, as BuildKit does), then resolved one
//! name at a time with `openat(O_NOFOLLOW)`; a symlink met on the way is expanded by us,
//! inside the tree (an absolute target restarts at the top), so no source ever leaves
//! it. Inside a copied directory symlinks are never followed: they are copied as they
//! are. Wildcards are Go's `filepath.Match`, one path component at a time, matched
//! against the tree as `.dockerignore` leaves it.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use lindocker_dockerfile::ignore::Ignore;
use rustix::fs::{Dir, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::go_match::{glob_match, has_meta};
use crate::{EngineError, inroot};

/// How deep a copied tree may go.
const MAX_DEPTH: usize = lindocker_storage::pack::MAX_DEPTH;
/// How many symlinks one source path may pass through (the kernel's limit).
const MAX_LINKS: usize = 40;
/// The largest file [`SourceTree::read_file`] reads (a Dockerfile).
const READ_LIMIT: u64 = 64 << 20;

/// A tree files are copied from: the build context (with .dockerignore), or the root
/// file system of another stage or image (COPY --from).
pub struct SourceTree {
    root: OwnedFd,
    /// Where it is on the host, for messages.
    path: PathBuf,
    /// `.dockerignore` (the context only).
    ignore: Option<Ignore>,
    /// A root file system: owners are the tree's own, and count in the cache key.
    rootfs: bool,
}

impl std::fmt::Debug for SourceTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceTree").field("path", &self.path).field("rootfs", &self.rootfs).finish()
    }
}

impl SourceTree {
    /// The context directory read in place; `.dockerignore` at its top applied.
    pub fn context_dir(dir: &Path) -> Result<SourceTree, EngineError> {
        let root = open_top(dir)?;
        let ignore = match inroot::read_regular(&root, Path::new(".dockerignore"), READ_LIMIT) {
            Ok(text) => Some(
                Ignore::parse(&String::from_utf8_lossy(&text))
                    .map_err(|e| EngineError::Invalid(format!("failed to parse .dockerignore: {}", e.message)))?,
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(EngineError::Invalid(format!("failed to read .dockerignore: {e}"))),
        };
        Ok(SourceTree { root, path: dir.to_path_buf(), ignore, rootfs: false })
    }

    /// Replaces the context's `.dockerignore` rules by `text`: BuildKit's
    /// `<Dockerfile>.dockerignore` beside the Dockerfile, which wins when present.
    pub fn set_ignore(&mut self, text: &str) -> Result<(), EngineError> {
        let ignore = Ignore::parse(text)
            .map_err(|e| EngineError::Invalid(format!("failed to parse the ignore file: {}", e.message)))?;
        self.ignore = Some(ignore);
        Ok(())
    }

    /// A context sent as a tar (stdin, `-`; plain, gzip or zstd), unpacked safely into
    /// `scratch` (an empty directory the caller made and removes): no entry lands
    /// outside it, device nodes are skipped, owners are root's. A stream that is not a
    /// tar is the Dockerfile alone, with an empty context (`docker build - <
    /// Dockerfile`).
    pub fn context_tar(input: impl Read, scratch: &Path) -> Result<SourceTree, EngineError> {
        let dir = open_top(scratch)?;
        let bad = |e: &dyn std::fmt::Display| EngineError::Invalid(format!("failed to read the build context: {e}"));
        let mut input = lindocker_storage::unpack::decompress(input).map_err(|e| bad(&e))?;
        let mut block = [0u8; 512];
        let mut got = 0;
        while got < block.len() {
            match input.read(&mut block[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(bad(&e)),
            }
        }
        let whole = io::Cursor::new(block[..got].to_vec()).chain(input);
        if got == block.len() && is_tar_header(&block) {
            lindocker_storage::unpack::extract(whole, &dir, false, (0, 0), None).map_err(|e| bad(&e))?;
        } else {
            let file = rustix::fs::openat(
                &dir,
                "Dockerfile",
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            )
            .map_err(|e| EngineError::io(&scratch.join("Dockerfile"), e.into()))?;
            let copied = io::copy(&mut whole.take(READ_LIMIT + 1), &mut File::from(file)).map_err(|e| bad(&e))?;
            if copied > READ_LIMIT {
                return Err(bad(&format!("a Dockerfile on stdin larger than {READ_LIMIT} bytes")));
            }
        }
        SourceTree::context_dir(scratch)
    }

    /// A root file system (a mounted stage or image); no ignore rules; every path
    /// resolved inside it (openat2 RESOLVE_IN_ROOT).
    pub fn rootfs(dir: &Path) -> Result<SourceTree, EngineError> {
        Ok(SourceTree { root: open_top(dir)?, path: dir.to_path_buf(), ignore: None, rootfs: true })
    }

    /// Reads a file of the tree (the Dockerfile named by -f, relative to the context).
    /// `.dockerignore` does not hide it, as in Docker.
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>, EngineError> {
        inroot::read_regular(&self.root, Path::new(path), READ_LIMIT).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => EngineError::NotFound(format!("open {path}: no such file or directory")),
            _ => EngineError::Invalid(format!("read {path}: {e}")),
        })
    }

    /// A root file system's tree: owners are kept and count.
    pub(crate) fn is_rootfs(&self) -> bool {
        self.rootfs
    }

    /// Whether `.dockerignore` leaves out the tree path `path` (`/`-separated, relative).
    fn ignored(&self, path: &str) -> bool {
        !path.is_empty() && self.ignore.as_ref().is_some_and(|i| i.excludes(path))
    }

    /// Whether a walk must look below the ignored directory `path`.
    fn look_below(&self, path: &str) -> bool {
        self.ignore.as_ref().is_none_or(|i| i.may_include_below(path))
    }

    /// The sources one `COPY`/`ADD` argument names, in order: one for a plain path, every
    /// match for a wildcard (none is an error, as in BuildKit).
    pub(crate) fn select(&self, source: &str) -> Result<Vec<Selected>, EngineError> {
        let (parts, pivot) = clean(source);
        let not_found = || EngineError::NotFound(format!("\"/{}\": not found", parts.join("/")));
        let mut found: Vec<(Cursor, Vec<String>)> = vec![(Cursor::default(), Vec::new())];
        for part in &parts {
            let mut next = Vec::new();
            for (cursor, shown) in &found {
                if has_meta(part) {
                    let names = match list(self.fd_of(cursor)) {
                        Ok(names) => names,
                        Err(Errno::NOTDIR) => continue, // `*/x` past a file
                        Err(e) => return Err(self.error(&cursor.path(), e)),
                    };
                    for name in names {
                        let Some(name_str) = name.to_str() else { continue };
                        if !glob_match(part, name_str)
                            .map_err(|_| EngineError::Invalid(format!("{source}: syntax error in pattern")))?
                        {
                            continue;
                        }
                        if let Some(c) = self.descend(cursor, &name)? {
                            let mut shown = shown.clone();
                            shown.push(name_str.to_owned());
                            next.push((c, shown));
                        }
                    }
                } else if let Some(c) = self.descend(cursor, OsStr::new(part))? {
                    let mut shown = shown.clone();
                    shown.push(part.clone());
                    next.push((c, shown));
                }
            }
            found = next;
        }
        let mut out = Vec::new();
        for (cursor, shown) in found {
            let path = cursor.path();
            let (fd, st) = self.node_of(&cursor)?;
            let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
            // Left out by its own path or, for a symlink, by the path it leads to.
            let written = shown.join("/");
            if [&path, &written].iter().any(|p| self.ignored(p) && !(is_dir && self.look_below(p))) {
                continue;
            }
            let parents = shown[pivot.min(shown.len())..].to_vec();
            out.push(Selected { path, name: shown.last().cloned(), parents, fd, st });
        }
        if out.is_empty() {
            return Err(not_found());
        }
        Ok(out)
    }

    /// The descriptor of the directory `cursor` is at.
    fn fd_of<'a>(&'a self, cursor: &'a Cursor) -> &'a OwnedFd {
        cursor.fds.last().map(|(_, fd)| &**fd).unwrap_or(&self.root)
    }

    /// An `O_PATH` descriptor of what `cursor` is at, and its status.
    fn node_of(&self, cursor: &Cursor) -> Result<(OwnedFd, Stat), EngineError> {
        let fd = self.fd_of(cursor);
        let fd = fd.try_clone().map_err(|e| EngineError::io(&self.path, e))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| self.error(&cursor.path(), e))?;
        Ok((fd, st))
    }

    /// `cursor` moved to its entry `name`, symlinks (the last one too, as BuildKit
    /// follows a source's links) expanded inside the tree; `None` if there is nothing.
    fn descend(&self, cursor: &Cursor, name: &OsStr) -> Result<Option<Cursor>, EngineError> {
        let mut cursor = cursor.clone();
        let mut queue: Vec<OsString> = vec![name.to_owned()];
        let mut links = 0;
        // `queue` holds the names still to walk, the next one last.
        while let Some(name) = queue.pop() {
            if name == ".." {
                cursor.fds.pop();
                continue;
            }
            if name == "." || name.is_empty() {
                continue;
            }
            let dir = self.fd_of(&cursor);
            let fd = match rustix::fs::openat(
                dir,
                &name,
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(Errno::NOENT | Errno::NOTDIR) => return Ok(None),
                Err(e) => return Err(self.error(&cursor.path(), e)),
            };
            let st = rustix::fs::fstat(&fd).map_err(|e| self.error(&cursor.path(), e))?;
            match FileType::from_raw_mode(st.st_mode) {
                FileType::Symlink => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(EngineError::Invalid(format!(
                            "{}/{}: too many levels of symbolic links",
                            cursor.path(),
                            name.to_string_lossy()
                        )));
                    }
                    let target =
                        rustix::fs::readlinkat(&fd, "", Vec::new()).map_err(|e| self.error(&cursor.path(), e))?;
                    let target = target.as_bytes();
                    if target.starts_with(b"/") {
                        cursor.fds.clear();
                    }
                    for part in target.split(|&b| b == b'/').rev() {
                        queue.push(OsStr::from_bytes(part).to_owned());
                    }
                }
                kind => {
                    if !queue.is_empty() && kind != FileType::Directory {
                        return Ok(None);
                    }
                    cursor.fds.push((name, Rc::new(fd)));
                }
            }
        }
        Ok(Some(cursor))
    }

    fn error(&self, path: &str, e: impl Into<io::Error>) -> EngineError {
        EngineError::io(&self.path.join(path), e.into())
    }

    /// Walks the selected source `top` (a directory's entries in name order, the
    /// directory itself first as `""`), calling `visit` for each node `.dockerignore`
    /// and `exclude` (patterns matched against the path below `top` and the tree path)
    /// leave in. A directory left out whose entries an exception may bring back is
    /// visited only if one of them is.
    pub(crate) fn walk(
        &self,
        top: &Selected,
        exclude: Option<&Ignore>,
        visit: &mut dyn Visitor,
    ) -> Result<(), EngineError> {
        let mut walk = Walk { tree: self, exclude, pending: Vec::new() };
        let name = OsStr::new(top.name.as_deref().unwrap_or(""));
        let node = Node { rel: "", name, fd: &top.fd, st: &top.st };
        if FileType::from_raw_mode(top.st.st_mode) != FileType::Directory {
            return visit.leaf(&node);
        }
        let listing =
            rustix::fs::openat(&top.fd, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| self.error(&top.path, e))?;
        visit.enter(&node)?;
        walk.children(visit, &top.path, "", &listing, &top.st, 0)?;
        visit.leave(&node)
    }
}

/// One node of a walk.
pub(crate) struct Node<'a> {
    /// The path below the selected source (`/`-separated, for messages and patterns;
    /// `""` for the source itself).
    pub rel: &'a str,
    /// Its name in its directory (the source's own name for the source itself).
    pub name: &'a OsStr,
    /// An `O_PATH` descriptor of it (never followed if a symlink).
    pub fd: &'a OwnedFd,
    /// Its status.
    pub st: &'a Stat,
}

/// What a walk does with the nodes it finds.
pub(crate) trait Visitor {
    /// A directory, before its entries.
    fn enter(&mut self, node: &Node<'_>) -> Result<(), EngineError>;
    /// A directory, after its entries.
    fn leave(&mut self, node: &Node<'_>) -> Result<(), EngineError>;
    /// Anything but a directory.
    fn leaf(&mut self, node: &Node<'_>) -> Result<(), EngineError>;
}

/// A source a `COPY`/`ADD` argument selected.
pub(crate) struct Selected {
    /// Its path in the tree, symlinks resolved (`""`: the top).
    pub path: String,
    /// Its name as written or matched (not its symlink target's): where a file lands.
    pub name: Option<String>,
    /// The path as written or matched, from the top or from a `/./` pivot (`--parents`).
    pub parents: Vec<String>,
    /// An `O_PATH` descriptor of it.
    pub fd: OwnedFd,
    /// Its status.
    pub st: Stat,
}

/// Where a resolution is: the directories from the top, each with its descriptor.
#[derive(Clone, Default)]
struct Cursor {
    fds: Vec<(OsString, Rc<OwnedFd>)>,
}

impl Cursor {
    fn path(&self) -> String {
        let names: Vec<_> = self.fds.iter().map(|(n, _)| n.to_string_lossy()).collect();
        names.join("/")
    }
}

struct Pending {
    rel: String,
    name: OsString,
    fd: OwnedFd,
    st: Stat,
    entered: bool,
}

struct Walk<'a> {
    tree: &'a SourceTree,
    exclude: Option<&'a Ignore>,
    /// Ignored directories being walked, entered only once something below is kept.
    pending: Vec<Pending>,
}

impl Walk<'_> {
    /// Whether the node `rel` (tree path `path`) is left out.
    fn left_out(&self, path: &str, rel: &str) -> bool {
        self.tree.ignored(path) || self.exclude.is_some_and(|x| x.excludes(rel) || x.excludes(path))
    }

    fn look_below(&self, path: &str, rel: &str) -> bool {
        (!self.tree.ignored(path) || self.tree.look_below(path))
            && self.exclude.is_none_or(|x| {
                (!x.excludes(rel) || x.may_include_below(rel)) && (!x.excludes(path) || x.may_include_below(path))
            })
    }

    /// Enters the ignored directories above a node that is kept.
    fn flush(&mut self, visit: &mut dyn Visitor) -> Result<(), EngineError> {
        for p in self.pending.iter_mut().filter(|p| !p.entered) {
            visit.enter(&Node { rel: &p.rel, name: &p.name, fd: &p.fd, st: &p.st })?;
            p.entered = true;
        }
        Ok(())
    }

    fn children(
        &mut self,
        visit: &mut dyn Visitor,
        path: &str,
        rel: &str,
        listing: &OwnedFd,
        st: &Stat,
        depth: usize,
    ) -> Result<(), EngineError> {
        if depth >= MAX_DEPTH {
            return Err(EngineError::Invalid(format!("{path}: more than {MAX_DEPTH} directories deep")));
        }
        for name in list(listing).map_err(|e| self.tree.error(path, e))? {
            let name_str = name.to_string_lossy();
            let child_path = if path.is_empty() { name_str.to_string() } else { format!("{path}/{name_str}") };
            let child_rel = if rel.is_empty() { name_str.to_string() } else { format!("{rel}/{name_str}") };
            let fd = match rustix::fs::openat(
                listing,
                &name,
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => continue, // removed meanwhile
                Err(e) => return Err(self.tree.error(&child_path, e)),
            };
            let child_st = rustix::fs::fstat(&fd).map_err(|e| self.tree.error(&child_path, e))?;
            let out = self.left_out(&child_path, &child_rel);
            if FileType::from_raw_mode(child_st.st_mode) != FileType::Directory {
                if !out {
                    self.flush(visit)?;
                    visit.leaf(&Node { rel: &child_rel, name: &name, fd: &fd, st: &child_st })?;
                }
                continue;
            }
            if out && !self.look_below(&child_path, &child_rel) {
                continue;
            }
            // A mount of procfs or the like in the tree: not the kernel's files.
            if child_st.st_dev != st.st_dev && inroot::on_pseudo_fs(&fd).unwrap_or(true) {
                continue;
            }
            let sub = rustix::fs::openat(&fd, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| self.tree.error(&child_path, e))?;
            if out {
                self.pending.push(Pending {
                    rel: child_rel.clone(),
                    name: name.clone(),
                    fd,
                    st: child_st,
                    entered: false,
                });
                self.children(visit, &child_path, &child_rel, &sub, &child_st, depth + 1)?;
                let p = self.pending.pop().expect("pushed above");
                if p.entered {
                    visit.leave(&Node { rel: &p.rel, name: &p.name, fd: &p.fd, st: &p.st })?;
                }
            } else {
                self.flush(visit)?;
                let node = Node { rel: &child_rel, name: &name, fd: &fd, st: &child_st };
                visit.enter(&node)?;
                self.children(visit, &child_path, &child_rel, &sub, &child_st, depth + 1)?;
                visit.leave(&node)?;
            }
        }
        Ok(())
    }
}

/// The names in the directory `dir` (any descriptor of it), sorted, without `.`/`..`.
fn list(dir: &impl AsFd) -> Result<Vec<OsString>, Errno> {
    let listing = rustix::fs::openat(dir, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let mut names = Vec::new();
    let mut entries = Dir::new(listing)?;
    while let Some(entry) = entries.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// A descriptor of the top of a tree (a trusted host path).
fn open_top(dir: &Path) -> Result<OwnedFd, EngineError> {
    let fd = inroot::open_dir(dir).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
            EngineError::NotFound(format!("unable to prepare context: path {:?} not found", dir.display().to_string()))
        }
        _ => EngineError::io(dir, e),
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| EngineError::io(dir, e.into()))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return Err(EngineError::Invalid(format!("{}: not a directory", dir.display())));
    }
    Ok(fd)
}

/// A source path cleaned as BuildKit does (`path.Clean("/" + src)`: `.` and `..`
/// resolved lexically, clamped at the top), as its components, and where a `--parents`
/// path starts: after the last `.` that follows a name (`a/./b`), else at the top.
pub(crate) fn clean(source: &str) -> (Vec<String>, usize) {
    let mut parts: Vec<String> = Vec::new();
    let mut pivot = 0;
    for part in source.split('/') {
        match part {
            "" => {}
            "." => {
                if !parts.is_empty() {
                    pivot = parts.len();
                }
            }
            ".." => {
                parts.pop();
                pivot = pivot.min(parts.len());
            }
            name => parts.push(name.to_owned()),
        }
    }
    (parts, pivot)
}

/// Whether `block` is a tar header: its checksum field matches its bytes.
pub(crate) fn is_tar_header(block: &[u8; 512]) -> bool {
    let field: String =
        block[148..156].iter().map(|&b| b as char).filter(|c| !matches!(c, ' ' | '\0')).collect::<String>();
    let Ok(want) = u64::from_str_radix(&field, 8) else { return false };
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    want == unsigned || i64::try_from(want).is_ok_and(|w| w == signed)
}

/// Reads the regular file `fd` (an `O_PATH` descriptor of the tree) from the start.
pub(crate) fn open_regular(fd: &OwnedFd) -> io::Result<File> {
    Ok(File::from(inroot::reopen(fd, OFlags::RDONLY | OFlags::NONBLOCK)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_headers_are_recognised_by_their_checksum() {
        let mut h = tar::Header::new_gnu();
        h.set_path("a").unwrap();
        h.set_size(0);
        h.set_cksum();
        let block: [u8; 512] = h.as_bytes()[..].try_into().unwrap();
        assert!(is_tar_header(&block));
        let mut text = [b'x'; 512];
        text[148..156].copy_from_slice(b"0000000\0");
        assert!(!is_tar_header(&text));
        assert!(!is_tar_header(&[0; 512]));
    }

    #[test]
    fn a_tree_can_be_shared_by_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<SourceTree>();
    }

    #[test]
    fn sources_are_clamped_at_the_top() {
        assert_eq!(clean("../../etc/passwd"), (vec!["etc".to_owned(), "passwd".to_owned()], 0));
        assert_eq!(clean("/a/../../b/"), (vec!["b".to_owned()], 0));
        assert_eq!(clean("."), (vec![], 0));
        assert_eq!(clean("./x/./y/z"), (vec!["x".to_owned(), "y".to_owned(), "z".to_owned()], 1));
    }
}
