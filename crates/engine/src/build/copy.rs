//! COPY and ADD (placeholder until the copy helper's module lands).

use std::path::Path;

use super::context::SourceTree;
use crate::EngineError;

/// One source of a COPY/ADD after expansion.
#[derive(Debug, Clone)]
pub enum CopySource {
    /// A path (or wildcard) in the source tree.
    Path(String),
    /// A heredoc file.
    Inline {
        /// Its name.
        name: String,
        /// Its content.
        content: Vec<u8>,
    },
}

/// What COPY/ADD was asked, expanded.
#[derive(Debug)]
pub struct CopyRequest<'a> {
    /// The sources.
    pub sources: &'a [CopySource],
    /// Absolute destination.
    pub dest: &'a str,
    /// `--chown`.
    pub chown: Option<&'a str>,
    /// `--chmod`.
    pub chmod: Option<u32>,
    /// ADD.
    pub add: bool,
    /// `--exclude`.
    pub exclude: &'a [String],
    /// `--parents`.
    pub parents: bool,
}

/// The cache key part of a COPY/ADD.
pub fn source_digest(tree: &SourceTree, request: &CopyRequest) -> Result<String, EngineError> {
    let _ = (tree, request);
    Err(EngineError::Invalid("COPY is not supported yet".into()))
}

/// Copies into `rootfs`.
pub fn copy(tree: &SourceTree, request: &CopyRequest, rootfs: &Path) -> Result<(), EngineError> {
    let _ = (tree, request, rootfs);
    Err(EngineError::Invalid("COPY is not supported yet".into()))
}
