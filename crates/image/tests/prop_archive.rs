//! Property tests of `load`: archives (docker save and OCI layout) built right and then
//! bent (files swapped for symlinks out of the archive, directories that are symlinks,
//! references through them, mutated JSON, truncation, junk entries) load or fail, never
//! panic, and never change anything outside the data root. The data root sits in a
//! directory beside a sentinel tree that holds the very files the archive points at.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use lindocker_image::{Store, archive};
use proptest::prelude::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// A small, valid layer tar.
fn layer_tar(files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        builder.append_data(&mut header, name, data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap()
}

/// One entry of the archive tar.
#[derive(Debug, Clone)]
enum Item {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Hardlink(String),
}

/// How a valid archive is bent before it is written.
#[derive(Debug, Clone)]
enum Bend {
    /// The file becomes a symlink to the same name in the sentinel tree.
    FileOut(prop::sample::Index),
    /// The references go through a directory that is a symlink to the sentinel tree.
    RefsThroughLink(bool),
    /// `blobs` is a symlink to the sentinel tree's copy.
    BlobsOut,
    /// A JSON file's value at a random place is replaced.
    Json(prop::sample::Index, Vec<usize>, Value),
    /// An extra entry, anywhere.
    Extra(String, Item),
}

fn extra_name() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "manifest.json",
            "index.json",
            "blobs",
            "blobs/sha256",
            "out",
            "../escape",
            "/abs",
            "a/../../escape",
            "layer.tar",
        ])
        .prop_map(String::from),
        "[a-z]{1,4}(/[a-z]{1,4}){0,2}",
    ]
}

fn item(outside: &Path) -> impl Strategy<Value = Item> {
    let targets = vec![
        outside.display().to_string(),
        outside.join("layer.tar").display().to_string(),
        "../../../../outside".into(),
        "..".into(),
        "/".into(),
        "manifest.json".into(),
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Item::File),
        Just(Item::Dir),
        proptest::sample::select(targets.clone()).prop_map(Item::Symlink),
        proptest::sample::select(targets).prop_map(Item::Hardlink),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!([])),
        Just(json!({})),
        Just(json!("out/layer.tar")),
        Just(json!("../outside/layer.tar")),
        Just(json!("/etc/hostname")),
        Just(json!("sha256:../../outside")),
        Just(json!(["../../x"])),
        any::<i64>().prop_map(|n| json!(n)),
        "\\PC{0,12}".prop_map(Value::String),
    ]
}

fn bend(outside: &Path) -> impl Strategy<Value = Bend> {
    prop_oneof![
        3 => any::<prop::sample::Index>().prop_map(Bend::FileOut),
        2 => any::<bool>().prop_map(Bend::RefsThroughLink),
        1 => Just(Bend::BlobsOut),
        2 => (any::<prop::sample::Index>(), proptest::collection::vec(any::<usize>(), 0..4), json_value())
            .prop_map(|(i, p, v)| Bend::Json(i, p, v)),
        2 => (extra_name(), item(outside)).prop_map(|(n, i)| Bend::Extra(n, i)),
    ]
}

/// Replaces the value at `path` (indices modulo each level's size) with `new`.
fn replace_at(doc: &mut Value, path: &[usize], new: Value) {
    let Some((&first, rest)) = path.split_first() else {
        *doc = new;
        return;
    };
    let child = match doc {
        Value::Object(m) if !m.is_empty() => {
            let len = m.len();
            m.values_mut().nth(first % len)
        }
        Value::Array(a) if !a.is_empty() => {
            let len = a.len();
            a.get_mut(first % len)
        }
        _ => None,
    };
    match child {
        Some(child) => replace_at(child, rest, new),
        None => *doc = new,
    }
}

