//! A container's files as tar streams for a front end (the API's `archive` endpoints,
//! what `docker cp` uses): a path's stat, a path out as a tar, a tar into a directory.
//! Every container path is resolved inside the container's root through descriptors.
//!
//! Interim: `lindocker cp` (cli/.../files.rs) finds the same base; to become one engine
//! function (issue 14, step one).

use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use rustix::fs::OFlags;

use crate::copy::{self, Copied, CopyError, CopyOptions};
use crate::inroot;
use crate::options::MountSpec;
use crate::record::Record;
use crate::{Engine, EngineError};

/// What `X-Docker-Container-Path-Stat` says of a path.
#[derive(Debug, Clone)]
pub struct PathStat {
    /// Its last component.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its mode (`st_mode`: type and permission bits).
    pub mode: u32,
    /// Its modification time.
    pub mtime: std::time::SystemTime,
    /// A symlink's target, else empty.
    pub link_target: String,
}

impl Engine {
    /// Runs `f` on the descriptor `path` of container `name` is resolved from and the
    /// path relative to it; a stopped container's filesystem is mounted meanwhile.
    fn in_container<T>(
        &self,
        name: &str,
        path: &str,
        f: impl FnOnce(&Record, &OwnedFd, &str) -> Result<T, CopyError>,
    ) -> Result<T, EngineError> {
        let id = self.records.resolve(name)?;
        let record = self.reconcile(self.records.read(&id)?);
        let was_mounted = record.state.status.is_live();
        let merged = self.mount_rootfs(&record)?;
        let result = (|| {
            let (root, rel) = self.base_of(&record, &merged, path)?;
            f(&record, &root, &rel).map_err(|e| match e {
                CopyError::NotFound(_) => {
                    EngineError::NotFound(format!("Could not find the file {path} in container {name}"))
                }
                CopyError::Failed(m) => EngineError::Invalid(m),
            })
        })();
        if !was_mounted {
            self.unmount_rootfs(&record);
        }
        result
    }

    /// The stat of `path` in container `name` (not following a last symlink).
    pub fn archive_stat(&self, name: &str, path: &str) -> Result<PathStat, EngineError> {
        self.in_container(name, path, |_, root, rel| {
            let fd =
                inroot::open(root, Path::new(rel), OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC).map_err(|e| {
                    match e.kind() {
                        std::io::ErrorKind::NotFound => CopyError::NotFound(path.to_owned()),
                        _ => CopyError::Failed(format!("{path}: {e}")),
                    }
                })?;
            let st = rustix::fs::fstat(&fd).map_err(|e| CopyError::Failed(format!("{path}: {e}")))?;
            let link_target = if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink {
                rustix::fs::readlinkat(&fd, "", Vec::new())
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default()
            } else {
                String::new()
            };
            let name =
                inroot::last_name(Path::new(path)).map_or_else(|| "/".to_owned(), |n| n.to_string_lossy().into_owned());
            let mtime = std::time::UNIX_EPOCH
                + std::time::Duration::new(st.st_mtime.max(0) as u64, st.st_mtime_nsec.clamp(0, 999_999_999) as u32);
            Ok(PathStat { name, size: st.st_size.max(0) as u64, mode: st.st_mode, mtime, link_target })
        })
    }

    /// Writes `path` of container `name` as a tar stream to `out`.
    pub fn archive_out(&self, name: &str, path: &str, out: impl std::io::Write) -> Result<Copied, EngineError> {
        let opts = CopyOptions { follow_link: false, archive: true };
        self.in_container(name, path, |_, root, rel| copy::tar_out(root, rel, opts, out))
    }

    /// Extracts the tar stream `input` (hostile) into directory `path` of container
    /// `name`; owners kept with `keep_owners` (`copyUIDGID`), else root's.
    pub fn archive_in(
        &self,
        name: &str,
        path: &str,
        input: impl std::io::Read,
        keep_owners: bool,
    ) -> Result<Copied, EngineError> {
        let opts = CopyOptions { follow_link: false, archive: keep_owners };
        self.in_container(name, path, |record, root, rel| {
            let ids = record.host_config.user_ns.then(crate::userns::ranges);
            copy::tar_in(input, root, rel, opts, ids)
        })
    }

    /// The descriptor a container path is resolved from, and the path relative to it. A
    /// running container's own view (`/proc/PID/root`) shows its volumes, binds and tmpfs
    /// mounts; a stopped one's path lies in the bind or volume mounted deepest over it, or
    /// else in its filesystem `merged`.
    fn base_of(&self, record: &Record, merged: &Path, path: &str) -> Result<(OwnedFd, String), EngineError> {
        if record.state.status.is_live() && record.state.pid > 0 {
            let root = inroot::running_root(record.state.pid, &record.id)
                .map_err(|e| EngineError::io(Path::new("the container's root"), e))?;
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
                MountSpec::Tmpfs { .. } => continue,
            };
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
        let root = inroot::open_dir(&host).map_err(|e| EngineError::io(&host, e))?;
        Ok((root, rest))
    }
}
