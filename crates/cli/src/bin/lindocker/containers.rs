//! Container commands: run, create, start, ps, logs, exec, attach, stop, kill, wait, rm,
//! inspect, top, stats, rename, pause, unpause, update, cp, commit, export, diff, prune.

use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use lindocker_engine::attach::{Kind, read_frame, write_frame};
use lindocker_engine::attach_options::{AttachStreams, DEFAULT_DETACH_KEYS, DetachMatcher};
use lindocker_engine::events::Event;
use lindocker_engine::record::Record;
use lindocker_engine::waiting::WaitCondition;
use lindocker_engine::{Engine, EngineError, logs};

use crate::lazy::Lazy;
use crate::run_args::{CreateArgs, signal_number};
use crate::template::Val;
use crate::terminal::RawTerminal;
use crate::{Cli, Failure, format};

/// Container commands at the top level.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create and start a container.
    #[command(disable_help_flag = true)]
    Run(Lazy<RunArgs>),
    /// Create a container.
    #[command(disable_help_flag = true)]
    Create(Lazy<CreateArgs>),
    /// Start stopped containers.
    Start(Lazy<StartArgs>),
    /// Restart containers.
    Restart(Lazy<StopArgs>),
    /// List containers.
    Ps(Lazy<PsArgs>),
    /// Show a container's output.
    Logs(Lazy<LogsArgs>),
    /// Run a command in a running container.
    Exec(Lazy<ExecArgs>),
    /// Attach to a running container's output (and input).
    Attach {
        /// The key sequence that detaches (Docker's syntax; default ctrl-p,ctrl-q).
        #[arg(long)]
        detach_keys: Option<String>,
        /// Do not attach stdin.
        #[arg(long)]
        no_stdin: bool,
        /// Pass the signals this CLI receives on to the container (without a terminal).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
        sig_proxy: bool,
        /// The container.
        container: String,
    },
    /// Stop containers (the stop signal, then SIGKILL).
    Stop(Lazy<StopArgs>),
    /// Send a signal to containers.
    Kill {
        /// The signal.
        #[arg(short, long, default_value = "KILL")]
        signal: String,
        /// Containers.
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Wait for containers to end; print their exit codes.
    Wait {
        /// What to wait for: not-running (default), next-exit or removed.
        #[arg(long, default_value = "not-running")]
        condition: String,
        /// Containers.
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove containers.
    Rm(Lazy<RmArgs>),
    /// Show containers (or images) in detail.
    Inspect {
        /// A Go template: {{.State.Status}}, {{json .Config}}, {{range .Mounts}}...
        #[arg(short, long)]
        format: Option<String>,
        /// Names or ids.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Show a container's processes (ps OPTIONS after it; -ef by default).
    Top {
        /// The container.
        container: String,
        /// Options for the host's ps.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Show containers' resource use.
    Stats(Lazy<StatsArgs>),
    /// List a container's published ports, or the host address of one.
    Port {
        /// The container.
        container: String,
        /// PRIVATE_PORT[/PROTO] (default proto tcp).
        private_port: Option<String>,
    },
    /// Rename a container.
    Rename {
        /// The container.
        container: String,
        /// Its new name.
        new_name: String,
    },
    /// Freeze containers.
    Pause {
        /// Containers.
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Thaw containers.
    Unpause {
        /// Containers.
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Change a container's limits.
    Update(Lazy<UpdateArgs>),
    /// Copy files between a container and the host (CONTAINER:PATH on one side).
    Cp(Lazy<CpArgs>),
    /// Make an image from a container's changes.
    Commit(Lazy<CommitArgs>),
    /// Write a container's filesystem as a tar.
    Export {
        /// Write to a file instead of stdout.
        #[arg(short, long)]
        output: Option<String>,
        /// The container.
        container: String,
    },
    /// Show what changed in a container's filesystem.
    Diff {
        /// The container.
        container: String,
    },
}

/// `lindocker container SUBCOMMAND`: every container command under its own name, the
/// same flags (one definition), and the ones Docker has only here.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ContainerGroup {
    #[command(flatten)]
    Common(ContainerCommand),
    /// List containers.
    #[command(alias = "list")]
    Ls(Lazy<PsArgs>),
    /// Remove containers (Docker's alias of `container rm`).
    #[command(hide = true)]
    Remove(Lazy<RmArgs>),
    /// Remove every stopped container.
    Prune {
        /// Accepted for Docker compatibility: lindocker never asks.
        #[arg(short, long)]
        force: bool,
    },
}

/// `rm` flags.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove running containers too (killed first).
    #[arg(short, long)]
    pub force: bool,
    /// Remove the anonymous volumes the containers made.
    #[arg(short, long)]
    pub volumes: bool,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `stats` flags.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default: running ones).
    #[arg(short, long)]
    pub all: bool,
    /// Print one sample and exit.
    #[arg(long)]
    pub no_stream: bool,
    /// Full ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// `table` (default), `table TEMPLATE`, `json` or a template: {{.Name}} {{.CPUPerc}}
    /// {{.MemUsage}} {{.MemPerc}} {{.NetIO}} {{.BlockIO}} {{.PIDs}} {{.ID}} {{.Container}}.
    #[arg(long)]
    pub format: Option<String>,
    /// Containers (default: all running).
    pub containers: Vec<String>,
}

/// `run` flags.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run in the background and print the container id.
    #[arg(short, long)]
    pub detach: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Pass the signals this CLI receives on to the container (without a terminal).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub sig_proxy: bool,
    /// The key sequence that detaches (Docker's syntax; default ctrl-p,ctrl-q).
    #[arg(long)]
    pub detach_keys: Option<String>,
    #[command(flatten)]
    pub create: CreateArgs,
}

/// `start` flags.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach to the output and wait for the exit.
    #[arg(short, long)]
    pub attach: bool,
    /// The key sequence that detaches (Docker's syntax; default ctrl-p,ctrl-q).
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `stop`/`restart` flags.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing.
    #[arg(short = 't', long = "time")]
    pub time: Option<u32>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `ps` flags.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default: running ones).
    #[arg(short, long)]
    pub all: bool,
    /// Only ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// The last N created (any state).
    #[arg(short = 'n', long)]
    pub last: Option<usize>,
    /// Filters: status=, name=, label=K[=V], id=.
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// `table` (default), `table TEMPLATE`, `json` or a Go template per container.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Full ids and commands.
    #[arg(long)]
    pub no_trunc: bool,
}

