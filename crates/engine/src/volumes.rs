//! Named volumes: `volumes/<name>/_data` under the data root, with `volume.json` beside
//! it. A volume is created on first use and, while still empty, filled with what the
//! image has at the mount point (as Docker does).

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::EngineError;

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
}

impl Volumes {
    /// The volumes under `root/volumes`.
    pub fn open(root: &Path) -> Result<Volumes, EngineError> {
        let dir = root.join("volumes");
        fs::create_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
        Ok(Volumes { dir })
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
            Ok(()) => Ok(info),
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
        fs::remove_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))
    }

    /// Copies what the image has at `target` (a path in the container's root
    /// filesystem, mounted at `rootfs`) into the volume, if the volume is still empty.
    /// `target` is resolved inside that root: a symlink there cannot point the copy at a
    /// host directory.
    pub fn fill_from(&self, name: &str, rootfs: &Path, target: &str) -> Result<(), EngineError> {
        use lindocker_storage::inroot::open_in_root;
        use rustix::fs::{FileType, Mode, OFlags};
        let data = self.data_dir(name);
        let empty = fs::read_dir(&data).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !empty {
            return Ok(());
        }
        let root = rustix::fs::open(rootfs, OFlags::DIRECTORY | OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| EngineError::io(rootfs, e.into()))?;
        let source = match open_in_root(&root, Path::new(target), OFlags::DIRECTORY | OFlags::RDONLY) {
            Ok(fd) => fd,
            // Nothing (or no directory) there in the image: the volume starts empty.
            Err(_) => return Ok(()),
        };
        let meta = rustix::fs::fstat(&source).map_err(|e| EngineError::io(Path::new(target), e.into()))?;
        debug_assert_eq!(FileType::from_raw_mode(meta.st_mode), FileType::Directory);
        let (reader, writer) = std::io::pipe().map_err(|e| EngineError::io(&data, e))?;
        let packer = std::thread::spawn(move || {
            lindocker_storage::pack::pack_fd(source, lindocker_storage::pack::Source::Plain, &[], writer)
        });
        let unpacked = lindocker_storage::unpack::unpack_layer(reader, &data);
        let packed = packer
            .join()
            .map_err(|_| EngineError::Invalid("copying the image's content into a volume failed".into()))?;
        packed.map_err(|e| EngineError::io(Path::new(target), e))?;
        unpacked?;
        // The volume's root takes the owner and mode of the image's directory.
        let _ = rustix::fs::chown(
            &data,
            Some(rustix::fs::Uid::from_raw(meta.st_uid)),
            Some(rustix::fs::Gid::from_raw(meta.st_gid)),
        );
        let _ = rustix::fs::chmod(&data, Mode::from_raw_mode(meta.st_mode & 0o7777));
        Ok(())
    }
}
