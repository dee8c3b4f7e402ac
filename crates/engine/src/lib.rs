//! The lindocker engine: containers made from images (records, names, the OCI bundle),
//! run under a small monitor process each (the shim), with logs, volumes, and the
//! operations `lindocker` offers on them. Daemonless: every CLI call reads and writes
//! the records under the data root, under per-container locks.

pub mod attach;
pub mod attach_options;
pub mod boot;
pub mod build;
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
pub mod go_match;
pub mod health;
pub mod hostinfo;
pub mod ids;
pub mod image_filter;
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
pub mod paths;
pub mod placement;
pub mod platform;
pub mod portproxy;
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
///
/// Front ends map an error by its [`EngineError::kind`], never by its text:
///
/// | [`ErrorKind`]     | API status | variants                                                   |
/// |-------------------|-----------:|------------------------------------------------------------|
/// | `NotFound`        | 404        | `NoSuchContainer`, `NoSuchVolume`, `NotFound`, `NoSuchPath`, no such image, no such network |
/// | `Conflict`        | 409        | `NameInUse`, `State`, a network name taken or in use, a host port taken |
/// | `BadParameter`    | 400        | `Ambiguous`, `BadOption`, `Invalid`, `NoSuchUser`, `NoRuntime`, bad image references and network options, a full subnet |
/// | `Internal`        | 500        | `Runtime`, `StartFailed`, `Corrupt`, `Io`, storage, registry and kernel failures |
///
/// The CLI exits as Docker's does whatever the kind: 125 for `run`/`create`, 1 for other
/// commands.
///
/// (A process that could not be started exits 126/127 as Docker's: the shim records that
/// code in the container's state, not here.)
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
    /// The OCI runtime binary is missing.
    #[error("unknown or missing runtime {0:?} (lindocker-runtime, runc, crun or a path)")]
    NoRuntime(String),
    /// Networking failed or was refused.
    #[error(transparent)]
    Network(#[from] lindocker_network::NetworkError),
    /// The network helper process (`lindocker network-hook`, run by a shim) failed: its
    /// message, and the kind it reported through its exit code (see
    /// [`ErrorKind::exit_code`]).
    #[error("{message}")]
    NetworkHelper {
        /// What kind of failure the helper reported.
        kind: ErrorKind,
        /// Its message.
        message: String,
    },
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
    /// A build step failed (a `RUN` that exited non-zero, a `COPY` of nothing): BuildKit's
    /// message.
    #[error("{0}")]
    StepFailed(String),
    /// From the image store.
    #[error(transparent)]
    Image(#[from] lindocker_image::ImageError),
    /// From layered storage.
    #[error(transparent)]
    Storage(#[from] lindocker_storage::StorageError),
}

/// What kind of failure an [`EngineError`] is, for front ends to map to an HTTP status or
/// an exit code (see the table on [`EngineError`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// What was named does not exist (404).
    NotFound,
    /// It exists, but its state or a name in use forbids the operation (409).
    Conflict,
    /// The request itself is wrong (400).
    BadParameter,
    /// The engine, the kernel or a runtime failed (500).
    Internal,
}

impl ErrorKind {
    /// Docker's HTTP status for it.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::BadParameter => 400,
            ErrorKind::Internal => 500,
        }
    }

    /// The exit code a helper process (`lindocker network-hook`) ends with to report this
    /// kind to the process that ran it; [`ErrorKind::from_exit_code`] reads it back.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::NotFound => 64,
            ErrorKind::Conflict => 65,
            ErrorKind::BadParameter => 66,
            ErrorKind::Internal => 67,
        }
    }

    /// The kind a helper's exit code reports; any other failing code is `Internal`.
    pub fn from_exit_code(code: Option<i32>) -> ErrorKind {
        match code {
            Some(64) => ErrorKind::NotFound,
            Some(65) => ErrorKind::Conflict,
            Some(66) => ErrorKind::BadParameter,
            _ => ErrorKind::Internal,
        }
    }
}

