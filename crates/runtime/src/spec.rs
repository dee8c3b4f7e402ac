//! Loading and checking `config.json`.
//!
//! Everything that can be checked before a single resource is created is checked here,
//! so bad input changes nothing; each error names the JSON field.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::{Error, Result};

/// A loaded, checked bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
    /// The parsed `config.json`.
    pub spec: Spec,
}

impl Bundle {
    /// Reads `DIR/config.json` and checks it for a `create`.
    pub fn load(dir: &Path) -> Result<Bundle> {
        let dir = std::path::absolute(dir).map_err(|e| Error::Bundle(dir.to_path_buf(), e.to_string()))?;
        if !dir.is_dir() {
            return Err(Error::Bundle(dir, "no such directory".into()));
        }
        let path = dir.join("config.json");
        let text = std::fs::read(&path).map_err(|e| Error::Spec {
            path: path.clone(),
            field: "(file)".into(),
            message: e.to_string(),
        })?;
        let spec = parse(&path, &text)?;
        let rootfs = check(&path, &dir, &spec)?;
        Ok(Bundle { dir, rootfs, spec })
    }
}

/// Parses config JSON, naming the field where parsing stopped.
pub fn parse(path: &Path, text: &[u8]) -> Result<Spec> {
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        Error::Spec {
            path: path.to_path_buf(),
            field: if field == "." || field == "?" { "(document)".into() } else { field },
            message: inner.to_string(),
        }
    })
}

/// Hook paths are absolute and timeouts, where set, above zero (runtime spec).
fn check_hooks(path: &Path, spec: &Spec) -> Result<()> {
    let Some(hooks) = spec.hooks() else { return Ok(()) };
    #[allow(deprecated)] // prestart is deprecated in the spec, still run.
    let lists = [
        ("prestart", hooks.prestart()),
        ("createRuntime", hooks.create_runtime()),
        ("createContainer", hooks.create_container()),
        ("startContainer", hooks.start_container()),
        ("poststart", hooks.poststart()),
        ("poststop", hooks.poststop()),
    ];
    for (kind, list) in lists {
        for (i, hook) in list.iter().flatten().enumerate() {
            if !hook.path().is_absolute() {
                return Err(bad(path, format!("hooks.{kind}[{i}].path"), "is not an absolute path"));
            }
            if hook.timeout().is_some_and(|t| t <= 0) {
                return Err(bad(path, format!("hooks.{kind}[{i}].timeout"), "must be greater than zero"));
            }
        }
    }
    Ok(())
}

fn bad(path: &Path, field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Spec { path: path.to_path_buf(), field: field.into(), message: message.into() }
}

