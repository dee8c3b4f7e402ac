//! What a running container uses, as `stats` shows it (and the Docker API's stats will):
//! CPU, memory and pids and block I/O from its cgroup (through the OCI runtime's
//! `events --stats`), network bytes from the counters of its network namespace.

use std::io;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::record::Record;
use crate::{Engine, EngineError, inroot};

/// One sample of a container's resource use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time used so far, in nanoseconds.
    pub cpu_ns: u64,
    /// Memory in use, in bytes.
    pub memory: u64,
    /// The memory limit, in bytes (0: none).
    pub memory_limit: u64,
    /// Processes and threads.
    pub pids: u64,
    /// Bytes received and sent over the container's interfaces (loopback left out).
    pub net_rx: u64,
    /// See `net_rx`.
    pub net_tx: u64,
    /// Bytes read from and written to block devices.
    pub block_read: u64,
    /// See `block_read`.
    pub block_write: u64,
}

impl Usage {
    /// The memory limit as `stats` shows it: the machine's memory when there is none.
    pub fn shown_memory_limit(&self) -> u64 {
        if self.memory_limit == 0 { crate::hostinfo::host_memory() } else { self.memory_limit }
    }
}

/// A sample and when it was taken (CPU % needs two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// What the container used so far.
    pub usage: Usage,
    /// When.
    pub at: std::time::Instant,
}

/// A container's resource use between two samples, as `stats` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// CPU time over wall time, in percent (100 per busy CPU).
    pub cpu_percent: f64,
    /// Memory in use, bytes.
    pub memory: u64,
    /// Its limit, bytes: the machine's memory when the container has none, as Docker shows it.
    pub memory_limit: u64,
    /// Memory in use of the limit, in percent.
    pub memory_percent: f64,
    /// Bytes received over its interfaces.
    pub net_rx: u64,
    /// Bytes sent.
    pub net_tx: u64,
    /// Bytes read from block devices.
    pub block_read: u64,
    /// Bytes written.
    pub block_write: u64,
    /// Processes and threads.
    pub pids: u64,
}

impl Stats {
    /// The use between `before` and `after` (the figures other than CPU are `after`'s).
    pub fn between(before: &Sample, after: &Sample) -> Stats {
        let u = &after.usage;
        let wall = after.at.duration_since(before.at).as_nanos().max(1) as f64;
        let cpu_percent = u.cpu_ns.saturating_sub(before.usage.cpu_ns) as f64 / wall * 100.0;
        let memory_limit = u.shown_memory_limit();
        let memory_percent = if memory_limit > 0 { u.memory as f64 / memory_limit as f64 * 100.0 } else { 0.0 };
        Stats {
            cpu_percent,
            memory: u.memory,
            memory_limit,
            memory_percent,
            net_rx: u.net_rx,
            net_tx: u.net_tx,
            block_read: u.block_read,
            block_write: u.block_write,
            pids: u.pids,
        }
    }
}

/// Bounds the read of `/proc/PID/net/dev` (one line of ~130 bytes per interface).
const NET_DEV_LIMIT: u64 = 4 << 20;

impl Engine {
    /// A sample of `record`'s use now; `None` if it is not running (or its cgroup
    /// cannot be read).
    pub fn sample(&self, record: &Record) -> Option<Sample> {
        if record.state.status != crate::record::Status::Running {
            return None;
        }
        self.usage(record).ok().map(|usage| Sample { usage, at: std::time::Instant::now() })
    }

