//! A step's root file system without a process: the parent's layers under an empty
//! upper directory (COPY/ADD write there, and it becomes the step's layer), or a
//! read-only view of a stage or image (`COPY --from`, `RUN --mount=from=`).

use std::io;
use std::path::{Path, PathBuf};

use lindocker_image::Store;
use lindocker_image::archive;
use lindocker_storage::overlay::{self, Overlay};
use lindocker_storage::pack::{Source, pack_dir};

use super::cache::BuiltLayer;
use crate::EngineError;

/// A mounted root under a scratch directory of the store; unmounted and removed when
/// dropped, whatever happened.
#[derive(Debug)]
pub struct StepRoot {
    dir: PathBuf,
}

impl StepRoot {
    /// Mounts `layers` (chain ids, bottom first) at a new scratch directory, with an
    /// empty upper directory when `writable`.
    pub fn mount(store: &Store, layers: &[String], writable: bool) -> Result<StepRoot, EngineError> {
        let dir = store.scratch_dir()?;
        let root = StepRoot { dir };
        for sub in ["empty", "upper", "work", "merged"] {
            let path = root.dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|e| EngineError::io(&path, e))?;
        }
        let mut lower = Vec::new();
        for chain in layers.iter().rev() {
            lower.push(store.layers().diff_dir(chain)?);
        }
        // A read-only overlay needs two lower layers; an empty one at the bottom costs
        // nothing and serves `scratch` too.
        lower.push(root.dir.join("empty"));
        let upper = writable.then(|| (root.dir.join("upper"), root.dir.join("work")));
        Overlay { lower, upper, volatile: true }.mount(&root.path())?;
        Ok(root)
    }

    /// Where the root is mounted.
    pub fn path(&self) -> PathBuf {
        self.dir.join("merged")
    }

    /// Unmounts the root and stores what was written in it as a layer above `parent`
    /// (a chain id); None if nothing was.
    pub fn commit(self, store: &Store, parent: Option<&str>) -> Result<Option<BuiltLayer>, EngineError> {
        overlay::unmount(&self.path())?;
        commit_upper(store, &self.dir.join("upper"), parent, &[])
    }
}

impl Drop for StepRoot {
    fn drop(&mut self) {
        let merged = self.path();
        let _ = overlay::unmount(&merged);
        // Never across a live mount.
        if !overlay::is_mounted(&merged) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Stores the overlay upper directory `upper` as a layer above `parent`, leaving out
/// `exclude` (relative paths); None if it holds nothing.
pub fn commit_upper(
    store: &Store,
    upper: &Path,
    parent: Option<&str>,
    exclude: &[&Path],
) -> Result<Option<BuiltLayer>, EngineError> {
    let empty = std::fs::read_dir(upper)
        .map_err(|e| EngineError::io(upper, e))?
        .flatten()
        .all(|entry| exclude.iter().any(|x| Path::new(&entry.file_name()) == *x));
    if empty {
        return Ok(None);
    }
    let (reader, writer) = io::pipe().map_err(|e| EngineError::io(Path::new("a pipe"), e))?;
    let upper_owned = upper.to_owned();
    let exclude_owned: Vec<PathBuf> = exclude.iter().map(|p| p.to_path_buf()).collect();
    let packer = std::thread::spawn(move || {
        let exclude: Vec<&Path> = exclude_owned.iter().map(PathBuf::as_path).collect();
        pack_dir(&upper_owned, Source::OverlayUpper, &exclude, writer)
    });
    let layer = archive::store_layer(store, parent, None, reader);
    let packed = packer.join().map_err(|_| EngineError::Invalid("packing the layer failed".into()))?;
    packed.map_err(|e| EngineError::io(upper, e))?;
    let layer = layer?;
    Ok(Some(BuiltLayer {
        digest: layer.digest,
        size: layer.blob_size,
        media_type: layer.media_type,
        diff_id: layer.diff_id,
        chain_id: layer.chain_id,
        unpacked: layer.size,
    }))
}
