//! Host devices in a container: `--device HOST[:CONTAINER][:PERMS]` (the node made in
//! the container, and a device-cgroup rule allowing PERMS on it) and
//! `--device-cgroup-rule 'TYPE MAJOR:MINOR PERMS'`, both checked strictly where they
//! enter: what passes is exactly what the kernel's devices controller takes.

use std::fmt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::EngineError;

/// One `--device`, as Docker's `HostConfig.Devices` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceMapping {
    /// The device (or a directory of devices) on the host.
    pub path_on_host: String,
    /// Where it appears in the container.
    pub path_in_container: String,
    /// What the container may do with it: some of `r`, `w`, `m`.
    pub cgroup_permissions: String,
}

/// Whether `mode` is one to three distinct letters of `rwm` (Docker's `validDeviceMode`).
fn valid_mode(mode: &str) -> bool {
    !mode.is_empty()
        && mode.len() <= 3
        && mode.bytes().all(|b| matches!(b, b'r' | b'w' | b'm'))
        && mode.bytes().enumerate().all(|(i, b)| !mode.as_bytes()[..i].contains(&b))
}

/// An absolute path without `..` or NUL.
fn clean_absolute(path: &str) -> bool {
    path.starts_with('/') && !path.contains('\0') && !Path::new(path).components().any(|c| c == Component::ParentDir)
}

/// Parses `--device HOST[:CONTAINER][:PERMS]` as Docker's CLI does (`HOST:PERMS` when
/// the second part is a mode); the default permissions are `rwm`.
pub fn parse_device(value: &str) -> Result<DeviceMapping, EngineError> {
    let bad = |m: String| EngineError::Invalid(m);
    let parts: Vec<&str> = value.split(':').collect();
    let (host, container, mode) = match parts.as_slice() {
        [host] => (*host, *host, "rwm"),
        [host, mode] if valid_mode(mode) => (*host, *host, *mode),
        [host, container] => (*host, *container, "rwm"),
        [host, container, mode] => {
            if !valid_mode(mode) {
                return Err(bad(format!("bad mode specified: {mode}")));
            }
            (*host, *container, *mode)
        }
        _ => return Err(bad(format!("bad format for path: {value}"))),
    };
    if !clean_absolute(host) || !clean_absolute(container) {
        return Err(bad(format!("bad format for path: {value} (absolute paths without '..' are needed)")));
    }
    Ok(DeviceMapping {
        path_on_host: host.into(),
        path_in_container: container.into(),
        cgroup_permissions: mode.into(),
    })
}

/// One device-cgroup rule: `a`, `b` or `c`, major and minor (`None`: `*`), access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    /// `a` (all), `b` (block) or `c` (character).
    pub typ: char,
    /// The major number, or any.
    pub major: Option<u32>,
    /// The minor number, or any.
    pub minor: Option<u32>,
    /// Some of `r`, `w`, `m`, each once.
    pub access: String,
}

impl fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |v: Option<u32>| v.map_or_else(|| "*".to_owned(), |v| v.to_string());
        write!(f, "{} {}:{} {}", self.typ, n(self.major), n(self.minor), self.access)
    }
}

impl DeviceRule {
    /// The OCI `linux.resources.devices` entry allowing this.
    pub fn to_oci(&self) -> Value {
        let mut rule = json!({ "allow": true, "type": self.typ.to_string(), "access": self.access });
        if let Some(major) = self.major {
            rule["major"] = json!(major);
        }
        if let Some(minor) = self.minor {
            rule["minor"] = json!(minor);
        }
        rule
    }
}