/// A valid archive of one image with `layers`, in either format, as named items; the same
/// files are copied into `outside` so that symlinks there find the right content.
fn valid_archive(oci: bool, layers: &[BTreeMap<String, Vec<u8>>]) -> BTreeMap<String, Item> {
    let tars: Vec<Vec<u8>> = layers.iter().map(layer_tar).collect();
    let diff_ids: Vec<String> = tars.iter().map(|t| sha256(t)).collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let mut items = BTreeMap::new();
    if oci {
        let blob = |d: &str| format!("blobs/sha256/{}", d.trim_start_matches("sha256:"));
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
            "layers": tars.iter().map(|t| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(t), "size": t.len()})).collect::<Vec<_>>(),
        }))
        .unwrap();
        let index = json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256(&manifest), "size": manifest.len(),
            "annotations": {"io.containerd.image.name": "docker.io/library/prop:oci"},
        }]});
        items.insert("oci-layout".into(), Item::File(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()));
        items.insert(blob(&sha256(&config)), Item::File(config.clone()));
        items.insert(blob(&sha256(&manifest)), Item::File(manifest));
        for t in &tars {
            items.insert(blob(&sha256(t)), Item::File(t.clone()));
        }
        items.insert("index.json".into(), Item::File(serde_json::to_vec(&index).unwrap()));
    } else {
        let names: Vec<String> = (0..tars.len()).map(|i| format!("l{i}/layer.tar")).collect();
        for (name, t) in names.iter().zip(&tars) {
            items.insert(name.clone(), Item::File(t.clone()));
        }
        items.insert("config.json".into(), Item::File(config));
        let manifest = json!([{"Config": "config.json", "RepoTags": ["prop:docker"], "Layers": names}]);
        items.insert("manifest.json".into(), Item::File(serde_json::to_vec(&manifest).unwrap()));
    }
    items
}

/// Writes `items` in order (directories first, so that later files land in them).
fn archive_bytes(items: &[(String, Item)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, item) in items {
        let mut h = tar::Header::new_gnu();
        let gnu = h.as_gnu_mut().unwrap();
        let n = name.len().min(100);
        gnu.name[..n].copy_from_slice(&name.as_bytes()[..n]);
        let (typ, body, link): (tar::EntryType, &[u8], &str) = match item {
            Item::File(data) => (tar::EntryType::Regular, data, ""),
            Item::Dir => (tar::EntryType::Directory, b"", ""),
            Item::Symlink(t) => (tar::EntryType::Symlink, b"", t),
            Item::Hardlink(t) => (tar::EntryType::Link, b"", t),
        };
        let l = link.len().min(100);
        h.as_gnu_mut().unwrap().linkname[..l].copy_from_slice(&link.as_bytes()[..l]);
        h.set_entry_type(typ);
        h.set_size(body.len() as u64);
        h.set_mode(if matches!(item, Item::Dir) { 0o755 } else { 0o644 });
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(body);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

/// Files copied into the sentinel tree, by their names in the archive.
type Copies = Vec<(String, Vec<u8>)>;

/// Applies the bends; the files the archive holds are also copied under `outside` (the
/// sentinel), where symlinks then point.
fn bent(items: BTreeMap<String, Item>, bends: &[Bend], outside: &Path) -> (Vec<(String, Item)>, Copies) {
    let mut copies: Copies = items
        .iter()
        .filter_map(|(n, i)| if let Item::File(d) = i { Some((n.clone(), d.clone())) } else { None })
        .collect();
    let mut items: Vec<(String, Item)> = items.into_iter().collect();
    let mut extra = Vec::new();
    for b in bends {
        match b {
            Bend::FileOut(i) => {
                let at = i.index(items.len());
                let (name, item) = &mut items[at];
                *item = Item::Symlink(outside.join(&*name).display().to_string());
            }
            Bend::RefsThroughLink(absolute) => {
                // The archive is unpacked in `root/image/tmp/dir-*`: four levels up is the sentinel's.
                let target = if *absolute { outside.display().to_string() } else { "../../../../outside".into() };
                extra.push(("out".to_owned(), Item::Symlink(target)));
                for (_, item) in &mut items {
                    if let Item::File(data) = item
                        && let Ok(text) = std::str::from_utf8(data)
                        && text.starts_with(['{', '['])
                    {
                        *data = text
                            .replace("\"l0/", "\"out/l0/")
                            .replace("\"l1/", "\"out/l1/")
                            .replace("\"l2/", "\"out/l2/")
                            .replace("\"config.json\"", "\"out/config.json\"")
                            .into_bytes();
                    }
                }
            }
            Bend::BlobsOut => {
                items.retain(|(n, _)| !n.starts_with("blobs/"));
                extra.push(("blobs".to_owned(), Item::Symlink(outside.join("blobs").display().to_string())));
            }
            Bend::Json(i, path, new) => {
                let json_items: Vec<usize> = (0..items.len()).filter(|&k| items[k].0.ends_with(".json")).collect();
                if !json_items.is_empty() {
                    let k = json_items[i.index(json_items.len())];
                    if let Item::File(data) = &mut items[k].1
                        && let Ok(mut doc) = serde_json::from_slice::<Value>(data)
                    {
                        replace_at(&mut doc, path, new.clone());
                        *data = serde_json::to_vec(&doc).unwrap();
                    }
                }
            }
            Bend::Extra(name, item) => extra.push((name.clone(), item.clone())),
        }
    }
    // Directories holding files come first, then the items, then the extras.
    let mut out: Vec<(String, Item)> = Vec::new();
    for (name, _) in &items {
        let mut dir = PathBuf::new();
        for part in Path::new(name).parent().into_iter().flat_map(|p| p.iter()) {
            dir.push(part);
            let d = dir.display().to_string();
            if !out.iter().any(|(n, _)| *n == d) {
                out.push((d, Item::Dir));
            }
        }
    }
    out.extend(items);
    out.extend(extra);
    copies.sort();
    (out, copies)
}

type Snapshot = BTreeMap<PathBuf, String>;

/// Type, mode, owner, size, link count, times and contents of everything under `root`
/// except `skip`.
fn snapshot(root: &Path, skip: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path == skip {
            continue;
        }
        let meta = fs::symlink_metadata(&path).unwrap();
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
        if meta.file_type().is_symlink() {
            state.push_str(&format!(" -> {:?}", fs::read_link(&path).unwrap()));
        } else if meta.is_file() {
            state.push_str(&format!(" {:?}", fs::read(&path).unwrap()));
        } else if meta.is_dir() {
            for child in fs::read_dir(&path).unwrap() {
                stack.push(child.unwrap().path());
            }
        }
        out.insert(path, state);
    }
    out
}

/// The sentinel's fixed path for the strategies: a symlink to the case's own directory.
fn aim(test: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("prop-archive-{test}-{}", std::process::id()))
}

