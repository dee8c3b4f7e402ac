//! The OCI runtime binary the engine drives: lindocker-runtime by default, runc or crun
//! (or any runc-compatible binary) by `--runtime`.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lindocker_runtime::ProgramFailure;

use crate::EngineError;
use crate::forked::Forked;

/// The default runtime's name.
pub const DEFAULT: &str = "lindocker-runtime";

/// One runtime binary with its state root.
#[derive(Debug, Clone)]
pub struct OciRuntime {
    /// The binary.
    pub bin: PathBuf,
    /// Its `--root`.
    pub root: PathBuf,
    /// Where it writes errors (`--log`).
    pub log: PathBuf,
    /// Whether `run --detach` and `delete` call the linked-in lindocker-runtime in a
    /// forked child instead of exec'ing the binary (see [`crate::forked`]).
    forked: bool,
}

/// What `run --detach` needs besides the id.
#[derive(Debug)]
pub struct Launch<'a> {
    /// The bundle directory.
    pub bundle: &'a Path,
    /// Where the runtime writes the init's pid (an exec'd runtime).
    pub pid_file: &'a Path,
    /// Where the runtime sends the pty master (`process.terminal`).
    pub console_socket: Option<&'a Path>,
    /// The init's stdin, stdout and stderr.
    pub stdio: [OwnedFd; 3],
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|c| c.is_file()))
        .unwrap_or(None)
}

impl OciRuntime {
    /// Finds runtime `name` (a name on $PATH, beside our own binary, or a path); its
    /// state lives under `state/runtime/<name>`.
    pub fn resolve(name: &str, state: &Path) -> Result<OciRuntime, EngineError> {
        let bin = if name.contains('/') {
            PathBuf::from(name)
        } else {
            let beside = lindocker_runtime::sealed_exe::program_path()
                .ok()
                .and_then(|e| e.parent().map(|d| d.join(name)))
                .filter(|p| p.is_file());
            beside.or_else(|| find_in_path(name)).ok_or_else(|| EngineError::NoRuntime(name.into()))?
        };
        if !bin.is_file() {
            return Err(EngineError::NoRuntime(name.into()));
        }
        let base = bin.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "runtime".into());
        let root = state.join("runtime").join(&base);
        Ok(OciRuntime { bin, log: state.join("runtime").join(format!("{base}.log")), root, forked: false })
    }

    /// The same runtime; if it is our own (the `lindocker-runtime` installed beside this
    /// binary, whose library is linked in), `run --detach` and `delete` fork this process
    /// and call the library instead of exec'ing the binary. Only for a single-threaded
    /// caller (the shim): a fork keeps only the calling thread.
    pub fn forking(mut self) -> OciRuntime {
        let ours = lindocker_runtime::sealed_exe::program_path().ok().and_then(|e| e.parent().map(|d| d.join(DEFAULT)));
        self.forked = ours.is_some_and(|ours| ours == self.bin);
        self
    }

    /// Whether this is our own runtime, linked in and called in a fork (see
    /// [`OciRuntime::forking`]).
    pub fn links_library(&self) -> bool {
        self.forked
    }

    /// The same runtime, writing its errors to `log`.
    pub fn with_log(mut self, log: PathBuf) -> OciRuntime {
        self.log = log;
        self
    }

    /// A command with the global flags set.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).arg("--log").arg(&self.log).arg("--log-format").arg("json");
        c
    }

    /// A command for a runtime call whose processes enter the container (`exec`): our own
    /// `lindocker-runtime` starts from a sealed image of its binary (CVE-2019-5736, see
    /// `lindocker_runtime::sealed_exe`), which it would otherwise make and re-execute
    /// itself from (an exec more, ~1 ms). The descriptor must stay open until the command
    /// is spawned.
    pub fn entering_command(&self) -> (Command, Option<std::os::fd::OwnedFd>) {
        use std::os::unix::process::CommandExt;
        let ours = lindocker_runtime::sealed_exe::program_path()
            .ok()
            .and_then(|e| e.parent().map(|d| d.join(DEFAULT)))
            .is_some_and(|ours| ours == self.bin);
        let sealed = if ours { lindocker_runtime::sealed_exe::seal(&self.bin).ok() } else { None };
        let Some(fd) = sealed else { return (self.command(), None) };
        let mut c = Command::new(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd)));
        c.arg0(&self.bin).env(lindocker_runtime::sealed_exe::ORIGIN_ENV, &self.bin);
        c.arg("--root").arg(&self.root).arg("--log").arg(&self.log).arg("--log-format").arg("json");
        (c, Some(fd))
    }

    /// Runs a runtime command that must succeed; its error message otherwise.
    pub fn run(&self, args: &[&str]) -> Result<String, EngineError> {
        let out = self.command().args(args).stdin(Stdio::null()).output().map_err(|e| EngineError::io(&self.bin, e))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(EngineError::Runtime(self.message(&out.stderr)))
        }
    }

    /// `run --detach ID`: creates and starts the container, whose init is left running
    /// (a child of the caller if it is a subreaper). The init's pid, or how it failed.
    pub fn run_detached(&self, id: &str, launch: Launch<'_>) -> Result<i32, StartError> {
        let Launch { bundle, pid_file, console_socket, stdio } = launch;
        if self.forked {
            let opts = lindocker_runtime::container::CreateOptions {
                id: id.to_owned(),
                bundle: bundle.to_path_buf(),
                console_socket: console_socket.map(Path::to_path_buf),
                ..Default::default()
            };
            let said = Forked::run_detached(&self.root, &self.log, opts, stdio)
                .map_err(|e| StartError::engine(format!("fork the runtime: {e}")))?
                .wait()
                .map_err(|f| StartError {
                    code: f.program.map_or(125, ProgramFailure::exit_code),
                    message: f.message,
                })?;
            return said
                .trim()
                .parse()
                .map_err(|_| StartError::engine(format!("the runtime said {said:?}, not a pid")));
        }
        let mut run = self.command();
        run.args(["run", "--detach", "--bundle"]).arg(bundle).arg("--pid-file").arg(pid_file);
        if let Some(socket) = console_socket {
            run.arg("--console-socket").arg(socket);
        }
        let [stdin, stdout, stderr] = stdio;
        let out = run
            .arg("--")
            .arg(id)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .output()
            .map_err(|e| StartError::engine(format!("{}: {e}", self.bin.display())))?;
        if !out.status.success() {
            // runc and crun (and our binary) say why only in words.
            let message = self.message(&out.stderr);
            return Err(StartError { code: start_failure_code(&message), message });
        }
        let pid = std::fs::read_to_string(pid_file).unwrap_or_default();
        pid.trim()
            .parse()
            .map_err(|_| StartError::engine(format!("the runtime wrote no pid to {}", pid_file.display())))
    }

    /// `delete --force`, retried: right after an exit the kernel may still be tearing the
    /// cgroup's last processes down (rmdir answers EBUSY), and a container the runtime
    /// still knows can neither start again under its id nor count as gone.
    pub fn delete_force(&self, id: &str) {
        for _ in 0..40 {
            let done = match self.forked {
                // A container the runtime does not know is deleted already (see `Forked::delete`).
                true => Forked::delete(&self.root, &self.log, id).is_ok_and(|f| f.wait().is_ok()),
                // runc, crun and our binary say so only in words.
                false => match self.run(&["delete", "--force", "--", id]) {
                    Ok(_) => true,
                    Err(e) => {
                        let e = e.to_string();
                        e.contains("not exist") || e.contains("no such")
                    }
                },
            };
            if done {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
    }

    /// Starts `delete --force` in the background, so that other teardown can go on
    /// beside it; [`PendingDelete::finish`] waits for it (and retries like
    /// [`OciRuntime::delete_force`] if it failed).
    pub fn delete_in_background(&self, id: &str) -> PendingDelete<'_> {
        let child = if self.forked {
            Forked::delete(&self.root, &self.log, id).ok().map(Deleting::Forked)
        } else {
            self.command()
                .args(["delete", "--force", "--", id])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .ok()
                .map(Deleting::Exec)
        };
        PendingDelete { runtime: self, id: id.to_owned(), child }
    }

    /// The runtime's last error: from stderr, or from its json log.
    pub fn message(&self, stderr: &[u8]) -> String {
        let text = String::from_utf8_lossy(stderr);
        let mut last = None;
        for line in text.lines().chain(std::fs::read_to_string(&self.log).unwrap_or_default().lines().rev().take(1)) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                if v["level"] == "error" {
                    last = v["msg"].as_str().map(str::to_owned);
                }
            } else if !line.trim().is_empty() && last.is_none() {
                last = Some(line.trim().to_owned());
            }
        }
        last.unwrap_or_else(|| "the OCI runtime failed without saying why".into())
    }
}

