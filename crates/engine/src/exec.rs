//! A process joined to a running container (`exec`), through the OCI runtime's `exec`.
//! The engine starts it and hands the front end its input and output: the pty master
//! with a terminal, pipes without one (nothing when detached). The front end relays
//! them (a terminal, or a client's socket) and then waits for the end.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use lindocker_runtime::socket_path::ShortName;

use crate::events::{Event, Journal};
use crate::process::{ContainerProcess, ProcessOptions, UserRoot};
use crate::record::{Record, Status};
use crate::{Engine, EngineError};

/// What `exec` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecRequest {
    /// The container (name or id).
    pub container: String,
    /// The command.
    pub cmd: Vec<String>,
    /// `KEY=VALUE` pairs laid over the container's (a bare `KEY` unsets it).
    pub env: Vec<String>,
    /// `user[:group]` (the container's if `None`).
    pub user: Option<String>,
    /// The working directory (the container's if `None`).
    pub workdir: Option<String>,
    /// A pty.
    pub tty: bool,
    /// Input goes to the process (without a terminal: a pipe, else /dev/null).
    pub stdin: bool,
    /// The runtime returns once the process runs; its end is nobody's to see.
    pub detach: bool,
    /// Every capability.
    pub privileged: bool,
}

/// The process's input and output, for the front end to relay.
#[derive(Debug)]
pub enum ExecIo {
    /// The pty master (input and output; the process's terminal).
    Terminal(OwnedFd),
    /// Pipes: its input (if asked for), its output, its errors.
    Pipes {
        /// Writing here is the process's stdin; closing it is its end of input.
        stdin: Option<OwnedFd>,
        /// Its stdout.
        stdout: OwnedFd,
        /// Its stderr.
        stderr: OwnedFd,
    },
    /// Detached without a terminal: nothing to relay.
    None,
}

/// A started exec. Dropping it removes its files and, unless it was detached,
/// journals its end (`exec_die`) with the code [`Exec::wait`] found (126 if none).
#[derive(Debug)]
pub struct Exec {
    id: String,
    record: Record,
    events: Journal,
    detach: bool,
    child: Child,
    io: Option<ExecIo>,
    files: Vec<PathBuf>,
    exit_code: i32,
    _console_name: Option<ShortName>,
}

impl Exec {
    /// The exec's id (Docker's `execID`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The container it runs in.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// The pid of the runtime process driving it: it ends with the process (with its
    /// exit code), and the signals sent to it are passed on.
    pub fn runtime_pid(&self) -> u32 {
        self.child.id()
    }

    /// Its input and output (once; [`ExecIo::None`] after).
    pub fn take_io(&mut self) -> ExecIo {
        self.io.take().unwrap_or(ExecIo::None)
    }

    /// Waits for the runtime: the process's exit code (detached: once it runs), or
    /// [`EngineError::StartFailed`] with Docker's 126/127 if it could not be started.
    pub fn wait(&mut self) -> Result<i32, EngineError> {
        let status = self.child.wait().map_err(|e| EngineError::io(Path::new("the OCI runtime"), e))?;
        let errors = std::fs::read_to_string(&self.files[1]).unwrap_or_default();
        let message = errors
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["level"] == "error")
            .find_map(|v| v["msg"].as_str().map(str::to_owned));
        if let Some(message) = message {
            let code = crate::runtime::start_failure_code(&message);
            self.exit_code = code;
            return Err(EngineError::StartFailed { message, code });
        }
        self.exit_code = status.code().unwrap_or(1).clamp(0, 255);
        Ok(self.exit_code)
    }

    /// The front end let go of a terminal it keeps open elsewhere (the detach keys): the
    /// process runs on; its end is journaled as 0, as Docker's daemon sees the exec.
    pub fn leave_running(&mut self) {
        self.exit_code = 0;
    }
}

impl Drop for Exec {
    fn drop(&mut self) {
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
        // (A detached process's end is nobody's to see.)
        if !self.detach {
            let attrs = [("execID", self.id.clone()), ("exitCode", self.exit_code.to_string())];
            self.events.emit(Event::container(&self.record, "exec_die", &attrs));
        }
    }
}

