//! Request bodies of the container endpoints, as Docker's swagger names them
//! (`ContainerConfig`, `HostConfig`, `NetworkingConfig`), and their mapping onto the
//! engine's typed [`CreateRequest`]. Fields lindocker does not model are ignored, as
//! dockerd ignores unknown fields; a field it models with a wrong type or a bad value
//! is a 400.

use std::collections::BTreeMap;

use lindocker_engine::CreateRequest;
use lindocker_engine::attach_options::AttachStreams;
use lindocker_engine::options::{self, RestartPolicy};
use lindocker_engine::record::{HostConfig as EngineHost, NetworkConfig};
use lindocker_engine::{devices, placement, resolv, resources, sharing};
use serde::{Deserialize, Deserializer};

use crate::error::{ApiError, ApiResult};

/// Go's nil slices and maps arrive as `null`: read as empty.
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Docker's `StrSlice`: a string or a list of strings (or null).
#[derive(Debug, Clone, Default)]
pub struct StrSlice(pub Option<Vec<String>>);

impl<'de> Deserialize<'de> for StrSlice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StrSlice, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            One(String),
            Many(Vec<String>),
        }
        Ok(StrSlice(Option::<Either>::deserialize(d)?.map(|e| match e {
            Either::One(s) => vec![s],
            Either::Many(v) => v,
        })))
    }
}

/// `POST /containers/create`'s body: the container config with `HostConfig` and
/// `NetworkingConfig` beside it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBody {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(deserialize_with = "nullable")]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    #[serde(deserialize_with = "nullable")]
    pub env: Vec<String>,
    pub cmd: StrSlice,
    pub healthcheck: Option<lindocker_image::health::Healthcheck>,
    pub image: String,
    #[serde(deserialize_with = "nullable")]
    pub volumes: BTreeMap<String, serde_json::Value>,
    pub working_dir: String,
    pub entrypoint: StrSlice,
    pub network_disabled: bool,
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    pub stop_signal: String,
    pub stop_timeout: Option<i64>,
    /// Before API 1.44 the docker CLI's `--mac-address` (later the endpoint's).
    pub mac_address: String,
    pub host_config: Option<HostConfig>,
    pub networking_config: Option<NetworkingConfig>,
}

/// `HostConfig`, the parts lindocker maps.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    #[serde(deserialize_with = "nullable")]
    pub binds: Vec<String>,
    pub log_config: Option<LogConfig>,
    pub network_mode: String,
    #[serde(deserialize_with = "nullable")]
    pub port_bindings: BTreeMap<String, Option<Vec<PortBinding>>>,
    pub restart_policy: Option<RestartPolicyBody>,
    pub auto_remove: bool,
    #[serde(deserialize_with = "nullable")]
    pub volumes_from: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub cap_add: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub cap_drop: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub dns: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub dns_options: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub dns_search: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub extra_hosts: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub group_add: Vec<String>,
    pub privileged: bool,
    pub publish_all_ports: bool,
    pub readonly_rootfs: bool,
    #[serde(deserialize_with = "nullable")]
    pub security_opt: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub tmpfs: BTreeMap<String, String>,
    pub shm_size: i64,
    #[serde(deserialize_with = "nullable")]
    pub sysctls: BTreeMap<String, String>,
    pub runtime: String,
    pub init: Option<bool>,
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpuset_cpus: String,
    pub pids_limit: Option<i64>,
    #[serde(deserialize_with = "nullable")]
    pub ulimits: Vec<Ulimit>,
    #[serde(deserialize_with = "nullable")]
    pub mounts: Vec<Mount>,
    pub cgroup_parent: String,
    pub oom_kill_disable: Option<bool>,
    pub pid_mode: String,
    pub ipc_mode: String,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub userns_mode: String,
    #[serde(deserialize_with = "nullable")]
    pub devices: Vec<DeviceBody>,
    #[serde(deserialize_with = "nullable")]
    pub device_cgroup_rules: Vec<String>,
    pub blkio_weight: u16,
    #[serde(deserialize_with = "nullable")]
    pub blkio_weight_device: Vec<WeightDevice>,
    #[serde(deserialize_with = "nullable")]
    pub blkio_device_read_bps: Vec<ThrottleDevice>,
    #[serde(deserialize_with = "nullable")]
    pub blkio_device_write_bps: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceReadIOps", deserialize_with = "nullable")]
    pub blkio_device_read_iops: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceWriteIOps", deserialize_with = "nullable")]
    pub blkio_device_write_iops: Vec<ThrottleDevice>,
    pub oom_score_adj: i32,
    pub cpu_realtime_period: i64,
    pub cpu_realtime_runtime: i64,
    pub cpuset_mems: String,
    pub memory_swappiness: Option<i64>,
    #[serde(deserialize_with = "nullable")]
    pub annotations: BTreeMap<String, String>,
    pub cgroupns_mode: String,
    #[serde(deserialize_with = "nullable")]
    pub links: Vec<String>,
    /// The client's terminal size (rows, columns), for a `Tty` container's first size.
    pub console_size: Option<[u16; 2]>,
}

