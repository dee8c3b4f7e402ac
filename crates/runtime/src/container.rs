//! The lifecycle commands: create, start, run, kill, delete, state, list.

use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lindocker_cgroups::{Driver, Entry, Hierarchy, Manager};
use lindocker_sys::SignalMask;
use rustix::event::{PollFd, PollFlags};
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, PidfdFlags, Signal, WaitOptions};

use crate::channel::{self, Channel, Message};
use crate::error::Context;
use crate::init::{self, Init};
use crate::namespaces::Plan;
use crate::spec::Bundle;
use crate::state::{EXEC_FIFO, State, Status, Store, check_id, process_start_time, write_atomic};
use crate::{Error, Result, hooks};

/// Options of `create` (and `run`).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Container id.
    pub id: String,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Where to write the init's pid.
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when `process.terminal` is set.
    pub console_socket: Option<PathBuf>,
    /// Use `MS_MOVE` + `chroot` instead of `pivot_root`.
    pub no_pivot: bool,
    /// Keep the caller's session keyring.
    pub no_new_keyring: bool,
    /// Pass descriptors 3..3+N to the container.
    pub preserve_fds: i32,
    /// The systemd cgroup driver: `cgroupsPath` is in systemd's `slice:prefix:name` form
    /// and names a transient unit systemd makes.
    pub systemd_cgroup: bool,
    /// Where warnings go (a seccomp syscall this host does not know, ...).
    pub on_warning: Option<fn(&str)>,
}

/// Builds the spec's seccomp filter, reporting skipped names through `on_warning`.
fn seccomp_filter(
    store: &Store,
    spec: &oci_spec::runtime::Spec,
    on_warning: Option<fn(&str)>,
) -> Result<Option<crate::seccomp::Filter>> {
    let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else { return Ok(None) };
    let mut warnings = Vec::new();
    let filter = crate::seccomp::build(s, Some(&store.seccomp_cache()), &mut warnings)?;
    if let Some(warn) = on_warning {
        warnings.iter().for_each(|w| warn(w));
    }
    Ok(Some(filter))
}

/// Connects to the seccomp listener, which receives the notification descriptor.
fn seccomp_listener(filter: Option<&crate::seccomp::Filter>) -> Result<Option<OwnedFd>> {
    match filter.filter(|f| f.notifies()).and_then(|f| f.listener.as_ref()) {
        Some(p) => Ok(Some(
            crate::socket_path::connect(p).context(|| format!("connect to seccomp listener {}", p.display()))?.into(),
        )),
        None => Ok(None),
    }
}

/// Creates container `opts.id` from its bundle, leaving its init waiting for `start`.
pub fn create(store: &Store, opts: &CreateOptions) -> Result<State> {
    check_id(&opts.id)?;
    create_with(store, opts, Bundle::load(&opts.bundle)?, None, None)
}

