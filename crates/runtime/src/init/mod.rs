//! What the cloned child does, from the clone to the `exec` of the user's program.
//!
//! It runs in a forked copy of a single-threaded runtime. Every step that can fail says
//! which step and which object in its error, which goes back to the runtime over the
//! setup channel and from there to the user.

mod console;
mod devices;
pub mod exec;
pub(crate) mod mount_options;
pub(crate) mod process;
mod rootfs;
mod sysctl;

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use lindocker_cgroups::{Entry, Manager};
use lindocker_sys::SignalMask;
use rustix::fs::{Mode, OFlags};

use crate::channel::{Channel, Message, ProgramFailure};
use crate::namespaces::Plan;
use crate::spec::Bundle;

/// A failed set-up step: "what we did, on what: why".
#[derive(Debug)]
pub struct Step {
    /// What we did, on what: why.
    pub message: String,
    /// Set if the step was finding the program to run, and it is not there or not
    /// executable: the parent hears which, typed.
    pub program: Option<ProgramFailure>,
}

impl Step {
    /// A failed step.
    pub fn new(message: String) -> Step {
        Step { message, program: None }
    }

    /// The program to run cannot be started, for `failure`.
    pub fn program(message: String, failure: ProgramFailure) -> Step {
        Step { message, program: Some(failure) }
    }

    /// What the parent is told.
    pub fn to_message(&self) -> Message {
        match self.program {
            Some(failure) => Message::ProgramError { message: self.message.clone(), failure },
            None => Message::Error(self.message.clone()),
        }
    }
}