/// Parses `--device-cgroup-rule 'c 1:3 rwm'` (Docker's form: one space between the
/// parts, numbers or `*`); anything else, a line break or a repeated letter included,
/// is refused.
pub fn parse_rule(value: &str) -> Result<DeviceRule, EngineError> {
    let bad = || EngineError::BadOption {
        option: "--device-cgroup-rule".into(),
        value: value.into(),
        reason: "invalid device cgroup format (expected 'TYPE MAJOR:MINOR ACCESS' like 'c 1:3 rwm')".into(),
    };
    let parts: Vec<&str> = value.split(' ').collect();
    let [typ, numbers, access] = parts.as_slice() else { return Err(bad()) };
    let typ = match *typ {
        "a" => 'a',
        "b" => 'b',
        "c" => 'c',
        _ => return Err(bad()),
    };
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let number = |n: &str| -> Result<Option<u32>, EngineError> {
        if n == "*" {
            Ok(None)
        } else if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            n.parse().map(Some).map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    if !valid_mode(access) {
        return Err(bad());
    }
    Ok(DeviceRule { typ, major: number(major)?, minor: number(minor)?, access: (*access).into() })
}

/// The OCI `linux.devices` entries and `linux.resources.devices` rules for `mapping`:
/// its host node (or every node under its host directory), looked up now.
pub fn resolve(mapping: &DeviceMapping) -> Result<(Vec<Value>, Vec<Value>), EngineError> {
    let host = Path::new(&mapping.path_on_host);
    let gather = |e: String| {
        EngineError::Invalid(format!(
            "error gathering device information while adding custom device {:?}: {e}",
            mapping.path_on_host
        ))
    };
    let meta = std::fs::metadata(host).map_err(|e| gather(e.to_string()))?;
    let mut found = Vec::new();
    if meta.is_dir() {
        collect(host, Path::new(&mapping.path_in_container), &mut found, 0);
    } else if meta.file_type().is_char_device() || meta.file_type().is_block_device() {
        found.push((mapping.path_in_container.clone(), meta));
    } else {
        return Err(gather("not a device node".into()));
    }
    let mut devices = Vec::new();
    let mut rules = Vec::new();
    for (path, meta) in found {
        let typ = if meta.file_type().is_block_device() { "b" } else { "c" };
        let (major, minor) = (rustix::fs::major(meta.rdev()), rustix::fs::minor(meta.rdev()));
        devices.push(json!({
            "path": path, "type": typ, "major": major, "minor": minor,
            "fileMode": meta.mode() & 0o7777, "uid": meta.uid(), "gid": meta.gid(),
        }));
        rules.push(
            json!({ "allow": true, "type": typ, "major": major, "minor": minor, "access": mapping.cgroup_permissions }),
        );
    }
    Ok((devices, rules))
}

/// The device nodes under `dir` (Docker's `--device /dev/snd`), as paths under `to`.
fn collect(dir: &Path, to: &Path, out: &mut Vec<(String, std::fs::Metadata)>, depth: u32) {
    if depth > 8 {
        return;
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else { continue };
        let target = to.join(entry.file_name());
        if meta.is_dir() {
            collect(&entry.path(), &target, out, depth + 1);
        } else if meta.file_type().is_char_device() || meta.file_type().is_block_device() {
            out.push((target.display().to_string(), meta));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices() {
        let d = parse_device("/dev/net/tun").unwrap();
        assert_eq!((d.path_in_container.as_str(), d.cgroup_permissions.as_str()), ("/dev/net/tun", "rwm"));
        let d = parse_device("/dev/net/tun:r").unwrap();
        assert_eq!((d.path_in_container.as_str(), d.cgroup_permissions.as_str()), ("/dev/net/tun", "r"));
        let d = parse_device("/dev/net/tun:/dev/t:wr").unwrap();
        assert_eq!((d.path_in_container.as_str(), d.cgroup_permissions.as_str()), ("/dev/t", "wr"));
        for bad in
            ["/dev/a:/dev/b:rwz", "/dev/a:/dev/b:rr", "a:/dev/b", "/dev/a:b", "/dev/a:/dev/../x", "/a:/b:r:x", ""]
        {
            assert!(parse_device(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rules() {
        assert_eq!(parse_rule("c 1:3 rwm").unwrap().to_string(), "c 1:3 rwm");
        assert_eq!(parse_rule("a *:* m").unwrap().to_string(), "a *:* m");
        assert_eq!(parse_rule("b 8:* rw").unwrap().major, Some(8));
        for bad in [
            "c 1:3 rwm\na *:* rwm",
            "c 1:3 rwx",
            "x 1:3 r",
            "c 1:3",
            "c -1:3 r",
            "c 1:3 rr",
            "c 1:3 r ",
            " c 1:3 r",
            "c  1:3 r",
            "c 4294967296:1 r",
            "c +1:3 r",
            "c 1:3:4 r",
            "c :3 r",
        ] {
            assert!(parse_rule(bad).is_err(), "{bad:?}");
        }
    }
}
