//! The systemd unit of a container: `linux.cgroupsPath` in systemd's `slice:prefix:name`
//! form, turned into a unit name, its parent slice and its cgroup path, as runc does it.
//!
//! Everything here is pure and checked before anything is created: a bad slice or unit
//! name is refused with the value in the message.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The slice a unit goes into when the cgroupsPath names none (runc's default for root).
pub const DEFAULT_SLICE: &str = "system.slice";

/// Longest unit name systemd accepts (`UNIT_NAME_MAX` less the NUL).
const UNIT_NAME_MAX: usize = 255;

/// What kind of transient unit holds the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitKind {
    /// `<prefix>-<name>.scope` in a slice: the usual case; it holds the container's
    /// processes and is delegated to us.
    Scope,
    /// A name ending in `.slice` asks for a slice of that name (runc's rule).
    Slice,
}

/// A container's systemd unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// The unit name, e.g. `cri-containerd-ID.scope`.
    pub name: String,
    /// The slice it belongs to, e.g. `system.slice` (`Slice=` of a scope, `Wants=` of a
    /// slice).
    pub slice: String,
    /// Scope or slice.
    pub kind: UnitKind,
    /// Its cgroup, absolute within each hierarchy: `/system.slice/cri-containerd-ID.scope`.
    pub path: PathBuf,
}

impl Unit {
    /// Parses `slice:prefix:name` (the cgroupsPath given with `--systemd-cgroup`); an
    /// empty path means `:<default_prefix>:<id>`, as runc's `:runc:<id>`.
    pub fn parse(cgroups_path: &str, default_prefix: &str, id: &str) -> Result<Unit> {
        let bad = |why: &str| Error::BadSystemdPath { path: cgroups_path.to_string(), reason: why.to_string() };
        let (slice, prefix, name) = if cgroups_path.is_empty() {
            ("", default_prefix, id)
        } else {
            let parts: Vec<&str> = cgroups_path.split(':').collect();
            let [slice, prefix, name] = parts[..] else {
                return Err(bad("expected the form \"slice:prefix:name\" for systemd cgroups"));
            };
            (slice, prefix, name)
        };
        let slice = if slice.is_empty() { DEFAULT_SLICE } else { slice };
        let slice_path = expand_slice(slice).map_err(|why| bad(&why))?;
        if name.is_empty() {
            return Err(bad("the name part is empty"));
        }
        let (unit_name, kind) = if name.ends_with(".slice") {
            (name.to_string(), UnitKind::Slice)
        } else {
            check_part(prefix).map_err(|why| bad(&format!("prefix {prefix:?}: {why}")))?;
            (format!("{prefix}-{name}.scope"), UnitKind::Scope)
        };
        check_part(name).map_err(|why| bad(&format!("name {name:?}: {why}")))?;
        refuse_escaped(&unit_name).map_err(|why| bad(&why))?;
        if unit_name.len() > UNIT_NAME_MAX {
            return Err(bad(&format!("the unit name {unit_name:?} is longer than {UNIT_NAME_MAX} bytes")));
        }
        let path = match kind {
            UnitKind::Scope => PathBuf::from(slice_path).join(&unit_name),
            // systemd places a slice by its own name, whatever slice wants it.
            UnitKind::Slice => PathBuf::from(expand_slice(&unit_name).map_err(|why| bad(&why))?),
        };
        Ok(Unit { name: unit_name, slice: slice.to_string(), kind, path })
    }
}

/// A prefix or name becomes part of a unit name and of a directory name: only the
/// characters systemd allows in unit names, and never a path.
fn check_part(part: &str) -> std::result::Result<(), String> {
    if let Some(c) = part.chars().find(|c| !(c.is_ascii_alphanumeric() || "_.-\\".contains(*c))) {
        return Err(format!("{c:?} is not allowed in a systemd unit name"));
    }
    if part == "." || part == ".." || part.starts_with('.') {
        return Err("must not start with '.'".into());
    }
    Ok(())
}

/// The controllers systemd knows (`cgroup_controller_table`): a unit named
/// `CONTROLLER.TYPE` gets a cgroup directory with a `_` before its name.
const SYSTEMD_CONTROLLERS: [&str; 14] = [
    "cpu",
    "cpuacct",
    "cpuset",
    "io",
    "blkio",
    "memory",
    "devices",
    "pids",
    "bpf-firewall",
    "bpf-devices",
    "bpf-foreign",
    "bpf-socket-bind",
    "bpf-restrict-network-interfaces",
    "bpf-bind-network-interface",
];

/// systemd's `cg_escape`: a unit whose name could clash with the kernel's files (or
/// starts with `_` or `.`) lives in `_NAME`, not `NAME`. The runtime's files (the device
/// filter, freeze, kill --all) would then go to a directory the container is not in:
/// such names are refused, as the path could not be told right.
fn refuse_escaped(unit: &str) -> std::result::Result<(), String> {
    let stem = unit.rsplit_once('.').map_or(unit, |(stem, _)| stem);
    let escaped = unit.starts_with(['_', '.'])
        || unit.starts_with("cgroup.")
        || ["notify_on_release", "release_agent", "tasks"].contains(&unit)
        || SYSTEMD_CONTROLLERS.contains(&stem);
    if escaped {
        return Err(format!(
            "unit name {unit:?}: systemd would escape it in the cgroup tree (a leading '_', or a controller's name)"
        ));
    }
    Ok(())
}

