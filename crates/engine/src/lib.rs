//! The lindocker engine: containers made from images (records, names, the OCI bundle),
//! run under a small monitor process each (the shim), with logs, volumes, and the
//! operations `lindocker` offers on them. Daemonless: every CLI call reads and writes
//! the records under the data root, under per-container locks.

pub mod attach;
pub mod attach_options;
pub mod boot;
pub mod bundle;
pub mod cidfile;
pub mod confinement;
pub mod copy;
pub mod dataroot;
pub mod devices;
pub mod disk_usage;
pub mod events;
pub mod exec;
pub mod files;
pub mod forked;
pub mod health;
pub mod hostinfo;
pub mod ids;
pub mod images;
pub mod inroot;
pub mod inspect;
pub mod legacy;
pub mod lifecycle;
pub mod listing;
pub mod log_config;
pub mod log_read;
pub mod logs;
pub mod mountflag;
pub mod netconnect;
pub mod netops;
pub mod network_info;
pub mod ops;
pub mod options;
pub mod placement;
pub mod platform;
pub mod predefined;
pub mod process;
pub mod record;
pub mod resolv;
pub mod resources;
pub mod runtime;
pub mod sharing;
pub mod shim;
pub mod sysctls;
pub mod top;
pub mod update;
pub mod usage;
pub mod userns;
pub mod users;
pub mod volume_ops;
pub mod volumes;
pub mod waiting;

use std::path::{Path, PathBuf};

pub use lifecycle::{CreateRequest, Engine};

/// Everything the engine can fail with. Messages follow Docker's where a script might
/// match them (`No such container: x`).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No container by that name or id.
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    /// An id prefix matching several containers.
    #[error("multiple containers match {0:?}; give more of the id")]
    Ambiguous(String),
    /// The name belongs to another container.
    #[error(
        "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
    )]
    NameInUse {
        /// The name.
        name: String,
        /// Its owner.
        id: String,
    },
    /// A flag value that makes no sense.
    #[error("invalid argument {value:?} for {option}: {reason}")]
    BadOption {
        /// The flag.
        option: String,
        /// What was given.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// The container is not in a state that allows the operation.
    #[error("{0}")]
    State(String),
    /// A user or group the image does not know.
    #[error("unable to find user {user}: no matching entries in passwd file")]
    NoSuchUser {
        /// The name.
        user: String,
    },
    /// No such file (or other object) in a container.
    #[error("{0}")]
    NotFound(String),
    /// No such volume.
    #[error("No such volume: {0}")]
    NoSuchVolume(String),
    /// From networking, typed (no such network, in use, bad address...).
    #[error(transparent)]
    Net(#[from] lindocker_network::NetworkError),
    /// The OCI runtime binary is missing.
    #[error("unknown or missing runtime {0:?} (lindocker-runtime, runc, crun or a path)")]
    NoRuntime(String),
    /// Networking failed or was refused.
    #[error("{0}")]
    Network(String),
    /// The OCI runtime refused.
    #[error("OCI runtime: {0}")]
    Runtime(String),
    /// Something that should hold does not.
    #[error("{0}")]
    Invalid(String),
    /// A record that does not parse.
    #[error("{}: corrupt: {reason}", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A filesystem operation failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// A path that is not in the container (`cp`, archives).
    #[error("Could not find the file {path} in container {container}")]
    NoSuchPath {
        /// The container as named.
        container: String,
        /// The path.
        path: String,
    },
    /// The container did not start (its shim's message and exit code).
    #[error("{message}")]
    StartFailed {
        /// Why.
        message: String,
        /// The exit code a `run` would end with.
        code: i32,
    },
    /// From the image store.
    #[error(transparent)]
    Image(#[from] lindocker_image::ImageError),
    /// From layered storage.
    #[error(transparent)]
    Storage(#[from] lindocker_storage::StorageError),
}

impl EngineError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        EngineError::Io { path: path.to_path_buf(), source }
    }
}

/// The current time, RFC 3339 with nanoseconds (Docker's format).
pub fn now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}
