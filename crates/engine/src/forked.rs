//! lindocker-runtime, called in a forked copy of the shim rather than exec'd.
//!
//! The shim starts and deletes every container through the OCI runtime. For the default
//! runtime, `lindocker-runtime`, it need not exec the binary: the same library is linked
//! in, so a fork of the (single-threaded, small) shim calls it directly. That saves the
//! exec and the C library's start-up (on this VM the latter alone is ~0.5 ms: glibc asks
//! `cpuid` for the cache sizes some 80 times, and each traps to the hypervisor), twice per
//! container. The child is still a process of its own: the container's init is its child,
//! as it would be the binary's, and is handed to the shim (a subreaper) when it exits, and
//! whatever the runtime maps or allocates never adds to the shim's memory.
//!
//! What goes where is as with the binary: the init's stdio is the child's, warnings and
//! the error go to the container's runtime log as JSON lines. The init's pid (or the
//! error) comes back through a pipe rather than a pid file.

use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::process::{Pid, WaitOptions};

use lindocker_runtime::ProgramFailure;
use lindocker_runtime::container::{self, CreateOptions};
use lindocker_runtime::state::Store;

/// The runtime's log in the child (a `fn` pointer, the runtime's warning hook, cannot
/// carry it).
static LOG: OnceLock<PathBuf> = OnceLock::new();

/// How a forked runtime call failed: the runtime's message, and, typed, whether the
/// container's program could not be started (the child's exit code carries it).
#[derive(Debug, Clone)]
pub struct Failed {
    /// The runtime's error message.
    pub message: String,
    /// Missing or not executable, if that was the failure.
    pub program: Option<ProgramFailure>,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A runtime call under way in a forked child.
#[derive(Debug)]
pub struct Forked {
    pid: Pid,
    /// The read end of the pipe the child writes its answer or error message to.
    message: OwnedFd,
}

impl Forked {
    /// `run --detach`: creates and starts container `id`, its stdio `stdio`; says the
    /// init's pid (no pid file needed).
    pub fn run_detached(root: &Path, log: &Path, opts: CreateOptions, stdio: [OwnedFd; 3]) -> io::Result<Forked> {
        let root = root.to_path_buf();
        Forked::call(log, Some(stdio), move || {
            let store = Store::new(&root)?;
            let opts = CreateOptions { on_warning: Some(warn), ..opts };
            container::run_detached(&store, &opts).map(|state| state.pid.to_string())
        })
    }

    /// `delete --force`; a container the runtime does not know (any more) counts as
    /// deleted, told by the runtime's typed error.
    pub fn delete(root: &Path, log: &Path, id: &str) -> io::Result<Forked> {
        let (root, id) = (root.to_path_buf(), id.to_owned());
        Forked::call(log, None, move || match container::delete(&Store::new(&root)?, &id, true) {
            Ok(()) | Err(lindocker_runtime::Error::NotFound(_)) => Ok(String::new()),
            Err(e) => Err(e),
        })
    }

    /// Waits for the child: what it said, or how it failed.
    pub fn wait(self) -> Result<String, Failed> {
        let status = loop {
            match rustix::process::waitpid(Some(self.pid), WaitOptions::empty()) {
                Err(rustix::io::Errno::INTR) => continue,
                other => break other,
            }
        };
        // Read only now and without blocking: the container's init, a child of the
        // child, holds the pipe's write end until it execs.
        let _ = rustix::io::ioctl_fionbio(&self.message, true);
        let mut message = String::new();
        let _ = std::fs::File::from(self.message).read_to_string(&mut message);
        let code = match status {
            Ok(Some((_, s))) => s.exit_status(),
            _ => None,
        };
        match code {
            Some(0) => Ok(message),
            _ => Err(Failed {
                message: if message.is_empty() { "the OCI runtime failed without saying why".into() } else { message },
                program: code.and_then(ProgramFailure::from_exit_code),
            }),
        }
    }

