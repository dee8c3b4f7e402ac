//! Digests from an image (config `diff_ids`, manifest and layer digests) name files in
//! the store. A hostile image must not make one a path: `sha256:/host/dir` or
//! `sha256:../..` as a diff id would make a host directory a layer of its containers.

use std::fs;
use std::path::{Path, PathBuf};

use lindocker_testkit::image::{self, Entry};
use lindocker_testkit::{Engine, temp_dir};
use serde_json::{Value, json};

use super::volume_copy_up::host_arch;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

fn put_blob(layout: &Path, data: &[u8], media_type: &str) -> Value {
    let digest = image::digest(data);
    let dir = layout.join("blobs/sha256");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(digest.trim_start_matches("sha256:")), data).unwrap();
    json!({ "mediaType": media_type, "digest": digest, "size": data.len() })
}

/// An OCI layout archive of one image: the layer tars `layers` and a config whose
/// `rootfs.diff_ids` are `diff_ids` (whatever they are).
pub(crate) fn archive_with_diff_ids(dir: &Path, layers: &[Vec<u8>], diff_ids: &[String]) -> PathBuf {
    let layout = dir.join("layout");
    let config = json!({
        "architecture": host_arch(), "os": "linux",
        "config": { "Cmd": ["/bin/true"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    let config = put_blob(&layout, &serde_json::to_vec(&config).unwrap(), "application/vnd.oci.image.config.v1+json");
    let layers: Vec<Value> =
        layers.iter().map(|l| put_blob(&layout, l, "application/vnd.oci.image.layer.v1.tar")).collect();
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config, "layers": layers,
    });
    let mut desc =
        put_blob(&layout, &serde_json::to_vec(&manifest).unwrap(), "application/vnd.oci.image.manifest.v1+json");
    desc["annotations"] = json!({ "org.opencontainers.image.ref.name": "localhost/evil:1" });
    fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&json!({ "schemaVersion": 2, "manifests": [desc] })).unwrap(),
    )
    .unwrap();
    let archive = dir.join("image.tar");
    let mut b = tar::Builder::new(fs::File::create(&archive).unwrap());
    b.append_dir_all(".", &layout).unwrap();
    b.into_inner().unwrap();
    archive
}

