//! What `info` and `version` report: the host (kernel, cgroups, storage, runtimes), what
//! it lacks, and the containers' counts, as Docker's info and version objects. One
//! source for the CLI and the API server.

use serde_json::{Value, json};

use crate::record::Status;
use crate::{Engine, EngineError};

/// The engine's version (the workspace's).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The host as `info` describes it.
#[derive(Debug, Clone)]
pub struct HostInfo {
    /// Containers by state.
    pub containers: usize,
    /// Running ones.
    pub running: usize,
    /// Paused ones.
    pub paused: usize,
    /// Images.
    pub images: usize,
    /// Layers.
    pub layers: usize,
    /// The file system under the data root (`extfs`, `xfs`, ...).
    pub backing: String,
    /// `1`, `2` or `none`.
    pub cgroup_version: &'static str,
    /// The same in words (`hybrid (...)`).
    pub cgroup_detail: String,
    /// OCI runtimes found.
    pub runtimes: Vec<&'static str>,
    /// What is missing, each a sentence.
    pub missing: Vec<&'static str>,
    /// `uname -r`.
    pub kernel: String,
    /// `uname -m`.
    pub machine: String,
    /// `uname -n`.
    pub hostname: String,
    /// /etc/os-release's PRETTY_NAME.
    pub os_name: String,
    /// CPUs.
    pub ncpu: usize,
    /// Bytes of memory.
    pub memory: u64,
}

impl Engine {
    /// What `info` shows.
    pub fn host_info(&self) -> Result<HostInfo, EngineError> {
        let records = self.records.all()?;
        let count = |s: Status| records.iter().filter(|r| r.state.status == s).count();
        let uname = rustix::system::uname();
        let backing = match rustix::fs::statfs(&self.root).map(|s| s.f_type).ok() {
            Some(0xEF53) => "extfs".to_owned(),
            Some(0x5846_5342) => "xfs".to_owned(),
            Some(0x9123_683E) => "btrfs".to_owned(),
            Some(0x0102_1994) => "tmpfs".to_owned(),
            Some(other) => format!("0x{other:x}"),
            None => "unknown".to_owned(),
        };
        let overlay = std::fs::read_to_string("/proc/filesystems").unwrap_or_default().contains("overlay");
        let (cgroup_version, cgroup_detail) = cgroup_version();
        let runtimes: Vec<&'static str> = ["lindocker-runtime", "runc", "crun"]
            .into_iter()
            .filter(|r| crate::runtime::OciRuntime::resolve(r, &self.state).is_ok())
            .collect();
        let mut missing = Vec::new();
        if !overlay {
            missing.push("overlay file system (modprobe overlay): containers cannot start");
        }
        if !command_exists("nft") {
            missing.push("nft (nftables): networks with NAT and published ports will not work");
        }
        if !runtimes.contains(&"lindocker-runtime") {
            missing.push("lindocker-runtime: not beside lindocker nor on PATH");
        }
        Ok(HostInfo {
            containers: records.len(),
            running: count(Status::Running),
            paused: count(Status::Paused),
            images: self.images.images()?.len(),
            layers: self.images.layers().list()?.len(),
            backing,
            cgroup_version,
            cgroup_detail,
            runtimes,
            missing,
            kernel: uname.release().to_string_lossy().into_owned(),
            machine: uname.machine().to_string_lossy().into_owned(),
            hostname: uname.nodename().to_string_lossy().into_owned(),
            os_name: os_name(),
            ncpu: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            memory: host_memory(),
        })
    }