/// `logs` flags.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep following the output.
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines (or `all`).
    #[arg(short = 'n', long)]
    pub tail: Option<String>,
    /// Prefix each line with its time.
    #[arg(short, long)]
    pub timestamps: bool,
    /// Only lines since a time (RFC 3339, Unix) or a duration ago (10s, 5m).
    #[arg(long)]
    pub since: Option<String>,
    /// Only lines up to a time (RFC 3339, Unix) or a duration ago (10s, 5m).
    #[arg(long)]
    pub until: Option<String>,
    /// The container.
    pub container: String,
}

/// `exec` flags.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Run in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep stdin open.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Environment variables.
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// User.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// The key sequence that detaches (Docker's syntax; default ctrl-p,ctrl-q).
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// The container.
    pub container: String,
    /// The command.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `update` flags.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Memory limit.
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Memory + swap limit.
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares.
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<u64>,
    /// CPUs allowed.
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Process limit.
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// CPU CFS quota in µs per period (-1: none).
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in µs.
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// Memory soft limit.
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Block IO weight (10 to 1000).
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Restart policy.
    #[arg(long)]
    pub restart: Option<String>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `cp` flags.
#[derive(Debug, Args)]
pub struct CpArgs {
    /// Always follow a symlink given as the source (inside the container's root).
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Archive mode: keep the owners of what is copied.
    #[arg(short, long)]
    pub archive: bool,
    /// Source: CONTAINER:PATH, a host path, or `-` for a tar stream on stdin.
    pub source: String,
    /// Destination: CONTAINER:PATH (a directory for `-`), a host path, or `-` for a tar
    /// stream on stdout.
    pub destination: String,
}

/// `commit` flags.
#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Dockerfile instructions applied to the new image's config.
    #[arg(short, long = "change")]
    pub changes: Vec<String>,
    /// Commit message.
    #[arg(short, long)]
    pub message: Option<String>,
    /// Author.
    #[arg(short, long)]
    pub author: Option<String>,
    /// Do not pause the container while committing.
    #[arg(short = 'p', long = "pause", default_value_t = true, action = clap::ArgAction::Set)]
    pub pause: bool,
    /// The container.
    pub container: String,
    /// The new image's name.
    pub repository: Option<String>,
}