#[test]
fn a_diff_id_that_is_a_path_is_refused() {
    let engine = Engine::new(BIN, "img-diffid");
    // What an attacker prepared on the host (in practice: a container's upper dir).
    let host = temp_dir("img-diffid-host");
    fs::create_dir_all(host.join("diff")).unwrap();
    fs::write(host.join("diff/secret"), "host secret\n").unwrap();
    fs::write(host.join("layer.json"), r#"{"diff_id":"sha256:x","parent":null,"size":0}"#).unwrap();
    let layer = image::layer(&[Entry::Dir("etc/")]);
    let real = image::digest(&layer);
    let scratch = temp_dir("img-diffid-scratch");
    engine.ok(&["images"]);
    let before = engine.store_listing();
    for bad in [
        format!("sha256:{}", host.display()),
        format!("sha256:../../../../../../../../..{}", host.display()),
        format!("sha256:{}", real.trim_start_matches("sha256:").to_uppercase()),
        format!("sha512:{}", real.trim_start_matches("sha256:")),
        format!("{real}/../{}", real.trim_start_matches("sha256:")),
    ] {
        let archive = archive_with_diff_ids(&scratch, std::slice::from_ref(&layer), std::slice::from_ref(&bad));
        let out = engine.run(&["load", "-i", archive.to_str().unwrap()]);
        if out.status.success() {
            // What the old code did: the host directory became the image's layer.
            let loaded = String::from_utf8_lossy(&out.stdout).into_owned();
            let name = loaded.trim().rsplit(' ').next().unwrap_or_default().to_owned();
            let id = engine.ok(&["create", "--network", "none", &name]);
            let export = scratch.join("export.tar");
            engine.ok(&["export", "-o", export.to_str().unwrap(), id.trim()]);
            let mut names = Vec::new();
            for entry in tar::Archive::new(fs::File::open(&export).unwrap()).entries().unwrap() {
                names.push(entry.unwrap().path().unwrap().display().to_string());
            }
            panic!("load accepted diff id {bad:?}; the container's root holds {names:?}");
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("digest") || err.contains("diff"), "{bad}: {err}");
        assert_eq!(engine.store_listing(), before, "{bad}: nothing stored");
        fs::remove_dir_all(scratch.join("layout")).unwrap();
    }
    // The same image with its true diff id loads.
    let archive = archive_with_diff_ids(&scratch, std::slice::from_ref(&layer), &[real]);
    engine.ok(&["load", "-i", archive.to_str().unwrap()]);
    fs::remove_dir_all(&scratch).unwrap();
    fs::remove_dir_all(&host).unwrap();
}

/// `diff` looks each changed path up in the image's layers: a layer's symlink
/// (`etc -> /host/dir`) must not make that lookup a host path, which would tell the
/// container (through `diff`'s A or C) which host files exist.
#[test]
fn diff_never_looks_up_a_path_through_an_image_symlink() {
    let engine = Engine::new(BIN, "img-diff");
    let host = temp_dir("img-diff-host");
    fs::write(host.join("probe"), "exists on the host\n").unwrap();
    let entries = [Entry::Symlink("etc", super::volume_copy_up::leak(host.display().to_string()))];
    assert!(super::volume_copy_up::load_image(&engine, &entries, json!({ "Cmd": ["/x"] }), "localhost/diff:1"));
    let id = engine.ok(&["create", "--network", "none", "localhost/diff:1"]).trim().to_owned();
    // What the container does: `rm /etc; mkdir /etc; touch /etc/probe`.
    let upper = engine.root.join("containers").join(&id).join("upper");
    fs::remove_dir_all(upper.join("etc")).ok();
    fs::create_dir_all(upper.join("etc")).unwrap();
    fs::write(upper.join("etc/probe"), "").unwrap();
    let diff = engine.ok(&["diff", &id]);
    assert!(diff.lines().any(|l| l == "A /etc/probe"), "{diff}");
    fs::remove_dir_all(&host).unwrap();
}

/// The same through `pull`: a first image brings the layer's blob, a second one names
/// the same blob with a diff id that is a host path (where a `layer.json` waits). With
/// the blob present and "the layer" found, nothing would be checked.
#[test]
fn a_pulled_diff_id_that_is_a_path_is_refused() {
    let registry = lindocker_testkit::Registry::start("img-pull-diffid", None);
    let engine = Engine::new(BIN, "img-pull-diffid");
    let host = temp_dir("img-pull-diffid-host");
    fs::create_dir_all(host.join("diff")).unwrap();
    fs::write(host.join("diff/secret"), "host secret\n").unwrap();
    fs::write(host.join("layer.json"), r#"{"diff_id":"sha256:x","parent":null,"size":0}"#).unwrap();
    let layer = image::layer(&[Entry::Dir("etc/")]);
    let scratch = temp_dir("img-pull-diffid-scratch");
    for (tag, diff_id) in [("good", image::digest(&layer)), ("evil", format!("sha256:{}", host.display()))] {
        let dir = scratch.join(tag);
        archive_with_diff_ids(&dir, std::slice::from_ref(&layer), &[diff_id]);
        let layout = dir.join("layout");
        // The layout's own tag for skopeo.
        let mut index: Value = serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] = json!(tag);
        fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        registry.push(&layout, "test/diffid", tag);
    }
    engine.ok(&["pull", &format!("{}/test/diffid:good", registry.addr)]);
    let out = engine.run(&["pull", &format!("{}/test/diffid:evil", registry.addr)]);
    if out.status.success() {
        let id = engine.ok(&["create", "--network", "none", &format!("{}/test/diffid:evil", registry.addr)]);
        let export = scratch.join("export.tar");
        engine.ok(&["export", "-o", export.to_str().unwrap(), id.trim()]);
        let mut names = Vec::new();
        for entry in tar::Archive::new(fs::File::open(&export).unwrap()).entries().unwrap() {
            names.push(entry.unwrap().path().unwrap().display().to_string());
        }
        panic!("pull accepted a diff id that is a path; the container's root holds {names:?}");
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("digest"), "{err}");
    fs::remove_dir_all(&scratch).unwrap();
    fs::remove_dir_all(&host).unwrap();
}
