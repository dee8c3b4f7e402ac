use std::path::PathBuf;

/// Errors from cgroup operations; each names the file or setting involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No cgroup file system is mounted where the host should have it.
    #[error("no cgroup hierarchy found in /proc/self/mountinfo")]
    NoHierarchy,
    /// A cgroup file could not be read, written or created.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("write", "mkdir", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The kernel's answer.
        #[source]
        source: std::io::Error,
    },
    /// A limit was asked for that this host's cgroups cannot enforce.
    #[error("linux.resources.{field}: {reason}")]
    Unsupported {
        /// The OCI field, e.g. `hugepageLimits`.
        field: String,
        /// Why it cannot be honoured here.
        reason: String,
    },
    /// A cgroup path that would leave the hierarchy.
    #[error("invalid cgroupsPath {0:?}: must not contain '..'")]
    BadPath(String),
    /// A cgroupsPath that is not a valid systemd `slice:prefix:name`, or one given
    /// without `--systemd-cgroup`.
    #[error("invalid cgroupsPath {path:?}: {reason}")]
    BadSystemdPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// systemd is missing, or refused or failed a request.
    #[error("systemd cgroup driver: {0}")]
    Systemd(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}