/// `create`, with the signal mask the init must restore (`run` blocks signals) and, for
/// a foreground `run`, our own end-point for the pty instead of `--console-socket`.
fn create_with(
    store: &Store,
    opts: &CreateOptions,
    bundle: Bundle,
    mask: Option<&SignalMask>,
    console: Option<OwnedFd>,
) -> Result<State> {
    // Everything that can be checked was checked when the bundle was loaded, or is
    // checked here, before anything is created.
    let spec = &bundle.spec;
    let linux = spec.linux().as_ref().expect("checked at load");
    let process = spec.process().as_ref().expect("checked at load");
    if process.terminal() == Some(true) && opts.console_socket.is_none() && console.is_none() {
        return Err(Error::Init(
            "process.terminal is true: pass --console-socket to receive the terminal, or set terminal to false".into(),
        ));
    }
    let plan = Plan::new(linux);
    let seccomp = seccomp_filter(store, spec, opts.on_warning)?;
    if let (Some(warn), Some(process)) = (opts.on_warning, spec.process()) {
        for cap in crate::init::process::ungrantable_capabilities(process) {
            warn(&format!(
                "process.capabilities: {cap} cannot be granted (not in the runtime's bounding set): left out"
            ));
        }
    }
    let hierarchy = Hierarchy::detect()?;
    let spec_cgroup = linux.cgroups_path().as_ref().map(|p| p.to_string_lossy().into_owned());
    let (driver, cgroup_path) = Driver::for_container(spec_cgroup.as_deref(), &opts.id, opts.systemd_cgroup)?;
    let cgroup = Manager::new(hierarchy, &cgroup_path)?;
    let mut lock = Some(store.claim(&opts.id)?);
    // A cgroup with processes in it belongs to something else: sharing it would let this
    // container's delete kill them (the runtime spec's fitness check, as runc's). Checked
    // once the id is ours, so that a second create of one id hears "already exists".
    if cgroup.exists() && !cgroup.procs().unwrap_or_default().is_empty() {
        let _ = store.remove(&opts.id);
        drop(lock.take());
        return Err(Error::Spec {
            path: bundle.dir.join("config.json"),
            field: "linux.cgroupsPath".into(),
            message: format!("cgroup {} is not empty", cgroup.path().display()),
        });
    }
    let dir = store.dir(&opts.id);
    let mut state = State {
        oci_version: spec.version().clone(),
        id: opts.id.clone(),
        pid: 0,
        pid_start_time: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
        owner: rustix::process::getuid().as_raw(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        cgroup_path: cgroup.path().to_path_buf(),
        systemd_unit: match &driver {
            Driver::Systemd(unit) => Some(unit.clone()),
            Driver::Cgroupfs => None,
        },
        own_pid_namespace: plan.new_pid(),
        hooks: spec.hooks().clone(),
        net_devices: net_device_list(linux),
        joined_net: linux
            .namespaces()
            .iter()
            .flatten()
            .find(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Network)
            .and_then(|n| n.path().clone()),
    };
    let mut child: Option<i32> = None;
    // Whether the cgroup is this container's to remove on failure: the cgroupfs driver's
    // always (made here, checked empty above), a systemd unit only once this create
    // started it (a unit of that name that exists already is another's).
    let mut own_cgroup = matches!(driver, Driver::Cgroupfs);
    let result = (|| -> Result<i32> {
        store.save(&state)?;
        let resources = linux.resources().as_ref().map(|r| with_default_device_rules(r, linux));
        let entry = driver.prepare(&cgroup, resources.as_ref())?;
        let fifo_path = dir.join(EXEC_FIFO);
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo_path, Mode::from_raw_mode(0o622))
            .context(|| format!("create {}", fifo_path.display()))?;
        // Writable by anyone (mkfifo applied our umask): the init may already be another
        // user, or root of a user namespace that does not map ours.
        rustix::fs::chmod(&fifo_path, Mode::from_raw_mode(0o622))
            .context(|| format!("chmod {}", fifo_path.display()))?;
        let fifo = rustix::fs::open(&fifo_path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
            .context(|| format!("open {}", fifo_path.display()))?;
        let console: Option<OwnedFd> = match (&opts.console_socket, console) {
            (Some(p), _) => Some(
                crate::socket_path::connect(p).context(|| format!("connect to console socket {}", p.display()))?.into(),
            ),
            (None, own) => own,
        };
        let listener = seccomp_listener(seccomp.as_ref())?;
        // While we are the host's root, in the host's user namespace (see `idmap`).
        let idmapped = crate::idmap::prepare(spec, &bundle.dir)?;
        let (parent_end, child_end) = channel::pair().context(|| "create setup channel".into())?;
        let flags = if plan.double_fork { 0 } else { plan.new_flags };
        // The init is non-dumpable from its first instant (the flag passes to a clone),
        // out of reach of container processes until it execs (see
        // `init::hide_runtime_binary`). In a user namespace it still has to write its own
        // /proc files as that namespace's root, which non-dumpable forbids: it hides
        // itself once it has.
        if !plan.in_user_ns() {
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
                .context(|| "make the runtime non-dumpable".into())?;
        }
        let pid = lindocker_sys::clone_process_into(flags as u64, entry.as_ref().and_then(Entry::unified))
            .context(|| "clone the container process".into())?;
        if pid == 0 {
            // In the child: the lock stays with the parent; our copy must not hold it.
            drop(lock.take());
            drop(parent_end);
            init::main(&Init {
                id: &opts.id,
                bundle: &bundle,
                plan: &plan,
                channel: &child_end,
                cgroup: &cgroup,
                cgroup_entry: entry.as_ref(),
                console: console.as_ref(),
                fifo: &fifo,
                preserve_fds: opts.preserve_fds,
                no_pivot: opts.no_pivot,
                no_new_keyring: opts.no_new_keyring,
                signal_mask: mask,
                seccomp: seccomp.as_ref(),
                seccomp_listener: listener.as_ref(),
                idmapped: &idmapped,
            });
        }
        drop(idmapped);
        child = Some(pid);
        drop(child_end);
        drop(entry);
        if matches!(driver, Driver::Systemd(_)) {
            // The child waits for this before it does anything its children inherit.
            driver.adopt(&cgroup, pid, resources.as_ref())?;
            own_cgroup = true;
            parent_end.send(&Message::InCgroup).context(|| "setup channel".into())?;
        }
        let init_pid = guide_child(&parent_end, pid, &plan, &bundle, &state, &mut child)?;
        Ok(init_pid)
    })();
    match result {
        Ok(pid) => {
            state.pid = pid;
            state.pid_start_time = process_start_time(pid).unwrap_or(0);
            store.save(&state)?;
            if let Some(p) = &opts.pid_file {
                write_atomic(&std::path::absolute(p).unwrap_or(p.clone()), pid.to_string().as_bytes(), false)?;
            }
            Ok(state)
        }
        Err(e) => {
            // Leave nothing behind: the child, its cgroup, its state.
            if let Some(pid) = child {
                let _ = rustix::process::kill_process(Pid::from_raw(pid).expect("pid > 0"), Signal::KILL);
                let _ = rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty());
            }
            if own_cgroup {
                let _ = kill_cgroup(&cgroup);
                let _ = driver.remove(&cgroup);
            }
            let _ = store.remove(&opts.id);
            Err(e)
        }
    }
}