/// Semantic checks; returns the absolute rootfs path.
fn check(path: &Path, dir: &Path, spec: &Spec) -> Result<PathBuf> {
    let version = spec.version();
    if version.is_empty() {
        return Err(bad(path, "ociVersion", "missing"));
    }
    // Every 1.x is accepted: newer minor versions only add optional fields.
    if version.split('.').next() != Some("1") {
        return Err(bad(path, "ociVersion", format!("{version:?} is not a 1.x version")));
    }
    let root = spec.root().as_ref().ok_or_else(|| bad(path, "root", "missing"))?;
    let rootfs = dir.join(root.path());
    if !rootfs.is_dir() {
        return Err(bad(path, "root.path", format!("{} is not a directory", rootfs.display())));
    }
    check_hooks(path, spec)?;
    let process = spec.process().as_ref().ok_or_else(|| bad(path, "process", "missing"))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(bad(path, "process.args", "must name the program to run"));
    }
    if !process.cwd().is_absolute() {
        return Err(bad(path, "process.cwd", format!("{:?} is not an absolute path", process.cwd())));
    }
    for (i, var) in process.env().iter().flatten().enumerate() {
        if !var.contains('=') {
            return Err(bad(path, format!("process.env[{i}]"), format!("{var:?} is not KEY=VALUE")));
        }
    }
    if process.apparmor_profile().as_ref().is_some_and(|p| !p.is_empty())
        && !Path::new("/sys/kernel/security/apparmor").exists()
    {
        return Err(bad(path, "process.apparmorProfile", "AppArmor is not enabled on this host"));
    }
    if process.selinux_label().as_ref().is_some_and(|l| !l.is_empty()) {
        return Err(bad(path, "process.selinuxLabel", "SELinux labels are not supported by lindocker-runtime yet"));
    }
    let linux = spec.linux().as_ref().ok_or_else(|| bad(path, "linux", "missing"))?;

    let mut seen = HashSet::new();
    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        if !seen.insert(ns.typ()) {
            return Err(bad(path, format!("linux.namespaces[{i}].type"), format!("{} is listed twice", ns.typ())));
        }
        if let Some(p) = ns.path()
            && !p.exists()
        {
            return Err(bad(path, format!("linux.namespaces[{i}].path"), format!("{} does not exist", p.display())));
        }
    }
    let new_ns =
        |t: LinuxNamespaceType| linux.namespaces().iter().flatten().any(|n| n.typ() == t && n.path().is_none());
    let has_ns = |t: LinuxNamespaceType| linux.namespaces().iter().flatten().any(|n| n.typ() == t);
    if !has_ns(LinuxNamespaceType::Mount) {
        check_without_mount_namespace(path, spec, linux)?;
    }
    // A uts namespace of the container's own, new or joined by path (runc sets the name
    // in a joined one); never the runtime's own, which is the host's.
    let uts = linux.namespaces().iter().flatten().find(|n| n.typ() == LinuxNamespaceType::Uts);
    let own_uts = uts.is_some_and(|n| not_ours(n.path().as_deref(), "uts"));
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !own_uts {
        return Err(bad(path, "hostname", "setting a hostname needs a uts namespace other than the runtime's"));
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !own_uts {
        return Err(bad(path, "domainname", "setting a domainname needs a uts namespace other than the runtime's"));
    }
    if new_ns(LinuxNamespaceType::User) {
        for (field, maps) in [("linux.uidMappings", linux.uid_mappings()), ("linux.gidMappings", linux.gid_mappings())]
        {
            let maps = maps.as_deref().unwrap_or_default();
            if maps.is_empty() {
                return Err(bad(path, field, "a new user namespace needs mappings"));
            }
            check_mappings(path, field, maps)?;
        }
    } else if linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty()) && !has_ns(LinuxNamespaceType::User) {
        return Err(bad(path, "linux.uidMappings", "mappings need a user namespace"));
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty()) && !new_ns(LinuxNamespaceType::Time) {
        return Err(bad(path, "linux.timeOffsets", "time offsets need a new time namespace"));
    }
    for (key, _) in linux.sysctl().iter().flatten() {
        if key.contains('/') || key.split('.').any(|p| p.is_empty() || p == "..") {
            return Err(bad(path, format!("linux.sysctl[{key:?}]"), "not a sysctl name"));
        }
        check_sysctl_namespace(path, linux, key)?;
    }
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let typ = m.typ().as_deref().unwrap_or("");
        let is_bind = typ == "bind" || m.options().iter().flatten().any(|o| o == "bind" || o == "rbind");
        if !is_bind && !typ.is_empty() && typ != "none" && !filesystem_known(&filesystems, typ) {
            return Err(bad(path, format!("mounts[{i}].type"), format!("unknown file system type {typ:?}")));
        }
        check_idmap(path, i, spec, m, is_bind)?;
        for o in m.options().iter().flatten() {
            if crate::init::mount_options::UNSUPPORTED.contains(&o.as_str()) {
                return Err(bad(path, format!("mounts[{i}].options"), format!("mount option {o:?} is not supported")));
            }
        }
    }
    if let Some(p) = linux.memory_policy() {
        crate::memory_policy::check(p).map_err(|(field, why)| bad(path, format!("linux.memoryPolicy.{field}"), why))?;
    }
    if let Some(devices) = linux.net_devices().as_ref().filter(|d| !d.is_empty()) {
        let net = linux.namespaces().iter().flatten().find(|n| n.typ() == LinuxNamespaceType::Network);
        if !net.is_some_and(|n| not_ours(n.path().as_deref(), "net")) {
            return Err(bad(path, "linux.netDevices", "needs a network namespace other than the runtime's"));
        }
        let mut names = HashSet::new();
        for (host, dev) in devices {
            let name = dev.name().as_deref().filter(|n| !n.is_empty()).unwrap_or(host);
            for n in [host.as_str(), name] {
                if !crate::net_devices::valid_name(n) {
                    return Err(bad(
                        path,
                        format!("linux.netDevices[{host:?}]"),
                        format!("{n:?} is not an interface name"),
                    ));
                }
            }
            if !names.insert(name.to_owned()) {
                return Err(bad(path, format!("linux.netDevices[{host:?}]"), format!("{name:?} is used twice")));
            }
        }
    }
    if linux.intel_rdt().is_some() {
        return Err(bad(path, "linux.intelRdt", "Intel RDT is not supported"));
    }
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        if !d.path().starts_with("/dev") {
            return Err(bad(path, format!("linux.devices[{i}].path"), "must be under /dev"));
        }
        use oci_spec::runtime::LinuxDeviceType as T;
        if !matches!(d.typ(), T::C | T::B | T::U | T::P) {
            return Err(bad(path, format!("linux.devices[{i}].type"), "must be c, b, u or p"));
        }
    }
    Ok(rootfs)
}

