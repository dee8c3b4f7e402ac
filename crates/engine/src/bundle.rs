//! The OCI bundle for a container: `config.json` built from the image config, the flags
//! and Docker's defaults (capabilities, seccomp profile, masked and read-only paths,
//! /dev/shm), with the overlay-mounted root filesystem as its root.

use std::path::Path;

use serde_json::{Value, json};

use crate::EngineError;
use crate::confinement::{self, DOCKER_CAPS};
use crate::options::MountSpec;
use crate::record::Record;
use crate::volumes::Volumes;

/// Every capability, in kernel number order, for `--privileged` and `--cap-add ALL`.
const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The capabilities we ourselves may hand out (our bounding set): `--privileged` gives
/// these, as Docker gives what its daemon has.
fn host_caps() -> Vec<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(u64::MAX);
    ALL_CAPS.iter().enumerate().filter(|(bit, _)| bounding & (1 << bit) != 0).map(|(_, c)| (*c).to_owned()).collect()
}

const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
const READONLY: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// `CAP_X` for `x`, `X` or `CAP_X`; `ALL` stays.
pub fn cap_name(name: &str) -> Result<String, EngineError> {
    let upper = name.to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    if ALL_CAPS.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(EngineError::BadOption {
            option: "--cap-add/--cap-drop".into(),
            value: name.into(),
            reason: "unknown capability".into(),
        })
    }
}

/// The capability set after `--cap-add`/`--cap-drop` on Docker's default.
pub fn capabilities(add: &[String], drop: &[String], privileged: bool) -> Vec<String> {
    if privileged {
        return host_caps();
    }
    let mut caps: Vec<String> = if drop.iter().any(|c| c == "ALL") {
        Vec::new()
    } else {
        DOCKER_CAPS.iter().map(|c| (*c).to_owned()).collect()
    };
    caps.retain(|c| !drop.contains(c));
    if add.iter().any(|c| c == "ALL") {
        return host_caps().into_iter().filter(|c| !drop.contains(c) || add.contains(c)).collect();
    }
    for c in add {
        if !caps.contains(c) {
            caps.push(c.clone());
        }
    }
    caps
}

/// Resolves `user[:group]` (names or numbers) against the root filesystem's
/// /etc/passwd and /etc/group: (uid, gid, additional gids). See [`crate::users`].
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>), EngineError> {
    crate::users::resolve(rootfs, user)
}

/// Where `lindocker` itself appears in a container started with `--init`.
pub const INIT_PATH: &str = "/dev/init";

