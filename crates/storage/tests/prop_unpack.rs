//! Property tests of the layer unpacker: random tar entries (`..` and absolute names,
//! symlinks out of the layer and entries through them, hard links out, whiteouts,
//! devices, long names, odd types and attributes) never change anything outside the layer
//! directory and never panic. The layer sits in a directory beside a sentinel tree whose
//! every file, directory and attribute is compared before and after.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use lindocker_storage::unpack::unpack_layer;
use proptest::prelude::*;
use tar::{EntryType, Header};

/// One tar entry as the test describes it.
#[derive(Debug, Clone)]
struct Entry {
    path: Vec<u8>,
    kind: Kind,
    mode: u32,
    owner: (u64, u64),
    xattrs: Vec<(String, Vec<u8>)>,
}

#[derive(Debug, Clone)]
enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(Vec<u8>),
    Hardlink(Vec<u8>),
    Device(u8, u32, u32),
    Fifo,
    /// Any other type byte, with a body.
    Other(u8, Vec<u8>),
}

/// Names the unpacker must take apart: escapes, whiteouts, the sentinel's own names.
fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(vec!["a", "b", "link", "outside", "victim", "dir", "etc"]).prop_map(String::from),
        2 => proptest::sample::select(vec!["..", ".", "", ".wh.a", ".wh.link", ".wh..wh..opq", ".wh..wh.plnk", ".wh...", ".wh."])
            .prop_map(String::from),
        1 => "[a-z.]{1,8}",
        1 => (100usize..300).prop_map(|n| "n".repeat(n)),
    ]
}

fn entry_path() -> impl Strategy<Value = Vec<u8>> {
    (any::<bool>(), proptest::collection::vec(component(), 1..5))
        .prop_map(|(absolute, parts)| format!("{}{}", if absolute { "/" } else { "" }, parts.join("/")).into_bytes())
}

/// Link targets: out of the layer (relative and absolute, onto the sentinel), into it,
/// and at the layer's own entries.
fn link_target(sentinel: &Path) -> impl Strategy<Value = Vec<u8>> {
    let outside = sentinel.join("outside");
    let fixed: Vec<Vec<u8>> = vec![
        outside.as_os_str().as_encoded_bytes().to_vec(),
        outside.join("victim").as_os_str().as_encoded_bytes().to_vec(),
        outside.join("dir").as_os_str().as_encoded_bytes().to_vec(),
        sentinel.as_os_str().as_encoded_bytes().to_vec(),
        b"../outside".to_vec(),
        b"../outside/victim".to_vec(),
        b"../../outside".to_vec(),
        b"..".to_vec(),
        b"../..".to_vec(),
        b"/".to_vec(),
        b".".to_vec(),
        b"".to_vec(),
        b"/proc/self/root".to_vec(),
    ];
    prop_oneof![2 => proptest::sample::select(fixed), 2 => entry_path()]
}

fn kind(sentinel: &Path) -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..600),
            (1usize..3).prop_map(|blocks| vec![0; blocks * 4096 + 17]),
        ].prop_map(Kind::File),
        2 => Just(Kind::Dir),
        3 => link_target(sentinel).prop_map(Kind::Symlink),
        2 => link_target(sentinel).prop_map(Kind::Hardlink),
        1 => (proptest::sample::select(vec![b'3', b'4']), 0u32..300, 0u32..300)
            .prop_map(|(t, major, minor)| Kind::Device(t, major, minor)),
        1 => Just(Kind::Fifo),
        1 => (proptest::sample::select(vec![b'7', b'S', b'V', b'M', b'N', b'g', b'x', b'L', b'K', b'X', 0]),
              proptest::collection::vec(any::<u8>(), 0..100))
            .prop_map(|(t, body)| Kind::Other(t, body)),
    ]
}

fn xattr() -> impl Strategy<Value = (String, Vec<u8>)> {
    (
        proptest::sample::select(vec![
            "user.x",
            "trusted.overlay.opaque",
            "trusted.overlay.redirect",
            "security.capability",
            "bogus",
            "",
        ]),
        proptest::collection::vec(any::<u8>(), 0..24),
    )
        .prop_map(|(k, v)| (k.to_owned(), v))
}

fn entry(sentinel: &Path) -> impl Strategy<Value = Entry> {
    (
        entry_path(),
        kind(sentinel),
        0u32..0o10000,
        prop_oneof![Just((0, 0)), (0u64..70_000, 0u64..70_000), Just((u64::from(u32::MAX) + 1, 0))],
        proptest::collection::vec(xattr(), 0..2),
    )
        .prop_map(|(path, kind, mode, owner, xattrs)| Entry { path, kind, mode, owner, xattrs })
}

