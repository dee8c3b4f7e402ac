//! Layered storage for lindocker: image layers unpacked once and shared
//! ([`layers::LayerStore`]), per-container filesystems on overlayfs
//! ([`container::ContainerFs`]), and the way back from a container's changes to a layer
//! tar ([`pack`]).

pub mod container;
pub mod digest;
pub mod layers;
pub mod overlay;
pub mod pack;
pub mod tar_guard;
pub mod unpack;

use std::path::{Path, PathBuf};

/// Everything storage can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A filesystem operation on `path` failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// The layer is not a readable tar (or not a compression we know).
    #[error("not a valid layer tar: {0}")]
    BadLayer(std::io::Error),
    /// An entry would write outside the layer, or is of a kind a layer may not hold.
    #[error("layer entry {}: {reason}", .path.display())]
    Unsafe {
        /// The entry.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// A digest, diff id or chain id that is not `sha256:` and 64 lowercase hex digits.
    #[error("invalid digest {0:?}: expected sha256: and 64 lowercase hex digits")]
    BadDigest(String),
    /// Content does not hash to what it was announced as.
    #[error("{what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was checked.
        what: String,
        /// The announced digest.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// A mount or unmount failed.
    #[error("mount {}: {source}", .path.display())]
    Mount {
        /// The mount point.
        path: PathBuf,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// A record the store wrote does not parse.
    #[error("{}: corrupt: {reason}", .path.display())]
    Corrupt {
        /// The record.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl StorageError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StorageError::Io { path: path.to_path_buf(), source }
    }
}

/// A suffix no other live process or call uses, for temporary names.
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{}-{}-{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}