impl Engine {
    /// Starts `request.cmd` in a running container (the container's user, environment
    /// and working directory unless the request says otherwise; its `--group-add` too):
    /// [`Engine::exec_create`], then [`Engine::exec_start`].
    pub fn exec(&self, request: &ExecRequest) -> Result<Exec, EngineError> {
        let (exec_id, record) = self.exec_create(request)?;
        self.launch(exec_id, record, request)
    }

    /// Checks `request` (a container that is not running is [`EngineError::State`]) and
    /// journals `exec_create`: the exec's new id and the container. A front end that
    /// starts it later (the API's `exec/{id}/start`) calls [`Engine::exec_start`].
    pub fn exec_create(&self, request: &ExecRequest) -> Result<(String, Record), EngineError> {
        let record = self.exec_target(request)?;
        // Docker's exec events: the command in the action, the exec's own id attribute.
        let exec_id = crate::ids::new_id();
        let attrs = [("execID", exec_id.clone())];
        self.events.emit(Event::container(&record, &format!("exec_create: {}", request.cmd.join(" ")), &attrs));
        Ok((exec_id, record))
    }

    /// Starts the exec [`Engine::exec_create`] made as `exec_id` (the container checked
    /// again: it may have stopped since). A user or group the container does not know
    /// is [`EngineError::StartFailed`] with 126.
    pub fn exec_start(&self, exec_id: &str, request: &ExecRequest) -> Result<Exec, EngineError> {
        let record = self.exec_target(request)?;
        self.launch(exec_id.to_owned(), record, request)
    }

    /// The running container `request` is for, the request checked.
    fn exec_target(&self, request: &ExecRequest) -> Result<Record, EngineError> {
        crate::process::check_env(&request.env)?;
        if request.cmd.is_empty() {
            return Err(EngineError::Invalid("No exec command specified".into()));
        }
        let texts = request.cmd.iter().chain(&request.user).chain(&request.workdir);
        if texts.into_iter().any(|t| t.contains('\0')) {
            return Err(EngineError::Invalid("NUL in the exec's command, user or working directory".into()));
        }
        let id = self.records.resolve(&request.container)?;
        let record = self.reconcile(self.records.read(&id)?);
        match record.state.status {
            Status::Running => Ok(record),
            Status::Paused => {
                Err(EngineError::State(format!("container {} is paused, unpause the container before exec", record.id)))
            }
            _ => Err(EngineError::State(format!("container {} is not running", record.id))),
        }
    }

