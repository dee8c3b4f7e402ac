//! `--mount` as Docker parses it (a CSV record of `key=value` fields, Docker's CLI's
//! checks, then its daemon's), and relative host paths of `-v`/`--mount`, resolved
//! against the caller's working directory as Docker's CLI 23+ does.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::EngineError;
use crate::options::{MountSpec, check_mount_target};

/// One `--mount`, shaped as Docker's `HostConfig.Mounts` entry (what `inspect` shows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct MountRequest {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type")]
    pub typ: String,
    /// The host path (bind) or the volume's name (volume; empty: anonymous).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Where it appears in the container.
    pub target: String,
    /// Mounted read-only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Docker Desktop's hint; accepted and ignored, as on Linux.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub consistency: String,
    /// `bind-propagation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    /// `volume-nocopy`, `volume-opt`, `volume-label`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
    /// `tmpfs-size`, `tmpfs-mode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

/// Docker's `BindOptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct BindOptions {
    /// `private`, `rprivate`, `shared`, `rshared`, `slave` or `rslave`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub propagation: String,
    /// `bind-recursive=disabled` or `bind-nonrecursive`: a plain (not recursive) bind.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub non_recursive: bool,
}

/// Docker's `VolumeOptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeOptions {
    /// Do not fill a new volume with the image's files at the target.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_copy: bool,
    /// `volume-label`s for a volume this creates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `volume-opt`s: the local driver's options.
    #[serde(default)]
    pub driver_config: DriverConfig,
}

/// Docker's `Driver` (of `VolumeOptions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DriverConfig {
    /// Only `local` (or empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `volume-opt` keys and values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// Docker's `TmpfsOptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TmpfsOptions {
    /// Size in bytes (0: the kernel's default).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size_bytes: i64,
    /// Permission bits of its root.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub mode: u32,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// The propagation modes Docker accepts.
pub const PROPAGATIONS: [&str; 6] = ["private", "rprivate", "shared", "rshared", "slave", "rslave"];

/// Splits one CSV record as Go's `encoding/csv` reads it (a field may be quoted, `""`
/// is a quote inside one); a bare quote in an unquoted field, text after a closing
/// quote or an unquoted line break is an error.
pub fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    let mut column = 0usize;
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            column += 1;
            loop {
                match chars.next() {
                    None => {
                        return Err(format!(
                            "parse error on column {column}: extraneous or missing \" in quoted-field"
                        ));
                    }
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        column += 2;
                        field.push('"');
                    }
                    Some('"') => {
                        column += 1;
                        break;
                    }
                    Some(c) => {
                        column += 1;
                        field.push(c);
                    }
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => {
                    column += 1;
                    fields.push(field);
                    continue;
                }
                Some(_) => {
                    return Err(format!("parse error on column {column}: extraneous or missing \" in quoted-field"));
                }
            }
        }
        loop {
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => {
                    column += 1;
                    fields.push(field);
                    break;
                }
                Some('"') => return Err(format!("parse error on column {column}: bare \" in non-quoted-field")),
                Some('\n' | '\r') => return Err(format!("parse error on column {column}: line break in a field")),
                Some(c) => {
                    column += 1;
                    field.push(c);
                }
            }
        }
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(key: &str, value: &str) -> Result<bool, EngineError> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(EngineError::Invalid(format!("invalid value for {key}: {value}"))),
    }
}