/// Loads `archive` into a fresh data root beside a sentinel holding `copies`; asserts
/// nothing outside the data root changed, and returns what `load` said.
fn load_leaves_outside_alone(archive: &[u8], copies: &[(String, Vec<u8>)], test: &str) -> Result<usize, String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "prop-archive-case-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&parent);
    let outside = parent.join("outside");
    for (name, data) in copies {
        let path = outside.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, data).unwrap();
    }
    fs::create_dir_all(&outside).unwrap();
    fs::write(parent.join("sibling"), "sentinel").unwrap();
    let alias = aim(test);
    let _ = fs::remove_file(&alias);
    std::os::unix::fs::symlink(&parent, &alias).unwrap();
    let root = parent.join("root");
    let store = Store::open(&root).unwrap();
    let before = snapshot(&parent, &root);
    let result = archive::load(&store, archive);
    let after = snapshot(&parent, &root);
    fs::remove_file(&alias).unwrap();
    fs::remove_dir_all(&parent).unwrap();
    for (path, state) in &before {
        assert_eq!(after.get(path), Some(state), "{} changed ({result:?})", path.display());
    }
    assert_eq!(before.len(), after.len(), "entries appeared outside the data root ({result:?})");
    result.map(|l| l.len()).map_err(|e| e.to_string())
}

fn layers() -> impl Strategy<Value = Vec<BTreeMap<String, Vec<u8>>>> {
    proptest::collection::vec(
        proptest::collection::btree_map("[a-z]{1,4}", proptest::collection::vec(any::<u8>(), 0..64), 1..3),
        1..3,
    )
}

/// Found by the property tests: a `docker save` archive whose `Layers` entry went through
/// its own symlink (`out -> /some/host/dir`) had that host file renamed into the store.
#[test]
fn layer_through_symlink_is_not_taken_from_the_host() {
    let files = BTreeMap::from([("f".to_owned(), b"x".to_vec())]);
    let items = valid_archive(false, &[files]);
    let outside = aim("unit").join("outside");
    let (items, copies) = bent(items, &[Bend::RefsThroughLink(true)], &outside);
    let result = load_leaves_outside_alone(&archive_bytes(&items), &copies, "unit");
    assert!(result.is_err(), "a layer outside the archive was loaded: {result:?}");
}

