//! The content store: blobs by digest (OCI image layout under `<root>/image`), the index
//! of images and their names, and the unpacked layers they share.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use lindocker_storage::layers::LayerStore;
use oci_spec::image::{ImageConfiguration, ImageManifest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::lock::Lock;
use crate::{ImageError, reference};

/// One image as the store knows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageRecord {
    /// The image id: the digest of its config, as Docker names images.
    pub id: String,
    /// Digest of the manifest blob.
    pub manifest: String,
    /// Full names (`registry/repository:tag`) that point at this image.
    #[serde(default)]
    pub names: Vec<String>,
    /// `registry/repository@digest` under which the image was pulled.
    #[serde(default)]
    pub digests: Vec<String>,
    /// Chain ids of its layers, bottom first.
    pub layers: Vec<String>,
    /// Uncompressed size of its layers in bytes.
    pub size: u64,
    /// When the image was built, from its config (RFC 3339).
    #[serde(default)]
    pub created: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    images: Vec<ImageRecord>,
}

/// The image store under a data root.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    layers: LayerStore,
}

impl Store {
    /// Opens (creating if needed) the store under `root` (`<root>/image`, `<root>/layers`).
    pub fn open(root: &Path) -> Result<Store, ImageError> {
        let dir = root.join("image");
        for sub in ["blobs/sha256", "tmp"] {
            let path = dir.join(sub);
            fs::create_dir_all(&path).map_err(|e| ImageError::io(&path, e))?;
        }
        let layout = dir.join("oci-layout");
        if !layout.exists() {
            write_atomic(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        Ok(Store { dir, layers: LayerStore::open(root.join("layers"))? })
    }

    /// The unpacked layers.
    pub fn layers(&self) -> &LayerStore {
        &self.layers
    }

    /// Path of blob `digest`, named by its checked hex only.
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        Ok(self.dir.join("blobs/sha256").join(lindocker_storage::digest::Digest::parse(digest)?.hex()))
    }

    /// Path of what [`crate::blobmeta`] knows about blob `digest`.
    pub(crate) fn meta_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        let hex = lindocker_storage::digest::Digest::parse(digest)?.hex().to_owned();
        Ok(self.dir.join("blobmeta").join(format!("{hex}.json")))
    }