    /// Docker's info object (`info --format`, `GET /info`).
    pub fn info_json(&self, info: &HostInfo) -> Value {
        let runtimes: serde_json::Map<String, Value> =
            info.runtimes.iter().map(|r| (r.to_string(), json!({ "path": r }))).collect();
        let plugins = json!({ "Volume": ["local"], "Network": ["bridge", "host", "none"], "Authorization": null, "Log": ["json-file", "local", "none"] });
        let swarm = json!({ "LocalNodeState": "inactive", "NodeID": "", "NodeAddr": "", "ControlAvailable": false, "Error": "", "RemoteManagers": null });
        let warnings: Vec<String> = info.missing.iter().map(|m| format!("WARNING: missing {m}")).collect();
        let mut out = json!({
            "ID": "", "Containers": info.containers, "ContainersRunning": info.running, "ContainersPaused": info.paused,
            "ContainersStopped": info.containers - info.running - info.paused,
            "Images": info.images,
            "Driver": "overlay", "DriverStatus": [["Backing Filesystem", info.backing]],
            "Plugins": plugins,
            "MemoryLimit": true, "SwapLimit": true, "CpuCfsPeriod": true, "CpuCfsQuota": true, "CPUShares": true, "CPUSet": true,
            "PidsLimit": true, "IPv4Forwarding": true, "Debug": false, "OomKillDisable": false,
            "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs", "CgroupVersion": info.cgroup_version,
            "KernelVersion": info.kernel, "OperatingSystem": info.os_name, "OSVersion": "", "OSType": "linux",
            "Architecture": info.machine, "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": null, "NCPU": info.ncpu, "MemTotal": info.memory,
        });
        let more = json!({
            "DockerRootDir": self.root, "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
            "Name": info.hostname, "Labels": [], "ExperimentalBuild": false,
            "ServerVersion": VERSION,
            "Runtimes": runtimes,
            "DefaultRuntime": "lindocker-runtime", "Swarm": swarm,
            "LiveRestoreEnabled": true, "Isolation": "", "InitBinary": "lindocker",
            "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"],
            "Warnings": warnings,
        });
        if let (Some(out), Value::Object(more)) = (out.as_object_mut(), more) {
            out.extend(more);
        }
        out
    }
}

/// Docker's version object (`version --format`, `GET /version`); `api` is the API
/// version range served, if any.
pub fn version_json(api: Option<(&str, &str)>) -> Value {
    let uname = rustix::system::uname();
    let mut server = json!({
        "Platform": { "Name": "lindocker" },
        "Components": [
            { "Name": "Engine", "Version": VERSION, "Details": { "Os": "linux", "Arch": go_arch(), "KernelVersion": uname.release().to_string_lossy() } },
            { "Name": "lindocker-runtime", "Version": VERSION, "Details": { "OciSpec": "1.2" } },
        ],
        "Version": VERSION, "Os": "linux", "Arch": go_arch(), "GitCommit": "", "GoVersion": "",
        "KernelVersion": uname.release().to_string_lossy(), "BuildTime": "", "Experimental": false,
    });
    if let Some((max, min)) = api {
        server["ApiVersion"] = json!(max);
        server["MinAPIVersion"] = json!(min);
        if let Some(details) = server["Components"][0]["Details"].as_object_mut() {
            details.insert("ApiVersion".into(), json!(max));
            details.insert("MinAPIVersion".into(), json!(min));
        }
    }
    server
}

fn cgroup_version() -> (&'static str, String) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let v1 = mounts.lines().any(|l| l.contains(" - cgroup "));
    let v2 = mounts.lines().find(|l| l.contains(" - cgroup2 ")).and_then(|l| l.split(' ').nth(4)).map(str::to_owned);
    match (v1, v2) {
        (true, Some(at)) => ("1", format!("hybrid (v1 controllers, cgroup2 at {at})")),
        (true, None) => ("1", "v1".into()),
        (false, Some(_)) => ("2", "v2".into()),
        (false, None) => ("none", "no cgroup file system mounted".into()),
    }
}

fn command_exists(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// Docker's `GOARCH` name of this machine's architecture.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_owned())))
        .unwrap_or_else(|| "Linux".into())
}

/// Bytes of memory the machine has (`info`, and `stats` where a container has no limit).
pub fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