/// Parses `--mount VALUE` as Docker's CLI does; a relative bind source (`.`, `./x`,
/// `../x`) is made absolute against `cwd`. Checks what Docker's daemon checks that
/// needs no filesystem (the bind source's existence is checked at create).
pub fn parse_mount(value: &str, cwd: &Path) -> Result<MountRequest, EngineError> {
    let invalid = |m: String| EngineError::Invalid(m);
    let fields = split_csv(value).map_err(invalid)?;
    let mut m = MountRequest { typ: "volume".into(), ..MountRequest::default() };
    for field in &fields {
        let Some((key, val)) = field.split_once('=') else {
            match field.as_str() {
                "readonly" | "ro" => m.read_only = true,
                "volume-nocopy" => m.volume_options.get_or_insert_with(Default::default).no_copy = true,
                "bind-nonrecursive" => m.bind_options.get_or_insert_with(Default::default).non_recursive = true,
                _ => return Err(invalid(format!("invalid field '{field}' must be a key=value pair"))),
            }
            continue;
        };
        match key {
            "type" => m.typ = val.to_ascii_lowercase(),
            "source" | "src" => m.source = val.into(),
            "target" | "dst" | "destination" => m.target = val.into(),
            "readonly" | "ro" => m.read_only = parse_bool(key, val)?,
            "consistency" => m.consistency = val.to_ascii_lowercase(),
            "bind-propagation" => {
                m.bind_options.get_or_insert_with(Default::default).propagation = val.to_ascii_lowercase()
            }
            "volume-nocopy" => m.volume_options.get_or_insert_with(Default::default).no_copy = parse_bool(key, val)?,
            "bind-nonrecursive" => {
                m.bind_options.get_or_insert_with(Default::default).non_recursive = parse_bool(key, val)?
            }
            "bind-recursive" => {
                m.bind_options.get_or_insert_with(Default::default).non_recursive = match val {
                    "enabled" => false,
                    "disabled" => true,
                    // (Docker's writable/readonly need recursive read-only mounts: not built.)
                    _ => return Err(invalid(format!("invalid value for {key}: {val} (enabled or disabled)"))),
                }
            }
            "volume-label" => {
                let (k, v) = val.split_once('=').unwrap_or((val, ""));
                if !k.is_empty() {
                    m.volume_options.get_or_insert_with(Default::default).labels.insert(k.into(), v.into());
                }
            }
            "volume-driver" => m.volume_options.get_or_insert_with(Default::default).driver_config.name = val.into(),
            "volume-opt" => {
                let (k, v) = val.split_once('=').unwrap_or((val, ""));
                if !k.is_empty() {
                    m.volume_options
                        .get_or_insert_with(Default::default)
                        .driver_config
                        .options
                        .insert(k.into(), v.into());
                }
            }
            "tmpfs-size" => {
                let size = crate::options::parse_bytes(key, val)
                    .ok()
                    .filter(|s| *s >= 0)
                    .ok_or_else(|| invalid(format!("invalid value for {key}: {val}")))?;
                m.tmpfs_options.get_or_insert_with(Default::default).size_bytes = size;
            }
            "tmpfs-mode" => {
                let mode = u32::from_str_radix(val, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| invalid(format!("invalid value for {key}: {val}")))?;
                m.tmpfs_options.get_or_insert_with(Default::default).mode = mode;
            }
            _ => return Err(invalid(format!("unexpected key '{key}' in '{field}'"))),
        }
    }
    if m.target.is_empty() {
        return Err(invalid("target is required".into()));
    }
    for (given, prefix) in [
        (m.volume_options.is_some(), "volume"),
        (m.bind_options.is_some(), "bind"),
        (m.tmpfs_options.is_some(), "tmpfs"),
    ] {
        if given && m.typ != prefix {
            return Err(invalid(format!("cannot mix '{prefix}-*' options with mount type '{}'", m.typ)));
        }
    }
    // What Docker's daemon checks.
    let config = |why: String| invalid(format!("invalid mount config for type {:?}: {why}", m.typ));
    check_mount_target(&m.target).map_err(|why| config(format!("invalid mount path: '{}' {why}", m.target)))?;
    match m.typ.as_str() {
        "bind" => {
            if m.source.is_empty() {
                return Err(config("field Source must not be empty".into()));
            }
            m.source = absolute(&m.source, cwd).display().to_string();
            if m.source.contains('\0') {
                return Err(config("the source must not contain NUL".into()));
            }
            if let Some(p) = m.bind_options.as_ref().map(|b| b.propagation.as_str())
                && !p.is_empty()
                && !PROPAGATIONS.contains(&p)
            {
                return Err(invalid(format!("invalid propagation mode: {p}")));
            }
        }
        "volume" => {
            if !m.source.is_empty() {
                crate::volumes::check_name(&m.source)?;
            }
            if let Some(v) = &m.volume_options {
                if !(v.driver_config.name.is_empty() || v.driver_config.name == "local") {
                    return Err(config(format!(
                        "volume driver {:?} is not supported (local only)",
                        v.driver_config.name
                    )));
                }
                crate::volumes::local_mount(&v.driver_config.options)?;
            }
        }
        "tmpfs" => {
            if !m.source.is_empty() {
                return Err(config("field Source must not be specified".into()));
            }
        }
        _ => return Err(config("mount type unknown".into())),
    }
    Ok(m)
}

