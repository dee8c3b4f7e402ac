//! Volumes as Docker describes them (`volume inspect`, `GET /volumes`), and the typed
//! `volume create`, `rm` and `prune` both front ends call: what containers use is read
//! from their records here.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::options::MountSpec;
use crate::volumes::VolumeInfo;
use crate::{Engine, EngineError};

/// One volume (Docker's `Volume`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeResource {
    /// The name.
    pub name: String,
    /// Always `local`.
    pub driver: String,
    /// The directory on the host.
    pub mountpoint: String,
    /// RFC 3339.
    pub created_at: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Always `local`.
    pub scope: String,
    /// The local driver's options.
    pub options: BTreeMap<String, String>,
    /// Size and users, for `system df` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<UsageData>,
}

/// Docker's `UsageData`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UsageData {
    /// Bytes.
    pub size: i64,
    /// How many containers mount it.
    pub ref_count: i64,
}

/// What `volume prune` removed (Docker's `VolumePruneResponse`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumePruneReport {
    /// The names.
    pub volumes_deleted: Vec<String>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}

/// `volume ls` filters.
#[derive(Debug, Clone, Default)]
pub struct VolumeFilters {
    /// `name=` (substring).
    pub name: Vec<String>,
    /// `label=k` or `label=k=v` (all must match).
    pub label: Vec<String>,
    /// `dangling=true|false`: used by no container, or by some.
    pub dangling: Option<bool>,
    /// `driver=`.
    pub driver: Vec<String>,
}

impl VolumeFilters {
    /// Parses Docker's filter map; an unknown key or a bad `dangling` is an error.
    pub fn from_map(map: &BTreeMap<String, Vec<String>>) -> Result<VolumeFilters, EngineError> {
        let mut f = VolumeFilters::default();
        for (key, values) in map {
            match key.as_str() {
                "name" => f.name.extend(values.iter().cloned()),
                "label" => f.label.extend(values.iter().cloned()),
                "driver" => f.driver.extend(values.iter().cloned()),
                "dangling" => {
                    for v in values {
                        f.dangling = Some(match v.as_str() {
                            "true" | "1" => true,
                            "false" | "0" => false,
                            _ => return Err(bad("dangling", v, "expected true or false")),
                        });
                    }
                }
                "all" => {}
                other => return Err(bad("filters", other, "invalid filter")),
            }
        }
        Ok(f)
    }
}

fn bad(option: &str, value: &str, reason: &str) -> EngineError {
    EngineError::BadOption { option: option.into(), value: value.into(), reason: reason.into() }
}

/// Docker's description of `info`.
pub fn describe(info: &VolumeInfo) -> VolumeResource {
    VolumeResource {
        name: info.name.clone(),
        driver: info.driver.clone(),
        mountpoint: info.mountpoint.display().to_string(),
        created_at: info.created_at.clone(),
        labels: info.labels.clone(),
        scope: "local".into(),
        options: info.options.clone(),
        usage_data: None,
    }
}

impl Engine {
    /// Names of volumes some container mounts, with the container's id.
    pub fn volume_users(&self) -> Result<Vec<(String, String)>, EngineError> {
        let mut out = Vec::new();
        for record in self.records.all()? {
            for m in &record.mounts {
                if let MountSpec::Volume { name, .. } = m {
                    out.push((name.clone(), record.id.clone()));
                }
            }
        }
        Ok(out)
    }

    /// Every volume that passes `filters`, by name.
    pub fn volume_list(&self, filters: &VolumeFilters) -> Result<Vec<VolumeResource>, EngineError> {
        let users = if filters.dangling.is_some() { self.volume_users()? } else { Vec::new() };
        Ok(self
            .volumes
            .list()?
            .iter()
            .filter(|v| filters.name.is_empty() || filters.name.iter().any(|n| v.name.contains(n.as_str())))
            .filter(|v| filters.driver.is_empty() || filters.driver.contains(&v.driver))
            .filter(|v| {
                filters.label.iter().all(|l| match l.split_once('=') {
                    Some((k, want)) => v.labels.get(k).is_some_and(|have| have == want),
                    None => v.labels.contains_key(l),
                })
            })
            .filter(|v| filters.dangling.is_none_or(|d| d != users.iter().any(|(n, _)| *n == v.name)))
            .map(describe)
            .collect())
    }

    /// The volume `name`.
    pub fn volume_inspect(&self, name: &str) -> Result<VolumeResource, EngineError> {
        Ok(describe(&self.volumes.inspect(name)?))
    }

    /// Creates volume `name` (a new id when `None`) unless it exists (then returns it, as
    /// Docker does); only the `local` driver exists.
    pub fn volume_create(
        &self,
        name: Option<&str>,
        driver: Option<&str>,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<VolumeResource, EngineError> {
        if let Some(driver) = driver.filter(|d| !d.is_empty() && *d != "local") {
            return Err(bad("driver", driver, "only the local driver exists"));
        }
        let name = name.filter(|n| !n.is_empty()).map_or_else(crate::ids::new_id, str::to_owned);
        Ok(describe(&self.volumes.create_with_options(&name, labels, false, options)?))
    }

    /// Removes volume `name`; one a container uses is a [`EngineError::State`] (409) (with
    /// or without `force`, as Docker).
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<(), EngineError> {
        let _ = force;
        self.volumes.inspect(name)?;
        if let Some((_, id)) = self.volume_users()?.iter().find(|(v, _)| v == name) {
            return Err(EngineError::State(format!("remove {name}: volume is in use - [{id}]")));
        }
        self.volumes.remove(name)
    }

    /// Removes the anonymous volumes no container uses (with `all`, named ones too) that
    /// pass `filters`.
    pub fn volume_prune(&self, all: bool, filters: &VolumeFilters) -> Result<VolumePruneReport, EngineError> {
        let users = self.volume_users()?;
        let candidates = self.volume_list(filters)?;
        let mut report = VolumePruneReport { volumes_deleted: Vec::new(), space_reclaimed: 0 };
        for v in self.volumes.list()? {
            if !candidates.iter().any(|c| c.name == v.name) {
                continue;
            }
            if (v.anonymous || all) && !users.iter().any(|(n, _)| *n == v.name) {
                report.space_reclaimed += lindocker_storage::layers::du(&v.mountpoint);
                self.volumes.remove(&v.name)?;
                report.volumes_deleted.push(v.name);
            }
        }
        Ok(report)
    }
}