/// Wraps an I/O error into a [`Step`] naming what was being done.
pub fn step(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Step {
    let what = what.into();
    move |e| Step::new(format!("{what}: {}", describe(&e)))
}

/// "no such file or directory" rather than "No such file or directory (os error 2)".
pub fn describe(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Everything the child needs, borrowed from the parent's frame (the child has a copy).
pub struct Init<'a> {
    /// Container id.
    pub id: &'a str,
    /// The loaded bundle.
    pub bundle: &'a Bundle,
    /// Namespaces to make and join.
    pub plan: &'a Plan,
    /// The child's end of the setup channel.
    pub channel: &'a Channel,
    /// The container's cgroup (for `cgroup` mounts).
    pub cgroup: &'a Manager,
    /// The way into that cgroup, which the child takes first (see [`Entry`]); `None`
    /// when the parent has it moved in (systemd's driver), which it waits for first.
    pub cgroup_entry: Option<&'a Entry>,
    /// Connected `--console-socket`, if any.
    pub console: Option<&'a OwnedFd>,
    /// `O_PATH` descriptor of the exec fifo.
    pub fifo: &'a OwnedFd,
    /// `--preserve-fds`: descriptors 3..3+N pass to the container.
    pub preserve_fds: i32,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// The signal mask to restore before exec (`run` blocks signals to forward them).
    pub signal_mask: Option<&'a SignalMask>,
    /// The seccomp filter to load.
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    /// Connected seccomp listener (for `SCMP_ACT_NOTIFY`).
    pub seccomp_listener: Option<&'a OwnedFd>,
    /// Detached id-mapped mounts, by index in `mounts` (see `crate::idmap`).
    pub idmapped: &'a [(usize, OwnedFd)],
}

/// Entry of the child made by the runtime's clone. Never returns.
pub fn main(init: &Init) -> ! {
    let joined = match init.cgroup_entry {
        Some(entry) => entry.join_self().map_err(step("join the container's cgroup")),
        // Before anything that its children would inherit (a fork, a cgroup namespace).
        None => expect(init, Message::InCgroup),
    };
    if let Err(e) = joined {
        fail(init, e);
    }
    let result = if init.plan.double_fork { intermediate(init) } else { direct(init) };
    fail(init, result.unwrap_err())
}

/// Reports a failure to the parent (or, after `create` returned, to stderr) and exits.
fn fail(init: &Init, failed: Step) -> ! {
    if init.channel.send(&failed.to_message()).is_err() {
        let _ = writeln!(std::io::stderr(), "lindocker-runtime: error: {}", failed.message);
    }
    lindocker_sys::exit_immediately(1)
}

fn expect(init: &Init, m: Message) -> Result<(), Step> {
    init.channel.expect(m).map_err(Step::new)
}

/// The common case: the clone made every new namespace; join the others and go on.
fn direct(init: &Init) -> Result<std::convert::Infallible, Step> {
    expect(init, Message::Go)?;
    if init.plan.new_user() {
        become_root()?;
    }
    init.plan.join_all().map_err(|e| Step::new(e.to_string()))?;
    container(init)
}

/// Joins namespaces, then makes the new ones (a user namespace after joining those it
/// must not own), then forks the container's init into the new pid/time namespaces.
fn intermediate(init: &Init) -> Result<std::convert::Infallible, Step> {
    init.plan.join_all().map_err(|e| Step::new(e.to_string()))?;
    let flags = init.plan.new_flags;
    if flags != 0 {
        lindocker_sys::unshare(flags).map_err(step("unshare namespaces"))?;
    }
    // Before become_root: changing our euid to a different host uid (a mapping whose root
    // is not the host's root) makes us non-dumpable, and our /proc files then belong to
    // the host's root, out of our reach. Right after unshare we are still the host's
    // root, with every capability in the new user namespace that owns the time one.
    if flags & libc::CLONE_NEWTIME != 0 {
        write_time_offsets(init.bundle.spec.linux().as_ref().expect("checked"))?;
    }
    if init.plan.new_user() {
        init.channel.send(&Message::MapRequest).map_err(step("setup channel"))?;
        expect(init, Message::Mapped)?;
        become_root()?;
    }
    let pid = lindocker_sys::clone_process(0).map_err(step("fork the container init"))?;
    if pid == 0 {
        expect(init, Message::Go)?;
        return container(init);
    }
    init.channel.send(&Message::InitPid(pid)).map_err(step("setup channel"))?;
    lindocker_sys::exit_immediately(0)
}

fn write_time_offsets(linux: &oci_spec::runtime::Linux) -> Result<(), Step> {
    let mut text = String::new();
    for (clock, off) in linux.time_offsets().iter().flatten() {
        text.push_str(&format!("{clock} {} {}\n", off.secs().unwrap_or(0), off.nanosecs().unwrap_or(0)));
    }
    if text.is_empty() {
        return Ok(());
    }
    std::fs::write("/proc/self/timens_offsets", text).map_err(step("write time namespace offsets"))
}

pub(crate) fn become_root() -> Result<(), Step> {
    let root = rustix::process::Uid::ROOT;
    let gid = rustix::process::Gid::ROOT;
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(|e| step("setgid 0 in the user namespace")(e.into()))?;
    rustix::thread::set_thread_res_uid(root, root, root).map_err(|e| step("setuid 0 in the user namespace")(e.into()))
}

/// Inside every namespace and the cgroup: build the container and exec its process.
fn container(init: &Init) -> Result<std::convert::Infallible, Step> {
    let spec = &init.bundle.spec;
    let process = spec.process().as_ref().expect("checked at load");
    let plan = init.plan;
    let process_env = process.env().as_deref().unwrap_or_default();
    let mut keep = vec![init.channel.as_fd().as_raw_fd(), init.fifo.as_raw_fd()];
    keep.extend(init.console.map(AsRawFd::as_raw_fd));
    keep.extend(init.seccomp_listener.map(AsRawFd::as_raw_fd));
    keep.extend(init.idmapped.iter().map(|(_, fd)| fd.as_raw_fd()));
    close_inherited(init.preserve_fds, &keep)?;
    if plan.new_cgroup {
        lindocker_sys::unshare(libc::CLONE_NEWCGROUP).map_err(step("unshare cgroup namespace"))?;
    }
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        rustix::system::sethostname(h.as_bytes()).map_err(|e| step(format!("set hostname {h:?}"))(e.into()))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        rustix::system::setdomainname(d.as_bytes()).map_err(|e| step(format!("set domainname {d:?}"))(e.into()))?;
    }
    if !init.no_new_keyring {
        let name = CString::new(format!("_ses.{}", init.id)).unwrap_or_default();
        match lindocker_sys::join_session_keyring(&name) {
            // Kernels without keyrings, or ones that forbid them here, are fine.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM) | Some(libc::EACCES)) => {}
            other => other.map_err(step("create session keyring"))?,
        }
    }
    process::set_oom_score_adj(process)?;
    // Before pivot_root /proc is the host's, so this is our pid as the host sees it.
    let host_pid: i32 = std::fs::read_link("/proc/self").ok().and_then(|p| p.to_str()?.parse().ok()).unwrap_or(0);

    let ctx = rootfs::Context {
        rootfs: &init.bundle.rootfs,
        bundle: &init.bundle.dir,
        in_user_ns: plan.in_user_ns(),
        has_net_ns: plan.has_net(),
        new_cgroup_ns: plan.new_cgroup,
        cgroup: Some(init.cgroup),
        idmapped: init.idmapped,
    };
    // Without a mount namespace nothing is mounted (the loader refused what would be).
    if plan.has_mount() {
        rootfs::prepare_root(spec, &ctx)?;
        rootfs::mount_all(spec, &ctx)?;
    }
    if plan.has_mount() && !rootfs::dev_is_host_bind(spec) {
        let root = rootfs::open_root(&init.bundle.rootfs)?;
        devices::create_all(spec, &root, plan.in_user_ns())?;
    }
    if let Some(hooks) = spec.hooks() {
        #[allow(deprecated)]
        let parent_hooks = hooks.prestart().as_ref().is_some_and(|h| !h.is_empty())
            || hooks.create_runtime().as_ref().is_some_and(|h| !h.is_empty());
        if parent_hooks {
            init.channel.send(&Message::RunHooks).map_err(step("setup channel"))?;
            expect(init, Message::HooksDone)?;
        }
        let state = hook_state(init, host_pid, "created");
        crate::hooks::run_with_env("createContainer", hooks.create_container().as_ref(), &state, process_env)
            .map_err(|e| Step::new(e.to_string()))?;
    }
    // Without a mount namespace the container has no /proc of ours to reopen the exec
    // fifo through: keep the runtime's /proc/self/fd (close-on-exec, dropped at exec).
    let fd_dir = if plan.has_mount() {
        rootfs::enter_root(spec, &init.bundle.rootfs, init.no_pivot)?;
        None
    } else {
        let dir = rustix::fs::open("/proc/self/fd", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| step("open /proc/self/fd")(e.into()))?;
        rootfs::chroot(&init.bundle.rootfs)?;
        Some(dir)
    };
    rootfs::finish(spec, plan.in_user_ns())?;

    rustix::process::setsid().map_err(|e| step("setsid")(e.into()))?;
    if process.terminal() == Some(true) {
        let socket = init
            .console
            .ok_or_else(|| Step::new("process.terminal is true but no --console-socket was given".into()))?;
        console::setup(process, socket, true)?;
    }
    process::set_rlimits(process)?;
    process::set_execution(spec.linux().as_ref().expect("checked at load"), process)?;
    process::enter_cwd(process)?;
    let state = hook_state(init, host_pid, "creating");
    let nnp = process.no_new_privileges() == Some(true);
    // Before any filter: a profile older than close_range denies it.
    pass_fds(init.preserve_fds)?;
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it before the
    // capabilities go (as runc does); with it, load it last.
    if !nnp {
        load_seccomp(init.seccomp, init.seccomp_listener, &state, host_pid)?;
    }
    process::become_user(process)?;
    process::chdir_cwd(process)?;
    let program = process::find_program(process)?;
    hide_runtime_binary()?;
    process::set_apparmor_profile(process)?;
    if nnp {
        load_seccomp(init.seccomp, init.seccomp_listener, &state, host_pid)?;
    }

    init.channel.send(&Message::Ready).map_err(step("setup channel"))?;
    let mut started = wait_for_start(init.fifo, fd_dir.as_ref())?;
    // The startContainer hooks run before `start` hears from us: a failing one fails
    // `start`, and the poststart hooks (run by `start` once the fifo's writer is closed
    // by the exec) come after them and after the exec, as the runtime spec orders.
    if let Some(hooks) = spec.hooks() {
        let state = hook_state(init, host_pid, "created");
        crate::hooks::run_with_env("startContainer", hooks.start_container().as_ref(), &state, process_env)
            .map_err(|e| Step::new(e.to_string()))?;
    }
    started.write_all(b"0").map_err(step("write the exec fifo"))?;
    if let Some(mask) = init.signal_mask {
        lindocker_sys::restore_signal_mask(mask).map_err(step("restore the signal mask"))?;
    }
    lindocker_sys::reset_signal_dispositions();
    let err = process::exec(process, &program);
    Err(Step::new(format!("exec {}: {}", program.display(), describe(&err))))
}

