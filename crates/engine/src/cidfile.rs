//! `--cidfile FILE`: the new container's id written to a host file the user names, as
//! Docker does: refused if the file exists (claimed with `O_EXCL` before the container
//! is made), the id put in whole (a temporary file renamed over the claim), and the
//! claim removed if the container could not be made.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::EngineError;

/// A claimed cidfile; removed when dropped unless [`CidFile::write`] filled it.
#[derive(Debug)]
pub struct CidFile {
    path: PathBuf,
    written: bool,
}

impl CidFile {
    /// Claims `path`: it must not exist.
    pub fn claim(path: &Path) -> Result<CidFile, EngineError> {
        match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(_) => Ok(CidFile { path: path.to_owned(), written: false }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(EngineError::Invalid(format!(
                "Container ID file found, make sure the other container isn't running or delete {}",
                path.display()
            ))),
            Err(e) => Err(EngineError::Invalid(format!("failed to create the container ID file: {e}"))),
        }
    }

    /// Writes `id` (without a newline, as Docker) atomically into the claimed file.
    pub fn write(mut self, id: &str) -> Result<(), EngineError> {
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = self.path.with_file_name(format!(".{name}.{}", lindocker_storage::unique_suffix()));
        let result = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            file.write_all(id.as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, &self.path)
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(EngineError::Invalid(format!("failed to write the container ID file: {e}")));
        }
        self.written = true;
        Ok(())
    }
}

impl Drop for CidFile {
    fn drop(&mut self) {
        if !self.written {
            let _ = fs::remove_file(&self.path);
        }
    }
}
