//! Images in and out of files: `import` (a root filesystem tar), `load` (a `docker save`
//! archive or an OCI image layout archive), `save` (both at once, as Docker 25+ writes
//! them, so `docker load` and `podman load` take it), and new images made by adding a
//! layer on top of another (`import`, `commit`).

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path};

use lindocker_storage::unpack::{HashingReader, decompress};
use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use serde_json::{Map, Value, json};

use crate::store::{ImageRecord, Store};
use crate::{ImageError, changes, reference};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// A layer just stored: its blob and its unpacked form.
#[derive(Debug, Clone)]
pub struct NewLayer {
    /// Digest of the blob as stored (compressed or not).
    pub digest: String,
    /// Bytes of the blob.
    pub blob_size: u64,
    /// The blob's media type (tar, tar+gzip, tar+zstd).
    pub media_type: String,
    /// Digest of the uncompressed tar.
    pub diff_id: String,
    /// Chain id of the layer.
    pub chain_id: String,
    /// Bytes of the uncompressed tar.
    pub size: u64,
}

/// Stores the layer tar read from `input` as a blob and unpacks it above `parent`.
pub fn store_layer(
    store: &Store,
    parent: Option<&str>,
    expected_diff_id: Option<&str>,
    input: impl Read,
) -> Result<NewLayer, ImageError> {
    let mut writer = store.blob_writer()?;
    let mut magic = [0u8; 4];
    let mut input = io::BufReader::with_capacity(256 * 1024, input);
    let peek = io::BufRead::fill_buf(&mut input).map_err(|e| ImageError::Invalid(format!("reading the layer: {e}")))?;
    magic[..peek.len().min(4)].copy_from_slice(&peek[..peek.len().min(4)]);
    let mut tee = TeeReader { input, copy: &mut writer };
    let (chain_id, info) = store.layers().unpack(parent, expected_diff_id, &mut tee)?;
    io::copy(&mut tee, &mut io::sink()).map_err(|e| ImageError::Invalid(format!("reading the layer: {e}")))?;
    let blob_size = writer.size();
    let digest = writer.commit(None)?;
    Ok(NewLayer {
        digest,
        blob_size,
        media_type: layer_media_type(&magic).into(),
        diff_id: info.diff_id,
        chain_id,
        size: info.size,
    })
}

fn layer_media_type(magic: &[u8]) -> &'static str {
    if magic.starts_with(&[0x1f, 0x8b]) {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        "application/vnd.oci.image.layer.v1.tar+zstd"
    } else {
        "application/vnd.oci.image.layer.v1.tar"
    }
}

struct TeeReader<'a, R, W> {
    input: R,
    copy: &'a mut W,
}

impl<R: Read, W: Write> Read for TeeReader<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// What a new image says about itself beyond its layers.
#[derive(Debug, Clone, Default)]
pub struct NewImage<'a> {
    /// Dockerfile instructions applied to the config (`CMD ["sh"]`, ...).
    pub changes: &'a [String],
    /// The history entry's comment (`--message`).
    pub comment: Option<&'a str>,
    /// The image's author (`--author`).
    pub author: Option<&'a str>,
    /// Extra config fields replacing the base's (commit passes the container's).
    pub config: Option<Map<String, Value>>,
}

