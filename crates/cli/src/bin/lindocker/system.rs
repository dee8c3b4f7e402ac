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
    Df,
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
    Info,
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

/// `lindocker info`.
pub fn info(engine: &Engine) -> Result<u8> {
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

/// `lindocker version`.
pub fn version() -> Result<u8> {
    println!("Client/Engine: lindocker {}", env!("CARGO_PKG_VERSION"));
    println!(" OS/Arch: linux/{}", std::env::consts::ARCH);
    println!(" Runtime: lindocker-runtime (OCI runtime spec 1.2)");
    Ok(0)
}

/// `lindocker system df`.
pub fn df(engine: &Engine) -> Result<u8> {
    let images = engine.images.images()?;
    let records = engine.records.all()?;
    let used: Vec<&str> = records.iter().map(|r| r.image.as_str()).collect();
    let layer_bytes: u64 = engine.images.layers().list()?.iter().map(|c| engine.images.layers().disk_usage(c)).sum();
    let container_bytes: u64 =
        records.iter().map(|r| lindocker_storage::layers::du(&engine.records.dir(&r.id).join("upper"))).sum();
    let volumes = engine.volumes.list()?;
    let volume_bytes: u64 = volumes.iter().map(|v| lindocker_storage::layers::du(&v.mountpoint)).sum();
    let active_volumes = volumes
        .iter()
        .filter(|v| {
            records.iter().any(|r| {
                r.mounts
                    .iter()
                    .any(|m| matches!(m, lindocker_engine::options::MountSpec::Volume { name, .. } if *name == v.name))
            })
        })
        .count();
    let rows = vec![
        vec!["TYPE".into(), "TOTAL".into(), "ACTIVE".into(), "SIZE".into()],
        vec![
            "Images".into(),
            images.len().to_string(),
            images.iter().filter(|i| used.contains(&i.id.as_str())).count().to_string(),
            format::size(layer_bytes),
        ],
        vec![
            "Containers".into(),
            records.len().to_string(),
            records.iter().filter(|r| r.state.status.is_live()).count().to_string(),
            format::size(container_bytes),
        ],
        vec!["Local Volumes".into(), volumes.len().to_string(), active_volumes.to_string(), format::size(volume_bytes)],
    ];
    format::table(&rows);
    Ok(0)
}
