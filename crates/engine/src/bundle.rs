//! The OCI bundle for a container: `config.json` built from the image config, the flags
//! and Docker's defaults (capabilities, seccomp profile, masked and read-only paths,
//! /dev/shm), with the overlay-mounted root filesystem as its root.

use std::path::Path;

use oci_spec::runtime::{
    Capabilities, Capability, Linux, LinuxCapabilities, LinuxCpu, LinuxDevice, LinuxDeviceCgroup,
    LinuxIdMappingBuilder, LinuxMemory, LinuxNamespace, LinuxNamespaceType, LinuxPids, LinuxResources, LinuxSeccomp,
    Mount, PosixRlimit, PosixRlimitBuilder, PosixRlimitType, Process, Root, Spec, User,
};
use serde_json::Value;

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
///
/// Built from `oci-spec`'s types (a misspelt field does not compile), then laid out as
/// JSON for the passes that still edit it as such (`resources::apply`,
/// `sharing::adjust_spec`).
pub fn spec(
    record: &Record,
    rootfs: &Path,
    volumes: &Volumes,
    cgroup: &str,
    self_exe: &Path,
    init_dir: Option<&Path>,
    netns: Option<std::path::PathBuf>,
) -> Result<Value, EngineError> {
    let (c, h) = (&record.config, &record.host_config);
    let caps = capabilities(&h.cap_add, &h.cap_drop, h.privileged);
    let mut linux = Linux::default();
    let (resources, devices) = resources(h)?;
    linux
        .set_namespaces(Some(namespaces(record, netns)))
        .set_cgroups_path(Some(cgroup.into()))
        .set_resources(Some(resources))
        .set_devices((!devices.is_empty()).then_some(devices))
        .set_sysctl((!h.sysctls.is_empty()).then(|| h.sysctls.clone().into_iter().collect()))
        .set_masked_paths(None)
        .set_readonly_paths(None);
    if h.user_ns {
        let (uids, gids) = crate::userns::ranges();
        let map = |r: crate::userns::IdRange| {
            LinuxIdMappingBuilder::default().container_id(0u32).host_id(r.host).size(r.size).build().map(|m| vec![m])
        };
        let built = |e: oci_spec::OciSpecError| EngineError::Invalid(format!("user namespace mapping: {e}"));
        linux.set_uid_mappings(Some(map(uids).map_err(built)?)).set_gid_mappings(Some(map(gids).map_err(built)?));
    }
    if !h.privileged {
        linux
            .set_masked_paths(Some(MASKED.iter().map(|p| (*p).to_owned()).collect()))
            .set_readonly_paths(Some(READONLY.iter().map(|p| (*p).to_owned()).collect()))
            .set_seccomp(seccomp(h.seccomp.as_deref(), &caps)?);
    }
    let mut root = Root::default();
    root.set_path(rootfs.to_path_buf()).set_readonly(Some(h.read_only));
    let mut spec = Spec::default();
    spec.set_version("1.2.0".into())
        .set_process(Some(process(record, rootfs)?))
        .set_root(Some(root))
        .set_hostname(Some(c.hostname.clone()))
        .set_domainname((!c.domainname.is_empty()).then(|| c.domainname.clone()))
        .set_mounts(Some(mounts(record, volumes, self_exe, init_dir)?))
        .set_annotations((!h.annotations.is_empty()).then(|| h.annotations.clone().into_iter().collect()))
        .set_linux(Some(linux));
    let mut spec = serde_json::to_value(&spec).expect("spec serializes");
    let mut process = spec["process"].take();
    crate::resources::apply(h, &mut spec["linux"]["resources"], &mut process);
    spec["process"] = process;
    crate::sharing::adjust_spec(record, &mut spec);
    Ok(spec)
}

