//! The build context (placeholder until the copy helper's module lands).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::EngineError;

/// A tree files are copied from: the build context (with .dockerignore), or the root
/// file system of another stage or image (COPY --from).
#[derive(Debug)]
pub struct SourceTree {
    dir: PathBuf,
}

impl SourceTree {
    /// The context directory read in place; `.dockerignore` at its top applied.
    pub fn context_dir(dir: &Path) -> Result<SourceTree, EngineError> {
        Ok(SourceTree { dir: dir.to_owned() })
    }

    /// A context sent as a tar (stdin, `-`), unpacked safely into `scratch`.
    pub fn context_tar(input: impl Read, scratch: &Path) -> Result<SourceTree, EngineError> {
        let _ = input;
        Err(EngineError::Invalid(format!("a tar context is not supported yet ({})", scratch.display())))
    }

    /// A root file system (a mounted stage or image).
    pub fn rootfs(dir: &Path) -> Result<SourceTree, EngineError> {
        Ok(SourceTree { dir: dir.to_owned() })
    }

    /// Reads a file of the tree.
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>, EngineError> {
        let path = self.dir.join(path);
        std::fs::read(&path).map_err(|e| EngineError::io(&path, e))
    }
}
