//! OCI `linux.resources` -> the cgroup files to write, for v1 or v2.
//!
//! Pure: no file is touched here, so the mapping is tested against fixed inputs. Values
//! are converted between the versions the way runc converts them, so a spec written for
//! one version means the same on the other.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources, LinuxThrottleDevice};

use crate::{Error, Result};

/// One value to write into one file of one controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The v1 controller whose hierarchy holds the file (on v2, the file's prefix).
    pub controller: &'static str,
    /// The file name, e.g. `memory.limit_in_bytes`.
    pub file: String,
    /// What to write.
    pub value: String,
}

fn w(controller: &'static str, file: impl Into<String>, value: impl ToString) -> Write {
    Write { controller, file: file.into(), value: value.to_string() }
}

fn unsupported(field: &str, reason: &str) -> Error {
    Error::Unsupported { field: field.into(), reason: reason.into() }
}

/// Puts the v1 memory+swap write before the memory limit's when the new memory+swap is
/// unlimited or above the `current` memory limit: the kernel keeps `limit <= memsw` at
/// every write, so raising both must raise memsw first, lowering must lower the limit
/// first (runc orders them the same way). [`v1`] puts the limit first.
pub fn order_memory_v1(writes: &mut Vec<Write>, current: i64) {
    let at = |name: &str| writes.iter().position(|w| w.controller == "memory" && w.file == name);
    let (Some(limit), Some(swap)) = (at("memory.limit_in_bytes"), at("memory.memsw.limit_in_bytes")) else {
        return;
    };
    let new_swap: i64 = writes[swap].value.parse().unwrap_or(-1);
    if swap > limit && (new_swap == -1 || current < new_swap) {
        let w = writes.remove(swap);
        writes.insert(limit, w);
    }
}