/// The container's process: the command (behind `--init`), its user, environment
/// (Docker's PATH, HOSTNAME, TERM with a tty), capabilities and rlimits.
fn process(record: &Record, rootfs: &Path) -> Result<Process, EngineError> {
    let (c, h) = (&record.config, &record.host_config);
    let identity = crate::process::identity(crate::process::UserRoot::Dir(rootfs), &c.user, &h.group_add)?;
    let mut args = c.args.clone();
    if h.init {
        args.splice(0..0, [INIT_PATH.to_owned(), "--".to_owned()]);
    }
    let options = crate::process::ProcessOptions { args, tty: c.tty, ..Default::default() };
    let p = crate::process::ContainerProcess::new(record, identity, options);
    let mut user = User::default();
    user.set_uid(p.identity.uid).set_gid(p.identity.gid).set_additional_gids(Some(p.identity.additional_gids));
    let set = p.capabilities.iter().map(|c| capability(c)).collect::<Result<Capabilities, _>>()?;
    let mut capabilities = LinuxCapabilities::default();
    capabilities
        .set_bounding(Some(set.clone()))
        .set_effective(Some(set.clone()))
        .set_permitted(Some(set))
        .set_inheritable(None)
        .set_ambient(None);
    let mut process = Process::default();
    process
        .set_terminal(Some(p.terminal))
        .set_user(user)
        .set_args(Some(p.args))
        .set_env(Some(p.env))
        .set_cwd(p.cwd.into())
        .set_capabilities(Some(capabilities))
        .set_no_new_privileges(Some(p.no_new_privileges))
        .set_rlimits(None);
    if !h.ulimits.is_empty() {
        let rlimits = h.ulimits.iter().map(rlimit).collect::<Result<Vec<_>, _>>()?;
        process.set_rlimits(Some(rlimits));
    }
    Ok(process)
}

/// `CAP_X` as `oci-spec`'s capability.
fn capability(name: &str) -> Result<Capability, EngineError> {
    serde_json::from_value(Value::String(name.to_owned())).map_err(|_| EngineError::BadOption {
        option: "--cap-add/--cap-drop".into(),
        value: name.into(),
        reason: "unknown capability".into(),
    })
}

/// A `--ulimit` as an rlimit.
fn rlimit(u: &crate::options::Ulimit) -> Result<PosixRlimit, EngineError> {
    let name = format!("RLIMIT_{}", u.name.to_ascii_uppercase());
    let typ = name.parse::<PosixRlimitType>().map_err(|_| EngineError::BadOption {
        option: "--ulimit".into(),
        value: u.name.clone(),
        reason: "unknown limit".into(),
    })?;
    PosixRlimitBuilder::default()
        .typ(typ)
        .soft(u.soft)
        .hard(u.hard)
        .build()
        .map_err(|e| EngineError::Invalid(format!("--ulimit {}: {e}", u.name)))
}

/// A mount of `typ` from `source` at `destination`.
fn mount(
    destination: impl Into<std::path::PathBuf>,
    typ: &str,
    source: impl Into<std::path::PathBuf>,
    options: Vec<String>,
) -> Mount {
    let mut m = Mount::default();
    m.set_destination(destination.into())
        .set_typ(Some(typ.to_owned()))
        .set_source(Some(source.into()))
        .set_options(Some(options));
    m
}

fn strings(options: &[&str]) -> Vec<String> {
    options.iter().map(|o| (*o).to_owned()).collect()
}

