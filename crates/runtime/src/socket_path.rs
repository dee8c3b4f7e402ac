//! Unix sockets named by a path of any length.
//!
//! A socket address holds at most 107 bytes of path, so a socket under a deep data root
//! or state directory (or a caller's deep `--console-socket`) cannot be bound or reached
//! by its full name. Such a path is reached through its directory instead: the directory
//! is opened (`O_PATH`) and the socket named `/proc/<pid>/fd/<n>/<name>`, which the kernel
//! resolves like any other path, to the same directory entry. Short paths are used as
//! they are, so what `ps` and a runc-compatible runtime see does not change.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

/// The longest path a socket address holds (`sun_path` less its terminating NUL).
const MAX_PATH: usize = 107;

/// A name for a socket path that fits in a socket address, valid while it is alive (it
/// may hold the socket's directory open).
#[derive(Debug)]
pub struct ShortName {
    path: PathBuf,
    _dir: Option<OwnedFd>,
}

impl ShortName {
    /// A name for `path` that this process, and any process allowed to look at this
    /// process's descriptors (root on this host), can bind or connect to.
    pub fn new(path: &Path) -> io::Result<ShortName> {
        if path.as_os_str().len() <= MAX_PATH {
            return Ok(ShortName { path: path.to_owned(), _dir: None });
        }
        let name = path.file_name().ok_or_else(|| io::Error::other(format!("{}: no file name", path.display())))?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let fd = rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        let short = PathBuf::from(format!("/proc/{}/fd/{}", std::process::id(), fd.as_raw_fd())).join(name);
        if short.as_os_str().as_bytes().len() > MAX_PATH {
            return Err(io::Error::other(format!("{}: socket file name too long", path.display())));
        }
        Ok(ShortName { path: short, _dir: Some(fd) })
    }

    /// The name to bind, connect or hand to another process.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Binds a listening socket at `path`, however long.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    UnixListener::bind(ShortName::new(path)?.path())
}

/// Connects to the socket at `path`, however long.
pub fn connect(path: &Path) -> io::Result<UnixStream> {
    UnixStream::connect(ShortName::new(path)?.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_deeper_than_an_address_holds_is_bound_and_reached() {
        let base = std::env::temp_dir().join(format!("lindocker-socket-path-{}", std::process::id()));
        let deep = base.join("d".repeat(60)).join("e".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let path = deep.join("x.sock");
        assert!(path.as_os_str().len() > MAX_PATH);
        assert!(UnixListener::bind(&path).is_err(), "the kernel takes this path as it is");
        let listener = bind(&path).unwrap();
        assert!(std::fs::symlink_metadata(&path).is_ok(), "the socket is at its own path");
        let mut client = connect(&path).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        io::Write::write_all(&mut client, b"hi").unwrap();
        let mut got = [0u8; 2];
        io::Read::read_exact(&mut server, &mut got).unwrap();
        assert_eq!(&got, b"hi");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
