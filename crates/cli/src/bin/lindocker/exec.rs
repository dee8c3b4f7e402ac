//! `lindocker exec`: a process joined to a running container, through the OCI runtime's
//! `exec`; with `-t`, our terminal relayed to a pty the runtime hands us.

use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use anyhow::{Context, Result};
use lindocker_engine::events::Event;
use lindocker_engine::record::Status;
use lindocker_engine::{Engine, bundle, runtime};
use lindocker_runtime::socket_path::ShortName;
use serde_json::json;

use crate::Failure;
use crate::containers::ExecArgs;
use crate::terminal::RawTerminal;
use lindocker_engine::attach_options::{DetachMatcher, parse_detach_keys};

/// Runs `lindocker exec`; returns the process's exit code.
pub fn exec(engine: &Engine, a: &ExecArgs) -> Result<u8> {
    let keys = DetachMatcher::new(
        parse_detach_keys(a.detach_keys.as_deref().unwrap_or_default())
            .map_err(|e| Failure::new(125, e.to_string()))?,
    );
    let id = engine.records.resolve(&a.container)?;
    let record = engine.reconcile(engine.records.read(&id)?);
    match record.state.status {
        Status::Running => {}
        Status::Paused => {
            return Err(Failure::new(
                1,
                format!("container {} is paused, unpause the container before exec", record.id),
            )
            .into());
        }
        _ => return Err(Failure::new(1, format!("container {} is not running", record.id)).into()),
    }
    let user = a.user.clone().unwrap_or_else(|| record.config.user.clone());
    // The container's own view of /etc (a volume or tmpfs may lie over it), resolved
    // inside its root; its filesystem if its process cannot be opened.
    let resolved = match lindocker_engine::inroot::running_root(record.state.pid, &record.id) {
        Ok(root) => lindocker_engine::users::resolve_at(&root, &user),
        Err(_) => bundle::resolve_user(&engine.records.dir(&id).join("merged"), &user),
    };
    let (uid, gid, mut additional) = resolved.map_err(|e| Failure::new(126, e.to_string()))?;
    // `--group-add` holds for exec'd processes too (as Docker's).
    let groups = &record.host_config.group_add;
    let extra = match lindocker_engine::inroot::running_root(record.state.pid, &record.id) {
        Ok(root) => lindocker_engine::users::resolve_groups_at(&root, groups),
        Err(_) => lindocker_engine::users::resolve_groups(&engine.records.dir(&id).join("merged"), groups),
    };
    for gid in extra.map_err(|e| Failure::new(126, e.to_string()))? {
        if !additional.contains(&gid) {
            additional.push(gid);
        }
    }
    let mut env = record.config.env.clone();
    env.push(format!("HOSTNAME={}", record.config.hostname));
    if a.tty {
        env.push("TERM=xterm".into());
    }
    for value in &a.env {
        let Some(pair) = lindocker_engine::options::parse_env(value).map_err(|e| Failure::new(125, e.to_string()))?
        else {
            continue;
        };
        let key = pair.split_once('=').map_or(pair.as_str(), |(k, _)| k);
        env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
        env.push(pair);
    }
    let h = &record.host_config;
    let caps = bundle::capabilities(&h.cap_add, &h.cap_drop, h.privileged);
    let cwd = a.workdir.clone().unwrap_or_else(|| record.config.working_dir.clone());
    let process = json!({
        "terminal": a.tty,
        "user": { "uid": uid, "gid": gid, "additionalGids": additional },
        "args": a.command,
        "env": env,
        "cwd": if cwd.is_empty() { "/".to_owned() } else { cwd },
        "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
        "noNewPrivileges": h.no_new_privileges,
    });
    let dir = engine.records.dir(&id);
    let suffix = lindocker_storage::unique_suffix();
    let process_file = dir.join(format!("exec-{suffix}.json"));
    std::fs::write(&process_file, process.to_string())
        .with_context(|| format!("writing {}", process_file.display()))?;
    let log = dir.join(format!("exec-{suffix}.log"));
    let rt = engine.runtime_for(&record)?.with_log(log.clone());
    let (mut cmd, _sealed) = rt.entering_command();
    cmd.arg("exec").arg("--process").arg(&process_file);
    if a.detach {
        cmd.arg("--detach");
    }
    // In the state directory, as the shim's. However deep it is, the runtime gets a name
    // that fits in a socket address (see `socket_path`), valid while `_name` lives.
    let console = engine.state.join(format!("exec-{}-{suffix}.tty", &id[..12]));
    let (listener, _name) = if a.tty {
        let _ = std::fs::remove_file(&console);
        let name = ShortName::new(&console).with_context(|| format!("binding {}", console.display()))?;
        let listener = UnixListener::bind(name.path()).with_context(|| format!("binding {}", console.display()))?;
        cmd.arg("--tty").arg("--console-socket").arg(name.path());
        (Some(listener), Some(name))
    } else {
        (None, None)
    };
    cmd.arg("--").arg(&id);
    // Without a terminal the process gets pipes that we relay (input only with `-i`),
    // never our own descriptors: a process it leaves behind must not read what is typed
    // at our terminal next, or write into it. Detached, it gets /dev/null.
    if a.detach && !a.tty {
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    } else if !a.tty {
        let input = if a.interactive { Stdio::piped() } else { Stdio::null() };
        cmd.stdin(input).stdout(Stdio::piped()).stderr(Stdio::piped());
    } else {
        // The process gets the pty; what we type goes there through us.
        cmd.stdin(Stdio::null());
    }
    // Docker's exec events: the command in the action, the exec's own id attribute.
    let exec_id = lindocker_engine::ids::new_id();
    let command = a.command.join(" ");
    let exec_event = |action: String, extra: Option<(&'static str, String)>| {
        let mut attrs = vec![("execID", exec_id.clone())];
        attrs.extend(extra);
        engine.events.emit(Event::container(&record, &action, &attrs));
    };
    exec_event(format!("exec_create: {command}"), None);
    let result = (|| -> Result<u8> {
        let mut child = cmd.spawn().context("starting the OCI runtime")?;
        exec_event(format!("exec_start: {command}"), None);
        if let Some(listener) = &listener {
            let (stream, _) = listener.accept()?;
            let master = lindocker_runtime::console::receive_fd(&stream)?;
            return match relay_terminal(master, &mut child, a.interactive.then_some(keys))? {
                Some(status) => finish(status, &log),
                // Detached: the process runs on.
                None => Ok(0),
            };
        }
        if a.detach {
            return finish(child.wait()?, &log);
        }
        // Spawned first: the runtime must not inherit a blocked signal mask.
        crate::signals::forward_to_process(child.id());
        let status = relay_pipes(&mut child)?;
        finish(status, &log)
    })();
    let _ = std::fs::remove_file(&process_file);
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(&console);
    // (A detached process's end is nobody's to see.)
    if !a.detach {
        let code = match &result {
            Ok(code) => i32::from(*code),
            Err(e) => e.downcast_ref::<Failure>().map_or(126, |f| i32::from(f.code())),
        };
        exec_event("exec_die".into(), Some(("exitCode", code.to_string())));
    }
    result
}

