//! Terminals: passing a pty master over a unix socket (SCM_RIGHTS, as runc does with
//! `--console-socket`), and, for a foreground `run` without one, relaying our own
//! terminal to the container's pty.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, OwnedFd};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags,
};
use rustix::termios::{OptionalActions, Termios};

/// Sends `fd` over a unix socket with `name` as the payload.
pub fn send_fd(socket: &impl AsFd, fd: &impl AsFd, name: &[u8]) -> std::io::Result<()> {
    let fds = [fd.as_fd()];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(&fds));
    rustix::net::sendmsg(socket, &[IoSlice::new(name)], &mut control, SendFlags::NOSIGNAL)?;
    Ok(())
}

/// Receives one descriptor sent by [`send_fd`].
pub fn receive_fd(socket: &impl AsFd) -> std::io::Result<OwnedFd> {
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut name = [0u8; 4096];
    rustix::net::recvmsg(socket, &mut [IoSliceMut::new(&mut name)], &mut control, RecvFlags::CMSG_CLOEXEC)?;
    control
        .drain()
        .find_map(|m| match m {
            RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
            _ => None,
        })
        .ok_or_else(|| std::io::Error::other("no descriptor received from the container"))
}

/// Our terminal in raw mode (keys go to the container as typed), restored on drop.
pub struct RawTerminal {
    saved: Termios,
}

impl RawTerminal {
    /// Puts stdin in raw mode if it is a terminal.
    pub fn enter() -> Option<RawTerminal> {
        let stdin = std::io::stdin();
        if !rustix::termios::isatty(&stdin) {
            return None;
        }
        let saved = rustix::termios::tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(&stdin, OptionalActions::Now, &raw).ok()?;
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(std::io::stdin(), OptionalActions::Now, &self.saved);
    }
}

/// Copies our terminal's size to the container's pty (at start and on SIGWINCH).
pub fn copy_window_size(master: &impl AsFd) {
    if let Ok(size) = rustix::termios::tcgetwinsize(std::io::stdin()) {
        let _ = rustix::termios::tcsetwinsize(master, size);
    }
}
