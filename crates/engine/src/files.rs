//! A container's files for every front end: copies both ways (host paths, or tar
//! streams from and to any reader and writer: `cp -`, the API's archive endpoints),
//! `commit` (its changes as a new image), `export` (its whole filesystem as a tar),
//! `diff` (what changed). Container paths are resolved inside the container's root, on
//! descriptors ([`crate::copy`]).

use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use lindocker_image::archive::{self, NewImage};
use lindocker_image::{ImageRecord, reference};
use lindocker_storage::container::ContainerFs;
use serde::{Deserialize, Serialize};
use serde_json::{Map, json};

use crate::copy::{self, Copied, CopyError, CopyOptions};
use crate::events::Event;
use crate::inroot;
use crate::options::MountSpec;
use crate::record::{Record, Status};
use crate::{Engine, EngineError};

/// What `commit` asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRequest {
    /// The container (name or id).
    pub container: String,
    /// The new image's name (`repo[:tag]`), if any.
    pub repository: Option<String>,
    /// Dockerfile instructions applied to the new image's config (`CMD ["sh"]`).
    pub changes: Vec<String>,
    /// The history entry's comment.
    pub message: Option<String>,
    /// The image's author.
    pub author: Option<String>,
    /// Freeze a running container while its changes are read (Docker's default).
    pub pause: bool,
}

/// How a path changed (`diff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeKind {
    /// Changed (`C`; the API's kind 0).
    Modified,
    /// Added (`A`; 1).
    Added,
    /// Deleted (`D`; 2).
    Deleted,
}

impl ChangeKind {
    /// The letter `diff` prints.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }

    /// The number the Docker API's `/changes` gives.
    pub fn api_kind(self) -> u8 {
        match self {
            ChangeKind::Modified => 0,
            ChangeKind::Added => 1,
            ChangeKind::Deleted => 2,
        }
    }
}

/// A path of the container that differs from its image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// How.
    pub kind: ChangeKind,
    /// The path (from the container; print it escaped).
    pub path: String,
}

/// What is at a container path (Docker's `ContainerPathStat`, the API's
/// `X-Docker-Container-Path-Stat`; `mode` is the Unix `st_mode`, which the API turns
/// into Go's `FileMode` bits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStat {
    /// The last component of the path as asked (`/` for the root).
    pub name: String,
    /// Bytes.
    pub size: i64,
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    /// Last modification, RFC 3339.
    pub mtime: String,
    /// A symlink's target as stored (empty for anything else).
    pub link_target: String,
}