/// Opens the engine for the global flags. The first command after a boot first settles
/// what the reboot left (see `lindocker_engine::boot`).
pub fn engine(cli: &Cli) -> Result<Engine> {
    let engine = engine_as_is(cli)?;
    if engine.needs_boot_recovery() {
        for (name, why) in engine.recover_after_boot()?.failed {
            eprintln!("lindocker: could not restart {name} after the reboot: {why}");
        }
    }
    Ok(engine)
}

/// Opens the engine without settling a boot: for the shim's network hook, which runs
/// while that recovery starts containers.
pub fn engine_as_is(cli: &Cli) -> Result<Engine> {
    Engine::open(&cli.root, &cli.state, &cli.cgroup_parent, &lindocker_engine::netops::Direct)
        .with_context(|| format!("opening {}", cli.root.display()))
}

fn find(engine: &Engine, name: &str) -> Result<Record> {
    let id = engine.records.resolve(name)?;
    // Settling may remove it (a `--rm` container a crash ended).
    Ok(engine.settle(engine.records.read(&id)?).ok_or_else(|| EngineError::NoSuchContainer(name.into()))?)
}

/// Runs a container command.
pub fn run(cli: &Cli, command: &ContainerCommand) -> Result<u8> {
    let engine = engine(cli)?;
    match command {
        ContainerCommand::Run(a) => run_container(cli, &engine, a),
        ContainerCommand::Create(a) => {
            let record = create(cli, &engine, a, check(a, false)?, None)?;
            println!("{}", record.id);
            Ok(0)
        }
        ContainerCommand::Start(a) => {
            let keys = detach_keys(a.detach_keys.as_deref())?;
            let mut status = 0;
            for name in &a.containers {
                let result = (|| -> Result<u8> {
                    let record = find(&engine, name)?;
                    if record.state.status.is_live() {
                        if !a.attach {
                            println!("{name}");
                        }
                        return Ok(0);
                    }
                    if a.attach {
                        engine.events.emit(Event::container(&record, "attach", &[]));
                    }
                    let mut stream = engine.start(&record.id)?;
                    if a.attach {
                        let how = Attach { keys: keys.clone(), ..Attach::new(&record) };
                        return attach_stream(&engine, &record, stream, how);
                    }
                    if let Err((message, code)) = Engine::wait_started(&mut stream) {
                        return Err(Failure::new(
                            code.clamp(1, 255) as u8,
                            format!("failed to start {name}: {message}"),
                        )
                        .into());
                    }
                    println!("{name}");
                    Ok(0)
                })();
                match result {
                    Ok(code) => status = status.max(code),
                    Err(e) => {
                        crate::report(&e);
                        status = 1;
                    }
                }
            }
            Ok(status)
        }
        ContainerCommand::Restart(a) => each(&a.containers, |name| {
            let record = find(&engine, name)?;
            engine.stop(&record.id, a.time)?;
            let mut stream = engine.start(&record.id)?;
            Engine::wait_started(&mut stream).map_err(|(m, _)| anyhow::anyhow!("failed to start {name}: {m}"))?;
            engine.events.emit(Event::container(&record, "restart", &[]));
            println!("{name}");
            Ok(())
        }),
        ContainerCommand::Ps(a) => ps(&engine, a),
        ContainerCommand::Logs(a) => logs_command(&engine, a),
        ContainerCommand::Exec(a) => crate::exec::exec(&engine, a),
        ContainerCommand::Attach { detach_keys: keys, no_stdin, sig_proxy, container } => {
            let keys = detach_keys(keys.as_deref())?;
            let record = find(&engine, container)?;
            if !record.state.status.is_live() {
                bail!("You cannot attach to a stopped container, start it first");
            }
            let stream = lindocker_runtime::socket_path::connect(&engine.attach_socket(&record.id))
                .context("connecting to the container's shim")?;
            let mut how = Attach { keys, sig_proxy: *sig_proxy && !record.config.tty, ..Attach::new(&record) };
            how.streams.stdin &= !no_stdin;
            engine.events.emit(Event::container(&record, "attach", &[]));
            attach_stream(&engine, &record, stream, how)
        }
        ContainerCommand::Stop(a) => each(&a.containers, |name| {
            let record = find(&engine, name)?;
            engine.stop(&record.id, a.time)?;
            println!("{name}");
            Ok(())
        }),
        ContainerCommand::Kill { signal, containers } => {
            signal_number(signal)?;
            each(containers, |name| {
                let record = find(&engine, name)?;
                engine.kill(&record.id, signal)?;
                println!("{name}");
                Ok(())
            })
        }
        ContainerCommand::Wait { condition, containers } => {
            let condition: WaitCondition =
                condition.parse().map_err(|e: EngineError| Failure::new(125, e.to_string()))?;
            each(containers, |name| {
                let record = find(&engine, name)?;
                println!("{}", engine.wait_for(&record.id, condition)?);
                Ok(())
            })
        }
        ContainerCommand::Rm(a) => rm(&engine, a),
        ContainerCommand::Inspect { format, names } => inspect(cli, &engine, names, format.as_deref(), true),
        ContainerCommand::Top { container, ps_args } => {
            let record = find(&engine, container)?;
            let top = engine.top(&record, ps_args)?;
            let mut rows = vec![top.titles];
            rows.extend(top.processes);
            print!("{}", tab_columns(&rows));
            Ok(0)
        }
        ContainerCommand::Stats(a) => crate::stats::stats(&engine, a),
        ContainerCommand::Port { container, private_port } => {
            crate::networks::port(&engine, container, private_port.as_deref())
        }
        ContainerCommand::Rename { container, new_name } => {
            let record = find(&engine, container)?;
            if !lindocker_engine::ids::valid_name(new_name) {
                bail!("invalid container name {new_name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
            }
            engine.rename(&record.id, new_name)?;
            Ok(0)
        }
        ContainerCommand::Pause { containers } => each(containers, |name| {
            engine.pause(&find(&engine, name)?.id, true)?;
            println!("{name}");
            Ok(())
        }),
        ContainerCommand::Unpause { containers } => each(containers, |name| {
            engine.pause(&find(&engine, name)?.id, false)?;
            println!("{name}");
            Ok(())
        }),
        ContainerCommand::Update(a) => crate::stats::update(&engine, a),
        ContainerCommand::Cp(a) => crate::files::cp(&engine, a),
        ContainerCommand::Commit(a) => crate::files::commit(&engine, a),
        ContainerCommand::Export { output, container } => crate::files::export(&engine, container, output.as_deref()),
        ContainerCommand::Diff { container } => crate::files::diff(&engine, container),
    }
}

/// Runs `lindocker container SUBCOMMAND`.
pub fn run_group(cli: &Cli, command: &ContainerGroup) -> Result<u8> {
    let command = match command {
        // `container inspect` looks for containers only, as Docker's does.
        ContainerGroup::Common(ContainerCommand::Inspect { format, names }) => {
            return inspect(cli, &engine(cli)?, names, format.as_deref(), false);
        }
        ContainerGroup::Common(command) => return run(cli, command),
        other => other,
    };
    let engine = engine(cli)?;
    match command {
        ContainerGroup::Common(_) => unreachable!("run above"),
        ContainerGroup::Prune { .. } => {
            let mut freed = engine.sweep_wrecks();
            for record in engine.records.all()? {
                let Some(record) = engine.settle(record) else { continue };
                if !record.state.status.is_live() {
                    engine.remove(&record.id, false, false)?;
                    freed.push(record.id);
                }
            }
            println!("Deleted Containers:");
            for id in freed {
                println!("{id}");
            }
            Ok(0)
        }
        ContainerGroup::Ls(a) => ps(&engine, a),
        ContainerGroup::Remove(a) => rm(&engine, a),
    }
}

/// `rm`: each container removed (what a crash left of one too).
fn rm(engine: &Engine, a: &RmArgs) -> Result<u8> {
    each(&a.containers, |name| {
        let record = match find(engine, name) {
            Ok(record) => record,
            // What a crash left under that name (or id) goes too.
            Err(_) if engine.remove_wreck(name) => {
                println!("{name}");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        engine.remove(&record.id, a.force, a.volumes)?;
        println!("{name}");
        Ok(())
    })
}

/// Runs `f` for each name, reporting errors as it goes; 1 if any failed.
fn each(names: &[String], mut f: impl FnMut(&str) -> Result<()>) -> Result<u8> {
    let mut status = 0;
    for name in names {
        if let Err(e) = f(name) {
            crate::report(&e);
            status = 1;
        }
    }
    Ok(status)
}

/// Makes the container; with `start_with`, the id its shim already waits for (`run`).
/// The flags of `create`/`run`, checked before anything is made (for `run`, before its
/// shim is spawned): a bad flag changes nothing.
struct Checked {
    request: lindocker_engine::lifecycle::CreateRequest,
    platform: Option<lindocker_image::registry::Platform>,
}

fn check(a: &CreateArgs, auto_remove: bool) -> Result<Checked> {
    let request = a.request(auto_remove).map_err(|e| Failure::new(125, format!("{e:#}")))?;
    let platform = a
        .nsres
        .platform
        .as_deref()
        .map(lindocker_engine::platform::parse)
        .transpose()
        .map_err(|e| Failure::new(125, e.to_string()))?;
    Ok(Checked { request, platform })
}

fn create(cli: &Cli, engine: &Engine, a: &CreateArgs, checked: Checked, start_with: Option<&str>) -> Result<Record> {
    let Checked { mut request, platform } = checked;
    let cidfile = a
        .cidfile
        .as_deref()
        .map(|path| lindocker_engine::cidfile::CidFile::claim(std::path::Path::new(path)))
        .transpose()
        .map_err(|e| Failure::new(125, e.to_string()))?;
    request.start_now = start_with.is_some();
    request.id = start_with.map(str::to_owned);
    let missing = engine.images.find(&a.image).is_err();
    if let Some(p) = &platform
        && !lindocker_engine::platform::is_host(p)
        && (a.pull == "always" || (missing && a.pull == "missing"))
    {
        let host = lindocker_image::registry::Platform::host();
        return Err(Failure::new(
            125,
            format!("--platform {p}: no image of that platform is here, and lindocker pulls only this host's platform ({host})"),
        )
        .into());
    }
    match a.pull.as_str() {
        "missing" if missing => pull_for_run(cli, engine, &a.image, a.quiet)?,
        "always" => pull_for_run(cli, engine, &a.image, a.quiet)?,
        "never" if missing => return Err(Failure::new(125, format!("No such image: {}", a.image)).into()),
        "missing" | "never" => {}
        other => return Err(Failure::new(125, format!("--pull {other:?}: expected missing, always or never")).into()),
    }
    if let Some(p) = &platform {
        engine.check_platform(&a.image, p).map_err(|e| Failure::new(125, e.to_string()))?;
    }
    let record = engine.create(&request).map_err(|e| Failure::new(125, e.to_string()))?;
    if let Some(cidfile) = cidfile {
        cidfile.write(&record.id).map_err(|e| Failure::new(125, e.to_string()))?;
    }
    Ok(record)
}

fn pull_for_run(cli: &Cli, engine: &Engine, image: &str, quiet: bool) -> Result<()> {
    use lindocker_image::progress::Progress;
    use lindocker_image::registry::{self, Platform, PullOptions};
    if !quiet {
        eprintln!("Unable to find image '{image}' locally");
    }
    let options = PullOptions { platform: Platform::host(), insecure: cli.insecure_registries.clone() };
    registry::pull(&engine.images, image, &options, &Progress::Quiet).map_err(|e| Failure::new(125, e.to_string()))?;
    if let Ok(reference) = lindocker_image::reference::parse(image) {
        let whole = reference.whole();
        let name = lindocker_engine::events::strip_tag(lindocker_image::reference::familiar(&whole));
        crate::images::image_event(cli, "pull", lindocker_image::reference::familiar(&whole), name);
    }
    Ok(())
}

fn run_container(cli: &Cli, engine: &Engine, a: &RunArgs) -> Result<u8> {
    if a.detach && !a.create.attach.is_empty() {
        return Err(Failure::new(125, "Conflicting options: -a and -d").into());
    }
    let keys = detach_keys(a.detach_keys.as_deref())?;
    let checked = check(&a.create, a.rm)?;
    // The shim starts first: its start-up goes on while the container is made. The network
    // is attached here, where the netlink code is, rather than by the shim's helper.
    let id = lindocker_engine::ids::new_id();
    // Held until we exit; the shim takes it too: a command that finds the container
    // still `starting` with nobody holding it knows that we were killed half-way.
    let _busy = engine.hold_busy(&id).map_err(|e| Failure::new(125, e.to_string()))?;
    let shim = engine.spawn_shim(&id).map_err(|e| Failure::new(125, e.to_string()))?;
    let record = create(cli, engine, &a.create, checked, Some(&id))?;
    if !a.detach {
        engine.events.emit(Event::container(&record, "attach", &[]));
    }
    let attached = engine.attach_network(&record).is_ok();
    // If it failed here, the shim tries again and reports the error as for `start`.
    let mut stream = shim.go(attached).map_err(|e| Failure::new(125, e.to_string()))?;
    if a.detach {
        if let Err((message, code)) = Engine::wait_started(&mut stream) {
            return Err(Failure::new(code.clamp(1, 255) as u8, message).into());
        }
        println!("{}", record.id);
        return Ok(0);
    }
    let streams = record.config.attach;
    if !streams.stdout && !streams.stderr {
        // Nothing of the output to show: the id, as Docker prints it.
        println!("{}", record.id);
    }
    let streams = AttachStreams { stdin: record.config.open_stdin, ..record.config.attach };
    let how = Attach { streams, keys, sig_proxy: a.sig_proxy && !record.config.tty };
    attach_stream(engine, &record, stream, how)
}

/// The `--detach-keys` bytes (the default sequence if not given); a bad spec is exit 125.
fn detach_keys(spec: Option<&str>) -> Result<Vec<u8>> {
    lindocker_engine::attach_options::parse_detach_keys(spec.unwrap_or_default())
        .map_err(|e| Failure::new(125, e.to_string()).into())
}

/// How a CLI attaches: which streams, the detach keys, whether signals are passed on.
struct Attach {
    streams: AttachStreams,
    keys: Vec<u8>,
    sig_proxy: bool,
}

impl Attach {
    /// Docker's `attach` and `start -a`: both outputs, input if the container takes it;
    /// signals passed on without a terminal. (`run` narrows this to its `-a` streams.)
    fn new(record: &Record) -> Attach {
        let streams = AttachStreams { stdin: record.config.open_stdin, stdout: true, stderr: true };
        Attach { streams, keys: DEFAULT_DETACH_KEYS.to_vec(), sig_proxy: !record.config.tty }
    }
}

/// Rows as Docker's `top` prints them (Go's tabwriter: columns at least 20 wide, 3
/// spaces of padding).
fn tab_columns(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count() + 3).max().unwrap_or(0).max(20))
        .collect();
    let mut out = String::new();
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}", width = widths[c]));
            }
        }
        out.push('\n');
    }
    out
}

