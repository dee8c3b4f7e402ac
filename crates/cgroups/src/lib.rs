//! cgroups for lindocker containers, on cgroup v1, v2 and hybrid hosts.
//!
//! [`Hierarchy`] says how the host mounts cgroups; [`plan`] turns OCI
//! `linux.resources` into the files and values to write for that version (pure, so it is
//! unit-tested); [`Manager`] creates a container's cgroup, writes the plan, freezes and
//! removes it; device rules become the v1 controller's files or, on cgroup v2, an eBPF
//! program ([`device_rules`], [`devices_bpf`]); [`Entry`] is the way in for a new
//! process, which steps in by itself (much cheaper than being moved in by another).
//! [`Driver`] says who makes the cgroup: the runtime through the file system, or
//! [`systemd`] as a transient unit (`--systemd-cgroup`).

pub mod device_rules;
pub mod devices_bpf;
mod driver;
mod entry;
mod error;
mod hierarchy;
mod manager;
pub mod plan;
pub mod stats;
pub mod systemd;

pub use driver::{DEFAULT_PREFIX, Driver};
pub use entry::Entry;
pub use error::{Error, Result};
pub use hierarchy::{Hierarchy, V1Mount};
pub use manager::Manager;