/// Where a copy goes, or comes from, on the front end's side.
enum Side<'a> {
    /// From this host path into the container.
    FromHost(&'a Path),
    /// From the container to this host path.
    ToHost(&'a Path),
    /// A tar stream into the container (its destination must be a directory).
    TarIn(&'a mut dyn Read),
    /// A tar stream out of the container.
    TarOut(&'a mut dyn Write),
}

impl Engine {
    /// The settled record of container `name_or_id` (a `--rm` one settling removed
    /// shows as `Removing`).
    fn current(&self, name_or_id: &str) -> Result<Record, EngineError> {
        let id = self.records.resolve(name_or_id)?;
        Ok(self.reconcile(self.records.read(&id)?))
    }

    /// The descriptor a container path is resolved from, and the path relative to it. A
    /// running container's own view (`/proc/PID/root`) shows its volumes, binds and tmpfs
    /// mounts; a stopped one's path lies in the bind or volume mounted deepest over it,
    /// or else in its filesystem `merged`. Only engine-made or admin-given host paths are
    /// opened here; the container path is resolved inside the descriptor by the caller.
    fn base_of(&self, record: &Record, merged: &Path, path: &str) -> Result<(OwnedFd, String), EngineError> {
        if record.state.status.is_live() && record.state.pid > 0 {
            let root = inroot::running_root(record.state.pid, &record.id)
                .map_err(|e| EngineError::Invalid(format!("opening the root of container {}: {e}", record.id)))?;
            return Ok((root, path.to_owned()));
        }
        let wanted: PathBuf = Path::new(path).components().filter(|c| matches!(c, Component::Normal(_))).collect();
        let mut best: Option<(usize, PathBuf, String)> = None;
        for m in &record.mounts {
            let target: PathBuf =
                Path::new(m.target()).components().filter(|c| matches!(c, Component::Normal(_))).collect();
            let Ok(rest) = wanted.strip_prefix(&target) else { continue };
            let depth = target.components().count();
            if best.as_ref().is_some_and(|(d, _, _)| *d >= depth) {
                continue;
            }
            let host = match m {
                MountSpec::Bind { source, .. } => source.clone(),
                MountSpec::Volume { name, .. } => self.volumes.data_dir(name),
                MountSpec::Tmpfs { .. } => continue, // empty while stopped: the image's files show
            };
            // Keep what the user wrote after the mount point (`/.`, a trailing `/`).
            let mut rest = rest.display().to_string();
            if path.ends_with("/.") {
                rest.push_str("/.");
            } else if path.ends_with('/') {
                rest.push('/');
            }
            best = Some((depth, host, rest));
        }
        let (host, rest) = match best {
            Some((_, host, rest)) => (host, rest),
            None => (merged.to_owned(), path.to_owned()),
        };
        let root =
            inroot::open_dir(&host).map_err(|e| EngineError::Invalid(format!("opening {}: {e}", host.display())))?;
        Ok((root, rest))
    }

    /// Runs `f` on the descriptor `path` is resolved from in the container `name_or_id`
    /// names (and the path relative to it), with its filesystem mounted for the time of
    /// it if it is not running.
    fn at_path<T>(
        &self,
        name_or_id: &str,
        path: &str,
        f: impl FnOnce(&Record, &OwnedFd, &str) -> Result<T, CopyError>,
    ) -> Result<T, EngineError> {
        let record = self.current(name_or_id)?;
        let fs = ContainerFs::at(self.records.dir(&record.id));
        let was_mounted = record.state.status.is_live();
        let merged = self.mount_rootfs(&record)?;
        let result = self.base_of(&record, &merged, path).and_then(|(root, rest)| {
            f(&record, &root, &rest).map_err(|e| match e {
                CopyError::NotFound(_) => {
                    EngineError::NoSuchPath { container: name_or_id.to_owned(), path: path.to_owned() }
                }
                CopyError::Failed(message) => EngineError::Invalid(message),
            })
        });
        if !was_mounted {
            let _ = fs.unmount();
        }
        result
    }

    /// One copy between `side` and `path` in the container `name_or_id` names.
    fn copy_with(
        &self,
        name_or_id: &str,
        path: &str,
        side: Side<'_>,
        options: CopyOptions,
    ) -> Result<Copied, EngineError> {
        self.at_path(name_or_id, path, |record, root, rest| match side {
            Side::TarIn(input) => {
                let ids = record.host_config.user_ns.then(crate::userns::ranges);
                copy::tar_in(input, root, rest, options, ids)
            }
            Side::TarOut(out) => copy::tar_out(root, rest, options, out),
            Side::FromHost(source) => copy::copy_in(source, root, rest, options),
            Side::ToHost(dest) => copy::copy_out(root, rest, dest, options),
        })
    }

    /// What is at the container's `path` (not following a symlink there), as the API's
    /// archive HEAD reports it before a `docker cp`. A missing `path` is
    /// [`EngineError::NoSuchPath`].
    pub fn stat_path(&self, container: &str, path: &str) -> Result<PathStat, EngineError> {
        self.at_path(container, path, |_, root, rest| stat_in(root, rest, path))
    }

    /// Copies the host path `source` into the container at `path`, by Docker's rules
    /// (`cp SRC CONTAINER:PATH`); what it left out (device nodes, FIFOs, sockets).
    pub fn copy_into(
        &self,
        source: &Path,
        container: &str,
        path: &str,
        options: CopyOptions,
    ) -> Result<Copied, EngineError> {
        self.copy_with(container, path, Side::FromHost(source), options)
    }

    /// Copies the container's `path` to the host path `dest`, by Docker's rules
    /// (`cp CONTAINER:PATH DEST`). A missing `path` is [`EngineError::NoSuchPath`].
    pub fn copy_out_of(
        &self,
        container: &str,
        path: &str,
        dest: &Path,
        options: CopyOptions,
    ) -> Result<Copied, EngineError> {
        self.copy_with(container, path, Side::ToHost(dest), options)
    }

    /// Extracts the tar stream `input` (hostile) into the container's directory `path`,
    /// which must exist (`cp - CONTAINER:DIR`, the API's archive PUT).
    pub fn archive_in(
        &self,
        container: &str,
        path: &str,
        input: &mut dyn Read,
        options: CopyOptions,
    ) -> Result<Copied, EngineError> {
        self.copy_with(container, path, Side::TarIn(input), options)
    }

    /// Writes the container's `path` as a tar stream to `out` (`cp CONTAINER:PATH -`,
    /// the API's archive GET). A missing `path` is [`EngineError::NoSuchPath`].
    pub fn archive_out(
        &self,
        container: &str,
        path: &str,
        out: &mut dyn Write,
        options: CopyOptions,
    ) -> Result<Copied, EngineError> {
        self.copy_with(container, path, Side::TarOut(out), options)
    }

    /// `commit`: the container's read-write layer as a new layer on its image, with its
    /// configuration (and `changes` over it); the new image.
    pub fn commit(&self, request: &CommitRequest) -> Result<ImageRecord, EngineError> {
        let record = self.current(&request.container)?;
        let name = request.repository.as_deref().map(reference::parse).transpose()?.map(|r| r.whole());
        // Checked before anything is frozen or written.
        let mut scratch = Map::new();
        for change in &request.changes {
            lindocker_image::changes::apply(&mut scratch, change)?;
        }
        let base = self.images.find(&record.image).ok();
        // Held until the image names the new layer: a collection must not take it.
        let _guard = self.images.content_guard()?;
        let paused =
            request.pause && record.state.status == Status::Running && self.pause_for_commit(&record.id).is_ok();
        let layer = (|| {
            let fs = ContainerFs::at(self.records.dir(&record.id));
            let (reader, writer) = io::pipe().map_err(|e| EngineError::io(Path::new("a pipe"), e))?;
            let packer = std::thread::spawn(move || fs.commit(writer));
            let parent = record.layers.last().map(String::as_str);
            let layer = archive::store_layer(&self.images, parent, None, reader);
            let packed = packer.join().map_err(|_| EngineError::Invalid("commit failed".into()))?;
            packed?;
            Ok::<_, EngineError>(layer?)
        })();
        if paused {
            self.resume_after_commit(&record.id);
        }
        let layer = layer?;
        let c = &record.config;
        let mut config = Map::new();
        config.insert("Env".into(), json!(c.env));
        config.insert("Cmd".into(), json!(c.cmd));
        config.insert("Entrypoint".into(), if c.entrypoint.is_empty() { json!(null) } else { json!(c.entrypoint) });
        config.insert("WorkingDir".into(), json!(c.working_dir));
        config.insert("User".into(), json!(c.user));
        config.insert("Labels".into(), json!(c.labels));
        config.insert("StopSignal".into(), json!(c.stop_signal));
        if let Some(check) = &c.healthcheck {
            config.insert("Healthcheck".into(), json!(check));
        }
        let details = NewImage {
            changes: &request.changes,
            comment: request.message.as_deref(),
            author: request.author.as_deref(),
            config: Some(config),
        };
        let image = archive::new_image(&self.images, base.as_ref(), &layer, &details, name.as_deref())?;
        let attributes = [
            ("comment", request.message.clone().unwrap_or_default()),
            ("imageID", image.id.clone()),
            ("imageRef", name.as_deref().map(|n| reference::familiar(n).to_owned()).unwrap_or_default()),
        ];
        self.events.emit(Event::container(&record, "commit", &attributes));
        Ok(image)
    }

    /// `export`: the container's whole filesystem as one tar, written to `out`.
    pub fn export(&self, container: &str, out: impl Write) -> Result<(), EngineError> {
        let record = self.current(container)?;
        let fs = ContainerFs::at(self.records.dir(&record.id));
        fs.export(self.images.layers(), &record.layers, out)?;
        self.events.emit(Event::container(&record, "export", &[]));
        Ok(())
    }

    /// `diff`: the paths that differ from the image.
    pub fn diff(&self, container: &str) -> Result<Vec<Change>, EngineError> {
        let record = self.current(container)?;
        let fs = ContainerFs::at(self.records.dir(&record.id));
        let changes = fs.diff(self.images.layers(), &record.layers)?;
        Ok(changes
            .into_iter()
            .map(|(letter, path)| {
                let kind = match letter {
                    'A' => ChangeKind::Added,
                    'D' => ChangeKind::Deleted,
                    _ => ChangeKind::Modified,
                };
                Change { kind, path }
            })
            .collect())
    }
}

/// [`Engine::stat_path`] on `rest` under `root` (`path` as the client gave it).
fn stat_in(root: &OwnedFd, rest: &str, path: &str) -> Result<PathStat, CopyError> {
    let failed = |e: &dyn std::fmt::Display| CopyError::Failed(format!("{path}: {e}"));
    let fd =
        inroot::open(root, Path::new(rest), rustix::fs::OFlags::PATH | rustix::fs::OFlags::NOFOLLOW).map_err(|e| {
            match e.kind() {
                io::ErrorKind::NotFound => CopyError::NotFound(path.to_owned()),
                _ => failed(&e),
            }
        })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| failed(&e))?;
    let is_link = rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink;
    let link_target = if is_link {
        rustix::fs::readlinkat(&fd, "", Vec::new()).map_err(|e| failed(&e))?.to_string_lossy().into_owned()
    } else {
        String::new()
    };
    let name = inroot::last_name(Path::new(path)).map_or_else(|| "/".to_owned(), |n| n.to_string_lossy().into_owned());
    let mtime = std::time::UNIX_EPOCH
        + std::time::Duration::new(st.st_mtime.max(0) as u64, st.st_mtime_nsec.clamp(0, 999_999_999) as u32);
    Ok(PathStat {
        name,
        size: st.st_size,
        mode: st.st_mode,
        mtime: humantime::format_rfc3339_nanos(mtime).to_string(),
        link_target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_stated_inside_the_root_without_following_its_last_link() {
        let dir = std::env::temp_dir().join(format!("lindocker-stat-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/hello"), b"12345").unwrap();
        // Planted by a container: absolute, pointing at a host file.
        std::os::unix::fs::symlink("/etc/hello", dir.join("link")).unwrap();
        let root = inroot::open_dir(&dir).unwrap();
        let file = stat_in(&root, "/etc/hello", "/etc/hello").unwrap();
        assert_eq!((file.name.as_str(), file.size, file.mode & 0o170000), ("hello", 5, 0o100000));
        let link = stat_in(&root, "/link", "/link").unwrap();
        assert_eq!((link.link_target.as_str(), link.mode & 0o170000), ("/etc/hello", 0o120000));
        // `..` stops at the root: the root's file (5 bytes), never a host path.
        assert_eq!(stat_in(&root, "/../../etc/hello", "/../../etc/hello").map(|s| s.size).ok(), Some(5));
        assert!(matches!(stat_in(&root, "/nope", "/nope"), Err(CopyError::NotFound(_))));
        assert_eq!(stat_in(&root, "/", "/").unwrap().name, "/");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