/// Loads the seccomp filter; with notifications, sends the descriptor and the container
/// process state to the listener, as the OCI runtime spec describes.
pub(crate) fn load_seccomp(
    filter: Option<&crate::seccomp::Filter>,
    listener: Option<&OwnedFd>,
    state: &serde_json::Value,
    pid: i32,
) -> Result<(), Step> {
    let Some(filter) = filter else { return Ok(()) };
    let notify_fd = filter.load().map_err(step("load the seccomp filter"))?;
    if let (Some(fd), Some(socket)) = (notify_fd, listener) {
        let message = serde_json::json!({
            "ociVersion": state["ociVersion"],
            "fds": ["seccompFd"],
            "pid": pid,
            "metadata": filter.metadata,
            "state": state,
        });
        crate::console::send_fd(socket, &fd, message.to_string().as_bytes())
            .map_err(step("send the seccomp descriptor to the listener"))?;
        // One state per connection, closed after it (runtime spec): the listener sees its
        // end now, not when the descriptor goes at exec.
        rustix::net::shutdown(socket, rustix::net::Shutdown::Both)
            .map_err(|e| step("close the seccomp listener connection")(e.into()))?;
    }
    Ok(())
}

/// The OCI state a hook run by the init receives.
fn hook_state(init: &Init, pid: i32, status: &str) -> serde_json::Value {
    serde_json::json!({
        "ociVersion": init.bundle.spec.version(),
        "id": init.id,
        "status": status,
        "pid": pid,
        "bundle": init.bundle.dir,
        "annotations": init.bundle.spec.annotations().clone().unwrap_or_default(),
    })
}