/// Builds config.json for `record`, whose root filesystem is mounted at `rootfs`.
/// `init_dir` holds the files bound over /etc/hosts, /etc/hostname, /etc/resolv.conf;
/// `netns` is the network namespace to join (`None` for a new one, or the host's with
/// `--network host`); `cgroup` is the container's cgroup path.
pub fn spec(
    record: &Record,
    rootfs: &Path,
    volumes: &Volumes,
    cgroup: &str,
    self_exe: &Path,
    init_dir: Option<&Path>,
    netns: Option<std::path::PathBuf>,
) -> Result<Value, EngineError> {
    let c = &record.config;
    let h = &record.host_config;
    let (uid, gid, mut additional) = resolve_user(rootfs, &c.user)?;
    for extra in crate::users::resolve_groups(rootfs, &h.group_add)? {
        if !additional.contains(&extra) {
            additional.push(extra);
        }
    }
    let mut env = c.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    }
    env.push(format!("HOSTNAME={}", c.hostname));
    if c.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    let mut args = c.args.clone();
    if h.init {
        args.splice(0..0, [INIT_PATH.to_owned(), "--".to_owned()]);
    }
    let caps = capabilities(&h.cap_add, &h.cap_drop, h.privileged);
    let mut process = json!({
        "terminal": c.tty,
        "user": { "uid": uid, "gid": gid, "additionalGids": additional },
        "args": args,
        "env": env,
        "cwd": if c.working_dir.is_empty() { "/" } else { c.working_dir.as_str() },
        "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
        "noNewPrivileges": h.no_new_privileges,
    });
    if !h.ulimits.is_empty() {
        process["rlimits"] = json!(h
            .ulimits
            .iter()
            .map(|u| json!({ "type": format!("RLIMIT_{}", u.name.to_ascii_uppercase()), "soft": u.soft, "hard": u.hard }))
            .collect::<Vec<_>>());
    }

    let sys_options =
        if h.privileged { json!(["nosuid", "noexec", "nodev"]) } else { json!(["nosuid", "noexec", "nodev", "ro"]) };
    let mut mounts = vec![
        json!({ "destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"] }),
        json!({ "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] }),
        json!({ "destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] }),
        json!({ "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_options }),
        json!({ "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"] }),
        json!({ "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"] }),
        json!({ "destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={}", h.shm_size.unwrap_or(crate::record::DEFAULT_SHM_SIZE))] }),
    ];
    if h.init {
        mounts.push(json!({ "destination": INIT_PATH, "type": "bind", "source": self_exe, "options": ["rbind", "ro", "nosuid", "nodev"] }));
    }
    // The engine rewrites these as the container's networks change: bound, so the
    // container sees the same inode the engine writes in place.
    if let Some(init) = init_dir {
        for file in ["etc/hosts", "etc/hostname", "etc/resolv.conf"] {
            mounts.push(json!({ "destination": format!("/{file}"), "type": "bind", "source": init.join(file), "options": ["rbind", "rprivate"] }));
        }
    }
    for m in &record.mounts {
        mounts.push(match m {
            MountSpec::Bind { source, target, readonly, propagation, nonrecursive } => {
                let mut options =
                    vec![if *nonrecursive { "bind" } else { "rbind" }, propagation.as_deref().unwrap_or("rprivate")];
                if *readonly {
                    options.push("ro");
                }
                json!({ "destination": target, "type": "bind", "source": source, "options": options })
            }
            MountSpec::Volume { name, target, readonly, .. } => {
                let mut options = vec!["rbind".to_owned(), "rprivate".to_owned()];
                if *readonly {
                    options.push("ro".into());
                }
                let local = match volumes.inspect(name) {
                    Ok(info) => crate::volumes::local_mount(&info.options)?,
                    Err(_) => None,
                };
                match local {
                    None => json!({ "destination": target, "type": "bind", "source": volumes.data_dir(name), "options": options }),
                    Some(crate::volumes::LocalMount::Bind(dir)) => {
                        json!({ "destination": target, "type": "bind", "source": dir, "options": options })
                    }
                    Some(crate::volumes::LocalMount::Tmpfs(extra)) => {
                        let mut all = vec!["nosuid".to_owned(), "nodev".to_owned()];
                        all.extend(extra);
                        if *readonly {
                            all.push("ro".into());
                        }
                        json!({ "destination": target, "type": "tmpfs", "source": "tmpfs", "options": all })
                    }
                }
            }
            MountSpec::Tmpfs { target, options } => {
                let mut all = vec!["nosuid".to_owned(), "nodev".to_owned()];
                all.extend(options.iter().cloned());
                json!({ "destination": target, "type": "tmpfs", "source": "tmpfs", "options": all })
            }
        });
    }

    let mut resources = json!({ "devices": [{ "allow": false, "access": "rwm" }] });
    if h.privileged {
        resources["devices"] = json!([{ "allow": true, "access": "rwm" }]);
    }
    let mut devices = Vec::new();
    for mapping in &h.devices {
        let (nodes, rules) = crate::devices::resolve(mapping)?;
        devices.extend(nodes);
        resources["devices"].as_array_mut().expect("a list").extend(rules);
    }
    for rule in &h.device_cgroup_rules {
        resources["devices"].as_array_mut().expect("a list").push(crate::devices::parse_rule(rule)?.to_oci());
    }
    if let Some(limit) = h.memory {
        resources["memory"] = json!({ "limit": limit });
        match h.memory_swap {
            Some(swap) => resources["memory"]["swap"] = json!(swap),
            // Docker: without --memory-swap, the container may use as much swap as memory.
            None => resources["memory"]["swap"] = json!(limit * 2),
        }
    }
    let mut cpu = serde_json::Map::new();
    if let Some(nano) = h.nano_cpus {
        cpu.insert("period".into(), json!(100_000));
        cpu.insert("quota".into(), json!(nano / 10_000));
    }
    if let Some(shares) = h.cpu_shares {
        cpu.insert("shares".into(), json!(shares));
    }
    if let Some(cpus) = &h.cpuset_cpus {
        cpu.insert("cpus".into(), json!(cpus));
    }
    if let Some(mems) = &h.cpuset_mems {
        cpu.insert("mems".into(), json!(mems));
    }
    if let Some(swappiness) = h.memory_swappiness {
        if resources.get("memory").is_none() {
            resources["memory"] = json!({});
        }
        resources["memory"]["swappiness"] = json!(swappiness);
    }
    if !cpu.is_empty() {
        resources["cpu"] = Value::Object(cpu);
    }
    if let Some(limit) = h.pids_limit {
        resources["pids"] = json!({ "limit": limit });
    }
    crate::resources::apply(h, &mut resources, &mut process);

    let mut namespaces =
        vec![json!({ "type": "pid" }), json!({ "type": "ipc" }), json!({ "type": "uts" }), json!({ "type": "mount" })];
    if !h.cgroupns_host {
        namespaces.push(json!({ "type": "cgroup" }));
    }
    match (record.network.mode.as_str(), netns) {
        ("host", _) => {}
        (_, Some(path)) => namespaces.push(json!({ "type": "network", "path": path })),
        (_, None) => namespaces.push(json!({ "type": "network" })),
    }
    if h.user_ns {
        namespaces.push(json!({ "type": "user" }));
    }
    let mut linux = json!({
        "namespaces": namespaces,
        "cgroupsPath": cgroup,
        "resources": resources,
    });
    if !devices.is_empty() {
        linux["devices"] = json!(devices);
    }
    if !h.sysctls.is_empty() {
        linux["sysctl"] = json!(h.sysctls);
    }
    if h.user_ns {
        let (uids, gids) = crate::userns::ranges();
        linux["uidMappings"] = json!([{ "containerID": 0, "hostID": uids.host, "size": uids.size }]);
        linux["gidMappings"] = json!([{ "containerID": 0, "hostID": gids.host, "size": gids.size }]);
    }
    if !h.privileged {
        linux["maskedPaths"] = json!(MASKED);
        linux["readonlyPaths"] = json!(READONLY);
        let cap_refs: Vec<&str> = caps.iter().map(String::as_str).collect();
        match h.seccomp.as_deref() {
            Some("unconfined") => {}
            Some(profile) => {
                let profile: Value = serde_json::from_str(profile).map_err(|e| EngineError::BadOption {
                    option: "--security-opt seccomp".into(),
                    value: "FILE".into(),
                    reason: e.to_string(),
                })?;
                let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
                linux["seccomp"] =
                    if profile.get("syscalls").and_then(|s| s.get(0)).is_some_and(|s| s.get("names").is_some())
                        && profile.get("archMap").is_none()
                    {
                        profile
                    } else {
                        confinement::convert(&profile, &cap_refs, release.trim())
                    };
            }
            None => linux["seccomp"] = confinement::docker_seccomp_for(&cap_refs),
        }
    }
    let mut spec = json!({
        "ociVersion": "1.2.0",
        "process": process,
        "root": { "path": rootfs, "readonly": h.read_only },
        "hostname": c.hostname,
        "mounts": mounts,
        "linux": linux,
    });
    if !c.domainname.is_empty() {
        spec["domainname"] = json!(c.domainname);
    }
    if !h.annotations.is_empty() {
        spec["annotations"] = json!(h.annotations);
    }
    crate::sharing::adjust_spec(record, &mut spec);
    Ok(spec)
}