/// An id-mapped mount (`idmap`/`ridmap`, or mappings of its own) must be a bind mount,
/// with both mappings of its own or else the container's new user namespace's.
fn check_idmap(path: &Path, i: usize, spec: &Spec, m: &oci_spec::runtime::Mount, is_bind: bool) -> Result<()> {
    let own = [("uidMappings", m.uid_mappings()), ("gidMappings", m.gid_mappings())];
    let has_own = own.iter().any(|(_, maps)| maps.as_ref().is_some_and(|m| !m.is_empty()));
    let option = crate::init::mount_options::parse(m.options().as_deref().unwrap_or_default()).idmap.is_some();
    if !has_own && !option {
        return Ok(());
    }
    if !is_bind {
        return Err(bad(path, format!("mounts[{i}].options"), "only bind mounts can be id-mapped"));
    }
    if has_own {
        for (field, maps) in own {
            let maps = maps.as_deref().unwrap_or_default();
            if maps.is_empty() {
                return Err(bad(path, format!("mounts[{i}].{field}"), "an id-mapped mount needs both mappings"));
            }
            check_mappings(path, &format!("mounts[{i}].{field}"), maps)?;
        }
        return Ok(());
    }
    let new_user = spec.linux().as_ref().is_some_and(|l| {
        l.namespaces().iter().flatten().any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none())
    });
    if !new_user {
        return Err(bad(
            path,
            format!("mounts[{i}].options"),
            "idmap without uidMappings/gidMappings of its own maps like the container's user namespace, and there is no new one",
        ));
    }
    Ok(())
}

/// Without a mount namespace the container shares the runtime's mounts (the spec: a
/// namespace type not listed is inherited) and is only chrooted into its rootfs, as with
/// runc. Whatever would mount something, in the host's mount table then, is refused.
fn check_without_mount_namespace(path: &Path, spec: &Spec, linux: &oci_spec::runtime::Linux) -> Result<()> {
    let why = "needs a mount namespace (add {\"type\": \"mount\"} to linux.namespaces)";
    let some = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
    if spec.mounts().as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(bad(path, "mounts", why));
    }
    if some(linux.masked_paths()) {
        return Err(bad(path, "linux.maskedPaths", why));
    }
    if some(linux.readonly_paths()) {
        return Err(bad(path, "linux.readonlyPaths", why));
    }
    if spec.root().as_ref().is_some_and(|r| r.readonly() == Some(true)) {
        return Err(bad(path, "root.readonly", why));
    }
    if linux.rootfs_propagation().as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(bad(path, "linux.rootfsPropagation", why));
    }
    if linux.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(bad(path, "linux.devices", why));
    }
    if linux.sysctl().as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(bad(path, "linux.sysctl", format!("{why}: sysctls are written through the container's /proc")));
    }
    Ok(())
}

