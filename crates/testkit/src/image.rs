//! Test images built from scratch: layer tars with exactly the entries a test needs, and
//! OCI image layouts (single- or multi-platform) that skopeo pushes to a registry.

use std::fs;
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One entry of a test layer.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A directory.
    Dir(&'static str),
    /// A regular file with content and mode.
    File(String, Vec<u8>, u32),
    /// A symlink and its target.
    Symlink(&'static str, &'static str),
    /// A hard link and the path it links to.
    Link(&'static str, &'static str),
    /// A file with an extended attribute.
    XattrFile(&'static str, &'static str, &'static [u8]),
    /// A FIFO.
    Fifo(&'static str),
    /// A raw tar path with content, for paths the builder would refuse (`../x`).
    Raw(&'static str, &'static [u8]),
}

/// Builds an uncompressed layer tar.
pub fn layer(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h
    };
    for entry in entries {
        match entry {
            Entry::Dir(p) => b.append_data(&mut header(tar::EntryType::Directory, 0o755, 0), p, &[][..]).unwrap(),
            Entry::File(p, data, mode) => b
                .append_data(&mut header(tar::EntryType::Regular, *mode, data.len() as u64), p, data.as_slice())
                .unwrap(),
            Entry::Symlink(p, t) => b.append_link(&mut header(tar::EntryType::Symlink, 0o777, 0), p, t).unwrap(),
            Entry::Link(p, t) => b.append_link(&mut header(tar::EntryType::Link, 0o644, 0), p, t).unwrap(),
            Entry::XattrFile(p, name, value) => {
                let key = format!("SCHILY.xattr.{name}");
                b.append_pax_extensions([(key.as_str(), *value)]).unwrap();
                b.append_data(&mut header(tar::EntryType::Regular, 0o644, 2), p, &b"x\n"[..]).unwrap();
            }
            Entry::Fifo(p) => b.append_data(&mut header(tar::EntryType::Fifo, 0o644, 0), p, &[][..]).unwrap(),
            Entry::Raw(p, data) => {
                let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
                let name = &mut h.as_old_mut().name;
                name[..p.len()].copy_from_slice(p.as_bytes());
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// Gzip-compresses a layer.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut child = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &data));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out.stdout
}

/// `sha256:<hex>` of `data`.
pub fn digest(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

fn put_blob(layout: &Path, data: &[u8]) -> Value {
    let digest = digest(data);
    let dir = layout.join("blobs/sha256");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(digest.trim_start_matches("sha256:")), data).unwrap();
    json!({ "digest": digest, "size": data.len() })
}

/// Writes an image of `layers` (each: the blob as stored and the uncompressed tar) into
/// the OCI layout `layout` and returns its manifest descriptor.
pub fn image(layout: &Path, layers: &[(Vec<u8>, Vec<u8>)], config: Value, arch: &str) -> Value {
    let diff_ids: Vec<String> = layers.iter().map(|(_, tar)| digest(tar)).collect();
    let config = json!({
        "architecture": arch, "os": "linux", "created": "2024-01-02T03:04:05Z",
        "config": config, "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    let mut config_desc = put_blob(layout, &serde_json::to_vec(&config).unwrap());
    config_desc["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let layer_descs: Vec<Value> = layers
        .iter()
        .map(|(blob, tar)| {
            let mut d = put_blob(layout, blob);
            let gz = blob != tar;
            d["mediaType"] = json!(if gz {
                "application/vnd.oci.image.layer.v1.tar+gzip"
            } else {
                "application/vnd.oci.image.layer.v1.tar"
            });
            d
        })
        .collect();
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc, "layers": layer_descs,
    });
    let mut desc = put_blob(layout, &serde_json::to_vec(&manifest).unwrap());
    desc["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
    desc["platform"] = json!({ "os": "linux", "architecture": arch });
    desc
}

/// Writes `index.json` listing `manifests` under `tag`; with more than one manifest they
/// go into a nested image index (a multi-platform image).
pub fn finish_layout(layout: &Path, tag: &str, manifests: Vec<Value>) {
    fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut top = if manifests.len() == 1 {
        manifests.into_iter().next().unwrap()
    } else {
        let index = json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests });
        let mut d = put_blob(layout, &serde_json::to_vec(&index).unwrap());
        d["mediaType"] = json!("application/vnd.oci.image.index.v1+json");
        d
    };
    top["annotations"] = json!({ "org.opencontainers.image.ref.name": tag });
    let index = json!({ "schemaVersion": 2, "manifests": [top] });
    fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// The busybox root filesystem (see [`crate::busybox_rootfs`]) as an uncompressed tar.
pub fn busybox_layer(scratch: &Path) -> Vec<u8> {
    let rootfs = scratch.join("busybox-rootfs");
    crate::busybox_rootfs(&rootfs);
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", &rootfs).unwrap();
    let data = b.into_inner().unwrap();
    fs::remove_dir_all(&rootfs).unwrap();
    data
}
