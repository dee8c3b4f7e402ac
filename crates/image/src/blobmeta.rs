//! What the store knows about a blob beyond its bytes: the compressed blobs made from it
//! for a push (so a layer is compressed once, and its pushed digest stays the same), and
//! the repositories it is known to live in on registries (so a push can ask a registry to
//! mount it from one of them instead of uploading it again).
//!
//! Kept as `<root>/image/blobmeta/<hex>.json`; garbage collection drops an entry with its
//! blob, and keeps a compressed blob as long as the blob it was made from is kept.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use crate::ImageError;
use crate::store::{Store, write_atomic};

/// The most repositories remembered per blob (the newest are kept).
const MAX_REPOSITORIES: usize = 32;

/// A compressed blob made from a stored one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// Its digest.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

/// What is known about one blob.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct BlobMeta {
    /// Compressed forms of this (uncompressed) blob, by algorithm (`gzip`, `zstd`).
    #[serde(default)]
    pub compressed: BTreeMap<String, Variant>,
    /// `registry/repository` names the blob was pulled from or pushed to.
    #[serde(default)]
    pub repositories: Vec<String>,
}

/// How a layer is compressed for a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip, what every registry and client takes.
    Gzip,
    /// zstd, for images whose layers already are.
    Zstd,
}

impl Compression {
    fn key(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

impl Store {
    /// What the store knows about blob `digest` (nothing, if it never recorded anything).
    pub fn blob_meta(&self, digest: &str) -> BlobMeta {
        self.meta_path(digest)
            .ok()
            .and_then(|path| fs::read(path).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Changes what the store knows about blob `digest`.
    pub fn update_blob_meta(&self, digest: &str, change: impl FnOnce(&mut BlobMeta)) -> Result<(), ImageError> {
        let path = self.meta_path(digest)?;
        let _lock = self.index_lock()?;
        let mut meta = self.blob_meta(digest);
        change(&mut meta);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| ImageError::io(dir, e))?;
        }
        write_atomic(&path, &serde_json::to_vec(&meta).expect("meta serializes"))
    }

    /// Remembers that blobs `digests` live in `repository` (`registry/repo`).
    pub fn record_repository(&self, digests: &[String], repository: &str) -> Result<(), ImageError> {
        for digest in digests {
            self.update_blob_meta(digest, |meta| {
                meta.repositories.retain(|r| r != repository);
                meta.repositories.push(repository.to_owned());
                let excess = meta.repositories.len().saturating_sub(MAX_REPOSITORIES);
                meta.repositories.drain(..excess);
            })?;
        }
        Ok(())
    }

    /// The `how`-compressed form of the stored (uncompressed) blob `digest`, made once
    /// and kept: pushing again sends the same bytes under the same digest.
    pub fn compressed(&self, digest: &str, how: Compression) -> Result<Variant, ImageError> {
        if let Some(known) = self.blob_meta(digest).compressed.get(how.key())
            && self.has_blob(&known.digest)
        {
            return Ok(known.clone());
        }
        let path = self.blob_path(digest)?;
        let input = File::open(&path).map_err(|e| ImageError::io(&path, e))?;
        let writer = self.blob_writer()?;
        let writer = compress(io::BufReader::with_capacity(1 << 20, input), writer, how)
            .map_err(|e| ImageError::io(&path, e))?;
        let size = writer.size();
        let made = writer.commit(None)?;
        let variant = Variant { digest: made, size };
        let recorded = variant.clone();
        self.update_blob_meta(digest, |meta| {
            meta.compressed.insert(how.key().to_owned(), recorded);
        })?;
        Ok(variant)
    }
}

/// Compresses `input` into `output`, deterministically (no timestamps, fixed levels), so
/// the same layer always makes the same blob.
fn compress<W: Write>(mut input: impl Read, output: W, how: Compression) -> io::Result<W> {
    match how {
        Compression::Gzip => {
            let mut encoder = flate2::GzBuilder::new().mtime(0).write(output, flate2::Compression::new(GZIP_LEVEL));
            io::copy(&mut input, &mut encoder)?;
            encoder.finish()
        }
        Compression::Zstd => {
            let mut encoder = zstd::Encoder::new(output, 3)?;
            io::copy(&mut input, &mut encoder)?;
            encoder.finish()
        }
    }
}

/// gzip's level: Go's `gzip.DefaultCompression` (6) is what docker and skopeo use; 6 is
/// also zlib's default.
const GZIP_LEVEL: u32 = 6;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_is_deterministic_and_round_trips() {
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        for how in [Compression::Gzip, Compression::Zstd] {
            let a = compress(&data[..], Vec::new(), how).unwrap();
            let b = compress(&data[..], Vec::new(), how).unwrap();
            assert_eq!(a, b, "{how:?}");
            assert!(a.len() < data.len() / 4, "{how:?}");
        }
        let gz = compress(&data[..], Vec::new(), Compression::Gzip).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }
}