/// A spec's device rules usually start with "deny all": like runc, let the container
/// still use the devices every container has. Unlike runc, making other nodes (`m`) is
/// not allowed by default (a node for the host's disk is refused at mknod already).
/// The nodes `linux.devices` creates may be made (`m`, the init makes them inside the
/// cgroup) but get only the access the spec's own rules give them, as with runc:
/// `--device /dev/x:r` must stay read-only.
fn with_default_device_rules(
    resources: &oci_spec::runtime::LinuxResources,
    linux: &oci_spec::runtime::Linux,
) -> oci_spec::runtime::LinuxResources {
    use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType as T};
    let Some(rules) = resources.devices() else { return resources.clone() };
    let rule = |typ: T, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true).set_typ(Some(typ)).set_major(major).set_minor(minor).set_access(Some(access.into()));
        r
    };
    let mut all = rules.clone();
    for (major, minor) in [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2)] {
        all.push(rule(T::C, Some(major), Some(minor), "rwm"));
    }
    all.push(rule(T::C, Some(136), None, "rwm")); // every /dev/pts/N
    for d in linux.devices().iter().flatten() {
        let typ = match d.typ() {
            T::P => continue,
            T::B => T::B,
            _ => T::C,
        };
        all.push(rule(typ, Some(d.major()), Some(d.minor()), "m"));
    }
    let mut out = resources.clone();
    out.set_devices(Some(all));
    out
}

/// The parent's half of the setup conversation. Returns the init's host pid.
fn guide_child(
    ch: &Channel,
    pid: i32,
    plan: &Plan,
    bundle: &Bundle,
    state: &State,
    child: &mut Option<i32>,
) -> Result<i32> {
    let linux = bundle.spec.linux().as_ref().expect("checked at load");
    let init_pid = if plan.double_fork {
        let mut init_pid = None;
        while init_pid.is_none() {
            match ch.recv().context(|| "setup channel".into())? {
                Some(Message::MapRequest) => {
                    write_id_maps(pid, linux)?;
                    ch.send(&Message::Mapped).context(|| "setup channel".into())?;
                }
                Some(Message::InitPid(p)) => init_pid = Some(p),
                Some(Message::Error(e)) => return Err(Error::Init(e)),
                Some(Message::ProgramError { message, failure }) => return Err(Error::Program { message, failure }),
                other => return Err(Error::Init(format!("container setup stopped unexpectedly ({other:?})"))),
            }
        }
        // The intermediate process exits once it has forked the init.
        let _ = rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty());
        *child = init_pid;
        init_pid.expect("set above")
    } else {
        if plan.new_user() {
            write_id_maps(pid, linux)?;
        }
        pid
    };
    if !state.net_devices.is_empty() {
        // The init joins a network namespace by path only after Go: name it directly.
        let path = state.joined_net.clone().unwrap_or_else(|| format!("/proc/{init_pid}/ns/net").into());
        let netns = fs::File::open(&path).context(|| format!("open network namespace {}", path.display()))?;
        crate::net_devices::move_in(&state.net_devices, &netns)?;
    }
    // The child has moved itself into the cgroup (see `Entry`).
    ch.send(&Message::Go).context(|| "setup channel".into())?;
    loop {
        match ch.recv().context(|| "setup channel".into())? {
            Some(Message::Ready) => return Ok(init_pid),
            Some(Message::RunHooks) => {
                let mut s = state.clone();
                s.pid = init_pid;
                let oci = s.oci(Status::Creating);
                let hooks = bundle.spec.hooks().as_ref().expect("the init asked for hooks");
                #[allow(deprecated)]
                let result = hooks::run("prestart", hooks.prestart().as_ref(), &oci)
                    .and_then(|()| hooks::run("createRuntime", hooks.create_runtime().as_ref(), &oci));
                if let Err(e) = result {
                    let _ = ch.send(&Message::Error(e.to_string()));
                    return Err(e);
                }
                ch.send(&Message::HooksDone).context(|| "setup channel".into())?;
            }
            Some(Message::Error(e)) => return Err(Error::Init(e)),
            Some(Message::ProgramError { message, failure }) => return Err(Error::Program { message, failure }),
            Some(other) => return Err(Error::Init(format!("protocol error: unexpected {other:?}"))),
            None => return Err(Error::Init("the container's init exited during setup".into())),
        }
    }
}

/// Writes `linux.uidMappings`/`gidMappings` for a process in a new user namespace.
fn write_id_maps(pid: i32, linux: &oci_spec::runtime::Linux) -> Result<()> {
    for (file, maps) in [("uid_map", linux.uid_mappings()), ("gid_map", linux.gid_mappings())] {
        let text: String =
            maps.iter().flatten().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect();
        let path = format!("/proc/{pid}/{file}");
        fs::write(&path, text).context(|| format!("write {path}"))?;
    }
    Ok(())
}

/// `linux.netDevices` as (host name, name inside).
fn net_device_list(linux: &oci_spec::runtime::Linux) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = linux
        .net_devices()
        .iter()
        .flatten()
        .map(|(host, d)| (host.clone(), d.name().clone().filter(|n| !n.is_empty()).unwrap_or_else(|| host.clone())))
        .collect();
    out.sort();
    out
}

