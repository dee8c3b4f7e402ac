//! Container state under `--root`: one directory per container holding `state.json`,
//! the start fifo and a lock file.
//!
//! `state.json` is replaced atomically (write a temp file, fsync, rename), and every
//! command that changes a container holds the lock, so two commands on one id never see
//! or leave half a state.

use std::collections::HashMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use lindocker_sys::atomic::{AtomicWrite, Durability};
use lindocker_sys::lock::FileLock;
use oci_spec::runtime::Hooks;
use serde::{Deserialize, Serialize};

use crate::error::Context;
use crate::{Error, Result};

/// The runtime's default `--root`, used when a caller (Podman) passes none.
pub const DEFAULT_ROOT: &str = "/run/lindocker-runtime";

/// Name of the fifo the created init blocks on until `start`.
pub const EXEC_FIFO: &str = "exec.fifo";

/// OCI status of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` is still setting it up.
    Creating,
    /// Set up; the init waits for `start`.
    Created,
    /// The user's process runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// The init has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What the runtime remembers about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The spec version the container was created from.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Host pid of the init (0 while creating).
    pub pid: i32,
    /// The init's start time in clock ticks since boot (`/proc/PID/stat` field 22):
    /// a pid reused by another process has another start time.
    pub pid_start_time: u64,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute root filesystem path.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339.
    pub created: String,
    /// uid of the user that created it.
    pub owner: u32,
    /// `annotations` from the spec.
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// The container's cgroup path within each hierarchy.
    pub cgroup_path: PathBuf,
    /// The systemd unit that holds the cgroup (`--systemd-cgroup`); none when the runtime
    /// made the cgroup itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<lindocker_cgroups::systemd::Unit>,
    /// Whether the container has its own pid namespace (if not, its processes must be
    /// found through the cgroup).
    pub own_pid_namespace: bool,
    /// Hooks still to run after `create` (poststart, poststop).
    #[serde(default)]
    pub hooks: Option<Hooks>,
    /// `linux.netDevices` moved in, as (host name, name inside), to move back on delete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub net_devices: Vec<(String, String)>,
    /// The network namespace joined by path, if any: it outlives the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_net: Option<PathBuf>,
}

impl State {
    /// The container's status now, looked up in /proc and the cgroup.
    pub fn status(&self, dir: &Path) -> Status {
        if self.pid == 0 {
            return Status::Creating;
        }
        if !process_alive(self.pid, self.pid_start_time) {
            return Status::Stopped;
        }
        if dir.join(EXEC_FIFO).exists() {
            return Status::Created;
        }
        if self.cgroup().is_some_and(|m| m.is_frozen()) {
            return Status::Paused;
        }
        Status::Running
    }

    /// Who made the container's cgroup, and so removes it.
    pub fn cgroup_driver(&self) -> lindocker_cgroups::Driver {
        match &self.systemd_unit {
            Some(unit) => lindocker_cgroups::Driver::Systemd(unit.clone()),
            None => lindocker_cgroups::Driver::Cgroupfs,
        }
    }

    /// The cgroup manager for this container, if the host's cgroups can be read.
    pub fn cgroup(&self) -> Option<lindocker_cgroups::Manager> {
        let h = lindocker_cgroups::Hierarchy::detect().ok()?;
        lindocker_cgroups::Manager::new(h, &self.cgroup_path).ok()
    }

    /// The cgroup manager, or an error saying the host's cgroups cannot be read.
    pub fn cgroup_or_err(&self) -> Result<lindocker_cgroups::Manager> {
        let h = lindocker_cgroups::Hierarchy::detect()?;
        Ok(lindocker_cgroups::Manager::new(h, &self.cgroup_path)?)
    }

    /// The OCI state document (`runtime state` output and the hooks' stdin).
    pub fn oci(&self, status: Status) -> serde_json::Value {
        let pid = if status == Status::Stopped { 0 } else { self.pid };
        serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "status": status,
            "pid": pid,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": "",
            "annotations": self.annotations,
        })
    }
}

/// The start time of `pid` in clock ticks, if it is alive and not a zombie.
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    // rest starts at field 3 (state); starttime is field 22.
    fields.get(19)?.parse().ok()
}

fn process_alive(pid: i32, start_time: u64) -> bool {
    process_start_time(pid) == Some(start_time)
}

