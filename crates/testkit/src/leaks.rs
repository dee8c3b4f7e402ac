//! Proof that a container left nothing behind: cgroups, processes, mounts, state.

use std::path::{Path, PathBuf};

use lindocker_cgroups::{Hierarchy, Manager};

/// The directories of cgroup `path` in every hierarchy of this host.
pub fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    let Ok(h) = Hierarchy::detect() else { return Vec::new() };
    Manager::new(h, Path::new(path)).map(|m| m.dirs()).unwrap_or_default()
}

/// The host path of `file` of `controller` in cgroup `path`: in that controller's v1
/// hierarchy where the host has one (a v1 or hybrid host), else in the cgroup2 one.
pub fn cgroup_file(path: &str, controller: &str, file: &str) -> PathBuf {
    let h = Hierarchy::detect().expect("the host's cgroup mounts");
    let dir = match h.v1_mount(controller) {
        Some(m) => m.join(path.trim_start_matches('/')),
        None => Manager::new(h, Path::new(path)).expect("a cgroup path").dirs().pop().expect("a hierarchy"),
    };
    dir.join(file)
}

/// What is left of containers under `cgroup_parent`, of mounts under `dir`, and of
/// state under `state_root`. Empty means clean.
pub fn leftovers(cgroup_parent: &str, dir: &Path, state_root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for parent in cgroup_dirs(cgroup_parent) {
        if let Ok(entries) = std::fs::read_dir(&parent) {
            for e in entries.flatten() {
                if e.path().is_dir() {
                    out.push(format!("cgroup {}", e.path().display()));
                }
            }
        }
    }
    // Any process whose cgroup names our parent.
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for p in procs.flatten() {
            let name = p.file_name();
            if name.to_string_lossy().parse::<u32>().is_err() {
                continue;
            }
            // A zombie is dead; reaping it is its parent's business, not a leak.
            let stat = std::fs::read_to_string(p.path().join("stat")).unwrap_or_default();
            if stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')) {
                continue;
            }
            if let Ok(cg) = std::fs::read_to_string(p.path().join("cgroup"))
                && cg.contains(&format!("{cgroup_parent}/"))
            {
                out.push(format!("process {} in {cgroup_parent}", name.to_string_lossy()));
            }
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mounts.lines() {
        if line.contains(&*dir.to_string_lossy()) {
            out.push(format!("mount {line}"));
        }
    }
    if let Ok(entries) = std::fs::read_dir(state_root) {
        // "cache:*" (compiled seccomp programs) belongs to the runtime, not a container.
        for e in entries.flatten().filter(|e| !e.file_name().to_string_lossy().starts_with("cache:")) {
            out.push(format!("state {}", e.path().display()));
        }
    }
    out
}
