//! Images for lindocker: references ([`reference`]), the registry client
//! ([`registry`]), the content store ([`store`]) and image archives ([`archive`]).

pub mod archive;
pub mod auth;
pub mod blobmeta;
pub mod changes;
pub mod config;
pub mod health;
pub mod history;
pub mod lock;
pub mod progress;
pub mod push;
pub mod reference;
pub mod registry;
pub mod store;

use std::path::{Path, PathBuf};

pub use store::{ImageRecord, Store};

/// Everything the image side can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A reference that does not follow Docker's grammar.
    #[error("invalid reference format {reference:?}: {reason}")]
    BadReference {
        /// What was given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No image by that name or id.
    #[error("No such image: {0}")]
    NoSuchImage(String),
    /// An id prefix matching more than one image.
    #[error("{0}: more than one image matches; give more of the id")]
    Ambiguous(String),
    /// A platform string that is not `os/arch[/variant]`.
    #[error("invalid platform {0:?}: expected os/arch[/variant], e.g. linux/amd64")]
    BadPlatform(String),
    /// A multi-platform image without the wanted platform.
    #[error("no image for platform {wanted} (the image offers: {})", .offered.join(", "))]
    NoMatchingPlatform {
        /// The platform asked for.
        wanted: String,
        /// The platforms the index lists.
        offered: Vec<String>,
    },
    /// The registry refused, was unreachable, or answered nonsense.
    #[error("registry {registry}: {reason}")]
    Registry {
        /// The registry host.
        registry: String,
        /// What happened.
        reason: String,
    },
    /// Content that does not hash to its digest.
    #[error("digest mismatch: expected {expected}, got {actual}; nothing was stored")]
    DigestMismatch {
        /// The digest that was announced.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// A manifest, config or archive that is not what an image needs.
    #[error("invalid image: {0}")]
    Invalid(String),
    /// A `--change` instruction that cannot be applied.
    #[error("invalid change {change:?}: {reason}")]
    BadChange {
        /// The instruction.
        change: String,
        /// Why it was refused.
        reason: String,
    },
    /// A record of the store that does not parse.
    #[error("{}: corrupt: {reason}", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A filesystem operation failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// Unpacking or mounting a layer failed.
    #[error(transparent)]
    Storage(#[from] lindocker_storage::StorageError),
}

impl ImageError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ImageError::Io { path: path.to_path_buf(), source }
    }
}
