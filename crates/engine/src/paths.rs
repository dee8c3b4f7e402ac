//! Where a container's files are: one place that spells each name, instead of
//! `dir(id).join("...")` at every use.
//!
//! Most live in the container's directory `<root>/containers/<id>/`; its sockets, busy
//! lock and network namespace in the state directory (`/run/lindocker`), which a reboot
//! empties, and whose socket names are short enough for a socket address.

use std::path::{Path, PathBuf};

/// The paths of one container. Cheap to make (see [`crate::Engine::paths`]); makes nothing.
#[derive(Debug, Clone)]
pub struct ContainerPaths {
    dir: PathBuf,
    state: PathBuf,
    id: String,
}

impl ContainerPaths {
    /// Container `id`'s paths, its directory under `containers` (`<root>/containers`),
    /// the rest under the state directory `state`.
    pub fn new(containers: &Path, state: &Path, id: &str) -> ContainerPaths {
        ContainerPaths { dir: containers.join(id), state: state.to_owned(), id: id.to_owned() }
    }

    /// The container's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its configuration (`record.json`); its presence makes the container exist.
    pub fn record(&self) -> PathBuf {
        self.dir.join("record.json")
    }

    /// Its last state (`state.json`), written more often than the configuration.
    pub fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The container's lock file (see `Records::lock`).
    pub fn lock(&self) -> PathBuf {
        self.dir.join("lock")
    }

    /// The OCI bundle directory the runtime is given.
    pub fn bundle(&self) -> PathBuf {
        self.dir.join("bundle")
    }

    /// The bundle's `config.json`.
    pub fn config(&self) -> PathBuf {
        self.dir.join("bundle/config.json")
    }

    /// The mounted root filesystem (overlayfs `merged`).
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("merged")
    }

    /// The container's own read-write layer.
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// The init layer (/etc/hosts, /etc/hostname, /etc/resolv.conf).
    pub fn init(&self) -> PathBuf {
        self.dir.join("init")
    }

    /// The container's /etc/hosts as the engine writes it.
    pub fn hosts(&self) -> PathBuf {
        self.dir.join("init/etc/hosts")
    }

    /// The `json-file` log.
    pub fn log(&self) -> PathBuf {
        self.dir.join("log.json")
    }

    /// The shim's own diagnostics.
    pub fn shim_log(&self) -> PathBuf {
        self.dir.join("shim.log")
    }

    /// The OCI runtime's log.
    pub fn runtime_log(&self) -> PathBuf {
        self.dir.join("runtime.log")
    }

    /// The init's pid, as the runtime writes it.
    pub fn init_pid(&self) -> PathBuf {
        self.dir.join("init.pid")
    }

    /// The container's own /dev/shm (`--ipc shareable`/private).
    pub fn shm(&self) -> PathBuf {
        self.dir.join("shm")
    }

    /// The health check's last results.
    pub fn health(&self) -> PathBuf {
        self.dir.join(crate::health::FILE)
    }

    /// The running health probe's pid.
    pub fn health_pid(&self) -> PathBuf {
        self.dir.join("health.pid")
    }

    /// The health probe's runtime log.
    pub fn health_log(&self) -> PathBuf {
        self.dir.join("health.log")
    }

    /// An `exec`'s process (`process.json` for `runtime exec --process`); `suffix` tells
    /// concurrent execs apart.
    pub fn exec_process(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("exec-{suffix}.json"))
    }

    /// An `exec`'s runtime log.
    pub fn exec_log(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("exec-{suffix}.log"))
    }

    /// Where the runtime sends an `exec -t`'s pty master.
    pub fn exec_console_socket(&self, suffix: &str) -> PathBuf {
        self.state.join(format!("exec-{}-{suffix}.tty", self.short_id()))
    }

    /// The shim's attach socket.
    pub fn attach_socket(&self) -> PathBuf {
        self.state.join(format!("{}.sock", self.short_id()))
    }

    /// Where the runtime sends the container's pty master.
    pub fn console_socket(&self) -> PathBuf {
        self.state.join(format!("{}.tty", self.short_id()))
    }

    /// The busy lock (see `Engine::hold_busy`): in the state directory, since `run`
    /// takes it before the container's directory exists.
    pub fn busy(&self) -> PathBuf {
        self.state.join(format!("{}.busy", self.id))
    }

    /// Where the container's network namespace is bound.
    pub fn netns(&self) -> PathBuf {
        self.state.join("netns").join(&self.id)
    }

    /// The first 12 characters of the id (all of a shorter one): socket addresses are
    /// short.
    fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_before() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let p = ContainerPaths::new(Path::new("/var/lib/lindocker/containers"), Path::new("/run/lindocker"), id);
        let dir = format!("/var/lib/lindocker/containers/{id}");
        assert_eq!(p.dir(), Path::new(&dir));
        assert_eq!(p.record(), Path::new(&format!("{dir}/record.json")));
        assert_eq!(p.config(), Path::new(&format!("{dir}/bundle/config.json")));
        assert_eq!(p.rootfs(), Path::new(&format!("{dir}/merged")));
        assert_eq!(p.hosts(), Path::new(&format!("{dir}/init/etc/hosts")));
        assert_eq!(p.attach_socket(), Path::new("/run/lindocker/0123456789ab.sock"));
        assert_eq!(p.console_socket(), Path::new("/run/lindocker/0123456789ab.tty"));
        assert_eq!(p.exec_console_socket("x1"), Path::new("/run/lindocker/exec-0123456789ab-x1.tty"));
        assert_eq!(p.busy(), Path::new(&format!("/run/lindocker/{id}.busy")));
        assert_eq!(p.netns(), Path::new(&format!("/run/lindocker/netns/{id}")));
    }
}
