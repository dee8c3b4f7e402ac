//! OCI mount options -> `mount(2)` flags, propagation changes, recursive attributes and
//! file-system data, as runc and crun read them.

use lindocker_sys::mount_attr as attr;

/// A mount's options, sorted by how they are applied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// `MS_*` flags for the mount call.
    pub flags: u64,
    /// Propagation changes (`MS_PRIVATE|MS_REC`, ...), applied after mounting.
    pub propagation: Vec<u64>,
    /// `MOUNT_ATTR_*` to set recursively (`rro`, `rnosuid`, ...).
    pub rec_set: u64,
    /// `MOUNT_ATTR_*` to clear recursively (`rrw`, ...).
    pub rec_clear: u64,
    /// Everything else, passed to the file system (`mode=755`, `size=64k`).
    pub data: Vec<String>,
    /// `idmap` (false) or `ridmap` (true): an id-mapped bind mount.
    pub idmap: Option<bool>,
}

const MS: &[(&str, bool, u64)] = &[
    ("ro", true, libc::MS_RDONLY),
    ("rw", false, libc::MS_RDONLY),
    ("suid", false, libc::MS_NOSUID),
    ("nosuid", true, libc::MS_NOSUID),
    ("dev", false, libc::MS_NODEV),
    ("nodev", true, libc::MS_NODEV),
    ("exec", false, libc::MS_NOEXEC),
    ("noexec", true, libc::MS_NOEXEC),
    ("sync", true, libc::MS_SYNCHRONOUS),
    ("async", false, libc::MS_SYNCHRONOUS),
    ("dirsync", true, libc::MS_DIRSYNC),
    ("remount", true, libc::MS_REMOUNT),
    ("mand", true, libc::MS_MANDLOCK),
    ("nomand", false, libc::MS_MANDLOCK),
    ("atime", false, libc::MS_NOATIME),
    ("noatime", true, libc::MS_NOATIME),
    ("diratime", false, libc::MS_NODIRATIME),
    ("nodiratime", true, libc::MS_NODIRATIME),
    ("relatime", true, libc::MS_RELATIME),
    ("norelatime", false, libc::MS_RELATIME),
    ("strictatime", true, libc::MS_STRICTATIME),
    ("nostrictatime", false, libc::MS_STRICTATIME),
    ("bind", true, libc::MS_BIND),
    ("rbind", true, libc::MS_BIND | libc::MS_REC),
    ("silent", true, libc::MS_SILENT),
    ("loud", false, libc::MS_SILENT),
    ("iversion", true, libc::MS_I_VERSION),
    ("noiversion", false, libc::MS_I_VERSION),
    ("lazytime", true, libc::MS_LAZYTIME),
    ("nolazytime", false, libc::MS_LAZYTIME),
    ("nosymfollow", true, libc::MS_NOSYMFOLLOW),
    ("symfollow", false, libc::MS_NOSYMFOLLOW),
    ("defaults", true, 0),
];

const PROPAGATION: &[(&str, u64)] = &[
    ("private", libc::MS_PRIVATE),
    ("rprivate", libc::MS_PRIVATE | libc::MS_REC),
    ("shared", libc::MS_SHARED),
    ("rshared", libc::MS_SHARED | libc::MS_REC),
    ("slave", libc::MS_SLAVE),
    ("rslave", libc::MS_SLAVE | libc::MS_REC),
    ("unbindable", libc::MS_UNBINDABLE),
    ("runbindable", libc::MS_UNBINDABLE | libc::MS_REC),
];

/// (name, set, clear) for the recursive `mount_setattr` options.
const RECURSIVE: &[(&str, u64, u64)] = &[
    ("rro", attr::RDONLY, 0),
    ("rrw", 0, attr::RDONLY),
    ("rnosuid", attr::NOSUID, 0),
    ("rsuid", 0, attr::NOSUID),
    ("rnodev", attr::NODEV, 0),
    ("rdev", 0, attr::NODEV),
    ("rnoexec", attr::NOEXEC, 0),
    ("rexec", 0, attr::NOEXEC),
    ("rnodiratime", attr::NODIRATIME, 0),
    ("rdiratime", 0, attr::NODIRATIME),
    ("rrelatime", 0, attr::ATIME_MASK),
    ("rnoatime", attr::NOATIME, attr::ATIME_MASK),
    ("rstrictatime", attr::STRICTATIME, attr::ATIME_MASK),
    ("ratime", 0, attr::ATIME_MASK),
    ("rnostrictatime", 0, attr::ATIME_MASK),
    // As with runc: relatime is no attribute bit, so clearing it changes nothing.
    ("rnorelatime", 0, 0),
    ("rnosymfollow", attr::NOSYMFOLLOW, 0),
    ("rsymfollow", 0, attr::NOSYMFOLLOW),
];

