//! An exec'd process for a front end that relays its stdio itself (the API server): the
//! OCI process built from the container's record and the request, and the runtime's
//! `exec` command that runs it, with a console socket for a terminal.
//!
//! Interim: `lindocker exec` (cli/.../exec.rs) builds the same process; the two are to
//! become one engine function (issue 14, step one).

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::Command;

use lindocker_runtime::socket_path::ShortName;
use serde_json::json;

use crate::record::{Record, Status};
use crate::{Engine, EngineError, bundle};

/// What to run in a container.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// The command and its arguments.
    pub cmd: Vec<String>,
    /// `KEY=VALUE` laid over the container's environment.
    pub env: Vec<String>,
    /// The user (the container's if `None`).
    pub user: Option<String>,
    /// The working directory (the container's if `None`).
    pub workdir: Option<String>,
    /// A terminal for the process.
    pub tty: bool,
    /// The runtime returns once the process runs (its stdio is the caller's to give).
    pub detach: bool,
}

/// A prepared exec: spawn [`ExecLaunch::command`] (stdio as wanted; with a terminal,
/// accept on [`ExecLaunch::console`] and receive the pty master), then
/// [`ExecLaunch::failure`] and [`ExecLaunch::finish`].
#[derive(Debug)]
pub struct ExecLaunch {
    /// The runtime's `exec` command.
    pub command: Command,
    /// Where the runtime sends the terminal's master (with `tty`).
    pub console: Option<UnixListener>,
    /// The container.
    pub record: Record,
    files: Vec<PathBuf>,
    log: PathBuf,
    _name: Option<ShortName>,
    _sealed: Option<OwnedFd>,
}

impl ExecLaunch {
    /// The runtime's error, if it could not start the process (and Docker's exit code for
    /// it: 126 or 127).
    pub fn failure(&self) -> Option<(String, i32)> {
        let errors = std::fs::read_to_string(&self.log).unwrap_or_default();
        errors
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["level"] == "error")
            .find_map(|v| v["msg"].as_str().map(str::to_owned))
            .map(|m| {
                let code = crate::runtime::start_failure_code(&m);
                (m, code)
            })
    }

    /// Removes the process file, the log and the console socket.
    pub fn finish(self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

impl Engine {
    /// Prepares `request` in the running container `id`.
    pub fn exec_launch(&self, id: &str, request: &ExecRequest) -> Result<ExecLaunch, EngineError> {
        let record = self.reconcile(self.records.read(id)?);
        match record.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(EngineError::State(format!(
                    "Container {} is paused, unpause the container before exec",
                    record.id
                )));
            }
            _ => return Err(EngineError::State(format!("Container {} is not running", record.id))),
        }
        if request.cmd.is_empty() {
            return Err(EngineError::Invalid("No exec command specified".into()));
        }
        let user = request.user.clone().unwrap_or_else(|| record.config.user.clone());
        // The container's own view of /etc, resolved inside its root.
        let root = crate::inroot::running_root(record.state.pid, &record.id);
        let (uid, gid, mut additional) = match &root {
            Ok(root) => crate::users::resolve_at(root, &user),
            Err(_) => bundle::resolve_user(&self.records.dir(id).join("merged"), &user),
        }?;
        let groups = &record.host_config.group_add;
        let extra = match &root {
            Ok(root) => crate::users::resolve_groups_at(root, groups),
            Err(_) => crate::users::resolve_groups(&self.records.dir(id).join("merged"), groups),
        }?;
        for gid in extra {
            if !additional.contains(&gid) {
                additional.push(gid);
            }
        }
        let mut env = record.config.env.clone();
        env.push(format!("HOSTNAME={}", record.config.hostname));
        if request.tty {
            env.push("TERM=xterm".into());
        }
        for pair in &request.env {
            if pair.contains('\0') {
                return Err(EngineError::Invalid(format!("{pair:?}: NUL in an environment variable")));
            }
            let Some((key, _)) = pair.split_once('=') else { continue };
            if key.is_empty() {
                return Err(EngineError::Invalid(format!("{pair:?}: empty variable name")));
            }
            env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
            env.push(pair.clone());
        }
        if request.cmd.iter().any(|a| a.contains('\0')) {
            return Err(EngineError::Invalid("NUL in the command".into()));
        }
        let h = &record.host_config;
        let caps = bundle::capabilities(&h.cap_add, &h.cap_drop, h.privileged);
        let cwd = request.workdir.clone().unwrap_or_else(|| record.config.working_dir.clone());
        let process = json!({
            "terminal": request.tty,
            "user": { "uid": uid, "gid": gid, "additionalGids": additional },
            "args": request.cmd,
            "env": env,
            "cwd": if cwd.is_empty() { "/".to_owned() } else { cwd },
            "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
            "noNewPrivileges": h.no_new_privileges,
        });
        let dir = self.records.dir(id);
        let suffix = lindocker_storage::unique_suffix();
        let process_file = dir.join(format!("exec-{suffix}.json"));
        std::fs::write(&process_file, process.to_string()).map_err(|e| EngineError::io(&process_file, e))?;
        let log = dir.join(format!("exec-{suffix}.log"));
        let mut files = vec![process_file.clone(), log.clone()];
        let runtime = self.runtime_for(&record)?.with_log(log.clone());
        let (mut command, sealed) = runtime.entering_command();
        command.arg("exec").arg("--process").arg(&process_file);
        if request.detach {
            command.arg("--detach");
        }
        let (console, name) = if request.tty {
            let path = self.state.join(format!("exec-{}-{suffix}.tty", &id[..12]));
            let _ = std::fs::remove_file(&path);
            let name = ShortName::new(&path).map_err(|e| EngineError::io(&path, e))?;
            let listener = UnixListener::bind(name.path()).map_err(|e| EngineError::io(&path, e))?;
            command.arg("--tty").arg("--console-socket").arg(name.path());
            files.push(path);
            (Some(listener), Some(name))
        } else {
            (None, None)
        };
        command.arg("--").arg(id);
        Ok(ExecLaunch { command, console, record, files, log, _name: name, _sealed: sealed })
    }
}
