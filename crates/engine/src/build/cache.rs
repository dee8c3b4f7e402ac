//! The step cache, as BuildKit's: a step's key is a hash of its parent's key, the
//! instruction with its arguments substituted, the values it sees (build arguments,
//! platform) and, for `COPY`/`ADD`, the content of its sources. A result (the image
//! config after the step and its layers) is kept as `<root>/build/cache/<key>.json`,
//! written whole (temp + rename). Cache mount contents are never part of a key.
//!
//! The layers an entry names are not protected from `rmi`/`image prune`: an entry is
//! checked before reuse (every layer unpacked, every blob present), and the build holds
//! the store's content guard from that check until its image is recorded, so no
//! collection runs in between. An entry whose layers were collected is a miss.

use std::path::{Path, PathBuf};

use lindocker_image::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::EngineError;

/// One layer a build made or inherited: what the manifest and the store need of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltLayer {
    /// Digest of the blob.
    pub digest: String,
    /// Bytes of the blob.
    pub size: u64,
    /// The blob's media type.
    pub media_type: String,
    /// Digest of the uncompressed tar.
    pub diff_id: String,
    /// Chain id (its unpacked directory).
    pub chain_id: String,
    /// Bytes of the uncompressed tar.
    pub unpacked: u64,
}

impl BuiltLayer {
    /// The manifest's descriptor of the layer.
    pub fn descriptor(&self) -> Value {
        serde_json::json!({ "mediaType": self.media_type, "digest": self.digest, "size": self.size })
    }
}

/// The state after a step: the whole image config (history included) and the layers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The image config.
    pub config: Value,
    /// The layers, bottom first (one per `rootfs.diff_ids` entry).
    pub layers: Vec<BuiltLayer>,
}

/// A step's key: SHA-256 over the parts, each length-prefixed (so no two lists of parts
/// hash alike).
pub fn key(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    format!("{:x}", hash.finalize())
}

/// The cache directory of a data root.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache under `root` (made when first written).
    pub fn open(root: &Path) -> Cache {
        Cache { dir: root.join("build/cache") }
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        // Keys are ours (hex), but a file name is only ever made of hex here.
        (key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit())).then(|| self.dir.join(format!("{key}.json")))
    }

    /// The entry for `key` if there is one and everything it names is still stored.
    pub fn get(&self, key: &str, store: &Store) -> Option<Entry> {
        let bytes = std::fs::read(self.path(key)?).ok()?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        let diff_ids = entry.config["rootfs"]["diff_ids"].as_array()?;
        let whole = diff_ids.len() == entry.layers.len()
            && entry.layers.iter().zip(diff_ids).all(|(l, d)| d.as_str() == Some(l.diff_id.as_str()));
        let stored = entry.layers.iter().all(|l| store.layers().exists(&l.chain_id) && store.has_blob(&l.digest));
        (whole && stored).then_some(entry)
    }

    /// Records `entry` under `key`.
    pub fn put(&self, key: &str, entry: &Entry) -> Result<(), EngineError> {
        let path = self.path(key).ok_or_else(|| EngineError::Invalid(format!("bad cache key {key:?}")))?;
        std::fs::create_dir_all(&self.dir).map_err(|e| EngineError::io(&self.dir, e))?;
        let bytes = serde_json::to_vec(entry).expect("an entry serializes");
        lindocker_sys::atomic::AtomicWrite::new(lindocker_sys::atomic::Durability::CrashSafe)
            .mode(0o600)
            .write(&path, &bytes)
            .map_err(|e| EngineError::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_how_parts_split() {
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
        assert_eq!(key(&["a"]), key(&["a"]));
        assert_eq!(key(&["a"]).len(), 64);
    }
}
