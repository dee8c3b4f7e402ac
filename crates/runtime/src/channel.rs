//! The typed message channel between the runtime and the container's init while it is
//! set up: a `SOCK_SEQPACKET` socket pair, one JSON message per packet.

use std::os::fd::{AsFd, OwnedFd};

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use serde::{Deserialize, Serialize};

/// What the two sides say to each other, in the order they usually say it.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Message {
    /// child -> parent: I entered a new user namespace; write my uid/gid maps.
    MapRequest,
    /// parent -> child: the maps are written.
    Mapped,
    /// intermediate child -> parent: the container's init has this host pid.
    InitPid(i32),
    /// parent -> child: systemd has put you into your cgroup (the systemd driver, which
    /// needs the process before the cgroup exists); go on.
    InCgroup,
    /// parent -> init: you are in your cgroup (and mapped); go on.
    Go,
    /// init -> parent: mounts are ready; run `prestart` and `createRuntime` hooks now.
    RunHooks,
    /// parent -> init: those hooks succeeded.
    HooksDone,
    /// init -> parent: set up; waiting for `start`.
    Ready,
    /// either way: this step failed, with a message naming it.
    Error(String),
    /// init -> parent: the process's program cannot be started, and why.
    ProgramError {
        /// What is wrong, naming the program.
        message: String,
        /// Missing, or not executable.
        failure: ProgramFailure,
    },
}

/// Why a container's program cannot be started, as Docker tells it by exit code.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ProgramFailure {
    /// No such file, or not in `$PATH` (Docker's exit code 127).
    NotFound,
    /// There, but not executable (Docker's exit code 126).
    NotExecutable,
}

impl ProgramFailure {
    /// Docker's exit code for it: 127 or 126.
    pub fn exit_code(self) -> i32 {
        match self {
            ProgramFailure::NotFound => 127,
            ProgramFailure::NotExecutable => 126,
        }
    }

    /// The failure an exit code reports (see [`ProgramFailure::exit_code`]), if it is one.
    pub fn from_exit_code(code: i32) -> Option<ProgramFailure> {
        match code {
            127 => Some(ProgramFailure::NotFound),
            126 => Some(ProgramFailure::NotExecutable),
            _ => None,
        }
    }
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// Creates a connected pair (close-on-exec, so the container never inherits it).
pub fn pair() -> std::io::Result<(Channel, Channel)> {
    let (a, b) = rustix::net::socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl AsFd for Channel {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Channel {
    /// Sends one message.
    pub fn send(&self, msg: &Message) -> std::io::Result<()> {
        let data = serde_json::to_vec(msg).expect("messages serialize");
        rustix::net::send(self.fd.as_fd(), &data, SendFlags::NOSIGNAL)?;
        Ok(())
    }

    /// Receives one message; `None` when the other side closed its end (it exited).
    pub fn recv(&self) -> std::io::Result<Option<Message>> {
        let mut buf = vec![0u8; 64 * 1024];
        let (len, _) = loop {
            match rustix::net::recv(self.fd.as_fd(), &mut buf[..], RecvFlags::empty()) {
                Err(rustix::io::Errno::INTR) => continue,
                other => break other?,
            }
        };
        if len == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..len])
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Receives a message and insists that it is `expected`; an `Error` from the other
    /// side comes back as the error text.
    pub fn expect(&self, expected: Message) -> Result<(), String> {
        match self.recv() {
            Ok(Some(m)) if m == expected => Ok(()),
            Ok(Some(Message::Error(e))) | Ok(Some(Message::ProgramError { message: e, .. })) => Err(e),
            Ok(Some(other)) => Err(format!("protocol error: expected {expected:?}, got {other:?}")),
            Ok(None) => Err("the other side exited during setup".into()),
            Err(e) => Err(format!("setup channel: {e}")),
        }
    }
}
