//! Docker's finer resource flags (`--memory-reservation`, `--oom-kill-disable`,
//! `--oom-score-adj`, `--cpu-quota/--cpu-period`, `--cpu-rt-period/--cpu-rt-runtime`,
//! `--blkio-weight`, `--blkio-weight-device`, `--device-read/write-bps/iops`): checked
//! where they enter, stored in the record, written into the OCI spec's
//! `linux.resources` (the cgroups crate maps them to v1 or v2 files), and the realtime
//! budget of the engine's own cgroup parent, which the kernel wants before a container
//! below it may have one.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::EngineError;
use crate::record::HostConfig;

/// A block device named by path, with its numbers (taken when the flag was given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDevice {
    /// The path given (`/dev/sda`).
    pub path: PathBuf,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
}

/// `--device-read-bps` and friends: a device and its rate (bytes or operations per second).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRate {
    /// The device.
    pub device: BlockDevice,
    /// The rate.
    pub rate: u64,
}

/// `--blkio-weight-device`: a device and its weight (10-1000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceWeight {
    /// The device.
    pub device: BlockDevice,
    /// The weight.
    pub weight: u16,
}

fn bad(option: &str, value: &str, reason: impl Into<String>) -> EngineError {
    EngineError::BadOption { option: option.into(), value: value.into(), reason: reason.into() }
}

/// The block device at `path` (which must be one: a throttle on anything else means
/// nothing to the kernel).
fn block_device(option: &str, value: &str, path: &str) -> Result<BlockDevice, EngineError> {
    if !path.starts_with('/') {
        return Err(bad(option, value, "the device must be an absolute path"));
    }
    let meta = std::fs::metadata(path).map_err(|e| bad(option, value, format!("{path}: {e}")))?;
    if !meta.file_type().is_block_device() {
        return Err(bad(option, value, format!("{path} is not a block device")));
    }
    let rdev = std::os::unix::fs::MetadataExt::rdev(&meta);
    Ok(BlockDevice { path: path.into(), major: rustix::fs::major(rdev).into(), minor: rustix::fs::minor(rdev).into() })
}

/// `--device-read-bps`/`--device-write-bps` (`PATH:RATE`, the rate a size like `1mb`),
/// or with `bytes == false` the `-iops` flags (`PATH:N`).
pub fn parse_device_rate(option: &str, value: &str, bytes: bool) -> Result<DeviceRate, EngineError> {
    let (path, rate) = value.rsplit_once(':').ok_or_else(|| bad(option, value, "expected PATH:RATE"))?;
    let rate = if bytes {
        crate::options::parse_bytes(option, rate)
            .ok()
            .and_then(|r| u64::try_from(r).ok())
            .ok_or_else(|| bad(option, value, "the rate is a size like 1mb"))?
    } else {
        rate.parse::<u64>().map_err(|_| bad(option, value, "the rate is a number of operations per second"))?
    };
    Ok(DeviceRate { device: block_device(option, value, path)?, rate })
}

/// `--blkio-weight` (10 to 1000; 0 means unset, as in Docker).
pub fn parse_blkio_weight(option: &str, weight: u16) -> Result<Option<u16>, EngineError> {
    match weight {
        0 => Ok(None),
        10..=1000 => Ok(Some(weight)),
        _ => Err(bad(option, &weight.to_string(), "the range is 10 to 1000")),
    }
}

/// `--blkio-weight-device PATH:WEIGHT`.
pub fn parse_device_weight(value: &str) -> Result<DeviceWeight, EngineError> {
    const OPTION: &str = "--blkio-weight-device";
    let (path, weight) = value.rsplit_once(':').ok_or_else(|| bad(OPTION, value, "expected PATH:WEIGHT"))?;
    let weight: u16 = weight.parse().map_err(|_| bad(OPTION, value, "the weight is a number from 10 to 1000"))?;
    if !(10..=1000).contains(&weight) {
        return Err(bad(OPTION, value, "the weight is a number from 10 to 1000"));
    }
    Ok(DeviceWeight { device: block_device(OPTION, value, path)?, weight })
}

