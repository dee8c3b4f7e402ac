//! `info`, `version`, `system df`, `system prune`.

use anyhow::Result;
use clap::Subcommand;
use lindocker_engine::Engine;
use lindocker_engine::record::Status;

use crate::format;

/// `lindocker system SUBCOMMAND`.
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Disk used by images, containers and volumes.
    Df {
        /// `table` (default), `table TEMPLATE`, `json` or a Go template per type.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Remove stopped containers, dangling images, unused layers and volumes.
    Prune {
        /// Also images without containers, not only dangling ones.
        #[arg(short, long)]
        all: bool,
        /// Also unused volumes.
        #[arg(long)]
        volumes: bool,
        /// Accepted for Docker compatibility.
        #[arg(short, long)]
        force: bool,
    },
    /// Same as `lindocker info`.
    Info {
        /// A Go template over Docker's info object: {{.ServerVersion}}, {{json .}}.
        #[arg(short, long)]
        format: Option<String>,
    },
    /// Same as `lindocker events`.
    Events(crate::events::EventsArgs),
    /// Settle what a reboot left: mark dead containers exited, remove `--rm` ones, start
    /// those whose restart policy says so. The first command after a boot does it too;
    /// this is for an init system to run at boot.
    Boot,
}

/// `system boot`: recovery after a boot, reported.
pub fn boot(engine: &Engine) -> Result<u8> {
    let done = engine.recover_after_boot()?;
    for name in &done.restarted {
        println!("restarted {name}");
    }
    for name in &done.removed {
        println!("removed {name}");
    }
    for (name, why) in &done.failed {
        eprintln!("could not restart {name}: {why}");
    }
    Ok(if done.failed.is_empty() { 0 } else { 1 })
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
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Go types of `info`'s and `version`'s objects where JSON cannot tell.
const SYSTEM_SCHEMA: crate::template::Schema<'static> = &[
    ("Runtimes", crate::template::Kind::Map),
    ("Warnings", crate::template::Kind::Slice),
    ("Labels", crate::template::Kind::Slice),
    ("Server.Components.*.Details", crate::template::Kind::StrMap),
];

