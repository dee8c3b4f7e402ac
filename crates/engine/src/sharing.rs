//! Namespaces a container shares instead of getting its own: `--pid host|container:X`,
//! `--ipc host|container:X|shareable|private|none`, `--uts host`, `--userns host`.
//!
//! Joining another container's namespace happens at every start (its init's pid changes
//! with each of its runs): the shim opens `/proc/PID/ns/KIND` of X's current init and,
//! through the same descriptor of `/proc/PID`, checks that the process is in X's cgroup
//! (so a pid X's init left and another process took cannot hand over that process's
//! namespace), then gives the runtime `/proc/<shim>/fd/N`: the namespace itself, not a
//! pid that could be reused in between. X must be running. If X ends while Y starts, Y's
//! start fails (a pid namespace without its init takes no new process); once Y runs,
//! `rm -f X` is allowed, as in Docker: for `--pid container:X` the kernel then kills every
//! process of that pid namespace, Y's too (Y exits 137); an IPC namespace lives on with Y.
//!
//! `/dev/shm` goes with the IPC namespace, as in Docker: a `shareable` container's is a
//! tmpfs the engine mounts on the host side (`containers/<id>/shm`, 64 MiB, from its
//! first start until its removal), bound into it and into every container that joins it.
//! `--ipc host` binds the host's `/dev/shm`; `--ipc none` has none.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use serde_json::{Value, json};

use crate::EngineError;
use crate::lifecycle::Engine;
use crate::record::Record;

/// Checks a `--pid` value: `host`, `container:NAME|ID`, or empty.
pub fn parse_pid(value: &str) -> Result<String, EngineError> {
    parse_mode("--pid", value, &["", "host"])
}

/// Checks an `--ipc` value: `private`, `shareable`, `none`, `host`, `container:X`, or
/// empty (private, Docker's default).
pub fn parse_ipc(value: &str) -> Result<String, EngineError> {
    parse_mode("--ipc", value, &["", "private", "shareable", "none", "host"])
}

/// Checks a `--uts` value: `host` or empty.
pub fn parse_uts(value: &str) -> Result<String, EngineError> {
    parse_mode("--uts", value, &["", "host"])
}

/// Checks a `--userns` value: `host` or empty.
pub fn parse_userns(value: &str) -> Result<String, EngineError> {
    parse_mode("--userns", value, &["", "host"])
}

fn parse_mode(option: &str, value: &str, plain: &[&str]) -> Result<String, EngineError> {
    let joinable = matches!(option, "--pid" | "--ipc");
    match value.strip_prefix("container:") {
        Some(name) if joinable && !name.is_empty() => Ok(value.to_owned()),
        None if plain.contains(&value) => Ok(value.to_owned()),
        _ => Err(EngineError::BadOption {
            option: option.into(),
            value: value.into(),
            reason: format!(
                "expected {}{}",
                plain.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(", "),
                if joinable { " or container:NAME" } else { "" }
            ),
        }),
    }
}

/// The OCI namespace list and the spec changes for the record's modes: which of pid,
/// ipc, uts are new (joins are filled in at start, see [`Engine::join_namespaces`]),
/// the host's `/dev/shm` for `--ipc host`, none for `--ipc none`.
pub fn adjust_spec(record: &Record, spec: &mut Value) {
    let h = &record.host_config;
    let namespaces = spec["linux"]["namespaces"].as_array_mut().expect("the spec lists namespaces");
    namespaces.retain(|ns| match ns["type"].as_str() {
        Some("pid") => h.pid_mode != "host",
        Some("ipc") => h.ipc_mode != "host",
        Some("uts") => h.uts_mode != "host",
        _ => true,
    });
    let mounts = spec["mounts"].as_array_mut().expect("the spec lists mounts");
    match h.ipc_mode.as_str() {
        "none" => mounts.retain(|m| m["destination"] != "/dev/shm"),
        "host" => {
            for m in mounts.iter_mut().filter(|m| m["destination"] == "/dev/shm") {
                *m = json!({ "destination": "/dev/shm", "type": "bind", "source": "/dev/shm", "options": ["rbind", "rprivate", "nosuid", "noexec", "nodev"] });
            }
        }
        _ => {}
    }
    if h.uts_mode == "host" {
        spec["hostname"] = json!("");
    }
}

/// Namespaces of other containers, held open while the runtime joins them.
#[derive(Debug, Default)]
pub struct Joined {
    _fds: Vec<OwnedFd>,
}

