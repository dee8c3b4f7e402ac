//! Resource usage of a cgroup, read from the kernel's files, in the shape runc's
//! `events --stats` prints (so tools reading runc's output read ours).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::Serialize;

use crate::{Hierarchy, Manager};

/// CPU usage, in nanoseconds.
#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    /// All CPU time.
    pub total: u64,
    /// Per CPU (v1 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// In the kernel.
    pub kernel: u64,
    /// In user space.
    pub user: u64,
}

/// CFS throttling.
#[derive(Debug, Default, Serialize)]
pub struct Throttling {
    /// Enforcement periods.
    pub periods: u64,
    /// Periods in which the cgroup was throttled.
    #[serde(rename = "throttledPeriods")]
    pub throttled_periods: u64,
    /// Time throttled, in nanoseconds.
    #[serde(rename = "throttledTime")]
    pub throttled_time: u64,
}

/// CPU statistics.
#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    /// Usage.
    pub usage: CpuUsage,
    /// Throttling.
    pub throttling: Throttling,
}

/// One memory counter.
#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    /// The limit (u64::MAX for none).
    pub limit: u64,
    /// Current usage.
    pub usage: u64,
    /// Peak usage, where the kernel keeps it.
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// Memory statistics.
#[derive(Debug, Default, Serialize)]
pub struct Memory {
    /// Page cache.
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// Swap (v1: memory+swap).
    pub swap: MemoryEntry,
    /// Every counter of memory.stat.
    pub raw: BTreeMap<String, u64>,
}

/// Pids statistics.
#[derive(Debug, Default, Serialize)]
pub struct Pids {
    /// Processes now.
    pub current: u64,
    /// The limit (0 for none).
    pub limit: u64,
}

/// One block I/O counter.
#[derive(Debug, Serialize)]
pub struct BlkioEntry {
    /// Device major.
    pub major: u64,
    /// Device minor.
    pub minor: u64,
    /// Read, Write, ...
    pub op: String,
    /// Value.
    pub value: u64,
}