/// Relays an attached container: its output (the attached streams) to ours, our input
/// (stdin attached) to it, our terminal's size (with `-t`); returns its exit code. The
/// detach keys (on a terminal) leave it running and return 0.
fn attach_stream(engine: &Engine, record: &Record, stream: UnixStream, how: Attach) -> Result<u8> {
    let tty = record.config.tty;
    let raw = if tty && io::stdin().is_terminal() { RawTerminal::enter() } else { None };
    if tty && let Some((rows, cols)) = crate::terminal::size() {
        let mut size = rows.to_be_bytes().to_vec();
        size.extend_from_slice(&cols.to_be_bytes());
        let _ = write_frame(&stream, Kind::Resize, &size);
    }
    if how.sig_proxy {
        // Without a terminal, Ctrl-C and friends reach the container as signals. (First,
        // before any thread exists, so every thread has them blocked.)
        crate::signals::forward_to_container(engine.clone(), record.id.clone());
    }
    let detached = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if how.streams.stdin && record.config.open_stdin {
        let input_stream = stream.try_clone()?;
        let keys = DetachMatcher::new(how.keys.clone());
        let detached = detached.clone();
        std::thread::spawn(move || forward_input(input_stream, tty.then_some(keys), &detached));
    }
    if tty {
        let resize_stream = stream.try_clone()?;
        std::thread::spawn(move || watch_window_size(resize_stream));
    }
    let mut reader = io::BufReader::new(stream);
    let mut message = None;
    let code = loop {
        match read_frame(&mut reader) {
            Ok(Some((Kind::Stdout, data))) if how.streams.stdout => {
                let mut out = io::stdout().lock();
                let _ = out.write_all(&data);
                let _ = out.flush();
            }
            Ok(Some((Kind::Stderr, data))) if how.streams.stderr => {
                let _ = io::stderr().write_all(&data);
            }
            Ok(Some((Kind::Error, text))) => message = Some(String::from_utf8_lossy(&text).into_owned()),
            Ok(Some((Kind::Exit, code))) => break String::from_utf8_lossy(&code).parse::<i32>().unwrap_or(125),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) if detached.load(std::sync::atomic::Ordering::SeqCst) => break 0,
            Ok(None) | Err(_) => {
                // The shim went away (it was killed): the record has the code.
                break engine.records.read(&record.id).map(|r| r.state.exit_code).unwrap_or(0);
            }
        }
    };
    drop(raw);
    if let Some(message) = message {
        return Err(Failure::new(code.clamp(1, 255) as u8, message).into());
    }
    Ok(code.clamp(0, 255) as u8)
}