/// Why a container did not start, with Docker's exit code for it (127: no such
/// program, 126: not executable, 125: anything else).
#[derive(Debug, Clone)]
pub struct StartError {
    /// Docker's exit code.
    pub code: i32,
    /// The runtime's (or the engine's) message.
    pub message: String,
}

impl StartError {
    fn engine(message: String) -> StartError {
        StartError { code: 125, message }
    }
}

/// Docker's exit code for a process that could not be started, told from the words of a
/// runtime that says no more (runc, crun, an exec'd lindocker-runtime): 127 when the
/// command does not exist, 126 when it cannot be executed, else 125. The forked runtime
/// reports it typed instead (see `forked::Failed`).
pub fn start_failure_code(message: &str) -> i32 {
    let lower = message.to_ascii_lowercase();
    if lower.contains("not found") || lower.contains("no such file") {
        127
    } else if lower.contains("permission denied") || lower.contains("is a directory") || lower.contains("exec format") {
        126
    } else {
        125
    }
}

/// A `delete --force` under way (see [`OciRuntime::delete_in_background`]).
#[must_use = "finish() makes sure the runtime forgot the container"]
pub struct PendingDelete<'a> {
    runtime: &'a OciRuntime,
    id: String,
    child: Option<Deleting>,
}

/// The process doing a delete.
enum Deleting {
    Exec(std::process::Child),
    Forked(Forked),
}

impl PendingDelete<'_> {
    /// Waits for the delete; retries it in the foreground if it did not succeed.
    pub fn finish(self) {
        let done = match self.child {
            Some(Deleting::Exec(c)) => c.wait_with_output().is_ok_and(|out| out.status.success()),
            Some(Deleting::Forked(f)) => f.wait().is_ok(),
            None => false,
        };
        if !done {
            self.runtime.delete_force(&self.id);
        }
    }
}
