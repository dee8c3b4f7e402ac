//! The shim: one small process per running container (like conmon). It outlives the CLI
//! that started it, holds the container's stdio (pipes, or the pty master), writes the
//! log, serves attached CLIs, records the exit, tears the container down, and applies the
//! restart policy and `--rm`.
//!
//! It is `lindocker shim ID` in its own session, a child subreaper, so the container's
//! init (which the runtime forks and leaves) is its child and its exit status ours.

use std::fs::File;
use std::io::{self, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use lindocker_runtime::socket_path::ShortName;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use rustix::process::{Pid, PidfdFlags, WaitOptions};

use crate::attach::{FrameParser, Input, Kind, read_frame};
use crate::events::Event;
use crate::lifecycle::GO_ATTACHED;
use crate::log_config::LogDriver;
use crate::logs::LogWriter;
use crate::options::RestartPolicy;
use crate::record::{Record, Status, process_start};
use crate::runtime::{Launch, StartError};
use crate::{Engine, EngineError};

/// How long a shim waits for the CLI that started it to attach before starting anyway.
const ATTACH_WAIT: Duration = Duration::from_secs(30);

/// Runs the shim for container `id` until the container ends for good. Returns the
/// shim's exit code.
pub fn run(engine: &Engine, id: &str) -> i32 {
    let _ = rustix::process::setsid();
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    let first_client = client_on_stdin();
    let network_attached = match first_client.as_ref().map(read_frame) {
        None => false,
        Some(Ok(Some((Kind::Go, payload)))) => payload == GO_ATTACHED,
        // The CLI that started us could not make the container: nothing is ours.
        Some(_) => {
            if !engine.records.has_record(id) {
                engine.forget_busy(id);
            }
            return 0;
        }
    };
    // Held for the rest of our life: while we live, no other command takes the start we
    // make for an abandoned one (see `Engine::settle`). The CLI holds it until we have
    // it; if it died first, a command may have settled the container meanwhile: that
    // is why the record is read only now.
    let Ok(_busy) = engine.hold_busy(id) else { return 1 };
    if !engine.records.has_record(id) {
        engine.forget_busy(id);
        return 0;
    }
    log_to(&engine.paths(id).shim_log());
    match supervise(engine, id, first_client, network_attached) {
        Ok(()) => 0,
        Err(e) => {
            let _ = engine.records.update_state(id, |st| {
                st.error = e.to_string();
                if st.status.is_live() {
                    st.status = Status::Exited;
                }
            });
            1
        }
    }
}

/// The CLI that starts a shim hands it its end of a socket pair as stdin, so that neither
/// side polls for the other; stdin then becomes /dev/null, so no child inherits it.
fn client_on_stdin() -> Option<UnixStream> {
    use std::os::fd::AsFd;
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    let stat = rustix::fs::fstat(&fd).ok()?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::Socket {
        return None;
    }
    let null = std::fs::File::open("/dev/null").ok()?;
    rustix::stdio::dup2_stdin(&null).ok()?;
    Some(UnixStream::from(fd))
}

/// Where a panic of the shim is told (its errors go to the record): `path`, made only
/// then. Our stderr stays /dev/null.
fn log_to(path: &Path) {
    let path = path.to_path_buf();
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(file) = File::create(&path) {
            let _ = rustix::stdio::dup2_stderr(&file);
        }
        default(info);
    }));
}

/// Most output a client may have waiting: one that falls further behind is dropped (a
/// client that stops reading must not stop the log).
const CLIENT_BACKLOG: usize = 1 << 20;
/// Most input waiting for the container: while it is full, no client is read (back-
/// pressure to whoever sends it), and the container's output still flows.
const STDIN_BACKLOG: usize = 64 * 1024;
/// How long a client may make no progress reading the last frames before it is dropped.
const CLIENT_STALL: Duration = Duration::from_secs(2);

/// An attached CLI, on a non-blocking socket: frames for it wait in `out`, its own
/// frames are parsed as they come.
struct Client {
    stream: UnixStream,
    out: Vec<u8>,
    sent: usize,
    parser: FrameParser,
    gone: bool,
}

impl Client {
    fn new(stream: UnixStream) -> Client {
        let gone = stream.set_nonblocking(true).is_err();
        Client { stream, out: Vec::new(), sent: 0, parser: FrameParser::default(), gone }
    }

    fn pending(&self) -> bool {
        self.sent < self.out.len()
    }

