//! The flags of `run` and `create`, and how they become a [`CreateRequest`].

use anyhow::{Context, Result, bail};
use clap::Args;
use lindocker_engine::CreateRequest;
use lindocker_engine::attach_options::AttachStreams;
use lindocker_engine::bundle::cap_name;
use lindocker_engine::log_config::LogConfig;
use lindocker_engine::options::{self, RestartPolicy};
use lindocker_engine::record::HostConfig;
use lindocker_engine::{devices, mountflag, sysctls};

/// Flags shared by `run` and `create`.
#[derive(Debug, Args, Clone)]
pub struct CreateArgs {
    /// Print help (`-h` is --hostname, as in Docker).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Keep stdin open.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables (K=V, or K to copy ours).
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Read environment variables from a file.
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// User (name|uid[:group|gid]).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Bind mount or volume: HOST:CTR[:ro], NAME:CTR[:ro], or CTR.
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// Mount a tmpfs: PATH[:options].
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Attach a filesystem mount: type=bind|volume|tmpfs,source=...,target=...[,readonly].
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount the volumes of another container: CONTAINER[:ro|rw].
    #[arg(long)]
    pub volumes_from: Vec<String>,
    /// Add a host device: HOST[:CONTAINER][:PERMISSIONS] (rwm).
    #[arg(long)]
    pub device: Vec<String>,
    /// Add a rule to the device cgroup: 'c 1:3 rwm'.
    #[arg(long)]
    pub device_cgroup_rule: Vec<String>,
    /// Size of /dev/shm (e.g. 128m).
    #[arg(long)]
    pub shm_size: Option<String>,
    /// Namespaced kernel parameters: NAME=VALUE.
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// More groups to join: names (from the container's /etc/group) or ids.
    #[arg(long)]
    pub group_add: Vec<String>,
    /// Write the container's id to this file (which must not exist).
    #[arg(long)]
    pub cidfile: Option<String>,
    /// Mount the root filesystem read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Memory limit (e.g. 100m).
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Memory + swap limit (-1: unlimited swap).
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Limit on the number of processes.
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// Resource limits: NAME=SOFT[:HARD].
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Add capabilities.
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop capabilities.
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Security options: seccomp=unconfined|FILE, no-new-privileges.
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// Give the container every capability and device.
    #[arg(long)]
    pub privileged: bool,
    /// Run in a user namespace.
    #[arg(long)]
    pub user_ns: bool,
    /// Restart policy: no, on-failure[:N], always, unless-stopped.
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub init: bool,
    /// Overwrite the image's entrypoint.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Set metadata: K=V.
    #[arg(short, long)]
    pub label: Vec<String>,
    /// Signal to stop the container.
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Seconds to wait for the stop signal before SIGKILL.
    #[arg(long)]
    pub stop_timeout: Option<u32>,
    /// OCI runtime: lindocker-runtime (default), runc, crun or a path.
    #[arg(long)]
    pub runtime: Option<String>,
    /// Logging driver: json-file (default), local or none.
    #[arg(long)]
    pub log_driver: Option<String>,
    /// Log driver options: max-size=10m, max-file=3, compress=true, ...
    #[arg(long)]
    pub log_opt: Vec<String>,
    /// Attach to STDIN, STDOUT or STDERR (repeatable; default: stdout and stderr).
    #[arg(short = 'a', long = "attach")]
    pub attach: Vec<String>,
    /// Network: bridge (default), none, host, container:OTHER, or a network's name;
    /// repeat to join several.
    #[arg(long = "network", alias = "net")]
    pub network: Vec<String>,
    /// Address on the (first) network.
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address on the first network (an `--ipv6` one).
    #[arg(long)]
    pub ip6: Option<String>,
    /// More names for the container on its (first) network.
    #[arg(long = "network-alias")]
    pub network_alias: Vec<String>,
    /// Publish a port: [HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp].
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish every port the image exposes, on free host ports.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// DNS server for /etc/resolv.conf.
    #[arg(long)]
    pub dns: Vec<String>,
    /// Extra /etc/hosts entry: NAME:IP.
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// MAC address of the first interface.
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// `--health-*`, `--no-healthcheck`.
    #[command(flatten)]
    pub health: crate::health_args::HealthArgs,
    /// Namespaces, finer limits, resolver settings, `--expose`, `--label-file`, `--platform`.
    #[command(flatten)]
    pub nsres: crate::run_nsres::NsResourceArgs,
    /// Pull the image: missing (default), always, never.
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Suppress the pull output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Add an annotation to the container (passed through to the OCI runtime): KEY=VALUE.
    #[arg(long)]
    pub annotation: Vec<String>,
    /// The cgroup under which the container's goes (a relative one under the engine's).
    #[arg(long)]
    pub cgroup_parent: Option<String>,
    /// Cgroup namespace: private (default) or host.
    #[arg(long)]
    pub cgroupns: Option<String>,
    /// Memory nodes in which to allow execution (0-3, 0,1).
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Tune the container's memory swappiness (0 to 100; -1: the kernel's default).
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swappiness: Option<String>,
    /// Container NIS domain name.
    #[arg(long)]
    pub domainname: Option<String>,
    /// Add a link to another container: NAME[:ALIAS].
    #[arg(long)]
    pub link: Vec<String>,
    /// The image.
    pub image: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

