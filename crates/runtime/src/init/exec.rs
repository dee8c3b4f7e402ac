//! What the child of `exec` does: enter the namespaces of a running container, become
//! the process the caller asked for, and exec it.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use lindocker_sys::SignalMask;
use oci_spec::runtime::Process;

use super::{Step, console, process, step};
use crate::channel::{Channel, Message};

/// What the exec'd child needs, borrowed from the parent's frame.
pub struct Exec<'a> {
    /// The process to run.
    pub process: &'a Process,
    /// The container's `linux` section (its personality applies to exec'd processes).
    pub linux: &'a oci_spec::runtime::Linux,
    /// The way into the container's cgroup, taken first (see [`lindocker_cgroups::Entry`]).
    pub cgroup_entry: Option<&'a lindocker_cgroups::Entry>,
    /// The child's end of the setup channel.
    pub channel: &'a Channel,
    /// Namespaces to join (flag, descriptor). The pid and time
    /// namespaces were joined by the parent: they apply to its children.
    pub namespaces: &'a [(i32, OwnedFd)],
    /// Whether one of them is a user namespace.
    pub user_ns: bool,
    /// Connected `--console-socket` or our own socket for the relay.
    pub console: Option<&'a OwnedFd>,
    /// `--preserve-fds`.
    pub preserve_fds: i32,
    /// The signal mask to restore before exec.
    pub signal_mask: Option<&'a SignalMask>,
    /// The container's seccomp filter.
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    /// Connected seccomp listener.
    pub seccomp_listener: Option<&'a OwnedFd>,
    /// The container's state, for the seccomp listener.
    pub state: serde_json::Value,
}

/// Entry of the child forked by `exec`. Never returns.
pub fn main(e: &Exec) -> ! {
    let Err(failed) = run(e);
    if e.channel.send(&failed.to_message()).is_err() {
        eprintln!("lindocker-runtime: error: {}", failed.message);
    }
    lindocker_sys::exit_immediately(1)
}

/// Joins `namespaces`. Those our credentials may join go first: a namespace the host
/// owns (the engine's network namespace) is out of reach once inside the container's user
/// namespace. The user namespace comes next, then whatever needed its rights (a rootless
/// caller's case).
fn join_namespaces(namespaces: &[(i32, OwnedFd)]) -> Result<(), Step> {
    let join = |flag: i32, fd: &OwnedFd| {
        lindocker_sys::setns(fd.as_raw_fd(), flag)
            .map_err(step(format!("join the container's {} namespace", name(flag))))
    };
    let mut later = Vec::new();
    for (flag, fd) in namespaces.iter().filter(|(f, _)| *f != libc::CLONE_NEWUSER) {
        if join(*flag, fd).is_err() {
            later.push((*flag, fd));
        }
    }
    for (flag, fd) in namespaces.iter().filter(|(f, _)| *f == libc::CLONE_NEWUSER) {
        join(*flag, fd)?;
    }
    for (flag, fd) in later {
        join(flag, fd)?;
    }
    Ok(())
}

fn run(e: &Exec) -> Result<std::convert::Infallible, Step> {
    if let Some(entry) = e.cgroup_entry {
        entry.join_self().map_err(step("join the container's cgroup"))?;
    }
    // Host /proc while we are still host root: our pid as the host sees it, the score,
    // then out of reach.
    let pid: i32 = std::fs::read_link("/proc/self").ok().and_then(|p| p.to_str()?.parse().ok()).unwrap_or(0);
    process::set_oom_score_adj(e.process)?;
    super::hide_runtime_binary()?;
    e.channel.expect(Message::Go).map_err(Step::new)?;
    join_namespaces(e.namespaces)?;
    let mut keep = vec![e.channel.as_fd().as_raw_fd()];
    keep.extend(e.console.map(AsRawFd::as_raw_fd));
    keep.extend(e.seccomp_listener.map(AsRawFd::as_raw_fd));
    super::close_inherited(e.preserve_fds, &keep)?;
    if e.user_ns {
        super::become_root()?;
    }
    rustix::process::setsid().map_err(|err| step("setsid")(err.into()))?;
    if e.process.terminal() == Some(true) {
        let socket =
            e.console.ok_or_else(|| Step::new("process.terminal is true but no --console-socket was given".into()))?;
        console::setup(e.process, socket, false)?;
    }
    process::set_rlimits(e.process)?;
    process::set_execution(e.linux, e.process)?;
    let nnp = e.process.no_new_privileges() == Some(true);
    // Before any filter: a profile older than close_range denies it.
    super::pass_fds(e.preserve_fds)?;
    if !nnp {
        super::load_seccomp(e.seccomp, e.seccomp_listener, &e.state, pid)?;
    }
    process::become_user(e.process)?;
    process::chdir_cwd(e.process)?;
    let program = process::find_program(e.process)?;
    process::set_apparmor_profile(e.process)?;
    if nnp {
        super::load_seccomp(e.seccomp, e.seccomp_listener, &e.state, pid)?;
    }
    e.channel.send(&Message::Ready).map_err(step("setup channel"))?;
    if let Some(mask) = e.signal_mask {
        lindocker_sys::restore_signal_mask(mask).map_err(step("restore the signal mask"))?;
    }
    lindocker_sys::reset_signal_dispositions();
    let err = process::exec(e.process, &program);
    Err(Step::new(format!("exec {}: {}", program.display(), super::describe(&err))))
}

fn name(flag: i32) -> &'static str {
    match flag {
        libc::CLONE_NEWUSER => "user",
        libc::CLONE_NEWNS => "mount",
        libc::CLONE_NEWIPC => "ipc",
        libc::CLONE_NEWUTS => "uts",
        libc::CLONE_NEWNET => "network",
        libc::CLONE_NEWCGROUP => "cgroup",
        libc::CLONE_NEWPID => "pid",
        _ => "time",
    }
}
