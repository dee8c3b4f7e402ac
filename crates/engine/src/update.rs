//! `update`: a container's limits (and restart policy) changed, at once through the OCI
//! runtime if it runs, and remembered for its next start; all under its lock.

use serde::{Deserialize, Serialize};

use crate::events::Event;
use crate::options::RestartPolicy;
use crate::record::{HostConfig, Record};
use crate::{Engine, EngineError};

/// What `update` changes; `None` keeps what the container has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRequest {
    /// Memory limit, bytes.
    pub memory: Option<i64>,
    /// Memory + swap limit, bytes (-1: unlimited swap). Twice the memory if only
    /// `memory` is given, as Docker keeps it.
    pub memory_swap: Option<i64>,
    /// CPUs in billionths.
    pub nano_cpus: Option<i64>,
    /// CPU shares.
    pub cpu_shares: Option<u64>,
    /// CPUs allowed (`0-3,5`).
    pub cpuset_cpus: Option<String>,
    /// Process limit.
    pub pids_limit: Option<i64>,
    /// CFS quota per period, µs (-1: none).
    pub cpu_quota: Option<i64>,
    /// CFS period, µs.
    pub cpu_period: Option<u64>,
    /// Memory soft limit, bytes.
    pub memory_reservation: Option<i64>,
    /// Block I/O weight, 10 to 1000 (0: unchanged, as Docker's).
    pub blkio_weight: Option<u16>,
    /// Restart policy.
    pub restart: Option<RestartPolicy>,
}

impl UpdateRequest {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == UpdateRequest::default()
    }

    /// Checks what can be checked without a container (the CFS values, the weight's
    /// range).
    pub fn check(&self) -> Result<(), EngineError> {
        if let Some(w) = self.blkio_weight {
            crate::resources::parse_blkio_weight("--blkio-weight", w)?;
        }
        let probe = HostConfig { cpu_quota: self.cpu_quota, cpu_period: self.cpu_period, ..Default::default() };
        crate::resources::check(&probe)
    }

    /// The runtime's `update` flags for a running container whose limits become `next`.
    fn runtime_args(&self, next: &HostConfig) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        if let Some(m) = self.memory {
            args.extend(["--memory".into(), m.to_string()]);
            // Docker keeps memory+swap at twice the memory unless told otherwise.
            args.extend(["--memory-swap".into(), self.memory_swap.unwrap_or(m * 2).to_string()]);
        } else if let Some(s) = self.memory_swap {
            args.extend(["--memory-swap".into(), s.to_string()]);
        }
        if let Some(n) = self.nano_cpus {
            args.extend(["--cpu-period".into(), "100000".into(), "--cpu-quota".into(), (n / 10_000).to_string()]);
        }
        if let Some(s) = self.cpu_shares {
            args.extend(["--cpu-shares".into(), s.to_string()]);
        }
        if let Some(c) = &self.cpuset_cpus {
            args.extend(["--cpuset-cpus".into(), c.clone()]);
        }
        if let Some(p) = self.pids_limit {
            args.extend(["--pids-limit".into(), p.to_string()]);
        }
        if self.cpu_quota.is_some() || self.cpu_period.is_some() {
            // The period first travels with the quota: cpu.max on v2 holds both.
            args.extend(["--cpu-period".into(), next.cpu_period.unwrap_or(100_000).to_string()]);
            args.extend(["--cpu-quota".into(), next.cpu_quota.unwrap_or(-1).to_string()]);
        }
        if let Some(r) = self.memory_reservation {
            args.extend(["--memory-reservation".into(), r.to_string()]);
        }
        if let Some(w) = self.blkio_weight.filter(|w| *w != 0) {
            args.extend(["--blkio-weight".into(), w.to_string()]);
        }
        args
    }

    /// `h` with the change applied.
    fn apply(&self, h: &mut HostConfig) {
        if self.memory.is_some() {
            h.memory = self.memory;
        }
        if self.memory_swap.is_some() {
            h.memory_swap = self.memory_swap;
        }
        if self.nano_cpus.is_some() {
            h.nano_cpus = self.nano_cpus;
        }
        if self.cpu_shares.is_some() {
            h.cpu_shares = self.cpu_shares;
        }
        if self.cpuset_cpus.is_some() {
            h.cpuset_cpus = self.cpuset_cpus.clone();
        }
        if self.pids_limit.is_some() {
            h.pids_limit = self.pids_limit;
        }
        h.cpu_quota = self.cpu_quota.or(h.cpu_quota);
        h.cpu_period = self.cpu_period.or(h.cpu_period);
        h.memory_reservation = self.memory_reservation.or(h.memory_reservation);
        if let Some(w) = self.blkio_weight.filter(|w| *w != 0) {
            h.blkio_weight = Some(w);
        }
        if let Some(r) = self.restart {
            h.restart = r;
        }
    }
}

impl Engine {
    /// Changes the limits of the container `name_or_id` names: checked together as they will be (as at
    /// create), set through the runtime if it runs, written to its record and bundle
    /// (its next start keeps them). Under the container's lock throughout. The record as
    /// it is now.
    pub fn update(&self, name_or_id: &str, request: &UpdateRequest) -> Result<Record, EngineError> {
        request.check()?;
        let id = &self.records.resolve(name_or_id)?;
        // Settled first: settling takes the lock itself.
        self.reconcile(self.records.read(id)?);
        let _lock = self.records.lock(id)?;
        let mut record = self.records.read(id)?;
        let mut next = record.host_config.clone();
        request.apply(&mut next);
        crate::resources::check(&next)?;
        if record.state.status.is_live() {
            let mut args = request.runtime_args(&next);
            if !args.is_empty() {
                args.insert(0, "update".into());
                args.push(record.id.clone());
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                self.runtime_for(&record)?.run(&refs)?;
            }
        }
        record.host_config = next;
        self.records.write(&record)?;
        // The next start (a restart policy's, or `start`) keeps the new limits.
        self.persist_limits(&record)?;
        self.events.emit(Event::container(&record, "update", &[]));
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_alone_takes_twice_as_much_swap_and_quota_travels_with_its_period() {
        let request = UpdateRequest { memory: Some(1 << 20), cpu_quota: Some(50_000), ..Default::default() };
        let mut next = HostConfig { cpu_period: Some(200_000), ..Default::default() };
        request.apply(&mut next);
        assert_eq!(next.memory, Some(1 << 20));
        assert_eq!(next.memory_swap, None, "the record keeps what was asked");
        assert_eq!(
            request.runtime_args(&next),
            ["--memory", "1048576", "--memory-swap", "2097152", "--cpu-period", "200000", "--cpu-quota", "50000"]
        );
    }

    #[test]
    fn bad_values_are_refused_before_anything_changes() {
        assert!(UpdateRequest { blkio_weight: Some(5), ..Default::default() }.check().is_err());
        assert!(UpdateRequest { cpu_quota: Some(10), ..Default::default() }.check().is_err());
        assert!(UpdateRequest { blkio_weight: Some(0), ..Default::default() }.check().is_ok());
        assert!(UpdateRequest::default().is_empty());
    }
}