    /// Queues a frame and writes what the socket takes; a client too far behind is gone.
    fn send(&mut self, kind: Kind, payload: &[u8]) {
        if self.gone {
            return;
        }
        if self.out.len() - self.sent + payload.len() + 5 > CLIENT_BACKLOG {
            self.gone = true;
            return;
        }
        if self.sent > 0 && self.sent * 2 >= self.out.len() {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        self.out.push(kind as u8);
        self.out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        self.out.extend_from_slice(payload);
        self.flush();
    }

    /// Writes what the socket takes now.
    fn flush(&mut self) {
        while self.pending() && !self.gone {
            match (&self.stream).write(&self.out[self.sent..]) {
                Ok(0) => self.gone = true,
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.gone = true,
            }
        }
        if !self.pending() {
            self.out.clear();
            self.sent = 0;
            if self.out.capacity() > 64 * 1024 {
                self.out.shrink_to(64 * 1024);
            }
        }
    }
}

/// Runs the container until it ends for good; `network_attached`: the CLI that started
/// us has set its network up for the first start.
fn supervise(
    engine: &Engine,
    id: &str,
    first_client: Option<UnixStream>,
    network_attached: bool,
) -> Result<(), EngineError> {
    let listener_path = engine.attach_socket(id);
    let _ = std::fs::remove_file(&listener_path);
    let listener =
        lindocker_runtime::socket_path::bind(&listener_path).map_err(|e| EngineError::io(&listener_path, e))?;
    let bound = socket_identity(&listener_path);
    listener.set_nonblocking(true).map_err(|e| EngineError::io(&listener_path, e))?;
    let mut clients: Vec<Client> = first_client.into_iter().map(Client::new).collect();
    let mut current = None;
    let result = starts(engine, id, &listener, &mut clients, &mut current, network_attached);
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            broadcast(&mut clients, Kind::Error, e.to_string().as_bytes());
            broadcast(&mut clients, Kind::Exit, b"125");
            drain(&mut clients);
            remove_own_socket(bound, &listener_path);
            return Err(e);
        }
    };
    remove_own_socket(bound, &listener_path);
    if let Some(record) = current.filter(|r| r.host_config.auto_remove) {
        let _ = engine.remove_now(&record, true);
    }
    broadcast(&mut clients, Kind::Exit, code.to_string().as_bytes());
    drain(&mut clients);
    Ok(())
}

/// Removes our listening socket's path, unless it is no longer ours: once the container's
/// exit is recorded, a `start` may already run the next shim, bound at the same path.
/// `bound` is the path's identity right after we bound it (a socket's own descriptor
/// does not tell the file's inode).
fn remove_own_socket(bound: Option<(u64, u64)>, path: &Path) {
    if bound.is_some() && socket_identity(path) == bound {
        let _ = std::fs::remove_file(path);
    }
}