impl MountRequest {
    /// The mount the container gets (a new anonymous volume gets a fresh name).
    pub fn to_spec(&self) -> MountSpec {
        match self.typ.as_str() {
            "bind" => MountSpec::Bind {
                source: self.source.clone().into(),
                target: self.target.clone(),
                readonly: self.read_only,
                propagation: self.bind_options.as_ref().map(|b| b.propagation.clone()).filter(|p| !p.is_empty()),
                nonrecursive: self.bind_options.as_ref().is_some_and(|b| b.non_recursive),
            },
            "tmpfs" => {
                let mut options = Vec::new();
                if let Some(t) = &self.tmpfs_options {
                    if t.size_bytes > 0 {
                        options.push(format!("size={}", t.size_bytes));
                    }
                    if t.mode != 0 {
                        options.push(format!("mode={:o}", t.mode));
                    }
                }
                if self.read_only {
                    options.push("ro".into());
                }
                MountSpec::Tmpfs { target: self.target.clone(), options }
            }
            _ => MountSpec::Volume {
                anonymous: self.source.is_empty(),
                name: if self.source.is_empty() { crate::ids::new_id() } else { self.source.clone() },
                target: self.target.clone(),
                readonly: self.read_only,
                nocopy: self.volume_options.as_ref().is_some_and(|v| v.no_copy),
            },
        }
    }
}

/// Docker's check of a bind's propagation against its source's mount (`mountinfo`: the
/// text of `/proc/self/mountinfo`): `shared`/`rshared` need the mount holding `source`
/// to be shared, `slave`/`rslave` shared or a slave; else the propagation could not
/// happen and Docker refuses.
pub fn check_propagation(mountinfo: &str, source: &Path, propagation: &str) -> Result<(), EngineError> {
    let needs_shared = matches!(propagation, "shared" | "rshared");
    if !needs_shared && !matches!(propagation, "slave" | "rslave") {
        return Ok(());
    }
    // The mount holding `source`: the last one (in mount order) whose mount point is the
    // longest prefix of it.
    let mut best: Option<(usize, &str, Vec<&str>)> = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(point) = fields.get(4) else { continue };
        let optional: Vec<&str> = fields.iter().skip(6).take_while(|f| **f != "-").copied().collect();
        if source.starts_with(point) && best.as_ref().is_none_or(|(len, _, _)| point.len() >= *len) {
            best = Some((point.len(), point, optional));
        }
    }
    let Some((_, point, optional)) = best else { return Ok(()) };
    let shared = optional.iter().any(|o| o.starts_with("shared:"));
    let slave = optional.iter().any(|o| o.starts_with("master:"));
    if needs_shared && !shared {
        return Err(EngineError::Invalid(format!(
            "path {} is mounted on {point} but it is not a shared mount",
            source.display()
        )));
    }
    if !needs_shared && !shared && !slave {
        return Err(EngineError::Invalid(format!(
            "path {} is mounted on {point} but it is not a shared or slave mount",
            source.display()
        )));
    }
    Ok(())
}

