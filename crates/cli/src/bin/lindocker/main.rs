//! `lindocker`: the Docker-like command line.

mod build;
mod containers;
mod events;
mod exec;
mod files;
mod format;
mod formatter;
mod health_args;
mod images;
mod init;
mod lazy;
mod networks;
mod open;
mod run_args;
mod run_nsres;
mod signals;
mod stats;
mod system;
mod template;
mod terminal;
mod volumes;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A container engine for Linux: images, containers, volumes, without a daemon.
#[derive(Debug, Parser)]
#[command(name = "lindocker", version, about)]
pub struct Cli {
    /// Where images, layers, containers and volumes live.
    #[arg(long, global = true, env = "LINDOCKER_ROOT", default_value = "/var/lib/lindocker")]
    root: PathBuf,
    /// Where runtime state and the shims' sockets live.
    #[arg(long, global = true, env = "LINDOCKER_STATE", default_value = "/run/lindocker")]
    state: PathBuf,
    /// The cgroup under which containers' cgroups are made (before the command: after
    /// `run`/`create`, `--cgroup-parent` is the container's own, as in Docker).
    #[arg(long, env = "LINDOCKER_CGROUP_PARENT", default_value = "/lindocker")]
    cgroup_parent: String,
    /// A registry (host[:port]) to reach over plain HTTP; loopback ones always are.
    #[arg(long = "insecure-registry", global = true, env = "LINDOCKER_INSECURE_REGISTRIES", value_delimiter = ',')]
    insecure_registries: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process; boxing the big `run` flags would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Container(containers::ContainerCommand),
    #[command(flatten)]
    Image(images::ImageCommand),
    /// Manage containers.
    #[command(name = "container", subcommand)]
    ContainerGroup(lazy::Lazy<containers::ContainerGroup>),
    /// Manage images.
    #[command(name = "image", subcommand)]
    ImageGroup(lazy::Lazy<images::ImageSubcommand>),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(lazy::Lazy<volumes::VolumeCommand>),
    /// Manage networks.
    #[command(subcommand)]
    Network(lazy::Lazy<networks::NetworkCommand>),
    /// Set a container's network up or down (run by lindocker-shim).
    #[command(hide = true)]
    NetworkHook {
        /// `attach` or `detach`.
        verb: String,
        /// The container id.
        id: String,
    },
    /// Keep a detached `exec -it`'s terminal open, discarding its output, until its
    /// process ends (started by `exec` on the detach keys; the terminal is stdin).
    #[command(hide = true)]
    HoldTerminal,
    /// Get real time events from the engine (its journal).
    Events(events::EventsArgs),
    /// Disk use and clean-up.
    #[command(subcommand)]
    System(lazy::Lazy<system::SystemCommand>),
    /// What this host offers and lacks.
    Info {
        /// A Go template over Docker's info object: {{.ServerVersion}}, {{json .}}.
        #[arg(short, long)]
        format: Option<String>,
    },
    /// Version information.
    Version {
        /// A Go template over Docker's version object: {{.Server.Version}}, {{json .}}.
        #[arg(short, long)]
        format: Option<String>,
    },
}

/// An error with the exit code Docker gives it (125 engine, 126/127 command).
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// An error ending the command with `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }

    /// The exit code it ends the command with.
    pub fn code(&self) -> u8 {
        self.code
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Prints an error as Docker would.
pub fn report(e: &anyhow::Error) {
    // Messages quote names from images and containers: their control characters are
    // escaped, line breaks of multi-line messages kept.
    let text = format!("{e:#}");
    let lines: Vec<String> = text.split('\n').map(format::printable).collect();
    eprintln!("Error: {}", lines.join("\n"));
}

/// Ends the CLI as a broken pipe ends other tools (`lindocker inspect x | head -c1`):
/// quietly, killed by SIGPIPE, as Docker's CLI is.
pub fn broken_pipe() -> ! {
    lindocker_sys::default_sigpipe();
    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::PIPE);
    // SIGPIPE was blocked (a foreground `run` or `exec` forwards signals): the same code.
    std::process::exit(141)
}