/// The device and inode of the file at `path`.
fn socket_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Starts the container and relays it, again as its restart policy says, until it ends
/// for good; returns its last exit code.
fn starts(
    engine: &Engine,
    id: &str,
    listener: &UnixListener,
    clients: &mut Vec<Client>,
    current: &mut Option<Record>,
    network_attached: bool,
) -> Result<i32, EngineError> {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let shim = (me, process_start(me).unwrap_or(0));
    let mut first = true;
    let mut backoff = Duration::from_millis(100);
    loop {
        let record: &Record = current.insert(begin(engine, id, first)?);
        let mut log = open_log(engine, record)?;
        engine.mount_rootfs(record)?;
        let stdio = Stdio3::new(engine, record)?;
        let pid_file = engine.paths(id).init_pid();
        let _ = std::fs::remove_file(&pid_file);
        let runtime = engine.runtime_for(record)?.forking();
        if first && clients.is_empty() {
            wait_for_first_client(listener, clients);
        }
        let (_joined, proxy) = match prepare(engine, record, first && network_attached)? {
            Ok(prepared) => prepared,
            Err(message) => {
                broadcast(clients, Kind::Error, message.as_bytes());
                return Ok(125);
            }
        };
        let (mut stdio, master, pid, pidfd) = match launch(engine, record, &runtime, stdio, &pid_file, shim)? {
            Launched::Running { stdio, master, pid, pidfd } => (stdio, master, pid, pidfd),
            Launched::Failed { code, message } => {
                broadcast(clients, Kind::Error, message.as_bytes());
                return Ok(code);
            }
        };
        // Its health check, if it has one, runs beside the relay until it ends; `starting`
        // is written before anyone hears of the start.
        let mut health = crate::health::Monitor::new(&engine.records, &engine.events, runtime.clone(), record);
        Event::volume_mounts(record, "mount").into_iter().for_each(|e| engine.events.emit(e));
        engine.events.emit(Event::container(record, "start", &[]));
        broadcast(clients, Kind::Started, b"");
        let started = Instant::now();

        let code =
            relay(listener, clients, &mut stdio, master.as_ref(), &pidfd, pid, log.as_mut(), first, &mut health)?;
        // No check outlives the container (its process went with the container's), and no
        // port listens for it.
        drop(health);
        drop(proxy);
        if let Some(log) = log.as_mut() {
            log.wait_compressing();
        }
        let oom = report_exit(engine, record, code, started.elapsed());
        if record.host_config.auto_remove {
            // Removed next, never restarted: no state to record in between.
            let deleting = runtime.delete_in_background(id);
            engine.detach_network(record);
            // Its files go while the runtime forgets it.
            let _ = engine.remove_filesystem(record);
            deleting.finish();
            return Ok(code);
        }
        let deleting = runtime.delete_in_background(id);
        engine.detach_network(record);
        let restart = match record_exit(engine, id, code, oom) {
            Ok(restart) => restart,
            Err(e) => {
                // No state could be written (a full disk): the container still goes
                // down, and whoever reads the record next finds its shim gone.
                engine.unmount_rootfs(record);
                deleting.finish();
                return Err(e);
            }
        };
        if !restart {
            engine.unmount_rootfs(record);
            deleting.finish();
            return Ok(code);
        }
        deleting.finish();
        back_off(&mut backoff, started.elapsed());
        if engine.records.read(id).map(|r| r.state.stopped_by_user).unwrap_or(true) {
            engine.unmount_rootfs(record);
            engine.records.update_state(id, |st| st.status = Status::Exited)?;
            return Ok(code);
        }
        first = false;
    }
}

/// The record for this start; the first marks it `starting` (`run` marked it when it
/// made it): from here on it holds mounts and a network that must be undone if we die
/// before it runs.
fn begin(engine: &Engine, id: &str, first: bool) -> Result<Record, EngineError> {
    let record = engine.records.read(id)?;
    if first && !record.state.starting {
        return Ok(engine.records.update_state(id, |st| st.starting = true)?.0);
    }
    Ok(record)
}

/// The container's log, if its driver keeps one.
fn open_log(engine: &Engine, record: &Record) -> Result<Option<LogWriter>, EngineError> {
    let log_path = engine.paths(&record.id).log();
    let host = &record.host_config;
    Ok(match host.log_driver {
        LogDriver::None => None,
        LogDriver::JsonFile | LogDriver::Local => Some(
            LogWriter::open(&log_path, host.log_max_size, host.log_max_file, host.log_compress)
                .map(LogWriter::compress_in_child)
                .map_err(|e| EngineError::io(&log_path, e))?,
        ),
    })
}

/// The CLI that started us attaches first, so it sees every byte: waits for it (a while).
fn wait_for_first_client(listener: &UnixListener, clients: &mut Vec<Client>) {
    let deadline = Instant::now() + ATTACH_WAIT;
    while clients.is_empty() && Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => clients.push(Client::new(stream)),
            Err(_) => std::thread::sleep(Duration::from_micros(100)),
        }
    }
}

/// The container's network (unless `attached_by_cli`: the CLI that started us set it up)
/// and the namespaces of other containers it joins (their current inits), with the
/// realtime budget of our cgroup parent, all as of this start. If one fails, what was
/// done is undone, the container recorded as not started, and the message returned.
fn prepare(
    engine: &Engine,
    record: &Record,
    attached_by_cli: bool,
) -> Result<Result<(crate::sharing::Joined, Option<crate::portproxy::PortProxy>), String>, EngineError> {
    let id = record.id.as_str();
    // (Unless a command that found the CLI dead undid it before we got here.)
    let attached = if attached_by_cli && engine.netns_path(id).exists() {
        Ok(())
    } else {
        // A CLI killed between attaching and starting us may have left one behind.
        if engine.netns_path(id).exists() {
            engine.detach_network(record);
        }
        engine.attach_network(record)
    };
    if let Err(e) = attached {
        let message = e.to_string();
        engine.unmount_rootfs(record);
        not_started(engine, id, &message)?;
        return Ok(Err(message));
    }
    let joined = engine.join_namespaces(record).and_then(|joined| {
        let h = &record.host_config;
        let (runtime, period) = (h.cpu_rt_runtime.unwrap_or(0), h.cpu_rt_period.unwrap_or(1_000_000));
        crate::resources::reserve_rt(&engine.cgroup_parent, &engine.root.join("cgroups-made"), runtime, period)?;
        // Ports published on IPv6 listen from here on (a port taken meanwhile fails the
        // start, as a taken IPv4 one does at attach).
        Ok((joined, crate::portproxy::start(engine, record)?))
    });
    match joined {
        Ok(prepared) => Ok(Ok(prepared)),
        Err(e) => {
            let message = e.to_string();
            engine.unmount_rootfs(record);
            engine.detach_network(record);
            not_started(engine, id, &message)?;
            Ok(Err(message))
        }
    }
}