impl CreateArgs {
    /// The request the engine takes, every value checked.
    pub fn request(&self, auto_remove: bool) -> Result<CreateRequest> {
        let mut host = HostConfig {
            read_only: self.read_only,
            privileged: self.privileged,
            init: self.init,
            auto_remove,
            user_ns: self.user_ns,
            runtime: self.runtime.clone().unwrap_or_default(),
            log_max_file: 1,
            ..HostConfig::default()
        };
        host.memory = self.memory.as_deref().map(|m| options::parse_bytes("--memory", m)).transpose()?;
        host.memory_swap = match self.memory_swap.as_deref() {
            Some("-1") => Some(-1),
            Some(v) => Some(options::parse_bytes("--memory-swap", v)?),
            None => None,
        };
        if let (Some(swap), Some(mem)) = (host.memory_swap, host.memory)
            && swap != -1
            && swap < mem
        {
            bail!("--memory-swap must be at least --memory ({} < {})", swap, mem);
        }
        if host.memory_swap.is_some() && host.memory.is_none() {
            bail!("--memory-swap needs --memory");
        }
        if let Some(m) = host.memory
            && m < 6 * 1024 * 1024
        {
            bail!(
                "invalid argument {:?} for --memory: the minimum allowed is 6MB",
                self.memory.as_deref().unwrap_or_default()
            );
        }
        host.nano_cpus = self.cpus.as_deref().map(options::parse_cpus).transpose()?;
        host.cpu_shares = self.cpu_shares;
        host.cpuset_cpus = self.cpuset_cpus.clone();
        if let Some(cpus) = &host.cpuset_cpus
            && !cpus.split(',').all(|r| r.split('-').all(|n| n.parse::<u32>().is_ok()))
        {
            bail!("invalid argument {cpus:?} for --cpuset-cpus: expected a list like 0-2,4");
        }
        self.placement(&mut host)?;
        host.pids_limit = self.pids_limit;
        host.ulimits = self.ulimit.iter().map(|u| options::parse_ulimit(u)).collect::<Result<_, _>>()?;
        host.cap_add = self.cap_add.iter().map(|c| cap_name(c)).collect::<Result<_, _>>()?;
        host.cap_drop = self.cap_drop.iter().map(|c| cap_name(c)).collect::<Result<_, _>>()?;
        for opt in &self.security_opt {
            match opt.split_once(['=', ':']) {
                Some(("seccomp", "unconfined")) => host.seccomp = Some("unconfined".into()),
                Some(("seccomp", file)) => {
                    let text =
                        std::fs::read_to_string(file).with_context(|| format!("--security-opt seccomp={file}"))?;
                    serde_json::from_str::<serde_json::Value>(&text)
                        .with_context(|| format!("--security-opt seccomp={file}: not JSON"))?;
                    host.seccomp = Some(text);
                }
                None if opt == "no-new-privileges" => host.no_new_privileges = true,
                Some(("no-new-privileges", v)) => host.no_new_privileges = v == "true",
                _ => bail!("--security-opt {opt:?}: supported are seccomp=unconfined|FILE and no-new-privileges"),
            }
        }
        self.nsres.apply(&mut host)?;
        host.restart = RestartPolicy::parse(&self.restart)?;
        if auto_remove && host.restart != RestartPolicy::No {
            bail!("conflicting options: --restart and --rm");
        }
        LogConfig::parse(self.log_driver.as_deref(), &self.log_opt)?.apply_to(&mut host);
        let mut env = Vec::new();
        for file in &self.env_file {
            let text = std::fs::read_to_string(file).with_context(|| format!("--env-file {file}"))?;
            env.extend(options::parse_env_file(&text).with_context(|| format!("--env-file {file}"))?);
        }
        for value in &self.env {
            env.extend(options::parse_env(value)?);
        }
        let mut mounts = Vec::new();
        // Relative host paths are the caller's (Docker's CLI resolves them, not its daemon).
        let cwd = std::env::current_dir().context("the current directory")?;
        for v in &self.volume {
            mounts.push(options::parse_volume(&mountflag::resolve_volume_source(v, &cwd))?);
        }
        for t in &self.tmpfs {
            mounts.push(options::parse_tmpfs(t)?);
        }
        for m in &self.mount {
            let request = mountflag::parse_mount(m, &cwd)?;
            mounts.push(request.to_spec());
            host.mounts.push(request);
        }
        host.volumes_from = self.volumes_from.clone();
        host.devices = self.device.iter().map(|d| devices::parse_device(d)).collect::<Result<_, _>>()?;
        host.device_cgroup_rules = self
            .device_cgroup_rule
            .iter()
            .map(|r| devices::parse_rule(r).map(|r| r.to_string()))
            .collect::<Result<_, _>>()?;
        if let Some(size) = &self.shm_size {
            let bytes = options::parse_bytes("--shm-size", size)?;
            if bytes <= 0 {
                bail!("invalid argument {size:?} for --shm-size: must be greater than 0");
            }
            host.shm_size = Some(bytes);
        }
        for s in &self.sysctl {
            let (name, value) = sysctls::parse_sysctl(s)?;
            host.sysctls.insert(name, value);
        }
        for g in &self.group_add {
            if g.is_empty() || g.contains(['\0', '\n']) {
                bail!("invalid argument {g:?} for --group-add");
            }
        }
        host.group_add = self.group_add.clone();
        let mut labels = std::collections::BTreeMap::new();
        labels.extend(self.nsres.file_labels()?);
        for l in &self.label {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            labels.insert(k.to_owned(), v.to_owned());
        }
        if let Some(sig) = &self.stop_signal {
            signal_number(sig)?;
        }
        let network = self.network_config()?;
        Ok(CreateRequest {
            image: self.image.clone(),
            name: self.name.clone(),
            cmd: self.command.clone(),
            entrypoint: self.entrypoint.clone(),
            env,
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.as_deref().map(options::parse_hostname).transpose()?,
            domainname: self.domainname.as_deref().map(options::parse_domainname).transpose()?,
            tty: self.tty,
            stdin: self.interactive,
            labels,
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            attach: AttachStreams::parse(&self.attach, self.interactive)?,
            mounts,
            host,
            healthcheck: self.health.healthcheck()?,
            start_now: false,
            id: None,
            built: None,
            network,
            publish_all: self.publish_all,
            expose: self.nsres.exposed()?,
        })
    }

