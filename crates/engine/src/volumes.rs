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
    /// The local driver's options (`--mount volume-opt=`): `type`, `device`, `o`; see
    /// [`LocalMount`].
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub options: std::collections::BTreeMap<String, String>,
}

/// What a volume with local-driver options mounts instead of its `_data` directory:
/// `type=none,o=bind,device=/host/dir` (a host directory) or `type=tmpfs,device=tmpfs,
/// o=size=..` (a tmpfs; each container gets its own instance, where Docker's driver
/// shares one among the containers using it at the same time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalMount {
    /// Bind the host directory.
    Bind(PathBuf),
    /// Mount a tmpfs with these options.
    Tmpfs(Vec<String>),
}

/// Checks local-driver options as Docker's local driver takes them (keys `type`,
/// `device`, `o`); `None` for no options. Only bind and tmpfs mounts are built.
pub fn local_mount(options: &std::collections::BTreeMap<String, String>) -> Result<Option<LocalMount>, EngineError> {
    if options.is_empty() {
        return Ok(None);
    }
    let bad = |reason: String| EngineError::BadOption {
        option: "volume-opt".into(),
        value: options.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        reason,
    };
    if let Some(key) = options.keys().find(|k| !matches!(k.as_str(), "type" | "device" | "o")) {
        return Err(bad(format!("invalid option key: {key:?}")));
    }
    let typ = options.get("type").map(String::as_str).unwrap_or_default();
    let device = options.get("device").map(String::as_str).unwrap_or_default();
    let o: Vec<&str> = options.get("o").map(|o| o.split(',').filter(|x| !x.is_empty()).collect()).unwrap_or_default();
    match typ {
        "none" | "" if o.iter().any(|x| *x == "bind" || *x == "rbind") => {
            if !device.starts_with('/') || device.contains('\0') {
                return Err(bad("a bind needs an absolute device path".into()));
            }
            if let Some(other) = o.iter().find(|x| !matches!(**x, "bind" | "rbind")) {
                return Err(bad(format!("option {other:?} is not supported with o=bind")));
            }
            Ok(Some(LocalMount::Bind(device.into())))
        }
        "tmpfs" => {
            for x in &o {
                let key = x.split_once('=').map_or(*x, |(k, _)| k);
                if !matches!(key, "size" | "mode" | "uid" | "gid" | "nr_inodes" | "nr_blocks") {
                    return Err(bad(format!("tmpfs option {x:?} is not supported")));
                }
            }
            Ok(Some(LocalMount::Tmpfs(o.iter().map(|x| (*x).to_owned()).collect())))
        }
        _ => Err(bad("only type=none with o=bind, and type=tmpfs, are supported".into())),
    }
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
        self.create_with_options(name, labels, anonymous, Default::default())
    }

    /// Like [`Volumes::create`], with local-driver options (checked by [`local_mount`])
    /// for a volume this makes; an existing volume keeps its own.
    pub fn create_with_options(
        &self,
        name: &str,
        labels: std::collections::BTreeMap<String, String>,
        anonymous: bool,
        options: std::collections::BTreeMap<String, String>,
    ) -> Result<VolumeInfo, EngineError> {
        check_name(name)?;
        local_mount(&options)?;
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
            options,
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
        // A name is a file name here: `../x` (an API client's) must not reach past the
        // volumes (and `remove` after this deletes what it names).
        if !crate::ids::valid_name(name) {
            return Err(EngineError::NoSuchVolume(name.into()));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn local_driver_options() {
        assert_eq!(local_mount(&BTreeMap::new()).unwrap(), None);
        assert_eq!(
            local_mount(&opts(&[("type", "none"), ("o", "bind"), ("device", "/srv/x")])).unwrap(),
            Some(LocalMount::Bind("/srv/x".into()))
        );
        assert_eq!(
            local_mount(&opts(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m,mode=700")])).unwrap(),
            Some(LocalMount::Tmpfs(vec!["size=1m".into(), "mode=700".into()]))
        );
        for bad in [
            opts(&[("type", "nfs"), ("device", ":/x")]),
            opts(&[("type", "none"), ("o", "bind"), ("device", "rel")]),
            opts(&[("type", "none"), ("o", "bind,exec"), ("device", "/x")]),
            opts(&[("type", "tmpfs"), ("o", "size=1m,exec")]),
            opts(&[("foo", "bar")]),
        ] {
            assert!(local_mount(&bad).is_err(), "{bad:?}");
        }
    }
}
