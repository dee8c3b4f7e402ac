//! The way into a container's cgroup for a process that moves itself.
//!
//! Moving another process in (writing its pid to `cgroup.procs`) takes the kernel's
//! cgroup-wide thread-group lock for writing, which waits out an RCU grace period: about
//! 10 ms per container start on this kind of host, more than all the rest of a start.
//! Two doors skip that lock:
//! - a single-threaded process that writes `0` ("myself") to a v1 hierarchy's `tasks`
//!   moves only its own thread, which needs no thread-group lock;
//! - a child cloned with `CLONE_INTO_CGROUP` is born in a cgroup2 directory.
//!
//! [`Entry`] holds both, opened by the parent (the child may not see the host's cgroup
//! tree any more when it uses them): the parent clones with [`Entry::unified`], the child
//! calls [`Entry::join_self`] first thing. Its children inherit the membership.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::io_err;
use crate::{Hierarchy, Manager, Result};

/// Open descriptors into every hierarchy of one cgroup.
#[derive(Debug)]
pub struct Entry {
    /// `tasks` of each v1 hierarchy, open for writing.
    tasks: Vec<File>,
    /// The cgroup2 directory (pure v2, or a hybrid host's unified hierarchy).
    unified: Option<OwnedFd>,
}

impl Entry {
    /// Opens the doors of `cgroup`, which must exist.
    pub fn open(cgroup: &Manager) -> Result<Entry> {
        let mut tasks = Vec::new();
        let mut unified = None;
        let open_dir = |dir: std::path::PathBuf| -> Result<OwnedFd> {
            File::open(&dir).map(OwnedFd::from).map_err(io_err("open", &dir))
        };
        match cgroup.hierarchy() {
            Hierarchy::Unified { mountpoint } => unified = Some(open_dir(cgroup.under(mountpoint))?),
            Hierarchy::Legacy { v1, unified: hybrid } => {
                for m in v1 {
                    let path = cgroup.under(&m.mountpoint).join("tasks");
                    tasks.push(OpenOptions::new().write(true).open(&path).map_err(io_err("open", &path))?);
                }
                if let Some(u) = hybrid {
                    unified = Some(open_dir(cgroup.under(u))?);
                }
            }
        }
        Ok(Entry { tasks, unified })
    }

    /// The cgroup2 directory to clone the child into, if the host has one.
    pub fn unified(&self) -> Option<BorrowedFd<'_>> {
        self.unified.as_ref().map(AsFd::as_fd)
    }

    /// Moves the calling thread into every v1 hierarchy of the cgroup. The caller must be
    /// single-threaded, so that its thread is the whole process.
    pub fn join_self(&self) -> std::io::Result<()> {
        for mut file in &self.tasks {
            file.write_all(b"0")?;
        }
        Ok(())
    }
}
