//! The layer store: each layer unpacked once under `layers/<chain-id>/diff`, shared by
//! every image whose stack contains it.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::StorageError;
use crate::digest::Digest;
use crate::unpack::{Unpacked, unpack_layer};

/// What the store records beside each unpacked layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerInfo {
    /// `sha256:` of the layer's uncompressed tar.
    pub diff_id: String,
    /// Chain id of the layer beneath, if any.
    pub parent: Option<String>,
    /// Bytes of the uncompressed tar.
    pub size: u64,
}

/// The chain id of a layer: its diff id for a base layer, else
/// `sha256(parent-chain-id + " " + diff-id)` (OCI image spec, config.md).
pub fn chain_id(parent: Option<&str>, diff_id: &str) -> String {
    match parent {
        None => diff_id.to_owned(),
        Some(parent) => format!("sha256:{:x}", Sha256::digest(format!("{parent} {diff_id}").as_bytes())),
    }
}

/// The chain ids of a stack of diff ids, bottom first. Each diff id must be a
/// [`Digest`]: the first one is also the first chain id, which names a directory.
pub fn chain_ids(diff_ids: &[String]) -> Result<Vec<String>, StorageError> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        Digest::parse(diff_id)?;
        out.push(chain_id(out.last().map(String::as_str), diff_id));
    }
    Ok(out)
}

/// Unpacked layers under one directory.
#[derive(Debug, Clone)]
pub struct LayerStore {
    dir: PathBuf,
}