impl EngineError {
    /// What kind of failure this is (see the table on [`EngineError`]).
    pub fn kind(&self) -> ErrorKind {
        use lindocker_image::ImageError as I;
        use lindocker_network::NetworkError as N;
        match self {
            EngineError::NoSuchContainer(_)
            | EngineError::NoSuchVolume(_)
            | EngineError::NotFound(_)
            | EngineError::NoSuchPath { .. } => ErrorKind::NotFound,
            EngineError::NameInUse { .. } | EngineError::State(_) => ErrorKind::Conflict,
            EngineError::Ambiguous(_)
            | EngineError::BadOption { .. }
            | EngineError::Invalid(_)
            | EngineError::NoSuchUser { .. }
            | EngineError::NoRuntime(_) => ErrorKind::BadParameter,
            EngineError::Network(e) => match e {
                N::NoSuchNetwork(_) => ErrorKind::NotFound,
                N::NameTaken(_) | N::InUse { .. } | N::PortTaken { .. } => ErrorKind::Conflict,
                N::Overlap { .. } | N::BadAddress { .. } | N::Invalid { .. } | N::Full(_) => ErrorKind::BadParameter,
                N::Netlink(_) | N::Firewall(_) | N::Dns(_) | N::Io { .. } | N::Corrupt { .. } => ErrorKind::Internal,
            },
            EngineError::NetworkHelper { kind, .. } => *kind,
            EngineError::Image(e) => match e {
                I::NoSuchImage(_) => ErrorKind::NotFound,
                I::BadReference { .. } | I::Ambiguous(_) | I::BadPlatform(_) | I::BadChange { .. } => {
                    ErrorKind::BadParameter
                }
                _ => ErrorKind::Internal,
            },
            EngineError::Runtime(_)
            | EngineError::StartFailed { .. }
            | EngineError::StepFailed(_)
            | EngineError::Corrupt { .. }
            | EngineError::Io { .. }
            | EngineError::Storage(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        EngineError::Io { path: path.to_path_buf(), source }
    }
}

/// The current time, RFC 3339 with nanoseconds (Docker's format).
pub fn now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lindocker_network::NetworkError;

    #[test]
    fn kinds_map_to_docker_statuses() {
        let cases: Vec<(EngineError, u16)> = vec![
            (EngineError::NoSuchContainer("x".into()), 404),
            (EngineError::NoSuchVolume("v".into()), 404),
            (EngineError::Image(lindocker_image::ImageError::NoSuchImage("i".into())), 404),
            (NetworkError::NoSuchNetwork("n".into()).into(), 404),
            (EngineError::NameInUse { name: "a".into(), id: "b".into() }, 409),
            (EngineError::State("is running".into()), 409),
            (NetworkError::NameTaken("n".into()).into(), 409),
            (EngineError::Ambiguous("ab".into()), 400),
            (EngineError::Invalid("Duplicate mount point: /x".into()), 400),
            (NetworkError::Invalid { what: "subnet".into(), value: "x".into(), reason: "bad".into() }.into(), 400),
            (EngineError::Runtime("failed".into()), 500),
            (EngineError::io(Path::new("/x"), std::io::Error::other("eio")), 500),
        ];
        for (error, status) in cases {
            assert_eq!(error.kind().http_status(), status, "{error}");
        }
    }

    #[test]
    fn a_network_error_keeps_its_variant_and_message() {
        let e: EngineError = NetworkError::PortTaken { address: "0.0.0.0".into(), port: 80 }.into();
        assert!(matches!(e, EngineError::Network(NetworkError::PortTaken { port: 80, .. })));
        assert_eq!(e.to_string(), "Bind for 0.0.0.0:80 failed: port is already allocated");
    }

    #[test]
    fn a_helper_reports_its_kind_through_its_exit_code() {
        for kind in [ErrorKind::NotFound, ErrorKind::Conflict, ErrorKind::BadParameter, ErrorKind::Internal] {
            assert_eq!(ErrorKind::from_exit_code(Some(kind.exit_code().into())), kind);
        }
        assert_eq!(ErrorKind::from_exit_code(Some(1)), ErrorKind::Internal);
        assert_eq!(ErrorKind::from_exit_code(None), ErrorKind::Internal);
    }
}