    /// Whether blob `digest` is stored (never, for what is not a digest).
    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).is_ok_and(|path| path.exists())
    }

    /// The bytes of blob `digest`.
    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.blob_path(digest)?;
        fs::read(&path).map_err(|e| ImageError::io(&path, e))
    }

    /// Stores `bytes` as a blob and returns its digest.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<String, ImageError> {
        let mut writer = self.blob_writer()?;
        writer.write_all(bytes).map_err(|e| ImageError::io(&writer.path, e))?;
        writer.commit(None)
    }

    /// A writer whose content becomes a blob only when [`BlobWriter::commit`] finds its
    /// digest right.
    pub fn blob_writer(&self) -> Result<BlobWriter, ImageError> {
        let path = self.dir.join("tmp").join(format!("blob-{}", lindocker_storage::unique_suffix()));
        let file = File::create(&path).map_err(|e| ImageError::io(&path, e))?;
        Ok(BlobWriter {
            file: io::BufWriter::with_capacity(256 * 1024, file),
            path,
            hasher: Sha256::new(),
            size: 0,
            store: self.dir.clone(),
        })
    }

    /// A scratch directory for one operation (removed by the caller, or by the next
    /// `prune` if a crash left it).
    pub fn scratch_dir(&self) -> Result<PathBuf, ImageError> {
        let path = self.dir.join("tmp").join(format!("dir-{}", lindocker_storage::unique_suffix()));
        fs::create_dir_all(&path).map_err(|e| ImageError::io(&path, e))?;
        Ok(path)
    }

    /// Held (shared) by anything adding content, held exclusively by garbage collection,
    /// so a collection never takes a blob that a pull has stored but not yet named.
    pub fn content_guard(&self) -> Result<Lock, ImageError> {
        Lock::shared(&self.dir.join("gc.lock"))
    }

    pub(crate) fn index_lock(&self) -> Result<Lock, ImageError> {
        Lock::exclusive(&self.dir.join("index.lock"))
    }

    /// Every image, in the order they were added.
    pub fn images(&self) -> Result<Vec<ImageRecord>, ImageError> {
        Ok(self.read_index()?.images)
    }

    fn read_index(&self) -> Result<Index, ImageError> {
        let path = self.dir.join("images.json");
        match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| ImageError::Corrupt { path, reason: e.to_string() })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Index::default()),
            Err(e) => Err(ImageError::io(&path, e)),
        }
    }

    fn write_index(&self, index: &Index) -> Result<(), ImageError> {
        write_atomic(&self.dir.join("images.json"), &serde_json::to_vec_pretty(index).expect("index serializes"))?;
        // The OCI layout's own index, for tools that read the layout.
        let manifests: Vec<serde_json::Value> = index
            .images
            .iter()
            .map(|image| {
                let size =
                    self.blob_path(&image.manifest).ok().and_then(|p| fs::metadata(p).ok()).map_or(0, |m| m.len());
                let mut entry = serde_json::json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": image.manifest,
                    "size": size,
                });
                if let Some(name) = image.names.first() {
                    entry["annotations"] = serde_json::json!({ "io.containerd.image.name": name });
                }
                entry
            })
            .collect();
        let oci = serde_json::json!({ "schemaVersion": 2, "manifests": manifests });
        write_atomic(&self.dir.join("index.json"), &serde_json::to_vec(&oci).expect("index serializes"))
    }

    /// Finds an image by name (`busybox`, `busybox:1`, `repo@sha256:...`) or by id or
    /// a unique prefix of it.
    pub fn find(&self, name: &str) -> Result<ImageRecord, ImageError> {
        find_in(&self.images()?, name)
    }

    /// The manifest of `image`.
    pub fn manifest(&self, image: &ImageRecord) -> Result<ImageManifest, ImageError> {
        let bytes = self.read_blob(&image.manifest)?;
        let path = self.blob_path(&image.manifest)?;
        serde_json::from_slice(&bytes).map_err(|e| ImageError::Corrupt { path, reason: e.to_string() })
    }

    /// The config of `image`.
    pub fn config(&self, image: &ImageRecord) -> Result<ImageConfiguration, ImageError> {
        let bytes = self.read_blob(&image.id)?;
        let path = self.blob_path(&image.id)?;
        serde_json::from_slice(&bytes).map_err(|e| ImageError::Corrupt { path, reason: e.to_string() })
    }

    /// Records `image` (its blobs and layers already stored) and points `name` (a full
    /// name) at it, taking the name from any image that had it.
    pub fn add(&self, mut image: ImageRecord, name: Option<&str>) -> Result<ImageRecord, ImageError> {
        let _lock = self.index_lock()?;
        let mut index = self.read_index()?;
        if let Some(name) = name {
            for other in &mut index.images {
                other.names.retain(|n| n != name);
            }
        }
        let record = match index.images.iter_mut().find(|i| i.id == image.id) {
            Some(existing) => {
                existing
                    .digests
                    .extend(image.digests.drain(..).filter(|d| !existing.digests.contains(d)).collect::<Vec<_>>());
                existing
            }
            None => {
                index.images.push(image);
                index.images.last_mut().expect("just pushed")
            }
        };
        if let Some(name) = name
            && !record.names.iter().any(|n| n == name)
        {
            record.names.push(name.to_owned());
        }
        let record = record.clone();
        self.write_index(&index)?;
        Ok(record)
    }

    /// Points `target` (a reference) at the image `source` names.
    pub fn tag(&self, source: &str, target: &str) -> Result<ImageRecord, ImageError> {
        let target = reference::parse(target)?;
        if target.digest().is_some() {
            return Err(ImageError::BadReference {
                reference: target.whole(),
                reason: "a tag cannot be a digest".into(),
            });
        }
        let image = self.find(source)?;
        self.add(image, Some(&target.whole()))
    }

    /// Removes `name` from its image and returns the image as it is now: with no names
    /// left, the caller decides whether to delete it.
    pub fn untag(&self, name: &str) -> Result<ImageRecord, ImageError> {
        let _lock = self.index_lock()?;
        let mut index = self.read_index()?;
        let found = find_in(&index.images, name)?;
        let full = reference::parse(name).ok().map(|r| r.whole());
        let image = index.images.iter_mut().find(|i| i.id == found.id).expect("found above");
        match full {
            Some(full) if image.names.contains(&full) => image.names.retain(|n| *n != full),
            _ => image.names.clear(), // by id or digest: every name goes
        }
        if image.names.is_empty() {
            image.digests.clear();
        }
        let image = image.clone();
        self.write_index(&index)?;
        Ok(image)
    }

    /// Forgets image `id`; its blobs and layers go at the next [`Store::collect`].
    pub fn forget(&self, id: &str) -> Result<(), ImageError> {
        let _lock = self.index_lock()?;
        let mut index = self.read_index()?;
        index.images.retain(|i| i.id != id);
        self.write_index(&index)
    }

    /// Takes the garbage collection's lock exclusively: no pull, load, commit or
    /// `create` (they hold [`Store::content_guard`] until their content is named by an
    /// image or a container record) is half-way while it is held. What is in use must be
    /// read after taking it, and the collection done before dropping it.
    pub fn gc_lock(&self) -> Result<Lock, ImageError> {
        Lock::exclusive(&self.dir.join("gc.lock"))
    }

    /// Removes blobs and layers no image refers to, and what interrupted operations left
    /// in `tmp/`. `keep_layers` are chain ids still used by containers, read while
    /// holding `gc` (from [`Store::gc_lock`]). Returns the bytes freed.
    pub fn collect(&self, gc: &Lock, keep_layers: &[String]) -> Result<u64, ImageError> {
        let _ = gc;
        let _lock = self.index_lock()?;
        let images = self.read_index()?.images;
        let mut blobs = std::collections::HashSet::new();
        let mut layers: std::collections::HashSet<String> = keep_layers.iter().cloned().collect();
        for image in &images {
            blobs.insert(image.manifest.clone());
            blobs.insert(image.id.clone());
            if let Ok(manifest) = self.manifest(image) {
                blobs.extend(manifest.layers().iter().map(|l| l.digest().to_string()));
            }
            layers.extend(image.layers.iter().cloned());
        }
        // The compressed forms made for pushes live as long as what they were made from.
        let made: Vec<String> = blobs
            .iter()
            .flat_map(|b| {
                let meta = self.blob_meta(b);
                meta.compressed.into_values().map(|v| v.digest)
            })
            .collect();
        blobs.extend(made);
        let mut freed = 0;
        let blob_dir = self.dir.join("blobs/sha256");
        for entry in fs::read_dir(&blob_dir).map_err(|e| ImageError::io(&blob_dir, e))?.flatten() {
            let digest = format!("sha256:{}", entry.file_name().to_string_lossy());
            if !blobs.contains(&digest) {
                freed += entry.metadata().map(|m| m.len()).unwrap_or(0);
                fs::remove_file(entry.path()).map_err(|e| ImageError::io(&entry.path(), e))?;
            }
        }
        let meta_dir = self.dir.join("blobmeta");
        for entry in fs::read_dir(&meta_dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let hex = name.strip_suffix(".json").unwrap_or(&name);
            if !blobs.contains(&format!("sha256:{hex}")) {
                let _ = fs::remove_file(entry.path());
            }
        }
        for chain in self.layers.list()? {
            if !layers.contains(&chain) {
                freed += self.layers.disk_usage(&chain);
                self.layers.remove(&chain)?;
            }
        }
        self.layers.remove_partial()?;
        let tmp = self.dir.join("tmp");
        for entry in fs::read_dir(&tmp).map_err(|e| ImageError::io(&tmp, e))?.flatten() {
            let _ = fs::remove_dir_all(entry.path()).or_else(|_| fs::remove_file(entry.path()));
        }
        Ok(freed)
    }
}

