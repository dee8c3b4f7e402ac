//! `COPY` and `ADD` at the engine level: a context directory (or tar), a directory
//! playing the step's root file system, and what lands there, as a Docker user would
//! check it (files, modes, owners, errors). The attack tests plant what a hostile base
//! image or context holds and check that nothing outside the root changes or leaks in.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use lindocker_engine::build::context::SourceTree;
use lindocker_engine::build::copy::{CopyRequest, CopySource, copy, source_digest};

static CASE: AtomicUsize = AtomicUsize::new(0);

/// A scratch directory with `context/`, `rootfs/` and `host/` (a stand-in for the host's
/// files, reached by its absolute path), removed at the end.
struct Case {
    base: PathBuf,
}

impl Case {
    fn new() -> Case {
        let base = std::env::temp_dir().join(format!(
            "lindocker-build-copy-{}-{}",
            std::process::id(),
            CASE.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&base);
        for d in ["context", "rootfs/etc", "host"] {
            fs::create_dir_all(base.join(d)).unwrap();
        }
        fs::write(base.join("host/secret"), "HOST SECRET\n").unwrap();
        fs::write(base.join("rootfs/etc/passwd"), "root:x:0:0::/root:/bin/sh\nwww:x:33:34::/var/www:/bin/sh\n")
            .unwrap();
        fs::write(base.join("rootfs/etc/group"), "root:x:0:\nweb:x:34:\nstaff:x:50:\n").unwrap();
        Case { base }
    }

    fn ctx(&self) -> PathBuf {
        self.base.join("context")
    }

    fn root(&self) -> PathBuf {
        self.base.join("rootfs")
    }

    fn host(&self) -> PathBuf {
        self.base.join("host")
    }

    fn write(&self, rel: &str, data: &str) {
        let p = self.ctx().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }

    /// COPY (or ADD) `sources` to `dest` from the context.
    fn copy(&self, sources: &[&str], dest: &str) -> Result<(), String> {
        self.run(Req { sources, dest, ..Req::default() })
    }

    fn run(&self, r: Req<'_>) -> Result<(), String> {
        let tree = SourceTree::context_dir(&self.ctx()).map_err(|e| e.to_string())?;
        let sources: Vec<CopySource> = r.sources.iter().map(|s| CopySource::Path(s.to_string())).collect();
        let request = r.request(&sources);
        copy(&tree, &request, &self.root()).map_err(|e| e.to_string())
    }

    fn digest(&self, sources: &[&str]) -> String {
        let tree = SourceTree::context_dir(&self.ctx()).unwrap();
        let sources: Vec<CopySource> = sources.iter().map(|s| CopySource::Path(s.to_string())).collect();
        source_digest(&tree, &Req { dest: "/d/", ..Req::default() }.request(&sources)).unwrap()
    }

    /// Every path under the host stand-in, with its contents.
    fn host_listing(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        listing(&self.host(), &mut out);
        out
    }

    /// The names beside `context`, `rootfs` and `host`: nothing may appear there.
    fn beside(&self) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(&self.base).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.base);
    }
}

#[derive(Default, Clone, Copy)]
struct Req<'a> {
    sources: &'a [&'a str],
    dest: &'a str,
    chown: Option<&'a str>,
    chmod: Option<u32>,
    add: bool,
    exclude: &'a [String],
    parents: bool,
}

impl<'a> Req<'a> {
    fn request(&self, sources: &'a [CopySource]) -> CopyRequest<'a> {
        CopyRequest {
            sources,
            dest: self.dest,
            chown: self.chown,
            chmod: self.chmod,
            add: self.add,
            exclude: self.exclude,
            parents: self.parents,
        }
    }
}

fn listing(path: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    let meta = fs::symlink_metadata(path).unwrap();
    let data = if meta.is_file() { fs::read(path).unwrap() } else { Vec::new() };
    out.push((path.to_owned(), data));
    if meta.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for entry in entries {
            listing(&entry, out);
        }
    }
}

/// Every regular file under `dir` whose contents are `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut all = Vec::new();
    listing(dir, &mut all);
    all.into_iter().filter(|(_, d)| d.windows(needle.len()).any(|w| w == needle)).map(|(p, _)| p).collect()
}

