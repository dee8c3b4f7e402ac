//! Advisory file locks (flock) that guard the store's index and its garbage collection.

use std::path::Path;

use lindocker_sys::lock::FileLock;

use crate::ImageError;

/// A held flock; released when dropped.
#[derive(Debug)]
pub struct Lock {
    _lock: FileLock,
}

impl Lock {
    /// Waits for the exclusive lock on `path`.
    pub fn exclusive(path: &Path) -> Result<Lock, ImageError> {
        FileLock::exclusive(path).map(|l| Lock { _lock: l }).map_err(|e| ImageError::io(path, e))
    }

    /// Waits for a shared lock on `path`.
    pub fn shared(path: &Path) -> Result<Lock, ImageError> {
        FileLock::shared(path).map(|l| Lock { _lock: l }).map_err(|e| ImageError::io(path, e))
    }
}