/// A slice name to its cgroup path, as systemd (and runc's `ExpandSlice`) nests slices by
/// their dashes: `a-b-c.slice` is `/a.slice/a-b.slice/a-b-c.slice`; `-.slice` is the root.
pub fn expand_slice(slice: &str) -> std::result::Result<String, String> {
    let invalid = |why: &str| format!("invalid slice name {slice:?}: {why}");
    let Some(stem) = slice.strip_suffix(".slice") else {
        return Err(invalid("must end in \".slice\""));
    };
    if stem.is_empty() {
        return Err(invalid("must not be just \".slice\""));
    }
    if slice.contains('/') {
        return Err(invalid("must not contain '/'"));
    }
    check_part(slice).map_err(|why| invalid(&why))?;
    if slice.len() > UNIT_NAME_MAX {
        return Err(invalid(&format!("longer than {UNIT_NAME_MAX} bytes")));
    }
    if stem == "-" {
        return Ok("/".into());
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for component in stem.split('-') {
        // "a--b.slice", "-a.slice" and "a-.slice" are not slices.
        if component.is_empty() {
            return Err(invalid("empty component between dashes (or a dash at the start or end)"));
        }
        let name = format!("{prefix}{component}.slice");
        refuse_escaped(&name).map_err(|why| invalid(&why))?;
        path.push('/');
        path.push_str(&name);
        prefix.push_str(component);
        prefix.push('-');
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_expand_by_their_dashes() {
        assert_eq!(expand_slice("system.slice").unwrap(), "/system.slice");
        assert_eq!(expand_slice("a-b-c.slice").unwrap(), "/a.slice/a-b.slice/a-b-c.slice");
        assert_eq!(expand_slice("-.slice").unwrap(), "/");
        for bad in [
            "",
            ".slice",
            "a",
            "a.scope",
            "a/b.slice",
            "../x.slice",
            "a--b.slice",
            "-a.slice",
            "a-.slice",
            "a b.slice",
            "x\n.slice",
            ".hidden.slice",
        ] {
            assert!(expand_slice(bad).is_err(), "{bad:?}");
        }
        assert!(expand_slice(&format!("{}.slice", "a".repeat(250))).is_err());
    }

    #[test]
    fn cri_paths_become_scopes_in_their_slice() {
        let u = Unit::parse("system.slice:cri-containerd:abc", "lindocker", "id").unwrap();
        assert_eq!(u.name, "cri-containerd-abc.scope");
        assert_eq!(u.slice, "system.slice");
        assert_eq!(u.kind, UnitKind::Scope);
        assert_eq!(u.path, PathBuf::from("/system.slice/cri-containerd-abc.scope"));
        let u = Unit::parse("kubepods-besteffort-pod1.slice:cri-containerd:abc", "x", "id").unwrap();
        assert_eq!(
            u.path,
            PathBuf::from(
                "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope"
            )
        );
    }

    #[test]
    fn defaults_are_runcs() {
        let u = Unit::parse(":docker:abc", "lindocker", "id").unwrap();
        assert_eq!(u.path, PathBuf::from("/system.slice/docker-abc.scope"));
        let u = Unit::parse("", "lindocker", "id1").unwrap();
        assert_eq!(u.name, "lindocker-id1.scope");
        assert_eq!(u.slice, "system.slice");
    }

    #[test]
    fn a_slice_name_makes_a_slice() {
        let u = Unit::parse("machine.slice:ignored:machine-test.slice", "x", "id").unwrap();
        assert_eq!(u.kind, UnitKind::Slice);
        assert_eq!(u.name, "machine-test.slice");
        assert_eq!(u.path, PathBuf::from("/machine.slice/machine-test.slice"));
    }

    #[test]
    fn bad_paths_are_refused() {
        for bad in [
            "system.slice:docker",
            "a:b:c:d",
            "/sys.slice:docker:abc",
            "system.slice/x.slice:docker:abc",
            "system:docker:abc",
            "system.slice:docker:",
            "system.slice:docker:../../etc",
            "system.slice:do/cker:abc",
            "system.slice:docker:a b",
            "system.slice:..:abc",
            "bad--name.slice:docker:abc",
        ] {
            let e = Unit::parse(bad, "lindocker", "id").unwrap_err().to_string();
            assert!(e.contains(bad), "{bad:?}: {e}");
        }
        assert!(Unit::parse(&format!("system.slice:p:{}", "a".repeat(250)), "x", "id").is_err());
    }

    #[test]
    fn names_systemd_would_escape_in_the_cgroup_tree_are_refused() {
        // systemd puts such a unit in `_NAME`: the runtime's own files (the device
        // filter, freeze, kill --all) would go to a directory the container is not in.
        for bad in [
            "system.slice:_p:abc",
            "system.slice:bpf:firewall",
            "system.slice:cgroup.x:abc",
            "system.slice:p:cpu.slice",
            "system.slice:p:_x.slice",
            "system.slice:p:memory.slice",
            "_x.slice:p:abc",
            "cpu.slice:p:abc",
            "io-x.slice:p:abc",
            "system.slice:p:bpf-firewall.slice",
        ] {
            let e = Unit::parse(bad, "lindocker", "id").unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("escape"), "{bad:?}: {e}");
        }
        for ok in [
            "system.slice:cpu:abc",
            "cpux.slice:p:abc",
            "system.slice:p:x_y",
            "system.slice:p:x-memory.slice",
            "a-pids.slice:p:abc",
        ] {
            assert!(Unit::parse(ok, "lindocker", "id").is_ok(), "{ok:?}");
        }
    }
}
