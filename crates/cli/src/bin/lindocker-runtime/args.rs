//! The command line, as containerd's go-runc, Podman and Docker call runc.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// An OCI runtime: runs containers from OCI bundles, runc-compatible.
#[derive(Debug, Parser)]
#[command(name = "lindocker-runtime", disable_version_flag = true)]
pub struct Cli {
    /// Directory for container state (tmpfs recommended).
    #[arg(long, global = true, default_value = lindocker_runtime::state::DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Write log messages to this file instead of stderr.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Format of log messages.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log debug messages too.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accepted for compatibility: the systemd cgroup driver is not implemented; a
    /// `slice:prefix:name` cgroupsPath is mapped to a cgroupfs path instead.
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for compatibility (runc's rootless mode); ignored.
    #[arg(long, global = true, hide = true, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Accepted for compatibility (runc's log level); --debug selects debug output.
    #[arg(long, global = true, hide = true)]
    pub log_level: Option<String>,
    /// Print the version.
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `time level msg` lines.
    Text,
    /// runc's JSON lines: `{"level":"error","msg":"...","time":"..."}`.
    Json,
}

/// Options shared by `create` and `run`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Container id.
    pub id: String,
    /// Bundle directory (holding config.json).
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container's init pid to this file.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when process.terminal is true.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Do not use pivot_root (for roots on ramdisks).
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many extra descriptors (3, 4, ...) to the container.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container; its process waits for `start`.
    Create(CreateArgs),
    /// Start a created container's process.
    Start {
        /// Container id.
        id: String,
    },
    /// Create and start a container, wait for it, delete it.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return once the container runs, without waiting.
        #[arg(short, long)]
        detach: bool,
        /// Do not delete the container after it exits.
        #[arg(long)]
        keep: bool,
        /// Accepted for compatibility; the runtime always reaps its container.
        #[arg(long, hide = true)]
        no_subreaper: bool,
    },
    /// Print a container's OCI state as JSON.
    State {
        /// Container id.
        id: String,
    },
    /// Send a signal to a container's init (or all its processes).
    Kill {
        /// Container id.
        id: String,
        /// Signal: name (TERM, SIGTERM) or number (15).
        #[arg(default_value = "SIGTERM")]
        signal: String,
        /// Signal every process in the container.
        #[arg(short, long)]
        all: bool,
    },
    /// Delete a container and everything it holds.
    Delete {
        /// Container id.
        id: String,
        /// Kill it first if it still runs.
        #[arg(short, long)]
        force: bool,
    },
    /// List containers.
    List {
        /// table or json.
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Print ids only.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Write a default config.json.
    Spec {
        /// Bundle directory to write it to.
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Print the features this runtime implements, as OCI features JSON.
    Features,
}