/// The directory of all containers' states.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// An exclusive lock on one container, held until dropped. A forked child must drop its
/// copy at once: a `flock` is held as long as any copy of the descriptor is open.
#[derive(Debug)]
pub struct Lock {
    _lock: FileLock,
}

impl Store {
    /// The store at `root`, created if missing.
    pub fn new(root: &Path) -> Result<Store> {
        fs::create_dir_all(root).context(|| format!("create state root {}", root.display()))?;
        Ok(Store { root: root.to_path_buf() })
    }

    /// Compiled seccomp programs, by profile hash. Its name is not a valid container id,
    /// so it can never collide with one.
    pub fn seccomp_cache(&self) -> PathBuf {
        self.root.join("cache:seccomp")
    }

    /// The state directory of container `id`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Claims `id` for a new container: its directory is created atomically (`mkdir`), so
    /// of two concurrent creates of one id exactly one succeeds. Returns the lock.
    pub fn claim(&self, id: &str) -> Result<Lock> {
        check_id(id)?;
        let dir = self.dir(id);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Err(Error::Exists(id.into())),
            Err(e) => return Err(e).context(|| format!("create {}", dir.display())),
        }
        self.lock(id)
    }

    /// Takes the exclusive lock of an existing container, waiting for other commands.
    pub fn lock(&self, id: &str) -> Result<Lock> {
        check_id(id)?;
        let dir = self.dir(id);
        if !dir.is_dir() {
            return Err(Error::NotFound(id.into()));
        }
        let path = dir.join("lock");
        let lock = FileLock::exclusive(&path).map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                Error::NotFound(id.into())
            } else {
                Error::Io { context: format!("lock {}", path.display()), source: e }
            }
        })?;
        // A concurrent delete may have removed the directory while we waited.
        if !dir.is_dir() {
            return Err(Error::NotFound(id.into()));
        }
        Ok(Lock { _lock: lock })
    }

    /// Reads container `id`'s state.
    pub fn load(&self, id: &str) -> Result<State> {
        check_id(id)?;
        let path = self.dir(id).join("state.json");
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(Error::NotFound(id.into())),
            Err(e) => return Err(e).context(|| format!("read {}", path.display())),
        };
        serde_json::from_slice(&text).map_err(|e| Error::BadState(path, e.to_string()))
    }

    /// Replaces container `state.id`'s state atomically. The caller holds its lock.
    ///
    /// Not fsynced: the state describes processes, which a power loss ends anyway, so
    /// after one every container is stopped whatever its file says (an unreadable file
    /// included, which `delete` removes). Against a crash of the runtime itself the
    /// rename is enough: readers see the old state or the new one.
    pub fn save(&self, state: &State) -> Result<()> {
        let data = serde_json::to_vec(state).expect("state serializes");
        write_atomic(&self.dir(&state.id).join("state.json"), &data, false)
    }

    /// Removes a container's directory. The caller holds its lock.
    pub fn remove(&self, id: &str) -> Result<()> {
        let dir = self.dir(id);
        fs::remove_dir_all(&dir).context(|| format!("remove {}", dir.display()))
    }

    /// The ids of all containers, sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for entry in fs::read_dir(&self.root).context(|| format!("read {}", self.root.display()))? {
            let entry = entry.context(|| format!("read {}", self.root.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && check_id(&name).is_ok() {
                ids.push(name);
            }
        }
        ids.sort();
        Ok(ids)
    }
}

/// Ids become directory names: no separators, no `.`/`..`, nothing exotic.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok { Ok(()) } else { Err(Error::InvalidId(id.into())) }
}

/// Writes `path` so that readers see the old or the new content, never a mix, even
/// across a crash ([`lindocker_sys::atomic`]); with `durable`, so that it survives a
/// power loss.
pub fn write_atomic(path: &Path, data: &[u8], durable: bool) -> Result<()> {
    let durability = if durable { Durability::Durable } else { Durability::CrashSafe };
    AtomicWrite::new(durability).write(path, data).context(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "abc-1_2.3+x", "0123456789abcdef"] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "a\0"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn own_start_time_is_found() {
        let me = std::process::id() as i32;
        assert!(process_start_time(me).is_some());
        assert!(process_start_time(i32::MAX).is_none());
    }
}