/// Opens `/proc/PID/ns/KIND` of container `id`'s process `pid`, having checked through
/// the same `/proc/PID` descriptor that the process is in the container's cgroup (or one
/// below it) before and after the open.
pub fn open_container_ns(pid: i32, id: &str, kind: &str) -> std::io::Result<OwnedFd> {
    if pid <= 0 {
        return Err(std::io::Error::other(format!("container {id} has no process")));
    }
    let proc_dir =
        rustix::fs::open(format!("/proc/{pid}"), OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let belongs = || -> std::io::Result<bool> {
        let cgroup = crate::inroot::read_regular(&proc_dir, Path::new("cgroup"), 64 * 1024)?;
        Ok(String::from_utf8_lossy(&cgroup).lines().any(|line| {
            line.rsplit_once(':').is_some_and(|(_, path)| {
                let path = path.trim_end_matches('/');
                path.ends_with(&format!("/{id}")) || path.contains(&format!("/{id}/"))
            })
        }))
    };
    if !belongs()? {
        return Err(std::io::Error::other(format!("process {pid} is not container {id}'s")));
    }
    let ns = rustix::fs::openat(&proc_dir, format!("ns/{kind}"), OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    // Still the same process after the open (ESRCH otherwise), still in the cgroup.
    if !belongs()? {
        return Err(std::io::Error::other(format!("process {pid} is not container {id}'s")));
    }
    Ok(ns)
}

/// Points the spec's `/dev/shm` at `source` (a bind).
fn bind_shm(spec: &mut Value, source: &Path) {
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        for m in mounts.iter_mut().filter(|m| m["destination"] == "/dev/shm") {
            *m = json!({ "destination": "/dev/shm", "type": "bind", "source": source, "options": ["rbind", "rprivate", "nosuid", "noexec", "nodev"] });
        }
    }
}

impl Engine {
    /// Where a `shareable` container's `/dev/shm` is mounted on the host side.
    pub fn shm_dir(&self, id: &str) -> std::path::PathBuf {
        self.paths(id).shm()
    }

    /// Mounts a `shareable` container's `/dev/shm` (if it is not).
    fn mount_shm(&self, id: &str) -> Result<std::path::PathBuf, EngineError> {
        use rustix::mount::{MountFlags, mount};
        let dir = self.shm_dir(id);
        if lindocker_storage::overlay::is_mounted(&dir) {
            return Ok(dir);
        }
        std::fs::create_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
        mount(
            "shm",
            &dir,
            "tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
            c"mode=1777,size=67108864",
        )
        .map_err(|e| EngineError::io(&dir, e.into()))?;
        Ok(dir)
    }

    /// Unmounts a `shareable` container's `/dev/shm` (at its removal).
    pub fn unmount_shm(&self, id: &str) {
        let dir = self.shm_dir(id);
        if lindocker_storage::overlay::is_mounted(&dir) {
            let _ = lindocker_storage::overlay::unmount(&dir);
        }
    }

    /// Resolves `container:NAME` modes to `container:ID` at create (the id stays right if
    /// the name is later given to another container), and checks that the modes fit
    /// together.
    pub fn resolve_modes(&self, record: &mut Record) -> Result<(), EngineError> {
        let h = &mut record.host_config;
        for mode in [&mut h.pid_mode, &mut h.ipc_mode] {
            if let Some(other) = mode.strip_prefix("container:") {
                let other_id = self.records.resolve(other)?;
                if other_id == record.id {
                    return Err(EngineError::Invalid("a container cannot join its own namespace".into()));
                }
                *mode = format!("container:{other_id}");
            }
        }
        // IPC sysctls are set in the IPC namespace the container gets: never the host's,
        // neither directly nor through a container that runs in it.
        if let Some(key) = h.sysctls.keys().find(|k| crate::sysctls::is_ipc(k)) {
            let host_ipc = match h.ipc_mode.strip_prefix("container:") {
                Some(other) => self.records.read(other).is_ok_and(|t| t.host_config.ipc_mode == "host"),
                None => h.ipc_mode == "host",
            };
            if host_ipc {
                return Err(EngineError::Invalid(format!("sysctl {key:?} is not allowed in the host's ipc namespace")));
            }
        }
        if h.userns_mode == "host" && h.user_ns {
            return Err(EngineError::BadOption {
                option: "--userns".into(),
                value: "host".into(),
                reason: "conflicts with --user-ns".into(),
            });
        }
        if h.user_ns && (h.pid_mode.starts_with("container:") || h.ipc_mode.starts_with("container:")) {
            return Err(EngineError::Invalid(
                "--user-ns cannot be combined with joining another container's namespaces".into(),
            ));
        }
        // A user namespace cannot mount /proc or mqueue for namespaces the host's owns.
        if h.user_ns && (h.pid_mode == "host" || h.ipc_mode == "host" || h.uts_mode == "host") {
            return Err(EngineError::Invalid(
                "--user-ns cannot be combined with the host's pid, ipc or uts namespace".into(),
            ));
        }
        Ok(())
    }

    /// Before each start: opens the namespaces of the containers this one joins (see the
    /// module's documentation) and points the bundle's `config.json` at them. The result
    /// must live until the runtime has started the container.
    pub fn join_namespaces(&self, record: &Record) -> Result<Joined, EngineError> {
        let h = &record.host_config;
        let wanted: Vec<(&str, &str)> = [("pid", h.pid_mode.as_str()), ("ipc", h.ipc_mode.as_str())]
            .into_iter()
            .filter_map(|(kind, mode)| mode.strip_prefix("container:").map(|id| (kind, id)))
            .collect();
        let mut shm = None;
        if h.ipc_mode == "shareable" {
            shm = Some(self.mount_shm(&record.id)?);
        }
        if wanted.is_empty() && shm.is_none() {
            return Ok(Joined::default());
        }
        let me = std::process::id();
        let mut fds = Vec::new();
        let mut paths = Vec::new();
        for (kind, other) in wanted {
            let target = self.records.read(other).map_err(|_| {
                EngineError::State(format!(
                    "cannot join the {kind} namespace of container {other}: it no longer exists"
                ))
            })?;
            let target = self.reconcile(target);
            if !matches!(target.state.status, crate::record::Status::Running | crate::record::Status::Paused) {
                return Err(EngineError::State(format!(
                    "cannot join the {kind} namespace of container {}: it is not running",
                    target.name
                )));
            }
            if kind == "ipc" && !matches!(target.host_config.ipc_mode.as_str(), "shareable" | "host") {
                return Err(EngineError::State(format!(
                    "cannot join the IPC namespace of container {}: it is not shareable (run it with --ipc shareable)",
                    target.name
                )));
            }
            let fd = open_container_ns(target.state.pid, &target.id, kind).map_err(|e| {
                EngineError::State(format!("cannot join the {kind} namespace of container {}: {e}", target.name))
            })?;
            if kind == "ipc" && target.host_config.ipc_mode == "host" {
                if let Some(key) = h.sysctls.keys().find(|k| crate::sysctls::is_ipc(k)) {
                    return Err(EngineError::Invalid(format!(
                        "sysctl {key:?} is not allowed in the host's ipc namespace (container {} shares it)",
                        target.name
                    )));
                }
                shm = Some("/dev/shm".into());
            }
            if kind == "ipc" && target.host_config.ipc_mode == "shareable" {
                let dir = self.shm_dir(&target.id);
                if !lindocker_storage::overlay::is_mounted(&dir) {
                    return Err(EngineError::State(format!("container {} has no /dev/shm to share", target.name)));
                }
                shm = Some(dir);
            }
            paths.push((kind, format!("/proc/{me}/fd/{}", fd.as_raw_fd())));
            fds.push(fd);
        }
        let config = self.paths(&record.id).config();
        let bytes = std::fs::read(&config).map_err(|e| EngineError::io(&config, e))?;
        let mut spec: Value = serde_json::from_slice(&bytes)
            .map_err(|e| EngineError::Corrupt { path: config.clone(), reason: e.to_string() })?;
        let namespaces = spec["linux"]["namespaces"]
            .as_array_mut()
            .ok_or_else(|| EngineError::Corrupt { path: config.clone(), reason: "no linux.namespaces".into() })?;
        for (kind, path) in paths {
            namespaces.retain(|ns| ns["type"] != kind);
            namespaces.push(json!({ "type": kind, "path": path }));
        }
        if let Some(dir) = shm {
            bind_shm(&mut spec, &dir);
        }
        crate::bundle::write_config(&config, &spec)?;
        Ok(Joined { _fds: fds })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(parse_pid("host").unwrap(), "host");
        assert_eq!(parse_pid("container:web").unwrap(), "container:web");
        assert!(parse_pid("private").is_err());
        assert!(parse_pid("container:").is_err());
        for ok in ["", "private", "shareable", "none", "host", "container:db"] {
            assert_eq!(parse_ipc(ok).unwrap(), ok);
        }
        assert!(parse_ipc("bogus").is_err());
        assert!(parse_uts("host").is_ok() && parse_uts("container:x").is_err());
        assert!(parse_userns("host").is_ok() && parse_userns("remap").is_err());
    }

    #[test]
    fn a_process_outside_the_container_is_refused() {
        let me = std::process::id() as i32;
        let err = open_container_ns(me, &"a".repeat(64), "pid").unwrap_err();
        assert!(err.to_string().contains("is not container"), "{err}");
        assert!(open_container_ns(0, "x", "pid").is_err());
    }
}
