use std::fs;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::LinuxResources;

use crate::device_rules::DeviceRules;
use crate::devices_bpf;
use crate::error::io_err;
use crate::plan::{self, Write};
use crate::{Error, Hierarchy, Result};

/// One container's cgroup: the same path in every hierarchy the host mounts.
#[derive(Debug, Clone)]
pub struct Manager {
    hierarchy: Hierarchy,
    path: PathBuf,
}

impl Manager {
    /// A manager for `cgroups_path` (absolute, or relative to each hierarchy's root).
    pub fn new(hierarchy: Hierarchy, cgroups_path: &Path) -> Result<Manager> {
        let mut path = PathBuf::from("/");
        for c in cgroups_path.components() {
            match c {
                Component::Normal(part) => path.push(part),
                Component::RootDir | Component::CurDir => {}
                _ => return Err(Error::BadPath(cgroups_path.display().to_string())),
            }
        }
        if path == Path::new("/") {
            return Err(Error::BadPath(cgroups_path.display().to_string()));
        }
        Ok(Manager { hierarchy, path })
    }

    /// The cgroup path, absolute within each hierarchy.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The host's cgroup layout this manager writes to.
    pub fn hierarchy(&self) -> &Hierarchy {
        &self.hierarchy
    }

    pub(crate) fn under(&self, mountpoint: &Path) -> PathBuf {
        mountpoint.join(self.path.strip_prefix("/").unwrap_or(&self.path))
    }

    /// Every directory of this cgroup: one per v1 hierarchy, plus the unified one.
    pub fn dirs(&self) -> Vec<PathBuf> {
        match &self.hierarchy {
            Hierarchy::Unified { mountpoint } => vec![self.under(mountpoint)],
            Hierarchy::Legacy { v1, unified } => {
                v1.iter().map(|m| self.under(&m.mountpoint)).chain(unified.iter().map(|u| self.under(u))).collect()
            }
        }
    }

    /// The directory that holds `controller`'s files, if the host has that controller.
    fn dir_of(&self, controller: &str) -> Option<PathBuf> {
        match &self.hierarchy {
            Hierarchy::Unified { mountpoint } => Some(self.under(mountpoint)),
            Hierarchy::Legacy { unified, .. } => match self.hierarchy.v1_mount(controller) {
                Some(m) => Some(self.under(m)),
                // A hybrid host may hand a controller (hugetlb here) to cgroup2.
                None => unified.as_ref().map(|u| self.under(u)).filter(|d| {
                    fs::read_to_string(d.join("cgroup.controllers"))
                        .is_ok_and(|c| c.split_whitespace().any(|x| x == controller))
                }),
            },
        }
    }

    /// Whether the cgroup exists in any hierarchy.
    pub fn exists(&self) -> bool {
        self.dirs().iter().any(|d| d.is_dir())
    }

    /// Creates the cgroup (and missing parents) in every hierarchy.
    pub fn create(&self) -> Result<()> {
        match &self.hierarchy {
            Hierarchy::Unified { mountpoint } => self.create_v2(mountpoint),
            Hierarchy::Legacy { v1, unified } => {
                for m in v1 {
                    let cpuset = m.controllers.iter().any(|c| c == "cpuset");
                    self.create_v1(&m.mountpoint, cpuset)?;
                }
                if let Some(u) = unified {
                    let dir = self.under(u);
                    fs::create_dir_all(&dir).map_err(io_err("mkdir", &dir))?;
                }
                Ok(())
            }
        }
    }

    fn create_v1(&self, mountpoint: &Path, cpuset: bool) -> Result<()> {
        let mut dir = mountpoint.to_path_buf();
        for part in self.path.components().skip(1) {
            let parent = dir.clone();
            dir.push(part);
            match fs::create_dir(&dir) {
                Ok(()) => {
                    // A new v1 cpuset starts empty and refuses tasks until given the
                    // parent's CPUs and memory nodes.
                    if cpuset {
                        for file in ["cpuset.cpus", "cpuset.mems"] {
                            let value = read(&parent.join(file))?;
                            write(&dir.join(file), value.trim())?;
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err("mkdir", &dir)(e)),
            }
        }
        Ok(())
    }

    fn create_v2(&self, mountpoint: &Path) -> Result<()> {
        let mut dir = mountpoint.to_path_buf();
        let parts: Vec<_> = self.path.components().skip(1).collect();
        for (i, part) in parts.iter().enumerate() {
            // The root's subtree_control belongs to the host (we never write it); each
            // level below must delegate what it has to the next one.
            if i > 0 {
                enable_controllers(&dir);
            }
            dir.push(part);
            match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err("mkdir", &dir)(e)),
            }
        }
        Ok(())
    }