/// Our input to the container; on a terminal (`keys`), the detach sequence ends the
/// attachment (and sets `detached`).
fn forward_input(mut stream: UnixStream, mut keys: Option<DetachMatcher>, detached: &std::sync::atomic::AtomicBool) {
    let mut stdin = io::stdin().lock();
    let mut buf = [0u8; 8192];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = write_frame(&mut stream, Kind::StdinClose, b"");
                return;
            }
            Ok(n) => {
                let (data, detach) = match keys.as_mut() {
                    Some(keys) => keys.feed(&buf[..n]),
                    None => (buf[..n].to_vec(), false),
                };
                if !data.is_empty() && write_frame(&mut stream, Kind::Stdin, &data).is_err() {
                    return;
                }
                if detach {
                    detached.store(true, std::sync::atomic::Ordering::SeqCst);
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
        }
    }
}

fn watch_window_size(stream: UnixStream) {
    let mut last = crate::terminal::size();
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let now = crate::terminal::size();
        if now != last {
            if let Some((rows, cols)) = now {
                let mut size = rows.to_be_bytes().to_vec();
                size.extend_from_slice(&cols.to_be_bytes());
                if write_frame(&stream, Kind::Resize, &size).is_err() {
                    return;
                }
            }
            last = now;
        }
    }
}

