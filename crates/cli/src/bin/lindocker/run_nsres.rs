//! `run`/`create` flags for shared namespaces, finer resource limits, resolver
//! settings, exposed ports, label files and the platform; flattened into
//! [`crate::run_args::CreateArgs`]. Values are checked by the engine's parsers.

use anyhow::{Context, Result, bail};
use clap::Args;
use lindocker_engine::record::HostConfig;
use lindocker_engine::{options, resolv, resources, sharing};

/// The flags.
#[derive(Debug, Args, Clone, Default)]
pub struct NsResourceArgs {
    /// PID namespace: host, or container:NAME to share another container's.
    #[arg(long)]
    pub pid: Option<String>,
    /// IPC namespace: private (default), shareable, none, host, or container:NAME.
    #[arg(long)]
    pub ipc: Option<String>,
    /// UTS namespace: host.
    #[arg(long)]
    pub uts: Option<String>,
    /// User namespace: host (none of its own).
    #[arg(long)]
    pub userns: Option<String>,
    /// Do not let the kernel's OOM killer end the container's processes (cgroup v1).
    #[arg(long)]
    pub oom_kill_disable: bool,
    /// The container's OOM score adjustment (-1000 to 1000).
    #[arg(long, allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// Memory soft limit (e.g. 64m).
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// CPU CFS quota in µs per period (-1: none).
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in µs.
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU realtime period in µs.
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in µs per realtime period.
    #[arg(long)]
    pub cpu_rt_runtime: Option<i64>,
    /// Block IO weight (10 to 1000).
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Block IO weight of a device: PATH:WEIGHT.
    #[arg(long)]
    pub blkio_weight_device: Vec<String>,
    /// Read rate limit of a device: PATH:RATE (e.g. /dev/sda:1mb).
    #[arg(long)]
    pub device_read_bps: Vec<String>,
    /// Write rate limit of a device: PATH:RATE.
    #[arg(long)]
    pub device_write_bps: Vec<String>,
    /// Read operations per second limit of a device: PATH:N.
    #[arg(long)]
    pub device_read_iops: Vec<String>,
    /// Write operations per second limit of a device: PATH:N.
    #[arg(long)]
    pub device_write_iops: Vec<String>,
    /// DNS search domain for /etc/resolv.conf.
    #[arg(long)]
    pub dns_search: Vec<String>,
    /// DNS resolver option for /etc/resolv.conf (e.g. ndots:2).
    #[arg(long, alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Expose a port or a range of ports: PORT[/PROTO] or FIRST-LAST[/PROTO].
    #[arg(long)]
    pub expose: Vec<String>,
    /// Read labels from a file of K=V lines.
    #[arg(long)]
    pub label_file: Vec<String>,
    /// Platform of the image (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<String>,
}

impl NsResourceArgs {
    /// Checks the values and puts them into `host`.
    pub fn apply(&self, host: &mut HostConfig) -> Result<()> {
        host.pid_mode = sharing::parse_pid(self.pid.as_deref().unwrap_or(""))?;
        host.ipc_mode = sharing::parse_ipc(self.ipc.as_deref().unwrap_or(""))?;
        host.uts_mode = sharing::parse_uts(self.uts.as_deref().unwrap_or(""))?;
        host.userns_mode = sharing::parse_userns(self.userns.as_deref().unwrap_or(""))?;
        if host.userns_mode == "host" && host.user_ns {
            bail!("conflicting options: --userns host and --user-ns");
        }
        host.oom_kill_disable = self.oom_kill_disable;
        if host.oom_kill_disable && !resources::oom_kill_disable_supported() {
            eprintln!("WARNING: Your kernel does not support OomKillDisable. OomKillDisable discarded.");
            host.oom_kill_disable = false;
        }
        if host.oom_kill_disable && host.memory.is_none() {
            eprintln!(
                "WARNING: Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous."
            );
        }
        host.oom_score_adj = self.oom_score_adj.map(resources::check_oom_score_adj).transpose()?;
        host.memory_reservation =
            self.memory_reservation.as_deref().map(|m| options::parse_bytes("--memory-reservation", m)).transpose()?;
        host.cpu_quota = self.cpu_quota;
        host.cpu_period = self.cpu_period;
        host.cpu_rt_period = self.cpu_rt_period;
        host.cpu_rt_runtime = self.cpu_rt_runtime;
        host.blkio_weight =
            self.blkio_weight.map(|w| resources::parse_blkio_weight("--blkio-weight", w)).transpose()?.flatten();
        host.blkio_weight_device =
            self.blkio_weight_device.iter().map(|d| resources::parse_device_weight(d)).collect::<Result<_, _>>()?;
        let rates = |option: &str, values: &[String], bytes: bool| {
            values.iter().map(|v| resources::parse_device_rate(option, v, bytes)).collect::<Result<Vec<_>, _>>()
        };
        host.device_read_bps = rates("--device-read-bps", &self.device_read_bps, true)?;
        host.device_write_bps = rates("--device-write-bps", &self.device_write_bps, true)?;
        host.device_read_iops = rates("--device-read-iops", &self.device_read_iops, false)?;
        host.device_write_iops = rates("--device-write-iops", &self.device_write_iops, false)?;
        resources::check(host)?;
        Ok(())
    }

    /// `--dns-search` and `--dns-option`, checked.
    pub fn resolver(&self) -> Result<(Vec<String>, Vec<String>)> {
        let search = self.dns_search.iter().map(|s| resolv::parse_search(s)).collect::<Result<_, _>>()?;
        let options = self.dns_option.iter().map(|o| resolv::parse_option(o)).collect::<Result<_, _>>()?;
        Ok((search, options))
    }

    /// `--expose` as `ExposedPorts` keys.
    pub fn exposed(&self) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        for value in &self.expose {
            keys.extend(lindocker_network::ports::parse_expose(value)?);
        }
        Ok(keys)
    }

    /// The labels of the `--label-file`s, in order.
    pub fn file_labels(&self) -> Result<Vec<(String, String)>> {
        let mut labels = Vec::new();
        for file in &self.label_file {
            let text = std::fs::read_to_string(file).with_context(|| format!("--label-file {file}"))?;
            labels.extend(options::parse_label_file(&text).with_context(|| format!("--label-file {file}"))?);
        }
        Ok(labels)
    }
}
