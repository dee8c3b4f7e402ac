//! `lindocker exec`: a process joined to a running container (the engine starts it,
//! `lindocker_engine::exec`); its terminal or pipes relayed to ours.

use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use anyhow::{Context, Result};
use clap::Args;
use lindocker_engine::exec::{Exec, ExecIo, ExecRequest};
use lindocker_engine::{Engine, EngineError};

use crate::Failure;
use crate::terminal::RawTerminal;
use lindocker_engine::attach_options::{DetachMatcher, parse_detach_keys};

/// `exec` flags.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Run in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep stdin open.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Environment variables.
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// User.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// The key sequence that detaches (Docker's syntax; default ctrl-p,ctrl-q).
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// The container.
    pub container: String,
    /// The command.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Runs `lindocker exec`; returns the process's exit code.
pub fn exec(engine: &Engine, a: &ExecArgs) -> Result<u8> {
    let keys = DetachMatcher::new(
        parse_detach_keys(a.detach_keys.as_deref().unwrap_or_default())
            .map_err(|e| Failure::new(125, e.to_string()))?,
    );
    let mut env = Vec::new();
    for value in &a.env {
        env.extend(lindocker_engine::options::parse_env(value).map_err(|e| Failure::new(125, e.to_string()))?);
    }
    let request = ExecRequest {
        container: a.container.clone(),
        cmd: a.command.clone(),
        env,
        user: a.user.clone(),
        workdir: a.workdir.clone(),
        tty: a.tty,
        stdin: a.interactive,
        detach: a.detach,
        privileged: false,
    };
    let mut exec = engine.exec(&request).map_err(failure)?;
    // (Dropped at the end: the exec's end is journaled, 126 for an error of ours.)
    relay(&mut exec, a, keys)
}

/// The engine's error as the CLI ends with it: Docker's 126/127 when the process could
/// not be started.
fn failure(e: EngineError) -> anyhow::Error {
    match e {
        EngineError::StartFailed { message, code } => Failure::new(code.clamp(0, 255) as u8, message).into(),
        e => e.into(),
    }
}

/// Relays the started exec to our terminal or stdio until it ends; its exit code.
fn relay(exec: &mut Exec, a: &ExecArgs, keys: DetachMatcher) -> Result<u8> {
    let code = match exec.take_io() {
        ExecIo::Terminal(master) => {
            if relay_terminal(master, a.interactive.then_some(keys))? {
                // Detached: the process runs on.
                exec.leave_running();
                return Ok(0);
            }
            exec.wait().map_err(failure)?
        }
        ExecIo::None => exec.wait().map_err(failure)?,
        ExecIo::Pipes { stdin, stdout, stderr } => {
            // Spawned first: the runtime must not inherit a blocked signal mask.
            crate::signals::forward_to_process(exec.runtime_pid());
            relay_pipes(stdin, stdout, stderr, exec.runtime_pid())?;
            exec.wait().map_err(failure)?
        }
    };
    Ok(code.clamp(0, 255) as u8)
}

/// Copies the process's output pipes to ours (and, with `-i`, our input to its pipe)
/// until the runtime (`pid`) ends and what the process wrote is read.
fn relay_pipes(stdin: Option<OwnedFd>, out: OwnedFd, err: OwnedFd, pid: u32) -> Result<()> {
    use rustix::event::{PollFd, PollFlags, poll};
    if let Some(input) = stdin {
        // Its end closes at our end of input, so the process sees it too.
        let mut input = std::fs::File::from(input);
        std::thread::spawn(move || {
            let _ = io::copy(&mut io::stdin().lock(), &mut input);
        });
    }
    let pid = rustix::process::Pid::from_raw(pid as i32).context("the runtime's pid")?;
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
    Ok(())
}

/// Relays the process's terminal until it ends (`false`) or the detach keys are typed
/// (`true`: a holder keeps the terminal open, so the process runs on, as Docker's daemon
/// keeps it).
fn relay_terminal(master: OwnedFd, input: Option<DetachMatcher>) -> Result<bool> {
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
            return Ok(true);
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
    drop(raw);
    Ok(false)
}

/// `hold-terminal`: reads a detached exec's terminal (our stdin) until it closes, so that
/// its process is not hung up on.
pub fn hold_terminal() {
    let mut buf = [0u8; 16 * 1024];
    let mut stdin = io::stdin().lock();
    while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
}
