//! `lindocker-runtime`: the runc-compatible command line over `lindocker_runtime`.

mod args;
mod exec;
mod log;
mod update;

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;
use lindocker_runtime::container::{self, CreateOptions};
use lindocker_runtime::state::Store;

use args::{Cli, Command, CreateArgs};
use log::Logger;

/// The logger, reachable from the runtime's warning callback.
static LOGGER: std::sync::OnceLock<Logger> = std::sync::OnceLock::new();

fn warn(msg: &str) {
    if let Some(l) = LOGGER.get() {
        l.warn(msg);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logger = LOGGER.get_or_init(|| Logger::new(cli.log.clone(), cli.log_format, cli.debug));
    match run(cli, logger) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // The runtime's errors already say their cause; others get their chain.
            let msg = match e.downcast_ref::<lindocker_runtime::Error>() {
                Some(runtime_error) => runtime_error.to_string(),
                None => format!("{e:#}"),
            };
            logger.error(&msg);
            ExitCode::from(1)
        }
    }
}

fn create_options(a: &CreateArgs, systemd_cgroup: bool) -> CreateOptions {
    CreateOptions {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        systemd_cgroup,
        on_warning: Some(warn),
    }
}

fn run(cli: Cli, logger: &Logger) -> Result<u8> {
    if cli.version {
        println!("lindocker-runtime version {}\nspec: 1.2.1", env!("CARGO_PKG_VERSION"));
        return Ok(0);
    }
    let Some(command) = cli.command else {
        bail!("no command given (try --help)");
    };
    // The processes these commands start enter the container: the code they run must not
    // be a writable host file (CVE-2019-5736).
    if matches!(command, Command::Create(_) | Command::Run { .. } | Command::Exec(_)) {
        lindocker_runtime::sealed_exe::ensure()
            .context("re-execute the runtime from a sealed image of its binary (CVE-2019-5736)")?;
    }
    let store = || Store::new(&cli.root);
    match command {
        Command::Create(a) => {
            logger.debug(&format!("create {} from {}", a.id, a.bundle.display()));
            container::create(&store()?, &create_options(&a, cli.systemd_cgroup))?;
        }
        Command::Start { id } => container::start(&store()?, &id)?,
        Command::Run { create, detach, keep, .. } => {
            let code = container::run(&store()?, &create_options(&create, cli.systemd_cgroup), detach, keep)?;
            return Ok(code.clamp(0, 255) as u8);
        }
        Command::State { id } => {
            let state = container::state(&store()?, &id)?;
            println!("{}", serde_json::to_string_pretty(&state)?);
        }
        Command::Kill { id, signal, all } => {
            let sig = lindocker_runtime::signal::parse(&signal)?;
            container::kill(&store()?, &id, sig, all)?;
        }
        Command::Delete { id, force } => container::delete(&store()?, &id, force)?,
        Command::List { format, quiet } => list(&store()?, &format, quiet)?,
        Command::Exec(a) => {
            let store = store()?;
            let opts = exec::options(&store, a)?;
            let code = container::exec(&store, &opts)?;
            return Ok(code.clamp(0, 255) as u8);
        }
        Command::Events { stats, interval, id } => {
            let interval = humantime::parse_duration(&interval)
                .with_context(|| format!("--interval {interval:?}: expected a duration like 5s or 500ms"))?;
            container::events(&store()?, &id, stats, interval, |event| {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{event}")?;
                out.flush()
            })?;
        }
        Command::Pause { id } => container::pause(&store()?, &id)?,
        Command::Resume { id } => container::resume(&store()?, &id)?,
        Command::Ps { format, id, ps_args } => ps(&store()?, &id, &format, &ps_args)?,
        Command::Update(a) => {
            let resources = update::resources(&a)?;
            container::update(&store()?, &a.id, &resources)?;
        }
        Command::Spec { bundle } => {
            let path = bundle.join("config.json");
            if path.exists() {
                bail!("{} exists; remove it first", path.display());
            }
            std::fs::write(&path, lindocker_runtime::default_spec::DEFAULT_SPEC)
                .with_context(|| format!("write {}", path.display()))?;
        }
        Command::Features => {
            println!("{}", serde_json::to_string_pretty(&lindocker_runtime::features::features())?);
        }
    }
    Ok(0)
}

fn list(store: &Store, format: &str, quiet: bool) -> Result<()> {
    let containers = container::list(store)?;
    let mut out = std::io::stdout().lock();
    if quiet {
        for (s, _) in &containers {
            writeln!(out, "{}", s.id)?;
        }
        return Ok(());
    }
    match format {
        "json" => {
            let all: Vec<_> = containers.iter().map(|(s, st)| s.oci(*st)).collect();
            writeln!(out, "{}", serde_json::to_string(&all)?)?;
        }
        "table" => {
            let rows: Vec<[String; 6]> = containers
                .iter()
                .map(|(s, st)| {
                    let pid = if *st == lindocker_runtime::state::Status::Stopped { 0 } else { s.pid };
                    [
                        s.id.clone(),
                        pid.to_string(),
                        st.to_string(),
                        s.bundle.display().to_string(),
                        s.created.clone(),
                        s.owner.to_string(),
                    ]
                })
                .collect();
            let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            let mut widths = header.clone().map(|h| h.len());
            for r in &rows {
                for (w, c) in widths.iter_mut().zip(r) {
                    *w = (*w).max(c.len());
                }
            }
            for r in std::iter::once(&header).chain(&rows) {
                let line: Vec<String> = r.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
                writeln!(out, "{}", line.join("   ").trim_end())?;
            }
        }
        other => bail!("unknown --format {other:?}: use table or json"),
    }
    Ok(())
}

/// `ps`: pids as JSON, or the host's `ps` output cut down to the container's processes.
fn ps(store: &Store, id: &str, format: &str, ps_args: &[String]) -> Result<()> {
    let pids = container::pids(store, id)?;
    match format {
        "json" => println!("{}", serde_json::to_string(&pids)?),
        "table" => {
            let args: Vec<String> = if ps_args.is_empty() { vec!["-ef".into()] } else { ps_args.to_vec() };
            let out = std::process::Command::new("ps").args(&args).output().context("run ps")?;
            if !out.status.success() {
                bail!("ps {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let column = header
                .split_whitespace()
                .position(|c| c == "PID")
                .with_context(|| format!("ps {} prints no PID column", args.join(" ")))?;
            println!("{header}");
            for line in lines {
                let pid = line.split_whitespace().nth(column).and_then(|p| p.parse::<i32>().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    println!("{line}");
                }
            }
        }
        other => bail!("unknown --format {other:?}: use table or json"),
    }
    Ok(())
}