    fn launch(&self, exec_id: String, record: Record, request: &ExecRequest) -> Result<Exec, EngineError> {
        let id = record.id.clone();
        let user = request.user.as_deref().unwrap_or(&record.config.user);
        // The container's own view of /etc (a volume or tmpfs may lie over it), resolved
        // inside its root; its filesystem if its process cannot be opened.
        let merged = self.records.dir(&id).join("merged");
        let identity = match crate::inroot::running_root(record.state.pid, &record.id) {
            Ok(root) => crate::process::identity(UserRoot::Fd(&root), user, &record.host_config.group_add),
            Err(_) => crate::process::identity(UserRoot::Dir(&merged), user, &record.host_config.group_add),
        }
        .map_err(|e| EngineError::StartFailed { message: e.to_string(), code: 126 })?;
        let options = ProcessOptions {
            args: request.cmd.clone(),
            tty: request.tty,
            env: &request.env,
            workdir: request.workdir.as_deref(),
            privileged: request.privileged,
        };
        let process = ContainerProcess::new(&record, identity, options);

        let dir = self.records.dir(&id);
        let suffix = lindocker_storage::unique_suffix();
        let process_file = dir.join(format!("exec-{suffix}.json"));
        let log = dir.join(format!("exec-{suffix}.log"));
        // In the state directory, as the shim's. However deep it is, the runtime gets a
        // name that fits in a socket address (see `socket_path`), valid while it lives.
        let console = self.state.join(format!("exec-{}-{suffix}.tty", &id[..12]));
        let files = vec![process_file.clone(), log.clone(), console.clone()];
        let cleanup = |e: EngineError| {
            for file in &files {
                let _ = std::fs::remove_file(file);
            }
            e
        };
        std::fs::write(&process_file, process.to_json().to_string())
            .map_err(|e| cleanup(EngineError::io(&process_file, e)))?;
        let rt = self.runtime_for(&record).map_err(cleanup)?.with_log(log.clone());
        let (mut cmd, _sealed) = rt.entering_command();
        cmd.arg("exec").arg("--process").arg(&process_file);
        if request.detach {
            cmd.arg("--detach");
        }
        let (listener, console_name) = if request.tty {
            let _ = std::fs::remove_file(&console);
            let name = ShortName::new(&console).map_err(|e| cleanup(EngineError::io(&console, e)))?;
            let listener = UnixListener::bind(name.path()).map_err(|e| cleanup(EngineError::io(&console, e)))?;
            cmd.arg("--tty").arg("--console-socket").arg(name.path());
            (Some(listener), Some(name))
        } else {
            (None, None)
        };
        cmd.arg("--").arg(&id);
        // Without a terminal the process gets pipes for the front end to relay (input
        // only if asked for), never the front end's own descriptors: a process it leaves
        // behind must not read what is typed next, or write into it. Detached, it gets
        // /dev/null. With a terminal, it has the pty.
        if request.detach && !request.tty {
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        } else if !request.tty {
            let input = if request.stdin { Stdio::piped() } else { Stdio::null() };
            cmd.stdin(input).stdout(Stdio::piped()).stderr(Stdio::piped());
        } else {
            cmd.stdin(Stdio::null());
        }
        let command = request.cmd.join(" ");
        let event = |action: String| {
            self.events.emit(Event::container(&record, &action, &[("execID", exec_id.clone())]));
        };
        let child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                if !request.detach {
                    let attrs = [("execID", exec_id.clone()), ("exitCode", "126".to_owned())];
                    self.events.emit(Event::container(&record, "exec_die", &attrs));
                }
                return Err(cleanup(EngineError::io(Path::new("starting the OCI runtime"), e)));
            }
        };
        event(format!("exec_start: {command}"));
        let mut exec = Exec {
            id: exec_id,
            record: record.clone(),
            events: self.events.clone(),
            detach: request.detach,
            child,
            io: None,
            files,
            exit_code: 126,
            _console_name: console_name,
        };
        exec.io = Some(if let Some(listener) = &listener {
            match accept_console(listener, &mut exec.child).map_err(|e| EngineError::io(&console, e))? {
                Some(master) => ExecIo::Terminal(master),
                // The runtime ended first: `wait` has its error.
                None => ExecIo::None,
            }
        } else if request.detach {
            ExecIo::None
        } else {
            let child = &mut exec.child;
            ExecIo::Pipes {
                stdin: child.stdin.take().map(OwnedFd::from),
                stdout: child.stdout.take().map(OwnedFd::from).expect("piped"),
                stderr: child.stderr.take().map(OwnedFd::from).expect("piped"),
            }
        });
        Ok(exec)
    }
}

/// The pty master the runtime sends over `listener`, unless it ends first.
fn accept_console(listener: &UnixListener, runtime: &mut Child) -> std::io::Result<Option<OwnedFd>> {
    listener.set_nonblocking(true)?;
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if runtime.try_wait()?.is_some() {
                    return Ok(None);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    };
    stream.set_nonblocking(false)?;
    // A runtime that connects and sends nothing does not hold the front end for good.
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    lindocker_runtime::console::receive_fd(&stream).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send<T: Send>() {}

    /// A server relays an exec from a thread of its own.
    #[test]
    fn an_exec_and_its_io_can_move_to_another_thread() {
        send::<Exec>();
        send::<ExecIo>();
        send::<ExecRequest>();
    }
}