    /// Where device rules go as an eBPF program: the cgroup2 directory, unless a v1
    /// devices hierarchy exists (then its files hold the rules). A hybrid host without
    /// one still checks the programs of its cgroup2 hierarchy, which the container's
    /// processes are in.
    fn device_program_dir(&self) -> Option<PathBuf> {
        match &self.hierarchy {
            Hierarchy::Unified { mountpoint } => Some(self.under(mountpoint)),
            Hierarchy::Legacy { unified, .. } => match self.hierarchy.v1_mount("devices") {
                Some(_) => None,
                None => unified.as_ref().map(|u| self.under(u)),
            },
        }
    }

    /// The files and values `resources` means on this host's cgroup version (checked,
    /// nothing written).
    pub fn plan(&self, resources: &LinuxResources) -> Result<Vec<Write>> {
        if self.hierarchy.is_unified() {
            return plan::v2(resources);
        }
        let mut writes = plan::v1(resources)?;
        let current = self.dir_of("memory").and_then(|d| read(&d.join("memory.limit_in_bytes")).ok());
        plan::order_memory_v1(&mut writes, current.and_then(|c| c.trim().parse().ok()).unwrap_or(i64::MAX));
        Ok(writes)
    }

    /// Moves process `pid` into the cgroup in every hierarchy (for a process that cannot
    /// step in by itself: see [`crate::Entry`]), in [join order](Manager::join_order).
    pub fn add_process(&self, pid: i32) -> Result<()> {
        for dir in self.join_order() {
            write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// The directories in the order a process joins them: first those systemd tells a
    /// unit's processes by (cgroup2, where systemd tracks them on a hybrid host, then
    /// `name=systemd`, where it does in legacy mode), then the controllers. While the
    /// process is in its old unit's cgroup there, systemd may move it back to that unit
    /// in every controller (it re-realizes a service's cgroup when a sibling starts, and
    /// on cgroup v1 migrates the service's processes then); once it is out, systemd
    /// leaves it alone.
    fn join_order(&self) -> Vec<PathBuf> {
        match &self.hierarchy {
            Hierarchy::Unified { mountpoint } => vec![self.under(mountpoint)],
            Hierarchy::Legacy { v1, unified } => {
                let tracking = |m: &&crate::V1Mount| m.controllers.iter().any(|c| c == "name=systemd");
                let named = v1.iter().filter(tracking);
                let rest = v1.iter().filter(|m| !tracking(m));
                unified
                    .iter()
                    .map(|u| self.under(u))
                    .chain(named.chain(rest).map(|m| self.under(&m.mountpoint)))
                    .collect()
            }
        }
    }

    /// The directories of this cgroup whose `cgroup.procs` do not list `pid`.
    pub fn missing(&self, pid: i32) -> Vec<PathBuf> {
        let pid = pid.to_string();
        self.dirs()
            .into_iter()
            .filter(|d| !fs::read_to_string(d.join("cgroup.procs")).is_ok_and(|p| p.lines().any(|l| l.trim() == pid)))
            .collect()
    }

    /// Writes the limits of `resources`, and confines device access to its device
    /// rules: through the v1 devices controller's files, or an eBPF program on cgroup v2.
    pub fn apply(&self, resources: &LinuxResources) -> Result<()> {
        let writes = self.plan(resources)?;
        // Checked before anything is written. An empty list changes nothing (as on v1,
        // where it writes nothing).
        let device_rules =
            resources.devices().as_deref().filter(|d| !d.is_empty()).map(DeviceRules::from_oci).transpose()?;
        for Write { controller, file, value } in writes {
            let Some(dir) = self.dir_of(controller) else {
                if controller == "devices" {
                    // No v1 devices controller: the program below confines instead.
                    continue;
                }
                return Err(Error::Unsupported {
                    field: file,
                    reason: format!("the {controller} cgroup controller is not available on this host"),
                });
            };
            let mut path = dir.join(&file);
            let mut value = value;
            if !path.exists() && file.starts_with("blkio.weight") {
                // Kernels with only the BFQ scheduler name the weight files after it.
                path = dir.join(file.replace("blkio.", "blkio.bfq."));
            }
            if !path.exists() && file == "io.weight" {
                // Without io.cost, cgroup v2 weighs IO by BFQ alone, on blkio's 1-1000
                // scale (as runc does).
                path = dir.join("io.bfq.weight");
                value = plan::io_weight_to_bfq_line(&value);
            }
            if !path.exists() {
                return Err(Error::Unsupported {
                    field: file.clone(),
                    reason: format!(
                        "{} does not exist (controller not enabled, or not in this kernel)",
                        path.display()
                    ),
                });
            }
            write(&path, &value)?;
        }
        if let (Some(rules), Some(dir)) = (device_rules, self.device_program_dir()) {
            devices_bpf::install(&dir, &rules)?;
        }
        Ok(())
    }

    /// The processes in this cgroup (read from the first hierarchy that has it).
    pub fn procs(&self) -> Result<Vec<i32>> {
        for dir in self.dirs() {
            match fs::read_to_string(dir.join("cgroup.procs")) {
                Ok(text) => return Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect()),
                // Gone, or being removed (ENODEV: systemd removes an emptied scope's
                // cgroup while we look): no processes there.
                Err(e)
                    if e.kind() == ErrorKind::NotFound
                        || e.raw_os_error() == Some(rustix::io::Errno::NODEV.raw_os_error()) =>
                {
                    continue;
                }
                Err(e) => return Err(io_err("read", dir.join("cgroup.procs"))(e)),
            }
        }
        Ok(Vec::new())
    }

    /// Freezes (`true`) or thaws the cgroup and waits until the kernel says it is done.
    pub fn freeze(&self, frozen: bool) -> Result<()> {
        let (file, value, done): (_, _, fn(&str) -> bool) = if self.hierarchy.is_unified() {
            if frozen {
                ("cgroup.freeze", "1", |events| events.lines().any(|l| l == "frozen 1"))
            } else {
                ("cgroup.freeze", "0", |events| events.lines().any(|l| l == "frozen 0"))
            }
        } else if frozen {
            ("freezer.state", "FROZEN", |state| state.trim() == "FROZEN")
        } else {
            ("freezer.state", "THAWED", |state| state.trim() == "THAWED")
        };
        let dir = self.dir_of("freezer").ok_or_else(|| Error::Unsupported {
            field: "freezer".into(),
            reason: "the freezer cgroup controller is not available on this host".into(),
        })?;
        write(&dir.join(file), value)?;
        let check = if self.hierarchy.is_unified() { dir.join("cgroup.events") } else { dir.join(file) };
        for _ in 0..1000 {
            if done(&read(&check)?) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Err(Error::Io { op: "wait for", path: check, source: ErrorKind::TimedOut.into() })
    }

    /// Whether the cgroup is frozen (paused).
    pub fn is_frozen(&self) -> bool {
        let Some(dir) = self.dir_of("freezer") else { return false };
        if self.hierarchy.is_unified() {
            fs::read_to_string(dir.join("cgroup.freeze")).is_ok_and(|v| v.trim() == "1")
        } else {
            fs::read_to_string(dir.join("freezer.state")).is_ok_and(|v| v.trim() == "FROZEN")
        }
    }

    /// Removes the cgroup from every hierarchy. Its processes must have exited; the
    /// kernel may take a moment to notice, so EBUSY is retried briefly.
    pub fn destroy(&self) -> Result<()> {
        for dir in self.dirs() {
            let mut tries = 0;
            loop {
                match fs::remove_dir(&dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == ErrorKind::NotFound => break,
                    Err(e) if e.raw_os_error() == Some(libc_ebusy()) && tries < 200 => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return Err(io_err("rmdir", &dir)(e)),
                }
            }
        }
        Ok(())
    }
}

fn libc_ebusy() -> i32 {
    rustix::io::Errno::BUSY.raw_os_error()
}

/// Delegates every controller `dir` has to its children (best effort: a controller that
/// cannot be enabled shows up later as a missing file, with a clear error).
fn enable_controllers(dir: &Path) {
    let Ok(available) = fs::read_to_string(dir.join("cgroup.controllers")) else { return };
    let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    for c in available.split_whitespace() {
        if !enabled.split_whitespace().any(|e| e == c) {
            let _ = fs::write(dir.join("cgroup.subtree_control"), format!("+{c}"));
        }
    }
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(io_err("read", path))
}

fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value).map_err(io_err("write", path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::V1Mount;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lindocker-cgroups-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn paths_are_normalised_and_confined() {
        let h = Hierarchy::Unified { mountpoint: "/sys/fs/cgroup".into() };
        let m = Manager::new(h.clone(), Path::new("a/b")).unwrap();
        assert_eq!(m.path(), Path::new("/a/b"));
        assert_eq!(m.dirs(), vec![PathBuf::from("/sys/fs/cgroup/a/b")]);
        assert!(Manager::new(h.clone(), Path::new("/a/../../etc")).is_err());
        assert!(Manager::new(h, Path::new("/")).is_err());
    }

    #[test]
    fn device_rules_go_to_the_v1_controller_else_to_a_program_on_cgroup2() {
        let v1 = |c: &str| V1Mount { controllers: vec![c.into()], mountpoint: format!("/sys/fs/cgroup/{c}").into() };
        let unified = Some(PathBuf::from("/sys/fs/cgroup/unified"));
        let manager = |h| Manager::new(h, Path::new("/x/c")).unwrap();
        // This host: a v1 devices hierarchy beside a cgroup2 that has only hugetlb.
        let hybrid = manager(Hierarchy::Legacy { v1: vec![v1("memory"), v1("devices")], unified: unified.clone() });
        assert_eq!(hybrid.device_program_dir(), None);
        let no_devices = manager(Hierarchy::Legacy { v1: vec![v1("memory")], unified });
        assert_eq!(no_devices.device_program_dir(), Some(PathBuf::from("/sys/fs/cgroup/unified/x/c")));
        let v2 = manager(Hierarchy::Unified { mountpoint: "/sys/fs/cgroup".into() });
        assert_eq!(v2.device_program_dir(), Some(PathBuf::from("/sys/fs/cgroup/x/c")));
        let v1_only = manager(Hierarchy::Legacy { v1: vec![v1("memory")], unified: None });
        assert_eq!(v1_only.device_program_dir(), None);
    }

    #[test]
    fn a_process_joins_where_systemd_tracks_it_first() {
        let v1 = |c: &str| V1Mount { controllers: vec![c.into()], mountpoint: format!("/sys/fs/cgroup/{c}").into() };
        // Mount order, as systemd mounts them: name=systemd, the controllers, cgroup2 last.
        let h = Hierarchy::Legacy {
            v1: vec![v1("memory"), v1("name=systemd"), v1("cpu")],
            unified: Some("/sys/fs/cgroup/unified".into()),
        };
        let m = Manager::new(h, Path::new("/s.slice/c.slice")).unwrap();
        let order: Vec<String> = m.join_order().iter().map(|d| d.display().to_string()).collect();
        assert_eq!(
            order,
            [
                "/sys/fs/cgroup/unified/s.slice/c.slice",
                "/sys/fs/cgroup/name=systemd/s.slice/c.slice",
                "/sys/fs/cgroup/memory/s.slice/c.slice",
                "/sys/fs/cgroup/cpu/s.slice/c.slice",
            ]
        );
        let mut sorted = m.dirs();
        sorted.sort();
        let mut joined = m.join_order();
        joined.sort();
        assert_eq!(joined, sorted, "every hierarchy, once");
    }

    /// A fake v1 tree in a temp dir: the plan lands in the right files, cpuset is seeded
    /// from the parent, a missing controller is a clear error.
    #[test]
    fn v1_writes_into_a_fake_tree() {
        let root = temp_dir("v1");
        let mount = |c: &str| {
            let dir = root.join(c);
            fs::create_dir_all(&dir).unwrap();
            V1Mount { controllers: vec![c.to_string()], mountpoint: dir }
        };
        let v1 = vec![mount("memory"), mount("cpuset"), mount("pids")];
        fs::write(root.join("cpuset/cpuset.cpus"), "0-3\n").unwrap();
        fs::write(root.join("cpuset/cpuset.mems"), "0\n").unwrap();
        let m = Manager::new(Hierarchy::Legacy { v1, unified: None }, Path::new("/test/c1")).unwrap();
        m.create().unwrap();
        assert_eq!(fs::read_to_string(root.join("cpuset/test/c1/cpuset.cpus")).unwrap(), "0-3");
        // The fake tree has no kernel to create the files: make the ones we write.
        fs::write(root.join("memory/test/c1/memory.limit_in_bytes"), "").unwrap();
        fs::write(root.join("pids/test/c1/pids.max"), "").unwrap();
        let r: LinuxResources = serde_json::from_str(r#"{"memory":{"limit":1000},"pids":{"limit":7}}"#).unwrap();
        m.apply(&r).unwrap();
        assert_eq!(fs::read_to_string(root.join("memory/test/c1/memory.limit_in_bytes")).unwrap(), "1000");
        assert_eq!(fs::read_to_string(root.join("pids/test/c1/pids.max")).unwrap(), "7");
        let r: LinuxResources = serde_json::from_str(r#"{"blockIO":{"weight":100}}"#).unwrap();
        let err = m.apply(&r).unwrap_err().to_string();
        assert!(err.contains("blkio cgroup controller is not available"), "{err}");
        fs::remove_dir_all(&root).unwrap();
    }
}
