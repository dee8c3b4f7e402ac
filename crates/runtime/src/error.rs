use std::path::PathBuf;

/// Everything that can go wrong in the runtime, each naming the object it concerns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `config.json` is unreadable, not JSON, or asks for something invalid.
    #[error("{path}: {field}: {message}")]
    Spec {
        /// The config file.
        path: PathBuf,
        /// The JSON path of the offending field (`linux.namespaces[2].type`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The bundle directory is missing or unusable.
    #[error("bundle {0}: {1}")]
    Bundle(PathBuf, String),
    /// A container id that could escape the state directory or is empty.
    #[error("invalid container id {0:?}: use letters, digits, '_', '+', '-' and '.', not '.' or '..' alone")]
    InvalidId(String),
    /// `create` of an id that is already taken.
    #[error("container {0:?} already exists")]
    Exists(String),
    /// No container of that id under `--root`.
    #[error("container {0:?} does not exist")]
    NotFound(String),
    /// A state file that cannot be read back (torn by a power loss, or edited).
    #[error("state {0}: {1}")]
    BadState(PathBuf, String),
    /// The command does not fit the container's current status.
    #[error("container {id:?} is {status}: {message}")]
    WrongState {
        /// Container id.
        id: String,
        /// Its status now.
        status: String,
        /// What could not be done.
        message: String,
    },
    /// `kill` of a container without processes; the words are runc's, which go-runc
    /// and containerd's shim match (`container not running`).
    #[error("cannot signal container {id:?}: container not running (it is {status})")]
    NotRunning {
        /// Container id.
        id: String,
        /// Its status now.
        status: String,
    },
    /// A signal name or number we do not know.
    #[error("unknown signal {0:?}")]
    UnknownSignal(String),
    /// The container's init process failed while setting up; the message names the step.
    #[error("{0}")]
    Init(String),
    /// The process's program cannot be started (missing, or not executable).
    #[error("{message}")]
    Program {
        /// What is wrong, naming the program.
        message: String,
        /// Which of the two.
        failure: crate::channel::ProgramFailure,
    },
    /// An OCI hook failed.
    #[error("{kind} hook #{index} ({path}): {message}")]
    Hook {
        /// Which hook list (`createRuntime`, `poststart`, ...).
        kind: &'static str,
        /// Position in that list.
        index: usize,
        /// The hook's executable.
        path: PathBuf,
        /// How it failed.
        message: String,
    },
    /// A cgroup could not be created, limited or removed.
    #[error("cgroup: {0}")]
    Cgroup(#[from] lindocker_cgroups::Error),
    /// A system call or file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, on which object.
        context: String,
        /// The error from the kernel.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Adds "what we were doing" to an I/O error.
pub(crate) trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<std::io::Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::Io { context: what(), source: e.into() })
    }
}
