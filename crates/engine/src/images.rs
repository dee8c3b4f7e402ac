//! Image operations as typed requests and results, for the CLI and the API server alike:
//! list summaries, inspect, history, pull (with typed progress), tag, remove, prune, save
//! and load. Each journals its Docker event. Which images and layers containers still use
//! is read from their records here, so no front end reads a record itself.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use lindocker_image::archive::{self, Loaded};
use lindocker_image::progress::Progress;
use lindocker_image::push::{self, PushOptions, Pushed};
use lindocker_image::registry::{self, PullOptions};
use lindocker_image::{ImageError, ImageRecord, Store, reference};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::EngineError;
use crate::events::{Event, EventType, Journal};
use crate::image_filter::ImageFilter;
use crate::record::{ImagesInUse, Records};

/// The image side of a data root: the store, the journal, and the container records
/// that pin images. Cheap to open (no networks, no runtime).
#[derive(Debug, Clone)]
pub struct Images {
    store: Store,
    journal: Journal,
    records: Records,
}

/// One image of `GET /images/json` (Docker's `ImageSummary`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    /// `sha256:<64 hex>`.
    pub id: String,
    /// Always empty: images here have no parent image.
    pub parent_id: String,
    /// Familiar names (`busybox:latest`).
    pub repo_tags: Vec<String>,
    /// `repo@sha256:...` it was pulled by.
    pub repo_digests: Vec<String>,
    /// Unix seconds (0 when the image does not say).
    pub created: i64,
    /// Bytes of its layers, uncompressed.
    pub size: u64,
    /// As `size` (Docker's older field).
    pub virtual_size: u64,
    /// -1: not computed, as Docker without `shared-size`.
    pub shared_size: i64,
    /// The config's labels.
    pub labels: BTreeMap<String, String>,
    /// How many containers use it.
    pub containers: i64,
}

/// One step of `GET /images/{name}/history` (Docker's `HistoryResponseItem`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryItem {
    /// The image id for the newest step, `<missing>` for the others.
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// The step's command.
    pub created_by: String,
    /// The names of the image, on the newest step.
    pub tags: Vec<String>,
    /// Bytes of the layer it made.
    pub size: u64,
    /// The step's comment.
    pub comment: String,
}

/// One entry of what removing images did (Docker's `ImageDeleteResponseItem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageDeleteItem {
    /// A name that no longer points at the image.
    Untagged(String),
    /// An image id that is gone.
    Deleted(String),
}

/// What `image prune` removed (Docker's `ImagePruneResponse`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImagePruneReport {
    /// Names untagged and images deleted.
    pub images_deleted: Vec<ImageDeleteItem>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}

/// `sha256:` and the first 12 hex digits, as Docker's messages name an image.
pub fn short_id(id: &str) -> &str {
    let hex = id.trim_start_matches("sha256:");
    &hex[..12.min(hex.len())]
}

/// An RFC 3339 time as unix seconds (0 if it does not parse).
pub fn unix_seconds(time: Option<&str>) -> i64 {
    let Some(time) = time else { return 0 };
    crate::events::parse_time(time, std::time::SystemTime::now()).map_or(0, |n| n.div_euclid(1_000_000_000))
}