/// The exit code, or Docker's 126/127 when the runtime could not start the process.
fn finish(status: std::process::ExitStatus, log: &std::path::Path) -> Result<u8> {
    let errors = std::fs::read_to_string(log).unwrap_or_default();
    let message = errors
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["level"] == "error")
        .find_map(|v| v["msg"].as_str().map(str::to_owned));
    if let Some(message) = message {
        return Err(Failure::new(runtime::start_failure_code(&message) as u8, message).into());
    }
    Ok(status.code().unwrap_or(1).clamp(0, 255) as u8)
}

/// Copies the process's output pipes to ours (and, with `-i`, our input to its pipe)
/// until the runtime ends and what the process wrote is read; returns the runtime's
/// status (the process's exit code).
fn relay_pipes(child: &mut std::process::Child) -> Result<std::process::ExitStatus> {
    use rustix::event::{PollFd, PollFlags, poll};
    if let Some(mut input) = child.stdin.take() {
        // Its end closes at our end of input, so the process sees it too.
        std::thread::spawn(move || {
            let _ = io::copy(&mut io::stdin().lock(), &mut input);
        });
    }
    let out = child.stdout.take().context("the runtime's stdout")?;
    let err = child.stderr.take().context("the runtime's stderr")?;
    let pid = rustix::process::Pid::from_raw(child.id() as i32).context("the runtime's pid")?;
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())?;
    let mut open = [true, true];
    let mut ended = false;
    let mut buf = vec![0u8; 64 * 1024];
    while open.iter().any(|o| *o) {
        let sources = [out.as_fd(), err.as_fd()];
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(3);
        let mut which = Vec::with_capacity(2);
        for (i, fd) in sources.iter().enumerate() {
            if open[i] {
                fds.push(PollFd::new(fd, PollFlags::IN));
                which.push(i);
            }
        }
        if !ended {
            fds.push(PollFd::new(&pidfd, PollFlags::IN));
        }
        // Once the runtime has ended, only what is already written is read: a process
        // the exec'd one left running may hold the pipes for good.
        let zero = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
        match poll(&mut fds, if ended { Some(&zero) } else { None }) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(io::Error::from(e).into()),
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        let mut got = false;
        for (k, &i) in which.iter().enumerate() {
            if !ready[k] {
                continue;
            }
            match rustix::io::read(sources[i], &mut buf) {
                Ok(0) => open[i] = false,
                Ok(n) => {
                    got = true;
                    let _ = if i == 0 {
                        let mut stdout = io::stdout().lock();
                        stdout.write_all(&buf[..n]).and_then(|()| stdout.flush())
                    } else {
                        io::stderr().write_all(&buf[..n])
                    };
                }
                Err(rustix::io::Errno::INTR) | Err(rustix::io::Errno::AGAIN) => {}
                Err(_) => open[i] = false,
            }
        }
        if !ended && ready.get(which.len()).copied().unwrap_or(false) {
            ended = true;
        } else if ended && !got {
            break;
        }
    }
    Ok(child.wait()?)
}