/// How a start went.
enum Launched {
    /// The container runs: our ends of its stdio, its pty master, its init.
    Running { stdio: Stdio3, master: Option<OwnedFd>, pid: i32, pidfd: OwnedFd },
    /// The runtime could not start it (undone and recorded): Docker's exit code for that
    /// and the runtime's message.
    Failed { code: i32, message: String },
}

/// Creates and starts the container with one runtime call (`run --detach`, as runc and
/// crun have it) and records it running, as run by this shim (`shim`: our pid and start
/// time).
fn launch(
    engine: &Engine,
    record: &Record,
    runtime: &crate::runtime::OciRuntime,
    mut stdio: Stdio3,
    pid_file: &Path,
    shim: (i32, u64),
) -> Result<Launched, EngineError> {
    let id = record.id.as_str();
    let (stdin, stdout, stderr) = stdio.child_ends()?;
    let bundle = engine.paths(id).bundle();
    let launch = Launch {
        bundle: &bundle,
        pid_file,
        console_socket: stdio.console_socket.as_ref().map(ShortName::path),
        stdio: [stdin, stdout, stderr],
    };
    let started = runtime.run_detached(id, launch);
    let failure = started.as_ref().err().cloned();
    let master = match (&failure, stdio.console_listener.take()) {
        (None, Some(l)) => Some(receive_master(&l).map_err(|e| EngineError::io(&engine.attach_socket(id), e))?),
        _ => None,
    };
    stdio.drop_child_ends();
    if let Some(StartError { code, message }) = failure {
        runtime.delete_force(id);
        engine.unmount_rootfs(record);
        engine.detach_network(record);
        engine.records.update_state(id, |st| {
            st.status = if st.restart_count > 0 { Status::Exited } else { Status::Created };
            st.error = message.clone();
            st.exit_code = code;
            st.finished_at = Some(crate::now());
            st.starting = false;
        })?;
        return Ok(Launched::Failed { code, message });
    }
    let pid = started.unwrap_or(0);
    let Some(pid_nz) = Pid::from_raw(pid) else {
        return Err(EngineError::Runtime("the runtime wrote no pid file".into()));
    };
    let pidfd = rustix::process::pidfd_open(pid_nz, PidfdFlags::empty())
        .map_err(|e| EngineError::io(Path::new("pidfd"), e.into()))?;
    let recorded = engine.records.update_state(id, |st| {
        st.status = Status::Running;
        st.pid = pid;
        (st.shim_pid, st.shim_start) = shim;
        st.started_at = Some(crate::now());
        st.finished_at = None;
        st.error.clear();
        st.oom_killed = false;
        st.stopped_by_user = false;
        st.starting = false;
    });
    if let Err(e) = recorded {
        // A container its record cannot show running (a full disk) is not left
        // running: nobody could stop it.
        let _ = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
        let _ = reap(pid);
        runtime.delete_force(id);
        engine.detach_network(record);
        engine.unmount_rootfs(record);
        return Err(e);
    }
    Ok(Launched::Running { stdio, master, pid, pidfd })
}

/// Journals the end of a run that lasted `ran`: Docker's order, `oom` (the kernel's
/// report), then `die`, under the name the container has now (a `rename` while it ran);
/// then its volumes' `unmount`. Returns whether the kernel killed it for memory.
fn report_exit(engine: &Engine, record: &Record, code: i32, ran: Duration) -> bool {
    let oom = engine.oom_killed(record);
    let named = engine.records.read(&record.id).ok();
    let named = named.as_ref().unwrap_or(record);
    if oom {
        engine.events.emit(Event::container(named, "oom", &[]));
    }
    let died = [("exitCode", code.to_string()), ("execDuration", ran.as_secs().to_string())];
    engine.events.emit(Event::container(named, "die", &died));
    Event::volume_mounts(record, "unmount").into_iter().for_each(|e| engine.events.emit(e));
    oom
}