/// `source` made absolute against `cwd` if it is relative (Docker's CLI: a host path
/// starting with `.`), without `.` and `..` parts.
pub fn absolute(source: &str, cwd: &Path) -> PathBuf {
    let joined = if source.starts_with('/') { PathBuf::from(source) } else { cwd.join(source) };
    let mut out = PathBuf::from("/");
    for part in joined.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// A `-v` value with a relative host part (`./x`, `.`, `..`, `../x`) made absolute
/// against `cwd`; anything else as given.
pub fn resolve_volume_source(spec: &str, cwd: &Path) -> String {
    match spec.split_once(':') {
        Some((host, rest)) if host.starts_with('.') => format!("{}:{rest}", absolute(host, cwd).display()),
        _ => spec.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_as_go_reads_it() {
        assert_eq!(split_csv("a,b,,c").unwrap(), ["a", "b", "", "c"]);
        assert_eq!(split_csv("\"src=/a,b\",dst=/c").unwrap(), ["src=/a,b", "dst=/c"]);
        assert_eq!(split_csv("\"say \"\"hi\"\"\"").unwrap(), ["say \"hi\""]);
        assert!(split_csv("a\"b").is_err());
        assert!(split_csv("\"ab").is_err());
        assert!(split_csv("\"ab\"c").is_err());
        assert!(split_csv("a\nb").is_err());
    }

    #[test]
    fn mounts() {
        let cwd = Path::new("/home/u/app");
        let m = parse_mount("type=bind,src=./data,dst=/x,ro", cwd).unwrap();
        assert_eq!(m.source, "/home/u/app/data");
        assert!(m.read_only);
        assert_eq!(parse_mount("type=bind,src=..,dst=/x", cwd).unwrap().source, "/home/u");
        for flat in ["type=bind,src=/a,dst=/x,bind-nonrecursive", "type=bind,src=/a,dst=/x,bind-recursive=disabled"] {
            assert!(matches!(parse_mount(flat, cwd).unwrap().to_spec(), MountSpec::Bind { nonrecursive: true, .. }));
        }
        assert!(parse_mount("type=bind,src=/a,dst=/x,bind-recursive=readonly", cwd).is_err());
        let v = parse_mount("source=data,target=/v,volume-nocopy", cwd).unwrap();
        assert_eq!(v.typ, "volume");
        assert!(matches!(v.to_spec(), MountSpec::Volume { nocopy: true, anonymous: false, .. }));
        let t = parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770", cwd).unwrap();
        assert_eq!(
            t.to_spec(),
            MountSpec::Tmpfs { target: "/t".into(), options: vec!["size=1048576".into(), "mode=1770".into()] }
        );
        for bad in [
            "type=bind,dst=/x",
            "type=bind,src=/a",
            "type=bind,src=/a,dst=/x,bind-propagation=up",
            "type=volume,src=a/b,dst=/x",
            "type=tmpfs,dst=/x,tmpfs-mode=8",
            "type=tmpfs,dst=/x,ro=2",
            "type=bind,src=/a,dst=/",
            "type=bind,src=/a,dst=/x/../..",
            "type=npipe,src=/a,dst=/x",
        ] {
            assert!(parse_mount(bad, cwd).is_err(), "{bad}");
        }
    }

    #[test]
    fn propagation_needs_a_fitting_source() {
        let info = "27 1 254:0 / / rw - ext4 /dev/vda rw\n30 27 0:5 / /srv rw shared:7 - tmpfs t rw\n31 27 0:6 / /mnt rw master:3 - tmpfs t rw\n";
        assert!(check_propagation(info, Path::new("/tmp/x"), "rprivate").is_ok());
        assert!(
            check_propagation(info, Path::new("/tmp/x"), "rshared")
                .unwrap_err()
                .to_string()
                .contains("mounted on / but it is not a shared mount")
        );
        assert!(check_propagation(info, Path::new("/tmp/x"), "slave").is_err());
        assert!(check_propagation(info, Path::new("/srv/x"), "rshared").is_ok());
        assert!(check_propagation(info, Path::new("/mnt/x"), "rslave").is_ok());
        assert!(check_propagation(info, Path::new("/mnt/x"), "shared").is_err());
    }

    #[test]
    fn relative_volumes() {
        let cwd = Path::new("/w/d");
        assert_eq!(resolve_volume_source("./x:/c:ro", cwd), "/w/d/x:/c:ro");
        assert_eq!(resolve_volume_source(".:/c", cwd), "/w/d:/c");
        assert_eq!(resolve_volume_source("../../..:/c", cwd), "/:/c");
        assert_eq!(resolve_volume_source("name:/c", cwd), "name:/c");
        assert_eq!(resolve_volume_source("/abs:/c", cwd), "/abs:/c");
        assert_eq!(resolve_volume_source("/c", cwd), "/c");
    }
}