fn ps(engine: &Engine, a: &PsArgs) -> Result<u8> {
    let mut options = lindocker_engine::listing::ListOptions { all: a.all, last: a.last, filters: Vec::new() };
    options.filter_texts(&a.filter)?;
    let records = engine.list_containers(&options)?;
    if a.quiet {
        for r in &records {
            println!("{}", if a.no_trunc { &r.id[..] } else { &r.id[..12] });
        }
        return Ok(0);
    }
    let command = |r: &Record| {
        let full = format::printable(&r.config.args.join(" "));
        if a.no_trunc || full.chars().count() <= 20 {
            format!("\"{full}\"")
        } else {
            format!("\"{}…\"", full.chars().take(19).collect::<String>())
        }
    };
    let with_size = crate::formatter::uses(&a.format, &PS_LISTING, "Size");
    let rows: Vec<Val> = records.iter().map(|r| ps_row(engine, r, a.no_trunc, with_size, command(r))).collect();
    crate::formatter::print(&a.format, &PS_LISTING, &rows)?;
    Ok(0)
}

/// A `--since`/`--until` value.
fn parse_time(flag: &str, text: &str) -> Result<SystemTime> {
    logs::parse_time(text, SystemTime::now()).with_context(|| {
        format!("invalid value for \"{flag}\": {text:?}: expected RFC 3339, a Unix timestamp or a duration like 10m")
    })
}

