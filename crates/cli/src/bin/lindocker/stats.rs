//! `stats` (resource use from the runtime's cgroup statistics) and `update` (limits
//! changed on a live container).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use lindocker_engine::Engine;
use lindocker_engine::options::{self, RestartPolicy};
use lindocker_engine::record::{Record, Status};
use lindocker_engine::update::UpdateRequest;
use lindocker_engine::usage::{Sample, Stats};

use crate::format;
use crate::formatter::{Listing, row, text};
use crate::template::Val;

/// `stats` flags.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default: running ones).
    #[arg(short, long)]
    pub all: bool,
    /// Print one sample and exit.
    #[arg(long)]
    pub no_stream: bool,
    /// Full ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// `table` (default), `table TEMPLATE`, `json` or a template: {{.Name}} {{.CPUPerc}}
    /// {{.MemUsage}} {{.MemPerc}} {{.NetIO}} {{.BlockIO}} {{.PIDs}} {{.ID}} {{.Container}}.
    #[arg(long)]
    pub format: Option<String>,
    /// Containers (default: all running).
    pub containers: Vec<String>,
}

/// `update` flags.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Memory limit.
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Memory + swap limit.
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares.
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<u64>,
    /// CPUs allowed.
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Process limit.
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// CPU CFS quota in µs per period (-1: none).
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in µs.
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// Memory soft limit.
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Block IO weight (10 to 1000).
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Restart policy.
    #[arg(long)]
    pub restart: Option<String>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

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
            .records()
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
        .map(|n| Ok((n.clone(), engine.reconcile(engine.records().read(&engine.records().resolve(n)?)?))))
        .collect()
}

/// One row: Docker's fields, `--` where nothing could be read (a stopped container).
fn stats_row(a: &StatsArgs, given: &str, record: &Record, before: Option<&Sample>, after: Option<&Sample>) -> Val {
    let id = if a.no_trunc { record.id.clone() } else { record.id[..12].to_owned() };
    let mut fields = vec![("Container", given.to_owned()), ("ID", id), ("Name", record.name.clone())];
    match (before, after) {
        (Some(before), Some(after)) => {
            let s = Stats::between(before, after);
            fields.extend([
                ("CPUPerc", format!("{:.2}%", s.cpu_percent)),
                ("MemUsage", format!("{} / {}", binary_size(s.memory), binary_size(s.memory_limit))),
                ("MemPerc", format!("{:.2}%", s.memory_percent)),
                ("NetIO", format!("{} / {}", format::size(s.net_rx), format::size(s.net_tx))),
                ("BlockIO", format!("{} / {}", format::size(s.block_read), format::size(s.block_write))),
                ("PIDs", s.pids.to_string()),
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
                if let Some(s) = engine.sample(record) {
                    last.insert(record.id.clone(), s);
                }
            }
            std::thread::sleep(Duration::from_millis(500));
            first = false;
        }
        let mut rows = Vec::new();
        let mut now = HashMap::new();
        for (given, record) in &shown {
            let after = engine.sample(record);
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
    let memory_swap = match a.memory_swap.as_deref() {
        Some("-1") => Some(-1),
        Some(v) => Some(options::parse_bytes("--memory-swap", v)?),
        None => None,
    };
    let request = UpdateRequest {
        memory,
        memory_swap,
        nano_cpus: a.cpus.as_deref().map(options::parse_cpus).transpose()?,
        restart: a.restart.as_deref().map(RestartPolicy::parse).transpose()?,
        memory_reservation: a
            .memory_reservation
            .as_deref()
            .map(|m| options::parse_bytes("--memory-reservation", m))
            .transpose()?,
        blkio_weight: a
            .blkio_weight
            .map(|w| lindocker_engine::resources::parse_blkio_weight("--blkio-weight", w))
            .transpose()?
            .flatten(),
        cpu_quota: a.cpu_quota,
        cpu_period: a.cpu_period,
        cpu_shares: a.cpu_shares,
        cpuset_cpus: a.cpuset_cpus.clone(),
        pids_limit: a.pids_limit,
    };
    request.check().map_err(|e| crate::Failure::new(125, e.to_string()))?;
    if request.is_empty() {
        bail!("you must give at least one flag to change");
    }
    let mut status = 0;
    for name in &a.containers {
        match engine.update(name, &request) {
            Ok(_) => println!("{name}"),
            Err(e) => {
                crate::report(&e.into());
                status = 1;
            }
        }
    }
    Ok(status)
}