/// Records the exit: exited, or straight to restarting as the restart policy says (no
/// reader sees an exit the policy undoes). Returns whether it restarts.
fn record_exit(engine: &Engine, id: &str, code: i32, oom: bool) -> Result<bool, EngineError> {
    let (_, restart) = engine.records.update_state_by(id, |host, st| {
        st.exit_code = code;
        st.pid = 0;
        st.oom_killed = oom;
        st.finished_at = Some(crate::now());
        let restart = match host.restart {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => !st.stopped_by_user,
            RestartPolicy::OnFailure(max) => code != 0 && !st.stopped_by_user && (max == 0 || st.restart_count < max),
        };
        if restart {
            st.status = Status::Restarting;
            st.restart_count += 1;
        } else {
            st.status = Status::Exited;
        }
        restart
    })?;
    Ok(restart)
}

/// Docker's back-off before a restart: doubling from 100 ms, reset after 10 s of good
/// running (`ran`), at most a minute.
fn back_off(backoff: &mut Duration, ran: Duration) {
    if ran > Duration::from_secs(10) {
        *backoff = Duration::from_millis(100);
    }
    std::thread::sleep(*backoff);
    *backoff = (*backoff * 2).min(Duration::from_secs(60));
}

fn broadcast(clients: &mut Vec<Client>, kind: Kind, payload: &[u8]) {
    for c in clients.iter_mut() {
        c.send(kind, payload);
    }
    clients.retain(|c| !c.gone);
}

/// Writes out what clients still have waiting (the last frames), dropping a client that
/// makes no progress for [`CLIENT_STALL`].
fn drain(clients: &mut Vec<Client>) {
    let mut progress = Instant::now();
    loop {
        clients.retain(|c| !c.gone);
        let waiting: Vec<usize> = (0..clients.len()).filter(|&i| clients[i].pending()).collect();
        if waiting.is_empty() || progress.elapsed() > CLIENT_STALL {
            return;
        }
        let mut fds: Vec<PollFd<'_>> =
            waiting.iter().map(|&i| PollFd::new(&clients[i].stream, PollFlags::OUT)).collect();
        let timeout = rustix::event::Timespec { tv_sec: 0, tv_nsec: 100_000_000 };
        let _ = poll(&mut fds, Some(&timeout));
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        for (&i, ready) in waiting.iter().zip(ready) {
            if ready {
                let before = clients[i].sent;
                clients[i].flush();
                if clients[i].sent != before || !clients[i].pending() {
                    progress = Instant::now();
                }
            }
        }
    }
}

/// The container's stdio as the shim holds it.
struct Stdio3 {
    /// Our ends: where output arrives, where input goes.
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    input: Option<OwnedFd>,
    /// The container's ends, handed to the runtime.
    child: Option<(OwnedFd, OwnedFd, OwnedFd)>,
    /// Its name for the runtime (which holds its directory open if the path is long).
    console_socket: Option<ShortName>,
    console_listener: Option<UnixListener>,
}

