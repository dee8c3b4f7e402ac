//! The systemd cgroup driver: a container's cgroup is a transient unit of systemd's (a
//! scope in a slice, made over D-Bus), as with runc's `--systemd-cgroup`, so that on a
//! systemd host the one manager of the cgroup tree knows it.
//!
//! [`unit`] turns the `slice:prefix:name` cgroupsPath into a unit; [`properties`] turns
//! limits into unit properties; [`bus`] talks to systemd. The files are still written
//! afterwards (systemd knows only some limits), by the cgroupfs [`crate::Manager`].

pub mod bus;
pub mod properties;
pub mod unit;

use std::path::Path;

use oci_spec::runtime::LinuxResources;

pub use bus::Systemd;
pub use unit::{Unit, UnitKind, expand_slice};

use crate::{Manager, Result};
use properties::{Property, Value};

/// Whether the host was booted with systemd (`sd_booted(3)`: `/run/systemd/system` is a
/// directory).
pub fn is_running() -> bool {
    Path::new("/run/systemd/system").symlink_metadata().is_ok_and(|m| m.is_dir())
}

/// The properties every container unit gets: where it goes, accounting on for every
/// controller (as runc: a controller joined late counts less), no implicit dependencies.
fn base_properties(unit: &Unit, pid: i32, unified: bool) -> Vec<Property> {
    let mut props: Vec<Property> = vec![("Description", Value::Str(format!("lindocker container {}", unit.name)))];
    match unit.kind {
        UnitKind::Scope => {
            props.push(("Slice", Value::Str(unit.slice.clone())));
            // The container may make cgroups below its own (systemd in a container does).
            props.push(("Delegate", Value::Bool(true)));
            props.push(("PIDs", Value::U32s(vec![pid as u32])));
        }
        // A slice holds no process of its own in systemd's eyes: the process is moved in
        // through the file system once the slice exists.
        UnitKind::Slice => props.push(("Wants", Value::Strs(vec![unit.slice.clone()]))),
    }
    props.push(("MemoryAccounting", Value::Bool(true)));
    props.push(("CPUAccounting", Value::Bool(true)));
    props.push((if unified { "IOAccounting" } else { "BlockIOAccounting" }, Value::Bool(true)));
    props.push(("TasksAccounting", Value::Bool(true)));
    props.push(("DefaultDependencies", Value::Bool(false)));
    props
}

/// systemd's version when a property depends on it, else any (saves a round trip).
fn version_for(bus: &Systemd, writes: &[crate::plan::Write]) -> Result<u32> {
    let needs = writes
        .iter()
        .any(|w| matches!(w.file.as_str(), "cpuset.cpus" | "cpuset.mems" | "cpu.max" | "cpu.cfs_period_us"));
    if needs { bus.version() } else { Ok(u32::MAX) }
}

/// Moves the container's process `pid` into the unit's cgroup in every hierarchy (the v1
/// hierarchies systemd leaves alone, or all of them for a slice, which holds no process in
/// systemd's eyes). systemd may be re-realizing the cgroup of the unit the process came
/// from meanwhile (starting a unit makes it re-realize siblings), and on cgroup v1 that
/// moves the unit's processes back to it, controller by controller: the process joins
/// where systemd tracks it first (see [`Manager::add_process`]), and any move of
/// systemd's that raced with ours is undone.
fn join(cgroup: &Manager, pid: i32) -> Result<()> {
    cgroup.add_process(pid)?;
    for _ in 0..5 {
        std::thread::sleep(std::time::Duration::from_millis(10));
        let missing = cgroup.missing(pid);
        if missing.is_empty() {
            return Ok(());
        }
        cgroup.add_process(pid)?;
    }
    match cgroup.missing(pid).first() {
        None => Ok(()),
        Some(dir) => Err(crate::Error::Systemd(format!(
            "process {pid} keeps leaving {} (systemd moves it elsewhere)",
            dir.display()
        ))),
    }
}

impl Unit {
    /// Makes the unit with process `pid` in it and the limits of `resources`, waits until
    /// systemd has started it, then writes every limit to the cgroup's files. The process
    /// must not have made children yet (they would stay where they are).
    ///
    /// On failure nothing of the unit is left, and a unit of that name that was there
    /// before (another container's scope, a slice of the host's) is not touched: the
    /// caller must not stop the unit after an error.
    pub fn start(&self, cgroup: &Manager, pid: i32, resources: Option<&LinuxResources>) -> Result<()> {
        let unified = cgroup.hierarchy().is_unified();
        // systemd lets a transient slice take the name of one that is active already
        // (made as the `Slice=` of other units): that slice and all in it would be the
        // container's, stopped with it. An active slice has its cgroup; ours has none yet.
        if self.kind == UnitKind::Slice && cgroup.exists() {
            return Err(crate::Error::Systemd(format!(
                "slice {} exists already ({}): not this container's to take",
                self.name,
                self.path.display()
            )));
        }
        // Checked before systemd hears of it.
        let writes = resources.map(|r| cgroup.plan(r)).transpose()?.unwrap_or_default();
        let bus = Systemd::connect()?;
        let mut props = base_properties(self, pid, unified);
        props.extend(properties::from_writes(&writes, unified, version_for(&bus, &writes)?)?);
        bus.start_transient_unit(&self.name, &props)?;
        // The unit is ours from here: undone if what follows fails.
        let rest = (|| {
            // Like runc: the cgroup v1 hierarchies systemd does not manage, and on v2 the
            // controllers for the unit's own children.
            cgroup.create()?;
            if !unified || self.kind == UnitKind::Slice {
                join(cgroup, pid)?;
            }
            if let Some(r) = resources {
                cgroup.apply(r)?;
            }
            Ok(())
        })();
        if rest.is_err() {
            let _ = self.stop(cgroup);
        }
        rest
    }

    /// Changes the limits of the running unit: its properties, then the files.
    pub fn update(&self, cgroup: &Manager, resources: &LinuxResources) -> Result<()> {
        let unified = cgroup.hierarchy().is_unified();
        let writes = cgroup.plan(resources)?;
        let bus = Systemd::connect()?;
        let props = properties::from_writes(&writes, unified, version_for(&bus, &writes)?)?;
        if !props.is_empty() {
            bus.set_unit_properties(&self.name, &props)?;
        }
        cgroup.apply(resources)
    }

    /// Stops the unit and waits until systemd has removed it, then removes what is left
    /// of the cgroup that systemd did not make (cgroup v1 hierarchies).
    pub fn stop(&self, cgroup: &Manager) -> Result<()> {
        Systemd::connect()?.stop_unit(&self.name)?;
        cgroup.destroy()
    }
}