/// The writes for cgroup v1, in the order they must happen (but see [`order_memory_v1`]).
pub fn v1(r: &LinuxResources) -> Result<Vec<Write>> {
    let mut out = Vec::new();
    if let Some(m) = r.memory() {
        if let Some(limit) = m.limit() {
            out.push(w("memory", "memory.limit_in_bytes", limit));
        }
        if let Some(swap) = m.swap() {
            // memsw is memory+swap, never below the limit: see `order_memory_v1`.
            out.push(w("memory", "memory.memsw.limit_in_bytes", swap));
        }
        if let Some(reservation) = m.reservation() {
            out.push(w("memory", "memory.soft_limit_in_bytes", reservation));
        }
        if let Some(swappiness) = m.swappiness() {
            if swappiness > 100 {
                return Err(unsupported("memory.swappiness", "must be 0 to 100"));
            }
            out.push(w("memory", "memory.swappiness", swappiness));
        }
        if m.disable_oom_killer() == Some(true) {
            out.push(w("memory", "memory.oom_control", 1));
        }
        if let Some(tcp) = m.kernel_tcp() {
            // Refused by `apply`, naming the file, where the kernel lacks it.
            out.push(w("memory", "memory.kmem.tcp.limit_in_bytes", tcp));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(shares) = c.shares() {
            out.push(w("cpu", "cpu.shares", shares));
        }
        // The period first: a quota is checked against the current period.
        if let Some(period) = c.period() {
            out.push(w("cpu", "cpu.cfs_period_us", period));
        }
        if let Some(quota) = c.quota() {
            out.push(w("cpu", "cpu.cfs_quota_us", quota));
        }
        if let Some(period) = c.realtime_period() {
            out.push(w("cpu", "cpu.rt_period_us", period));
        }
        if let Some(runtime) = c.realtime_runtime() {
            out.push(w("cpu", "cpu.rt_runtime_us", runtime));
        }
        if let Some(cpus) = c.cpus() {
            out.push(w("cpuset", "cpuset.cpus", cpus));
        }
        if let Some(mems) = c.mems() {
            out.push(w("cpuset", "cpuset.mems", mems));
        }
        if c.idle().is_some_and(|i| i != 0) {
            return Err(unsupported("cpu.idle", "needs cgroup v2"));
        }
    }
    if let Some(p) = r.pids() {
        out.push(w("pids", "pids.max", pids_value(p.limit())));
    }
    if let Some(b) = r.block_io() {
        // 0 means "not set" (Docker sends it), as runc reads it.
        if let Some(weight) = b.weight().filter(|w| *w != 0) {
            out.push(w("blkio", "blkio.weight", weight));
        }
        if let Some(weight) = b.leaf_weight().filter(|w| *w != 0) {
            out.push(w("blkio", "blkio.leaf_weight", weight));
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(weight) = d.weight() {
                out.push(w("blkio", "blkio.weight_device", format!("{}:{} {weight}", d.major(), d.minor())));
            }
            if let Some(weight) = d.leaf_weight() {
                out.push(w("blkio", "blkio.leaf_weight_device", format!("{}:{} {weight}", d.major(), d.minor())));
            }
        }
        let throttles = [
            ("blkio.throttle.read_bps_device", b.throttle_read_bps_device()),
            ("blkio.throttle.write_bps_device", b.throttle_write_bps_device()),
            ("blkio.throttle.read_iops_device", b.throttle_read_iops_device()),
            ("blkio.throttle.write_iops_device", b.throttle_write_iops_device()),
        ];
        for (file, devices) in throttles {
            for d in devices.iter().flatten() {
                out.push(w("blkio", file, format!("{}:{} {}", d.major(), d.minor(), d.rate())));
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        out.push(w("hugetlb", format!("hugetlb.{}.limit_in_bytes", h.page_size()), h.limit()));
    }
    if let Some(n) = r.network() {
        if let Some(class_id) = n.class_id() {
            out.push(w("net_cls", "net_cls.classid", class_id));
        }
        for p in n.priorities().iter().flatten() {
            out.push(w("net_prio", "net_prio.ifpriomap", format!("{} {}", p.name(), p.priority())));
        }
    }
    for d in r.devices().iter().flatten() {
        let file = if d.allow() { "devices.allow" } else { "devices.deny" };
        out.push(w("devices", file, device_rule(d)));
    }
    if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(unsupported("unified", "needs cgroup v2; this host uses cgroup v1"));
    }
    Ok(out)
}

/// The writes for cgroup v2, in the order they must happen.
///
/// `linux.resources.devices` is not part of the plan: v2 enforces device rules with an
/// eBPF program ([`crate::devices_bpf`]), not a file.
pub fn v2(r: &LinuxResources) -> Result<Vec<Write>> {
    let mut out = Vec::new();
    if let Some(m) = r.memory() {
        if let Some(limit) = m.limit() {
            out.push(w("memory", "memory.max", max_or(limit)));
        }
        if let Some(swap) = m.swap() {
            out.push(w("memory", "memory.swap.max", v2_swap(m.limit(), swap)?));
        }
        if let Some(reservation) = m.reservation() {
            out.push(w("memory", "memory.low", max_or(reservation)));
        }
        if m.disable_oom_killer() == Some(true) {
            return Err(unsupported("memory.disableOOMKiller", "cgroup v2 has no switch to disable the OOM killer"));
        }
        if m.kernel_tcp().is_some() {
            return Err(unsupported("memory.kernelTCP", "cgroup v2 has no limit for TCP buffer memory"));
        }
        // memory.swappiness has no v2 file; runc ignores it there too.
    }
    if let Some(c) = r.cpu() {
        if let Some(shares) = c.shares() {
            out.push(w("cpu", "cpu.weight", shares_to_weight(shares)));
        }
        if c.quota().is_some() || c.period().is_some() {
            let quota = match c.quota() {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".to_string(),
            };
            let period = c.period().unwrap_or(100_000);
            out.push(w("cpu", "cpu.max", format!("{quota} {period}")));
        }
        if let Some(idle) = c.idle() {
            out.push(w("cpu", "cpu.idle", idle));
        }
        if c.realtime_runtime().is_some_and(|v| v != 0) || c.realtime_period().is_some_and(|v| v != 0) {
            return Err(unsupported("cpu.realtimeRuntime", "cgroup v2 has no realtime CPU limits"));
        }
        if let Some(cpus) = c.cpus() {
            out.push(w("cpuset", "cpuset.cpus", cpus));
        }
        if let Some(mems) = c.mems() {
            out.push(w("cpuset", "cpuset.mems", mems));
        }
    }
    if let Some(p) = r.pids() {
        out.push(w("pids", "pids.max", pids_value(p.limit())));
    }
    if let Some(b) = r.block_io() {
        if let Some(weight) = b.weight().filter(|w| *w != 0) {
            out.push(w("io", "io.weight", blkio_weight_to_io(weight)));
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(weight) = d.weight() {
                out.push(w("io", "io.weight", format!("{}:{} {}", d.major(), d.minor(), blkio_weight_to_io(weight))));
            }
        }
        let throttles = [
            ("rbps", b.throttle_read_bps_device()),
            ("wbps", b.throttle_write_bps_device()),
            ("riops", b.throttle_read_iops_device()),
            ("wiops", b.throttle_write_iops_device()),
        ];
        for (key, devices) in throttles {
            for d in devices.iter().flatten() {
                out.push(w("io", "io.max", io_max(key, d)));
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        out.push(w("hugetlb", format!("hugetlb.{}.max", h.page_size()), max_or(h.limit())));
    }
    if r.network().as_ref().is_some_and(|n| n.class_id().is_some() || n.priorities().is_some()) {
        return Err(unsupported("network", "net_cls and net_prio do not exist in cgroup v2"));
    }
    let mut unified: Vec<_> = r.unified().iter().flatten().collect();
    unified.sort();
    for (file, value) in unified {
        if file.contains('/') || file.starts_with('.') || !file.contains('.') {
            return Err(unsupported(&format!("unified[{file:?}]"), "not a cgroup file name"));
        }
        let controller = controller_of(file);
        out.push(Write { controller, file: file.clone(), value: value.clone() });
    }
    Ok(out)
}

/// The controller a v2 file belongs to, by its prefix.
fn controller_of(file: &str) -> &'static str {
    const KNOWN: &[&str] = &["cpu", "cpuset", "io", "memory", "pids", "hugetlb", "rdma", "misc", "cgroup"];
    let prefix = file.split('.').next().unwrap_or("");
    KNOWN.iter().find(|k| **k == prefix).copied().unwrap_or("cgroup")
}

fn max_or(v: i64) -> String {
    if v < 0 { "max".into() } else { v.to_string() }
}

fn pids_value(limit: i64) -> String {
    if limit <= 0 { "max".into() } else { limit.to_string() }
}

/// OCI `swap` is memory+swap (the v1 meaning); v2 limits swap alone.
fn v2_swap(limit: Option<i64>, swap: i64) -> Result<String> {
    match (limit, swap) {
        (_, -1) => Ok("max".into()),
        (Some(l), s) if l > 0 && s >= l => Ok((s - l).to_string()),
        (Some(l), s) if l > 0 => {
            Err(unsupported("memory.swap", &format!("memory+swap limit {s} is below the memory limit {l}")))
        }
        _ => Err(unsupported("memory.swap", "a swap limit needs a memory limit on cgroup v2")),
    }
}

/// cpu.shares (2..262144) -> cpu.weight (1..10000), as runc maps them.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// blkio.weight (10..1000) -> io.weight (1..10000), as runc maps them.
pub fn blkio_weight_to_io(weight: u16) -> u64 {
    let weight = u64::from(weight.clamp(10, 1000));
    1 + (weight - 10) * 9999 / 990
}

/// The inverse of [`blkio_weight_to_io`]: the blkio weight (10..1000) an io.weight came
/// from, for `io.bfq.weight` (which takes blkio's scale).
pub fn io_weight_to_bfq(weight: u64) -> u16 {
    (10..=1000u16).find(|w| blkio_weight_to_io(*w) >= weight).unwrap_or(1000)
}

/// An `io.weight` line (`W`, or `MAJ:MIN W`) as the `io.bfq.weight` line with the same
/// meaning (`default` is what BFQ calls the cgroup-wide weight).
pub fn io_weight_to_bfq_line(line: &str) -> String {
    match line.split_once(' ') {
        Some((device, w)) => format!("{device} {}", w.parse().map_or(100, io_weight_to_bfq)),
        None => line.parse().map_or_else(|_| line.to_owned(), |w| io_weight_to_bfq(w).to_string()),
    }
}

fn io_max(key: &str, d: &LinuxThrottleDevice) -> String {
    format!("{}:{} {key}={}", d.major(), d.minor(), d.rate())
}

/// A v1 device rule line: `c 1:3 rwm`, `a *:* rwm`.
fn device_rule(d: &LinuxDeviceCgroup) -> String {
    let typ = d.typ().map_or_else(|| "a".to_string(), |t| t.as_str().to_string());
    let num = |n: Option<i64>| n.filter(|n| *n >= 0).map_or("*".to_string(), |n| n.to_string());
    let access = d.access().as_deref().filter(|a| !a.is_empty()).unwrap_or("rwm");
    format!("{typ} {}:{} {access}", num(d.major()), num(d.minor()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn files(writes: &[Write]) -> Vec<(String, String)> {
        writes.iter().map(|w| (w.file.clone(), w.value.clone())).collect()
    }

    #[test]
    fn memory_v1_and_v2() {
        let r = resources(r#"{"memory":{"limit":104857600,"swap":209715200,"reservation":52428800}}"#);
        assert_eq!(
            files(&v1(&r).unwrap()),
            vec![
                ("memory.limit_in_bytes".into(), "104857600".into()),
                ("memory.memsw.limit_in_bytes".into(), "209715200".into()),
                ("memory.soft_limit_in_bytes".into(), "52428800".into()),
            ]
        );
        assert_eq!(
            files(&v2(&r).unwrap()),
            vec![
                ("memory.max".into(), "104857600".into()),
                ("memory.swap.max".into(), "104857600".into()),
                ("memory.low".into(), "52428800".into()),
            ]
        );
    }

    #[test]
    fn unlimited_values() {
        let r = resources(r#"{"memory":{"limit":-1,"swap":-1},"pids":{"limit":0}}"#);
        assert_eq!(
            files(&v2(&r).unwrap()),
            vec![
                ("memory.max".into(), "max".into()),
                ("memory.swap.max".into(), "max".into()),
                ("pids.max".into(), "max".into()),
            ]
        );
    }

    #[test]
    fn swap_below_limit_is_refused_on_v2() {
        let r = resources(r#"{"memory":{"limit":200,"swap":100}}"#);
        assert!(v2(&r).unwrap_err().to_string().contains("memory.swap"));
    }

    #[test]
    fn cpu_mapping() {
        let r = resources(r#"{"cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0","mems":"0"}}"#);
        assert_eq!(
            files(&v1(&r).unwrap()),
            vec![
                ("cpu.shares".into(), "1024".into()),
                ("cpu.cfs_period_us".into(), "100000".into()),
                ("cpu.cfs_quota_us".into(), "50000".into()),
                ("cpuset.cpus".into(), "0".into()),
                ("cpuset.mems".into(), "0".into()),
            ]
        );
        assert_eq!(
            files(&v2(&r).unwrap()),
            vec![
                ("cpu.weight".into(), "39".into()),
                ("cpu.max".into(), "50000 100000".into()),
                ("cpuset.cpus".into(), "0".into()),
                ("cpuset.mems".into(), "0".into()),
            ]
        );
    }

    #[test]
    fn weight_conversions_match_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(blkio_weight_to_io(10), 1);
        assert_eq!(blkio_weight_to_io(1000), 10_000);
        assert_eq!(blkio_weight_to_io(500), 4950);
    }

    #[test]
    fn block_io_and_hugetlb() {
        let r = resources(
            r#"{"blockIO":{"weight":500,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}]},
                "hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#,
        );
        assert_eq!(
            files(&v1(&r).unwrap()),
            vec![
                ("blkio.weight".into(), "500".into()),
                ("blkio.throttle.read_bps_device".into(), "8:0 1048576".into()),
                ("hugetlb.2MB.limit_in_bytes".into(), "4194304".into()),
            ]
        );
        assert_eq!(
            files(&v2(&r).unwrap()),
            vec![
                ("io.weight".into(), "4950".into()),
                ("io.max".into(), "8:0 rbps=1048576".into()),
                ("hugetlb.2MB.max".into(), "4194304".into()),
            ]
        );
    }

    #[test]
    fn bfq_weights_round_trip() {
        for w in [10u16, 11, 99, 300, 500, 999, 1000] {
            assert_eq!(io_weight_to_bfq(blkio_weight_to_io(w)), w);
        }
        assert_eq!(io_weight_to_bfq_line("2930"), "300");
        assert_eq!(io_weight_to_bfq_line("8:0 4950"), "8:0 500");
    }

    #[test]
    fn finer_flags_v1_and_v2() {
        // What `run --memory-reservation --oom-kill-disable --cpu-quota --cpu-period
        // --cpu-rt-* --blkio-weight-device --device-write-iops` asks for.
        let r = resources(
            r#"{"memory":{"reservation":33554432,"disableOOMKiller":true},
                "cpu":{"quota":50000,"period":200000,"realtimeRuntime":10000,"realtimePeriod":1000000},
                "blockIO":{"weightDevice":[{"major":254,"minor":0,"weight":200}],
                           "throttleWriteIOPSDevice":[{"major":254,"minor":0,"rate":100}],
                           "throttleWriteBpsDevice":[{"major":254,"minor":0,"rate":2097152}]}}"#,
        );
        assert_eq!(
            files(&v1(&r).unwrap()),
            vec![
                ("memory.soft_limit_in_bytes".into(), "33554432".into()),
                ("memory.oom_control".into(), "1".into()),
                ("cpu.cfs_period_us".into(), "200000".into()),
                ("cpu.cfs_quota_us".into(), "50000".into()),
                ("cpu.rt_period_us".into(), "1000000".into()),
                ("cpu.rt_runtime_us".into(), "10000".into()),
                ("blkio.weight_device".into(), "254:0 200".into()),
                ("blkio.throttle.write_bps_device".into(), "254:0 2097152".into()),
                ("blkio.throttle.write_iops_device".into(), "254:0 100".into()),
            ]
        );
        // v2 has neither an OOM switch nor realtime budgets: refused, never ignored.
        assert!(v2(&r).is_err());
        let r = resources(
            r#"{"memory":{"reservation":33554432},"cpu":{"quota":50000,"period":200000},
                "blockIO":{"weightDevice":[{"major":254,"minor":0,"weight":200}],
                           "throttleWriteIOPSDevice":[{"major":254,"minor":0,"rate":100}]}}"#,
        );
        assert_eq!(
            files(&v2(&r).unwrap()),
            vec![
                ("memory.low".into(), "33554432".into()),
                ("cpu.max".into(), "50000 200000".into()),
                ("io.weight".into(), "254:0 1920".into()),
                ("io.max".into(), "254:0 wiops=100".into()),
            ]
        );
    }

    #[test]
    fn zero_blkio_weight_means_unset() {
        let r = resources(r#"{"blockIO":{"weight":0,"leafWeight":0}}"#);
        assert!(v1(&r).unwrap().is_empty());
        assert!(v2(&r).unwrap().is_empty());
    }

    #[test]
    fn device_rules_v1() {
        let r = resources(
            r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"},{"allow":true,"type":"c","major":136,"access":"rwm"}]}"#,
        );
        assert_eq!(
            files(&v1(&r).unwrap()),
            vec![
                ("devices.deny".into(), "a *:* rwm".into()),
                ("devices.allow".into(), "c 1:3 rw".into()),
                ("devices.allow".into(), "c 136:* rwm".into()),
            ]
        );
        assert!(v2(&r).unwrap().is_empty());
    }

    #[test]
    fn unified_only_on_v2() {
        let r = resources(r#"{"unified":{"memory.high":"1000000","pids.max":"5"}}"#);
        assert!(v1(&r).is_err());
        let writes = v2(&r).unwrap();
        assert_eq!(writes[0].controller, "memory");
        assert_eq!(writes[1], w("pids", "pids.max", "5"));
        let bad = resources(r#"{"unified":{"../x":"1"}}"#);
        assert!(v2(&bad).is_err());
    }

    #[test]
    fn memsw_goes_first_when_raised_above_the_current_limit() {
        let plan = |limit: i64, swap: i64, current: i64| {
            let r: LinuxResources =
                serde_json::from_value(serde_json::json!({"memory": {"limit": limit, "swap": swap}})).unwrap();
            let mut writes = v1(&r).unwrap();
            order_memory_v1(&mut writes, current);
            writes.iter().map(|w| w.file.clone()).collect::<Vec<_>>()
        };
        let (limit, memsw) = ("memory.limit_in_bytes".to_string(), "memory.memsw.limit_in_bytes".to_string());
        // Created (no limit yet): the limit first.
        assert_eq!(plan(64, 64, i64::MAX), [limit.clone(), memsw.clone()]);
        // Raised from 64: memsw first; lowered from 96: the limit first.
        assert_eq!(plan(96, 96, 64), [memsw.clone(), limit.clone()]);
        assert_eq!(plan(32, 32, 96), [limit.clone(), memsw.clone()]);
        assert_eq!(plan(-1, -1, 32), [memsw, limit]);
    }
}
