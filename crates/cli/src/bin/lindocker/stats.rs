//! `stats` (resource use from the runtime's cgroup statistics) and `update` (limits
//! changed on a live container).

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use lindocker_engine::Engine;
use lindocker_engine::options::{self, RestartPolicy};
use lindocker_engine::record::{Record, Status};
use serde_json::Value;

use crate::containers::UpdateArgs;
use crate::format;

struct Sample {
    cpu_ns: u64,
    at: Instant,
    memory: u64,
    limit: u64,
    pids: u64,
}

fn sample(engine: &Engine, record: &Record) -> Option<Sample> {
    let stats: Value = engine.stats(record).ok()?;
    let data = &stats["data"];
    let limit = data["memory"]["usage"]["limit"].as_u64().unwrap_or(0);
    Some(Sample {
        cpu_ns: data["cpu"]["usage"]["total"].as_u64().unwrap_or(0),
        at: Instant::now(),
        memory: data["memory"]["usage"]["usage"].as_u64().unwrap_or(0),
        // No limit shows as the machine's memory, as Docker shows it.
        limit: if limit == 0 || limit >= i64::MAX as u64 / 2 { host_memory() } else { limit },
        pids: data["pids"]["current"].as_u64().unwrap_or(0),
    })
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.2}{}", UNITS[u])
}

/// `lindocker stats`: CPU %, memory, pids per running container (one sample with
/// `--no-stream`, else refreshed every second).
pub fn stats(engine: &Engine, names: &[String], no_stream: bool) -> Result<u8> {
    loop {
        let records: Vec<Record> = if names.is_empty() {
            engine
                .records
                .all()?
                .into_iter()
                .map(|r| engine.reconcile(r))
                .filter(|r| r.state.status == Status::Running)
                .collect()
        } else {
            names
                .iter()
                .map(|n| Ok(engine.reconcile(engine.records.read(&engine.records.resolve(n)?)?)))
                .collect::<Result<_>>()?
        };
        let first: Vec<Option<Sample>> = records.iter().map(|r| sample(engine, r)).collect();
        std::thread::sleep(Duration::from_millis(500));
        let mut rows =
            vec![["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"].map(String::from).to_vec()];
        for (record, before) in records.iter().zip(first) {
            let (Some(before), Some(after)) = (before, sample(engine, record)) else {
                rows.push(vec![
                    record.id[..12].into(),
                    record.name.clone(),
                    "--".into(),
                    "-- / --".into(),
                    "--".into(),
                    "--".into(),
                ]);
                continue;
            };
            let wall = after.at.duration_since(before.at).as_nanos().max(1) as f64;
            let cpu = after.cpu_ns.saturating_sub(before.cpu_ns) as f64 / wall * 100.0;
            let mem_pct = if after.limit > 0 { after.memory as f64 / after.limit as f64 * 100.0 } else { 0.0 };
            rows.push(vec![
                record.id[..12].into(),
                record.name.clone(),
                format!("{cpu:.2}%"),
                format!("{} / {}", binary_size(after.memory), binary_size(after.limit)),
                format!("{mem_pct:.2}%"),
                after.pids.to_string(),
            ]);
        }
        if !no_stream {
            print!("\x1b[2J\x1b[H");
        }
        format::table(&rows);
        if no_stream {
            return Ok(0);
        }
    }
}

