//! Images: import, pull from a real registry (Debian's docker-registry), layers and
//! whiteouts on overlayfs, save/load, rmi/prune, login; and bad input that must leave
//! the store as it was.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use lindocker_storage::container::ContainerFs;
use lindocker_storage::layers::LayerStore;
use lindocker_testkit::image::{self, Entry};
use lindocker_testkit::{Engine, Proxy, ProxyMode, Registry, free_port, temp_dir};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

fn inspect(engine: &Engine, name: &str) -> Value {
    let out: Value = serde_json::from_str(&engine.ok(&["image", "inspect", name])).unwrap();
    out[0].clone()
}

/// An OCI layout holding busybox (one gzip layer) as `tag`.
fn busybox_layout(dir: &Path, tag: &str) -> (Vec<u8>, Vec<u8>) {
    let tar = image::busybox_layer(dir);
    let gz = image::gzip(&tar);
    let layout = dir.join("layout");
    let desc = image::image(&layout, &[(gz.clone(), tar.clone())], json!({ "Cmd": ["sh"] }), "amd64");
    image::finish_layout(&layout, tag, vec![desc]);
    (gz, tar)
}

#[test]
fn import_tag_inspect_rmi() {
    let engine = Engine::new(BIN, "import");
    let tar = image::busybox_layer(&engine.root);
    let file = engine.root.join("rootfs.tar.gz");
    fs::write(&file, image::gzip(&tar)).unwrap();
    let id = engine.ok(&[
        "import",
        "-c",
        r#"CMD ["sh"]"#,
        "-c",
        "ENV A=1",
        "-m",
        "from a test",
        file.to_str().unwrap(),
        "localhost/busybox",
    ]);
    let id = id.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");

    let listing = engine.ok(&["images"]);
    assert!(listing.lines().next().unwrap().starts_with("REPOSITORY"), "{listing}");
    assert!(
        listing.lines().any(|l| l.starts_with("localhost/busybox") && l.contains("latest") && l.contains(&id[7..19])),
        "{listing}"
    );

    let info = inspect(&engine, "localhost/busybox");
    assert_eq!(info["Id"], id);
    assert_eq!(info["Config"]["Cmd"], json!(["sh"]));
    assert_eq!(info["Config"]["Env"], json!(["A=1"]));
    assert_eq!(info["RootFS"]["Layers"][0], image::digest(&tar), "diff id is the digest of the uncompressed tar");
    let chain = info["Storage"]["ChainIDs"][0].as_str().unwrap();
    let layer = LayerStore::open(engine.root.join("layers")).unwrap().diff_dir(chain).unwrap();
    let busybox = fs::metadata(layer.join("bin/busybox")).unwrap();
    assert!(busybox.mode() & 0o111 != 0, "busybox keeps its exec bits");
    assert_eq!(fs::read_link(layer.join("bin/sh")).unwrap(), Path::new("busybox"));

    engine.ok(&["tag", "localhost/busybox", "other:1"]);
    assert_eq!(engine.ok(&["images", "-q"]).lines().count(), 1);
    assert_eq!(engine.ok(&["images"]).lines().count(), 3);
    let err = engine.fails(&["rmi", &id[7..19]], 1);
    assert!(err.contains("referenced in multiple repositories"), "{err}");
    assert!(engine.ok(&["rmi", "localhost/busybox"]).contains("Untagged: localhost/busybox:latest"));
    assert!(layer.exists(), "the image still has a name; its layer stays");
    let out = engine.ok(&["rmi", "other:1"]);
    assert!(out.contains("Untagged: other:1") && out.contains(&format!("Deleted: {id}")), "{out}");
    assert!(!layer.exists(), "the last name gone, the layer goes");
    assert_eq!(fs::read_dir(engine.root.join("image/blobs/sha256")).unwrap().count(), 0, "every blob is gone");
    let err = engine.fails(&["rmi", "other:1"], 1);
    assert!(err.contains("No such image: other:1"), "{err}");
}