/// The id-mapping options, and whether they map every mount below too.
const IDMAP: &[(&str, bool)] = &[("idmap", false), ("ridmap", true)];

/// Options of the runtime spec that lindocker-runtime does not implement: refused when
/// a spec is loaded, never passed on to a file system that would ignore them.
pub const UNSUPPORTED: &[&str] = &["tmpcopyup"];

/// Every option [`parse`] applies itself (the rest goes to the file system as data).
#[cfg(test)]
pub fn known() -> impl Iterator<Item = &'static str> {
    MS.iter()
        .map(|m| m.0)
        .chain(PROPAGATION.iter().map(|p| p.0))
        .chain(RECURSIVE.iter().map(|r| r.0))
        .chain(IDMAP.iter().map(|i| i.0))
}

/// Sorts `options` into flags, propagation, recursive attributes and data.
pub fn parse<S: AsRef<str>>(options: &[S]) -> MountOptions {
    let mut out = MountOptions::default();
    for o in options {
        let o = o.as_ref();
        if let Some((_, set, flag)) = MS.iter().find(|(n, _, _)| *n == o) {
            if *set {
                out.flags |= flag;
            } else {
                out.flags &= !flag;
            }
        } else if let Some((_, p)) = PROPAGATION.iter().find(|(n, _)| *n == o) {
            out.propagation.push(*p);
        } else if let Some((_, set, clear)) = RECURSIVE.iter().find(|(n, _, _)| *n == o) {
            out.rec_set |= set;
            out.rec_clear |= clear;
        } else if let Some((_, recursive)) = IDMAP.iter().find(|(n, _)| *n == o) {
            out.idmap = Some(*recursive);
        } else if o == "norbind" || o.is_empty() {
            // crun's extension (a bind is not recursive without rbind anyway).
        } else {
            out.data.push(o.to_string());
        }
    }
    out
}

impl MountOptions {
    /// Whether this is a bind mount.
    pub fn is_bind(&self) -> bool {
        self.flags & libc::MS_BIND != 0
    }

    /// Flags that need a second, remounting call after a bind mount (the kernel ignores
    /// them on the bind itself).
    pub fn remount_flags(&self) -> u64 {
        self.flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_options() {
        let o = parse(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
        assert_eq!(o.data, vec!["mode=755", "size=65536k"]);
        let o = parse(&["rbind", "ro", "rslave"]);
        assert!(o.is_bind());
        assert_eq!(o.flags, libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY);
        assert_eq!(o.remount_flags(), libc::MS_RDONLY);
        assert_eq!(o.propagation, vec![libc::MS_SLAVE | libc::MS_REC]);
    }

    #[test]
    fn features_lists_what_parse_applies() {
        let features = crate::features::features();
        let listed: Vec<&str> =
            features["mountOptions"].as_array().unwrap().iter().map(|o| o.as_str().unwrap()).collect();
        let mut known: Vec<&str> = known().collect();
        known.sort_unstable();
        let mut sorted = listed.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, known);
        for o in listed {
            assert!(parse(&[o]).data.is_empty(), "{o}");
        }
        let o = parse(&["nosymfollow", "defaults", "rnosymfollow"]);
        assert_eq!((o.flags, o.rec_set, o.data.len()), (libc::MS_NOSYMFOLLOW, attr::NOSYMFOLLOW, 0));
    }

    #[test]
    fn later_options_win_and_recursive_attrs() {
        let o = parse(&["ro", "rw", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(o.flags & libc::MS_RDONLY, 0);
        assert_eq!(o.rec_set, attr::RDONLY | attr::NOSUID | attr::NOATIME);
        assert_eq!(o.rec_clear, attr::ATIME_MASK);
    }
}