fn find_in(images: &[ImageRecord], name: &str) -> Result<ImageRecord, ImageError> {
    let missing = || ImageError::NoSuchImage(name.to_owned());
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    if !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        let matches: Vec<&ImageRecord> =
            images.iter().filter(|i| i.id.trim_start_matches("sha256:").starts_with(hex)).collect();
        match matches.as_slice() {
            [one] => return Ok((*one).clone()),
            [] => {}
            _ => return Err(ImageError::Ambiguous(name.to_owned())),
        }
    }
    let reference = reference::parse(name).map_err(|_| missing())?;
    let found = match reference.digest() {
        Some(digest) => {
            let by_digest = format!("{}@{digest}", reference::repository(&reference));
            images.iter().find(|i| i.digests.contains(&by_digest) || i.manifest == digest)
        }
        None => images.iter().find(|i| i.names.contains(&reference.whole())),
    };
    found.cloned().ok_or_else(missing)
}

/// Writes a file so that readers see the old or the new content, never a mix, and so
/// that it survives a crash once this returns.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    lindocker_sys::atomic::write_durable(path, bytes).map_err(|e| ImageError::io(path, e))
}

/// Content on its way into the store, hashed as it is written.
#[derive(Debug)]
pub struct BlobWriter {
    file: io::BufWriter<File>,
    path: PathBuf,
    hasher: Sha256,
    size: u64,
    store: PathBuf,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Makes the content a blob if its digest is `expected` (or any digest, if `None`);
    /// otherwise throws it away. Returns the digest.
    pub fn commit(mut self, expected: Option<&str>) -> Result<String, ImageError> {
        let digest = format!("sha256:{:x}", self.hasher.clone().finalize());
        let result = (|| {
            if let Some(expected) = expected
                && expected != digest
            {
                return Err(ImageError::DigestMismatch { expected: expected.into(), actual: digest.clone() });
            }
            self.file.flush().map_err(|e| ImageError::io(&self.path, e))?;
            self.file.get_ref().sync_all().map_err(|e| ImageError::io(&self.path, e))?;
            let target = self.store.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
            fs::rename(&self.path, &target).map_err(|e| ImageError::io(&target, e))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&self.path);
        }
        result.map(|()| digest)
    }
}

impl Drop for BlobWriter {
    /// Content never committed is thrown away (after a commit the file has moved).
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