fn tar_of(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(if *kind == tar::EntryType::Directory { 0o755 } else { 0o644 });
        h.set_uid(1000);
        h.set_gid(1000);
        h.set_mtime(1_600_000_000);
        // Written raw: the tar crate refuses `..` and absolute names, a hostile tar does not.
        let bytes = h.as_gnu_mut().unwrap();
        bytes.name[..name.len()].copy_from_slice(name.as_bytes());
        if !link.is_empty() {
            bytes.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

// ---- attacks: a hostile destination root, context and archive ----

/// The base image made `/etc` a symlink to the host's directory (by its absolute
/// path): the copy must not write there.
#[test]
fn a_symlinked_destination_does_not_lead_to_the_host() {
    let c = Case::new();
    c.write("payload", "PAYLOAD\n");
    fs::remove_dir_all(c.root().join("etc")).unwrap();
    symlink(c.host(), c.root().join("etc")).unwrap();
    symlink(c.host().join("secret"), c.root().join("file")).unwrap();
    symlink("../../../../../../..", c.root().join("up")).unwrap();
    let before = c.host_listing();
    let beside = c.beside();
    for dest in ["/etc/", "/etc/payload", "/etc/sub/dir/", "/file", "/up/", "/up/x", "/../../etc/"] {
        let _ = c.copy(&["payload"], dest);
    }
    let _ = c.copy(&["."], "/etc/");
    let _ = c.copy(&["."], "/up");
    assert_eq!(c.host_listing(), before, "the host's files changed");
    assert_eq!(c.beside(), beside, "a file was written beside the root");
    // The symlink at the final component was replaced, not written through.
    assert_eq!(fs::read(c.root().join("file")).unwrap(), b"PAYLOAD\n");
    assert_eq!(fs::read(c.host().join("secret")).unwrap(), b"HOST SECRET\n");
}

/// A symlink planted where a copied directory's subdirectory goes must not lead out.
#[test]
fn a_symlink_inside_the_destination_tree_does_not_lead_out() {
    let c = Case::new();
    c.write("app/conf/x.conf", "CONF\n");
    fs::create_dir_all(c.root().join("app")).unwrap();
    symlink(c.host(), c.root().join("app/conf")).unwrap();
    let before = c.host_listing();
    let _ = c.copy(&["app"], "/app");
    assert_eq!(c.host_listing(), before, "the host's files changed");
    assert_eq!(files_holding(&c.root(), b"CONF").len(), 1);
}

/// `--chown=NAME` reads the image's `/etc/passwd`; a symlink there to a file of the
/// host's must not be followed out (the host's users are not the image's).
#[test]
fn chown_names_come_from_the_image_not_the_host() {
    let c = Case::new();
    c.write("f", "x");
    fs::write(c.host().join("passwd"), "hostuser:x:4242:4242::/:/bin/sh\n").unwrap();
    fs::remove_file(c.root().join("etc/passwd")).unwrap();
    symlink(c.host().join("passwd"), c.root().join("etc/passwd")).unwrap();
    let err = c.run(Req { sources: &["f"], dest: "/f", chown: Some("hostuser"), ..Req::default() }).unwrap_err();
    assert!(err.contains("unable to find user hostuser"), "{err}");
    assert!(!c.root().join("f").exists(), "nothing is copied when the owner is unknown");
}

/// `..` and absolute paths in sources stay inside the context.
#[test]
fn sources_cannot_leave_the_context() {
    let c = Case::new();
    c.write("inside", "IN\n");
    for source in ["../host/secret", "/../host/secret", "../../../../../../../etc/passwd", "/etc/passwd"] {
        let _ = c.copy(&[source], "/got/");
    }
    let _ = c.copy(&["../*"], "/glob/");
    let _ = c.copy(&["../host"], "/dir/");
    assert!(files_holding(&c.root(), b"HOST SECRET").is_empty(), "a file outside the context was copied");
    assert!(files_holding(&c.root(), b"root:x:0:0::/root:/bin/bash").is_empty(), "the host's passwd was copied");
    let err = c.copy(&["../host/secret"], "/x").unwrap_err();
    assert!(err.contains("\"/host/secret\": not found"), "{err}");
}

/// A context symlink to a host file is copied as a symlink, never read.
#[test]
fn context_symlinks_are_copied_not_followed() {
    let c = Case::new();
    symlink("/etc/shadow", c.ctx().join("shadow")).unwrap();
    symlink(c.host().join("secret"), c.ctx().join("secret")).unwrap();
    symlink("../host/secret", c.ctx().join("relative")).unwrap();
    c.copy(&["."], "/all/").unwrap();
    assert_eq!(fs::read_link(c.root().join("all/shadow")).unwrap(), Path::new("/etc/shadow"));
    assert_eq!(fs::read_link(c.root().join("all/secret")).unwrap(), c.host().join("secret"));
    assert_eq!(fs::read_link(c.root().join("all/relative")).unwrap(), Path::new("../host/secret"));
    // Named as a source, the link is followed inside the context, where it leads nowhere.
    for source in ["shadow", "secret", "relative"] {
        assert!(c.copy(&[source], "/named/").is_err(), "{source}");
    }
    assert!(files_holding(&c.root(), b"HOST SECRET").is_empty(), "the host's file was copied");
}

/// An archive for `ADD` with `../` names and an absolute symlink followed by a file
/// through it: everything lands inside the destination.
#[test]
fn add_extracts_hostile_archives_inside_the_root() {
    let c = Case::new();
    let host = c.host().display().to_string();
    let tar = tar_of(&[
        ("evil", tar::EntryType::Symlink, &host, b""),
        ("evil/pwned", tar::EntryType::Regular, "", b"PWNED\n"),
        ("abs", tar::EntryType::Symlink, "/", b""),
        ("abs/etc/pwned", tar::EntryType::Regular, "", b"PWNED\n"),
    ]);
    fs::write(c.ctx().join("evil.tar"), &tar).unwrap();
    let climbing = tar_of(&[("../../../pwned", tar::EntryType::Regular, "", b"PWNED\n")]);
    fs::write(c.ctx().join("climb.tar"), &climbing).unwrap();
    let before = c.host_listing();
    let beside = c.beside();
    let _ = c.run(Req { sources: &["evil.tar"], dest: "/x/", add: true, ..Req::default() });
    let err = c.run(Req { sources: &["climb.tar"], dest: "/y/", add: true, ..Req::default() }).unwrap_err();
    assert!(err.contains("'..'"), "{err}");
    assert_eq!(c.host_listing(), before, "the host's files changed");
    assert_eq!(c.beside(), beside, "a file was written beside the root");
    assert!(fs::symlink_metadata(c.root().join("x/evil")).unwrap().file_type().is_symlink());
    assert!(!c.root().join("y").join("pwned").exists() && !c.base.join("pwned").exists());
}

// ---- Docker's COPY semantics ----

#[test]
fn files_and_directories_land_where_docker_puts_them() {
    let c = Case::new();
    c.write("a.txt", "A");
    c.write("dir/b.txt", "B");
    c.write("dir/sub/c.txt", "C");
    fs::set_permissions(c.ctx().join("a.txt"), fs::Permissions::from_mode(0o4751)).unwrap();
    c.copy(&["a.txt"], "/new/name").unwrap();
    assert_eq!(fs::read(c.root().join("new/name")).unwrap(), b"A");
    assert_eq!(fs::metadata(c.root().join("new")).unwrap().permissions().mode() & 0o7777, 0o755);
    let meta = fs::metadata(c.root().join("new/name")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o4751, "the mode is kept");
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
    assert_eq!(meta.mtime(), fs::metadata(c.ctx().join("a.txt")).unwrap().mtime(), "the mtime is kept");
    c.copy(&["a.txt"], "/into/").unwrap();
    assert_eq!(fs::read(c.root().join("into/a.txt")).unwrap(), b"A");
    c.copy(&["a.txt"], "/dot/.").unwrap();
    assert_eq!(fs::read(c.root().join("dot/a.txt")).unwrap(), b"A");
    // An existing directory without a trailing slash: into it.
    c.copy(&["a.txt"], "/into").unwrap();
    assert!(c.root().join("into/a.txt").is_file());
    // A directory copies its contents.
    c.copy(&["dir"], "/d").unwrap();
    assert_eq!(fs::read(c.root().join("d/b.txt")).unwrap(), b"B");
    assert_eq!(fs::read(c.root().join("d/sub/c.txt")).unwrap(), b"C");
    assert!(!c.root().join("d/dir").exists());
    // Several sources need a directory ending in /.
    let err = c.copy(&["a.txt", "dir"], "/multi").unwrap_err();
    assert_eq!(
        err,
        "When using COPY with more than one source file, the destination must be a directory and end with a /"
    );
    c.copy(&["a.txt", "dir"], "/multi/").unwrap();
    assert!(c.root().join("multi/a.txt").is_file() && c.root().join("multi/sub/c.txt").is_file());
    // A missing source.
    let err = c.copy(&["missing"], "/m").unwrap_err();
    assert!(err.contains("\"/missing\": not found"), "{err}");
    // A directory onto a file.
    let err = c.copy(&["dir"], "/new/name").unwrap_err();
    assert!(err.contains("cannot copy to non-directory: /new/name"), "{err}");
}

/// A destination through a dangling symlink is made where the link points, inside the
/// root (Docker follows it there).
#[test]
fn a_dangling_symlink_on_the_way_is_followed_inside_the_root() {
    let c = Case::new();
    c.write("f", "F");
    fs::create_dir_all(c.root().join("var")).unwrap();
    symlink("../run", c.root().join("var/run")).unwrap();
    symlink(c.host().join("data"), c.root().join("data")).unwrap();
    c.copy(&["f"], "/var/run/app/").unwrap();
    assert_eq!(fs::read(c.root().join("run/app/f")).unwrap(), b"F");
    let before = c.host_listing();
    c.copy(&["f"], "/data/x/").unwrap();
    assert_eq!(c.host_listing(), before, "made on the host");
    assert!(c.root().join(c.host().strip_prefix("/").unwrap()).join("data/x/f").is_file());
}

#[test]
fn wildcards_match_one_component_at_a_time() {
    let c = Case::new();
    c.write("x1.txt", "1");
    c.write("x2.txt", "2");
    c.write("y.txt", "y");
    c.write("sub/x3.txt", "3");
    c.copy(&["x*.txt"], "/w/").unwrap();
    let mut names: Vec<_> = fs::read_dir(c.root().join("w")).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["x1.txt", "x2.txt"]);
    c.copy(&["*/x?.txt"], "/s/").unwrap();
    assert!(c.root().join("s/x3.txt").is_file());
    c.copy(&["y*"], "/single").unwrap();
    assert_eq!(fs::read(c.root().join("single")).unwrap(), b"y");
    let err = c.copy(&["x*.txt"], "/nodir").unwrap_err();
    assert!(err.contains("must be a directory and end with a /"), "{err}");
    assert!(c.copy(&["z*"], "/z/").unwrap_err().contains("not found"));
}

#[test]
fn chown_and_chmod() {
    let c = Case::new();
    c.write("d/f", "F");
    c.run(Req { sources: &["d"], dest: "/a/b/", chown: Some("www"), chmod: Some(0o640), ..Req::default() }).unwrap();
    let f = fs::metadata(c.root().join("a/b/f")).unwrap();
    assert_eq!((f.uid(), f.gid(), f.permissions().mode() & 0o7777), (33, 34, 0o640));
    let parent = fs::metadata(c.root().join("a")).unwrap();
    assert_eq!((parent.uid(), parent.gid(), parent.permissions().mode() & 0o7777), (33, 34, 0o755));
    c.run(Req { sources: &["d/f"], dest: "/n", chown: Some("1000"), ..Req::default() }).unwrap();
    let n = fs::metadata(c.root().join("n")).unwrap();
    assert_eq!((n.uid(), n.gid()), (1000, 1000));
    c.run(Req { sources: &["d/f"], dest: "/g", chown: Some("www:staff"), ..Req::default() }).unwrap();
    let g = fs::metadata(c.root().join("g")).unwrap();
    assert_eq!((g.uid(), g.gid()), (33, 50));
    let err = c.run(Req { sources: &["d/f"], dest: "/u", chown: Some("nobody"), ..Req::default() }).unwrap_err();
    assert!(err.contains("unable to find user nobody"), "{err}");
    let err = c.run(Req { sources: &["d/f"], dest: "/u", chown: Some("www:nogroup"), ..Req::default() }).unwrap_err();
    assert!(err.contains("unable to find group nogroup"), "{err}");
}

#[test]
fn symlinks_and_hard_links_are_kept() {
    let c = Case::new();
    c.write("t/file", "DATA");
    symlink("file", c.ctx().join("t/link")).unwrap();
    fs::hard_link(c.ctx().join("t/file"), c.ctx().join("t/hard")).unwrap();
    rustix::fs::setxattr(c.ctx().join("t/file"), "user.origin", b"ctx", rustix::fs::XattrFlags::empty()).unwrap();
    c.copy(&["t"], "/t").unwrap();
    let mut value = [0u8; 16];
    let n = rustix::fs::getxattr(c.root().join("t/file"), "user.origin", &mut value[..]).unwrap();
    assert_eq!(&value[..n], b"ctx", "extended attributes are kept");
    assert_eq!(fs::read_link(c.root().join("t/link")).unwrap(), Path::new("file"));
    let a = fs::metadata(c.root().join("t/file")).unwrap();
    let b = fs::metadata(c.root().join("t/hard")).unwrap();
    assert_eq!(a.ino(), b.ino(), "a hard link stays one");
    // A symlink named as the source is followed (inside the context).
    c.copy(&["t/link"], "/named").unwrap();
    assert_eq!(fs::read(c.root().join("named")).unwrap(), b"DATA");
}

#[test]
fn exclude_patterns_leave_files_out() {
    let c = Case::new();
    c.write("src/a.go", "a");
    c.write("src/a_test.go", "t");
    c.write("src/x/b.go", "b");
    let exclude = vec!["**/*_test.go".to_owned()];
    c.run(Req { sources: &["src"], dest: "/e/", exclude: &exclude, ..Req::default() }).unwrap();
    assert!(c.root().join("e/a.go").is_file());
    assert!(c.root().join("e/x/b.go").is_file());
    assert!(!c.root().join("e/a_test.go").exists());
}

#[test]
fn parents_keep_the_source_paths() {
    let c = Case::new();
    c.write("src/a.go", "a");
    c.write("src/x/b.go", "b");
    c.run(Req { sources: &["src/x/b.go", "src/a.go"], dest: "/p/", parents: true, ..Req::default() }).unwrap();
    assert!(c.root().join("p/src/x/b.go").is_file());
    assert!(c.root().join("p/src/a.go").is_file());
    c.run(Req { sources: &["src/./x/b.go"], dest: "/q/", parents: true, ..Req::default() }).unwrap();
    assert!(c.root().join("q/x/b.go").is_file());
}

#[test]
fn add_extracts_local_archives_and_refuses_urls() {
    let c = Case::new();
    let tar = tar_of(&[("dir/", tar::EntryType::Directory, "", b""), ("dir/f", tar::EntryType::Regular, "", b"F")]);
    fs::write(c.ctx().join("plain.tar"), &tar).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    fs::write(c.ctx().join("a.tar.gz"), gz.finish().unwrap()).unwrap();
    fs::write(c.ctx().join("notes.gz"), b"not an archive").unwrap();
    for (src, dest) in [("plain.tar", "/p"), ("a.tar.gz", "/g/")] {
        c.run(Req { sources: &[src], dest, add: true, ..Req::default() }).unwrap();
        let f = c.root().join(dest.trim_start_matches('/')).join("dir/f");
        assert_eq!(fs::read(&f).unwrap(), b"F", "{src}");
        assert_eq!(fs::metadata(&f).unwrap().uid(), 1000, "the archive's owner is kept");
    }
    c.run(Req { sources: &["plain.tar"], dest: "/o/", add: true, chown: Some("www:staff"), ..Req::default() }).unwrap();
    let f = fs::metadata(c.root().join("o/dir/f")).unwrap();
    assert_eq!((f.uid(), f.gid()), (33, 50), "--chown owns what an archive holds");
    c.run(Req { sources: &["notes.gz"], dest: "/n/", add: true, ..Req::default() }).unwrap();
    assert_eq!(fs::read(c.root().join("n/notes.gz")).unwrap(), b"not an archive");
    // COPY does not extract.
    c.copy(&["plain.tar"], "/c/").unwrap();
    assert!(c.root().join("c/plain.tar").is_file());
    let err = c.run(Req { sources: &["https://example.com/x.tar"], dest: "/", add: true, ..Req::default() });
    assert_eq!(err.unwrap_err(), "ADD from a URL is not supported offline: https://example.com/x.tar");
}

#[test]
fn the_digest_follows_content_not_times() {
    let c = Case::new();
    c.write("d/a", "A");
    c.write("d/b", "B");
    let first = c.digest(&["d"]);
    assert_eq!(first, c.digest(&["d"]));
    let f = fs::File::options().write(true).open(c.ctx().join("d/a")).unwrap();
    f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
    assert_eq!(first, c.digest(&["d"]), "an mtime changed the digest");
    c.write("d/a", "changed");
    let changed = c.digest(&["d"]);
    assert_ne!(first, changed);
    fs::set_permissions(c.ctx().join("d/b"), fs::Permissions::from_mode(0o600)).unwrap();
    assert_ne!(changed, c.digest(&["d"]), "a mode change kept the digest");
    assert_ne!(c.digest(&["d/a"]), c.digest(&["d/b"]));
}

#[test]
fn a_context_tar_is_unpacked_inside_scratch() {
    let c = Case::new();
    let tar = tar_of(&[
        ("Dockerfile", tar::EntryType::Regular, "", b"FROM scratch\n"),
        ("link", tar::EntryType::Symlink, "/etc/passwd", b""),
    ]);
    let scratch = c.base.join("scratch");
    fs::create_dir(&scratch).unwrap();
    let tree = SourceTree::context_tar(&tar[..], &scratch).unwrap();
    assert_eq!(tree.read_file("Dockerfile").unwrap(), b"FROM scratch\n");
    assert!(tree.read_file("link").is_err(), "the host's passwd through a symlink");
    let climbing = tar_of(&[("../escape", tar::EntryType::Regular, "", b"X")]);
    let scratch2 = c.base.join("scratch2");
    fs::create_dir(&scratch2).unwrap();
    assert!(SourceTree::context_tar(&climbing[..], &scratch2).is_err());
    assert!(!c.base.join("escape").exists());
    // Not a tar: the Dockerfile alone (`docker build - < Dockerfile`).
    let scratch3 = c.base.join("scratch3");
    fs::create_dir(&scratch3).unwrap();
    let tree = SourceTree::context_tar(&b"FROM busybox\nRUN true\n"[..], &scratch3).unwrap();
    assert_eq!(tree.read_file("Dockerfile").unwrap(), b"FROM busybox\nRUN true\n");
    // A compressed tar.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let scratch4 = c.base.join("scratch4");
    fs::create_dir(&scratch4).unwrap();
    let tree = SourceTree::context_tar(&gz.finish().unwrap()[..], &scratch4).unwrap();
    assert_eq!(tree.read_file("Dockerfile").unwrap(), b"FROM scratch\n");
}

#[test]
fn copy_from_a_root_keeps_owners() {
    let c = Case::new();
    let stage = c.base.join("stage");
    fs::create_dir_all(stage.join("app")).unwrap();
    fs::write(stage.join("app/bin"), "BIN").unwrap();
    std::os::unix::fs::chown(stage.join("app/bin"), Some(1234), Some(5678)).unwrap();
    symlink("/etc/passwd", stage.join("app/pw")).unwrap();
    let tree = SourceTree::rootfs(&stage).unwrap();
    let sources = [CopySource::Path("/app".into())];
    copy(&tree, &Req { dest: "/opt/", ..Req::default() }.request(&sources), &c.root()).unwrap();
    let m = fs::metadata(c.root().join("opt/bin")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 5678));
    assert_eq!(fs::read_link(c.root().join("opt/pw")).unwrap(), Path::new("/etc/passwd"));
    // Named, the link resolves inside the stage's root: its own (missing) passwd.
    let sources = [CopySource::Path("/app/pw".into())];
    assert!(copy(&tree, &Req { dest: "/pw", ..Req::default() }.request(&sources), &c.root()).is_err());
    let before = source_digest(&tree, &Req { dest: "/", ..Req::default() }.request(&[CopySource::Path("app".into())]));
    std::os::unix::fs::chown(stage.join("app/bin"), Some(1), Some(1)).unwrap();
    let after = source_digest(&tree, &Req { dest: "/", ..Req::default() }.request(&[CopySource::Path("app".into())]));
    assert_ne!(before.unwrap(), after.unwrap(), "owners count for --from");
}

