//! Which namespaces a container gets, and how: created by the one `clone`, or joined by
//! `setns`, and whether a second fork is needed.

use std::path::PathBuf;

use oci_spec::runtime::{Linux, LinuxNamespaceType};

use crate::Result;
use crate::error::Context;

/// The namespace part of a container's set-up.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// `CLONE_NEW*` flags of the namespaces to create (cgroup excluded: see `new_cgroup`).
    pub new_flags: i32,
    /// Existing namespaces to join, user namespace first.
    pub joins: Vec<(i32, PathBuf)>,
    /// A new cgroup namespace, unshared by the init only after it joined its cgroup, so
    /// that the namespace's root is the container's cgroup.
    pub new_cgroup: bool,
    /// A second fork is needed: pid and time namespaces apply only to children of the
    /// process that enters them, and a new user namespace must be made after joining the
    /// namespaces it must not own.
    pub double_fork: bool,
}

/// The `CLONE_NEW*` flag of a namespace type.
pub fn flag(t: LinuxNamespaceType) -> i32 {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

impl Plan {
    /// The plan for `linux.namespaces`.
    pub fn new(linux: &Linux) -> Plan {
        let mut plan = Plan::default();
        for ns in linux.namespaces().iter().flatten() {
            let f = flag(ns.typ());
            match ns.path() {
                Some(path) => plan.joins.push((f, path.clone())),
                None if f == libc::CLONE_NEWCGROUP => plan.new_cgroup = true,
                None => plan.new_flags |= f,
            }
        }
        // Joining the user namespace first gives the capabilities to join the others.
        plan.joins.sort_by_key(|(f, _)| *f != libc::CLONE_NEWUSER);
        let joins = |f: i32| plan.joins.iter().any(|(j, _)| *j == f);
        plan.double_fork = joins(libc::CLONE_NEWUSER)
            || joins(libc::CLONE_NEWPID)
            || plan.new_flags & libc::CLONE_NEWTIME != 0
            || (plan.new_flags & libc::CLONE_NEWUSER != 0 && !plan.joins.is_empty());
        plan
    }

    /// Whether the container gets a user namespace of its own.
    pub fn new_user(&self) -> bool {
        self.new_flags & libc::CLONE_NEWUSER != 0
    }

    /// Whether the container's processes live in a user namespace (new or joined).
    pub fn in_user_ns(&self) -> bool {
        self.new_user() || self.joins.iter().any(|(f, _)| *f == libc::CLONE_NEWUSER)
    }

    /// Whether the container has a pid namespace of its own.
    pub fn new_pid(&self) -> bool {
        self.new_flags & libc::CLONE_NEWPID != 0
    }

    /// Whether the container has a mount namespace (new or joined); without one it shares
    /// the runtime's and is only chrooted into its rootfs.
    pub fn has_mount(&self) -> bool {
        self.new_flags & libc::CLONE_NEWNS != 0 || self.joins.iter().any(|(f, _)| *f == libc::CLONE_NEWNS)
    }

    /// Whether the container has a network namespace other than the host's.
    pub fn has_net(&self) -> bool {
        self.new_flags & libc::CLONE_NEWNET != 0 || self.joins.iter().any(|(f, _)| *f == libc::CLONE_NEWNET)
    }

    /// Joins every namespace of `joins` (in order).
    pub fn join_all(&self) -> Result<()> {
        for (f, path) in &self.joins {
            let fd = std::fs::File::open(path).context(|| format!("open namespace {}", path.display()))?;
            lindocker_sys::setns(std::os::fd::AsRawFd::as_raw_fd(&fd), *f)
                .context(|| format!("join namespace {}", path.display()))?;
        }
        Ok(())
    }
}