#[test]
fn bad_imports_change_nothing() {
    let engine = Engine::new(BIN, "badimport");
    engine.ok(&["images"]);
    let before = engine.store_listing();
    let junk = engine.root.join("junk.txt");
    fs::write(&junk, "this is not a tar archive, not even close ".repeat(40)).unwrap();
    let err = engine.fails(&["import", junk.to_str().unwrap(), "x"], 1);
    assert!(err.contains("not a valid layer tar"), "{err}");
    let err = engine.fails(&["import", "/nonexistent.tar", "x"], 1);
    assert!(err.contains("/nonexistent.tar"), "{err}");
    let tar = engine.root.join("ok.tar");
    fs::write(&tar, image::layer(&[Entry::File("a".into(), b"a".to_vec(), 0o644)])).unwrap();
    let err = engine.fails(&["import", "-c", "FROM scratch", tar.to_str().unwrap(), "x"], 1);
    assert!(err.contains("invalid change"), "{err}");
    let err = engine.fails(&["import", tar.to_str().unwrap(), "Bad Name"], 1);
    assert!(err.contains("invalid reference format"), "{err}");
    assert_eq!(engine.store_listing(), before);
    assert_eq!(fs::read_dir(engine.root.join("image/tmp")).unwrap().count(), 0, "no scratch left");
}

