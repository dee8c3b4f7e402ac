//! The embedded DNS server of user networks (not the default `bridge`, as Docker's):
//! names of containers (name, `--network-alias`es, host name, 12-char id) per network,
//! A, AAAA and PTR, everything else forwarded to the container's `--dns` servers or the
//! host's; nothing forwarded from an `--internal` network.
//!
//! One process per data root (`lindocker-dns`, like aardvark-dns), daemonless at rest:
//! the first attach to a user network starts it ([`ensure`], under the store's lock), a
//! later one finds it through its pid file in the state directory (and starts it again
//! if it died); it exits by itself once the last container has left. It listens on each
//! user network's gateway addresses, as Podman's does: a container's resolv.conf names
//! its first network's gateway, and no rule in the container's namespace is needed (a
//! DNAT to 127.0.0.11 as Docker does would cost an nft run per container start).

pub mod answer;
pub mod confine;
pub mod server;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::NetworkError;

/// The server's binary name (it is installed beside `lindocker`).
pub const BINARY: &str = "lindocker-dns";

/// Where the server of a state directory keeps its pid.
pub fn pid_file(state: &Path) -> PathBuf {
    state.join("network-dns.pid")
}

/// Where the server of a state directory writes what went wrong.
pub fn log_file(state: &Path) -> PathBuf {
    state.join("network-dns.log")
}

/// The pid of the live server of data root `root`, if there is one: the pid file's
/// process, if it is `lindocker-dns --root <root>` (not a reused pid).
pub fn running(root: &Path, state: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_file(state)).ok()?.trim().parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    let ours = args.first().is_some_and(|a| a.ends_with(BINARY.as_bytes()))
        && args.windows(2).any(|w| w[0] == b"--root" && w[1] == root.as_os_str().as_encoded_bytes());
    ours.then_some(pid)
}

/// Stops the server of `root` (the last container has left a user network), and waits
/// for it to be gone (a second at most), so that nothing of it outlives the container.
/// The caller holds the store's lock. The server would notice by itself, within a tick.
pub fn stop(root: &Path, state: &Path) {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use rustix::process::{Pid, PidfdFlags, Signal, kill_process, pidfd_open};
    let Some(pid) = running(root, state).and_then(|p| Pid::from_raw(p as i32)) else { return };
    // The pidfd first: the pid cannot be someone else's once it is held.
    let Ok(fd) = pidfd_open(pid, PidfdFlags::empty()) else { return };
    if running(root, state).is_none() || kill_process(pid, Signal::TERM).is_err() {
        return;
    }
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let _ = poll(&mut fds, Some(&Timespec { tv_sec: 1, tv_nsec: 0 }));
    let _ = std::fs::remove_file(pid_file(state));
}

/// Makes sure the server of `root` runs, starting `binary` if not; returns once it
/// listens. The caller holds the store's lock (so the server cannot be deciding to exit
/// meanwhile: it decides under that lock too).
pub fn ensure(binary: &Path, root: &Path, state: &Path) -> Result<(), NetworkError> {
    match begin(binary, root, state)? {
        Some(starting) => starting.ready(state),
        None => Ok(()),
    }
}

/// A server being started: it reads the store and binds while the caller goes on (an
/// attach sets links up meanwhile), then [`Starting::ready`] waits for it.
#[derive(Debug)]
pub struct Starting(std::process::Child);

impl Starting {
    /// Waits until the server listens; if it does not, ends it and says why.
    pub fn ready(self, state: &Path) -> Result<(), NetworkError> {
        let mut child = self.0;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        if line != "ready\n" {
            let _ = child.kill();
            let _ = child.wait();
            let why = std::fs::read_to_string(log_file(state)).unwrap_or_default();
            return Err(NetworkError::Dns(format!("the DNS server did not start: {}", why.trim())));
        }
        // Reaped by whoever outlives it (a long-lived API server would keep a zombie).
        std::thread::spawn(move || child.wait());
        Ok(())
    }
}

/// Starts the server of `root` if it does not run (without waiting for it: see
/// [`Starting`]); `None` if it runs. The caller holds the store's lock.
pub fn begin(binary: &Path, root: &Path, state: &Path) -> Result<Option<Starting>, NetworkError> {
    if running(root, state).is_some() {
        return Ok(None);
    }
    let log = std::fs::File::create(log_file(state)).map_err(|e| NetworkError::io(&log_file(state), e))?;
    let child = {
        use std::os::unix::process::CommandExt;
        Command::new(binary)
            .arg("--root")
            .arg(root)
            .arg("--state")
            .arg(state)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            // Its own process group: a ^C to the CLI that started it is not for it.
            .process_group(0)
            .spawn()
            .map_err(|e| NetworkError::io(binary, e))?
    };
    Ok(Some(Starting(child)))
}
