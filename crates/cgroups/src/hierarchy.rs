use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// One mounted cgroup v1 hierarchy: its controllers and where it is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Mount {
    /// Controllers bound to this hierarchy (`cpu`, `cpuacct`, `name=systemd`, ...).
    pub controllers: Vec<String>,
    /// Mount point, e.g. `/sys/fs/cgroup/memory`.
    pub mountpoint: PathBuf,
}

/// How the host mounts cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// Only cgroup v2 (the unified hierarchy).
    Unified {
        /// Mount point of cgroup2, usually `/sys/fs/cgroup`.
        mountpoint: PathBuf,
    },
    /// cgroup v1 controllers, with an optional cgroup2 beside them (a "hybrid" host).
    Legacy {
        /// The v1 hierarchies.
        v1: Vec<V1Mount>,
        /// The hybrid cgroup2 mount (`/sys/fs/cgroup/unified`), if any.
        unified: Option<PathBuf>,
    },
}

const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

impl Hierarchy {
    /// Reads the host's cgroup mounts from `/proc/self/mountinfo`.
    pub fn detect() -> Result<Hierarchy> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(crate::error::io_err("read", "/proc/self/mountinfo"))?;
        Self::from_mountinfo(&text)
    }

    /// Parses mountinfo text (split out so it can be tested on fixed input).
    pub fn from_mountinfo(text: &str) -> Result<Hierarchy> {
        let mut v1: Vec<V1Mount> = Vec::new();
        let mut unified: Option<PathBuf> = None;
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else { continue };
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            if left.len() < 5 || right.len() < 3 {
                continue;
            }
            let mountpoint = PathBuf::from(unescape(left[4]));
            match right[0] {
                "cgroup2" => {
                    unified.get_or_insert(mountpoint);
                }
                "cgroup" => {
                    let controllers: Vec<String> = right[2]
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                        .map(str::to_string)
                        .collect();
                    if controllers.is_empty() || v1.iter().any(|m| m.controllers == controllers) {
                        continue;
                    }
                    v1.push(V1Mount { controllers, mountpoint });
                }
                _ => {}
            }
        }
        match (v1.is_empty(), unified) {
            (true, Some(mountpoint)) => Ok(Hierarchy::Unified { mountpoint }),
            (true, None) => Err(Error::NoHierarchy),
            (false, unified) => Ok(Hierarchy::Legacy { v1, unified }),
        }
    }

    /// True when resources are written as cgroup v2 files.
    pub fn is_unified(&self) -> bool {
        matches!(self, Hierarchy::Unified { .. })
    }

    /// The v1 mount that holds `controller`, if the host has one.
    pub fn v1_mount(&self, controller: &str) -> Option<&Path> {
        match self {
            Hierarchy::Legacy { v1, .. } => {
                v1.iter().find(|m| m.controllers.iter().any(|c| c == controller)).map(|m| m.mountpoint.as_path())
            }
            Hierarchy::Unified { .. } => None,
        }
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let digits: String = chars.by_ref().take(3).collect();
            match u8::from_str_radix(&digits, 8) {
                Ok(b) => out.push(b as char),
                Err(_) => {
                    out.push('\\');
                    out.push_str(&digits);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:44 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_host_is_legacy_with_unified() {
        let h = Hierarchy::from_mountinfo(HYBRID).unwrap();
        assert!(!h.is_unified());
        assert_eq!(h.v1_mount("memory"), Some(Path::new("/sys/fs/cgroup/memory")));
        assert_eq!(h.v1_mount("cpu"), Some(Path::new("/sys/fs/cgroup/cpu")));
        assert_eq!(h.v1_mount("cpuacct"), Some(Path::new("/sys/fs/cgroup/cpu,cpuacct")));
        assert_eq!(h.v1_mount("name=systemd"), Some(Path::new("/sys/fs/cgroup/systemd")));
        assert_eq!(h.v1_mount("pids"), None);
        let Hierarchy::Legacy { unified, .. } = h else { panic!() };
        assert_eq!(unified, Some(PathBuf::from("/sys/fs/cgroup/unified")));
    }

    #[test]
    fn pure_v2_host() {
        let h = Hierarchy::from_mountinfo("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n").unwrap();
        assert_eq!(h, Hierarchy::Unified { mountpoint: "/sys/fs/cgroup".into() });
    }

    #[test]
    fn no_cgroups_is_an_error() {
        assert!(matches!(Hierarchy::from_mountinfo("1 0 8:1 / / rw - ext4 /dev/vda rw\n"), Err(Error::NoHierarchy)));
    }

    #[test]
    fn escaped_mountpoints() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
    }
}