#[test]
fn save_and_load_round_trip_and_other_tools_read_it() {
    let engine = Engine::new(BIN, "saveload");
    let file = engine.root.join("rootfs.tar");
    fs::write(&file, image::busybox_layer(&engine.root)).unwrap();
    let id = engine.ok(&["import", file.to_str().unwrap(), "localhost/busybox:1"]).trim().to_owned();
    let archive = engine.root.join("saved.tar");
    engine.ok(&["save", "-o", archive.to_str().unwrap(), "localhost/busybox:1"]);
    for transport in ["docker-archive", "oci-archive"] {
        let out = std::process::Command::new("skopeo")
            .args(["inspect", "--config", &format!("{transport}:{}", archive.display())])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo reads our archive as {transport}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(image::digest(&serde_json::to_vec(&config).unwrap()).len(), 71);
        assert_eq!(config["os"], "linux");
    }
    engine.ok(&["rmi", "localhost/busybox:1"]);
    let out = engine.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(out.trim(), "Loaded image: localhost/busybox:1");
    assert_eq!(inspect(&engine, "localhost/busybox:1")["Id"], id);

    // A `docker save` archive written by another tool (skopeo's docker-archive).
    let other = Engine::new(BIN, "saveload-other");
    let docker_archive = engine.root.join("docker.tar");
    let out = std::process::Command::new("skopeo")
        .args(["copy", "--quiet", &format!("oci-archive:{}", archive.display())])
        .arg(format!("docker-archive:{}:example/bb:2", docker_archive.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(other.ok(&["load", "-i", docker_archive.to_str().unwrap()]).trim(), "Loaded image: example/bb:2");
    assert_eq!(inspect(&other, "example/bb:2")["Id"], id, "same config, same id");

    // Not an image archive: refused, nothing stored.
    let before = other.store_listing();
    let junk = engine.root.join("junk.tar");
    fs::write(&junk, image::layer(&[Entry::File("hello".into(), b"hi".to_vec(), 0o644)])).unwrap();
    let err = other.fails(&["load", "-i", junk.to_str().unwrap()], 1);
    assert!(err.contains("not an image archive"), "{err}");
    assert_eq!(other.store_listing(), before);
}

/// Two layers: the first with every kind of entry, the second deleting some of them.
fn rich_layers() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut big = vec![0u8; 8 << 20];
    big.extend_from_slice(b"end");
    let base = image::layer(&[
        Entry::Dir("etc"),
        Entry::File("etc/keep".into(), b"keep\n".to_vec(), 0o644),
        Entry::File("etc/gone".into(), b"gone\n".to_vec(), 0o600),
        Entry::Dir("opt"),
        Entry::Dir("opt/dir"),
        Entry::File("opt/dir/old".into(), b"old\n".to_vec(), 0o644),
        Entry::File("bin/tool".into(), b"#!/bin/sh\n".to_vec(), 0o4755),
        Entry::File("data/a".into(), b"linked\n".to_vec(), 0o644),
        Entry::Link("data/b", "data/a"),
        Entry::Symlink("data/lnk", "../etc/keep"),
        Entry::XattrFile("data/attr", "user.lindocker", b"hello"),
        Entry::Fifo("data/pipe"),
        Entry::File("data/big".into(), big, 0o644),
    ]);
    let top = image::layer(&[
        Entry::File("etc/.wh.gone".into(), Vec::new(), 0o644),
        Entry::Dir("opt/dir"),
        Entry::File("opt/dir/.wh..wh..opq".into(), Vec::new(), 0o644),
        Entry::File("opt/dir/new".into(), b"new\n".to_vec(), 0o644),
    ]);
    vec![(base.clone(), base), (image::gzip(&top), top)]
}

#[test]
fn pull_unpacks_layers_and_overlay_shows_the_image() {
    let registry = Registry::start("rich", None);
    let engine = Engine::new(BIN, "rich");
    let layout = engine.root.join("layout");
    let desc = image::image(&layout, &rich_layers(), json!({ "Cmd": ["sh"], "Env": ["X=1"] }), "amd64");
    image::finish_layout(&layout, "v1", vec![desc]);
    registry.push(&layout, "test/rich", "v1");

    let name = format!("{}/test/rich:v1", registry.addr);
    let out = engine.ok(&["pull", &name]);
    assert!(out.contains("Pull complete") && out.contains("Status: Downloaded newer image"), "{out}");
    assert_eq!(out.lines().last().unwrap(), name);
    let info = inspect(&engine, &name);
    assert_eq!(info["Config"]["Env"], json!(["X=1"]));
    let chain: Vec<String> =
        info["Storage"]["ChainIDs"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    let layers = LayerStore::open(engine.root.join("layers")).unwrap();
    let (base, top) = (layers.diff_dir(&chain[0]).unwrap(), layers.diff_dir(&chain[1]).unwrap());

    // The layer directories as overlayfs wants them.
    let whiteout = fs::symlink_metadata(top.join("etc/gone")).unwrap();
    assert!(whiteout.file_type().is_char_device() && whiteout.rdev() == 0, "whiteout is a 0/0 char device");
    let mut value = [0u8; 4];
    let n = rustix::fs::getxattr(top.join("opt/dir").as_path(), "trusted.overlay.opaque", &mut value).unwrap();
    assert_eq!(&value[..n], b"y");
    assert_eq!(fs::metadata(base.join("bin/tool")).unwrap().mode() & 0o7777, 0o4755, "setuid kept");
    assert_eq!(fs::metadata(base.join("etc/gone")).unwrap().mode() & 0o777, 0o600);
    assert_eq!(fs::metadata(base.join("etc/keep")).unwrap().mtime(), 1_700_000_000, "mtime kept");
    let big = fs::metadata(base.join("data/big")).unwrap();
    assert_eq!(big.len(), (8 << 20) + 3);
    assert!(big.blocks() * 512 < 1 << 20, "8 MiB of zeros stored sparse ({} blocks)", big.blocks());

    // The merged view: what a container will see.
    let container = temp_dir("rich-container");
    let rootfs = ContainerFs::at(&container);
    rootfs.create(&[("etc/hostname", b"box\n")]).unwrap();
    let merged = rootfs.mount(&layers, &chain).unwrap();
    let check = || -> Result<(), String> {
        let exists = |p: &str| merged.join(p).symlink_metadata().is_ok();
        if exists("etc/gone") || exists("opt/dir/old") || !exists("opt/dir/new") {
            return Err("whiteout or opaque dir not honoured".into());
        }
        if fs::read_to_string(merged.join("etc/hostname")).unwrap() != "box\n" {
            return Err("init layer missing".into());
        }
        let (a, b) = (fs::metadata(merged.join("data/a")).unwrap(), fs::metadata(merged.join("data/b")).unwrap());
        if a.ino() != b.ino() || a.nlink() != 2 {
            return Err("hard link lost".into());
        }
        if fs::read_link(merged.join("data/lnk")).unwrap() != Path::new("../etc/keep") {
            return Err("symlink target changed".into());
        }
        let mut buf = [0u8; 16];
        let n = rustix::fs::getxattr(merged.join("data/attr").as_path(), "user.lindocker", &mut buf)
            .map_err(|e| e.to_string())?;
        if &buf[..n] != b"hello" {
            return Err("xattr lost".into());
        }
        if !fs::symlink_metadata(merged.join("data/pipe")).unwrap().file_type().is_fifo() {
            return Err("fifo lost".into());
        }
        // Changes, then the diff as a layer.
        fs::remove_file(merged.join("etc/keep")).unwrap();
        fs::write(merged.join("etc/added"), "added\n").unwrap();
        fs::write(merged.join("etc/hostname"), "changed\n").unwrap();
        fs::remove_dir_all(merged.join("opt/dir")).unwrap();
        fs::create_dir(merged.join("opt/dir")).unwrap();
        Ok(())
    };
    let result = check();
    let mut layer_tar = Vec::new();
    let committed = rootfs.commit(&mut layer_tar);
    rootfs.remove().unwrap();
    fs::remove_dir_all(&container).unwrap();
    result.unwrap();
    committed.unwrap();
    let mut names: Vec<String> = tar::Archive::new(layer_tar.as_slice())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert!(names.contains(&"etc/.wh.keep".to_owned()), "{names:?}");
    assert!(names.contains(&"etc/added".to_owned()), "{names:?}");
    assert!(names.contains(&"opt/dir/.wh..wh..opq".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("hostname")), "init-layer files stay out of commits: {names:?}");
}

#[test]
fn pull_picks_the_platform_and_pulls_by_digest() {
    let registry = Registry::start("multi", None);
    let engine = Engine::new(BIN, "multi");
    let layout = engine.root.join("layout");
    let amd = image::layer(&[Entry::File("arch".into(), b"amd64\n".to_vec(), 0o644)]);
    let arm = image::layer(&[Entry::File("arch".into(), b"arm64\n".to_vec(), 0o644)]);
    let descs = vec![
        image::image(&layout, &[(amd.clone(), amd)], json!({}), "amd64"),
        image::image(&layout, &[(arm.clone(), arm)], json!({}), "arm64"),
    ];
    image::finish_layout(&layout, "multi", descs);
    registry.push(&layout, "test/multi", "multi");
    let raw = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", &format!("docker://{}/test/multi:multi", registry.addr)])
        .output()
        .unwrap();
    assert!(raw.status.success());
    let index_digest = image::digest(&raw.stdout);

    let layers = LayerStore::open(engine.root.join("layers")).unwrap();
    let arch_of = |name: &str| {
        let info = inspect(&engine, name);
        fs::read_to_string(layers.diff_dir(info["Storage"]["ChainIDs"][0].as_str().unwrap()).unwrap().join("arch"))
            .unwrap()
    };
    let name = format!("{}/test/multi:multi", registry.addr);
    engine.ok(&["pull", "-q", &name]);
    assert_eq!(arch_of(&name), "amd64\n");
    engine.ok(&["tag", &name, "mine:amd"]);
    engine.ok(&["pull", "-q", "--platform", "linux/arm64", &name]);
    assert_eq!(arch_of(&name), "arm64\n", "the name moved to the arm64 image");
    assert_eq!(arch_of("mine:amd"), "amd64\n");

    let by_digest = format!("{}/test/multi@{index_digest}", registry.addr);
    let out = engine.ok(&["pull", "-q", &by_digest]);
    assert_eq!(out.trim(), by_digest);
    assert_eq!(arch_of(&by_digest), "amd64\n");
    let digests = engine.ok(&["images", "--digests"]);
    assert!(digests.contains(&index_digest), "{digests}");

    let err = engine.fails(&["pull", "--platform", "linux/s390x", &name], 1);
    assert!(err.contains("no image for platform linux/s390x") && err.contains("linux/arm64"), "{err}");
    let err = engine.fails(&["pull", "--platform", "nonsense", &name], 1);
    assert!(err.contains("invalid platform"), "{err}");
}

#[test]
fn bad_pulls_leave_the_store_unchanged() {
    let registry = Registry::start("bad", None);
    let engine = Engine::new(BIN, "bad");
    let (gz, _) = busybox_layout(&engine.root, "ok");
    registry.push(&engine.root.join("layout"), "test/bb", "ok");
    engine.ok(&["images"]);
    let before = engine.store_listing();
    let unchanged = |what: &str| {
        assert_eq!(engine.store_listing(), before, "{what} changed the store");
        assert_eq!(fs::read_dir(engine.root.join("image/tmp")).unwrap().count(), 0, "{what} left scratch files");
        assert_eq!(engine.ok(&["images", "-q"]), "", "{what} left a name");
    };

    let err = engine.fails(&["pull", &format!("127.0.0.1:{}/test/bb:ok", free_port())], 1);
    assert!(err.contains("cannot connect"), "{err}");
    unchanged("a registry that is down");
    let err = engine.fails(&["pull", &format!("{}/test/bb:missing", registry.addr)], 1);
    assert!(err.contains("not found") || err.contains("unknown"), "{err}");
    unchanged("a missing tag");
    let err = engine.fails(&["pull", &format!("{}/test/bb@sha256:{}", registry.addr, "0".repeat(64))], 1);
    assert!(err.contains("not found") || err.contains("unknown"), "{err}");
    unchanged("a missing digest");

    // Corrupt the layer blob in the registry's storage: same length, other bytes.
    let blob = registry.blob_file(&image::digest(&gz));
    let mut bytes = fs::read(&blob).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&blob, &bytes).unwrap();
    let err = engine.fails(&["pull", &format!("{}/test/bb:ok", registry.addr)], 1);
    assert!(err.to_lowercase().contains("digest") || err.contains("not a valid layer"), "{err}");
    unchanged("a corrupted blob");

    // Cut it short.
    fs::write(&blob, &gz[..gz.len() / 2]).unwrap();
    let err = engine.fails(&["pull", &format!("{}/test/bb:ok", registry.addr)], 1);
    assert!(!err.is_empty());
    unchanged("a truncated blob");

    // A manifest whose bytes no longer match its digest.
    let index: Value = serde_json::from_slice(&fs::read(engine.root.join("layout/index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    let file = registry.blob_file(manifest_digest);
    let mut manifest = fs::read(&file).unwrap();
    manifest.push(b' ');
    fs::write(&file, &manifest).unwrap();
    let err = engine.fails(&["pull", &format!("{}/test/bb@{manifest_digest}", registry.addr)], 1);
    assert!(err.contains("digest mismatch") || err.contains("igest"), "{err}");
    unchanged("a manifest with the wrong digest");
}

#[test]
fn layers_cannot_write_outside_themselves() {
    let registry = Registry::start("escape", None);
    let engine = Engine::new(BIN, "escape");
    let outside = temp_dir("escape-outside");
    engine.ok(&["images"]);
    let before = engine.store_listing();

    // `..` in a path.
    let layout = engine.root.join("dotdot");
    let tar = image::layer(&[Entry::Raw("../../../../../../tmp/lindocker-escaped", b"x")]);
    let desc = image::image(&layout, &[(tar.clone(), tar)], json!({}), "amd64");
    image::finish_layout(&layout, "t", vec![desc]);
    registry.push(&layout, "test/dotdot", "t");
    let err = engine.fails(&["pull", &format!("{}/test/dotdot:t", registry.addr)], 1);
    assert!(err.contains("leaves the layer"), "{err}");
    assert!(!Path::new("/tmp/lindocker-escaped").exists());
    assert_eq!(engine.store_listing(), before);

    // A symlink out of the layer, then a file written through it; and a hard link to
    // a host file through it.
    let target: &'static str = Box::leak(outside.display().to_string().into_boxed_str());
    let layout = engine.root.join("symlink");
    let tar = image::layer(&[
        Entry::Symlink("evil", target),
        Entry::File("evil/pwned".into(), b"x".to_vec(), 0o644),
        Entry::Symlink("etc", "/etc"),
        Entry::Link("stolen", "etc/hostname"),
    ]);
    let desc = image::image(&layout, &[(tar.clone(), tar)], json!({}), "amd64");
    image::finish_layout(&layout, "t", vec![desc]);
    registry.push(&layout, "test/symlink", "t");
    let out = engine.run(&["pull", &format!("{}/test/symlink:t", registry.addr)]);
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "nothing was written outside the layer");
    if out.status.success() {
        let info = inspect(&engine, &format!("{}/test/symlink:t", registry.addr));
        let layer = LayerStore::open(engine.root.join("layers"))
            .unwrap()
            .diff_dir(info["Storage"]["ChainIDs"][0].as_str().unwrap())
            .unwrap();
        let stolen = layer.join("stolen").symlink_metadata();
        assert!(stolen.is_err() || stolen.unwrap().ino() != fs::metadata("/etc/hostname").unwrap().ino());
    } else {
        assert_eq!(engine.store_listing(), before, "a refused layer leaves nothing");
    }
    fs::remove_dir_all(&outside).unwrap();
}

/// A config's diff id names a directory of the layer store. An image whose diff id is
/// `<chain id of an earlier layer>/diff/evil`, where that layer holds `evil/layer.json`
/// and `evil/diff -> /host/dir`, pulled "from cache" with the host directory as its layer.
#[test]
fn pull_refuses_a_diff_id_that_is_a_path() {
    let registry = Registry::start("diffid", None);
    let engine = Engine::new(BIN, "diffid");
    let outside = temp_dir("diffid-outside");
    fs::write(outside.join("secret"), "host secret").unwrap();
    let target: &'static str = Box::leak(outside.display().to_string().into_boxed_str());

    // An image whose layer looks like a layer directory of the store, `diff` a host dir.
    let info = br#"{"diff_id":"sha256:x","parent":null,"size":0}"#.to_vec();
    let planted =
        image::layer(&[Entry::File("evil/layer.json".into(), info, 0o644), Entry::Symlink("evil/diff", target)]);
    let layout = engine.root.join("planted");
    let desc = image::image(&layout, &[(planted.clone(), planted.clone())], json!({}), "amd64");
    image::finish_layout(&layout, "t", vec![desc]);
    registry.push(&layout, "test/planted", "t");
    engine.ok(&["pull", &format!("{}/test/planted:t", registry.addr)]);

    // The same layer blob under a config whose diff id points into it.
    let layout = engine.root.join("pointer");
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8], media_type: &str| {
        let digest = image::digest(data);
        fs::write(blobs.join(digest.trim_start_matches("sha256:")), data).unwrap();
        json!({ "mediaType": media_type, "digest": digest, "size": data.len() })
    };
    let diff_id = format!("{}/diff/evil", image::digest(&planted));
    let config = json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
    });
    let config = put(&serde_json::to_vec(&config).unwrap(), "application/vnd.oci.image.config.v1+json");
    let layer = put(&planted, "application/vnd.oci.image.layer.v1.tar");
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config, "layers": [layer],
    });
    let mut desc = put(&serde_json::to_vec(&manifest).unwrap(), "application/vnd.oci.image.manifest.v1+json");
    desc["platform"] = json!({ "os": "linux", "architecture": "amd64" });
    image::finish_layout(&layout, "t", vec![desc]);
    registry.push(&layout, "test/pointer", "t");

    let name = format!("{}/test/pointer:t", registry.addr);
    let out = engine.run(&["pull", &name]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        let chain = inspect(&engine, &name)["Storage"]["ChainIDs"][0].as_str().unwrap().to_owned();
        let layer = LayerStore::open(engine.root.join("layers")).unwrap().diff_dir(&chain).unwrap_or_default();
        let host_dir = layer.join("secret").exists();
        fs::remove_dir_all(&outside).unwrap();
        panic!("pulled an image whose layer {} is a host directory: {host_dir}", layer.display());
    }
    fs::remove_dir_all(&outside).unwrap();
    assert!(stderr.contains("is not a sha256 digest"), "{stderr}");
}