/// Writes an image made of `base`'s layers (if any) plus `layer`, named `name` (a full
/// reference) if given.
pub fn new_image(
    store: &Store,
    base: Option<&ImageRecord>,
    layer: &NewLayer,
    details: &NewImage,
    name: Option<&str>,
) -> Result<ImageRecord, ImageError> {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let (mut config, mut layers): (Value, Vec<Value>) = match base {
        Some(base) => {
            let config: Value = serde_json::from_slice(&store.read_blob(&base.id)?)
                .map_err(|e| ImageError::Invalid(format!("base config: {e}")))?;
            let manifest: Value = serde_json::from_slice(&store.read_blob(&base.manifest)?)
                .map_err(|e| ImageError::Invalid(format!("base manifest: {e}")))?;
            (config, manifest["layers"].as_array().cloned().unwrap_or_default())
        }
        None => (
            json!({
                "architecture": crate::registry::Platform::host().architecture,
                "os": "linux",
                "config": {},
                "rootfs": { "type": "layers", "diff_ids": [] },
                "history": [],
            }),
            Vec::new(),
        ),
    };
    config["created"] = json!(now);
    if let Some(author) = details.author {
        config["author"] = json!(author);
    }
    if !config["config"].is_object() {
        config["config"] = json!({});
    }
    let inner = config["config"].as_object_mut().expect("made an object above");
    if let Some(replacement) = &details.config {
        for (k, v) in replacement {
            inner.insert(k.clone(), v.clone());
        }
    }
    for change in details.changes {
        changes::apply(inner, change)?;
    }
    match config["rootfs"]["diff_ids"].as_array_mut() {
        Some(ids) => ids.push(json!(layer.diff_id)),
        None => config["rootfs"] = json!({ "type": "layers", "diff_ids": [layer.diff_id] }),
    }
    let mut history = json!({ "created": now, "created_by": "lindocker" });
    if let Some(comment) = details.comment {
        history["comment"] = json!(comment);
    }
    match config["history"].as_array_mut() {
        Some(h) => h.push(history),
        None => config["history"] = json!([history]),
    }
    layers.push(json!({ "mediaType": layer.media_type, "digest": layer.digest, "size": layer.blob_size }));

    let config_bytes = serde_json::to_vec(&config).expect("config serializes");
    let (config_digest, manifest_digest) = write_config_and_manifest(store, &config_bytes, layers)?;
    let mut chain = base.map(|b| b.layers.clone()).unwrap_or_default();
    chain.push(layer.chain_id.clone());
    let size = base.map_or(0, |b| b.size) + layer.size;
    let record = ImageRecord {
        id: config_digest,
        manifest: manifest_digest,
        names: Vec::new(),
        digests: Vec::new(),
        layers: chain,
        size,
        created: Some(now),
    };
    store.add(record, name)
}

/// Stores a config blob and an OCI manifest over it and `layers` (descriptors); returns
/// the two digests (the first is the image id). The builder names the result with
/// [`Store::add`].
pub fn write_config_and_manifest(
    store: &Store,
    config: &[u8],
    layers: Vec<Value>,
) -> Result<(String, String), ImageError> {
    let config_digest = store.write_blob(config)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": OCI_CONFIG, "digest": config_digest, "size": config.len() },
        "layers": layers,
    });
    let manifest_digest = store.write_blob(&serde_json::to_vec(&manifest).expect("manifest serializes"))?;
    Ok((config_digest, manifest_digest))
}

/// `lindocker import`: the root filesystem tar in `input` (plain, gzip or zstd) as a
/// one-layer image.
pub fn import(
    store: &Store,
    input: impl Read,
    name: Option<&str>,
    details: &NewImage,
) -> Result<ImageRecord, ImageError> {
    let name = name.map(reference::parse).transpose()?.map(|r| r.whole());
    // Bad changes fail before anything is stored.
    let mut scratch = Map::new();
    for change in details.changes {
        changes::apply(&mut scratch, change)?;
    }
    let _guard = store.content_guard()?;
    let layer = store_layer(store, None, None, input)?;
    new_image(store, None, &layer, details, name.as_deref())
}

/// One image `load` brought in: the names it got (none for an untagged image).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The image.
    pub image: ImageRecord,
    /// Full names it was given.
    pub names: Vec<String>,
}

/// `lindocker load`: a `docker save` archive or an OCI layout archive (plain or
/// compressed) read from `input`.
pub fn load(store: &Store, input: impl Read) -> Result<Vec<Loaded>, ImageError> {
    let _guard = store.content_guard()?;
    let scratch = store.scratch_dir()?;
    let result = load_from(store, input, &scratch);
    let _ = fs::remove_dir_all(&scratch);
    result
}

fn load_from(store: &Store, input: impl Read, scratch: &Path) -> Result<Vec<Loaded>, ImageError> {
    let not_archive = |e: io::Error| ImageError::Invalid(format!("not an image archive: {e}"));
    let mut archive = tar::Archive::new(decompress(input)?);
    archive.set_preserve_permissions(false);
    archive.unpack(scratch).map_err(not_archive)?;
    let unpacked = Unpacked::open(scratch)?;
    if let Some(manifest) = unpacked.file("manifest.json")? {
        load_docker(store, &unpacked, manifest)
    } else if let Some(index) = unpacked.file("index.json")? {
        load_oci(store, &unpacked, index)
    } else {
        Err(ImageError::Invalid(
            "not an image archive: it has neither manifest.json (docker save) nor index.json (OCI layout)".into(),
        ))
    }
}

/// An unpacked archive. Its symlinks may point anywhere (absolute, or up and out), so its
/// files are opened only on its directory with `RESOLVE_IN_ROOT`, never by host path.
struct Unpacked {
    root: OwnedFd,
}