/// `--oom-score-adj` (-1000 to 1000).
pub fn check_oom_score_adj(adj: i32) -> Result<i32, EngineError> {
    if (-1000..=1000).contains(&adj) {
        Ok(adj)
    } else {
        Err(bad("--oom-score-adj", &adj.to_string(), "the range is -1000 to 1000"))
    }
}

/// Checks the CPU and memory values together, as Docker's daemon does: quota at least
/// 1 ms, period 1 ms to 1 s, `--cpus` not combined with either, realtime runtime not
/// above its period, reservation not above the memory limit.
pub fn check(h: &HostConfig) -> Result<(), EngineError> {
    if let Some(q) = h.cpu_quota
        && q != -1
        && q < 1000
    {
        return Err(bad("--cpu-quota", &q.to_string(), "CPU cfs quota can not be less than 1ms (i.e. 1000)"));
    }
    if let Some(p) = h.cpu_period
        && !(1000..=1_000_000).contains(&p)
    {
        return Err(bad(
            "--cpu-period",
            &p.to_string(),
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    if h.nano_cpus.is_some() && (h.cpu_quota.is_some() || h.cpu_period.is_some()) {
        return Err(EngineError::Invalid(
            "conflicting options: --cpus and --cpu-quota/--cpu-period cannot both be set".into(),
        ));
    }
    if let Some(rt) = h.cpu_rt_runtime {
        let period = h.cpu_rt_period.unwrap_or(1_000_000);
        if rt > period as i64 {
            return Err(bad(
                "--cpu-rt-runtime",
                &rt.to_string(),
                format!("cannot be higher than --cpu-rt-period ({period})"),
            ));
        }
    }
    if let (Some(limit), Some(reservation)) = (h.memory, h.memory_reservation)
        && limit > 0
        && reservation > limit
    {
        return Err(bad(
            "--memory-reservation",
            &reservation.to_string(),
            "minimum memory limit can not be less than memory reservation limit",
        ));
    }
    Ok(())
}

/// Whether a memory cgroup can switch its OOM killer off here (only cgroup v1 can;
/// Docker drops the flag with a warning elsewhere).
pub fn oom_kill_disable_supported() -> bool {
    lindocker_cgroups::Hierarchy::detect().is_ok_and(|h| h.v1_mount("memory").is_some())
}

/// Where the host's cgroup v1 `cpu` controller holds realtime budgets, if it has them
/// (a kernel with `CONFIG_RT_GROUP_SCHED` on a v1 `cpu` hierarchy).
fn rt_hierarchy() -> Option<PathBuf> {
    let h = lindocker_cgroups::Hierarchy::detect().ok()?;
    let mount = h.v1_mount("cpu")?.to_path_buf();
    mount.join("cpu.rt_runtime_us").exists().then_some(mount)
}

/// Refuses realtime CPU flags where the host has no realtime group scheduling.
pub fn check_rt_supported(h: &HostConfig) -> Result<(), EngineError> {
    if (h.cpu_rt_runtime.is_some_and(|r| r != 0) || h.cpu_rt_period.is_some()) && rt_hierarchy().is_none() {
        return Err(EngineError::Invalid(
            "--cpu-rt-period/--cpu-rt-runtime: this host has no realtime CPU scheduling for cgroups (it needs cgroup v1 and a kernel with CONFIG_RT_GROUP_SCHED)".into(),
        ));
    }
    Ok(())
}

/// Gives the engine's cgroup parent (ours: `cgroup_parent`, made here if missing) enough
/// realtime budget for a container asking for `runtime` µs per second: the kernel
/// refuses a child more than its parent holds, and a new cgroup holds none. Each level
/// of the parent is raised to what its children hold plus the new one; never lowered.
///
/// Only levels that are lindocker's are written: the cgroup parent itself, and levels
/// above it that lindocker made (listed in the file `made`, one per line). A level that
/// was there before (`system.slice` in `system.slice/lindocker`) belongs to the admin,
/// who must grant the budget; lacking it, the start is refused saying so.
pub fn reserve_rt(cgroup_parent: &str, made: &Path, runtime: i64, period: u64) -> Result<(), EngineError> {
    if runtime <= 0 {
        return Ok(());
    }
    let mount = rt_hierarchy().ok_or_else(|| EngineError::Invalid("no realtime CPU scheduling on this host".into()))?;
    let levels: Vec<PathBuf> = {
        let mut dir = mount.clone();
        let mut out = Vec::new();
        for part in cgroup_parent.split('/').filter(|p| !p.is_empty() && *p != "." && *p != "..") {
            dir = dir.join(part);
            out.push(dir.clone());
        }
        out
    };
    let Some(leaf) = levels.last() else { return Ok(()) };
    let mut ours: Vec<String> = std::fs::read_to_string(made).unwrap_or_default().lines().map(String::from).collect();
    let key = |dir: &Path| dir.strip_prefix(&mount).unwrap_or(dir).display().to_string();
    let new: Vec<String> = levels.iter().filter(|d| !d.exists()).map(|d| key(d)).collect();
    std::fs::create_dir_all(leaf).map_err(|e| EngineError::io(leaf, e))?;
    if !new.is_empty() {
        ours.extend(new);
        let text: String = ours.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(made, text).map_err(|e| EngineError::io(made, e))?;
    }
    let is_ours = |dir: &Path| dir == leaf.as_path() || ours.contains(&key(dir));
    let number = |dir: &Path, file: &str| -> i64 {
        std::fs::read_to_string(dir.join(file)).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    };
    let read = |dir: &Path| number(dir, "cpu.rt_runtime_us");
    // The kernel compares shares of time: a budget in the period of `dir`.
    let scaled = |runtime: i64, period: i64, dir: &Path| -> i64 {
        let parent_period = number(dir, "cpu.rt_period_us").max(1);
        (runtime * parent_period + period.max(1) - 1) / period.max(1)
    };
    let children_sum = |dir: &Path, except: Option<&Path>| -> i64 {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && Some(e.path().as_path()) != except)
            .map(|e| scaled(read(&e.path()).max(0), number(&e.path(), "cpu.rt_period_us"), dir))
            .sum()
    };
    // Bottom-up: what each level must hold.
    let mut needed = vec![0i64; levels.len()];
    let mut below = children_sum(leaf, None) + scaled(runtime, period as i64, leaf);
    for (i, dir) in levels.iter().enumerate().rev() {
        needed[i] = below.max(read(dir));
        if i > 0 {
            let parent = &levels[i - 1];
            below = scaled(needed[i], number(dir, "cpu.rt_period_us"), parent) + children_sum(parent, Some(dir));
        }
    }
    // Top-down: a parent is raised before its child.
    for (dir, value) in levels.iter().zip(needed) {
        if read(dir) < value {
            if !is_ours(dir) {
                return Err(EngineError::Invalid(format!(
                    "--cpu-rt-runtime: the cgroup {} (not made by lindocker) holds {} µs of realtime CPU, {value} are needed: ask the admin to raise its cpu.rt_runtime_us",
                    dir.display(),
                    read(dir)
                )));
            }
            std::fs::write(dir.join("cpu.rt_runtime_us"), value.to_string()).map_err(|e| {
                EngineError::Invalid(format!(
                    "--cpu-rt-runtime: the host cannot reserve {value} µs of realtime CPU for {}: {e}",
                    dir.display()
                ))
            })?;
        }
    }
    Ok(())
}

/// Adds the flags of this module to the OCI spec: `resources` is `linux.resources`,
/// `process` the spec's process.
pub fn apply(h: &HostConfig, resources: &mut Value, process: &mut Value) {
    let memory = &mut resources["memory"];
    if let Some(reservation) = h.memory_reservation {
        memory["reservation"] = json!(reservation);
    }
    if h.oom_kill_disable {
        memory["disableOOMKiller"] = json!(true);
    }
    if memory.as_object().is_none_or(|m| m.is_empty()) {
        resources.as_object_mut().map(|r| r.remove("memory"));
    }
    let cpu = &mut resources["cpu"];
    if let Some(quota) = h.cpu_quota {
        cpu["quota"] = json!(quota);
    }
    if let Some(period) = h.cpu_period {
        cpu["period"] = json!(period);
    }
    if let Some(rt) = h.cpu_rt_runtime {
        cpu["realtimeRuntime"] = json!(rt);
    }
    if let Some(rt) = h.cpu_rt_period {
        cpu["realtimePeriod"] = json!(rt);
    }
    if cpu.as_object().is_none_or(|m| m.is_empty()) {
        resources.as_object_mut().map(|r| r.remove("cpu"));
    }
    let mut block = serde_json::Map::new();
    if let Some(weight) = h.blkio_weight {
        block.insert("weight".into(), json!(weight));
    }
    if !h.blkio_weight_device.is_empty() {
        block.insert(
            "weightDevice".into(),
            json!(
                h.blkio_weight_device
                    .iter()
                    .map(|d| json!({ "major": d.device.major, "minor": d.device.minor, "weight": d.weight }))
                    .collect::<Vec<_>>()
            ),
        );
    }
    for (key, rates) in [
        ("throttleReadBpsDevice", &h.device_read_bps),
        ("throttleWriteBpsDevice", &h.device_write_bps),
        ("throttleReadIOPSDevice", &h.device_read_iops),
        ("throttleWriteIOPSDevice", &h.device_write_iops),
    ] {
        if !rates.is_empty() {
            block.insert(
                key.into(),
                json!(
                    rates
                        .iter()
                        .map(|d| json!({ "major": d.device.major, "minor": d.device.minor, "rate": d.rate }))
                        .collect::<Vec<_>>()
                ),
            );
        }
    }
    if !block.is_empty() {
        resources["blockIO"] = Value::Object(block);
    }
    if let Some(adj) = h.oom_score_adj.filter(|a| *a != 0) {
        process["oomScoreAdj"] = json!(adj);
    }
}

impl crate::lifecycle::Engine {
    /// After `update`: the bundle's `linux.resources` made to say what the record says
    /// (memory, swap, CPU, pids and this module's values), so the next start keeps the
    /// new limits, as Docker's do. Device rules and anything else stay as they were.
    pub fn persist_limits(&self, record: &crate::record::Record) -> Result<(), EngineError> {
        let config = self.paths(&record.id).config();
        let bytes = std::fs::read(&config).map_err(|e| EngineError::io(&config, e))?;
        let mut spec: Value = serde_json::from_slice(&bytes)
            .map_err(|e| EngineError::Corrupt { path: config.clone(), reason: e.to_string() })?;
        let h = &record.host_config;
        let mut resources = spec["linux"]["resources"].take();
        if !resources.is_object() {
            resources = json!({});
        }
        if let Some(limit) = h.memory {
            resources["memory"]["limit"] = json!(limit);
            resources["memory"]["swap"] = json!(h.memory_swap.unwrap_or(limit * 2));
        }
        if let Some(nano) = h.nano_cpus {
            resources["cpu"]["period"] = json!(100_000);
            resources["cpu"]["quota"] = json!(nano / 10_000);
        }
        if let Some(shares) = h.cpu_shares {
            resources["cpu"]["shares"] = json!(shares);
        }
        if let Some(cpus) = &h.cpuset_cpus {
            resources["cpu"]["cpus"] = json!(cpus);
        }
        if let Some(limit) = h.pids_limit {
            resources["pids"] = json!({ "limit": limit });
        }
        let mut process = spec["process"].take();
        apply(h, &mut resources, &mut process);
        spec["linux"]["resources"] = resources;
        spec["process"] = process;
        crate::bundle::write_config(&config, &spec)
    }
}

/// Docker's `HostConfig` names for these values (`inspect`).
pub fn inspect(h: &HostConfig) -> serde_json::Map<String, Value> {
    let rates =
        |list: &[DeviceRate]| list.iter().map(|d| json!({ "Path": d.device.path, "Rate": d.rate })).collect::<Vec<_>>();
    let mut out = serde_json::Map::new();
    out.insert("MemoryReservation".into(), json!(h.memory_reservation.unwrap_or(0)));
    out.insert("OomKillDisable".into(), json!(h.oom_kill_disable));
    out.insert("OomScoreAdj".into(), json!(h.oom_score_adj.unwrap_or(0)));
    out.insert("CpuQuota".into(), json!(h.cpu_quota.unwrap_or(0)));
    out.insert("CpuPeriod".into(), json!(h.cpu_period.unwrap_or(0)));
    out.insert("CpuRealtimePeriod".into(), json!(h.cpu_rt_period.unwrap_or(0)));
    out.insert("CpuRealtimeRuntime".into(), json!(h.cpu_rt_runtime.unwrap_or(0)));
    out.insert("BlkioWeight".into(), json!(h.blkio_weight.unwrap_or(0)));
    out.insert(
        "BlkioWeightDevice".into(),
        json!(
            h.blkio_weight_device
                .iter()
                .map(|d| json!({ "Path": d.device.path, "Weight": d.weight }))
                .collect::<Vec<_>>()
        ),
    );
    out.insert("BlkioDeviceReadBps".into(), json!(rates(&h.device_read_bps)));
    out.insert("BlkioDeviceWriteBps".into(), json!(rates(&h.device_write_bps)));
    out.insert("BlkioDeviceReadIOps".into(), json!(rates(&h.device_read_iops)));
    out.insert("BlkioDeviceWriteIOps".into(), json!(rates(&h.device_write_iops)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values() {
        assert!(
            parse_device_rate("--device-read-bps", "/dev/null:1mb", true)
                .unwrap_err()
                .to_string()
                .contains("not a block device")
        );
        assert!(parse_device_rate("--device-read-bps", "/dev/nosuch:1mb", true).is_err());
        assert!(parse_device_rate("--device-read-bps", "relative:1mb", true).is_err());
        assert!(parse_device_rate("--device-read-iops", "/dev/null", false).is_err());
        assert_eq!(parse_blkio_weight("--blkio-weight", 0).unwrap(), None);
        assert_eq!(parse_blkio_weight("--blkio-weight", 500).unwrap(), Some(500));
        assert!(parse_blkio_weight("--blkio-weight", 9).is_err());
        assert!(check_oom_score_adj(1000).is_ok() && check_oom_score_adj(-1001).is_err());
        let h = HostConfig { cpu_quota: Some(999), ..HostConfig::default() };
        assert!(check(&h).is_err());
        let h = HostConfig { cpu_quota: Some(-1), cpu_period: Some(1000), ..HostConfig::default() };
        assert!(check(&h).is_ok());
        let h = HostConfig { nano_cpus: Some(1), cpu_period: Some(100_000), ..HostConfig::default() };
        assert!(check(&h).is_err());
        let h = HostConfig { memory: Some(10), memory_reservation: Some(11), ..HostConfig::default() };
        assert!(check(&h).is_err());
        let h = HostConfig { cpu_rt_runtime: Some(2000), cpu_rt_period: Some(1000), ..HostConfig::default() };
        assert!(check(&h).is_err());
    }

    #[test]
    fn spec_fields() {
        let device = BlockDevice { path: "/dev/sda".into(), major: 8, minor: 0 };
        let h = HostConfig {
            memory_reservation: Some(1 << 20),
            oom_kill_disable: true,
            oom_score_adj: Some(-5),
            cpu_quota: Some(50_000),
            cpu_period: Some(200_000),
            blkio_weight: Some(300),
            device_write_iops: vec![DeviceRate { device: device.clone(), rate: 7 }],
            blkio_weight_device: vec![DeviceWeight { device, weight: 20 }],
            ..HostConfig::default()
        };
        let (mut resources, mut process) = (json!({ "devices": [] }), json!({}));
        apply(&h, &mut resources, &mut process);
        assert_eq!(
            resources,
            json!({
                "devices": [],
                "memory": { "reservation": 1048576, "disableOOMKiller": true },
                "cpu": { "quota": 50000, "period": 200000 },
                "blockIO": { "weight": 300, "weightDevice": [{ "major": 8, "minor": 0, "weight": 20 }],
                    "throttleWriteIOPSDevice": [{ "major": 8, "minor": 0, "rate": 7 }] },
            })
        );
        assert_eq!(process["oomScoreAdj"], -5);
        // The OCI crate reads it as the runtime will.
        let parsed: oci_spec::runtime::LinuxResources = serde_json::from_value(resources).unwrap();
        assert_eq!(parsed.block_io().as_ref().unwrap().weight(), Some(300));
        let (mut resources, mut process) = (json!({}), json!({}));
        apply(&HostConfig::default(), &mut resources, &mut process);
        assert_eq!((resources, process), (json!({}), json!({})));
    }
}