/// One of `Devices` (`--device`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceBody {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

/// One of `BlkioWeightDevice` (`--blkio-weight-device`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    pub path: String,
    pub weight: u16,
}

/// One of the `BlkioDevice*` limits (`--device-read-bps` and the like).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

/// `LogConfig`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
}

/// One host side of a published port.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// `RestartPolicy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicyBody {
    pub name: String,
    pub maximum_retry_count: i64,
}

impl RestartPolicyBody {
    /// The policy (`None` for an empty name).
    fn policy(&self) -> ApiResult<Option<RestartPolicy>> {
        let bad = |e| bad("RestartPolicy", e);
        Ok(Some(match self.name.as_str() {
            "" => return Ok(None),
            "no" => RestartPolicy::No,
            "on-failure" if self.maximum_retry_count > 0 => {
                RestartPolicy::parse(&format!("on-failure:{}", self.maximum_retry_count)).map_err(bad)?
            }
            name => RestartPolicy::parse(name).map_err(bad)?,
        }))
    }
}

/// `POST /containers/{id}/update`'s body (Docker's `UpdateConfig`): 0 or empty keeps
/// what the container has, as dockerd reads it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateBody {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub pids_limit: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub memory_reservation: Option<i64>,
    pub blkio_weight: Option<u16>,
    pub restart_policy: Option<RestartPolicyBody>,
}

impl UpdateBody {
    /// The engine's request, checked where it can be without the container.
    pub fn to_request(&self) -> ApiResult<lindocker_engine::update::UpdateRequest> {
        let set = |v: Option<i64>| v.filter(|v| *v != 0);
        let cpuset_cpus = self.cpuset_cpus.clone().filter(|c| !c.is_empty());
        if let Some(c) = &cpuset_cpus {
            clean("CpusetCpus", c)?;
        }
        let request = lindocker_engine::update::UpdateRequest {
            memory: set(self.memory),
            memory_swap: set(self.memory_swap),
            nano_cpus: set(self.nano_cpus),
            cpu_shares: self.cpu_shares.filter(|v| *v != 0),
            cpuset_cpus,
            pids_limit: set(self.pids_limit),
            cpu_quota: set(self.cpu_quota),
            cpu_period: self.cpu_period.filter(|v| *v != 0),
            memory_reservation: set(self.memory_reservation),
            blkio_weight: self.blkio_weight.filter(|v| *v != 0),
            restart: self.restart_policy.as_ref().map(RestartPolicyBody::policy).transpose()?.flatten(),
        };
        request.check()?;
        Ok(request)
    }
}

/// `Ulimit`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// `Mount` (`--mount`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    #[serde(rename = "Type")]
    pub kind: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

/// `NetworkingConfig`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    #[serde(deserialize_with = "nullable")]
    pub endpoints_config: BTreeMap<String, Option<EndpointConfig>>,
}

/// One network's endpoint settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointConfig {
    #[serde(deserialize_with = "nullable")]
    pub aliases: Vec<String>,
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<IpamConfig>,
    pub mac_address: String,
}

/// An endpoint's fixed addresses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamConfig {
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

fn bad(field: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::bad(format!("{field}: {e}"))
}

/// No NUL and no line break in a value that ends up in a file or an argument.
fn clean(field: &str, value: &str) -> ApiResult<()> {
    if value.contains('\0') {
        return Err(bad(field, format!("{value:?}: NUL")));
    }
    Ok(())
}