    /// `--annotation`, `--cgroup-parent`, `--cgroupns`, `--cpuset-mems`,
    /// `--memory-swappiness`.
    fn placement(&self, host: &mut HostConfig) -> Result<()> {
        use lindocker_engine::placement;
        for a in &self.annotation {
            let (k, v) = options::parse_annotation(a)?;
            host.annotations.insert(k, v);
        }
        host.cgroup_parent =
            self.cgroup_parent.as_deref().map(placement::parse_cgroup_parent).transpose()?.unwrap_or_default();
        host.cgroupns_host = self.cgroupns.as_deref().map(placement::parse_cgroupns).transpose()?.unwrap_or(false);
        host.cpuset_mems = self.cpuset_mems.as_deref().map(placement::parse_cpuset_mems).transpose()?;
        if let Some(value) = &self.memory_swappiness {
            host.memory_swappiness = placement::parse_swappiness(value)?;
            if host.memory_swappiness.is_some() && !placement::swappiness_supported() {
                // Docker's words: the cgroup v2 kernel has no per-cgroup swappiness.
                eprintln!(
                    "WARNING: Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded."
                );
                host.memory_swappiness = None;
            }
        }
        Ok(())
    }

    fn network_config(&self) -> Result<lindocker_engine::record::NetworkConfig> {
        use lindocker_engine::record::NetworkConfig;
        use lindocker_network::Attachment;
        let names: Vec<String> = if self.network.is_empty() { vec!["bridge".into()] } else { self.network.clone() };
        let special = |n: &str| n == "none" || n == "host" || n.starts_with("container:");
        if names.len() > 1 && names.iter().any(|n| special(n)) {
            bail!("--network: none, host and container: cannot be combined with other networks");
        }
        let ip = self
            .ip
            .as_deref()
            .map(|ip| ip.parse::<std::net::Ipv4Addr>().with_context(|| format!("--ip {ip:?}: not an IPv4 address")))
            .transpose()?;
        let ip6 = self
            .ip6
            .as_deref()
            .map(|ip| ip.parse::<std::net::Ipv6Addr>().with_context(|| format!("--ip6 {ip:?}: not an IPv6 address")))
            .transpose()?;
        let mac = self.mac_address.as_deref().map(|m| options::parse_mac("--mac-address", m)).transpose()?;
        for alias in &self.network_alias {
            options::parse_alias("--network-alias", alias)?;
        }
        let mut config = NetworkConfig::default();
        if special(&names[0]) {
            config.mode = names[0].clone();
            if ip.is_some() || ip6.is_some() || mac.is_some() || !self.network_alias.is_empty() {
                bail!("--ip, --ip6, --mac-address and --network-alias need a bridge network");
            }
        } else {
            config.mode = "bridge".into();
            for (i, name) in names.iter().enumerate() {
                let first = i == 0;
                config.attachments.push(Attachment {
                    network: name.clone(),
                    ip: if first { ip } else { None },
                    ip6: if first { ip6 } else { None },
                    aliases: if first { self.network_alias.clone() } else { Vec::new() },
                    mac: if first { mac } else { None },
                });
            }
        }
        for p in &self.publish {
            config.ports.push(lindocker_network::ports::parse(p)?);
        }
        for d in &self.dns {
            d.parse::<std::net::IpAddr>().with_context(|| format!("--dns {d:?}: not an IP address"))?;
            config.dns.push(d.clone());
        }
        (config.dns_search, config.dns_options) = self.nsres.resolver()?;
        for h in &self.add_host {
            config.extra_hosts.push(options::parse_add_host(h)?);
        }
        for l in &self.link {
            config.links.push(lindocker_engine::legacy::parse(l)?);
        }
        if !config.links.is_empty() && config.mode != "bridge" {
            bail!("conflicting options: --link needs a bridge network, not --network {}", config.mode);
        }
        Ok(config)
    }
}

/// A signal's number from `TERM`, `SIGTERM` or `15`.
pub fn signal_number(sig: &str) -> Result<i32> {
    if let Ok(n) = sig.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        bail!("invalid signal: {sig}");
    }
    let name = sig.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    const NAMES: [(&str, i32); 20] = [
        ("HUP", 1),
        ("INT", 2),
        ("QUIT", 3),
        ("ILL", 4),
        ("TRAP", 5),
        ("ABRT", 6),
        ("BUS", 7),
        ("FPE", 8),
        ("KILL", 9),
        ("USR1", 10),
        ("SEGV", 11),
        ("USR2", 12),
        ("PIPE", 13),
        ("ALRM", 14),
        ("TERM", 15),
        ("CHLD", 17),
        ("CONT", 18),
        ("STOP", 19),
        ("TSTP", 20),
        ("WINCH", 28),
    ];
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).with_context(|| format!("invalid signal: {sig}"))
}