/// Relays the process's terminal until it ends (its status) or the detach keys are typed
/// (`None`: a holder keeps the terminal open, so the process runs on, as Docker's daemon
/// keeps it).
fn relay_terminal(
    master: OwnedFd,
    child: &mut std::process::Child,
    input: Option<DetachMatcher>,
) -> Result<Option<std::process::ExitStatus>> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    if let Ok(size) = rustix::termios::tcgetwinsize(io::stdin()) {
        let _ = rustix::termios::tcsetwinsize(&master, size);
    }
    let raw = if io::stdin().is_terminal() { RawTerminal::enter() } else { None };
    let mut out = std::fs::File::from(master.try_clone()?);
    let writer = std::fs::File::from(master.try_clone()?);
    let detached = Arc::new(AtomicBool::new(false));
    if let Some(mut keys) = input {
        let mut writer = writer;
        let detached = detached.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut stdin = io::stdin().lock();
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let (data, detach) = keys.feed(&buf[..n]);
                if writer.write_all(&data).is_err() {
                    break;
                }
                if detach {
                    detached.store(true, Ordering::SeqCst);
                    break;
                }
            }
        });
    }
    let mut buf = [0u8; 16 * 1024];
    loop {
        if detached.load(Ordering::SeqCst) {
            // Its own process group: our terminal's signals do not reach it.
            std::process::Command::new(std::env::current_exe()?)
                .arg("hold-terminal")
                .stdin(master)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .context("keeping the detached terminal open")?;
            drop(raw);
            return Ok(None);
        }
        let mut fds = [rustix::event::PollFd::new(&out, rustix::event::PollFlags::IN)];
        let timeout = rustix::event::Timespec { tv_sec: 0, tv_nsec: 100_000_000 };
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) | Err(_) => {}
        }
        match out.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let mut stdout = io::stdout().lock();
                let _ = stdout.write_all(&buf[..n]);
                let _ = stdout.flush();
            }
        }
    }
    let _ = out.as_fd();
    let status = child.wait()?;
    drop(raw);
    Ok(Some(status))
}

/// `hold-terminal`: reads a detached exec's terminal (our stdin) until it closes, so that
/// its process is not hung up on.
pub fn hold_terminal() {
    let mut buf = [0u8; 16 * 1024];
    let mut stdin = io::stdin().lock();
    while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
}