/// Moves the container's `linux.netDevices` back to our network namespace, if its
/// namespace still lives (its init's, or one joined by path).
fn move_net_devices_out(state: &State, alive: bool) -> Result<()> {
    if state.net_devices.is_empty() {
        return Ok(());
    }
    let path = match (&state.joined_net, alive) {
        (Some(p), _) => p.clone(),
        (None, true) => format!("/proc/{}/ns/net", state.pid).into(),
        (None, false) => return Ok(()),
    };
    let Ok(netns) = fs::File::open(&path) else { return Ok(()) };
    // A recycled pid is another process's namespace: check the start time after opening.
    if state.joined_net.is_none() && process_start_time(state.pid) != Some(state.pid_start_time) {
        return Ok(());
    }
    crate::net_devices::move_out(&state.net_devices, &netns)
}

/// Releases a created container's init so it execs the user's program.
pub fn start(store: &Store, id: &str) -> Result<()> {
    let _lock = store.lock(id)?;
    let state = store.load(id)?;
    let dir = store.dir(id);
    let status = state.status(&dir);
    if status != Status::Created {
        return Err(Error::WrongState {
            id: id.into(),
            status: status.to_string(),
            message: "only a created container can be started".into(),
        });
    }
    let fifo_path = dir.join(EXEC_FIFO);
    let fifo = rustix::fs::open(&fifo_path, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty())
        .context(|| format!("open {}", fifo_path.display()))?;
    let mut file = fs::File::from(fifo);
    let mut byte = [0u8; 1];
    loop {
        match file.read(&mut byte) {
            Ok(1) => break,
            Ok(_) | Err(_) => {
                if state.status(&dir) == Status::Stopped {
                    return Err(Error::Init(format!("container {id:?}: its init exited before it could start")));
                }
                let mut fds = [PollFd::new(&file, PollFlags::IN)];
                let timeout = rustix::event::Timespec { tv_sec: 0, tv_nsec: 50_000_000 };
                let _ = rustix::event::poll(&mut fds, Some(&timeout));
            }
        }
    }
    fs::remove_file(&fifo_path).context(|| format!("remove {}", fifo_path.display()))?;
    // The init closes its end when it executes the program (or dies trying): the
    // poststart hooks run after the program is executed.
    loop {
        match file.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => {
                let mut fds = [PollFd::new(&file, PollFlags::IN)];
                let timeout = rustix::event::Timespec { tv_sec: 0, tv_nsec: 50_000_000 };
                let _ = rustix::event::poll(&mut fds, Some(&timeout));
            }
        }
    }
    // A failing poststart hook is a warning; the lifecycle goes on (runtime spec).
    if let Some(hooks) = &state.hooks {
        for e in hooks::run_all("poststart", hooks.poststart().as_ref(), &state.oci(Status::Running)) {
            eprintln!("lindocker-runtime: warning: {e}");
        }
    }
    Ok(())
}

/// Sends `signal` to the container's init, or with `all` to every process in its cgroup.
///
/// As with runc: `all` on a stopped container signals what is left in its cgroup (the
/// init's children, without a pid namespace of its own) and succeeds, which is how
/// containerd's shim cleans up after a stop; without `all` a stopped container is an
/// error saying `container not running`.
pub fn kill(store: &Store, id: &str, signal: i32, all: bool) -> Result<()> {
    let state = store.load(id)?;
    let status = state.status(&store.dir(id));
    let sig = Signal::from_named_raw(signal).ok_or_else(|| Error::UnknownSignal(signal.to_string()))?;
    if status == Status::Stopped && all {
        if let Some(cgroup) = state.cgroup().filter(Manager::exists) {
            for pid in cgroup.procs()?.into_iter().filter_map(Pid::from_raw) {
                let _ = rustix::process::kill_process(pid, sig);
            }
            if signal == libc::SIGKILL && cgroup.is_frozen() {
                cgroup.freeze(false)?;
            }
        }
        return Ok(());
    }
    if matches!(status, Status::Stopped | Status::Creating) {
        return Err(Error::NotRunning { id: id.into(), status: status.to_string() });
    }
    if all {
        let cgroup = state.cgroup_or_err()?;
        for pid in cgroup.procs()? {
            if let Some(p) = Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(p, sig);
            }
        }
        if status == Status::Paused && signal == libc::SIGKILL {
            // A frozen v1 task dies only once thawed.
            cgroup.freeze(false)?;
        }
        return Ok(());
    }
    signal_init(&state, sig)
}

/// Signals the init through a pidfd checked against the recorded start time, so a
/// recycled pid is never hit.
fn signal_init(state: &State, sig: Signal) -> Result<()> {
    let pid = Pid::from_raw(state.pid).ok_or_else(|| Error::NotFound(state.id.clone()))?;
    let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty())
        .context(|| format!("open pid {} of container {}", state.pid, state.id))?;
    if process_start_time(state.pid) != Some(state.pid_start_time) {
        return Err(Error::NotRunning { id: state.id.clone(), status: "stopped".into() });
    }
    rustix::process::pidfd_send_signal(&pidfd, sig).context(|| format!("signal container {}", state.id))
}