impl CreateBody {
    /// The engine's request for container `name`.
    pub fn to_request(&self, name: Option<String>) -> ApiResult<CreateRequest> {
        let h = self.host_config.clone().unwrap_or_default();
        if self.image.is_empty() {
            return Err(ApiError::bad("config cannot be empty in order to create a container"));
        }
        let mut host = EngineHost {
            read_only: h.readonly_rootfs,
            privileged: h.privileged,
            init: h.init.unwrap_or(false),
            auto_remove: h.auto_remove,
            runtime: h.runtime.clone(),
            log_max_file: 1,
            ..EngineHost::default()
        };
        host.memory = (h.memory > 0).then_some(h.memory);
        if let Some(m) = host.memory
            && m < 6 * 1024 * 1024
        {
            return Err(ApiError::bad("Minimum memory limit allowed is 6MB"));
        }
        host.memory_swap = match h.memory_swap {
            0 => None,
            -1 => Some(-1),
            n if n < h.memory => {
                return Err(ApiError::bad("Minimum memoryswap limit should be larger than memory limit, see usage"));
            }
            n => Some(n),
        };
        host.memory_reservation = (h.memory_reservation > 0).then_some(h.memory_reservation);
        host.nano_cpus = (h.nano_cpus > 0).then_some(h.nano_cpus);
        if h.nano_cpus < 0 || h.cpu_shares < 0 || h.memory < 0 {
            return Err(ApiError::bad("negative resource limits are invalid"));
        }
        host.cpu_shares = (h.cpu_shares > 0).then_some(h.cpu_shares as u64);
        host.cpu_quota = (h.cpu_quota > 0).then_some(h.cpu_quota);
        host.cpu_period = (h.cpu_period > 0).then_some(h.cpu_period as u64);
        if !h.cpuset_cpus.is_empty() {
            if !h.cpuset_cpus.split(',').all(|r| r.split('-').all(|n| n.parse::<u32>().is_ok())) {
                return Err(bad("HostConfig.CpusetCpus", format!("{:?}: expected a list like 0-2,4", h.cpuset_cpus)));
            }
            host.cpuset_cpus = Some(h.cpuset_cpus.clone());
        }
        host.pids_limit = h.pids_limit.filter(|n| *n > 0);
        host.oom_kill_disable = h.oom_kill_disable.unwrap_or(false);
        for u in &h.ulimits {
            host.ulimits.push(
                options::parse_ulimit(&format!("{}={}:{}", u.name, u.soft, u.hard)).map_err(|e| bad("Ulimits", e))?,
            );
        }
        for c in &h.cap_add {
            host.cap_add.push(lindocker_engine::bundle::cap_name(c).map_err(|e| bad("HostConfig.CapAdd", e))?);
        }
        for c in &h.cap_drop {
            host.cap_drop.push(lindocker_engine::bundle::cap_name(c).map_err(|e| bad("HostConfig.CapDrop", e))?);
        }
        for opt in &h.security_opt {
            match opt.split_once(['=', ':']) {
                Some(("seccomp", "unconfined")) => host.seccomp = Some("unconfined".into()),
                // The docker CLI sends the profile's text, not its file name.
                Some(("seccomp", profile)) => {
                    serde_json::from_str::<serde_json::Value>(profile)
                        .map_err(|e| bad("HostConfig.SecurityOpt seccomp", e))?;
                    host.seccomp = Some(profile.to_owned());
                }
                None if opt == "no-new-privileges" => host.no_new_privileges = true,
                Some(("no-new-privileges", v)) => host.no_new_privileges = v == "true",
                _ => {
                    return Err(bad(
                        "HostConfig.SecurityOpt",
                        format!("{opt:?}: supported are seccomp=unconfined|PROFILE and no-new-privileges"),
                    ));
                }
            }
        }
        host.pid_mode = sharing::parse_pid(&h.pid_mode).map_err(|e| bad("HostConfig.PidMode", e))?;
        host.ipc_mode = sharing::parse_ipc(&h.ipc_mode).map_err(|e| bad("HostConfig.IpcMode", e))?;
        host.uts_mode = sharing::parse_uts(&h.uts_mode).map_err(|e| bad("HostConfig.UTSMode", e))?;
        host.userns_mode = sharing::parse_userns(&h.userns_mode).map_err(|e| bad("HostConfig.UsernsMode", e))?;
        h.devices_and_blkio(&mut host)?;
        host.oom_score_adj = (h.oom_score_adj != 0)
            .then(|| resources::check_oom_score_adj(h.oom_score_adj))
            .transpose()
            .map_err(|e| bad("HostConfig.OomScoreAdj", e))?;
        if h.cpu_realtime_period < 0 {
            return Err(bad("HostConfig.CpuRealtimePeriod", "must not be negative"));
        }
        host.cpu_rt_period = (h.cpu_realtime_period > 0).then_some(h.cpu_realtime_period as u64);
        host.cpu_rt_runtime = (h.cpu_realtime_runtime != 0).then_some(h.cpu_realtime_runtime);
        h.placement(&mut host)?;
        if !h.cgroup_parent.is_empty() {
            host.cgroup_parent = lindocker_engine::placement::parse_cgroup_parent(&h.cgroup_parent)
                .map_err(|e| bad("HostConfig.CgroupParent", e))?;
        }
        host.restart = match &h.restart_policy {
            None => RestartPolicy::No,
            Some(p) => p.policy()?.unwrap_or(RestartPolicy::No),
        };
        if h.auto_remove && host.restart != RestartPolicy::No {
            return Err(ApiError::bad("conflicting options: cannot specify both --restart and --rm"));
        }
        if let Some(log) = &h.log_config {
            let opts: Vec<String> = log.config.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let kind = (!log.kind.is_empty()).then_some(log.kind.as_str());
            lindocker_engine::log_config::LogConfig::parse(kind, &opts)
                .map_err(|e| bad("HostConfig.LogConfig", e))?
                .apply_to(&mut host);
        }
        if h.shm_size < 0 {
            return Err(bad("HostConfig.ShmSize", "must be greater than 0"));
        }
        host.shm_size = (h.shm_size > 0).then_some(h.shm_size);
        for (k, v) in &h.sysctls {
            let (name, value) = lindocker_engine::sysctls::parse_sysctl(&format!("{k}={v}"))
                .map_err(|e| bad("HostConfig.Sysctls", e))?;
            host.sysctls.insert(name, value);
        }
        for g in &h.group_add {
            if g.is_empty() || g.contains(['\0', '\n']) {
                return Err(bad("HostConfig.GroupAdd", format!("{g:?}")));
            }
        }
        host.group_add = h.group_add.clone();
        host.volumes_from = h.volumes_from.clone();
        resources::check(&host).map_err(|e| bad("HostConfig", e))?;
        let mut mounts = Vec::new();
        for b in &h.binds {
            clean("HostConfig.Binds", b)?;
            mounts.push(options::parse_volume(b).map_err(|e| bad("HostConfig.Binds", e))?);
        }
        for (target, opts) in &h.tmpfs {
            let spec = if opts.is_empty() { target.clone() } else { format!("{target}:{opts}") };
            mounts.push(options::parse_tmpfs(&spec).map_err(|e| bad("HostConfig.Tmpfs", e))?);
        }
        for m in &h.mounts {
            if m.source.contains(',') || m.target.contains(',') {
                return Err(bad("HostConfig.Mounts", "a comma in a source or target"));
            }
            let mut text = format!("type={},target={}", m.kind, m.target);
            if !m.source.is_empty() {
                text.push_str(&format!(",source={}", m.source));
            }
            if m.read_only {
                text.push_str(",readonly");
            }
            clean("HostConfig.Mounts", &text)?;
            let request = lindocker_engine::mountflag::parse_mount(&text, std::path::Path::new("/"))
                .map_err(|e| bad("HostConfig.Mounts", e))?;
            mounts.push(request.to_spec());
            host.mounts.push(request);
        }
        let mut env = Vec::new();
        for e in &self.env {
            clean("Env", e)?;
            match e.split_once('=') {
                Some(("", _)) => return Err(bad("Env", format!("{e:?}: empty variable name"))),
                Some(_) => env.push(e.clone()),
                // The docker CLI drops unset variables; a bare name means nothing here.
                None => {}
            }
        }
        let mut expose = Vec::new();
        for key in self.exposed_ports.keys() {
            if lindocker_network::ports::parse_exposed(key).map_err(|e| bad("ExposedPorts", e))?.is_some() {
                expose.push(key.clone());
            }
        }
        if !self.stop_signal.is_empty() {
            options::parse_signal("StopSignal", &self.stop_signal).map_err(|e| bad("StopSignal", e))?;
        }
        let stop_timeout = match self.stop_timeout {
            None => None,
            Some(n) if n < 0 => None,
            Some(n) => Some(u32::try_from(n).map_err(|_| bad("StopTimeout", n))?),
        };
        let (entrypoint, cmd) = match &self.entrypoint.0 {
            None => (None, self.cmd.0.clone().unwrap_or_default()),
            Some(e) if e.is_empty() || (e.len() == 1 && e[0].is_empty()) => {
                (Some(String::new()), self.cmd.0.clone().unwrap_or_default())
            }
            Some(e) => {
                let mut cmd: Vec<String> = e[1..].to_vec();
                cmd.extend(self.cmd.0.clone().unwrap_or_default());
                (Some(e[0].clone()), cmd)
            }
        };
        for arg in cmd.iter().chain(entrypoint.iter()) {
            clean("Cmd", arg)?;
        }
        for (k, v) in &self.labels {
            clean("Labels", k)?;
            clean("Labels", v)?;
        }
        let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Ok(CreateRequest {
            image: self.image.clone(),
            name,
            cmd,
            entrypoint,
            env,
            workdir: nonempty(&self.working_dir),
            user: nonempty(&self.user),
            hostname: nonempty(&self.hostname)
                .map(|h| options::parse_hostname(&h))
                .transpose()
                .map_err(|e| bad("Hostname", e))?,
            domainname: nonempty(&self.domainname)
                .map(|d| options::parse_domainname(&d))
                .transpose()
                .map_err(|e| bad("Domainname", e))?,
            tty: self.tty,
            stdin: self.open_stdin,
            labels: self.labels.clone(),
            stop_signal: nonempty(&self.stop_signal),
            stop_timeout,
            attach: AttachStreams { stdin: self.attach_stdin, stdout: self.attach_stdout, stderr: self.attach_stderr },
            mounts,
            network: self.network(&h)?,
            publish_all: h.publish_all_ports,
            expose,
            host,
            healthcheck: self.healthcheck.clone(),
            start_now: false,
            id: None,
            built: None,
        })
    }