/// Docker's standard mounts (/proc, /dev, /sys, ...), `--init`'s binary, the engine's
/// /etc files, then the container's own mounts.
fn mounts(
    record: &Record,
    volumes: &Volumes,
    self_exe: &Path,
    init_dir: Option<&Path>,
) -> Result<Vec<Mount>, EngineError> {
    let h = &record.host_config;
    let sys_options = if h.privileged {
        strings(&["nosuid", "noexec", "nodev"])
    } else {
        strings(&["nosuid", "noexec", "nodev", "ro"])
    };
    let shm_size = format!("size={}", h.shm_size.unwrap_or(crate::record::DEFAULT_SHM_SIZE));
    let mut mounts = vec![
        mount("/proc", "proc", "proc", strings(&["nosuid", "noexec", "nodev"])),
        mount("/dev", "tmpfs", "tmpfs", strings(&["nosuid", "strictatime", "mode=755", "size=65536k"])),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            strings(&["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        ),
        mount("/sys", "sysfs", "sysfs", sys_options),
        mount("/sys/fs/cgroup", "cgroup", "cgroup", strings(&["ro", "nosuid", "noexec", "nodev"])),
        mount("/dev/mqueue", "mqueue", "mqueue", strings(&["nosuid", "noexec", "nodev"])),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            vec!["nosuid".into(), "noexec".into(), "nodev".into(), "mode=1777".into(), shm_size],
        ),
    ];
    if h.init {
        mounts.push(mount(INIT_PATH, "bind", self_exe, strings(&["rbind", "ro", "nosuid", "nodev"])));
    }
    // The engine rewrites these as the container's networks change: bound, so the
    // container sees the same inode the engine writes in place.
    if let Some(init) = init_dir {
        for file in ["etc/hosts", "etc/hostname", "etc/resolv.conf"] {
            mounts.push(mount(format!("/{file}"), "bind", init.join(file), strings(&["rbind", "rprivate"])));
        }
    }
    for m in &record.mounts {
        mounts.push(user_mount(m, volumes)?);
    }
    Ok(mounts)
}

/// A `-v`, `--mount` or `--tmpfs` mount (a volume's as its driver options say).
fn user_mount(m: &MountSpec, volumes: &Volumes) -> Result<Mount, EngineError> {
    Ok(match m {
        MountSpec::Bind { source, target, readonly, propagation, nonrecursive } => {
            let mut options =
                vec![if *nonrecursive { "bind" } else { "rbind" }, propagation.as_deref().unwrap_or("rprivate")];
            if *readonly {
                options.push("ro");
            }
            mount(target, "bind", source, strings(&options))
        }
        MountSpec::Volume { name, target, readonly, .. } => {
            let mut options = strings(&["rbind", "rprivate"]);
            if *readonly {
                options.push("ro".into());
            }
            let local = match volumes.inspect(name) {
                Ok(info) => crate::volumes::local_mount(&info.options)?,
                Err(_) => None,
            };
            match local {
                None => mount(target, "bind", volumes.data_dir(name), options),
                Some(crate::volumes::LocalMount::Bind(dir)) => mount(target, "bind", dir, options),
                Some(crate::volumes::LocalMount::Tmpfs(extra)) => {
                    let mut all = strings(&["nosuid", "nodev"]);
                    all.extend(extra);
                    if *readonly {
                        all.push("ro".into());
                    }
                    mount(target, "tmpfs", "tmpfs", all)
                }
            }
        }
        MountSpec::Tmpfs { target, options } => {
            let mut all = strings(&["nosuid", "nodev"]);
            all.extend(options.iter().cloned());
            mount(target, "tmpfs", "tmpfs", all)
        }
    })
}

/// `linux.resources` from the limits (device rules, memory, CPU, pids; the rest is
/// added by `resources::apply`), and the device nodes `--device` adds.
fn resources(h: &crate::record::HostConfig) -> Result<(LinuxResources, Vec<LinuxDevice>), EngineError> {
    let mut all = LinuxDeviceCgroup::default();
    all.set_allow(h.privileged).set_access(Some("rwm".into()));
    let mut rules = vec![all];
    let mut devices = Vec::new();
    for mapping in &h.devices {
        let (nodes, more) = crate::devices::resolve(mapping)?;
        for node in nodes {
            devices.push(typed("device", node)?);
        }
        for rule in more {
            rules.push(typed("device rule", rule)?);
        }
    }
    for rule in &h.device_cgroup_rules {
        rules.push(typed("device rule", crate::devices::parse_rule(rule)?.to_oci())?);
    }
    let mut resources = LinuxResources::default();
    resources.set_devices(Some(rules));
    let mut memory = LinuxMemory::default();
    if let Some(limit) = h.memory {
        // Docker: without --memory-swap, the container may use as much swap as memory.
        memory.set_limit(Some(limit)).set_swap(Some(h.memory_swap.unwrap_or(limit * 2)));
    }
    if let Some(swappiness) = h.memory_swappiness {
        memory.set_swappiness(Some(swappiness));
    }
    if memory != LinuxMemory::default() {
        resources.set_memory(Some(memory));
    }
    let mut cpu = LinuxCpu::default();
    if let Some(nano) = h.nano_cpus {
        cpu.set_period(Some(100_000)).set_quota(Some(nano / 10_000));
    }
    cpu.set_shares(h.cpu_shares).set_cpus(h.cpuset_cpus.clone()).set_mems(h.cpuset_mems.clone());
    if cpu != LinuxCpu::default() {
        resources.set_cpu(Some(cpu));
    }
    if let Some(limit) = h.pids_limit {
        resources.set_pids(Some(*LinuxPids::default().set_limit(limit)));
    }
    Ok((resources, devices))
}

/// `value`, made by this engine as JSON, as `oci-spec`'s type `T`.
fn typed<T: serde::de::DeserializeOwned>(what: &str, value: Value) -> Result<T, EngineError> {
    serde_json::from_value(value).map_err(|e| EngineError::Invalid(format!("{what}: {e}")))
}

/// The namespaces: new pid, ipc, uts, mount (and cgroup unless `--cgroupns host`), the
/// network one to join or a new one (none with `--network host`), a user one with
/// `--userns`. `sharing::adjust_spec` drops those shared with the host.
fn namespaces(record: &Record, netns: Option<std::path::PathBuf>) -> Vec<LinuxNamespace> {
    let h = &record.host_config;
    let ns = |typ: LinuxNamespaceType, path: Option<std::path::PathBuf>| {
        let mut n = LinuxNamespace::default();
        n.set_typ(typ).set_path(path);
        n
    };
    let mut namespaces = vec![
        ns(LinuxNamespaceType::Pid, None),
        ns(LinuxNamespaceType::Ipc, None),
        ns(LinuxNamespaceType::Uts, None),
        ns(LinuxNamespaceType::Mount, None),
    ];
    if !h.cgroupns_host {
        namespaces.push(ns(LinuxNamespaceType::Cgroup, None));
    }
    match (record.network.mode.as_str(), netns) {
        ("host", _) => {}
        (_, path) => namespaces.push(ns(LinuxNamespaceType::Network, path)),
    }
    if h.user_ns {
        namespaces.push(ns(LinuxNamespaceType::User, None));
    }
    namespaces
}

/// The seccomp filter: none with `unconfined`, a given profile (OCI's form as it is,
/// Docker's converted for `caps` and this kernel), or Docker's default for `caps`.
fn seccomp(profile: Option<&str>, caps: &[String]) -> Result<Option<LinuxSeccomp>, EngineError> {
    let cap_refs: Vec<&str> = caps.iter().map(String::as_str).collect();
    let bad = |reason: String| EngineError::BadOption {
        option: "--security-opt seccomp".into(),
        value: "FILE".into(),
        reason,
    };
    let value = match profile {
        Some("unconfined") => return Ok(None),
        Some(profile) => {
            let profile: Value = serde_json::from_str(profile).map_err(|e| bad(e.to_string()))?;
            let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
            if profile.get("syscalls").and_then(|s| s.get(0)).is_some_and(|s| s.get("names").is_some())
                && profile.get("archMap").is_none()
            {
                profile
            } else {
                confinement::convert(&profile, &cap_refs, release.trim())
            }
        }
        None => confinement::docker_seccomp_for(&cap_refs),
    };
    serde_json::from_value(value).map(Some).map_err(|e| bad(e.to_string()))
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
    use serde_json::json;

    /// The builder as it was, with `json!` (kept to check the typed one against).
    #[allow(clippy::too_many_arguments)]
    /// Builds config.json for `record`, whose root filesystem is mounted at `rootfs`.
    /// `init_dir` holds the files bound over /etc/hosts, /etc/hostname, /etc/resolv.conf;
    /// `netns` is the network namespace to join (`None` for a new one, or the host's with
    /// `--network host`); `cgroup` is the container's cgroup path.
    fn legacy_spec(
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

        let sys_options = if h.privileged {
            json!(["nosuid", "noexec", "nodev"])
        } else {
            json!(["nosuid", "noexec", "nodev", "ro"])
        };
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

        let mut namespaces = vec![
            json!({ "type": "pid" }),
            json!({ "type": "ipc" }),
            json!({ "type": "uts" }),
            json!({ "type": "mount" }),
        ];
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

    fn record(
        config: crate::record::Config,
        host: crate::record::HostConfig,
        mounts: Vec<MountSpec>,
        mode: &str,
    ) -> Record {
        Record {
            id: "ab".repeat(32),
            name: "spec-test".into(),
            created: String::new(),
            image: String::new(),
            image_name: "busybox".into(),
            layers: Vec::new(),
            config,
            host_config: host,
            mounts,
            network: crate::record::NetworkConfig { mode: mode.into(), ..Default::default() },
            state: Default::default(),
        }
    }

    /// Capability lists are sets: their order is not part of the spec.
    fn normalized(mut spec: Value) -> Value {
        if let Some(caps) = spec["process"]["capabilities"].as_object_mut() {
            for list in caps.values_mut() {
                if let Some(items) = list.as_array_mut() {
                    items.sort_by_key(|v| v.to_string());
                }
            }
        }
        spec
    }

    /// The typed builder writes the same config.json as the `json!` one did, field for
    /// field, for a plain container and for one with most flags set.
    #[test]
    fn typed_spec_is_the_json_spec() {
        let base = std::env::temp_dir().join(format!("lindocker-spec-{}", std::process::id()));
        let rootfs = base.join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\nwww:x:33:34::/var/www:/bin/sh\n")
            .unwrap();
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\nweb:x:34:\nextra:x:50:www\n").unwrap();
        let volumes = Volumes::open(&base).unwrap();
        let plain = record(
            crate::record::Config {
                args: vec!["sh".into(), "-c".into(), "true".into()],
                env: vec!["A=1".into()],
                hostname: "abababababab".into(),
                ..Default::default()
            },
            Default::default(),
            Vec::new(),
            "bridge",
        );
        let busy = record(
            crate::record::Config {
                args: vec!["top".into()],
                env: vec!["PATH=/bin".into(), "TERM=vt100".into()],
                hostname: "box".into(),
                working_dir: "/srv".into(),
                user: "www".into(),
                tty: true,
                ..Default::default()
            },
            crate::record::HostConfig {
                memory: Some(64 << 20),
                memory_swap: Some(128 << 20),
                memory_reservation: Some(32 << 20),
                memory_swappiness: Some(10),
                nano_cpus: Some(1_500_000_000),
                cpu_shares: Some(512),
                cpuset_cpus: Some("0".into()),
                cpuset_mems: Some("0".into()),
                cpu_period: Some(50_000),
                pids_limit: Some(99),
                blkio_weight: Some(300),
                oom_score_adj: Some(200),
                ulimits: vec![crate::options::Ulimit { name: "nofile".into(), soft: 100, hard: 200 }],
                cap_add: vec!["CAP_SYS_ADMIN".into()],
                cap_drop: vec!["CAP_KILL".into()],
                no_new_privileges: true,
                read_only: true,
                init: true,
                user_ns: true,
                annotations: [("a".to_owned(), "b".to_owned())].into(),
                sysctls: [("net.ipv4.ip_forward".to_owned(), "1".to_owned())].into(),
                device_cgroup_rules: vec!["c 1:3 rwm".into()],
                devices: vec![crate::devices::DeviceMapping {
                    path_on_host: "/dev/null".into(),
                    path_in_container: "/dev/xnull".into(),
                    cgroup_permissions: "rw".into(),
                }],
                shm_size: Some(1 << 20),
                group_add: vec!["extra".into()],
                cgroupns_host: true,
                ipc_mode: "none".into(),
                ..Default::default()
            },
            vec![
                MountSpec::Bind {
                    source: "/srv/data".into(),
                    target: "/data".into(),
                    readonly: true,
                    propagation: Some("rslave".into()),
                    nonrecursive: true,
                },
                MountSpec::Tmpfs { target: "/tmp".into(), options: vec!["size=1m".into()] },
                MountSpec::Volume {
                    name: "v1".into(),
                    target: "/v".into(),
                    readonly: true,
                    anonymous: false,
                    nocopy: false,
                },
            ],
            "bridge",
        );
        let privileged = record(
            crate::record::Config { args: vec!["true".into()], domainname: "example.org".into(), ..Default::default() },
            crate::record::HostConfig {
                privileged: true,
                seccomp: Some("unconfined".into()),
                uts_mode: "host".into(),
                pid_mode: "host".into(),
                ..Default::default()
            },
            Vec::new(),
            "host",
        );
        let unconfined = record(
            crate::record::Config { args: vec!["true".into()], ..Default::default() },
            crate::record::HostConfig { seccomp: Some("unconfined".into()), ..Default::default() },
            Vec::new(),
            "none",
        );
        let init = base.join("init");
        let exe = Path::new("/usr/bin/lindocker");
        for (r, netns) in [
            (&plain, Some(base.join("netns"))),
            (&plain, None),
            (&busy, Some(base.join("netns"))),
            (&privileged, None),
            (&unconfined, None),
        ] {
            let typed = spec(r, &rootfs, &volumes, "/lindocker/x", exe, Some(&init), netns.clone()).unwrap();
            let old = legacy_spec(r, &rootfs, &volumes, "/lindocker/x", exe, Some(&init), netns).unwrap();
            assert_eq!(normalized(typed), normalized(old), "{}", r.host_config.privileged);
        }
        std::fs::remove_dir_all(&base).unwrap();
    }

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
