//! Named volumes: `volumes/<name>/_data` under the data root, with `volume.json` beside
//! it. A volume is created on first use and, while still empty, filled with what the
//! image has at the mount point (as Docker does).

use std::fs;
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;
use serde::{Deserialize, Serialize};

use crate::EngineError;
use crate::events::{Event, EventType};

/// What `volume inspect` shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeInfo {
    /// The name.
    pub name: String,
    /// Always `local`.
    pub driver: String,
    /// The directory containers see.
    pub mountpoint: PathBuf,
    /// RFC 3339.
    pub created_at: String,
    /// `--label`s.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Made for one container's `-v /path` or an image's VOLUME.
    #[serde(default)]
    pub anonymous: bool,
}

/// Checks a volume name (Docker: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
pub fn check_name(name: &str) -> Result<(), EngineError> {
    if crate::ids::valid_name(name) {
        Ok(())
    } else {
        Err(EngineError::BadOption {
            option: "volume name".into(),
            value: name.into(),
            reason: "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least two characters".into(),
        })
    }
}

/// The volumes under `<root>/volumes`.
#[derive(Debug, Clone)]
pub struct Volumes {
    dir: PathBuf,
    events: crate::events::Journal,
}

impl Volumes {
    /// The volumes under `root/volumes`.
    pub fn open(root: &Path) -> Result<Volumes, EngineError> {
        let dir = root.join("volumes");
        fs::create_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
        Ok(Volumes { dir, events: crate::events::Journal::open(root) })
    }

    /// The directory mounted into containers.
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("_data")
    }

    /// Creates volume `name` unless it exists; returns its description.
    pub fn create(
        &self,
        name: &str,
        labels: std::collections::BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<VolumeInfo, EngineError> {
        check_name(name)?;
        if let Ok(info) = self.inspect(name) {
            return Ok(info);
        }
        let dir = self.dir.join(name);
        let tmp = self.dir.join(format!(".tmp-{name}-{}", lindocker_storage::unique_suffix()));
        fs::create_dir_all(tmp.join("_data")).map_err(|e| EngineError::io(&tmp, e))?;
        let info = VolumeInfo {
            name: name.into(),
            driver: "local".into(),
            mountpoint: dir.join("_data"),
            created_at: crate::now(),
            labels,
            anonymous,
        };
        fs::write(tmp.join("volume.json"), serde_json::to_vec_pretty(&info).expect("serializes"))
            .map_err(|e| EngineError::io(&tmp, e))?;
        match fs::rename(&tmp, &dir) {
            Ok(()) => {
                self.events.emit(Event::with(EventType::Volume, "create", name, &[("driver", "local")]));
                Ok(info)
            }
            Err(_) if dir.join("volume.json").exists() => {
                let _ = fs::remove_dir_all(&tmp);
                self.inspect(name)
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                Err(EngineError::io(&dir, e))
            }
        }
    }

    /// Describes volume `name`.
    pub fn inspect(&self, name: &str) -> Result<VolumeInfo, EngineError> {
        let path = self.dir.join(name).join("volume.json");
        let bytes = fs::read(&path).map_err(|_| EngineError::NoSuchVolume(name.into()))?;
        serde_json::from_slice(&bytes).map_err(|e| EngineError::Corrupt { path, reason: e.to_string() })
    }

    /// Every volume.
    pub fn list(&self) -> Result<Vec<VolumeInfo>, EngineError> {
        let mut out: Vec<VolumeInfo> = fs::read_dir(&self.dir)
            .map_err(|e| EngineError::io(&self.dir, e))?
            .flatten()
            .filter_map(|e| self.inspect(&e.file_name().to_string_lossy()).ok())
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Removes volume `name` (the caller checked no container uses it).
    pub fn remove(&self, name: &str) -> Result<(), EngineError> {
        self.inspect(name)?;
        let dir = self.dir.join(name);
        fs::remove_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
        self.events.emit(Event::with(EventType::Volume, "destroy", name, &[("driver", "local")]));
        Ok(())
    }

    /// Copies what the image has at `target` (a path inside the mounted root filesystem
    /// `rootfs`) into the volume, if the volume is still empty.
    pub fn fill_from(&self, name: &str, rootfs: &Path, target: &str) -> Result<(), EngineError> {
        let data = self.data_dir(name);
        let empty = fs::read_dir(&data).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !empty {
            return Ok(());
        }
        // The image's directory, found inside its root: a symlink there to a host path
        // resolves in the image, never to the host's files.
        let root = crate::inroot::open_dir(rootfs).map_err(|e| EngineError::io(rootfs, e))?;
        let source = match crate::inroot::open(&root, Path::new(target), OFlags::PATH | OFlags::DIRECTORY) {
            Ok(fd) => fd,
            Err(_) => return Ok(()), // nothing there (or not a directory): nothing to copy
        };
        crate::copy::copy_contents(&source, &data).map_err(|e| EngineError::Invalid(e.to_string()))?;
        Ok(())
    }
}