impl LayerStore {
    /// The store under `dir` (created if missing).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| StorageError::io(&dir, e))?;
        Ok(LayerStore { dir })
    }

    /// The directory holding layer `chain_id`'s files (an overlay lower dir).
    pub fn diff_dir(&self, chain_id: &str) -> Result<PathBuf, StorageError> {
        Ok(self.layer_dir(chain_id)?.join("diff"))
    }

    /// The directory that holds every layer.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The layer's directory, named by the checked hex of its chain id only.
    fn layer_dir(&self, chain_id: &str) -> Result<PathBuf, StorageError> {
        Ok(self.dir.join(Digest::parse(chain_id)?.hex()))
    }

    /// Whether layer `chain_id` is unpacked (never, for what is not a digest).
    pub fn exists(&self, chain_id: &str) -> bool {
        self.layer_dir(chain_id).is_ok_and(|dir| dir.join("layer.json").exists())
    }

    /// What the store knows of layer `chain_id`.
    pub fn info(&self, chain_id: &str) -> Result<LayerInfo, StorageError> {
        let path = self.layer_dir(chain_id)?.join("layer.json");
        let text = fs::read(&path).map_err(|e| StorageError::io(&path, e))?;
        serde_json::from_slice(&text).map_err(|e| StorageError::Corrupt { path, reason: e.to_string() })
    }

    /// Unpacks `tar` (compressed or not) as the layer above `parent`. The layer appears
    /// under its chain id only when complete and only if its diff id is `expected` (when
    /// given); a layer someone else finished first is kept and ours dropped.
    pub fn unpack(
        &self,
        parent: Option<&str>,
        expected_diff_id: Option<&str>,
        tar: impl Read,
    ) -> Result<(String, LayerInfo), StorageError> {
        for digest in parent.into_iter().chain(expected_diff_id) {
            Digest::parse(digest)?;
        }
        let tmp = self.dir.join(format!(".tmp-{}", crate::unique_suffix()));
        let result = self.unpack_into(&tmp, parent, expected_diff_id, tar);
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    fn unpack_into(
        &self,
        tmp: &Path,
        parent: Option<&str>,
        expected_diff_id: Option<&str>,
        tar: impl Read,
    ) -> Result<(String, LayerInfo), StorageError> {
        let diff = tmp.join("diff");
        fs::create_dir_all(&diff).map_err(|e| StorageError::io(&diff, e))?;
        let Unpacked { diff_id, size } = unpack_layer(tar, &diff)?;
        if let Some(expected) = expected_diff_id
            && expected != diff_id
        {
            return Err(StorageError::DigestMismatch {
                what: "layer diff id".into(),
                expected: expected.into(),
                actual: diff_id,
            });
        }
        let info = LayerInfo { diff_id: diff_id.clone(), parent: parent.map(str::to_owned), size };
        let meta = tmp.join("layer.json");
        fs::write(&meta, serde_json::to_vec(&info).expect("layer info serializes"))
            .map_err(|e| StorageError::io(&meta, e))?;
        let chain = chain_id(parent, &diff_id);
        let target = self.layer_dir(&chain)?;
        match fs::rename(tmp, &target) {
            Ok(()) => {}
            // Another pull finished the same layer first: theirs is as good as ours.
            Err(e) if target.join("layer.json").exists() => {
                let _ = e;
                fs::remove_dir_all(tmp).map_err(|e| StorageError::io(tmp, e))?;
            }
            Err(e) => return Err(StorageError::io(&target, e)),
        }
        Ok((chain, info))
    }

    /// Every layer the store holds, by chain id.
    pub fn list(&self) -> Result<Vec<String>, StorageError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| StorageError::io(&self.dir, e))? {
            let entry = entry.map_err(|e| StorageError::io(&self.dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let chain = format!("sha256:{name}");
            if Digest::parse(&chain).is_ok() {
                out.push(chain);
            }
        }
        Ok(out)
    }

    /// Leftovers of unpacks that a crash interrupted.
    pub fn remove_partial(&self) -> Result<(), StorageError> {
        for entry in fs::read_dir(&self.dir).map_err(|e| StorageError::io(&self.dir, e))? {
            let entry = entry.map_err(|e| StorageError::io(&self.dir, e))?;
            if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        Ok(())
    }

    /// Removes layer `chain_id`. The caller knows nothing uses it.
    pub fn remove(&self, chain_id: &str) -> Result<(), StorageError> {
        let dir = self.layer_dir(chain_id)?;
        // Renamed away first so a half-removed layer never looks whole.
        let doomed = self.dir.join(format!(".tmp-rm-{}", crate::unique_suffix()));
        match fs::rename(&dir, &doomed) {
            Ok(()) => fs::remove_dir_all(&doomed).map_err(|e| StorageError::io(&doomed, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::io(&dir, e)),
        }
    }

    /// Bytes the layer's files take on disk (apparent size of regular files).
    pub fn disk_usage(&self, chain_id: &str) -> u64 {
        self.diff_dir(chain_id).map_or(0, |dir| du(&dir))
    }
}

/// Apparent size of the regular files under `dir`.
///
/// The trees are a container's (its upper layer, its volumes): walked by descriptors,
/// each directory opened `O_NOFOLLOW` from its parent's, on `dir`'s filesystem only, so
/// a directory swapped for a symlink (to `/`, say) mid-walk is never followed.
pub fn du(dir: &Path) -> u64 {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let Ok(top) = rustix::fs::open(dir, flags, Mode::empty()) else { return 0 };
    let Ok(st) = rustix::fs::fstat(&top) else { return 0 };
    du_fd(top, st.st_dev)
}

fn du_fd(dir: std::os::fd::OwnedFd, dev: u64) -> u64 {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    let Ok(entries) = rustix::fs::Dir::read_from(&dir) else { return 0 };
    let mut total = 0;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let Ok(st) = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) else { continue };
        if st.st_dev != dev {
            continue; // another filesystem mounted here
        }
        match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => total += st.st_size.max(0) as u64,
            FileType::Directory => {
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                // Swapped for a symlink since the stat: the open fails, nothing counted.
                let Ok(sub) = rustix::fs::openat(&dir, name, flags, Mode::empty()) else { continue };
                if rustix::fs::fstat(&sub).is_ok_and(|s| s.st_dev == dev) {
                    total += du_fd(sub, dev);
                }
            }
            _ => {}
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A container swaps a directory of its tree for a symlink to a host directory, again
    /// and again, while `du` walks it: the host directory is never counted.
    #[test]
    fn du_never_follows_a_directory_swapped_for_a_symlink() {
        use rustix::fs::{CWD, RenameFlags};
        let dir = std::env::temp_dir().join(format!("du-swap-{}", crate::unique_suffix()));
        let tree = dir.join("tree");
        fs::create_dir_all(tree.join("x")).unwrap();
        fs::write(tree.join("x/f"), [0u8; 100]).unwrap();
        for i in 0..50 {
            fs::write(tree.join(format!("pad{i}")), [0u8; 1]).unwrap();
        }
        std::os::unix::fs::symlink("/usr", dir.join("link")).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let swapper = {
            let (stop, x, link) = (stop.clone(), tree.join("x"), dir.join("link"));
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    rustix::fs::renameat_with(CWD, &x, CWD, &link, RenameFlags::EXCHANGE).unwrap();
                }
            })
        };
        let most = (0..300).map(|_| du(&tree)).max().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        swapper.join().unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert!(most <= 150, "du counted {most} bytes: it followed the symlink");
    }

    #[test]
    fn du_counts_regular_files_below() {
        let dir = std::env::temp_dir().join(format!("du-count-{}", crate::unique_suffix()));
        fs::create_dir_all(dir.join("a/b")).unwrap();
        fs::write(dir.join("a/b/f"), [0u8; 7]).unwrap();
        fs::write(dir.join("g"), [0u8; 5]).unwrap();
        std::os::unix::fs::symlink("/usr", dir.join("a/usr")).unwrap();
        let n = du(&dir);
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(n, 12);
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let chain = chain_ids(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(chain[0], a);
        assert_eq!(chain[1], format!("sha256:{:x}", Sha256::digest(format!("{a} {b}").as_bytes())));
        assert!(chain_ids(&["sha256:/etc".into()]).is_err());
        assert!(chain_ids(&[a, "sha256:../x".into()]).is_err());
    }
}