    fn network(&self, h: &HostConfig) -> ApiResult<NetworkConfig> {
        let mut config = NetworkConfig::default();
        let endpoints = self.networking_config.as_ref().map(|n| n.endpoints_config.clone()).unwrap_or_default();
        let mode = match h.network_mode.as_str() {
            "" | "default" => "bridge".to_owned(),
            other => other.to_owned(),
        };
        // The docker CLI names the endpoint as the user named the network (`default` too).
        let endpoint =
            endpoints.get(&mode).or_else(|| endpoints.get(&h.network_mode)).cloned().flatten().unwrap_or_default();
        let endpoint_mac = endpoint.mac_address.clone();
        let mac_text = if endpoint_mac.is_empty() { &self.mac_address } else { &endpoint_mac };
        let mac = (!mac_text.is_empty())
            .then(|| options::parse_mac("MacAddress", mac_text))
            .transpose()
            .map_err(|e| bad("MacAddress", e))?;
        if self.network_disabled || mode == "none" || mode == "host" || mode.starts_with("container:") {
            if mac.is_some() {
                return Err(bad("MacAddress", "a MAC address needs a bridge network"));
            }
            config.mode = if self.network_disabled { "none".into() } else { mode };
        } else {
            config.mode = "bridge".into();
            for alias in &endpoint.aliases {
                options::parse_alias("Aliases", alias).map_err(|e| bad("NetworkingConfig", e))?;
            }
            let ipam = endpoint.ipam_config.unwrap_or_default();
            let ip = (!ipam.ipv4_address.is_empty())
                .then(|| ipam.ipv4_address.parse())
                .transpose()
                .map_err(|_| bad("IPAMConfig.IPv4Address", &ipam.ipv4_address))?;
            let ip6 = (!ipam.ipv6_address.is_empty())
                .then(|| ipam.ipv6_address.parse())
                .transpose()
                .map_err(|_| bad("IPAMConfig.IPv6Address", &ipam.ipv6_address))?;
            config.attachments.push(lindocker_network::Attachment {
                network: mode,
                ip,
                ip6,
                aliases: endpoint.aliases.clone(),
                mac,
            });
        }
        for (port, bindings) in &h.port_bindings {
            let (number, proto) = port.split_once('/').unwrap_or((port, "tcp"));
            let bindings = bindings.clone().unwrap_or_default();
            let bindings = if bindings.is_empty() { vec![PortBinding::default()] } else { bindings };
            for b in bindings {
                let spec = match (b.host_ip.as_str(), b.host_port.as_str()) {
                    ("", "") => format!("{number}/{proto}"),
                    ("", hp) => format!("{hp}:{number}/{proto}"),
                    (ip, hp) if ip.contains(':') => format!("[{ip}]:{hp}:{number}/{proto}"),
                    (ip, hp) => format!("{ip}:{hp}:{number}/{proto}"),
                };
                config
                    .ports
                    .push(lindocker_network::ports::parse(&spec).map_err(|e| bad("HostConfig.PortBindings", e))?);
            }
        }
        for d in &h.dns {
            d.parse::<std::net::IpAddr>().map_err(|_| bad("HostConfig.Dns", format!("{d:?}: not an IP address")))?;
            config.dns.push(d.clone());
        }
        for s in &h.dns_search {
            config.dns_search.push(resolv::parse_search(s).map_err(|e| bad("HostConfig.DnsSearch", e))?);
        }
        for o in &h.dns_options {
            config.dns_options.push(resolv::parse_option(o).map_err(|e| bad("HostConfig.DnsOptions", e))?);
        }
        for e in &h.extra_hosts {
            config.extra_hosts.push(options::parse_add_host(e).map_err(|e| bad("HostConfig.ExtraHosts", e))?);
        }
        for l in &h.links {
            config.links.push(lindocker_engine::legacy::parse(l).map_err(|e| bad("HostConfig.Links", e))?);
        }
        if !config.links.is_empty() && config.mode != "bridge" {
            return Err(bad(
                "HostConfig.Links",
                format!("conflicting options: links need a bridge network, not {}", config.mode),
            ));
        }
        Ok(config)
    }
}

