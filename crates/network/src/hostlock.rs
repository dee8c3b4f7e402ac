//! One lock per host (per network namespace): held while a data root picks a subnet,
//! makes a bridge, reserves host ports and writes its nftables table, so that two data
//! roots on one host never hand out the same subnet or host port at once.
//!
//! It is an abstract unix socket name bound in this network namespace: the kernel
//! scopes the name to the namespace (the host's, or a test's fake one), frees it when
//! the holder exits however it exits, and leaves no file behind.

use std::time::{Duration, Instant};

use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType, bind, socket_with};

use crate::NetworkError;

const NAME: &[u8] = b"lindocker-network-lock";
/// How long to wait for another data root's network change (each takes milliseconds).
const PATIENCE: Duration = Duration::from_secs(60);

/// The host's network lock, held until dropped.
#[derive(Debug)]
pub struct HostLock {
    _socket: OwnedFd,
}

impl HostLock {
    /// Waits for the lock and takes it.
    pub fn take() -> Result<HostLock, NetworkError> {
        let failed = |e: Errno| NetworkError::Io { path: "@lindocker-network-lock".into(), source: e.into() };
        let address = SocketAddrUnix::new_abstract_name(NAME).map_err(failed)?;
        let until = Instant::now() + PATIENCE;
        let mut pause = Duration::from_micros(500);
        loop {
            let socket =
                socket_with(AddressFamily::UNIX, SocketType::DGRAM, SocketFlags::CLOEXEC, None).map_err(failed)?;
            match bind(&socket, &address) {
                Ok(()) => return Ok(HostLock { _socket: socket }),
                Err(Errno::ADDRINUSE) if Instant::now() < until => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(Errno::ADDRINUSE) => {
                    return Err(NetworkError::Firewall(
                        "another lindocker has held this host's network lock for a minute; try again".into(),
                    ));
                }
                Err(e) => return Err(failed(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time() {
        let first = HostLock::take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let _second = HostLock::take().unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err(), "taken twice");
        drop(first);
        rx.recv_timeout(Duration::from_secs(5)).expect("taken after release");
        waiter.join().unwrap();
    }
}