impl Unpacked {
    fn open(dir: &Path) -> Result<Unpacked, ImageError> {
        let root = rfs::open(dir, OFlags::DIRECTORY | OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| ImageError::io(dir, e.into()))?;
        Ok(Unpacked { root })
    }

    /// The regular file at `relative` in the archive, `None` if there is nothing there.
    fn file(&self, relative: &str) -> Result<Option<File>, ImageError> {
        let path = Path::new(relative);
        if path.is_absolute() || path.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(ImageError::Invalid(format!("archive refers to {relative:?}, outside itself")));
        }
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        let file = match rfs::openat2(
            &self.root,
            path,
            flags,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ) {
            Ok(fd) => File::from(fd),
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(ImageError::Invalid(format!("archive file {relative:?}: {e}"))),
        };
        match file.metadata() {
            Ok(meta) if meta.is_file() => Ok(Some(file)),
            Ok(_) => Err(ImageError::Invalid(format!("archive file {relative:?} is not a regular file"))),
            Err(e) => Err(ImageError::Invalid(format!("archive file {relative:?}: {e}"))),
        }
    }

    /// Like [`Unpacked::file`], for a file the archive must have.
    fn require(&self, relative: &str) -> Result<File, ImageError> {
        self.file(relative)?.ok_or_else(|| ImageError::Invalid(format!("archive has no file {relative:?}")))
    }
}

/// The most a JSON member of an archive (a manifest, a config, an index) may hold.
const MAX_JSON: u64 = 16 << 20;

/// The bytes of a small member of the archive, at most [`MAX_JSON`].
fn read_all(file: &File, what: &str) -> Result<Vec<u8>, ImageError> {
    let mut bytes = Vec::new();
    file.take(MAX_JSON + 1).read_to_end(&mut bytes).map_err(|e| ImageError::Invalid(format!("{what}: {e}")))?;
    if bytes.len() as u64 > MAX_JSON {
        return Err(ImageError::Invalid(format!("{what}: larger than {MAX_JSON} bytes")));
    }
    Ok(bytes)
}

fn read_json(file: &File, what: &str) -> Result<Value, ImageError> {
    serde_json::from_slice(&read_all(file, what)?).map_err(|e| ImageError::Invalid(format!("{what}: {e}")))
}