/// The IPC-namespaced sysctls runc (and Docker) allow by name (besides `fs.mqueue.*`).
pub const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// runc's rule: a sysctl is set only where the kernel keeps it per namespace and the
/// container has that namespace of its own (IPC ones: an ipc namespace; `net.*`: a
/// network namespace that is not ours; `kernel.domainname`: a new uts namespace).
fn check_sysctl_namespace(path: &Path, linux: &oci_spec::runtime::Linux, key: &str) -> Result<()> {
    let field = format!("linux.sysctl[{key:?}]");
    let entry = |t: LinuxNamespaceType| linux.namespaces().iter().flatten().find(|n| n.typ() == t).cloned();
    if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") {
        return match entry(LinuxNamespaceType::Ipc) {
            Some(ns) if not_ours(ns.path().as_deref(), "ipc") => Ok(()),
            _ => Err(bad(path, field, format!("sysctl {key:?} is not allowed in the host's ipc namespace"))),
        };
    }
    if key.starts_with("net.") {
        return match entry(LinuxNamespaceType::Network) {
            Some(ns) if not_ours(ns.path().as_deref(), "net") => Ok(()),
            _ => Err(bad(path, field, format!("sysctl {key:?} not allowed in host network namespace"))),
        };
    }
    if key == "kernel.domainname" && entry(LinuxNamespaceType::Uts).is_some_and(|n| n.path().is_none()) {
        return Ok(());
    }
    if key == "kernel.hostname" {
        return Err(bad(path, field, "sysctl kernel.hostname is not allowed; use the hostname field"));
    }
    Err(bad(path, field, format!("sysctl {key:?} is not in a separate kernel namespace")))
}

/// Whether a namespace entry of `kind` is not the one this runtime runs in: a new one
/// (no path), or a joined one whose file is another namespace (same dev/ino is the same
/// namespace; one that cannot be read counts as ours).
fn not_ours(joined: Option<&Path>, kind: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(p) = joined else { return true };
    match (std::fs::metadata(p), std::fs::metadata(format!("/proc/self/ns/{kind}"))) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) != (b.dev(), b.ino()),
        _ => false,
    }
}

/// Container ranges must not overlap, nor host ranges (the kernel refuses both, later
/// and with a vaguer error).
fn check_mappings(path: &Path, field: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    for (i, a) in maps.iter().enumerate() {
        if a.size() == 0 {
            return Err(bad(path, format!("{field}[{i}].size"), "must be at least 1"));
        }
        for b in &maps[..i] {
            let overlap = |x: u32, y: u32| {
                let (x, y, xs, ys) = (u64::from(x), u64::from(y), u64::from(a.size()), u64::from(b.size()));
                x < y + ys && y < x + xs
            };
            if overlap(a.container_id(), b.container_id()) || overlap(a.host_id(), b.host_id()) {
                return Err(bad(path, format!("{field}[{i}]"), "overlaps an earlier mapping"));
            }
        }
    }
    Ok(())
}