impl HostConfig {
    /// `Devices`, `DeviceCgroupRules`, `BlkioWeight` and the per-device block IO limits,
    /// through the parsers of the CLI's flags (each entry written as its flag's value).
    fn devices_and_blkio(&self, host: &mut EngineHost) -> ApiResult<()> {
        for d in &self.devices {
            const FIELD: &str = "HostConfig.Devices";
            if [&d.path_on_host, &d.path_in_container, &d.cgroup_permissions].iter().any(|p| p.contains(':')) {
                return Err(bad(FIELD, format!("{:?}: a ':' in a path or the permissions", d.path_on_host)));
            }
            let inside = if d.path_in_container.is_empty() { &d.path_on_host } else { &d.path_in_container };
            let perms = if d.cgroup_permissions.is_empty() { "rwm" } else { &d.cgroup_permissions };
            let value = format!("{}:{inside}:{perms}", d.path_on_host);
            host.devices.push(devices::parse_device(&value).map_err(|e| bad(FIELD, e))?);
        }
        for r in &self.device_cgroup_rules {
            host.device_cgroup_rules
                .push(devices::parse_rule(r).map_err(|e| bad("HostConfig.DeviceCgroupRules", e))?.to_string());
        }
        host.blkio_weight = resources::parse_blkio_weight("BlkioWeight", self.blkio_weight)
            .map_err(|e| bad("HostConfig.BlkioWeight", e))?;
        for w in &self.blkio_weight_device {
            host.blkio_weight_device.push(
                resources::parse_device_weight(&format!("{}:{}", w.path, w.weight))
                    .map_err(|e| bad("HostConfig.BlkioWeightDevice", e))?,
            );
        }
        let rates = |field: &str, list: &[ThrottleDevice], bytes: bool| {
            list.iter()
                .map(|t| resources::parse_device_rate(field, &format!("{}:{}", t.path, t.rate), bytes))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(&format!("HostConfig.{field}"), e))
        };
        host.device_read_bps = rates("BlkioDeviceReadBps", &self.blkio_device_read_bps, true)?;
        host.device_write_bps = rates("BlkioDeviceWriteBps", &self.blkio_device_write_bps, true)?;
        host.device_read_iops = rates("BlkioDeviceReadIOps", &self.blkio_device_read_iops, false)?;
        host.device_write_iops = rates("BlkioDeviceWriteIOps", &self.blkio_device_write_iops, false)?;
        Ok(())
    }

    /// `Annotations`, `CgroupnsMode`, `CpusetMems`, `MemorySwappiness`, as the CLI's
    /// `--annotation`, `--cgroupns`, `--cpuset-mems`, `--memory-swappiness`.
    fn placement(&self, host: &mut EngineHost) -> ApiResult<()> {
        for (k, v) in &self.annotations {
            let (k, v) =
                options::parse_annotation(&format!("{k}={v}")).map_err(|e| bad("HostConfig.Annotations", e))?;
            host.annotations.insert(k, v);
        }
        host.cgroupns_host = match self.cgroupns_mode.as_str() {
            "" => false,
            mode => placement::parse_cgroupns(mode).map_err(|e| bad("HostConfig.CgroupnsMode", e))?,
        };
        if !self.cpuset_mems.is_empty() {
            host.cpuset_mems =
                Some(placement::parse_cpuset_mems(&self.cpuset_mems).map_err(|e| bad("HostConfig.CpusetMems", e))?);
        }
        if let Some(n) = self.memory_swappiness {
            host.memory_swappiness =
                placement::parse_swappiness(&n.to_string()).map_err(|e| bad("HostConfig.MemorySwappiness", e))?;
            // As the CLI: a cgroup v2 kernel has no swappiness per cgroup; dropped.
            if !placement::swappiness_supported() {
                host.memory_swappiness = None;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ApiResult<CreateRequest> {
        let body: CreateBody = serde_json::from_str(text).map_err(|e| ApiError::bad(e.to_string()))?;
        body.to_request(None)
    }

    #[test]
    fn maps_what_the_docker_cli_sends() {
        let r = parse(
            r#"{"Image":"busybox","Cmd":["echo","hi"],"Entrypoint":null,"Env":null,"Labels":{"a":"b"},
            "ExposedPorts":{"80/tcp":{}},"HostConfig":{"Binds":null,"PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},
            "RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"Memory":67108864,"PidsLimit":null,
            "NetworkMode":"default","LogConfig":{"Type":"","Config":{}},"Tmpfs":{"/run":"size=1m"}},"NetworkingConfig":{"EndpointsConfig":{}}}"#,
        )
        .unwrap();
        assert_eq!(r.cmd, ["echo", "hi"]);
        assert_eq!(r.entrypoint, None);
        assert!(r.host.auto_remove);
        assert_eq!(r.host.memory, Some(64 << 20));
        assert_eq!(r.network.mode, "bridge");
        assert_eq!(r.network.ports[0].host_port, 8080);
        assert_eq!(r.expose, ["80/tcp"]);
        assert_eq!(r.mounts.len(), 1);
    }

    #[test]
    fn entrypoint_string_or_list() {
        let r = parse(r#"{"Image":"x","Entrypoint":["sh","-c"],"Cmd":"echo hi"}"#).unwrap();
        assert_eq!(r.entrypoint.as_deref(), Some("sh"));
        assert_eq!(r.cmd, ["-c", "echo hi"]);
        let r = parse(r#"{"Image":"x","Entrypoint":[""]}"#).unwrap();
        assert_eq!(r.entrypoint.as_deref(), Some(""));
    }

    #[test]
    fn maps_the_run_flags_host_config_fields() {
        let r = parse(
            r#"{"Image":"x","HostConfig":{"PidMode":"container:db","IpcMode":"shareable","UTSMode":"host",
            "UsernsMode":"host","Devices":[{"PathOnHost":"/dev/null","PathInContainer":"/dev/xnull","CgroupPermissions":"r"},
            {"PathOnHost":"/dev/zero","PathInContainer":"","CgroupPermissions":""}],"DeviceCgroupRules":["c 1:3 rwm"],
            "BlkioWeight":300,"OomScoreAdj":-200,"CpuRealtimePeriod":1000000,"CpuRealtimeRuntime":950000,
            "MemorySwappiness":null,"Annotations":{"org.example":"v"},"CgroupnsMode":"host","Links":["db:database"],
            "DnsSearch":["example.test"],"DnsOptions":["ndots:2"],"GroupAdd":["1234"]}}"#,
        )
        .unwrap();
        assert_eq!(r.host.pid_mode, "container:db");
        assert_eq!(r.host.ipc_mode, "shareable");
        assert_eq!(r.host.uts_mode, "host");
        assert_eq!(r.host.userns_mode, "host");
        assert_eq!(r.host.devices[0].path_in_container, "/dev/xnull");
        assert_eq!(r.host.devices[0].cgroup_permissions, "r");
        assert_eq!(
            (r.host.devices[1].path_in_container.as_str(), r.host.devices[1].cgroup_permissions.as_str()),
            ("/dev/zero", "rwm")
        );
        assert_eq!(r.host.device_cgroup_rules, ["c 1:3 rwm"]);
        assert_eq!(r.host.blkio_weight, Some(300));
        assert_eq!(r.host.oom_score_adj, Some(-200));
        assert_eq!((r.host.cpu_rt_period, r.host.cpu_rt_runtime), (Some(1_000_000), Some(950_000)));
        assert_eq!(r.host.annotations["org.example"], "v");
        assert!(r.host.cgroupns_host);
        assert_eq!(r.network.links[0].alias, "database");
        assert_eq!(r.network.dns_search, ["example.test"]);
        assert_eq!(r.network.dns_options, ["ndots:2"]);
        assert_eq!(r.host.group_add, ["1234"]);
        let r = parse(
            r#"{"Image":"x","NetworkingConfig":{"EndpointsConfig":{"bridge":{"MacAddress":"02:42:ac:11:00:99"}}}}"#,
        )
        .unwrap();
        assert_eq!(r.network.attachments[0].mac, Some([2, 0x42, 0xac, 0x11, 0, 0x99]));
        let r = parse(
            r#"{"Image":"x","HostConfig":{"NetworkMode":"default"},"NetworkingConfig":{"EndpointsConfig":{"default":{"MacAddress":"02:42:ac:11:00:97"}}}}"#,
        )
        .unwrap();
        assert_eq!(r.network.attachments[0].mac, Some([2, 0x42, 0xac, 0x11, 0, 0x97]));
        let r = parse(r#"{"Image":"x","MacAddress":"02:42:ac:11:00:98"}"#).unwrap();
        assert_eq!(r.network.attachments[0].mac, Some([2, 0x42, 0xac, 0x11, 0, 0x98]));
    }

    #[test]
    fn refuses_bad_run_flag_fields() {
        for host in [
            r#"{"PidMode":"sideways"}"#,
            r#"{"UTSMode":"container:x"}"#,
            r#"{"IpcMode":"container:"}"#,
            r#"{"UsernsMode":"private"}"#,
            r#"{"Devices":[{"PathOnHost":"dev/null"}]}"#,
            r#"{"Devices":[{"PathOnHost":"/dev/../etc/shadow"}]}"#,
            r#"{"Devices":[{"PathOnHost":"/dev/null","CgroupPermissions":"rwx"}]}"#,
            r#"{"Devices":[{"PathOnHost":"/dev/null:/x"}]}"#,
            r#"{"DeviceCgroupRules":["z 1:3 rwm"]}"#,
            r#"{"BlkioWeight":5}"#,
            r#"{"BlkioWeightDevice":[{"Path":"/dev/null","Weight":100}]}"#,
            r#"{"BlkioDeviceReadBps":[{"Path":"/etc/passwd","Rate":1}]}"#,
            r#"{"OomScoreAdj":1001}"#,
            r#"{"CpuRealtimePeriod":1000,"CpuRealtimeRuntime":2000}"#,
            r#"{"MemorySwappiness":101}"#,
            r#"{"CgroupnsMode":"shared"}"#,
            r#"{"CpusetMems":"0-x"}"#,
            r#"{"Links":["bad name"]}"#,
            r#"{"Links":["db"],"NetworkMode":"host"}"#,
            r#"{"DnsSearch":["a b"]}"#,
        ] {
            assert!(parse(&format!(r#"{{"Image":"x","HostConfig":{host}}}"#)).is_err(), "{host}");
        }
        assert!(parse(r#"{"Image":"x","MacAddress":"03:00:00:00:00:01"}"#).is_err(), "multicast");
        assert!(parse(r#"{"Image":"x","MacAddress":"02:00:00:00:00"}"#).is_err());
        assert!(
            parse(r#"{"Image":"x","MacAddress":"02:00:00:00:00:01","HostConfig":{"NetworkMode":"host"}}"#).is_err()
        );
    }

    #[test]
    fn refuses_bad_values() {
        assert!(parse(r#"{"Image":"x","Memory":"lots"}"#).is_ok(), "a field of HostConfig at the top is not ours");
        assert!(parse(r#"{"Image":"x","HostConfig":{"Memory":"lots"}}"#).is_err());
        assert!(parse(r#"{"Image":"x","HostConfig":{"Memory":1}}"#).is_err());
        assert!(parse(r#"{"Image":"x","HostConfig":{"RestartPolicy":{"Name":"sometimes"}}}"#).is_err());
        assert!(parse(r#"{"Image":"x","HostConfig":{"PortBindings":{"99999/tcp":null}}}"#).is_err());
        assert!(parse(r#"{"Image":"x","Cmd":["a\u0000b"]}"#).is_err());
        assert!(parse(r#"{"Image":"x","StopSignal":"SIGNOPE"}"#).is_err());
        assert!(parse(r#"{"Cmd":["true"]}"#).is_err());
        assert!(parse(r#"{"Image":"x","HostConfig":{"Binds":["relative:/x:rw:what"]}}"#).is_err());
    }
}