/// Block I/O statistics.
#[derive(Debug, Default, Serialize)]
pub struct Blkio {
    /// Bytes moved, per device and direction.
    #[serde(rename = "ioServiceBytesRecursive")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// Operations, per device and direction.
    #[serde(rename = "ioServicedRecursive")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

/// All of a cgroup's statistics.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    /// CPU.
    pub cpu: Cpu,
    /// Memory.
    pub memory: Memory,
    /// Processes.
    pub pids: Pids,
    /// Block I/O.
    pub blkio: Blkio,
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

fn num(path: &Path) -> u64 {
    let text = read(path);
    let t = text.trim();
    if t == "max" { u64::MAX } else { t.parse().unwrap_or(0) }
}

/// "key value" lines.
fn keyed(path: &Path) -> BTreeMap<String, u64> {
    read(path)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

impl Manager {
    /// Reads the cgroup's statistics. Missing files (a controller the host lacks) read
    /// as zero.
    pub fn stats(&self) -> Stats {
        let dir = |c: &str| self.stats_dir(c);
        let mut s = Stats::default();
        let (cpu, cpuacct, mem, pids, io) = (dir("cpu"), dir("cpuacct"), dir("memory"), dir("pids"), dir("blkio"));
        s.pids.current = num(&pids.join("pids.current"));
        let limit = num(&pids.join("pids.max"));
        s.pids.limit = if limit == u64::MAX { 0 } else { limit };
        if self.hierarchy().is_unified() {
            let stat = keyed(&cpu.join("cpu.stat"));
            let get = |k: &str| stat.get(k).copied().unwrap_or(0);
            s.cpu.usage = CpuUsage {
                total: get("usage_usec") * 1000,
                percpu: Vec::new(),
                kernel: get("system_usec") * 1000,
                user: get("user_usec") * 1000,
            };
            s.cpu.throttling = Throttling {
                periods: get("nr_periods"),
                throttled_periods: get("nr_throttled"),
                throttled_time: get("throttled_usec") * 1000,
            };
            s.memory.raw = keyed(&mem.join("memory.stat"));
            s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
            let events = keyed(&mem.join("memory.events"));
            s.memory.usage = MemoryEntry {
                limit: num(&mem.join("memory.max")),
                usage: num(&mem.join("memory.current")),
                max: num(&mem.join("memory.peak")),
                failcnt: events.get("max").copied().unwrap_or(0),
            };
            s.memory.swap = MemoryEntry {
                limit: num(&mem.join("memory.swap.max")),
                usage: num(&mem.join("memory.swap.current")),
                ..Default::default()
            };
            for line in read(&io.join("io.stat")).lines() {
                let mut it = line.split_whitespace();
                let Some((major, minor)) = it.next().and_then(|d| d.split_once(':')) else { continue };
                let (major, minor) = (major.parse().unwrap_or(0), minor.parse().unwrap_or(0));
                for kv in it {
                    let Some((k, v)) = kv.split_once('=') else { continue };
                    let value = v.parse().unwrap_or(0);
                    let (list, op) = match k {
                        "rbytes" => (&mut s.blkio.io_service_bytes_recursive, "Read"),
                        "wbytes" => (&mut s.blkio.io_service_bytes_recursive, "Write"),
                        "rios" => (&mut s.blkio.io_serviced_recursive, "Read"),
                        "wios" => (&mut s.blkio.io_serviced_recursive, "Write"),
                        _ => continue,
                    };
                    list.push(BlkioEntry { major, minor, op: op.into(), value });
                }
            }
        } else {
            // cpuacct.stat counts USER_HZ ticks (100 a second on Linux).
            let ticks = keyed(&cpuacct.join("cpuacct.stat"));
            s.cpu.usage = CpuUsage {
                total: num(&cpuacct.join("cpuacct.usage")),
                percpu: read(&cpuacct.join("cpuacct.usage_percpu"))
                    .split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect(),
                kernel: ticks.get("system").copied().unwrap_or(0) * 10_000_000,
                user: ticks.get("user").copied().unwrap_or(0) * 10_000_000,
            };
            let stat = keyed(&cpu.join("cpu.stat"));
            let get = |k: &str| stat.get(k).copied().unwrap_or(0);
            s.cpu.throttling = Throttling {
                periods: get("nr_periods"),
                throttled_periods: get("nr_throttled"),
                throttled_time: get("throttled_time"),
            };
            s.memory.raw = keyed(&mem.join("memory.stat"));
            s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
            let entry = |prefix: &str| MemoryEntry {
                limit: num(&mem.join(format!("{prefix}.limit_in_bytes"))),
                usage: num(&mem.join(format!("{prefix}.usage_in_bytes"))),
                max: num(&mem.join(format!("{prefix}.max_usage_in_bytes"))),
                failcnt: num(&mem.join(format!("{prefix}.failcnt"))),
            };
            s.memory.usage = entry("memory");
            s.memory.swap = entry("memory.memsw");
            let blkio = |file: &str| -> Vec<BlkioEntry> {
                read(&io.join(file))
                    .lines()
                    .filter_map(|l| {
                        let mut it = l.split_whitespace();
                        let (major, minor) = it.next()?.split_once(':')?;
                        Some(BlkioEntry {
                            major: major.parse().ok()?,
                            minor: minor.parse().ok()?,
                            op: it.next()?.to_string(),
                            value: it.next()?.parse().ok()?,
                        })
                    })
                    .collect()
            };
            s.blkio.io_service_bytes_recursive = blkio("blkio.throttle.io_service_bytes_recursive");
            s.blkio.io_serviced_recursive = blkio("blkio.throttle.io_serviced_recursive");
        }
        s
    }

    /// Times the OOM killer killed a process of this cgroup.
    pub fn oom_kills(&self) -> u64 {
        let dir = self.stats_dir("memory");
        let file = if self.hierarchy().is_unified() { "memory.events" } else { "memory.oom_control" };
        keyed(&dir.join(file)).get("oom_kill").copied().unwrap_or(0)
    }

    fn stats_dir(&self, controller: &str) -> std::path::PathBuf {
        match self.hierarchy() {
            Hierarchy::Unified { .. } => self.dirs().remove(0),
            Hierarchy::Legacy { .. } => self
                .hierarchy()
                .v1_mount(controller)
                .map(|m| m.join(self.path().strip_prefix("/").unwrap_or(self.path())))
                .unwrap_or_default(),
        }
    }
}