/// Kills every process of a cgroup (thawing it, or frozen v1 tasks would not die) and
/// waits until it is empty.
fn kill_cgroup(cgroup: &Manager) -> Result<()> {
    if !cgroup.exists() {
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let procs = cgroup.procs()?;
        if procs.is_empty() {
            return Ok(());
        }
        for pid in procs.iter().filter_map(|p| Pid::from_raw(*p)) {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
        if cgroup.is_frozen() {
            let _ = cgroup.freeze(false);
        }
        if Instant::now() > deadline {
            return Err(Error::Init(format!(
                "processes {procs:?} of cgroup {} survive SIGKILL",
                cgroup.path().display()
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until the init has exited (it is someone else's child, so poll its pidfd).
fn wait_exit(state: &State, timeout: Duration) -> bool {
    let Some(pid) = Pid::from_raw(state.pid) else { return true };
    let Ok(pidfd) = rustix::process::pidfd_open(pid, PidfdFlags::empty()) else { return true };
    if process_start_time(state.pid) != Some(state.pid_start_time) {
        return true;
    }
    let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
    let ts = rustix::event::Timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: timeout.subsec_nanos() as i64 };
    matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0)
}

/// Deletes a container: refuses a running one unless `force`, kills what is left,
/// removes its cgroup and state, then runs the poststop hooks.
pub fn delete(store: &Store, id: &str, force: bool) -> Result<()> {
    let lock = match store.lock(id) {
        Ok(lock) => lock,
        // Gone already: with --force that is what was asked (runc exits 0 too; containerd's
        // shim cleanup deletes with --force after the container was deleted).
        Err(Error::NotFound(_)) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let state = match store.load(id) {
        Ok(s) => s,
        // A create that died before writing any state, or a state torn by a power loss
        // (its processes died with the machine): only the directory is left to remove.
        Err(Error::NotFound(_) | Error::BadState(..)) => return store.remove(id),
        Err(e) => return Err(e),
    };
    let status = state.status(&store.dir(id));
    if matches!(status, Status::Running | Status::Paused) && !force {
        return Err(Error::WrongState {
            id: id.into(),
            status: status.to_string(),
            message: "cannot delete it; stop it first or use --force".into(),
        });
    }
    let cgroup = state.cgroup();
    let alive = matches!(status, Status::Created | Status::Running | Status::Paused);
    move_net_devices_out(&state, alive)?;
    if alive {
        let _ = signal_init(&state, Signal::KILL);
        if let Some(cg) = cgroup.as_ref().filter(|cg| cg.is_frozen()) {
            let _ = cg.freeze(false);
        }
        wait_exit(&state, Duration::from_secs(10));
    }
    if let Some(cgroup) = cgroup {
        kill_cgroup(&cgroup)?;
        state.cgroup_driver().remove(&cgroup)?;
    }
    store.remove(id)?;
    drop(lock);
    if let Some(hooks) = &state.hooks {
        // A failing poststop hook is a warning; delete still succeeds (runtime spec).
        for e in hooks::run_all("poststop", hooks.poststop().as_ref(), &state.oci(Status::Stopped)) {
            eprintln!("lindocker-runtime: warning: {e}");
        }
    }
    Ok(())
}

/// The OCI state of a container.
pub fn state(store: &Store, id: &str) -> Result<serde_json::Value> {
    let state = store.load(id)?;
    let status = state.status(&store.dir(id));
    Ok(state.oci(status))
}

/// Every container with its status.
pub fn list(store: &Store) -> Result<Vec<(State, Status)>> {
    let mut out = Vec::new();
    for id in store.ids()? {
        if let Ok(state) = store.load(&id) {
            let status = state.status(&store.dir(&id));
            out.push((state, status));
        }
    }
    Ok(out)
}

/// `run`: create, start, and (unless `detach`) wait for the init, forwarding signals,
/// then delete (unless `keep`). Returns the exit code: the process's own, or 128+N when
/// a signal killed it. With `process.terminal` and no `--console-socket`, our own
/// terminal is relayed to the container's pty, as `runc run` does.
pub fn run(store: &Store, opts: &CreateOptions, detach: bool, keep: bool) -> Result<i32> {
    if detach {
        return run_detached(store, opts).map(|_| 0);
    }
    // The init may be a grandchild (double fork): become its reaper.
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .context(|| "become child subreaper".into())?;
    check_id(&opts.id)?;
    let bundle = Bundle::load(&opts.bundle)?;
    let terminal =
        opts.console_socket.is_none() && bundle.spec.process().as_ref().is_some_and(|p| p.terminal() == Some(true));
    let (ours, theirs) = if terminal {
        let (a, b) = UnixStream::pair().context(|| "create console socket pair".into())?;
        (Some(a), Some(OwnedFd::from(b)))
    } else {
        (None, None)
    };
    let mask = lindocker_sys::block_all_signals().context(|| "block signals".into())?;
    let state = create_with(store, opts, bundle, Some(&mask), theirs)?;
    let master = match &ours {
        Some(sock) => match crate::console::receive_fd(sock) {
            Ok(fd) => Some(fd),
            Err(e) => {
                let _ = delete(store, &opts.id, true);
                return Err(e).context(|| "receive the container's terminal".into());
            }
        },
        None => None,
    };
    if let Err(e) = start(store, &opts.id) {
        let _ = delete(store, &opts.id, true);
        return Err(e);
    }
    let code = supervise(state.pid, master)?;
    if !keep {
        delete(store, &opts.id, true)?;
    }
    Ok(code)
}

/// `run --detach`: create, then start; nothing is left if the start fails. Returns the
/// created state (the init's pid among it).
pub fn run_detached(store: &Store, opts: &CreateOptions) -> Result<State> {
    let state = create(store, opts)?;
    start(store, &opts.id).inspect_err(|_| {
        let _ = delete(store, &opts.id, true);
    })?;
    Ok(state)
}

/// Waits for the init: forwards every signal to it, reaps children, and with a pty
/// relays stdin to it and its output to stdout. Returns the init's exit code.
fn supervise(init_pid: i32, pty: Option<OwnedFd>) -> Result<i32> {
    use std::io::Write;
    let signals = lindocker_sys::signalfd_all().context(|| "signalfd".into())?;
    let _raw = pty.as_ref().and_then(|_| crate::console::RawTerminal::enter());
    if let Some(master) = &pty {
        crate::console::copy_window_size(master);
    }
    let stdin = std::io::stdin();
    let mut stdin_open = pty.is_some();
    let mut pty_open = pty.is_some();
    let mut buf = vec![0u8; 32 * 1024];
    let mut exit: Option<i32> = None;
    loop {
        let mut fds = vec![PollFd::new(&signals, PollFlags::IN)];
        if let Some(master) = pty.as_ref().filter(|_| pty_open) {
            fds.push(PollFd::new(master, PollFlags::IN));
            if stdin_open {
                fds.push(PollFd::new(&stdin, PollFlags::IN));
            }
        }
        // Once the init is gone, drain what is left of its output, then return.
        let timeout = exit.map(|_| rustix::event::Timespec { tv_sec: 0, tv_nsec: 20_000_000 });
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(0) => return Ok(exit.expect("only times out after exit")),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e).context(|| "poll".into()),
        }
        let ready: Vec<PollFlags> = fds.iter().map(|f| f.revents()).collect();
        if !ready[0].is_empty() {
            let n = rustix::io::read(&signals, &mut buf[..128]).context(|| "read signalfd".into())?;
            let sig = if n >= 4 { i32::from_ne_bytes(buf[..4].try_into().expect("4 bytes")) } else { 0 };
            match sig {
                libc::SIGCHLD => {
                    while let Ok(Some((pid, status))) = rustix::process::wait(WaitOptions::NOHANG) {
                        if pid.as_raw_nonzero().get() == init_pid {
                            exit = status.exit_status().or(status.terminating_signal().map(|s| 128 + s));
                        }
                    }
                    if let (Some(code), false) = (exit, pty_open) {
                        return Ok(code);
                    }
                }
                libc::SIGWINCH => {
                    if let Some(master) = &pty {
                        crate::console::copy_window_size(master);
                    }
                }
                sig => {
                    if let (Some(pid), Some(s)) = (Pid::from_raw(init_pid), Signal::from_named_raw(sig)) {
                        let _ = rustix::process::kill_process(pid, s);
                    }
                }
            }
        }
        let Some(master) = &pty else { continue };
        if ready.len() > 1 && !ready[1].is_empty() {
            match rustix::io::read(master, &mut buf) {
                Ok(n) if n > 0 => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&buf[..n]).and_then(|()| out.flush());
                }
                // EIO: every slave descriptor is closed, the container is done with it.
                _ => pty_open = false,
            }
        }
        if ready.len() > 2 && !ready[2].is_empty() {
            match rustix::io::read(&stdin, &mut buf) {
                Ok(n) if n > 0 => {
                    let _ = rustix::io::write(master, &buf[..n]);
                }
                _ => stdin_open = false,
            }
        }
        if let (Some(code), false) = (exit, pty_open) {
            return Ok(code);
        }
    }
}

/// Freezes every process of a running container (`pause`).
pub fn pause(store: &Store, id: &str) -> Result<()> {
    set_frozen(store, id, true)
}

/// Thaws a paused container (`resume`).
pub fn resume(store: &Store, id: &str) -> Result<()> {
    set_frozen(store, id, false)
}

fn set_frozen(store: &Store, id: &str, frozen: bool) -> Result<()> {
    let _lock = store.lock(id)?;
    let state = store.load(id)?;
    let status = state.status(&store.dir(id));
    let (want, verb) = if frozen { (Status::Running, "pause") } else { (Status::Paused, "resume") };
    if status != want {
        return Err(Error::WrongState {
            id: id.into(),
            status: status.to_string(),
            message: format!("cannot {verb} it"),
        });
    }
    let cgroup = state.cgroup_or_err()?;
    cgroup.freeze(frozen)?;
    Ok(())
}

/// A container that has processes (created, running or paused), and its cgroup.
fn live(store: &Store, id: &str, what: &str) -> Result<(State, Manager)> {
    let state = store.load(id)?;
    let status = state.status(&store.dir(id));
    if matches!(status, Status::Stopped | Status::Creating) {
        return Err(Error::WrongState { id: id.into(), status: status.to_string(), message: what.into() });
    }
    let cgroup = state.cgroup_or_err()?;
    Ok((state, cgroup))
}

/// The host pids of every process of the container (`ps`).
pub fn pids(store: &Store, id: &str) -> Result<Vec<i32>> {
    let (_, cgroup) = live(store, id, "it has no processes")?;
    let mut pids = cgroup.procs()?;
    pids.sort_unstable();
    Ok(pids)
}

/// Changes a live container's limits (`update`). Device rules are not changed (runc's
/// `update` ignores them too): containerd's shim sends the container's whole
/// `linux.resources`, whose rules are the spec's "deny all" without the devices every
/// container has (added at create), so applying them would take `/dev/null` away.
pub fn update(store: &Store, id: &str, resources: &oci_spec::runtime::LinuxResources) -> Result<()> {
    let _lock = store.lock(id)?;
    let (state, cgroup) = live(store, id, "cannot update it")?;
    let mut resources = resources.clone();
    // Still checked: a malformed rule is an error, not silently dropped.
    if let Some(rules) = resources.devices() {
        lindocker_cgroups::device_rules::DeviceRules::from_oci(rules)?;
    }
    resources.set_devices(None);
    state.cgroup_driver().update(&cgroup, &resources)?;
    Ok(())
}

/// Options of `exec`.
#[derive(Debug)]
pub struct ExecOptions {
    /// Container id.
    pub id: String,
    /// The process to run in it.
    pub process: oci_spec::runtime::Process,
    /// Unix socket that receives the pty master when `process.terminal` is set.
    pub console_socket: Option<PathBuf>,
    /// Where to write the new process's pid.
    pub pid_file: Option<PathBuf>,
    /// Return once the process runs, without waiting for it.
    pub detach: bool,
    /// Pass descriptors 3..3+N to the process.
    pub preserve_fds: i32,
    /// Where warnings go.
    pub on_warning: Option<fn(&str)>,
}

/// The namespace types of a container, as `/proc/PID/ns` names them, with their flags
/// (the exec'd child picks the order it joins them in: see `init::exec`).
const NAMESPACES: &[(&str, i32)] = &[
    ("user", libc::CLONE_NEWUSER),
    ("mnt", libc::CLONE_NEWNS),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("pid", libc::CLONE_NEWPID),
    ("time", libc::CLONE_NEWTIME),
];

/// The runtime spec the container was created from (its bundle's config.json), which
/// `exec` takes its process defaults from.
pub fn container_spec(store: &Store, id: &str) -> Result<oci_spec::runtime::Spec> {
    let state = store.load(id)?;
    let path = state.bundle.join("config.json");
    let text = fs::read(&path).context(|| format!("read {}", path.display()))?;
    crate::spec::parse(&path, &text)
}

/// Runs another process in a running container: every namespace of its init that is
/// not ours is joined, and the container's cgroup. Returns the process's exit code (0
/// with `detach`).
pub fn exec(store: &Store, opts: &ExecOptions) -> Result<i32> {
    let state = store.load(&opts.id)?;
    let status = state.status(&store.dir(&opts.id));
    if !matches!(status, Status::Running | Status::Created) {
        return Err(Error::WrongState {
            id: opts.id.clone(),
            status: status.to_string(),
            message: "cannot exec in it".into(),
        });
    }
    let process = &opts.process;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::Init("exec: no command given".into()));
    }
    let terminal = process.terminal() == Some(true);
    if terminal && opts.detach && opts.console_socket.is_none() {
        return Err(Error::Init("exec --tty --detach needs --console-socket to hand the terminal to".into()));
    }
    // Open the init's namespaces now, while /proc is the host's and the pid checked.
    let mut joins: Vec<(i32, OwnedFd)> = Vec::new();
    for (name, flag) in NAMESPACES {
        let theirs = format!("/proc/{}/ns/{name}", state.pid);
        let (Ok(a), Ok(b)) = (fs::read_link(&theirs), fs::read_link(format!("/proc/self/ns/{name}"))) else { continue };
        if a != b {
            let fd = rustix::fs::open(&theirs, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                .context(|| format!("open {theirs}"))?;
            joins.push((*flag, fd));
        }
    }
    if process_start_time(state.pid) != Some(state.pid_start_time) {
        return Err(Error::WrongState {
            id: opts.id.clone(),
            status: "stopped".into(),
            message: "cannot exec in it".into(),
        });
    }
    // pid and time namespaces apply to the children of whoever enters them: we enter
    // them here, the child we fork is born inside.
    let (for_children, in_child): (Vec<_>, Vec<_>) =
        joins.into_iter().partition(|(f, _)| *f == libc::CLONE_NEWPID || *f == libc::CLONE_NEWTIME);
    for (flag, fd) in &for_children {
        lindocker_sys::setns(std::os::fd::AsRawFd::as_raw_fd(fd), *flag)
            .context(|| "join the container's pid namespace".into())?;
    }
    let user_ns = in_child.iter().any(|(f, _)| *f == libc::CLONE_NEWUSER);
    let cgroup = state.cgroup();
    // The container's seccomp profile applies to everything that runs in it.
    let spec = container_spec(store, &opts.id)?;
    let seccomp = seccomp_filter(store, &spec, opts.on_warning)?;
    let linux = spec.linux().clone().unwrap_or_default();
    let listener = seccomp_listener(seccomp.as_ref())?;
    let (ours, theirs) = if terminal && opts.console_socket.is_none() {
        let (a, b) = UnixStream::pair().context(|| "create console socket pair".into())?;
        (Some(a), Some(OwnedFd::from(b)))
    } else {
        (None, None)
    };
    let console: Option<OwnedFd> = match &opts.console_socket {
        Some(p) => Some(
            crate::socket_path::connect(p).context(|| format!("connect to console socket {}", p.display()))?.into(),
        ),
        None => theirs,
    };
    let mask =
        if opts.detach { None } else { Some(lindocker_sys::block_all_signals().context(|| "block signals".into())?) };
    let (parent_end, child_end) = channel::pair().context(|| "create setup channel".into())?;
    let entry = cgroup.as_ref().map(Entry::open).transpose()?;
    // The child is non-dumpable from its first instant (the flag passes to a fork), out of
    // reach of the container's processes until it execs.
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .context(|| "make the runtime non-dumpable".into())?;
    let pid = lindocker_sys::clone_process_into(0, entry.as_ref().and_then(Entry::unified))
        .context(|| "fork the exec process".into())?;
    if pid == 0 {
        drop(parent_end);
        init::exec::main(&init::exec::Exec {
            process,
            linux: &linux,
            cgroup_entry: entry.as_ref(),
            channel: &child_end,
            namespaces: &in_child,
            user_ns,
            console: console.as_ref(),
            preserve_fds: opts.preserve_fds,
            signal_mask: mask.as_ref(),
            seccomp: seccomp.as_ref(),
            seccomp_listener: listener.as_ref(),
            state: serde_json::json!({
                "ociVersion": state.oci_version, "id": state.id, "status": "running",
                "pid": state.pid, "bundle": state.bundle, "annotations": state.annotations,
            }),
        });
    }
    drop(child_end);
    drop(console);
    let setup = (|| -> Result<()> {
        // The child moves itself into the cgroup (see `Entry`).
        parent_end.send(&Message::Go).context(|| "setup channel".into())?;
        match parent_end.recv().context(|| "setup channel".into())? {
            Some(Message::Ready) => Ok(()),
            Some(Message::Error(e)) => Err(Error::Init(e)),
            Some(Message::ProgramError { message, failure }) => Err(Error::Program { message, failure }),
            other => Err(Error::Init(format!("exec setup stopped unexpectedly ({other:?})"))),
        }
    })();
    if let Err(e) = setup {
        let _ = rustix::process::kill_process(Pid::from_raw(pid).expect("pid > 0"), Signal::KILL);
        let _ = rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty());
        return Err(e);
    }
    if let Some(p) = &opts.pid_file {
        write_atomic(&std::path::absolute(p).unwrap_or(p.clone()), pid.to_string().as_bytes(), false)?;
    }
    if opts.detach {
        return Ok(0);
    }
    let master = match &ours {
        Some(sock) => Some(crate::console::receive_fd(sock).context(|| "receive the exec's terminal".into())?),
        None => None,
    };
    supervise(pid, master)
}

/// `events`: with `once`, one stats event; otherwise a stats event every `interval` and
/// an `oom` event whenever the OOM killer strikes, until the container stops. Each event
/// goes to `emit` as runc prints it: `{"type":"stats","id":...,"data":{...}}`.
pub fn events(
    store: &Store,
    id: &str,
    once: bool,
    interval: Duration,
    mut emit: impl FnMut(serde_json::Value) -> std::io::Result<()>,
) -> Result<()> {
    let state = store.load(id)?;
    let dir = store.dir(id);
    let cgroup = state.cgroup_or_err()?;
    let stats = |cg: &Manager| serde_json::json!({"type": "stats", "id": id, "data": cg.stats()});
    if state.status(&dir) == Status::Stopped {
        return Err(Error::WrongState { id: id.into(), status: "stopped".into(), message: "it has no events".into() });
    }
    let out = |v| emit(v).context(|| "write events".into());
    let mut out = out;
    if once {
        return out(stats(&cgroup));
    }
    let tick = interval.min(Duration::from_millis(100));
    let mut ooms = cgroup.oom_kills();
    let mut next = Instant::now();
    while state.status(&dir) != Status::Stopped {
        let now_ooms = cgroup.oom_kills();
        if now_ooms > ooms {
            ooms = now_ooms;
            out(serde_json::json!({"type": "oom", "id": id}))?;
        }
        if Instant::now() >= next {
            out(stats(&cgroup))?;
            next = Instant::now() + interval;
        }
        std::thread::sleep(tick);
    }
    Ok(())
}