impl Stdio3 {
    fn new(engine: &Engine, record: &crate::record::Record) -> Result<Stdio3, EngineError> {
        let err = |e: rustix::io::Errno| EngineError::io(Path::new("pipe"), e.into());
        let null =
            || File::open("/dev/null").map(OwnedFd::from).map_err(|e| EngineError::io(Path::new("/dev/null"), e));
        if record.config.tty {
            let path = engine.paths(&record.id).console_socket();
            let _ = std::fs::remove_file(&path);
            let name = ShortName::new(&path).map_err(|e| EngineError::io(&path, e))?;
            let listener = UnixListener::bind(name.path()).map_err(|e| EngineError::io(&path, e))?;
            return Ok(Stdio3 {
                out: None,
                err: None,
                input: None,
                child: Some((null()?, null()?, null()?)),
                console_socket: Some(name),
                console_listener: Some(listener),
            });
        }
        let (out_r, out_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(err)?;
        let (err_r, err_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(err)?;
        let (input, child_in) = if record.config.open_stdin {
            let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(err)?;
            (Some(w), r)
        } else {
            (None, null()?)
        };
        Ok(Stdio3 {
            out: Some(out_r),
            err: Some(err_r),
            input,
            child: Some((child_in, out_w, err_w)),
            console_socket: None,
            console_listener: None,
        })
    }

    fn child_ends(&self) -> Result<(OwnedFd, OwnedFd, OwnedFd), EngineError> {
        let (i, o, e) = self.child.as_ref().expect("child ends are taken once");
        let dup = |fd: &OwnedFd| fd.try_clone().map_err(|e| EngineError::io(Path::new("dup"), e));
        Ok((dup(i)?, dup(o)?, dup(e)?))
    }

    fn drop_child_ends(&mut self) {
        self.child = None;
    }
}

/// Receives the pty master the runtime sends to the console socket.
fn receive_master(listener: &UnixListener) -> io::Result<OwnedFd> {
    let (stream, _) = listener.accept()?;
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut name = [0u8; 4096];
    rustix::net::recvmsg(&stream, &mut [IoSliceMut::new(&mut name)], &mut control, RecvFlags::CMSG_CLOEXEC)?;
    control
        .drain()
        .find_map(|m| match m {
            RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
            _ => None,
        })
        .ok_or_else(|| io::Error::other("the runtime sent no terminal"))
}

/// Moves bytes until the container's init exits; returns its exit code (128+signal for a
/// signal, as shells report it). Every descriptor is non-blocking: a container that does
/// not read its input, or a client that does not read its output, holds up nothing else.
/// Records a start that failed before the runtime ran (exit 125): back to `created`, or
/// `exited` for a restart, with the error.
fn not_started(engine: &Engine, id: &str, message: &str) -> Result<(), EngineError> {
    engine.records.update_state(id, |st| {
        st.status = if st.restart_count > 0 { Status::Exited } else { Status::Created };
        st.error = message.to_owned();
        st.exit_code = 125;
        st.starting = false;
    })?;
    Ok(())
}

#[allow(clippy::too_many_arguments)] // one loop, one call site: a struct would only rename them
fn relay(
    listener: &UnixListener,
    clients: &mut Vec<Client>,
    stdio: &mut Stdio3,
    master: Option<&OwnedFd>,
    pidfd: &OwnedFd,
    pid: i32,
    mut log: Option<&mut LogWriter>,
    mut release_text: bool,
    health: &mut Option<crate::health::Monitor>,
) -> Result<i32, EngineError> {
    let (mut stdin, sources) = relay_fds(stdio, master)?;
    let mut open: Vec<bool> = vec![true; sources.len()];
    let mut buf = vec![0u8; 64 * 1024];
    let mut exit: Option<i32> = None;
    loop {
        // Clients are read only while their input has room to wait in.
        let room = stdin.room(buf.len());
        let mut set = PollSet::new(&sources, &open, pidfd, listener, &stdin, health.as_ref(), clients, room);
        match poll(&mut set.fds, Some(&poll_timeout(exit.is_some(), health.as_ref()))) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(EngineError::io(Path::new("poll"), e.into())),
        }
        let ready: Vec<PollFlags> = set.fds.iter().map(|f| f.revents()).collect();
        let PollSet { n_sources, health_at, first_client, polled, .. } = set;
        let exited = !ready[n_sources].is_empty();
        // Not once the container is ending: a result then is no result.
        if let Some(h) = health.as_mut()
            && exit.is_none()
            && !exited
        {
            h.service(first_client > health_at && !ready[health_at].is_empty());
        }
        read_clients(clients, &polled, &ready[first_client..], room, &mut stdin, master, &mut buf);
        clients.retain(|c| !c.gone);
        if !ready[n_sources + 1].is_empty()
            && let Ok((stream, _)) = listener.accept()
        {
            clients.push(Client::new(stream));
        }
        stdin.feed();
        let any_output = forward_output(&sources, &mut open, &ready, &mut buf, log.as_deref_mut(), clients);
        reap_init(pid, exited, &mut exit);
        if let Some(code) = exit
            && (!any_output || !open.iter().any(|o| *o))
        {
            if let Some(log) = log {
                log.flush_partial();
            }
            return Ok(code);
        }
        if release_text {
            // What stays beside the container runs little of what started it: once the
            // loop has run, only its own code faults back in.
            let _ = lindocker_sys::release_startup_text();
            release_text = false;
        }
    }
}

/// The container's input as the relay feeds it.
struct StdinFeed {
    /// Where input goes: the terminal, or our end of the stdin pipe (ours alone: closed
    /// when a client closes input, so the container reads its end).
    fd: Option<OwnedFd>,
    /// Input the container has not taken yet.
    pending: Vec<u8>,
    /// A client closed input: close it once what waits is in.
    close: bool,
}

impl StdinFeed {
    /// How much more clients may send now.
    fn room(&self, buf_len: usize) -> usize {
        if self.fd.is_some() { STDIN_BACKLOG.saturating_sub(self.pending.len()) } else { buf_len }
    }