/// Raw tar bytes, written by hand: `tar::Builder` refuses the names this test needs.
fn tar_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        if !e.xattrs.is_empty() {
            let mut records = Vec::new();
            for (k, v) in &e.xattrs {
                let body = [format!(" SCHILY.xattr.{k}=").as_bytes(), v, b"\n"].concat();
                // The length counts its own digits.
                let mut len = body.len() + 1;
                while format!("{len}").len() + body.len() != len {
                    len += 1;
                }
                records.extend_from_slice(format!("{len}").as_bytes());
                records.extend_from_slice(&body);
            }
            push(&mut out, b"././@PaxHeader", b'x', &records, 0o644, (0, 0), b"", (0, 0));
        }
        if e.path.len() > 100 {
            push(&mut out, b"././@LongLink", b'L', &[e.path.as_slice(), b"\0"].concat(), 0o644, (0, 0), b"", (0, 0));
        }
        let (typ, body, link, dev): (u8, &[u8], &[u8], (u32, u32)) = match &e.kind {
            Kind::File(data) => (b'0', data, b"", (0, 0)),
            Kind::Dir => (b'5', b"", b"", (0, 0)),
            Kind::Symlink(t) => (b'2', b"", t, (0, 0)),
            Kind::Hardlink(t) => (b'1', b"", t, (0, 0)),
            Kind::Device(t, major, minor) => (*t, b"", b"", (*major, *minor)),
            Kind::Fifo => (b'6', b"", b"", (0, 0)),
            Kind::Other(t, body) => (*t, body, b"", (0, 0)),
        };
        if link.len() > 100 {
            push(&mut out, b"././@LongLink", b'K', &[link, b"\0"].concat(), 0o644, (0, 0), b"", (0, 0));
        }
        push(&mut out, &e.path, typ, body, e.mode, e.owner, link, dev);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

#[allow(clippy::too_many_arguments)]
fn push(
    out: &mut Vec<u8>,
    name: &[u8],
    typ: u8,
    body: &[u8],
    mode: u32,
    owner: (u64, u64),
    link: &[u8],
    dev: (u32, u32),
) {
    let mut h = Header::new_gnu();
    let gnu = h.as_gnu_mut().expect("gnu header");
    let n = name.len().min(100);
    gnu.name[..n].copy_from_slice(&name[..n]);
    let l = link.len().min(100);
    gnu.linkname[..l].copy_from_slice(&link[..l]);
    h.set_entry_type(EntryType::new(typ));
    h.set_size(body.len() as u64);
    h.set_mode(mode);
    h.set_uid(owner.0);
    h.set_gid(owner.1);
    h.set_mtime(1_700_000_000);
    h.set_device_major(dev.0).expect("gnu has device numbers");
    h.set_device_minor(dev.1).expect("gnu has device numbers");
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// Everything about a tree that a write could change: type, mode, owner, size, link
/// count, times (ctime catches chmod, chown, links and attributes), contents, link
/// targets and the attributes overlayfs and the tests use.
type Snapshot = BTreeMap<PathBuf, String>;

fn snapshot(root: &Path, skip: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path == skip {
            continue;
        }
        let meta = fs::symlink_metadata(&path).expect("stat");
        let mut state = format!(
            "{:o} {}:{} {} {} {}.{} {}.{}",
            meta.mode(),
            meta.uid(),
            meta.gid(),
            meta.len(),
            meta.nlink(),
            meta.mtime(),
            meta.mtime_nsec(),
            meta.ctime(),
            meta.ctime_nsec()
        );
        for name in ["trusted.overlay.opaque", "user.x"] {
            let mut buf = [0u8; 64];
            if let Ok(n) = rustix::fs::lgetxattr(&path, name, &mut buf) {
                state.push_str(&format!(" {name}={:?}", &buf[..n]));
            }
        }
        if meta.file_type().is_symlink() {
            state.push_str(&format!(" -> {:?}", fs::read_link(&path).expect("readlink")));
        } else if meta.is_file() {
            state.push_str(&format!(" {:?}", fs::read(&path).expect("read")));
        } else if meta.is_dir() {
            for child in fs::read_dir(&path).expect("readdir") {
                stack.push(child.expect("dirent").path());
            }
        }
        out.insert(path, state);
    }
    out
}