    /// The child's pid and the read end of the pipe it answers through, for a caller
    /// that polls rather than waits (a health check, see `health`).
    pub(crate) fn into_parts(self) -> (Pid, OwnedFd) {
        (self.pid, self.message)
    }

    /// Forks; the child runs `f` with `stdio` as its 0, 1 and 2, writes what it returns
    /// (or its error) to the pipe, and exits.
    pub(crate) fn call(
        log: &Path,
        stdio: Option<[OwnedFd; 3]>,
        f: impl FnOnce() -> lindocker_runtime::Result<String>,
    ) -> io::Result<Forked> {
        Forked::fork(log, stdio, f)
    }

    /// As [`Forked::call`] with no stdio: a long-lived child (a health check, a log
    /// compression) that holds none of the shim's descriptors (the container's stdin pipe,
    /// clients, the log, locks), as every fork (see `close_shim_fds`).
    pub(crate) fn call_alone(log: &Path, f: impl FnOnce() -> lindocker_runtime::Result<String>) -> io::Result<Forked> {
        Forked::fork(log, None, f)
    }

    fn fork(
        log: &Path,
        stdio: Option<[OwnedFd; 3]>,
        f: impl FnOnce() -> lindocker_runtime::Result<String>,
    ) -> io::Result<Forked> {
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        // The shim is single-threaded here: its only threads (entering a network
        // namespace) are joined before it starts a container.
        let pid = lindocker_sys::clone_process(0)?;
        if pid == 0 {
            drop(read);
            let _ = LOG.set(log.to_path_buf());
            let result = match stdio.as_ref().map(set_stdio).transpose() {
                Ok(_) => match close_shim_fds(&write) {
                    Ok(()) => f().map_err(|e| {
                        // A program that cannot start says which way by the exit code.
                        let code = match &e {
                            lindocker_runtime::Error::Program { failure, .. } => failure.exit_code(),
                            _ => 1,
                        };
                        (e.to_string(), code)
                    }),
                    Err(e) => Err((format!("close the shim's descriptors: {e}"), 1)),
                },
                Err(e) => Err((format!("set up the container's stdio: {e}"), 1)),
            };
            let code = match result {
                Ok(said) => {
                    let _ = rustix::io::write(&write, said.as_bytes());
                    0
                }
                Err((message, code)) => {
                    write_log("error", &message);
                    let _ = rustix::io::write(&write, message.as_bytes());
                    code
                }
            };
            lindocker_sys::exit_immediately(code);
        }
        Ok(Forked { pid: Pid::from_raw(pid).expect("a child's pid is positive"), message: read })
    }
}

/// A fork keeps every descriptor of the shim, close-on-exec or not, and the runtime's
/// child (the container's init) would inherit them: the shim's sockets, its clients, an
/// `O_PATH` descriptor of the state directory (a long console socket path's, see
/// `ShortName`). Only stdio and the answer pipe stay; `stdio`'s originals go too (now
/// 0-2), and whatever the shim's frame still owns is never dropped here: the child exits
/// without unwinding.
fn close_shim_fds(answer: &OwnedFd) -> io::Result<()> {
    lindocker_sys::close_fds_from(3, &[std::os::fd::AsRawFd::as_raw_fd(answer)])
}

fn set_stdio([stdin, stdout, stderr]: &[OwnedFd; 3]) -> io::Result<()> {
    rustix::stdio::dup2_stdin(stdin)?;
    rustix::stdio::dup2_stdout(stdout)?;
    rustix::stdio::dup2_stderr(stderr)?;
    Ok(())
}

fn warn(message: &str) {
    write_log("warning", message);
}

/// A line in the form the binary's `--log-format json` writes.
fn write_log(level: &str, message: &str) {
    use std::io::Write;
    let Some(path) = LOG.get() else { return };
    let time = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
    // Formatted first and written whole: one write per line, not one per JSON token.
    let mut line = serde_json::json!({ "level": level, "msg": message, "time": time }).to_string();
    line.push('\n');
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = file.write_all(line.as_bytes());
    }
}