#[test]
fn concurrent_pulls_store_shared_layers_once() {
    let registry = Registry::start("shared", None);
    let engine = Engine::new(BIN, "shared");
    let base = image::layer(&[Entry::File("base".into(), vec![7u8; 1 << 20], 0o644)]);
    for (i, name) in ["one", "two"].iter().enumerate() {
        let layout = engine.root.join(name);
        let top = image::layer(&[Entry::File(format!("top{i}"), vec![i as u8; 1000], 0o644)]);
        let desc = image::image(&layout, &[(base.clone(), base.clone()), (top.clone(), top)], json!({}), "amd64");
        image::finish_layout(&layout, "t", vec![desc]);
        registry.push(&layout, &format!("test/{name}"), "t");
    }
    let children: Vec<_> = ["one", "two"]
        .iter()
        .map(|name| {
            engine
                .cmd()
                .args(["pull", "-q", &format!("{}/test/{name}:t", registry.addr)])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(engine.ok(&["images", "-q"]).lines().count(), 2);
    assert_eq!(fs::read_dir(engine.root.join("layers")).unwrap().count(), 3, "base + two tops");
    // 2 manifests + 2 configs + 3 layer blobs.
    assert_eq!(fs::read_dir(engine.root.join("image/blobs/sha256")).unwrap().count(), 7);
}

#[test]
fn login_gates_a_registry_with_basic_auth() {
    let registry = Registry::start("auth", Some(("alice", "s3cret")));
    let engine = Engine::new(BIN, "auth");
    busybox_layout(&engine.root, "t");
    registry.push_as(&engine.root.join("layout"), "test/private", "t", Some("alice:s3cret"));
    let name = format!("{}/test/private:t", registry.addr);

    let err = engine.fails(&["pull", &name], 1);
    assert!(err.contains("lindocker login"), "{err}");
    let err = engine.fails(&["login", "-u", "alice", "-p", "wrong", &registry.addr], 1);
    assert!(err.contains("refused"), "{err}");
    assert!(!engine.root.join("config/config.json").exists(), "a failed login stores nothing");
    engine.ok(&["login", "-u", "alice", "-p", "s3cret", &registry.addr]);
    let config: Value = serde_json::from_slice(&fs::read(engine.root.join("config/config.json")).unwrap()).unwrap();
    assert!(config["auths"][&registry.addr]["auth"].is_string());
    engine.ok(&["pull", "-q", &name]);
    assert!(engine.ok(&["logout", &registry.addr]).contains("Removing login credentials"));
    engine.ok(&["rmi", &name]);
    engine.fails(&["pull", &name], 1);
}

#[test]
fn prune_removes_dangling_images_and_unused_layers() {
    let engine = Engine::new(BIN, "prune");
    let a = engine.root.join("a.tar");
    fs::write(&a, image::layer(&[Entry::File("a".into(), b"a".to_vec(), 0o644)])).unwrap();
    let b = engine.root.join("b.tar");
    fs::write(&b, image::layer(&[Entry::File("b".into(), b"b".to_vec(), 0o644)])).unwrap();
    engine.ok(&["import", a.to_str().unwrap(), "keep:1"]);
    engine.ok(&["import", b.to_str().unwrap(), "dangling:1"]);
    // A different image (its history differs) takes the name: b's image dangles.
    engine.ok(&["import", "-m", "again", a.to_str().unwrap(), "dangling:1"]);
    assert_eq!(engine.ok(&["images", "-q"]).lines().count(), 2);
    assert_eq!(engine.ok(&["images", "-a", "-q"]).lines().count(), 3);
    let out = engine.ok(&["image", "prune", "-f"]);
    assert!(out.contains("deleted: sha256:"), "{out}");
    assert_eq!(engine.ok(&["images", "-a", "-q"]).lines().count(), 2);
    assert_eq!(fs::read_dir(engine.root.join("layers")).unwrap().count(), 1);
    engine.ok(&["image", "prune", "-a"]);
    assert_eq!(engine.ok(&["images", "-a", "-q"]), "");
    assert_eq!(fs::read_dir(engine.root.join("layers")).unwrap().count(), 0);
    assert_eq!(fs::read_dir(engine.root.join("image/blobs/sha256")).unwrap().count(), 0);
}

#[test]
fn token_auth_through_the_bearer_challenge() {
    let registry = Registry::start("token", None);
    let engine = Engine::new(BIN, "token");
    busybox_layout(&engine.root, "t");
    registry.push(&engine.root.join("layout"), "test/tok", "t");
    let proxy = Proxy::start(&registry.addr, ProxyMode { bearer: Some("bob:pw".into()), ..ProxyMode::default() });
    let name = format!("{}/test/tok:t", proxy.addr);

    let err = engine.fails(&["pull", &name], 1);
    assert!(err.contains("lindocker login"), "{err}");
    engine.fails(&["login", "-u", "bob", "-p", "nope", &proxy.addr], 1);
    engine.ok(&["login", "-u", "bob", "-p", "pw", &proxy.addr]);
    engine.ok(&["pull", "-q", &name]);
    assert!(proxy.tokens.load(std::sync::atomic::Ordering::Relaxed) >= 2, "login and pull each got a token");
    assert_eq!(engine.ok(&["images", "-q"]).lines().count(), 1);
}

#[test]
fn a_dropped_connection_is_retried() {
    let registry = Registry::start("flaky", None);
    let engine = Engine::new(BIN, "flaky");
    busybox_layout(&engine.root, "t");
    registry.push(&engine.root.join("layout"), "test/flaky", "t");
    let proxy = Proxy::start(&registry.addr, ProxyMode { cut_first_blob_after: Some(10_000), ..ProxyMode::default() });
    let out = engine.ok(&["pull", &format!("{}/test/flaky:t", proxy.addr)]);
    assert_eq!(proxy.cuts.load(std::sync::atomic::Ordering::Relaxed), 1, "the proxy cut one download");
    assert!(out.contains("Retrying"), "{out}");
    assert!(out.contains("Pull complete"), "{out}");
    assert_eq!(fs::read_dir(engine.root.join("image/tmp")).unwrap().count(), 0);
}

#[test]
fn images_filters_as_dockers() {
    let engine = Engine::new(BIN, "imgfilter");
    let layer = |name: &str| {
        let path = engine.root.join(format!("{name}.tar"));
        fs::write(&path, image::layer(&[Entry::File(name.into(), name.as_bytes().to_vec(), 0o644)])).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (a, b, c, d) = (layer("a"), layer("b"), layer("c"), layer("d"));
    engine.ok(&["import", &a, "localhost/base:1"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    engine.ok(&["import", "-c", "LABEL tier=db", &b, "app:1.0-musl"]);
    // Creation times are whole seconds: this one is after app:1.0-musl's, not after
    // the next image's.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let between = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    engine.ok(&["import", "-c", "LABEL tier=web", &c, "app:1.0-glibc"]);
    engine.ok(&["tag", "app:1.0-glibc", "other/app:2"]);
    // A newer image takes `app:1.0-musl`; the old one dangles.
    let musl = engine.ok(&["images", "-q", "--no-trunc", "app:1.0-musl"]).trim().to_owned();
    engine.ok(&["import", "-c", "LABEL tier=db", &d, "app:1.0-musl"]);
    let names = |filters: &[&str]| {
        let mut args = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        let mut lines: Vec<String> = engine.ok(&args).lines().map(str::to_owned).collect();
        lines.sort();
        lines.join(" ")
    };
    assert_eq!(names(&["reference=app:*libc"]), "app:1.0-glibc");
    assert_eq!(names(&["reference=app"]), "app:1.0-glibc app:1.0-musl");
    // A name matches only its own image's names: other/app:2 is not `app`.
    assert_eq!(names(&["reference=*/*"]), "localhost/base:1 other/app:2");
    assert_eq!(names(&["reference=*/*", "reference=app:*musl"]), "app:1.0-musl localhost/base:1 other/app:2");
    assert_eq!(names(&["label=tier=web"]), "app:1.0-glibc other/app:2");
    assert_eq!(names(&["label=tier"]), "app:1.0-glibc app:1.0-musl other/app:2");
    assert_eq!(names(&["label=tier", "label=tier=db"]), "app:1.0-musl");
    assert_eq!(names(&["before=app:1.0-glibc"]), "localhost/base:1");
    assert_eq!(names(&["since=localhost/base:1", "label=tier=web"]), "app:1.0-glibc other/app:2");
    assert_eq!(names(&[&format!("until={between}")]), "localhost/base:1");
    assert_eq!(names(&["dangling=false", "reference=localhost/*"]), "localhost/base:1");
    assert_eq!(engine.ok(&["images", "-q", "--no-trunc", "--filter", "dangling=true"]).trim(), musl);
    // Bad filters: a clear error, nothing listed.
    for (filter, says) in [
        ("bogus=1", "invalid filter 'bogus'"),
        ("dangling=maybe", "invalid filter 'dangling=maybe'"),
        ("before=nosuch:1", "nosuch"),
        ("reference=[", "invalid filter 'reference=['"),
        ("until=yesterday", "yesterday"),
        ("nokey", "expected name=value"),
    ] {
        let out = engine.run(&["images", "--filter", filter]);
        assert!(!out.status.success(), "{filter}");
        assert!(out.stdout.is_empty(), "{filter}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{filter}: {err}");
    }
}