/// A fresh `parent/{layer,outside/{victim,dir/},sibling}` under the test's temp dir.
fn setup() -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "prop-unpack-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&parent);
    fs::create_dir_all(parent.join("layer")).unwrap();
    fs::create_dir_all(parent.join("outside/dir")).unwrap();
    fs::write(parent.join("outside/victim"), "sentinel").unwrap();
    fs::write(parent.join("outside/dir/inner"), "sentinel").unwrap();
    fs::write(parent.join("sibling"), "sentinel").unwrap();
    parent
}

/// The fixed path of the sentinel for test `test`'s strategies (the one a case's `setup`
/// makes is numbered, so strategies aim at a stable alias: a symlink made for each case).
fn aim(test: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("prop-unpack-{test}-{}", std::process::id()))
}

fn unpack_leaves_outside_alone(entries: &[Entry], test: &str) {
    let parent = setup();
    let alias = aim(test);
    let _ = fs::remove_file(&alias);
    std::os::unix::fs::symlink(&parent, &alias).unwrap();
    let layer = parent.join("layer");
    let before = snapshot(&parent, &layer);
    let tar = tar_bytes(entries);
    let result = unpack_layer(tar.as_slice(), &layer);
    let after = snapshot(&parent, &layer);
    fs::remove_file(&alias).unwrap();
    fs::remove_dir_all(&parent).unwrap();
    for (path, state) in &after {
        assert_eq!(before.get(path), Some(state), "{} changed ({result:?})", path.display());
    }
    assert_eq!(before.len(), after.len(), "entries outside the layer vanished ({result:?})");
}

proptest! {
    // Each case makes and walks a directory tree: fewer cases than the pure parsers get.
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_entries_stay_inside(entries in proptest::collection::vec(entry(&aim("random")), 1..10)) {
        unpack_leaves_outside_alone(&entries, "random");
    }

    /// The attack spelled out, with random decoys around it: a symlink out of the layer,
    /// then entries of every kind through it.
    #[test]
    fn entries_through_a_symlink_out_stay_inside(
        target in link_target(&aim("through")),
        through in proptest::collection::vec((component(), kind(&aim("through"))), 1..4),
        decoys in proptest::collection::vec(entry(&aim("through")), 0..3),
    ) {
        let base = |path: &str, kind: Kind| Entry { path: path.into(), kind, mode: 0o755, owner: (0, 0), xattrs: Vec::new() };
        let mut entries = decoys;
        entries.insert(0, base("link", Kind::Symlink(target)));
        for (name, kind) in through {
            entries.push(base(&format!("link/{name}"), kind));
        }
        unpack_leaves_outside_alone(&entries, "through");
    }

    /// Random bytes (and a valid tar cut short or flipped) are an error or a layer.
    #[test]
    fn random_bytes_stay_inside(
        entries in proptest::collection::vec(entry(&aim("bytes")), 0..4),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let parent = setup();
        let layer = parent.join("layer");
        let before = snapshot(&parent, &layer);
        let mut tar = tar_bytes(&entries);
        for (at, byte) in flips {
            let i = at.index(tar.len());
            tar[i] = byte;
        }
        tar.truncate(cut.index(tar.len() + 1));
        let _ = unpack_layer(tar.as_slice(), &layer);
        let after = snapshot(&parent, &layer);
        fs::remove_dir_all(&parent).unwrap();
        prop_assert_eq!(before, after);
    }

    /// Plain layers (distinct names, files in directories) unpack to exactly their files.
    #[test]
    fn plain_layers_unpack_exactly(files in proptest::collection::btree_map("[a-z]{1,3}(/[a-z]{1,3}){0,2}", proptest::collection::vec(any::<u8>(), 0..300), 1..8)) {
        // A name that is also another's directory cannot be both: keep the deeper one.
        let files: BTreeMap<String, Vec<u8>> = files
            .iter()
            .filter(|(name, _)| !files.keys().any(|other| other.starts_with(&format!("{name}/"))))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let entries: Vec<Entry> = files
            .iter()
            .map(|(name, data)| Entry { path: name.clone().into_bytes(), kind: Kind::File(data.clone()), mode: 0o640, owner: (0, 0), xattrs: Vec::new() })
            .collect();
        let parent = setup();
        let layer = parent.join("layer");
        let result = unpack_layer(tar_bytes(&entries).as_slice(), &layer);
        let found: Vec<(String, Vec<u8>)> = files.keys().map(|name| (name.clone(), fs::read(layer.join(name)).unwrap_or_default())).collect();
        fs::remove_dir_all(&parent).unwrap();
        prop_assert!(result.is_ok(), "{:?}", result);
        prop_assert_eq!(found, files.into_iter().collect::<Vec<_>>());
    }
}