/// Until it execs, this process's /proc/PID/exe is the host's runtime binary, reachable
/// by container processes (an exec, or a container sharing the pid namespace) that
/// could keep it open and overwrite it once the runtime is gone (CVE-2019-5736).
/// Non-dumpable, /proc/PID/exe and fd/ need CAP_SYS_PTRACE in the host's user namespace.
/// execve resets the flag for the user's program.
pub(crate) fn hide_runtime_binary() -> Result<(), Step> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| step("make the runtime's process non-dumpable")(e.into()))
}

/// Closes every descriptor the runtime's caller left open (the shim's or a host
/// directory among them) but 0-2, `--preserve-fds` and those in `keep`, before the rootfs
/// is touched: until exec, `/proc/self/fd/N` in a cwd or program path would lead through
/// any of them to the host (CVE-2024-21626).
pub(crate) fn close_inherited(preserve: i32, keep: &[std::os::fd::RawFd]) -> Result<(), Step> {
    lindocker_sys::close_fds_from(3 + preserve.max(0), keep).map_err(step("close inherited descriptors"))
}

/// Descriptors 3..3+N go to the container; every other inherited one is closed at exec.
pub(crate) fn pass_fds(preserve: i32) -> Result<(), Step> {
    for fd in 3..3 + preserve {
        lindocker_sys::clear_cloexec(fd).map_err(step(format!("preserve fd {fd}")))?;
    }
    lindocker_sys::cloexec_from(3 + preserve).map_err(step("close inherited descriptors"))
}

/// Blocks until `start` opens the exec fifo and returns its writing end (close-on-exec:
/// `start` sees its end when the program is executed). The fifo is reopened for
/// writing through `/proc/self/fd`: the container's, or `fd_dir`.
fn wait_for_start(fifo: &OwnedFd, fd_dir: Option<&OwnedFd>) -> Result<std::fs::File, Step> {
    let name = fifo.as_raw_fd().to_string();
    let f = match fd_dir {
        Some(dir) => rustix::fs::openat(dir, &name, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
            .map(std::fs::File::from)
            .map_err(|e| step("open the exec fifo")(e.into()))?,
        None => std::fs::OpenOptions::new()
            .write(true)
            .open(Path::new("/proc/self/fd").join(&name))
            .map_err(step("open the exec fifo"))?,
    };
    Ok(f)
}