#[test]
fn heredocs_become_files() {
    let c = Case::new();
    let tree = SourceTree::context_dir(&c.ctx()).unwrap();
    let sources = [CopySource::Inline { name: "EOF".into(), content: b"hello\n".to_vec() }];
    copy(&tree, &Req { dest: "/greeting", ..Req::default() }.request(&sources), &c.root()).unwrap();
    assert_eq!(fs::read(c.root().join("greeting")).unwrap(), b"hello\n");
    assert_eq!(fs::metadata(c.root().join("greeting")).unwrap().permissions().mode() & 0o777, 0o644);
}

#[test]
fn dockerignore_leaves_files_out_of_the_context() {
    let c = Case::new();
    c.write(".dockerignore", "secret\n*.log\nbuild/\n!build/keep.txt\n");
    c.write("secret", "S");
    c.write("app.log", "L");
    c.write("main.c", "M");
    c.write("build/keep.txt", "K");
    c.write("build/other.o", "O");
    c.write("Dockerfile", "FROM scratch\n");
    c.copy(&["."], "/app/").unwrap();
    let mut all = Vec::new();
    listing(&c.root().join("app"), &mut all);
    let names: Vec<String> =
        all.iter().map(|(p, _)| p.strip_prefix(c.root().join("app")).unwrap().display().to_string()).collect();
    assert_eq!(names, ["", ".dockerignore", "Dockerfile", "build", "build/keep.txt", "main.c"]);
    assert!(c.copy(&["secret"], "/s").unwrap_err().contains("not found"));
    // Nor through a symlink to it.
    symlink("secret", c.ctx().join("alias")).unwrap();
    assert!(c.copy(&["alias"], "/s").unwrap_err().contains("not found"));
    fs::remove_file(c.ctx().join("alias")).unwrap();
    // Nor an ignored symlink to a file that is not.
    symlink("main.c", c.ctx().join("x.log")).unwrap();
    assert!(c.copy(&["x.log"], "/s").unwrap_err().contains("not found"));
    fs::remove_file(c.ctx().join("x.log")).unwrap();
    assert!(c.copy(&["*.log"], "/l/").unwrap_err().contains("not found"));
    c.copy(&["build"], "/b/").unwrap();
    assert!(c.root().join("b/keep.txt").is_file() && !c.root().join("b/other.o").exists());
    // An ignored file does not count for the cache; the Dockerfile is read whatever
    // the rules say.
    let before = c.digest(&["."]);
    c.write("secret", "changed");
    c.write("build/other.o", "changed");
    assert_eq!(before, c.digest(&["."]));
    let mut tree = SourceTree::context_dir(&c.ctx()).unwrap();
    assert_eq!(tree.read_file("Dockerfile").unwrap(), b"FROM scratch\n");
    // `Dockerfile.dockerignore` replaces the rules.
    tree.set_ignore("main.c\n").unwrap();
    let sources = [CopySource::Path("secret".into())];
    copy(&tree, &Req { dest: "/s2", ..Req::default() }.request(&sources), &c.root()).unwrap();
    let sources = [CopySource::Path("main.c".into())];
    assert!(copy(&tree, &Req { dest: "/m2", ..Req::default() }.request(&sources), &c.root()).is_err());
}

