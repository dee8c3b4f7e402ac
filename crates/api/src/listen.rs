//! Where the service listens: a unix socket (Docker's default, mode 0660, group
//! `docker`), loopback TCP, or the socket systemd passed (socket activation).

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The default socket, where Docker's tools look once `DOCKER_HOST` names it.
pub const DEFAULT_SOCKET: &str = "/run/lindocker/docker.sock";

/// An address to listen on, as given (`unix:///PATH`, `tcp://127.0.0.1:PORT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A unix socket at this path.
    Unix(PathBuf),
    /// A TCP address.
    Tcp(SocketAddr),
}

impl Address {
    /// Parses `unix:///PATH` or `tcp://HOST:PORT` (an IP address: no name lookups).
    /// A non-loopback TCP address is refused unless `remote` (the API gives root on
    /// this host to whoever reaches it, without authentication).
    pub fn parse(text: &str, remote: bool) -> Result<Address, String> {
        if let Some(path) = text.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(format!("{text:?}: the socket path must be absolute (unix:///PATH)"));
            }
            if path.contains('\0') {
                return Err(format!("{text:?}: NUL in the path"));
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = text.strip_prefix("tcp://") {
            let addr: SocketAddr =
                addr.parse().map_err(|_| format!("{text:?}: expected tcp://IP:PORT (an IP address, not a name)"))?;
            if !addr.ip().is_loopback() && !remote {
                return Err(format!(
                    "{text:?}: not a loopback address; the API gives root on this host to anyone who reaches it, \
                     without authentication (use --allow-remote-tcp to insist)"
                ));
            }
            return Ok(Address::Tcp(addr));
        }
        Err(format!("{text:?}: expected unix:///PATH or tcp://IP:PORT"))
    }
}

/// A bound listening socket.
#[derive(Debug)]
pub enum Listener {
    /// Unix socket.
    Unix(std::os::unix::net::UnixListener),
    /// TCP socket.
    Tcp(std::net::TcpListener),
}

/// An accepted connection.
#[derive(Debug)]
pub enum Stream {
    /// Over a unix socket.
    Unix(tokio::net::UnixStream),
    /// Over TCP.
    Tcp(tokio::net::TcpStream),
}

/// The listener inside the runtime.
#[derive(Debug)]
pub enum TokioListener {
    /// Unix socket.
    Unix(tokio::net::UnixListener),
    /// TCP socket.
    Tcp(tokio::net::TcpListener),
}

impl TokioListener {
    /// The next connection.
    pub async fn accept(&self) -> io::Result<Stream> {
        Ok(match self {
            TokioListener::Unix(l) => Stream::Unix(l.accept().await?.0),
            TokioListener::Tcp(l) => {
                let (s, _) = l.accept().await?;
                let _ = s.set_nodelay(true);
                Stream::Tcp(s)
            }
        })
    }
}

impl Listener {
    /// Binds `address`. A unix socket's directory is made (0755) if missing; a stale
    /// socket file (nothing accepts on it) is replaced, a live one is an error; the new
    /// socket gets mode 0660 and the group `docker` if this host has one.
    pub fn bind(address: &Address) -> io::Result<Listener> {
        match address {
            Address::Tcp(addr) => Ok(Listener::Tcp(std::net::TcpListener::bind(addr)?)),
            Address::Unix(path) => bind_unix(path),
        }
    }

    /// The socket systemd passed, if we were socket-activated.
    pub fn from_systemd() -> Option<Listener> {
        let fd = lindocker_sys::take_systemd_listener()?;
        let is_unix = matches!(rustix::net::getsockname(&fd), Ok(addr) if addr.address_family() == rustix::net::AddressFamily::UNIX);
        Some(if is_unix {
            Listener::Unix(std::os::unix::net::UnixListener::from(fd))
        } else {
            Listener::Tcp(std::net::TcpListener::from(fd))
        })
    }

    /// Into the tokio runtime (must be called inside it).
    pub fn into_tokio(self) -> io::Result<TokioListener> {
        Ok(match self {
            Listener::Unix(l) => {
                l.set_nonblocking(true)?;
                TokioListener::Unix(tokio::net::UnixListener::from_std(l)?)
            }
            Listener::Tcp(l) => {
                l.set_nonblocking(true)?;
                TokioListener::Tcp(tokio::net::TcpListener::from_std(l)?)
            }
        })
    }
}

fn bind_unix(path: &Path) -> io::Result<Listener> {
    use std::os::unix::fs::FileTypeExt;
    if let Some(dir) = path.parent()
        && !dir.exists()
    {
        std::fs::DirBuilder::new().recursive(true).mode(0o755).create(dir)?;
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: exists and is not a socket", path.display()),
            ));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{}: another service listens there", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    // Bound under umask 0177 (as dockerd does): the socket is the owner's alone from its
    // first moment, not open to anyone (a umask of 0: mode 0777) until the chmod below.
    // The service binds once, before its runtime starts threads.
    let umask = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    let bound = std::os::unix::net::UnixListener::bind(path);
    rustix::process::umask(umask);
    let listener = bound?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    if let Some(gid) = docker_group() {
        rustix::fs::chown(path, None, Some(rustix::fs::Gid::from_raw(gid)))?;
    }
    Ok(Listener::Unix(listener))
}

use std::os::unix::fs::DirBuilderExt;

/// The gid of group `docker` in /etc/group, if there is one.
fn docker_group() -> Option<u32> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == "docker").then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(Address::parse("unix:///run/x.sock", false), Ok(Address::Unix("/run/x.sock".into())));
        assert!(Address::parse("unix://run/x.sock", false).is_err());
        assert!(Address::parse("tcp://127.0.0.1:2375", false).is_ok());
        assert!(Address::parse("tcp://[::1]:2375", false).is_ok());
        assert!(Address::parse("tcp://0.0.0.0:2375", false).is_err());
        assert!(Address::parse("tcp://0.0.0.0:2375", true).is_ok());
        assert!(Address::parse("tcp://localhost:2375", false).is_err());
        assert!(Address::parse("http://127.0.0.1:1", false).is_err());
    }
}