/// Rust ignores SIGPIPE, so output into a closed pipe is an error, and `println!` turns it
/// into a panic. Its default action instead would also end the CLI for a pipe to a child
/// (`nft -f -`) or a socket to a shim, halfway through a change; so only the panic of a
/// print to our stdout or stderr ends us, as Go ends Docker's CLI on EPIPE of fd 1 or 2.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            broken_pipe();
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    // Output into a closed pipe (`lindocker inspect x | head -c1`) ends us quietly.
    quiet_on_broken_pipe();
    let args: Vec<String> = std::env::args().collect();
    if args.first().is_some_and(|a| a == lindocker_engine::bundle::INIT_PATH) {
        let rest: Vec<String> = args[1..].iter().skip_while(|a| *a == "--").cloned().collect();
        init::main(&rest);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 125,
            });
        }
    };
    // `run` and `create` fail with 125 when the engine is at fault, as Docker's do.
    let default_code = match &cli.command {
        Command::Container(containers::ContainerCommand::Run(_) | containers::ContainerCommand::Create(_))
        | Command::ContainerGroup(lazy::Lazy(containers::ContainerGroup::Common(
            containers::ContainerCommand::Run(_) | containers::ContainerCommand::Create(_),
        ))) => 125,
        _ => 1,
    };
    let result = match &cli.command {
        Command::Container(command) => containers::run(&cli, command),
        Command::Image(command) => images::run(&cli, command),
        Command::ContainerGroup(command) => containers::run_group(&cli, command),
        Command::ImageGroup(command) => images::run_sub(&cli, command),
        Command::Volume(command) => open::engine(&cli).and_then(|e| volumes::run(&e, command)),
        Command::Network(command) => open::engine(&cli).and_then(|e| networks::run(&e, command)),
        Command::NetworkHook { verb, id } => open::engine_as_is(&cli).and_then(|e| {
            // The kind of failure goes back to the shim as the exit code, typed.
            let hook = || -> Result<(), lindocker_engine::EngineError> {
                let record = e.records().read(id)?;
                match verb.as_str() {
                    "attach" => e.attach_network(&record)?,
                    _ => e.detach_network(&record),
                }
                Ok(())
            };
            hook().map_err(|err| Failure::new(err.kind().exit_code(), err.to_string()))?;
            Ok(0)
        }),
        Command::HoldTerminal => {
            exec::hold_terminal();
            Ok(0)
        }
        Command::System(lazy::Lazy(system::SystemCommand::Df { format })) => {
            open::engine(&cli).and_then(|e| system::df(&e, format))
        }
        Command::Events(a) | Command::System(lazy::Lazy(system::SystemCommand::Events(a))) => events::events(&cli, a),
        Command::System(lazy::Lazy(system::SystemCommand::Boot)) => {
            open::engine_as_is(&cli).and_then(|e| system::boot(&e))
        }
        Command::System(lazy::Lazy(system::SystemCommand::Info { format })) | Command::Info { format } => {
            open::engine(&cli).and_then(|e| system::info(&e, format.as_deref()))
        }
        Command::System(lazy::Lazy(system::SystemCommand::Prune { all, volumes, .. })) => {
            system_prune(&cli, *all, *volumes)
        }
        Command::System(lazy::Lazy(system::SystemCommand::Service { time, allow_remote_tcp, address })) => {
            system::service(&cli, *time, address.as_deref(), *allow_remote_tcp)
        }
        Command::Version { format } => system::version(format.as_deref()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = e.downcast_ref::<Failure>().map_or(default_code, |f| f.code);
            report(&e);
            ExitCode::from(code)
        }
    }
}

fn system_prune(cli: &Cli, all: bool, with_volumes: bool) -> anyhow::Result<u8> {
    containers::run_group(cli, &containers::ContainerGroup::Prune { force: true })?;
    images::run_sub(cli, &images::ImageSubcommand::Prune { all, force: true })?;
    if with_volumes {
        let engine = open::engine(cli)?;
        volumes::run(&engine, &volumes::VolumeCommand::Prune { all: false, force: true })?;
    }
    Ok(0)
}