    /// Input goes in as far as the container takes it.
    fn feed(&mut self) {
        if let Some(fd) = &self.fd
            && !self.pending.is_empty()
        {
            match rustix::io::write(fd, &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => {}
                // The container closed its input (or its terminal): what waits is lost.
                Err(_) => {
                    self.pending = Vec::new();
                    self.fd = None;
                }
            }
        }
        if self.close && self.pending.is_empty() {
            self.fd = None;
        }
    }
}

/// The container's input, and its outputs with their stream numbers (1, 2): the terminal
/// with a pty, else the pipes; all non-blocking.
fn relay_fds<'a>(
    stdio: &'a mut Stdio3,
    master: Option<&'a OwnedFd>,
) -> Result<(StdinFeed, Vec<(BorrowedFd<'a>, u8)>), EngineError> {
    let dup = |fd: &OwnedFd| fd.try_clone().map_err(|e| EngineError::io(Path::new("stdin"), e));
    let input = match master {
        Some(m) => Some(dup(m)?),
        None => stdio.input.take(),
    };
    let sources: Vec<(BorrowedFd<'_>, u8)> = match master {
        Some(m) => vec![(m.as_fd(), 1)],
        None => vec![(stdio.out.as_ref().expect("pipes").as_fd(), 1), (stdio.err.as_ref().expect("pipes").as_fd(), 2)],
    };
    for fd in sources.iter().map(|(fd, _)| *fd).chain(input.as_ref().map(|i| i.as_fd())) {
        set_nonblocking(fd).map_err(|e| EngineError::io(Path::new("fcntl"), e.into()))?;
    }
    Ok((StdinFeed { fd: input, pending: Vec::new(), close: false }, sources))
}

/// What one turn of the relay polls, and where in `fds` each part is.
struct PollSet<'a> {
    /// The open outputs, the init's pidfd, the listener, the input (if input waits), the
    /// health check (if one runs), then the clients to serve.
    fds: Vec<PollFd<'a>>,
    /// Index of the pidfd (after the open outputs); the listener follows it.
    n_sources: usize,
    /// Index of the health check's descriptor, if `first_client` is past it.
    health_at: usize,
    /// Index of the first client.
    first_client: usize,
    /// Which clients (indexes into `clients`) are polled, in order.
    polled: Vec<usize>,
}

impl<'a> PollSet<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        sources: &'a [(BorrowedFd<'a>, u8)],
        open: &[bool],
        pidfd: &'a OwnedFd,
        listener: &'a UnixListener,
        stdin: &'a StdinFeed,
        health: Option<&'a crate::health::Monitor>,
        clients: &'a [Client],
        room: usize,
    ) -> PollSet<'a> {
        let mut fds: Vec<PollFd<'a>> = Vec::new();
        for (i, (fd, _)) in sources.iter().enumerate() {
            if open[i] {
                fds.push(PollFd::new(fd, PollFlags::IN));
            }
        }
        let n_sources = fds.len();
        fds.push(PollFd::new(pidfd, PollFlags::IN));
        fds.push(PollFd::new(listener, PollFlags::IN));
        if let Some(fd) = stdin.fd.as_ref().filter(|_| !stdin.pending.is_empty()) {
            fds.push(PollFd::new(fd, PollFlags::OUT));
        }
        let health_at = fds.len();
        if let Some(fd) = health.and_then(|h| h.fd()) {
            fds.push(PollFd::new(fd, PollFlags::IN));
        }
        let first_client = fds.len();
        let mut polled = Vec::new();
        for (i, c) in clients.iter().enumerate() {
            let mut events = PollFlags::empty();
            if room > 0 {
                events |= PollFlags::IN;
            }
            if c.pending() {
                events |= PollFlags::OUT;
            }
            if !events.is_empty() {
                fds.push(PollFd::new(&c.stream, events));
                polled.push(i);
            }
        }
        PollSet { fds, n_sources, health_at, first_client, polled }
    }
}