impl Images {
    /// The images under data root `root` (the containers' state under `state`).
    pub fn open(root: &Path, state: &Path) -> Result<Images, EngineError> {
        Ok(Images { store: Store::open(root)?, journal: Journal::open(root), records: Records::open(root, state)? })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Journals an image event as Docker does: `id` the image's id (or, for `pull`, the
    /// reference), `name` its attribute.
    pub fn event(&self, action: &str, id: &str, name: &str) {
        self.journal.emit(Event::with(EventType::Image, action, id, &[("name", name)]));
    }

    /// What containers use (see [`Records::images_in_use`]). Take [`Store::gc_lock`]
    /// first when removing on its basis.
    fn in_use(&self) -> ImagesInUse {
        self.records.images_in_use()
    }

    /// Images as `GET /images/json` lists them, newest first: with `all`, the untagged
    /// ones too. `reference` keeps those with a name of that repository (`busybox`) or
    /// that name (`busybox:1`) (`images REPO[:TAG]`); `filters` are Docker's `--filter`s.
    pub fn summaries(
        &self,
        all: bool,
        reference_filter: Option<&str>,
        filters: &ImageFilter,
    ) -> Result<Vec<ImageSummary>, EngineError> {
        let dangling = filters.dangling;
        let filter = reference_filter.map(reference::parse).transpose()?;
        let used = self.in_use();
        let mut out = Vec::new();
        for image in self.store.images()?.into_iter().rev() {
            let untagged = image.names.is_empty();
            if (untagged && !all && dangling != Some(true)) || dangling.is_some_and(|d| d != untagged) {
                continue;
            }
            if let Some(wanted) = &filter {
                let whole = wanted.whole();
                let repo = reference::repository(wanted);
                let explicit_tag =
                    reference_filter.is_some_and(|r| r.rsplit_once(':').is_some_and(|(_, t)| !t.contains('/')));
                let hit = image
                    .names
                    .iter()
                    .any(|n| if explicit_tag { *n == whole } else { n.starts_with(&format!("{repo}:")) });
                if !hit {
                    continue;
                }
            }
            let labels = self
                .store
                .config(&image)
                .ok()
                .and_then(|c| c.config().as_ref().and_then(|c| c.labels().clone()))
                .map(|l| l.into_iter().collect())
                .unwrap_or_default();
            let containers = used.images.iter().filter(|i| **i == image.id).count() as i64;
            let summary = ImageSummary {
                parent_id: String::new(),
                repo_tags: image.names.iter().map(|n| reference::familiar(n).to_owned()).collect(),
                repo_digests: image.digests.iter().map(|n| reference::familiar(n).to_owned()).collect(),
                created: unix_seconds(image.created.as_deref()),
                size: image.size,
                virtual_size: image.size,
                shared_size: -1,
                labels,
                containers,
                id: image.id.clone(),
            };
            out.extend(filters.apply(summary, image.created.as_deref()));
        }
        Ok(out)
    }

    /// Docker's image inspect JSON for the image `name` names.
    pub fn inspect(&self, name: &str) -> Result<Value, EngineError> {
        let image = self.store.find(name)?;
        inspect_value(&self.store, &image)
    }

    /// The steps the image was built by, newest first (`docker history`).
    pub fn history(&self, name: &str) -> Result<Vec<HistoryItem>, EngineError> {
        let image = self.store.find(name)?;
        let steps = lindocker_image::history::history(&self.store, &image)?;
        Ok(steps
            .into_iter()
            .enumerate()
            .map(|(i, step)| HistoryItem {
                id: step.id.unwrap_or_else(|| "<missing>".into()),
                created: unix_seconds(step.created.as_deref()),
                created_by: step.created_by,
                tags: if i == 0 {
                    image.names.iter().map(|n| reference::familiar(n).to_owned()).collect()
                } else {
                    vec![]
                },
                size: step.size,
                comment: step.comment,
            })
            .collect())
    }

    /// Pulls `name`, reporting to `progress`; journals `pull`.
    pub fn pull(&self, name: &str, options: &PullOptions, progress: &Progress) -> Result<ImageRecord, EngineError> {
        self.pull_as(name, options, progress, None)
    }

    /// Like [`Images::pull`], with the client's `credentials` rather than the stored ones.
    pub fn pull_as(
        &self,
        name: &str,
        options: &PullOptions,
        progress: &Progress,
        credentials: Option<(String, String)>,
    ) -> Result<ImageRecord, EngineError> {
        let image = registry::pull_as(&self.store, name, options, progress, credentials)?;
        let whole = reference::parse(name)?.whole();
        let familiar = reference::familiar(&whole);
        self.event("pull", familiar, crate::events::strip_tag(familiar));
        Ok(image)
    }

    /// Pushes `name` (with `options.all_tags`, every tag of its repository), reporting
    /// to `progress`; journals `push` for each tag; `credentials` instead of the stored ones.
    pub fn push(
        &self,
        name: &str,
        options: &PushOptions,
        progress: &Progress,
        credentials: Option<(String, String)>,
    ) -> Result<Vec<Pushed>, EngineError> {
        let pushed = push::push_as(&self.store, name, options, progress, credentials)?;
        for tag in &pushed {
            let familiar = reference::familiar(&tag.name);
            self.event("push", familiar, crate::events::strip_tag(familiar));
        }
        Ok(pushed)
    }

    /// Points `target` at the image `source` names; journals `tag`.
    pub fn tag(&self, source: &str, target: &str) -> Result<ImageRecord, EngineError> {
        let image = self.store.tag(source, target)?;
        let name = reference::parse(target)
            .map(|r| reference::familiar(&r.whole()).to_owned())
            .unwrap_or_else(|_| target.into());
        self.event("tag", &image.id, &name);
        Ok(image)
    }

    /// Removes the name `name` (or, by id, every name) and the image when no name is left
    /// and no container uses it, as `docker rmi`: an image with several names given by id,
    /// or one a container uses, needs `force` (else [`EngineError::State`] (409)). Unless
    /// `noprune`, the layers and blobs nothing uses any more go too.
    pub fn remove(&self, name: &str, force: bool, noprune: bool) -> Result<Vec<ImageDeleteItem>, EngineError> {
        // First the lock, then what is in use: a `create` holds the content guard until
        // its record (naming the image and its layers) is written.
        let gc = self.store.gc_lock()?;
        let used = self.in_use();
        let image = self.store.find(name)?;
        let by_name = reference::parse(name).ok().map(|r| r.whole()).filter(|n| image.names.contains(n));
        if by_name.is_none() && image.names.len() > 1 && !force {
            return Err(EngineError::State(format!(
                "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                short_id(&image.id)
            )));
        }
        let last_name = by_name.is_none() || image.names.len() <= 1;
        if last_name && used.images.contains(&image.id) && !force {
            return Err(EngineError::State(format!(
                "conflict: unable to remove {name} (must force) - image {} is being used by a container",
                short_id(&image.id)
            )));
        }
        let after = self.store.untag(name)?;
        let mut out = Vec::new();
        for gone in image.names.iter().filter(|n| !after.names.contains(n)) {
            out.push(ImageDeleteItem::Untagged(reference::familiar(gone).to_owned()));
            self.event("untag", &image.id, &image.id);
        }
        if after.names.is_empty() && !used.images.contains(&image.id) {
            self.store.forget(&image.id)?;
            self.event("delete", &image.id, &image.id);
            out.push(ImageDeleteItem::Deleted(image.id.clone()));
            if !noprune {
                self.store.collect(&gc, &used.layers)?;
            }
        }
        Ok(out)
    }

    /// Removes the untagged images no container uses (with `all`, every image no
    /// container uses), then the layers and blobs nothing uses.
    pub fn prune(&self, all: bool) -> Result<ImagePruneReport, EngineError> {
        let gc = self.store.gc_lock()?; // before reading what is in use (see `remove`)
        let used = self.in_use();
        let mut deleted = Vec::new();
        for image in self.store.images()? {
            if used.images.contains(&image.id) || (!all && !image.names.is_empty()) {
                continue;
            }
            self.store.forget(&image.id)?;
            for name in &image.names {
                self.event("untag", &image.id, &image.id);
                deleted.push(ImageDeleteItem::Untagged(reference::familiar(name).to_owned()));
            }
            self.event("delete", &image.id, &image.id);
            deleted.push(ImageDeleteItem::Deleted(image.id));
        }
        let freed = self.store.collect(&gc, &used.layers)?;
        Ok(ImagePruneReport { images_deleted: deleted, space_reclaimed: freed })
    }

    /// Writes the images `names` name as one `docker save` archive to `out`; every
    /// name is checked first, so a bad one writes nothing. Journals `save`.
    pub fn save(&self, names: &[String], out: impl Write) -> Result<(), EngineError> {
        let images = names.iter().map(|n| self.store.find(n)).collect::<Result<Vec<_>, ImageError>>()?;
        archive::save(&self.store, names, out)?;
        for image in images {
            self.event("save", &image.id, &image.id);
        }
        Ok(())
    }

    /// Makes a one-layer image of the root filesystem tar in `input` (plain, gzip or
    /// zstd), named `name` if given, with Dockerfile `changes` and a history `comment`;
    /// journals `import`.
    pub fn import(
        &self,
        input: impl Read,
        name: Option<&str>,
        changes: &[String],
        comment: Option<&str>,
    ) -> Result<ImageRecord, EngineError> {
        let details = archive::NewImage { changes, comment, ..archive::NewImage::default() };
        let image = archive::import(&self.store, input, name, &details)?;
        self.event("import", &image.id, &image.id);
        Ok(image)
    }

    /// Loads a `docker save` or OCI archive from `input`; journals `load`.
    pub fn load(&self, input: impl Read) -> Result<Vec<Loaded>, EngineError> {
        let loaded = archive::load(&self.store, input)?;
        for image in &loaded {
            self.event("load", &image.image.id, &image.image.id);
        }
        Ok(loaded)
    }
}

impl crate::Engine {
    /// The image operations over this engine's data root.
    pub fn image_ops(&self) -> Images {
        Images { store: self.images.clone(), journal: self.events.clone(), records: self.records.clone() }
    }
}

/// Docker-shaped inspect JSON for `image`. The config is the image's own (kept as JSON:
/// its keys are Docker's), the rest is typed from the store.
pub fn inspect_value(store: &Store, image: &ImageRecord) -> Result<Value, EngineError> {
    let config: Value = serde_json::from_slice(&store.read_blob(&image.id)?)
        .map_err(|e| EngineError::Invalid(format!("image {}: config: {e}", image.id)))?;
    let manifest: Value = serde_json::from_slice(&store.read_blob(&image.manifest)?)
        .map_err(|e| EngineError::Invalid(format!("image {}: manifest: {e}", image.id)))?;
    Ok(serde_json::json!({
        "Id": image.id,
        "RepoTags": image.names.iter().map(|n| reference::familiar(n)).collect::<Vec<_>>(),
        "RepoDigests": image.digests.iter().map(|n| reference::familiar(n)).collect::<Vec<_>>(),
        "Parent": "",
        "Comment": "",
        "Created": config["created"],
        "Author": config["author"].as_str().unwrap_or_default(),
        "Architecture": config["architecture"],
        "Os": config["os"],
        "Config": config["config"],
        "Size": image.size,
        "VirtualSize": image.size,
        "GraphDriver": { "Name": "overlay2", "Data": {} },
        "RootFS": { "Type": "layers", "Layers": config["rootfs"]["diff_ids"] },
        "Manifest": { "Digest": image.manifest, "Layers": manifest["layers"] },
        "Storage": { "Driver": "overlay", "ChainIDs": image.layers },
        "Metadata": { "LastTagTime": "0001-01-01T00:00:00Z" },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_items_serialise_as_docker() {
        let items =
            vec![ImageDeleteItem::Untagged("busybox:latest".into()), ImageDeleteItem::Deleted("sha256:ab".into())];
        assert_eq!(
            serde_json::to_string(&items).unwrap(),
            r#"[{"Untagged":"busybox:latest"},{"Deleted":"sha256:ab"}]"#
        );
    }

    #[test]
    fn times_as_unix_seconds() {
        assert_eq!(unix_seconds(Some("2024-01-02T00:00:00Z")), 1704153600);
        assert_eq!(unix_seconds(Some("nonsense")), 0);
        assert_eq!(unix_seconds(None), 0);
    }
}
