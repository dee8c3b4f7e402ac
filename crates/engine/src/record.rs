//! Container records: `containers/<id>/record.json`, written atomically under the
//! container's lock; names claimed as symlinks `containers/names/<name> -> <id>` (one
//! `symlink(2)`: it exists whole or not at all, even on a full disk), so of two CLIs
//! racing for a name exactly one wins.
//!
//! Crash safety: `create` claims the name first, then makes the directory and writes
//! `record.json` last (the commit point); removal unlinks `record.json` first. So a name
//! whose container has no `record.json` belongs to a `create` in progress or to a wreck
//! a crash left; which one, the container's busy lock tells (`Engine::hold_busy`). A
//! wreck's name may be reclaimed, and its directory removed, by the next command that
//! meets it (under `names.lock`, so that two reclaimers do not undo each other).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use lindocker_sys::atomic::{AtomicWrite, Durability};
use lindocker_sys::lock::FileLock;
use serde::{Deserialize, Serialize};

use crate::EngineError;
use crate::options::{MountSpec, RestartPolicy, Ulimit};
use crate::paths::ContainerPaths;

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Made, never started (or start failed).
    #[default]
    Created,
    /// Its process runs.
    Running,
    /// Frozen.
    Paused,
    /// Waiting out a restart back-off.
    Restarting,
    /// Ended.
    Exited,
    /// Being removed.
    Removing,
}

impl Status {
    /// Whether a shim watches over the container right now.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Restarting)
    }
}

/// What the container runs, from the image config and the flags.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    /// The full command: entrypoint + cmd.
    pub args: Vec<String>,
    /// `--entrypoint` or the image's.
    pub entrypoint: Vec<String>,
    /// The command part.
    pub cmd: Vec<String>,
    /// `K=V` pairs.
    pub env: Vec<String>,
    /// Working directory.
    pub working_dir: String,
    /// `uid[:gid]` or a name, as given.
    pub user: String,
    /// Host name.
    pub hostname: String,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub open_stdin: bool,
    /// `--label` and the image's labels.
    pub labels: BTreeMap<String, String>,
    /// Signal `stop` sends first.
    pub stop_signal: String,
    /// Seconds `stop` waits before SIGKILL.
    pub stop_timeout: u32,
    /// `-a`: the streams `run` attaches to.
    #[serde(default)]
    pub attach: crate::attach_options::AttachStreams,
    /// The health check: the image's with `--health-*` laid over it (Docker's
    /// `Config.Healthcheck`); `Test: ["NONE"]` for `--no-healthcheck`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<lindocker_image::health::Healthcheck>,
    /// The image's `ExposedPorts` and `--expose`, as `PORT/PROTO` keys.
    #[serde(default)]
    pub exposed_ports: Vec<String>,
    /// `--domainname`: the UTS namespace's NIS domain name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domainname: String,
}