/// `ps --format`: Docker's default table and the header of each field.
const PS_LISTING: crate::formatter::Listing<'static> = crate::formatter::Listing {
    default_table: "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}",
    headers: &[
        ("ID", "CONTAINER ID"),
        ("Names", "NAMES"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("RunningFor", "CREATED"),
        ("Ports", "PORTS"),
        ("State", "STATE"),
        ("Status", "STATUS"),
        ("Size", "SIZE"),
        ("Labels", "LABELS"),
        ("Mounts", "MOUNTS"),
        ("LocalVolumes", "LOCAL VOLUMES"),
        ("Networks", "NETWORKS"),
    ],
};

/// One container as `ps --format` sees it (Docker's ContainerContext).
fn ps_row(engine: &Engine, r: &Record, no_trunc: bool, with_size: bool, command: String) -> Val {
    use crate::formatter::text;
    use lindocker_engine::options::MountSpec;
    let (labels, label) = crate::formatter::labels(&r.config.labels);
    let mounts: Vec<String> = r
        .mounts
        .iter()
        .filter_map(|m| match m {
            MountSpec::Volume { name, .. } => Some(name.clone()),
            MountSpec::Bind { source, .. } => Some(source.display().to_string()),
            MountSpec::Tmpfs { .. } => None,
        })
        .map(|name| {
            if no_trunc || name.chars().count() <= 15 {
                name
            } else {
                format!("{}…", name.chars().take(14).collect::<String>())
            }
        })
        .collect();
    let local_volumes = r.mounts.iter().filter(|m| matches!(m, MountSpec::Volume { .. })).count();
    let networks = match r.network.mode.as_str() {
        "bridge" => r.network.attachments.iter().map(|a| a.network.clone()).collect::<Vec<_>>().join(","),
        other => other.to_owned(),
    };
    let size = if with_size {
        format::size(lindocker_storage::layers::du(&engine.records.dir(&r.id).join("upper")))
    } else {
        "0B".into()
    };
    let state = lindocker_engine::listing::status_name(r.state.status);
    crate::formatter::row(vec![
        ("ID", text(if no_trunc { &r.id[..] } else { &r.id[..12] })),
        ("Image", text(&r.image_name)),
        ("Command", text(command)),
        ("CreatedAt", text(crate::formatter::created_at(Some(&r.created)))),
        ("RunningFor", text(format::ago(Some(&r.created)))),
        ("Ports", text(crate::networks::ports_column(engine, &r.id))),
        ("State", text(state)),
        ("Status", text(lindocker_engine::listing::status_text(r))),
        ("Size", text(size)),
        ("Names", text(&r.name)),
        ("Labels", labels),
        ("Label", label),
        ("Mounts", text(mounts.join(","))),
        ("LocalVolumes", text(local_volumes.to_string())),
        ("Networks", text(networks)),
    ])
}