fn filesystem_known(filesystems: &str, typ: &str) -> bool {
    if filesystems.is_empty() {
        return true;
    }
    let text = filesystems;
    // Some file systems are modules the kernel loads on first mount; accept those names
    // when their module exists.
    text.lines().any(|l| l.split_whitespace().last() == Some(typ))
        || matches!(
            typ,
            "overlay"
                | "fuse"
                | "nfs"
                | "nfs4"
                | "btrfs"
                | "xfs"
                | "squashfs"
                | "ext4"
                | "mqueue"
                | "cgroup"
                | "cgroup2"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        match parse(Path::new("config.json"), json.as_bytes()) {
            Err(e) => e.to_string(),
            Ok(spec) => match check(Path::new("config.json"), Path::new("/"), &spec) {
                Err(e) => e.to_string(),
                Ok(_) => "ok".into(),
            },
        }
    }

    const BASE: &str = r#""root":{"path":"/"},"process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}}"#;

    #[test]
    fn not_json() {
        assert!(err("{oops").contains("config.json: (document)"), "{}", err("{oops"));
    }

    #[test]
    fn sysctls_need_their_namespace() {
        let with = |ns: &str, key: &str| {
            err(&format!(
                r#"{{"ociVersion":"1.0.2",{BASE},"linux":{{"namespaces":[{{"type":"mount"}}{ns}],"sysctl":{{"{key}":"1"}}}}}}"#
            ))
        };
        assert_eq!(with(r#",{"type":"network"}"#, "net.ipv4.ip_forward"), "ok");
        assert!(with("", "net.ipv4.ip_forward").contains("not allowed in host network namespace"));
        let ours = r#",{"type":"network","path":"/proc/self/ns/net"}"#;
        assert!(with(ours, "net.ipv4.ip_forward").contains("host network namespace"));
        assert_eq!(with(r#",{"type":"ipc"}"#, "kernel.shmmax"), "ok");
        assert_eq!(with(r#",{"type":"ipc"}"#, "fs.mqueue.msg_max"), "ok");
        assert!(with("", "kernel.shmmax").contains("host's ipc namespace"));
        // Joining the runtime's own IPC namespace (the host's, by a path) is no own one.
        let ours = r#",{"type":"ipc","path":"/proc/self/ns/ipc"}"#;
        assert!(with(ours, "kernel.shm_rmid_forced").contains("host's ipc namespace"));
        assert!(with(ours, "fs.mqueue.msg_max").contains("host's ipc namespace"));
        assert_eq!(with(r#",{"type":"uts"}"#, "kernel.domainname"), "ok");
        assert!(with(r#",{"type":"uts"}"#, "kernel.hostname").contains("hostname field"));
        assert!(
            with(r#",{"type":"ipc"},{"type":"uts"}"#, "kernel.panic").contains("not in a separate kernel namespace")
        );
        assert!(with(r#",{"type":"network"}"#, "vm.swappiness").contains("not in a separate kernel namespace"));
    }

    #[test]
    fn unknown_namespace_names_the_field() {
        let e = err(&format!(
            r#"{{"ociVersion":"1.0.2",{BASE},"linux":{{"namespaces":[{{"type":"mount"}},{{"type":"bogus"}}]}}}}"#
        ));
        assert!(e.contains("linux.namespaces[1].type"), "{e}");
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn unknown_capability_names_the_field() {
        let e = err(
            r#"{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0},"capabilities":{"bounding":["CAP_NOPE"]}}}"#,
        );
        assert!(e.contains("process.capabilities.bounding"), "{e}");
    }

    #[test]
    fn versions() {
        let ok = format!(r#"{{"ociVersion":"1.3.0",{BASE},"linux":{{"namespaces":[{{"type":"mount"}}]}}}}"#);
        assert_eq!(err(&ok), "ok");
        let v2 = ok.replace("1.3.0", "2.0.0");
        assert!(err(&v2).contains("ociVersion"));
        let none = format!(r#"{{{BASE},"linux":{{}}}}"#);
        assert!(err(&none).contains("ociVersion: missing"));
    }

    #[test]
    fn missing_pieces() {
        assert!(err(r#"{"ociVersion":"1.0.0"}"#).contains("root: missing"));
        let no_mnt = format!(r#"{{"ociVersion":"1.0.0",{BASE},"linux":{{"namespaces":[{{"type":"pid"}}]}}}}"#);
        assert_eq!(err(&no_mnt), "ok");
        let no_mnt = no_mnt.replace(r#""namespaces""#, r#""maskedPaths":["/proc/kcore"],"namespaces""#);
        assert!(err(&no_mnt).contains("linux.maskedPaths: needs a mount namespace"), "{}", err(&no_mnt));
        let host =
            format!(r#"{{"ociVersion":"1.0.0",{BASE},"hostname":"x","linux":{{"namespaces":[{{"type":"mount"}}]}}}}"#);
        assert!(err(&host).contains("hostname"));
    }

    #[test]
    fn overlapping_mappings() {
        let j = format!(
            r#"{{"ociVersion":"1.0.0",{BASE},"linux":{{"namespaces":[{{"type":"mount"}},{{"type":"user"}}],
            "uidMappings":[{{"containerID":0,"hostID":1000,"size":10}},{{"containerID":5,"hostID":2000,"size":10}}],
            "gidMappings":[{{"containerID":0,"hostID":1000,"size":10}}]}}}}"#
        );
        assert!(err(&j).contains("linux.uidMappings[1]: overlaps"), "{}", err(&j));
    }
}

/// Property tests: whatever `config.json` holds, loading it ends in a spec or an error
/// naming a field, never a panic; a spec that loads prints back to the same spec.
#[cfg(test)]
mod prop {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::default_spec::DEFAULT_SPEC;

    fn default_value() -> Value {
        serde_json::from_str(DEFAULT_SPEC).expect("default spec is JSON")
    }

    /// Every key of the default spec, and a few it lacks: mutations then hit fields the
    /// parser knows rather than ones it ignores.
    fn keys() -> Vec<String> {
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        out.push(k.clone());
                        walk(v, out);
                    }
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&default_value(), &mut out);
        out.extend(
            ["hooks", "prestart", "uidMappings", "gidMappings", "containerID", "hostID", "size", "path", "timeOffsets"]
                .map(String::from),
        );
        out.sort();
        out.dedup();
        out
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            prop_oneof![
                Just(String::new()),
                Just("/".to_owned()),
                Just("mount".to_owned()),
                Just("user".to_owned()),
                Just("CAP_SYS_ADMIN".to_owned()),
                Just("1.0.0".to_owned()),
                "\\PC{0,16}",
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((proptest::sample::select(keys()), inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    /// One change at a place chosen by `path` (indices taken modulo each level's size).
    #[derive(Debug, Clone)]
    enum Mutation {
        Replace(Vec<usize>, Value),
        Remove(Vec<usize>),
        Insert(Vec<usize>, String, Value),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let path = proptest::collection::vec(any::<usize>(), 0..5);
        prop_oneof![
            (path.clone(), json_value()).prop_map(|(p, v)| Mutation::Replace(p, v)),
            path.clone().prop_map(Mutation::Remove),
            (path, proptest::sample::select(keys()), json_value()).prop_map(|(p, k, v)| Mutation::Insert(p, k, v)),
        ]
    }

    /// The container (object or array) at `path`, and the index of the child chosen in it.
    fn locate<'a>(mut v: &'a mut Value, path: &[usize]) -> Option<(&'a mut Value, usize)> {
        for (depth, &i) in path.iter().enumerate() {
            let len = match v {
                Value::Object(m) => m.len(),
                Value::Array(a) => a.len(),
                _ => 0,
            };
            if len == 0 {
                return None;
            }
            let last = depth + 1 == path.len();
            let descend = match v {
                Value::Object(m) => m.values().nth(i % len).is_some_and(|c| c.is_object() || c.is_array()),
                Value::Array(a) => a[i % len].is_object() || a[i % len].is_array(),
                _ => false,
            };
            if last || !descend {
                return Some((v, i % len));
            }
            v = match v {
                Value::Object(m) => m.values_mut().nth(i % len).expect("in range"),
                Value::Array(a) => &mut a[i % len],
                _ => unreachable!(),
            };
        }
        None
    }

    fn apply(doc: &mut Value, m: &Mutation) {
        match m {
            Mutation::Replace(path, new) => match locate(doc, path) {
                Some((Value::Object(map), i)) => {
                    let key = map.keys().nth(i).expect("in range").clone();
                    map.insert(key, new.clone());
                }
                Some((Value::Array(a), i)) => a[i] = new.clone(),
                _ => *doc = new.clone(),
            },
            Mutation::Remove(path) => match locate(doc, path) {
                Some((Value::Object(map), i)) => {
                    let key = map.keys().nth(i).expect("in range").clone();
                    map.remove(&key);
                }
                Some((Value::Array(a), i)) => {
                    a.remove(i);
                }
                _ => {}
            },
            Mutation::Insert(path, key, new) => match locate(doc, path) {
                Some((Value::Object(map), _)) => {
                    map.insert(key.clone(), new.clone());
                }
                Some((Value::Array(a), i)) => a.insert(i, new.clone()),
                _ => {}
            },
        }
    }

    /// Loading `bytes` as a bundle's config: parse, then the checks `create` makes.
    fn load(bytes: &[u8]) -> Option<Spec> {
        let path = Path::new("config.json");
        let spec = parse(path, bytes).ok()?;
        let _ = check(path, Path::new("/"), &spec);
        Some(spec)
    }

    /// A loaded spec written out and read again is the same spec.
    fn assert_round_trip(spec: &Spec) {
        let text = serde_json::to_vec(spec).expect("a spec serializes");
        let again = parse(Path::new("config.json"), &text)
            .unwrap_or_else(|e| panic!("{} does not parse back: {e}", String::from_utf8_lossy(&text)));
        assert_eq!(&again, spec);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_bytes_are_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = load(&bytes);
        }

        #[test]
        fn mutated_specs_load_or_fail_cleanly(mutations in proptest::collection::vec(mutation(), 1..6)) {
            let mut doc = default_value();
            // A root that exists, so the checks go past it.
            doc["root"]["path"] = json!("/");
            for m in &mutations {
                apply(&mut doc, m);
            }
            if let Some(spec) = load(&serde_json::to_vec(&doc).expect("json")) {
                assert_round_trip(&spec);
            }
        }

        #[test]
        fn truncated_specs_are_an_error(cut in 0..DEFAULT_SPEC.trim_end().len()) {
            prop_assert!(load(&DEFAULT_SPEC.as_bytes()[..cut]).is_none());
        }

        #[test]
        fn valid_specs_round_trip_and_pass(
            args in proptest::collection::vec("\\PC{1,12}", 1..4),
            env in proptest::collection::vec("[A-Z_]{1,8}=\\PC{0,12}", 0..4),
            cwd in "(/[a-z]{1,6}){0,3}",
            uid in any::<u32>(),
            hostname in "[a-z0-9-]{0,20}",
            base in 0u32..1_000_000,
            size in 1u32..65_536,
        ) {
            let mut doc = default_value();
            doc["root"]["path"] = json!("/");
            doc["process"]["args"] = json!(args);
            doc["process"]["env"] = json!(env);
            doc["process"]["cwd"] = json!(if cwd.is_empty() { "/".to_owned() } else { cwd });
            doc["process"]["user"]["uid"] = json!(uid);
            doc["hostname"] = json!(hostname);
            doc["linux"]["namespaces"].as_array_mut().expect("namespaces").push(json!({"type": "user"}));
            for field in ["uidMappings", "gidMappings"] {
                doc["linux"][field] = json!([
                    {"containerID": 0, "hostID": base, "size": size},
                    {"containerID": size, "hostID": base + size, "size": 1},
                ]);
            }
            let path = Path::new("config.json");
            let spec = parse(path, &serde_json::to_vec(&doc).expect("json")).expect("a valid spec parses");
            check(path, Path::new("/"), &spec).expect("a valid spec passes the checks");
            assert_round_trip(&spec);
        }
    }
}