/// How the container is confined and limited.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    /// `-m` in bytes.
    pub memory: Option<i64>,
    /// `--memory-swap` in bytes (-1: unlimited).
    pub memory_swap: Option<i64>,
    /// `--cpus` in billionths of a CPU.
    pub nano_cpus: Option<i64>,
    /// `--cpu-shares`.
    pub cpu_shares: Option<u64>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<String>,
    /// `--pids-limit`.
    pub pids_limit: Option<i64>,
    /// `--ulimit`.
    pub ulimits: Vec<Ulimit>,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--security-opt seccomp=`: `unconfined` or a profile file's content.
    pub seccomp: Option<String>,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// `--privileged`.
    pub privileged: bool,
    /// `--read-only`.
    pub read_only: bool,
    /// `--restart`.
    pub restart: RestartPolicy,
    /// `--rm`.
    pub auto_remove: bool,
    /// `--init`: a minimal init as PID 1 that reaps and forwards signals.
    pub init: bool,
    /// `--user-ns`: run in a user namespace mapped to an unprivileged range.
    pub user_ns: bool,
    /// `--annotation`: the OCI spec's annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// `--cgroup-parent` as given (checked): absolute from the hierarchy's root, relative
    /// under the engine's parent; empty for the engine's parent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cgroup_parent: String,
    /// `--cgroupns host`: no cgroup namespace of its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cgroupns_host: bool,
    /// `--cpuset-mems`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_mems: Option<String>,
    /// `--memory-swappiness` (cgroup v1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_swappiness: Option<u64>,
    /// The OCI runtime binary.
    pub runtime: String,
    /// `--log-opt max-size` in bytes.
    pub log_max_size: Option<u64>,
    /// `--log-opt max-file`.
    pub log_max_file: u32,
    /// `--log-driver`.
    #[serde(default)]
    pub log_driver: crate::log_config::LogDriver,
    /// `--log-opt compress`: rotated files are gzipped.
    #[serde(default)]
    pub log_compress: bool,
    /// `--log-opt` as given.
    #[serde(default)]
    pub log_opts: BTreeMap<String, String>,
    /// `--mount`s as given (each is in the record's mounts too).
    #[serde(default)]
    pub mounts: Vec<crate::mountflag::MountRequest>,
    /// `--volumes-from C[:ro|rw]` as given (the mounts they gave are in the record's).
    #[serde(default)]
    pub volumes_from: Vec<String>,
    /// `--device`s.
    #[serde(default)]
    pub devices: Vec<crate::devices::DeviceMapping>,
    /// `--device-cgroup-rule`s, each checked by [`crate::devices::parse_rule`].
    #[serde(default)]
    pub device_cgroup_rules: Vec<String>,
    /// `--shm-size` in bytes (`None`: Docker's 64 MiB).
    #[serde(default)]
    pub shm_size: Option<i64>,
    /// `--sysctl`s, each checked by [`crate::sysctls::parse_sysctl`].
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    /// `--group-add`: group names (looked up in the container's /etc/group) or ids.
    #[serde(default)]
    pub group_add: Vec<String>,
    /// `--pid`: `` (own namespace), `host`, or `container:ID`.
    #[serde(default)]
    pub pid_mode: String,
    /// `--ipc`: `` (private), `private`, `shareable`, `none`, `host`, or `container:ID`.
    #[serde(default)]
    pub ipc_mode: String,
    /// `--uts`: `` (own namespace) or `host`.
    #[serde(default)]
    pub uts_mode: String,
    /// `--userns`: `` or `host` (explicitly no user namespace).
    #[serde(default)]
    pub userns_mode: String,
    /// `--memory-reservation` in bytes (a soft limit).
    #[serde(default)]
    pub memory_reservation: Option<i64>,
    /// `--oom-kill-disable`.
    #[serde(default)]
    pub oom_kill_disable: bool,
    /// `--oom-score-adj`.
    #[serde(default)]
    pub oom_score_adj: Option<i32>,
    /// `--cpu-quota` in µs per period (-1: none).
    #[serde(default)]
    pub cpu_quota: Option<i64>,
    /// `--cpu-period` in µs.
    #[serde(default)]
    pub cpu_period: Option<u64>,
    /// `--cpu-rt-period` in µs.
    #[serde(default)]
    pub cpu_rt_period: Option<u64>,
    /// `--cpu-rt-runtime` in µs per realtime period.
    #[serde(default)]
    pub cpu_rt_runtime: Option<i64>,
    /// `--blkio-weight` (10-1000).
    #[serde(default)]
    pub blkio_weight: Option<u16>,
    /// `--blkio-weight-device`.
    #[serde(default)]
    pub blkio_weight_device: Vec<crate::resources::DeviceWeight>,
    /// `--device-read-bps`.
    #[serde(default)]
    pub device_read_bps: Vec<crate::resources::DeviceRate>,
    /// `--device-write-bps`.
    #[serde(default)]
    pub device_write_bps: Vec<crate::resources::DeviceRate>,
    /// `--device-read-iops`.
    #[serde(default)]
    pub device_read_iops: Vec<crate::resources::DeviceRate>,
    /// `--device-write-iops`.
    #[serde(default)]
    pub device_write_iops: Vec<crate::resources::DeviceRate>,
}

/// Docker's default size of /dev/shm.
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

/// What happened to the container last.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    /// The status.
    pub status: Status,
    /// The container's init process on the host.
    pub pid: i32,
    /// The shim watching it, and its start time (clock ticks since boot).
    pub shim_pid: i32,
    /// Start time of the shim, so a reused pid is not taken for it.
    pub shim_start: u64,
    /// Exit code of the last run.
    pub exit_code: i32,
    /// RFC 3339.
    pub started_at: Option<String>,
    /// RFC 3339.
    pub finished_at: Option<String>,
    /// The kernel's OOM killer ended it.
    pub oom_killed: bool,
    /// Why it failed to start, or what went wrong.
    pub error: String,
    /// `stop` or `kill` ended it (unless-stopped does not restart then).
    pub stopped_by_user: bool,
    /// Restarts so far.
    pub restart_count: u32,
    /// Set while the container is being set up to run (filesystem mounted, network
    /// attached) and nothing watches it yet; cleared once its shim runs it or has cleaned
    /// up after a failed start. Found set while nobody holds the container's busy lock
    /// (see `Engine::hold_busy`), it means that the CLI or shim doing it was killed:
    /// the next command settles it (see `Engine::settle`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub starting: bool,
    /// The process (pid, start time) that froze the container for the time of a
    /// `commit`; if it died before thawing it, the next command does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_by: Option<(i32, u64)>,
    /// The container's health, for one with a check that has started: read from the
    /// file its shim keeps (see `health`), never stored with the state.
    #[serde(skip)]
    pub health: Option<crate::health::Health>,
}

/// How a container is networked.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkConfig {
    /// `bridge` (networks in `attachments`), `none`, `host`, or `container:ID`.
    pub mode: String,
    /// The networks to join, first one first (it has the default route and the ports).
    pub attachments: Vec<lindocker_network::Attachment>,
    /// `-p`, and `-P`'s picks from the image's ExposedPorts.
    pub ports: Vec<lindocker_network::ports::PortSpec>,
    /// `--dns`.
    pub dns: Vec<String>,
    /// `--add-host` as /etc/hosts lines.
    pub extra_hosts: Vec<String>,
    /// `--dns-search` domains (checked: see [`crate::resolv`]).
    #[serde(default)]
    pub dns_search: Vec<String>,
    /// `--dns-option` values (checked: see [`crate::resolv`]).
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// `--link`: legacy links on the default bridge.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<crate::legacy::Link>,
}

/// One container.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Record {
    /// 64 hex digits.
    pub id: String,
    /// Its name, without Docker's leading `/`.
    pub name: String,
    /// RFC 3339.
    pub created: String,
    /// The image id.
    pub image: String,
    /// The image as the user named it.
    pub image_name: String,
    /// The image's layers (chain ids), bottom first.
    pub layers: Vec<String>,
    /// What runs.
    pub config: Config,
    /// Limits and confinement.
    pub host_config: HostConfig,
    /// Mounts besides the root filesystem.
    pub mounts: Vec<MountSpec>,
    /// Networks, ports, names.
    #[serde(default)]
    pub network: NetworkConfig,
    /// The last run.
    pub state: State,
}

/// What containers use of the image store (see [`Records::images_in_use`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImagesInUse {
    /// Image ids.
    pub images: Vec<String>,
    /// Layer chain ids.
    pub layers: Vec<String>,
}

/// The records under `<root>/containers`.
#[derive(Debug, Clone)]
pub struct Records {
    dir: PathBuf,
    /// The engine's state directory (see [`ContainerPaths`]).
    state: PathBuf,
}

/// An exclusive lock on one container, released when dropped.
#[derive(Debug)]
pub struct ContainerLock {
    _file: FileLock,
}

impl Records {
    /// The records under `root/containers`; the containers' sockets and busy locks under
    /// the state directory `state`.
    pub fn open(root: &Path, state: &Path) -> Result<Records, EngineError> {
        let dir = root.join("containers");
        fs::create_dir_all(dir.join("names")).map_err(|e| EngineError::io(&dir, e))?;
        Ok(Records { dir, state: state.to_owned() })
    }

    /// Where container `id`'s files are.
    pub fn paths(&self, id: &str) -> ContainerPaths {
        ContainerPaths::new(&self.dir, &self.state, id)
    }

    /// The container's directory.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    fn name_path(&self, name: &str) -> PathBuf {
        self.dir.join("names").join(name)
    }

    /// The id `name` is claimed for, if it is.
    pub fn name_owner(&self, name: &str) -> Option<String> {
        read_name(&self.name_path(name))
    }

    /// Whether container `id` has a record (a name pointing at one without is stale, or
    /// being claimed by a `create` in progress).
    pub fn has_record(&self, id: &str) -> bool {
        !id.is_empty() && self.paths(id).record().exists()
    }

    /// Claims `name` for `id`; fails if it is taken. A name whose owner has no record
    /// and for which `abandoned(owner)` says nobody works on it any more is a crash's
    /// leftover and is reclaimed; `abandoned` also clears what is left of the owner.
    pub fn claim_name(&self, name: &str, id: &str, abandoned: &dyn Fn(&str) -> bool) -> Result<(), EngineError> {
        let path = self.name_path(name);
        let in_use = |owner: String| Err(EngineError::NameInUse { name: name.into(), id: owner });
        match std::os::unix::fs::symlink(id, &path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(EngineError::io(&path, e)),
        }
        let owner = read_name(&path).unwrap_or_default();
        if self.has_record(&owner) {
            return in_use(owner);
        }
        // Stale, or a create in progress: decide under the names lock.
        let _names = self.names_lock()?;
        let owner = read_name(&path).unwrap_or_default();
        if self.has_record(&owner) || (!owner.is_empty() && !abandoned(&owner)) {
            return in_use(owner);
        }
        if read_name(&path).unwrap_or_default() == owner {
            let _ = fs::remove_file(&path);
        }
        match std::os::unix::fs::symlink(id, &path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => in_use(read_name(&path).unwrap_or_default()),
            Err(e) => Err(EngineError::io(&path, e)),
        }
    }

    fn names_lock(&self) -> Result<FileLock, EngineError> {
        lock_file(&self.dir.join("names.lock"))
    }

    /// Gives up `name` if `id` holds it (a name reclaimed by another container stays).
    pub fn release_name(&self, name: &str, id: &str) {
        let path = self.name_path(name);
        // Unlocked first look: most names are released by their owner, unchallenged.
        if read_name(&path).as_deref() != Some(id) {
            return;
        }
        // Without the lock (a full disk may refuse to make its file) the name still goes.
        let _names = self.names_lock().ok();
        if read_name(&path).as_deref() == Some(id) {
            let _ = fs::remove_file(&path);
        }
    }

    /// Every name, with the id it points at.
    pub fn names(&self) -> Vec<(String, String)> {
        let names = self.dir.join("names");
        fs::read_dir(&names)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                Some((name, read_name(&e.path())?))
            })
            .collect()
    }

    /// Takes the container's lock (waiting for it).
    pub fn lock(&self, id: &str) -> Result<ContainerLock, EngineError> {
        Ok(ContainerLock { _file: lock_file(&self.paths(id).lock())? })
    }

    /// Reads a record: the configuration from `record.json`, the last state from
    /// `state.json` (or the state saved with the configuration, if that is unreadable).
    pub fn read(&self, id: &str) -> Result<Record, EngineError> {
        let paths = self.paths(id);
        let path = paths.record();
        let bytes = fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => EngineError::NoSuchContainer(id.into()),
            _ => EngineError::io(&path, e),
        })?;
        let mut record: Record =
            serde_json::from_slice(&bytes).map_err(|e| EngineError::Corrupt { path, reason: e.to_string() })?;
        if let Ok(state) =
            fs::read(paths.state_file()).map_err(|_| ()).and_then(|b| serde_json::from_slice(&b).map_err(|_| ()))
        {
            record.state = state;
        }
        if record.config.healthcheck.as_ref().is_some_and(|h| h.probe().is_some()) {
            record.state.health = crate::health::read(&paths);
        }
        Ok(record)
    }

    /// Writes a whole record (the caller holds the lock): the configuration durably
    /// ([`Durability::Durable`]), with the state; `state.json`, if there is one, as
    /// [`Records::write_state`] does (a new record needs none: `read` falls back to the
    /// state saved with the configuration, and a new file costs an inode).
    ///
    /// A `--rm` container's configuration skips the fsync (a quarter of a `run --rm`):
    /// a crash ends such a container for good, and recovery after a reboot removes it,
    /// torn record and all (see `Engine::recover`).
    pub fn write(&self, record: &Record) -> Result<(), EngineError> {
        let paths = self.paths(&record.id);
        let path = paths.record();
        let durability = if record.host_config.auto_remove { Durability::CrashSafe } else { Durability::Durable };
        // Root's alone: the environment may hold secrets.
        AtomicWrite::new(durability)
            .mode(0o600)
            .write(&path, &serde_json::to_vec_pretty(record).expect("record serializes"))
            .map_err(|e| EngineError::io(&path, e))?;
        if paths.state_file().exists() {
            self.write_state(record)?;
        }
        Ok(())
    }

    /// Writes the state alone, atomically but without fsync: it describes processes,
    /// which a power loss ends, and a state lost or torn by one reads as the state saved
    /// with the configuration, which recovery then corrects (see `Engine::reconcile`).
    pub fn write_state(&self, record: &Record) -> Result<(), EngineError> {
        let path = self.paths(&record.id).state_file();
        AtomicWrite::new(Durability::CrashSafe)
            .write(&path, &serde_json::to_vec(&record.state).expect("state serializes"))
            .map_err(|e| EngineError::io(&path, e))
    }

    /// Reads, changes and writes a record under its lock.
    pub fn update<T>(&self, id: &str, change: impl FnOnce(&mut Record) -> T) -> Result<(Record, T), EngineError> {
        let _lock = self.lock(id)?;
        let mut record = self.read(id)?;
        let out = change(&mut record);
        self.write(&record)?;
        Ok((record, out))
    }

    /// Reads, changes and writes a record's state under its lock.
    pub fn update_state<T>(&self, id: &str, change: impl FnOnce(&mut State) -> T) -> Result<(Record, T), EngineError> {
        self.update_state_by(id, |_, st| change(st))
    }

    /// [`Records::update_state`], with the change seeing the container's host
    /// configuration as it is under the lock (a restart decision needs both).
    pub fn update_state_by<T>(
        &self,
        id: &str,
        change: impl FnOnce(&HostConfig, &mut State) -> T,
    ) -> Result<(Record, T), EngineError> {
        let _lock = self.lock(id)?;
        let mut record = self.read(id)?;
        let out = change(&record.host_config, &mut record.state);
        self.write_state(&record)?;
        Ok((record, out))
    }

    /// Every container id.
    pub fn ids(&self) -> Result<Vec<String>, EngineError> {
        Ok(self.scan()?.0)
    }

    /// In one pass over `containers/`: the ids of containers (with a record), and of
    /// directories without one (a create in progress, or a wreck).
    pub fn scan(&self) -> Result<(Vec<String>, Vec<String>), EngineError> {
        let (mut ids, mut unrecorded) = (Vec::new(), Vec::new());
        for entry in fs::read_dir(&self.dir).map_err(|e| EngineError::io(&self.dir, e))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.len() == 64 && self.paths(&name).record().exists() {
                ids.push(name);
            } else if is_id(&name) {
                unrecorded.push(name);
            }
        }
        Ok((ids, unrecorded))
    }

    /// The image ids and layer chain ids that containers use: nothing of these may be
    /// removed. Read leniently (only the two fields): a record that does not parse as a
    /// whole still keeps its image.
    pub fn images_in_use(&self) -> ImagesInUse {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Uses {
            #[serde(default)]
            image: Option<String>,
            #[serde(default)]
            layers: Vec<String>,
        }
        let mut used = ImagesInUse::default();
        let Ok(entries) = fs::read_dir(&self.dir) else { return used };
        for entry in entries.flatten() {
            let Ok(bytes) = fs::read(entry.path().join("record.json")) else { continue };
            let Ok(uses) = serde_json::from_slice::<Uses>(&bytes) else { continue };
            used.images.extend(uses.image);
            used.layers.extend(uses.layers);
        }
        used
    }

    /// Every record (unreadable ones skipped: a container being made or removed).
    pub fn all(&self) -> Result<Vec<Record>, EngineError> {
        Ok(self.ids()?.iter().filter_map(|id| self.read(id).ok()).collect())
    }

    /// The id of the container `name_or_id` names: a name, a full id or a unique prefix.
    pub fn resolve(&self, name_or_id: &str) -> Result<String, EngineError> {
        let name = name_or_id.trim_start_matches('/');
        if let Some(id) = read_name(&self.name_path(name))
            && self.has_record(&id)
        {
            return Ok(id);
        }
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            let matches: Vec<String> = self.ids()?.into_iter().filter(|id| id.starts_with(name)).collect();
            match matches.len() {
                1 => return Ok(matches.into_iter().next().expect("one")),
                0 => {}
                _ => return Err(EngineError::Ambiguous(name.into())),
            }
        }
        Err(EngineError::NoSuchContainer(name_or_id.into()))
    }

    /// Removes the container's record, name and directory, in that order: once the
    /// record is gone the container is gone, and a crash after that leaves only a stale
    /// name and a directory that the next command clears.
    pub fn remove(&self, record: &Record) -> Result<(), EngineError> {
        let paths = self.paths(&record.id);
        let (dir, path) = (paths.dir(), paths.record());
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(EngineError::io(&path, e)),
        }
        self.release_name(&record.name, &record.id);
        fs::remove_dir_all(dir)
            .or_else(|e| if e.kind() == io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
            .map_err(|e| EngineError::io(dir, e))
    }

    /// Renames a container (its name file moves; the new one must be free).
    /// `abandoned` is as for [`Records::claim_name`].
    pub fn rename(&self, id: &str, new_name: &str, abandoned: &dyn Fn(&str) -> bool) -> Result<(), EngineError> {
        self.claim_name(new_name, id, abandoned)?;
        match self.update(id, |r| std::mem::replace(&mut r.name, new_name.to_owned())) {
            Ok((_, old)) => {
                self.release_name(&old, id);
                Ok(())
            }
            Err(e) => {
                self.release_name(new_name, id);
                Err(e)
            }
        }
    }
}

/// Whether `s` has the form of a container id (64 hex digits), as directory names under
/// `containers/` other than `names` do.
pub fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The id a name file points at: a symlink's target, or (as older versions wrote them)
/// a regular file's content.
fn read_name(path: &Path) -> Option<String> {
    match fs::read_link(path) {
        Ok(target) => target.into_os_string().into_string().ok(),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => fs::read_to_string(path).ok(),
        Err(_) => None,
    }
}

/// Waits for the exclusive lock on `path` (made if need be); the lock lasts as long as
/// the returned value.
pub(crate) fn lock_file(path: &Path) -> Result<FileLock, EngineError> {
    FileLock::exclusive(path).map_err(|e| EngineError::io(path, e))
}

/// A process's start time in clock ticks since boot (field 22 of /proc/PID/stat).
pub fn process_start(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // fields[0] is the state (field 3); zombies are gone for our purposes.
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Whether the process `pid` that started at `start` still runs.
pub fn alive(pid: i32, start: u64) -> bool {
    pid > 0 && process_start(pid) == Some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(name: &str) -> (Records, PathBuf) {
        let root = std::env::temp_dir().join(format!("lindocker-record-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        (Records::open(&root, &root.join("state")).unwrap(), root)
    }

    #[test]
    fn images_in_use_reads_each_record_leniently() {
        let (records, root) = records("in-use");
        let write = |id: &str, text: &str| {
            fs::create_dir_all(records.dir(id)).unwrap();
            fs::write(records.dir(id).join("record.json"), text).unwrap();
        };
        write(&"a".repeat(64), r#"{"Image":"sha256:1","Layers":["l1","l2"],"Config":"not what a record holds"}"#);
        write(&"b".repeat(64), r#"{"Image":"sha256:2"}"#);
        write(&"c".repeat(64), "torn");
        // A create in progress: no record yet.
        fs::create_dir_all(records.dir(&"d".repeat(64))).unwrap();
        let mut used = records.images_in_use();
        used.images.sort();
        assert_eq!(used.images, ["sha256:1", "sha256:2"]);
        assert_eq!(used.layers, ["l1", "l2"]);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_name_is_claimed_once_and_read_back() {
        let (records, root) = records("claim");
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        records.claim_name("x", &a, &|_| true).unwrap();
        assert_eq!(records.name_owner("x").as_deref(), Some(a.as_str()));
        // `a` is being created (no record yet) and its creator is alive: the name holds.
        let err = records.claim_name("x", &b, &|_| false).unwrap_err();
        assert!(matches!(err, EngineError::NameInUse { id, .. } if id == a));
        // With a record, the name holds whatever `abandoned` would say.
        fs::create_dir_all(records.dir(&a)).unwrap();
        fs::write(records.paths(&a).record(), "{}").unwrap();
        assert!(records.claim_name("x", &b, &|_| true).is_err());
        // Releasing by another id does nothing; by the owner, frees it.
        records.release_name("x", &b);
        assert!(records.name_owner("x").is_some());
        records.release_name("x", &a);
        assert_eq!(records.name_owner("x"), None);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_stale_name_is_reclaimed_old_and_new_layouts() {
        let (records, root) = records("stale");
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        // New layout: a symlink to a container without a record whose creator died.
        records.claim_name("x", &a, &|_| true).unwrap();
        records.claim_name("x", &b, &|owner| owner == a).unwrap();
        assert_eq!(records.name_owner("x").as_deref(), Some(b.as_str()));
        // Old layout: a regular file, here empty as a full disk left it.
        fs::write(records.name_path("y"), "").unwrap();
        records.claim_name("y", &a, &|_| false).unwrap();
        assert_eq!(records.name_owner("y").as_deref(), Some(a.as_str()));
        fs::write(records.name_path("z"), &b).unwrap();
        assert_eq!(records.name_owner("z").as_deref(), Some(b.as_str()));
        fs::remove_dir_all(root).unwrap();
    }
}