fn load_docker(store: &Store, unpacked: &Unpacked, manifest: File) -> Result<Vec<Loaded>, ImageError> {
    let manifest = read_json(&manifest, "manifest.json")?;
    let entries = manifest.as_array().ok_or_else(|| ImageError::Invalid("manifest.json is not a list".into()))?;
    let mut loaded = Vec::new();
    for entry in entries {
        let field =
            |key: &str| entry.get(key).ok_or_else(|| ImageError::Invalid(format!("manifest.json entry without {key}")));
        let config_path = field("Config")?.as_str().unwrap_or_default();
        let config_bytes = read_all(&unpacked.require(config_path)?, config_path)?;
        let layer_paths: Vec<&str> =
            field("Layers")?.as_array().map(|l| l.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let names: Vec<String> = entry
            .get("RepoTags")
            .and_then(Value::as_array)
            .map(|tags| tags.iter().filter_map(Value::as_str).map(|t| reference::parse(t).map(|r| r.whole())).collect())
            .transpose()?
            .unwrap_or_default();
        let layers = layer_paths
            .iter()
            .map(|p| unpacked.require(p).map(|file| (p.to_string(), file)))
            .collect::<Result<Vec<_>, ImageError>>()?;
        let image = add_archived(store, &config_bytes, &layers, None)?;
        let mut image = image;
        for name in &names {
            image = store.add(image, Some(name))?;
        }
        loaded.push(Loaded { image, names });
    }
    Ok(loaded)
}

fn load_oci(store: &Store, unpacked: &Unpacked, index: File) -> Result<Vec<Loaded>, ImageError> {
    let index = read_json(&index, "index.json")?;
    let blob = |digest: &str| -> Result<(String, File), ImageError> {
        // Only a checked digest names a file: `sha256:../../x` is not one.
        let path = format!("blobs/sha256/{}", lindocker_storage::digest::Digest::parse(digest)?.hex());
        let file = unpacked.require(&path)?;
        Ok((path, file))
    };
    let mut loaded = Vec::new();
    let mut pending: Vec<(Value, Option<String>)> =
        index["manifests"].as_array().cloned().unwrap_or_default().into_iter().map(|m| (m, None)).collect();
    while let Some((descriptor, inherited_name)) = pending.pop() {
        let digest = descriptor["digest"].as_str().unwrap_or_default().to_owned();
        let annotations = &descriptor["annotations"];
        let name = annotations["io.containerd.image.name"]
            .as_str()
            .or(annotations["org.opencontainers.image.ref.name"]
                .as_str()
                .filter(|n| n.contains('/') || n.contains(':')))
            .map(|n| reference::parse(n).map(|r| r.whole()))
            .transpose()?
            .or(inherited_name);
        let bytes = read_all(&blob(&digest)?.1, &format!("manifest {digest}"))?;
        check_digest(&bytes, &digest)?;
        let manifest: Value =
            serde_json::from_slice(&bytes).map_err(|e| ImageError::Invalid(format!("manifest {digest}: {e}")))?;
        if let Some(children) = manifest["manifests"].as_array() {
            let host = crate::registry::Platform::host();
            if let Some(child) = children.iter().find(|c| {
                c["platform"]["os"] == json!(host.os) && c["platform"]["architecture"] == json!(host.architecture)
            }) {
                pending.push((child.clone(), name));
            }
            continue;
        }
        let config_digest = manifest["config"]["digest"].as_str().unwrap_or_default();
        let config_bytes = read_all(&blob(config_digest)?.1, &format!("config {config_digest}"))?;
        check_digest(&config_bytes, config_digest)?;
        let layer_digests: Vec<String> = manifest["layers"]
            .as_array()
            .map(|l| l.iter().filter_map(|d| d["digest"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let layers = layer_digests.iter().map(|d| blob(d)).collect::<Result<Vec<_>, _>>()?;
        let mut image = add_archived(store, &config_bytes, &layers, Some(&layer_digests))?;
        let names: Vec<String> = name.into_iter().collect();
        for name in &names {
            image = store.add(image, Some(name))?;
        }
        loaded.push(Loaded { image, names });
    }
    Ok(loaded)
}

fn check_digest(bytes: &[u8], digest: &str) -> Result<(), ImageError> {
    use sha2::Digest;
    let actual = format!("sha256:{:x}", sha2::Sha256::digest(bytes));
    if actual != digest {
        return Err(ImageError::DigestMismatch { expected: digest.into(), actual });
    }
    Ok(())
}

/// Stores an image whose config and layer files (named as in the archive) sit in an
/// unpacked archive.
fn add_archived(
    store: &Store,
    config_bytes: &[u8],
    layers: &[(String, File)],
    expected_blobs: Option<&[String]>,
) -> Result<ImageRecord, ImageError> {
    // Typed, before anything is stored.
    let config = crate::config::parse(config_bytes)?;
    let diff_ids: Vec<String> = config.rootfs().diff_ids().clone();
    if diff_ids.len() != layers.len() {
        return Err(ImageError::Invalid(format!(
            "the config lists {} layers, the archive {}",
            diff_ids.len(),
            layers.len()
        )));
    }
    let chain = lindocker_storage::layers::chain_ids(&diff_ids)?;
    let mut descriptors = Vec::new();
    let mut size = 0;
    for (i, (name, file)) in layers.iter().enumerate() {
        let path = Path::new(name);
        let mut magic = [0u8; 4];
        let _ = file.read_at(&mut magic, 0);
        let mut hashing = HashingReader::new(file);
        let parent = i.checked_sub(1).map(|p| chain[p].as_str());
        let info = if store.layers().exists(&chain[i]) {
            io::copy(&mut hashing, &mut io::sink()).map_err(|e| ImageError::io(path, e))?;
            store.layers().info(&chain[i])?
        } else {
            store.layers().unpack(parent, Some(&diff_ids[i]), &mut hashing)?.1
        };
        io::copy(&mut hashing, &mut io::sink()).map_err(|e| ImageError::io(path, e))?;
        let digest = hashing.digest();
        if let Some(expected) = expected_blobs
            && expected[i] != digest
        {
            return Err(ImageError::DigestMismatch { expected: expected[i].clone(), actual: digest });
        }
        adopt_blob(store, file, &digest)?;
        descriptors.push(json!({ "mediaType": layer_media_type(&magic), "digest": digest, "size": hashing.count() }));
        size += info.size;
    }
    let (config_digest, manifest_digest) = write_config_and_manifest(store, config_bytes, descriptors)?;
    let record = ImageRecord {
        id: config_digest,
        manifest: manifest_digest,
        names: Vec::new(),
        digests: Vec::new(),
        layers: chain,
        size,
        created: config.created().clone(),
    };
    store.add(record, None)
}

/// Makes the archive's open `file`, whose content hashes to `digest`, a blob: the same
/// file, linked into the store (same filesystem, so no copy) by descriptor rather than by
/// name, which may go through the archive's symlinks; copied where a link is refused.
fn adopt_blob(store: &Store, mut file: &File, digest: &str) -> Result<(), ImageError> {
    let target = store.blob_path(digest)?;
    file.sync_all().map_err(|e| ImageError::io(&target, e))?;
    match rfs::linkat(file, "", rfs::CWD, &target, AtFlags::EMPTY_PATH) {
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(_) => {
            let mut writer = store.blob_writer()?;
            file.rewind().and_then(|()| io::copy(&mut file, &mut writer)).map_err(|e| ImageError::io(&target, e))?;
            writer.commit(Some(digest)).map(|_| ())
        }
    }
}

/// `lindocker save`: the images named in `names` as one archive that is both a
/// `docker save` archive (manifest.json) and an OCI image layout (index.json).
pub fn save(store: &Store, names: &[String], out: impl Write) -> Result<(), ImageError> {
    let mut builder = tar::Builder::new(out);
    let mut written = BTreeSet::new();
    let mut docker_manifest = Vec::new();
    let mut oci_manifests = Vec::new();
    let mut append_blob = |builder: &mut tar::Builder<_>, digest: &str| -> Result<(), ImageError> {
        if written.insert(digest.to_owned()) {
            let path = store.blob_path(digest)?;
            // A blob is a regular file we wrote; a symlink there is never followed.
            let fd = rustix::fs::open(
                &path,
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| ImageError::io(&path, e.into()))?;
            let mut file = File::from(fd);
            if !file.metadata().map_err(|e| ImageError::io(&path, e))?.is_file() {
                return Err(ImageError::Corrupt { path, reason: "not a regular file".into() });
            }
            let name = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
            builder.append_file(&name, &mut file).map_err(|e| ImageError::io(&path, e))?;
        }
        Ok(())
    };
    for name in names {
        let image = store.find(name)?;
        let manifest = store.manifest(&image)?;
        append_blob(&mut builder, &image.id)?;
        for layer in manifest.layers() {
            append_blob(&mut builder, layer.digest().as_ref())?;
        }
        append_blob(&mut builder, &image.manifest)?;
        let wanted = reference::parse(name).ok().map(|r| r.whole()).filter(|n| image.names.contains(n));
        let tags: Vec<String> = match wanted {
            Some(n) => vec![n],
            None if name.starts_with("sha256:") || !name.contains(['/', ':']) && image.names.is_empty() => Vec::new(),
            None => image.names.clone(),
        };
        docker_manifest.push(json!({
            "Config": format!("blobs/sha256/{}", image.id.trim_start_matches("sha256:")),
            "RepoTags": tags.iter().map(|t| reference::familiar(t)).collect::<Vec<_>>(),
            "Layers": manifest.layers().iter().map(|l| format!("blobs/sha256/{}", l.digest().digest())).collect::<Vec<_>>(),
        }));
        let size = fs::metadata(store.blob_path(&image.manifest)?).map(|m| m.len()).unwrap_or(0);
        let mut tagged = tags.iter().map(|t| Some(t.as_str())).collect::<Vec<_>>();
        if tagged.is_empty() {
            tagged.push(None);
        }
        for tag in tagged {
            let mut entry = json!({ "mediaType": OCI_MANIFEST, "digest": image.manifest, "size": size });
            if let Some(tag) = tag {
                let short = tag.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
                entry["annotations"] =
                    json!({ "io.containerd.image.name": tag, "org.opencontainers.image.ref.name": short });
            }
            oci_manifests.push(entry);
        }
    }
    let add_json = |builder: &mut tar::Builder<_>, name: &str, value: &Value| -> Result<(), ImageError> {
        let bytes = serde_json::to_vec(value).expect("json serializes");
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        builder.append_data(&mut header, name, bytes.as_slice()).map_err(|e| ImageError::io(Path::new(name), e))
    };
    add_json(&mut builder, "oci-layout", &json!({ "imageLayoutVersion": "1.0.0" }))?;
    add_json(
        &mut builder,
        "index.json",
        &json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": oci_manifests }),
    )?;
    add_json(&mut builder, "manifest.json", &Value::Array(docker_manifest))?;
    builder.into_inner().and_then(|mut w| w.flush()).map_err(|e| ImageError::io(Path::new("archive"), e))
}