/// `lindocker update`: new limits through the runtime, remembered in the record.
pub fn update(engine: &Engine, a: &UpdateArgs) -> Result<u8> {
    let memory = a.memory.as_deref().map(|m| options::parse_bytes("--memory", m)).transpose()?;
    let swap = match a.memory_swap.as_deref() {
        Some("-1") => Some(-1),
        Some(v) => Some(options::parse_bytes("--memory-swap", v)?),
        None => None,
    };
    let cpus = a.cpus.as_deref().map(options::parse_cpus).transpose()?;
    let restart = a.restart.as_deref().map(RestartPolicy::parse).transpose()?;
    let reservation =
        a.memory_reservation.as_deref().map(|m| options::parse_bytes("--memory-reservation", m)).transpose()?;
    let blkio_weight = a
        .blkio_weight
        .map(|w| lindocker_engine::resources::parse_blkio_weight("--blkio-weight", w))
        .transpose()?
        .flatten();
    let probe =
        lindocker_engine::record::HostConfig { cpu_quota: a.cpu_quota, cpu_period: a.cpu_period, ..Default::default() };
    lindocker_engine::resources::check(&probe).map_err(|e| crate::Failure::new(125, e.to_string()))?;
    let finer = a.cpu_quota.is_some() || a.cpu_period.is_some() || reservation.is_some() || blkio_weight.is_some();
    if !finer
        && memory.is_none()
        && swap.is_none()
        && cpus.is_none()
        && a.cpu_shares.is_none()
        && a.cpuset_cpus.is_none()
        && a.pids_limit.is_none()
        && restart.is_none()
    {
        bail!("you must give at least one flag to change");
    }
    let mut status = 0;
    for name in &a.containers {
        let result = (|| -> Result<()> {
            let id = engine.records.resolve(name)?;
            let record = engine.reconcile(engine.records.read(&id)?);
            // The limits as they will be, checked together (as at create).
            let mut next = record.host_config.clone();
            next.memory = memory.or(next.memory);
            next.cpu_quota = a.cpu_quota.or(next.cpu_quota);
            next.cpu_period = a.cpu_period.or(next.cpu_period);
            next.memory_reservation = reservation.or(next.memory_reservation);
            if cpus.is_some() {
                next.nano_cpus = cpus;
            }
            lindocker_engine::resources::check(&next)?;
            if record.state.status.is_live() {
                let mut args: Vec<String> = vec!["update".into()];
                if let Some(m) = memory {
                    args.extend(["--memory".into(), m.to_string()]);
                    // Docker keeps memory+swap at twice the memory unless told otherwise.
                    args.extend(["--memory-swap".into(), swap.unwrap_or(m * 2).to_string()]);
                } else if let Some(s) = swap {
                    args.extend(["--memory-swap".into(), s.to_string()]);
                }
                if let Some(n) = cpus {
                    args.extend([
                        "--cpu-period".into(),
                        "100000".into(),
                        "--cpu-quota".into(),
                        (n / 10_000).to_string(),
                    ]);
                }
                if let Some(s) = a.cpu_shares {
                    args.extend(["--cpu-shares".into(), s.to_string()]);
                }
                if let Some(c) = &a.cpuset_cpus {
                    args.extend(["--cpuset-cpus".into(), c.clone()]);
                }
                if let Some(p) = a.pids_limit {
                    args.extend(["--pids-limit".into(), p.to_string()]);
                }
                if a.cpu_quota.is_some() || a.cpu_period.is_some() {
                    // The period first travels with the quota: cpu.max on v2 holds both.
                    args.extend(["--cpu-period".into(), next.cpu_period.unwrap_or(100_000).to_string()]);
                    args.extend(["--cpu-quota".into(), next.cpu_quota.unwrap_or(-1).to_string()]);
                }
                if let Some(r) = reservation {
                    args.extend(["--memory-reservation".into(), r.to_string()]);
                }
                if let Some(w) = blkio_weight {
                    args.extend(["--blkio-weight".into(), w.to_string()]);
                }
                if args.len() > 1 {
                    args.push(id.clone());
                    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                    engine.runtime_for(&record)?.run(&refs)?;
                }
            }
            let (updated, ()) = engine.records.update(&id, |r| {
                let h = &mut r.host_config;
                if memory.is_some() {
                    h.memory = memory;
                }
                if swap.is_some() {
                    h.memory_swap = swap;
                }
                if cpus.is_some() {
                    h.nano_cpus = cpus;
                }
                if a.cpu_shares.is_some() {
                    h.cpu_shares = a.cpu_shares;
                }
                if a.cpuset_cpus.is_some() {
                    h.cpuset_cpus = a.cpuset_cpus.clone();
                }
                if a.pids_limit.is_some() {
                    h.pids_limit = a.pids_limit;
                }
                h.cpu_quota = next.cpu_quota;
                h.cpu_period = next.cpu_period;
                h.memory_reservation = next.memory_reservation;
                if blkio_weight.is_some() {
                    h.blkio_weight = blkio_weight;
                }
                if let Some(r) = restart {
                    h.restart = r;
                }
            })?;
            // The next start (a restart policy's, or `start`) keeps the new limits.
            engine.persist_limits(&updated)?;
            println!("{name}");
            Ok(())
        })();
        if let Err(e) = result {
            crate::report(&e);
            status = 1;
        }
    }
    Ok(status)
}