    /// A sample of the running container `record`'s resource use.
    pub fn usage(&self, record: &Record) -> Result<Usage, EngineError> {
        let stats = self.stats(record)?;
        let data = &stats["data"];
        let limit = data["memory"]["usage"]["limit"].as_u64().unwrap_or(0);
        let (block_read, block_write) = block_io(&data["blkio"]);
        // A container on the host's network (or another container's) has no interfaces
        // of its own: Docker shows 0B for it too, not the host's counters.
        let own_netns = record.network.mode != "host" && !record.network.mode.starts_with("container:");
        let (net_rx, net_tx) = if own_netns { net_io(record.state.pid, &record.id).unwrap_or((0, 0)) } else { (0, 0) };
        Ok(Usage {
            cpu_ns: data["cpu"]["usage"]["total"].as_u64().unwrap_or(0),
            memory: data["memory"]["usage"]["usage"].as_u64().unwrap_or(0),
            memory_limit: if limit >= i64::MAX as u64 / 2 { 0 } else { limit },
            pids: data["pids"]["current"].as_u64().unwrap_or(0),
            net_rx,
            net_tx,
            block_read,
            block_write,
        })
    }
}

/// Bytes received and sent by the network namespace of `pid`, which must be container
/// `id`'s running process (checked, and read through one descriptor of `/proc/PID`, as
/// for [`inroot::running_root`]).
pub fn net_io(pid: i32, id: &str) -> io::Result<(u64, u64)> {
    let proc_dir = inroot::running_proc(pid, id)?;
    let text = inroot::read_regular(&proc_dir, Path::new("net/dev"), NET_DEV_LIMIT)?;
    // Still the same process after the read (ESRCH otherwise).
    rustix::fs::statat(&proc_dir, "cgroup", rustix::fs::AtFlags::empty())?;
    Ok(parse_net_dev(&String::from_utf8_lossy(&text)))
}

/// Sums received and sent bytes over the interfaces of a `/proc/net/dev` text, but
/// loopback. Interface names are the container's choice: only the position of the
/// colon and the numbers after it are read.
pub fn parse_net_dev(text: &str) -> (u64, u64) {
    let (mut rx, mut tx) = (0u64, 0u64);
    // Two header lines, then `NAME: rx_bytes packets errs drop fifo frame compressed
    // multicast tx_bytes ...`.
    for line in text.lines().skip(2) {
        let Some((name, counters)) = line.rsplit_once(':') else { continue };
        if name.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> = counters.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        if fields.len() >= 9 {
            rx = rx.saturating_add(fields[0]);
            tx = tx.saturating_add(fields[8]);
        }
    }
    (rx, tx)
}

/// Bytes read and written, summed over devices, from the `blkio` part of the runtime's
/// `events --stats` (runc's shape: `op` is `Read`/`Write`, or lower case on cgroup v2).
pub fn block_io(blkio: &Value) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for entry in blkio["ioServiceBytesRecursive"].as_array().into_iter().flatten() {
        let value = entry["value"].as_u64().unwrap_or(0);
        match entry["op"].as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => read = read.saturating_add(value),
            Some("write") => write = write.saturating_add(value),
            _ => {}
        }
    }
    (read, write)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn net_dev_sums_all_but_loopback() {
        let text = "Inter-|   Receive                                                |  Transmit\n \
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
lo:    5000      10    0    0    0     0          0         0     5000      10    0    0    0     0       0          0\n  \
eth0:    3200      12    0    0    0     0          0         0     1100       9    0    0    0     0       0          0\n\
weird:name:  10 1 0 0 0 0 0 0  20 1 0 0 0 0 0 0\n\
short: 1 2 3\n";
        assert_eq!(parse_net_dev(text), (3210, 1120));
        assert_eq!(parse_net_dev(""), (0, 0));
    }

    #[test]
    fn block_io_sums_reads_and_writes_of_every_device() {
        let blkio = json!({ "ioServiceBytesRecursive": [
            { "major": 8, "minor": 0, "op": "Read", "value": 4096 },
            { "major": 8, "minor": 0, "op": "Write", "value": 8192 },
            { "major": 8, "minor": 0, "op": "Total", "value": 12288 },
            { "major": 254, "minor": 0, "op": "write", "value": 1 },
        ]});
        assert_eq!(block_io(&blkio), (4096, 8193));
        assert_eq!(block_io(&json!({})), (0, 0));
    }
}