/// Writes a bundle's `config.json`: root's alone (the environment may hold secrets),
/// whole or not at all (a temporary file renamed over it).
pub fn write_config(path: &Path, spec: &Value) -> Result<(), EngineError> {
    lindocker_sys::atomic::AtomicWrite::new(lindocker_sys::atomic::Durability::CrashSafe)
        .mode(0o600)
        .write(path, &serde_json::to_vec(spec).expect("spec serializes"))
        .map_err(|e| EngineError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_arithmetic() {
        let caps = capabilities(&["CAP_SYS_ADMIN".into()], &["CAP_KILL".into()], false);
        assert!(caps.contains(&"CAP_SYS_ADMIN".to_owned()) && !caps.contains(&"CAP_KILL".to_owned()));
        assert_eq!(capabilities(&[], &["ALL".into()], false), Vec::<String>::new());
        assert_eq!(cap_name("net_admin").unwrap(), "CAP_NET_ADMIN");
        assert!(cap_name("flying").is_err());
    }

    #[test]
    fn users_from_the_image() {
        let dir = std::env::temp_dir().join(format!("lindocker-users-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\nwww:x:33:34::/var/www:/bin/sh\n").unwrap();
        std::fs::write(dir.join("etc/group"), "root:x:0:\nweb:x:34:\nextra:x:50:www\n").unwrap();
        assert_eq!(resolve_user(&dir, "www").unwrap(), (33, 34, vec![50]));
        assert_eq!(resolve_user(&dir, "1000:web").unwrap(), (1000, 34, vec![]));
        assert_eq!(resolve_user(&dir, "").unwrap(), (0, 0, vec![]));
        assert!(resolve_user(&dir, "nobody-here").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
