//! A container's limits as systemd unit properties.
//!
//! systemd owns the unit's cgroup: a limit written only to a file may be overwritten when
//! systemd next applies the unit's own settings. So, as runc does, each limit systemd
//! knows is also sent as a property, and every limit is written to the files afterwards
//! (systemd knows only some). The properties are derived from the plan's file writes
//! ([`crate::plan`]), so a value means the same through both ways and is checked once.

use crate::plan::Write;
use crate::{Error, Result};

/// One property value, in the D-Bus type systemd expects for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `s`
    Str(String),
    /// `as`
    Strs(Vec<String>),
    /// `b`
    Bool(bool),
    /// `t`
    U64(u64),
    /// `au`
    U32s(Vec<u32>),
    /// `ay`
    Bytes(Vec<u8>),
}

/// A unit property: name and value.
pub type Property = (&'static str, Value);

/// systemd's "infinity" for limits (`USEC_INFINITY`, `CGROUP_LIMIT_MAX`).
pub const INFINITY: u64 = u64::MAX;

/// The first systemd with `CPUQuotaPeriodUSec`.
const PERIOD_SINCE: u32 = 242;
/// The first systemd with `AllowedCPUs` / `AllowedMemoryNodes`.
const CPUSET_SINCE: u32 = 244;

/// The properties for the plan's writes, on cgroup v2 (`unified`) or v1, for a systemd
/// of version `version` (older ones lack some; their limits still reach the files).
pub fn from_writes(writes: &[Write], unified: bool, version: u32) -> Result<Vec<Property>> {
    let mut out: Vec<Property> = Vec::new();
    let mut quota: Option<i64> = None;
    let mut period: Option<u64> = None;
    for Write { file, value, .. } in writes {
        let value = value.trim();
        let limit = || parse_limit(file, value);
        match (unified, file.as_str()) {
            (true, "memory.max") => out.push(("MemoryMax", Value::U64(limit()?))),
            (true, "memory.high") => out.push(("MemoryHigh", Value::U64(limit()?))),
            (true, "memory.low") => out.push(("MemoryLow", Value::U64(limit()?))),
            (true, "memory.min") => out.push(("MemoryMin", Value::U64(limit()?))),
            (true, "memory.swap.max") => out.push(("MemorySwapMax", Value::U64(limit()?))),
            (true, "cpu.weight") => out.push(("CPUWeight", Value::U64(number(file, value)?))),
            (true, "cpu.max") => {
                let mut fields = value.split_whitespace();
                let q = fields.next().unwrap_or("max");
                quota = Some(if q == "max" { -1 } else { number(file, q)? as i64 });
                if let Some(p) = fields.next() {
                    period = Some(number(file, p)?);
                }
            }
            (false, "memory.limit_in_bytes") => out.push(("MemoryLimit", Value::U64(limit()?))),
            (false, "cpu.shares") => out.push(("CPUShares", Value::U64(number(file, value)?))),
            (false, "cpu.cfs_quota_us") => quota = Some(value.parse().map_err(|_| bad(file, value))?),
            (false, "cpu.cfs_period_us") => period = Some(number(file, value)?),
            (false, "blkio.weight") => out.push(("BlockIOWeight", Value::U64(number(file, value)?))),
            (_, "pids.max") => {
                // systemd refuses TasksMax=0; the file still gets the exact value.
                out.push(("TasksMax", Value::U64(limit()?.max(1))))
            }
            (_, "cpuset.cpus") if version >= CPUSET_SINCE => {
                out.push(("AllowedCPUs", Value::Bytes(range_to_bits(value).ok_or_else(|| bad(file, value))?)))
            }
            (_, "cpuset.mems") if version >= CPUSET_SINCE => {
                out.push(("AllowedMemoryNodes", Value::Bytes(range_to_bits(value).ok_or_else(|| bad(file, value))?)))
            }
            // Only in the files.
            _ => {}
        }
    }
    if quota.is_some() || period.is_some() {
        let period_us = period.filter(|p| *p > 0).unwrap_or(100_000);
        if period.is_some() && version >= PERIOD_SINCE {
            out.push(("CPUQuotaPeriodUSec", Value::U64(period_us)));
        }
        out.push(("CPUQuotaPerSecUSec", Value::U64(quota_per_sec(quota.unwrap_or(-1), period_us))));
    }
    Ok(out)
}

/// A quota per period as CPU time per second, rounded up to what systemd can store (it
/// keeps whole percents of a CPU, 10 ms per second), as runc rounds it.
pub fn quota_per_sec(quota: i64, period: u64) -> u64 {
    if quota <= 0 {
        return INFINITY;
    }
    let per_sec = (quota as u64).saturating_mul(1_000_000) / period.max(1);
    per_sec.div_ceil(10_000) * 10_000
}

/// A CPU or memory-node list (`0-3,5`) as systemd's bitmask: byte i holds CPUs 8i..8i+7.
pub fn range_to_bits(list: &str) -> Option<Vec<u8>> {
    let mut bytes: Vec<u8> = Vec::new();
    let mut set = |n: u32| {
        let i = (n / 8) as usize;
        if bytes.len() <= i {
            bytes.resize(i + 1, 0);
        }
        bytes[i] |= 1 << (n % 8);
    };
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        // The kernel has at most a few thousand CPUs; a huge range is an error, not a
        // huge allocation.
        if a > b || b >= 1 << 16 {
            return None;
        }
        (a..=b).for_each(&mut set);
    }
    if bytes.is_empty() { None } else { Some(bytes) }
}

