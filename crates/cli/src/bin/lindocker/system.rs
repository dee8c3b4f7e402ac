//! `info`, `version`, `system df`, `system prune`.

use anyhow::Result;
use clap::Subcommand;
use lindocker_engine::Engine;
use lindocker_engine::hostinfo;

use crate::{Failure, format};

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
    /// Serve the Docker Engine API (for the docker CLI, docker-compose, SDKs) on a
    /// socket: `DOCKER_HOST=unix:///run/lindocker/docker.sock`.
    Service {
        /// Exit after this many idle seconds (no connection open); 0: never.
        #[arg(short, long, default_value_t = 5)]
        time: u64,
        /// Accept a tcp:// address that is not loopback: whoever reaches it is root on
        /// this host, without authentication.
        #[arg(long)]
        allow_remote_tcp: bool,
        /// unix:///PATH (default unix:///run/lindocker/docker.sock) or
        /// tcp://127.0.0.1:PORT; without it, a socket systemd passed is used first.
        address: Option<String>,
    },
}

/// `system service`: execs `lindocker-api` (installed beside us) with our global options,
/// which serves the API until idle for `time` seconds. The address is checked here first,
/// so a bad one is exit 125 with nothing started.
pub fn service(cli: &crate::Cli, time: u64, address: Option<&str>, allow_remote_tcp: bool) -> Result<u8> {
    use std::os::unix::process::CommandExt;
    if let Some(address) = address {
        check_address(address, allow_remote_tcp).map_err(|e| Failure::new(125, e))?;
    }
    let exe = std::env::current_exe()?.with_file_name("lindocker-api");
    let mut command = std::process::Command::new(&exe);
    command
        .arg("--root")
        .arg(&cli.root)
        .arg("--state")
        .arg(&cli.state)
        .arg("--cgroup-parent")
        .arg(&cli.cgroup_parent)
        .arg("--time")
        .arg(time.to_string());
    if allow_remote_tcp {
        command.arg("--allow-remote-tcp");
    }
    command.args(address);
    let e = command.exec();
    Err(Failure::new(125, format!("starting {}: {e}", exe.display())).into())
}

/// Docker's address forms, loopback TCP unless `remote` (the same rule as the server's).
fn check_address(text: &str, remote: bool) -> std::result::Result<(), String> {
    if let Some(path) = text.strip_prefix("unix://") {
        return if path.starts_with('/') && !path.contains('\0') {
            Ok(())
        } else {
            Err(format!("{text:?}: the socket path must be absolute (unix:///PATH)"))
        };
    }
    let Some(addr) = text.strip_prefix("tcp://") else {
        return Err(format!("{text:?}: expected unix:///PATH or tcp://IP:PORT"));
    };
    let addr: std::net::SocketAddr =
        addr.parse().map_err(|_| format!("{text:?}: expected tcp://IP:PORT (an IP address, not a name)"))?;
    if !addr.ip().is_loopback() && !remote {
        return Err(format!(
            "{text:?}: not a loopback address; the API gives root on this host to anyone who reaches it, without authentication (use --allow-remote-tcp to insist)"
        ));
    }
    Ok(())
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

/// Go types of `info`'s and `version`'s objects where JSON cannot tell.
const SYSTEM_SCHEMA: crate::template::Schema<'static> = &[
    ("Runtimes", crate::template::Kind::Map),
    ("Warnings", crate::template::Kind::Slice),
    ("Labels", crate::template::Kind::Slice),
    ("Server.Components.*.Details", crate::template::Kind::StrMap),
];

/// `lindocker info` (`--format`: a template over Docker's info object).
pub fn info(engine: &Engine, template: Option<&str>) -> Result<u8> {
    let info = engine.host_info()?;
    if let Some(template) = template {
        let data = engine.info_json(&info);
        crate::formatter::inspect_each(template, &[(data, SYSTEM_SCHEMA)])?;
        return Ok(0);
    }
    println!("Containers: {}", info.containers);
    println!(" Running: {}", info.running);
    println!(" Paused: {}", info.paused);
    println!(" Stopped: {}", info.containers - info.running - info.paused);
    println!("Images: {}", info.images);
    println!("Server Version: {}", hostinfo::VERSION);
    println!("Storage Driver: overlay");
    println!(" Backing Filesystem: {}", info.backing);
    println!(" Layers: {}", info.layers);
    println!("Logging Driver: json-file");
    println!("Cgroup Driver: cgroupfs");
    println!("Cgroup Version: {} ({})", info.cgroup_version, info.cgroup_detail);
    println!("Cgroup Parent: {}", engine.cgroup_parent());
    println!("Runtimes: {}", info.runtimes.join(" "));
    println!("Default Runtime: lindocker-runtime");
    println!("Kernel Version: {}", info.kernel);
    println!("Operating System: {}", info.os_name);
    println!("Architecture: {}", info.machine);
    println!("CPUs: {}", info.ncpu);
    println!("Docker Root Dir: {}", engine.root().display());
    println!("State Dir: {}", engine.state().display());
    if !info.missing.is_empty() {
        println!("Warnings:");
        for m in info.missing {
            println!(" WARNING: missing {m}");
        }
    }
    Ok(0)
}

/// `lindocker version` (`--format`: a template over Docker's version object).
pub fn version(template: Option<&str>) -> Result<u8> {
    if let Some(template) = template {
        let data = serde_json::json!({
            "Client": { "Platform": { "Name": "lindocker" }, "Version": hostinfo::VERSION, "Os": "linux", "Arch": hostinfo::go_arch(), "Context": "default" },
            "Server": hostinfo::version_json(None),
        });
        crate::formatter::inspect_each(template, &[(data, SYSTEM_SCHEMA)])?;
        return Ok(0);
    }
    println!("Client/Engine: lindocker {}", hostinfo::VERSION);
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
    let usage = engine.disk_usage()?;
    let container_bytes: u64 = usage.containers.iter().map(|c| c.size_rw).sum();
    let idle_container_bytes: u64 = usage.containers.iter().filter(|c| !c.live).map(|c| c.size_rw).sum();
    let volume_size = |v: &lindocker_engine::volume_ops::VolumeResource| {
        v.usage_data.as_ref().map_or(0, |u| u64::try_from(u.size).unwrap_or(0))
    };
    let in_use =
        |v: &lindocker_engine::volume_ops::VolumeResource| v.usage_data.as_ref().is_some_and(|u| u.ref_count > 0);
    let volume_bytes: u64 = usage.volumes.iter().map(volume_size).sum();
    let idle_volume_bytes: u64 = usage.volumes.iter().filter(|v| !in_use(v)).map(volume_size).sum();
    let active_volumes = usage.volumes.iter().filter(|v| in_use(v)).count();
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
            usage.images.len(),
            usage.images.iter().filter(|i| i.containers > 0).count(),
            usage.layers_size,
            usage.layers_reclaimable,
        ),
        line(
            "Containers",
            usage.containers.len(),
            usage.containers.iter().filter(|c| c.live).count(),
            container_bytes,
            idle_container_bytes,
        ),
        line("Local Volumes", usage.volumes.len(), active_volumes, volume_bytes, idle_volume_bytes),
    ];
    crate::formatter::print(format_, &DF_LISTING, &rows)?;
    Ok(0)
}