/// An exception deep below an ignored directory brings back that file and the
/// directories on its way, and nothing else; an ignored directory with nothing brought
/// back is not made at all.
#[test]
fn dockerignore_exceptions_bring_back_only_their_files() {
    let c = Case::new();
    c.write(".dockerignore", "*\n!src\n!vendor/a/keep.txt\n!other/a/keep.txt\nsrc/**/*.tmp\n");
    c.write("other/a/drop.txt", "D");
    c.write("vendor/a/keep.txt", "K");
    c.write("vendor/a/drop.txt", "D");
    c.write("vendor/b/drop.txt", "D");
    c.write("src/main.rs", "M");
    c.write("src/deep/x.tmp", "T");
    c.write("top.txt", "T");
    c.copy(&["."], "/app/").unwrap();
    let mut all = Vec::new();
    listing(&c.root().join("app"), &mut all);
    let names: Vec<String> =
        all.iter().map(|(p, _)| p.strip_prefix(c.root().join("app")).unwrap().display().to_string()).collect();
    assert_eq!(names, ["", "src", "src/deep", "src/main.rs", "vendor", "vendor/a", "vendor/a/keep.txt"]);
}

mod hostile_trees {
    use super::*;
    use proptest::prelude::*;

    /// Path pieces: climbs (often), the outside by its absolute host path (`OUT`), our
    /// own names and links.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => Just(".."),
            3 => Just("OUT"),
            1 => Just("."),
            1 => Just("a"),
            1 => Just("b"),
            2 => Just("l0"),
            1 => Just("l1"),
            1 => Just("secret"),
            2 => Just("file"),
            1 => Just("*"),
            1 => Just(""),
        ]
        .prop_map(str::to_owned)
    }

    fn path() -> impl Strategy<Value = String> {
        (any::<bool>(), prop::collection::vec(piece(), 0..5), any::<bool>()).prop_map(|(absolute, parts, slash)| {
            format!("{}{}{}", if absolute { "/" } else { "" }, parts.join("/"), if slash { "/" } else { "" })
        })
    }

    /// Link targets: any path, or straight at the outside.
    fn target() -> impl Strategy<Value = String> {
        prop_oneof![2 => path(), 1 => Just("OUT/secret".to_owned()), 1 => Just("OUT".to_owned())]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Whatever symlinks the destination root and a `--from` root hold, and whatever
        /// source and destination are asked for, nothing outside the destination root
        /// changes and no byte of a file outside the source tree is copied.
        #[test]
        fn copies_stay_inside_both_roots(
            dest_links in prop::collection::vec((0..3usize, 0..2usize, target()), 1..6),
            src_links in prop::collection::vec((0..3usize, 0..2usize, target()), 0..5),
            source in prop_oneof![2 => path(), 1 => Just("a/file".to_owned()), 1 => Just("a".to_owned())],
            dest in prop_oneof![2 => path(), 1 => Just("/l0".to_owned()), 1 => Just("/a/l1/x".to_owned())],
            add in any::<bool>(),
        ) {
            let c = Case::new();
            let stage = c.base.join("stage");
            for root in [c.root(), stage.clone()] {
                fs::create_dir_all(root.join("a/b")).unwrap();
                fs::write(root.join("a/file"), "inside").unwrap();
            }
            // The top of the root twice as often: where most destinations are.
            let dirs = ["", "", "a"];
            let out = c.host().display().to_string();
            for (root, links) in [(c.root(), &dest_links), (stage.clone(), &src_links)] {
                for (dir, name, target) in links {
                    let _ = symlink(target.replace("OUT", &out), root.join(dirs[*dir]).join(format!("l{name}")));
                }
            }
            let before = c.host_listing();
            let beside = c.beside();
            let dest = format!("/{}", dest.replace("OUT", &out));
            let source = source.replace("OUT", &out);
            let tree = SourceTree::rootfs(&stage).unwrap();
            let sources = [CopySource::Path(source.clone())];
            let request = Req { dest: &dest, add, ..Req::default() };
            let _ = copy(&tree, &request.request(&sources), &c.root());
            prop_assert_eq!(c.host_listing(), before, "COPY {} {} changed the outside", source, dest);
            prop_assert_eq!(c.beside(), beside.clone(), "COPY {} {} wrote beside the roots", source, dest);
            prop_assert!(files_holding(&c.root(), b"HOST SECRET").is_empty(), "COPY {} {} read the outside", source, dest);
        }
    }
}
