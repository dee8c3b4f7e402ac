//! Where a container's cgroup goes and how it is tuned beyond the limits:
//! `--cgroup-parent`, `--cgroupns`, `--cpuset-mems`, `--memory-swappiness`.

use crate::EngineError;
use crate::record::Record;

fn bad(option: &str, value: &str, reason: &str) -> EngineError {
    EngineError::BadOption { option: option.into(), value: value.into(), reason: reason.into() }
}

/// Checks `--cgroup-parent`: a path of cgroup names (letters, digits, `_`, `-`, `.`,
/// `@`; no `:`, which a runtime could take for systemd's `slice:prefix:name`), no `.` or
/// `..` component, no empty one inside, not the root. Absolute paths are taken from the
/// hierarchy's root as Docker takes them; relative ones go under the engine's parent
/// ([`container_cgroup`]). Returns it without a trailing `/`.
pub fn parse_cgroup_parent(value: &str) -> Result<String, EngineError> {
    let reject = |reason: &str| bad("--cgroup-parent", value, reason);
    let trimmed = value.trim_end_matches('/');
    let relative = trimmed.strip_prefix('/').unwrap_or(trimmed);
    if relative.is_empty() {
        return Err(reject("must name a cgroup (not the root)"));
    }
    if trimmed.len() > 4096 {
        return Err(reject("too long"));
    }
    for part in relative.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(reject("no empty, '.' or '..' components"));
        }
        if part.len() > 255 || !part.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.@".contains(&b)) {
            return Err(reject("cgroup names are letters, digits, '_', '-', '.' and '@'"));
        }
    }
    Ok(trimmed.to_owned())
}

/// The cgroup of container `id`: `<parent>/<id>`, the parent being its own
/// `--cgroup-parent` `own` (a relative one under `engine_parent`) or `engine_parent`.
pub fn container_cgroup(engine_parent: &str, own: &str, id: &str) -> String {
    let engine_parent = engine_parent.trim_end_matches('/');
    let parent = if own.is_empty() {
        engine_parent.to_owned()
    } else if own.starts_with('/') {
        own.to_owned()
    } else {
        format!("{engine_parent}/{own}")
    };
    format!("{parent}/{id}")
}

impl crate::Engine {
    /// The cgroup of `record`'s container (see [`container_cgroup`]).
    pub fn cgroup_of(&self, record: &Record) -> String {
        container_cgroup(&self.cgroup_parent, &record.host_config.cgroup_parent, &record.id)
    }
}

/// `--cgroupns host|private`: whether the container shares the host's cgroup namespace.
pub fn parse_cgroupns(value: &str) -> Result<bool, EngineError> {
    match value {
        "host" => Ok(true),
        "private" => Ok(false),
        _ => Err(bad("--cgroupns", value, "expected host or private")),
    }
}

/// `--cpuset-mems`: a list like `0-1,3` of memory nodes this host has
/// (`/sys/devices/system/node/online`; node 0 alone where that file is missing).
pub fn parse_cpuset_mems(value: &str) -> Result<String, EngineError> {
    let online = std::fs::read_to_string("/sys/devices/system/node/online").unwrap_or_else(|_| "0".into());
    let available = parse_list(online.trim()).unwrap_or_else(|| vec![0]);
    let wanted = parse_list(value).ok_or_else(|| bad("--cpuset-mems", value, "expected a list like 0-1,3"))?;
    if let Some(missing) = wanted.iter().find(|n| !available.contains(n)) {
        return Err(bad(
            "--cpuset-mems",
            value,
            &format!("requested memory node {missing} is not available (available: {})", online.trim()),
        ));
    }
    Ok(value.to_owned())
}

/// The numbers of a kernel list (`0-2,5`); `None` if malformed or a range runs backwards.
fn parse_list(text: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi): (u32, u32) = (lo.parse().ok()?, hi.parse().ok()?);
        if lo > hi || hi > 1 << 16 {
            return None;
        }
        out.extend(lo..=hi);
    }
    Some(out)
}

/// `--memory-swappiness`: 0 to 100, or -1 for the kernel's default (`None`).
pub fn parse_swappiness(value: &str) -> Result<Option<u64>, EngineError> {
    match value.parse::<i64>() {
        Ok(-1) => Ok(None),
        Ok(n @ 0..=100) => Ok(Some(n as u64)),
        _ => Err(bad("--memory-swappiness", value, "must be between 0 and 100 (or -1)")),
    }
}

/// Whether the kernel has a cgroup v1 memory controller, the only one with a swappiness
/// per cgroup.
pub fn swappiness_supported() -> bool {
    std::path::Path::new("/sys/fs/cgroup/memory/memory.swappiness").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_parents() {
        assert_eq!(parse_cgroup_parent("/a/b/").unwrap(), "/a/b");
        assert_eq!(parse_cgroup_parent("team/web").unwrap(), "team/web");
        assert_eq!(parse_cgroup_parent("my.slice").unwrap(), "my.slice");
        for bad in ["", "/", "//", "../x", "/a/../../b", "a/./b", "a//b", "a b", "a\nb", "a\0b", "a/*", "s.slice:p:n"] {
            assert!(parse_cgroup_parent(bad).is_err(), "{bad:?}");
        }
        assert_eq!(container_cgroup("/lindocker/", "", "i"), "/lindocker/i");
        assert_eq!(container_cgroup("/lindocker", "team", "i"), "/lindocker/team/i");
        assert_eq!(container_cgroup("/lindocker", "/own", "i"), "/own/i");
    }

    #[test]
    fn tuning_values() {
        assert!(parse_cgroupns("host").unwrap() && !parse_cgroupns("private").unwrap());
        assert!(parse_cgroupns("shared").is_err());
        assert_eq!(parse_cpuset_mems("0").unwrap(), "0");
        for bad in ["", "x", "1-0", "0-", "4096", "0,,1"] {
            assert!(parse_cpuset_mems(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_swappiness("-1").unwrap(), None);
        assert_eq!(parse_swappiness("0").unwrap(), Some(0));
        assert_eq!(parse_swappiness("100").unwrap(), Some(100));
        for bad in ["101", "-2", "lots", ""] {
            assert!(parse_swappiness(bad).is_err(), "{bad:?}");
        }
    }
}