#[test]
fn valid_archives_load() {
    for oci in [false, true] {
        let files = BTreeMap::from([("f".to_owned(), b"x".to_vec())]);
        let (items, copies) = bent(valid_archive(oci, &[files]), &[], Path::new("/nonexistent"));
        let result = load_leaves_outside_alone(&archive_bytes(&items), &copies, "valid");
        assert_eq!(result, Ok(1), "oci: {oci}");
    }
}

/// A config's diff id is a path in the layer store. `sha256:<layer>/diff/evil`, where an
/// earlier image's layer holds `evil/layer.json` and `evil/diff -> /host/dir`, made an
/// image whose layer was the host directory (mounted as a container's lower layer).
#[test]
fn diff_ids_are_digests() {
    let parent = aim("diffid");
    let _ = fs::remove_dir_all(&parent);
    let outside = parent.join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("secret"), "host secret").unwrap();
    let store = Store::open(&parent.join("root")).unwrap();

    let mut builder = tar::Builder::new(Vec::new());
    let info = br#"{"diff_id":"sha256:x","parent":null,"size":0}"#;
    let mut header = tar::Header::new_gnu();
    header.set_size(info.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    builder.append_data(&mut header, "evil/layer.json", info.as_slice()).unwrap();
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    link.set_mode(0o777);
    link.set_mtime(0);
    link.set_uid(0);
    link.set_gid(0);
    builder.append_link(&mut link, "evil/diff", &outside).unwrap();
    let planted = archive::import(&store, builder.into_inner().unwrap().as_slice(), None, &Default::default()).unwrap();
    let hex = planted.layers[0].trim_start_matches("sha256:");

    let files = BTreeMap::from([("f".to_owned(), b"x".to_vec())]);
    let mut items = valid_archive(false, &[files]);
    let config = json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{hex}/diff/evil")]},
    });
    items.insert("config.json".into(), Item::File(serde_json::to_vec(&config).unwrap()));
    let (items, _) = bent(items, &[], Path::new("/nonexistent"));
    let result = archive::load(&store, archive_bytes(&items).as_slice());
    let layer_dirs: Vec<PathBuf> = match &result {
        Ok(loaded) => loaded[0].image.layers.iter().filter_map(|c| store.layers().diff_dir(c).ok()).collect(),
        Err(_) => Vec::new(),
    };
    let host_dir_is_a_layer = layer_dirs.iter().any(|d| d.join("secret").exists());
    fs::remove_dir_all(&parent).unwrap();
    assert!(!host_dir_is_a_layer, "an image's layer is a host directory: {layer_dirs:?}");
    assert!(result.is_err(), "a config with a diff id that is not a digest loaded: {result:?}");
}

/// Older `docker save` archives link a layer shared by two images (`../other/layer.tar`):
/// symlinks that stay inside the archive still work.
#[test]
fn symlinks_inside_the_archive_are_followed() {
    let files = BTreeMap::from([("f".to_owned(), b"x".to_vec())]);
    let mut items = valid_archive(false, &[files]);
    let layer = items.remove("l0/layer.tar").unwrap();
    items.insert("shared/layer.tar".into(), layer);
    items.insert("l0/layer.tar".into(), Item::Symlink("../shared/layer.tar".into()));
    let (items, copies) = bent(items, &[], Path::new("/nonexistent"));
    assert_eq!(load_leaves_outside_alone(&archive_bytes(&items), &copies, "shared"), Ok(1));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn bent_archives_stay_inside(
        oci in any::<bool>(),
        layers in layers(),
        bends in proptest::collection::vec(bend(&aim("bent").join("outside")), 0..4),
    ) {
        let (items, copies) = bent(valid_archive(oci, &layers), &bends, &aim("bent").join("outside"));
        let _ = load_leaves_outside_alone(&archive_bytes(&items), &copies, "bent");
    }

    #[test]
    fn cut_and_flipped_archives_stay_inside(
        oci in any::<bool>(),
        layers in layers(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    ) {
        let (items, copies) = bent(valid_archive(oci, &layers), &[], Path::new("/nonexistent"));
        let mut bytes = archive_bytes(&items);
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = load_leaves_outside_alone(&bytes, &copies, "cut");
    }
}
