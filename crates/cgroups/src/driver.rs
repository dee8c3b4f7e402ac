//! Who makes and removes a container's cgroup: the runtime itself through the cgroup file
//! system (the default), or systemd (`--systemd-cgroup`). Both end with a [`Manager`]
//! over the same directories, which everything else (limits, freeze, stats) uses.

use std::path::PathBuf;

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::systemd::{self, Unit};
use crate::{Entry, Error, Manager, Result};

/// The unit name prefix of a container without a cgroupsPath (runc's is `runc`).
pub const DEFAULT_PREFIX: &str = "lindocker";

/// A container's cgroup driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Driver {
    /// The runtime makes the directories itself.
    Cgroupfs,
    /// systemd makes a transient unit.
    Systemd(Unit),
}

impl Driver {
    /// The driver and cgroup path for `cgroups_path` (the spec's `linux.cgroupsPath`),
    /// with `--systemd-cgroup` or without. Checked here, before anything exists: a
    /// systemd path needs the flag (and the flag a running systemd), a bad slice or unit
    /// name is refused.
    pub fn for_container(cgroups_path: Option<&str>, id: &str, systemd: bool) -> Result<(Driver, PathBuf)> {
        let path = cgroups_path.unwrap_or("");
        if systemd {
            if !systemd::is_running() {
                return Err(Error::Systemd(
                    "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); \
                     use the cgroupfs driver (leave out --systemd-cgroup)"
                        .into(),
                ));
            }
            let unit = Unit::parse(path, DEFAULT_PREFIX, id)?;
            let dir = unit.path.clone();
            return Ok((Driver::Systemd(unit), dir));
        }
        if looks_like_systemd(path) {
            return Err(Error::BadSystemdPath {
                path: path.to_string(),
                reason: "this is systemd's slice:prefix:name form, which needs --systemd-cgroup".into(),
            });
        }
        let dir = if path.is_empty() { PathBuf::from(format!("/lindocker/{id}")) } else { PathBuf::from(path) };
        Ok((Driver::Cgroupfs, dir))
    }

    /// Before the container's process exists: the cgroupfs driver makes the cgroup with
    /// its limits, and returns the way in for the process to be cloned into. systemd
    /// needs the process first (see [`Driver::adopt`]): `None`.
    pub fn prepare(&self, cgroup: &Manager, resources: Option<&LinuxResources>) -> Result<Option<Entry>> {
        match self {
            Driver::Cgroupfs => {
                cgroup.create()?;
                if let Some(r) = resources {
                    cgroup.apply(r)?;
                }
                Ok(Some(Entry::open(cgroup)?))
            }
            Driver::Systemd(_) => Ok(None),
        }
    }

    /// Once the process `pid` exists (and waits): systemd makes the unit with it inside,
    /// then the limits are set. Nothing to do for the cgroupfs driver. After an error
    /// nothing of the unit is left, and [`Driver::remove`] must not be called: the unit
    /// of that name may be another's that was there before.
    pub fn adopt(&self, cgroup: &Manager, pid: i32, resources: Option<&LinuxResources>) -> Result<()> {
        match self {
            Driver::Cgroupfs => Ok(()),
            Driver::Systemd(unit) => unit.start(cgroup, pid, resources),
        }
    }

    /// Changes the limits of a live container.
    pub fn update(&self, cgroup: &Manager, resources: &LinuxResources) -> Result<()> {
        match self {
            Driver::Cgroupfs => cgroup.apply(resources),
            Driver::Systemd(unit) => unit.update(cgroup, resources),
        }
    }

    /// Removes the cgroup (its processes must be gone): the directories, or the unit.
    pub fn remove(&self, cgroup: &Manager) -> Result<()> {
        match self {
            Driver::Cgroupfs => cgroup.destroy(),
            Driver::Systemd(unit) => unit.stop(cgroup),
        }
    }
}

/// `slice:prefix:name`: three parts, no `/` (a cgroupfs path always has one).
fn looks_like_systemd(path: &str) -> bool {
    path.split(':').count() == 3 && !path.contains('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroupfs_paths_and_the_default() {
        let (d, p) = Driver::for_container(Some("/a/b"), "id", false).unwrap();
        assert_eq!((d, p), (Driver::Cgroupfs, PathBuf::from("/a/b")));
        let (_, p) = Driver::for_container(None, "id", false).unwrap();
        assert_eq!(p, PathBuf::from("/lindocker/id"));
    }

    #[test]
    fn a_systemd_path_without_the_flag_is_refused() {
        let e = Driver::for_container(Some("system.slice:docker:abc"), "id", false).unwrap_err().to_string();
        assert!(e.contains("--systemd-cgroup") && e.contains("system.slice:docker:abc"), "{e}");
        // A cgroupfs path may hold colons.
        assert!(Driver::for_container(Some("/a:b:c"), "id", false).is_ok());
    }

    #[test]
    fn the_flag_without_systemd_is_refused() {
        if systemd::is_running() {
            return;
        }
        let e = Driver::for_container(Some("system.slice:docker:abc"), "id", true).unwrap_err().to_string();
        assert!(e.contains("systemd is not running"), "{e}");
    }
}
