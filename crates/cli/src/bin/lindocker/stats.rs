//! `stats` (resource use from the runtime's cgroup statistics) and `update` (limits
//! changed on a live container).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use lindocker_engine::Engine;
use lindocker_engine::options::{self, RestartPolicy};
use lindocker_engine::record::{Record, Status};
use lindocker_engine::usage::Usage;

use crate::containers::{StatsArgs, UpdateArgs};
use crate::format;
use crate::formatter::{Listing, row, text};
use crate::template::Val;

/// Docker's `stats` columns.
const STATS: Listing<'static> = Listing {
    default_table: "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
    headers: &[
        ("Container", "CONTAINER"),
        ("ID", "CONTAINER ID"),
        ("Name", "NAME"),
        ("CPUPerc", "CPU %"),
        ("MemUsage", "MEM USAGE / LIMIT"),
        ("MemPerc", "MEM %"),
        ("NetIO", "NET I/O"),
        ("BlockIO", "BLOCK I/O"),
        ("PIDs", "PIDS"),
    ],
};

/// A sample and when it was taken.
struct Sample {
    usage: Usage,
    at: Instant,
}

fn sample(engine: &Engine, record: &Record) -> Option<Sample> {
    if record.state.status != Status::Running {
        return None;
    }
    engine.usage(record).ok().map(|usage| Sample { usage, at: Instant::now() })
}

/// Bytes in binary units with four significant digits, as Docker's `units.BytesSize`:
/// `1.5MiB`, `7.629GiB`, `512B`.
fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    let decimals = if v >= 1000.0 {
        0
    } else if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let text = format!("{v:.decimals$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text };
    format!("{text}{}", UNITS[u])
}

/// The containers to show: those named, or every running one (every one with `--all`),
/// looked up again on each refresh so that new ones appear.
fn containers(engine: &Engine, a: &StatsArgs) -> Result<Vec<(String, Record)>> {
    if a.containers.is_empty() {
        let mut records: Vec<Record> = engine
            .records
            .all()?
            .into_iter()
            .map(|r| engine.reconcile(r))
            .filter(|r| a.all || r.state.status == Status::Running)
            .collect();
        records.sort_by(|x, y| y.created.cmp(&x.created));
        return Ok(records.into_iter().map(|r| (r.id.clone(), r)).collect());
    }
    a.containers
        .iter()
        .map(|n| Ok((n.clone(), engine.reconcile(engine.records.read(&engine.records.resolve(n)?)?))))
        .collect()
}

/// One row: Docker's fields, `--` where nothing could be read (a stopped container).
fn stats_row(a: &StatsArgs, given: &str, record: &Record, before: Option<&Sample>, after: Option<&Sample>) -> Val {
    let id = if a.no_trunc { record.id.clone() } else { record.id[..12].to_owned() };
    let mut fields = vec![("Container", given.to_owned()), ("ID", id), ("Name", record.name.clone())];
    match (before, after) {
        (Some(before), Some(after)) => {
            let u = &after.usage;
            let wall = after.at.duration_since(before.at).as_nanos().max(1) as f64;
            let cpu = u.cpu_ns.saturating_sub(before.usage.cpu_ns) as f64 / wall * 100.0;
            // No limit shows as the machine's memory, as Docker shows it.
            let limit = if u.memory_limit == 0 { crate::system::host_memory() } else { u.memory_limit };
            let mem_pct = if limit > 0 { u.memory as f64 / limit as f64 * 100.0 } else { 0.0 };
            fields.extend([
                ("CPUPerc", format!("{cpu:.2}%")),
                ("MemUsage", format!("{} / {}", binary_size(u.memory), binary_size(limit))),
                ("MemPerc", format!("{mem_pct:.2}%")),
                ("NetIO", format!("{} / {}", format::size(u.net_rx), format::size(u.net_tx))),
                ("BlockIO", format!("{} / {}", format::size(u.block_read), format::size(u.block_write))),
                ("PIDs", u.pids.to_string()),
            ]);
        }
        _ => fields.extend([
            ("CPUPerc", "--".to_owned()),
            ("MemUsage", "-- / --".to_owned()),
            ("MemPerc", "--".to_owned()),
            ("NetIO", "--".to_owned()),
            ("BlockIO", "--".to_owned()),
            ("PIDs", "--".to_owned()),
        ]),
    }
    row(fields.into_iter().map(|(k, v)| (k, text(v))).collect())
}

/// `lindocker stats`: CPU %, memory, network and block I/O, pids per container; one
/// sample with `--no-stream`, else redrawn every second until interrupted, as Docker's.
pub fn stats(engine: &Engine, a: &StatsArgs) -> Result<u8> {
    // CPU % needs two samples: the last one of each container is kept between refreshes.
    let mut last: HashMap<String, Sample> = HashMap::new();
    let mut first = true;
    loop {
        let shown = containers(engine, a)?;
        if first {
            for (_, record) in &shown {
                if let Some(s) = sample(engine, record) {
                    last.insert(record.id.clone(), s);
                }
            }
            std::thread::sleep(Duration::from_millis(500));
            first = false;
        }
        let mut rows = Vec::new();
        let mut now = HashMap::new();
        for (given, record) in &shown {
            let after = sample(engine, record);
            rows.push(stats_row(a, given, record, last.get(&record.id), after.as_ref()));
            if let Some(after) = after {
                now.insert(record.id.clone(), after);
            }
        }
        last = now;
        let out = crate::formatter::render(a.format.as_deref().unwrap_or(""), &STATS, &rows)?;
        if !a.no_stream {
            // Docker's CLI clears the screen and redraws from the top.
            print!("\x1b[2J\x1b[H");
        }
        print!("{out}");
        if a.no_stream {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_secs(1));
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
            engine.events.emit(lindocker_engine::events::Event::container(&updated, "update", &[]));
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
