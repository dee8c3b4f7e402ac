//! Advisory file locks (flock) that guard the store's index and its garbage collection.

use std::fs::{File, OpenOptions};
use std::path::Path;

use rustix::fs::{FlockOperation, flock};

use crate::ImageError;

/// A held flock; released when dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Waits for the exclusive lock on `path`.
    pub fn exclusive(path: &Path) -> Result<Lock, ImageError> {
        Self::take(path, FlockOperation::LockExclusive)
    }

    /// Waits for a shared lock on `path`.
    pub fn shared(path: &Path) -> Result<Lock, ImageError> {
        Self::take(path, FlockOperation::LockShared)
    }

    fn take(path: &Path, op: FlockOperation) -> Result<Lock, ImageError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| ImageError::io(path, e))?;
        flock(&file, op).map_err(|e| ImageError::io(path, e.into()))?;
        Ok(Lock { _file: file })
    }
}