fn logs_command(engine: &Engine, a: &LogsArgs) -> Result<u8> {
    let since = a.since.as_deref().map(|t| parse_time("since", t)).transpose()?;
    let until = a.until.as_deref().map(|t| parse_time("until", t)).transpose()?;
    let record = find(engine, &a.container)?;
    let tail = match a.tail.as_deref().filter(|t| *t != "all") {
        Some(tail) => {
            Some(tail.parse::<usize>().with_context(|| format!("--tail {tail:?}: expected a number or all"))?)
        }
        None => None,
    };
    let options = lindocker_engine::log_read::LogOptions { tail, since, until, follow: a.follow };
    engine.read_logs(
        &record,
        &options,
        |e| {
            let line = if a.timestamps { format!("{} {}", e.time, e.log) } else { e.log };
            let written = if e.stream == "stderr" {
                io::stderr().write_all(line.as_bytes())
            } else {
                io::stdout().lock().write_all(line.as_bytes())
            };
            quiet_if_broken(written);
            true
        },
        || {
            quiet_if_broken(io::stdout().flush());
            true
        },
    )?;
    Ok(0)
}

/// Ends the CLI quietly if its output went into a closed pipe.
fn quiet_if_broken(written: io::Result<()>) {
    if written.is_err_and(|e| e.kind() == io::ErrorKind::BrokenPipe) {
        crate::broken_pipe();
    }
}

fn inspect(cli: &Cli, engine: &Engine, names: &[String], template: Option<&str>, images_too: bool) -> Result<u8> {
    let mut out = Vec::new();
    let mut status = 0;
    for name in names {
        match engine.records.resolve(name) {
            Ok(id) => match engine.settle(engine.records.read(&id)?) {
                Some(record) => out.push((engine.inspect_json(&record), crate::formatter::CONTAINER_SCHEMA)),
                None => {
                    eprintln!("Error: No such object: {name}");
                    status = 1;
                }
            },
            Err(EngineError::NoSuchContainer(_)) if !images_too => {
                eprintln!("Error: No such container: {name}");
                status = 1;
            }
            Err(EngineError::NoSuchContainer(_)) => match crate::images::inspect_value(cli, name) {
                Ok(image) => out.push((image, crate::formatter::IMAGE_SCHEMA)),
                Err(_) => {
                    eprintln!("Error: No such object: {name}");
                    status = 1;
                }
            },
            Err(e) => return Err(e.into()),
        }
    }
    match template {
        Some(t) => crate::formatter::inspect_each(t, &out)?,
        None => println!("{}", serde_json::to_string_pretty(&out.iter().map(|(v, _)| v).collect::<Vec<_>>())?),
    }
    Ok(status)
}