/// `lindocker info` (`--format`: a template over Docker's info object).
pub fn info(engine: &Engine, template: Option<&str>) -> Result<u8> {
    let records = engine.records.all()?;
    let count = |s: Status| records.iter().filter(|r| r.state.status == s).count();
    let uname = rustix::system::uname();
    let backing = rustix::fs::statfs(&engine.root).map(|s| s.f_type).ok();
    let backing = match backing {
        Some(0xEF53) => "extfs".to_owned(),
        Some(0x5846_5342) => "xfs".to_owned(),
        Some(0x9123_683E) => "btrfs".to_owned(),
        Some(0x0102_1994) => "tmpfs".to_owned(),
        Some(other) => format!("0x{other:x}"),
        None => "unknown".to_owned(),
    };
    let overlay = std::fs::read_to_string("/proc/filesystems").unwrap_or_default().contains("overlay");
    let (cgroup, cgroup_detail) = cgroup_version();
    let runtimes: Vec<&str> = ["lindocker-runtime", "runc", "crun"]
        .into_iter()
        .filter(|r| lindocker_engine::runtime::OciRuntime::resolve(r, &engine.state).is_ok())
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
    if let Some(template) = template {
        let running = count(Status::Running);
        let paused = count(Status::Paused);
        let data = serde_json::json!({
            "Containers": records.len(), "ContainersRunning": running, "ContainersPaused": paused,
            "ContainersStopped": records.len() - running - paused,
            "Images": engine.images.images()?.len(),
            "Driver": "overlay", "DriverStatus": [["Backing Filesystem", backing]],
            "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs", "CgroupVersion": cgroup,
            "KernelVersion": uname.release().to_string_lossy(), "OperatingSystem": os_name(), "OSType": "linux",
            "Architecture": uname.machine().to_string_lossy(),
            "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "MemTotal": host_memory(),
            "DockerRootDir": engine.root, "Name": uname.nodename().to_string_lossy(),
            "ServerVersion": env!("CARGO_PKG_VERSION"),
            "Runtimes": runtimes.iter().map(|r| (r.to_string(), serde_json::json!({ "path": r }))).collect::<serde_json::Map<_, _>>(),
            "DefaultRuntime": "lindocker-runtime", "Labels": [],
            "Warnings": missing.iter().map(|m| format!("WARNING: missing {m}")).collect::<Vec<_>>(),
        });
        crate::formatter::inspect_each(template, &[(data, SYSTEM_SCHEMA)])?;
        return Ok(0);
    }
    println!("Containers: {}", records.len());
    println!(" Running: {}", count(Status::Running));
    println!(" Paused: {}", count(Status::Paused));
    println!(" Stopped: {}", records.len() - count(Status::Running) - count(Status::Paused));
    println!("Images: {}", engine.images.images()?.len());
    println!("Server Version: {}", env!("CARGO_PKG_VERSION"));
    println!("Storage Driver: overlay");
    println!(" Backing Filesystem: {backing}");
    println!(" Layers: {}", engine.images.layers().list()?.len());
    println!("Logging Driver: json-file");
    println!("Cgroup Driver: cgroupfs");
    println!("Cgroup Version: {cgroup} ({cgroup_detail})");
    println!("Cgroup Parent: {}", engine.cgroup_parent);
    println!("Runtimes: {}", runtimes.join(" "));
    println!("Default Runtime: lindocker-runtime");
    println!("Kernel Version: {}", uname.release().to_string_lossy());
    println!("Operating System: {}", os_name());
    println!("Architecture: {}", uname.machine().to_string_lossy());
    println!("CPUs: {}", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    println!("Docker Root Dir: {}", engine.root.display());
    println!("State Dir: {}", engine.state.display());
    if !missing.is_empty() {
        println!("Warnings:");
        for m in missing {
            println!(" WARNING: missing {m}");
        }
    }
    Ok(0)
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

/// `lindocker version` (`--format`: a template over Docker's version object).
pub fn version(template: Option<&str>) -> Result<u8> {
    if let Some(template) = template {
        let version = env!("CARGO_PKG_VERSION");
        let uname = rustix::system::uname();
        let data = serde_json::json!({
            "Client": { "Platform": { "Name": "lindocker" }, "Version": version, "Os": "linux", "Arch": go_arch(), "Context": "default" },
            "Server": {
                "Platform": { "Name": "lindocker" },
                "Components": [
                    { "Name": "Engine", "Version": version, "Details": { "Os": "linux", "Arch": go_arch() } },
                    { "Name": "lindocker-runtime", "Version": version, "Details": { "OciSpec": "1.2" } },
                ],
                "Version": version, "Os": "linux", "Arch": go_arch(),
                "KernelVersion": uname.release().to_string_lossy(),
            },
        });
        crate::formatter::inspect_each(template, &[(data, SYSTEM_SCHEMA)])?;
        return Ok(0);
    }
    println!("Client/Engine: lindocker {}", env!("CARGO_PKG_VERSION"));
    println!(" OS/Arch: linux/{}", std::env::consts::ARCH);
    println!(" Runtime: lindocker-runtime (OCI runtime spec 1.2)");
    Ok(0)
}

/// `system df --format`: Docker's default table and headers.
const DF_LISTING: crate::formatter::Listing<'static> = crate::formatter::Listing {
    default_table: "table {{.Type}}\\t{{.TotalCount}}\\t{{.Active}}\\t{{.Size}}\\t{{.Reclaimable}}",
    headers: &[
        ("Type", "TYPE"),
        ("TotalCount", "TOTAL"),
        ("Active", "ACTIVE"),
        ("Size", "SIZE"),
        ("Reclaimable", "RECLAIMABLE"),
    ],
};

/// Docker's RECLAIMABLE: `1.2MB (40%)`.
fn reclaimable(bytes: u64, total: u64) -> String {
    match (bytes * 100).checked_div(total) {
        Some(percent) => format!("{} ({percent}%)", format::size(bytes)),
        None => format::size(bytes),
    }
}

/// `lindocker system df`.
pub fn df(engine: &Engine, format_: &str) -> Result<u8> {
    use crate::formatter::{row, text};
    let images = engine.images.images()?;
    let records = engine.records.all()?;
    let used: Vec<&str> = records.iter().map(|r| r.image.as_str()).collect();
    let layers = engine.images.layers();
    let layer_bytes: u64 = layers.list()?.iter().map(|c| layers.disk_usage(c)).sum();
    // Layers of images some container uses stay; the rest could go.
    let kept: std::collections::BTreeSet<&String> =
        images.iter().filter(|i| used.contains(&i.id.as_str())).flat_map(|i| &i.layers).collect();
    let kept_bytes: u64 = kept.iter().map(|c| layers.disk_usage(c)).sum();
    let container_size =
        |r: &lindocker_engine::record::Record| lindocker_storage::layers::du(&engine.paths(&r.id).upper());
    let container_bytes: u64 = records.iter().map(container_size).sum();
    let idle_container_bytes: u64 = records.iter().filter(|r| !r.state.status.is_live()).map(container_size).sum();
    let volumes = engine.volumes.list()?;
    let in_use = |name: &str| {
        records.iter().any(|r| {
            r.mounts
                .iter()
                .any(|m| matches!(m, lindocker_engine::options::MountSpec::Volume { name: n, .. } if n == name))
        })
    };
    let volume_bytes: u64 = volumes.iter().map(|v| lindocker_storage::layers::du(&v.mountpoint)).sum();
    let idle_volume_bytes: u64 =
        volumes.iter().filter(|v| !in_use(&v.name)).map(|v| lindocker_storage::layers::du(&v.mountpoint)).sum();
    let active_volumes = volumes.iter().filter(|v| in_use(&v.name)).count();
    let line = |kind: &str, total: usize, active: usize, size: u64, free: u64| {
        row(vec![
            ("Type", text(kind)),
            ("TotalCount", text(total.to_string())),
            ("Active", text(active.to_string())),
            ("Size", text(format::size(size))),
            ("Reclaimable", text(reclaimable(free, size))),
        ])
    };
    let rows = vec![
        line(
            "Images",
            images.len(),
            images.iter().filter(|i| used.contains(&i.id.as_str())).count(),
            layer_bytes,
            layer_bytes.saturating_sub(kept_bytes),
        ),
        line(
            "Containers",
            records.len(),
            records.iter().filter(|r| r.state.status.is_live()).count(),
            container_bytes,
            idle_container_bytes,
        ),
        line("Local Volumes", volumes.len(), active_volumes, volume_bytes, idle_volume_bytes),
    ];
    crate::formatter::print(format_, &DF_LISTING, &rows)?;
    Ok(0)
}
