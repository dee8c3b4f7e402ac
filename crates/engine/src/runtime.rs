//! The OCI runtime binary the engine drives: lindocker-runtime by default, runc or crun
//! (or any runc-compatible binary) by `--runtime`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::EngineError;

/// One runtime binary with its state root.
#[derive(Debug, Clone)]
pub struct OciRuntime {
    /// The binary.
    pub bin: PathBuf,
    /// Its `--root`.
    pub root: PathBuf,
    /// Where it writes errors (`--log`).
    pub log: PathBuf,
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
            let beside =
                std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join(name))).filter(|p| p.is_file());
            beside.or_else(|| find_in_path(name)).ok_or_else(|| EngineError::NoRuntime(name.into()))?
        };
        if !bin.is_file() {
            return Err(EngineError::NoRuntime(name.into()));
        }
        let base = bin.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "runtime".into());
        let root = state.join("runtime").join(&base);
        Ok(OciRuntime { bin, log: state.join("runtime").join(format!("{base}.log")), root })
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

    /// Runs a runtime command that must succeed; its error message otherwise.
    pub fn run(&self, args: &[&str]) -> Result<String, EngineError> {
        let out = self.command().args(args).stdin(Stdio::null()).output().map_err(|e| EngineError::io(&self.bin, e))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(EngineError::Runtime(self.message(&out.stderr)))
        }
    }

    /// `delete --force`, retried: right after an exit the kernel may still be tearing the
    /// cgroup's last processes down (rmdir answers EBUSY), and a container the runtime
    /// still knows can neither start again under its id nor count as gone.
    pub fn delete_force(&self, id: &str) {
        for _ in 0..40 {
            match self.run(&["delete", "--force", id]) {
                Ok(_) => return,
                Err(e) if e.to_string().contains("not exist") || e.to_string().contains("no such") => return,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(25)),
            }
        }
    }

    /// Starts `delete --force` in the background, so that other teardown can go on
    /// beside it; [`PendingDelete::finish`] waits for it (and retries like
    /// [`OciRuntime::delete_force`] if it failed).
    pub fn delete_in_background(&self, id: &str) -> PendingDelete<'_> {
        let child = self
            .command()
            .args(["delete", "--force", id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .ok();
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

/// Docker's exit code for a process that could not be started: 127 when the command
/// does not exist, 126 when it cannot be executed, else 125.
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
    child: Option<std::process::Child>,
}

impl PendingDelete<'_> {
    /// Waits for the delete; retries it in the foreground if it did not succeed.
    pub fn finish(self) {
        let done = self.child.and_then(|c| c.wait_with_output().ok()).is_some_and(|out| out.status.success());
        if !done {
            self.runtime.delete_force(&self.id);
        }
    }
}
