//! `system df` (`GET /system/df`): what images, containers and volumes take on disk, and
//! what of it nothing uses.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::images::ImageSummary;
use crate::options::MountSpec;
use crate::record::Record;
use crate::volume_ops::{UsageData, VolumeResource};
use crate::{Engine, EngineError};

/// Docker's `SystemDataUsageResponse`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiskUsage {
    /// Bytes the unpacked layers take.
    pub layers_size: u64,
    /// Every image.
    pub images: Vec<ImageSummary>,
    /// Every container.
    pub containers: Vec<ContainerUsage>,
    /// Every volume, with its size and users.
    pub volumes: Vec<VolumeResource>,
    /// Always empty (no builder).
    pub build_cache: Vec<serde_json::Value>,
    /// Bytes of layers no container's image needs (the CLI's RECLAIMABLE).
    #[serde(skip)]
    pub layers_reclaimable: u64,
}

/// One container's disk use (the fields of Docker's `ContainerSummary` that `system df`
/// reads).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerUsage {
    /// 64 hex.
    pub id: String,
    /// `/name`.
    pub names: Vec<String>,
    /// The image as named at create.
    pub image: String,
    /// The image's id.
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// The command line.
    pub command: String,
    /// Unix seconds.
    pub created: i64,
    /// `running`, `exited`, ...
    pub state: String,
    /// Bytes written to its own layer.
    pub size_rw: u64,
    /// Whether it runs (counted as active).
    #[serde(skip)]
    pub live: bool,
}

impl Engine {
    /// What everything takes on disk.
    pub fn disk_usage(&self) -> Result<DiskUsage, EngineError> {
        let records = self.records.all()?;
        let images = self.image_ops().summaries(true, None, &Default::default())?;
        let stored = self.images.images()?;
        let used: Vec<&str> = records.iter().map(|r| r.image.as_str()).collect();
        let layers = self.images.layers();
        let layers_size: u64 = layers.list()?.iter().map(|c| layers.disk_usage(c)).sum();
        let kept: BTreeSet<&String> =
            stored.iter().filter(|i| used.contains(&i.id.as_str())).flat_map(|i| &i.layers).collect();
        let kept_bytes: u64 = kept.iter().map(|c| layers.disk_usage(c)).sum();
        let size_rw = |r: &Record| lindocker_storage::layers::du(&self.records.dir(&r.id).join("upper"));
        let containers = records
            .iter()
            .map(|r| ContainerUsage {
                id: r.id.clone(),
                names: vec![format!("/{}", r.name)],
                image: r.image_name.clone(),
                image_id: r.image.clone(),
                command: r.config.args.join(" "),
                created: crate::images::unix_seconds(Some(&r.created)),
                state: serde_json::to_value(r.state.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                size_rw: size_rw(r),
                live: r.state.status.is_live(),
            })
            .collect();
        let volumes = self
            .volumes
            .list()?
            .iter()
            .map(|v| {
                let refs = records
                    .iter()
                    .filter(|r| r.mounts.iter().any(|m| matches!(m, MountSpec::Volume { name, .. } if *name == v.name)))
                    .count();
                let mut resource = crate::volume_ops::describe(v);
                resource.usage_data = Some(UsageData {
                    size: i64::try_from(lindocker_storage::layers::du(&v.mountpoint)).unwrap_or(i64::MAX),
                    ref_count: refs as i64,
                });
                resource
            })
            .collect();
        Ok(DiskUsage {
            layers_size,
            images,
            containers,
            volumes,
            build_cache: Vec::new(),
            layers_reclaimable: layers_size.saturating_sub(kept_bytes),
        })
    }
}
