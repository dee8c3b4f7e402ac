//! Debian's podman with storage of its own (a temp root and runroot, vfs), the cgroupfs
//! manager and runc: what tests use to check that other tools read lindocker's images.
//! It never touches the machine's own podman storage.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A podman with a private store, removed (images first) when dropped.
pub struct Podman {
    work: PathBuf,
}

impl Podman {
    /// A podman whose store lives in a temp dir named after `name`. Its containers.conf
    /// asks ulimits this host grants (root's hard nofile limit is 20000 here; podman's
    /// defaults ask more) and runc (Debian's crun refuses this hybrid cgroup host).
    pub fn new(name: &str) -> Podman {
        let work = crate::temp_dir(&format!("{name}-podman"));
        std::fs::write(
            work.join("containers.conf"),
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nruntime = \"runc\"\n",
        )
        .unwrap();
        Podman { work }
    }

    /// Runs `podman args` against the private store.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("podman")
            .env("CONTAINERS_CONF", self.work.join("containers.conf"))
            .arg("--root")
            .arg(self.work.join("root"))
            .arg("--runroot")
            .arg(self.work.join("run"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .args(args)
            .output()
            .expect("podman is installed (scripts/install.sh installs it)")
    }

    /// Runs `podman args`, insisting on success; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "podman {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.run(&["rmi", "-a", "-f"]);
        let _ = std::fs::remove_dir_all(&self.work);
    }
}