/// How long a turn may wait: not at all once the init has exited (only what is already
/// buffered is drained), else until the health check is due, at most a second.
fn poll_timeout(exited: bool, health: Option<&crate::health::Monitor>) -> rustix::event::Timespec {
    if exited {
        rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 }
    } else {
        let wait = health.map_or(Duration::from_secs(1), |h| h.due_in().min(Duration::from_secs(1)));
        rustix::event::Timespec { tv_sec: wait.as_secs() as i64, tv_nsec: i64::from(wait.subsec_nanos()) }
    }
}

/// Flushes what waits for the `polled` clients that are ready (`ready`, in their order)
/// and reads what they send, up to `room`: input, its close, terminal resizes.
fn read_clients(
    clients: &mut [Client],
    polled: &[usize],
    ready: &[PollFlags],
    room: usize,
    stdin: &mut StdinFeed,
    master: Option<&OwnedFd>,
    buf: &mut [u8],
) {
    for (k, &i) in polled.iter().enumerate() {
        let events = ready[k];
        if events.is_empty() {
            continue;
        }
        let client = &mut clients[i];
        if client.pending() {
            client.flush();
        }
        if room == 0 {
            continue;
        }
        let want = room.min(STDIN_BACKLOG.saturating_sub(stdin.pending.len())).clamp(1, buf.len());
        match (&client.stream).read(&mut buf[..want]) {
            Ok(0) => client.gone = true,
            Ok(n) => {
                let accepting = stdin.fd.is_some();
                let (pending, close) = (&mut stdin.pending, &mut stdin.close);
                let fed = client.parser.feed(&buf[..n], |event| match event {
                    Input::Stdin(data) if accepting => pending.extend_from_slice(data),
                    Input::Stdin(_) => {}
                    Input::StdinClose => *close = true,
                    Input::Resize { rows, cols } => {
                        if let Some(m) = master {
                            let size =
                                rustix::termios::Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
                            let _ = rustix::termios::tcsetwinsize(m, size);
                        }
                    }
                });
                if fed.is_err() {
                    client.gone = true;
                }
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
            Err(_) => client.gone = true,
        }
    }
}

/// Reads the ready outputs (`ready` starts with the open ones, in order) into the log and
/// to every client; an output at its end is closed. Returns whether any output came.
fn forward_output(
    sources: &[(BorrowedFd<'_>, u8)],
    open: &mut [bool],
    ready: &[PollFlags],
    buf: &mut [u8],
    mut log: Option<&mut LogWriter>,
    clients: &mut Vec<Client>,
) -> bool {
    let mut any_output = false;
    let mut source_index = 0;
    for (i, (fd, stream)) in sources.iter().enumerate() {
        if !open[i] {
            continue;
        }
        let events = ready[source_index];
        source_index += 1;
        if events.is_empty() {
            continue;
        }
        match rustix::io::read(fd, &mut *buf) {
            Ok(0) | Err(rustix::io::Errno::IO) => open[i] = false,
            Ok(n) => {
                any_output = true;
                if let Some(log) = log.as_deref_mut() {
                    log.write(*stream, &buf[..n]);
                }
                broadcast(clients, if *stream == 2 { Kind::Stderr } else { Kind::Stdout }, &buf[..n]);
            }
            Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => {}
            Err(_) => open[i] = false,
        }
    }
    any_output
}

/// Notes the init's exit code in `exit` once it has exited (`exited`: its pidfd said so).
/// Orphans the container left behind are ours to reap too; the init may be among them if
/// it ended since the poll.
fn reap_init(pid: i32, exited: bool, exit: &mut Option<i32>) {
    if exited && exit.is_none() {
        *exit = Some(reap(pid));
    }
    while let Ok(Some((reaped, status))) = rustix::process::wait(WaitOptions::NOHANG) {
        if reaped.as_raw_nonzero().get() == pid && exit.is_none() {
            *exit = Some(exit_code(status));
        }
    }
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> rustix::io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(fd)?;
    rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK)
}

/// Waits for `pid` and returns its exit code.
fn reap(pid: i32) -> i32 {
    let Some(pid) = Pid::from_raw(pid) else { return 255 };
    match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
        Ok(Some((_, status))) => exit_code(status),
        _ => 255,
    }
}

/// A wait status as a shell reports it: the exit code, or 128 + the signal.
fn exit_code(status: rustix::process::WaitStatus) -> i32 {
    if let Some(code) = status.exit_status() {
        code
    } else if let Some(sig) = status.terminating_signal() {
        128 + sig
    } else {
        255
    }
}