fn bad(file: &str, value: &str) -> Error {
    Error::Unsupported { field: file.to_string(), reason: format!("{value:?} is not a valid value") }
}

fn number(file: &str, value: &str) -> Result<u64> {
    value.parse().map_err(|_| bad(file, value))
}

/// A limit: a number of bytes (or tasks), `max` (or a negative v1 value) for none.
fn parse_limit(file: &str, value: &str) -> Result<u64> {
    if value == "max" || value.starts_with('-') {
        return Ok(INFINITY);
    }
    number(file, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan;
    use oci_spec::runtime::LinuxResources;

    fn props(json: &str, unified: bool, version: u32) -> Vec<Property> {
        let r: LinuxResources = serde_json::from_str(json).unwrap();
        let writes = if unified { plan::v2(&r).unwrap() } else { plan::v1(&r).unwrap() };
        from_writes(&writes, unified, version).unwrap()
    }

    #[test]
    fn v2_limits_become_their_properties() {
        let p = props(
            r#"{"memory":{"limit":104857600,"reservation":1048576,"swap":209715200},
                "cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0-1","mems":"0"},
                "pids":{"limit":42}}"#,
            true,
            252,
        );
        assert_eq!(
            p,
            vec![
                ("MemoryMax", Value::U64(104857600)),
                ("MemorySwapMax", Value::U64(104857600)),
                ("MemoryLow", Value::U64(1048576)),
                ("CPUWeight", Value::U64(39)),
                ("AllowedCPUs", Value::Bytes(vec![0b11])),
                ("AllowedMemoryNodes", Value::Bytes(vec![1])),
                ("TasksMax", Value::U64(42)),
                ("CPUQuotaPeriodUSec", Value::U64(100000)),
                ("CPUQuotaPerSecUSec", Value::U64(500000)),
            ]
        );
    }

    #[test]
    fn unlimited_and_old_systemd() {
        let p = props(r#"{"memory":{"limit":-1},"pids":{"limit":-1},"cpu":{"cpus":"1","period":50000}}"#, true, 239);
        assert_eq!(
            p,
            vec![
                ("MemoryMax", Value::U64(INFINITY)),
                ("TasksMax", Value::U64(INFINITY)),
                ("CPUQuotaPerSecUSec", Value::U64(INFINITY)),
            ]
        );
    }

    #[test]
    fn v1_limits_become_their_properties() {
        let p = props(
            r#"{"memory":{"limit":1000000},"cpu":{"shares":512,"quota":12345},"blockIO":{"weight":300}}"#,
            false,
            252,
        );
        assert_eq!(
            p,
            vec![
                ("MemoryLimit", Value::U64(1000000)),
                ("CPUShares", Value::U64(512)),
                ("BlockIOWeight", Value::U64(300)),
                // 12345 us per 100 ms is 123450 us per second, rounded up to 130000.
                ("CPUQuotaPerSecUSec", Value::U64(130000)),
            ]
        );
    }

    #[test]
    fn cpu_lists_are_bitmasks() {
        assert_eq!(range_to_bits("0-3,9").unwrap(), vec![0x0f, 0x02]);
        assert_eq!(range_to_bits(" 8 ").unwrap(), vec![0, 1]);
        for bad in ["", "3-1", "x", "0-99999999", ","] {
            assert!(range_to_bits(bad).is_none(), "{bad:?}");
        }
    }
}
