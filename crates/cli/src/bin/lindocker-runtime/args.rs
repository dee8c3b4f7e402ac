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
    /// Let systemd manage the container's cgroup (a transient unit made over D-Bus);
    /// cgroupsPath is then "slice:prefix:name", e.g. "system.slice:runc:ID".
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
    /// Run another process in a running container.
    Exec(ExecArgs),
    /// Print the container's resource usage (and OOM kills) as JSON events.
    Events {
        /// Print one stats event and exit.
        #[arg(long)]
        stats: bool,
        /// How often to print stats (e.g. 5s, 500ms).
        #[arg(long, default_value = "5s")]
        interval: String,
        /// Container id.
        id: String,
    },
    /// Freeze every process of a running container.
    Pause {
        /// Container id.
        id: String,
    },
    /// Thaw a paused container.
    Resume {
        /// Container id.
        id: String,
    },
    /// List the processes of a container (`ps` options after the id; -ef by default).
    Ps {
        /// table (runs the host's ps) or json (a list of pids).
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Container id.
        id: String,
        /// Options for ps.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Change a running container's resource limits.
    Update(UpdateArgs),
    /// Write a default config.json.
    Spec {
        /// Bundle directory to write it to.
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Print the features this runtime implements, as OCI features JSON.
    Features,
}

/// `update`: a resources JSON (`linux.resources` form), or flags as runc takes them.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// Container id.
    pub id: String,
    /// JSON file with the new linux.resources ("-" reads stdin).
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Memory limit (bytes, or with k/m/g).
    #[arg(long)]
    pub memory: Option<String>,
    /// Memory soft limit (bytes, or with k/m/g).
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (bytes, or with k/m/g; -1 unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPU shares (relative weight).
    #[arg(long)]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds (-1 unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds.
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPUs to run on (0-3, 0,1).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use.
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (0 or -1 unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000).
    #[arg(long)]
    pub blkio_weight: Option<u16>,
}

/// `exec`: the process from a JSON file, or from the command and flags (the rest taken
/// from the container's own process).
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Container id.
    pub id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// A process.json (OCI `process` object) instead of the command and flags.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Give the process a terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Unix socket that receives the pty master.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Return once the process runs.
    #[arg(short, long)]
    pub detach: bool,
    /// Write the process's pid to this file.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Set an environment variable (KEY=VALUE), repeatable.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Working directory.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// UID[:GID] to run as.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Extra groups, repeatable.
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// Add a capability (CAP_NAME), repeatable.
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Set no_new_privs.
    #[arg(long)]
    pub no_new_privs: bool,
    /// Pass this many extra descriptors (3, 4, ...) to the process.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
    /// Accepted for compatibility (AppArmor profile); not supported yet.
    #[arg(long, hide = true)]
    pub apparmor: Option<String>,
    /// Accepted for compatibility (SELinux label); not supported yet.
    #[arg(long, hide = true)]
    pub process_label: Option<String>,
}
