//! `lindocker volume create/ls/inspect/rm/prune`.

use anyhow::Result;
use clap::Subcommand;
use lindocker_engine::Engine;

use crate::format;
use crate::formatter::{Listing, row, text};
use crate::template::Val;

/// `volume ls --format`: Docker's default table and headers.
const VOLUMES_LISTING: Listing<'static> = Listing {
    default_table: "table {{.Driver}}\\t{{.Name}}",
    headers: &[
        ("Name", "VOLUME NAME"),
        ("Driver", "DRIVER"),
        ("Scope", "SCOPE"),
        ("Mountpoint", "MOUNTPOINT"),
        ("Labels", "LABELS"),
        ("Links", "LINKS"),
        ("Size", "SIZE"),
        ("Availability", "AVAILABILITY"),
        ("Group", "GROUP"),
        ("Status", "STATUS"),
    ],
};

/// Volume commands.
#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume.
    Create {
        /// Labels: K=V.
        #[arg(short, long)]
        label: Vec<String>,
        /// The name (default: a random id).
        name: Option<String>,
    },
    /// List volumes.
    #[command(alias = "list")]
    Ls {
        /// Only names.
        #[arg(short, long)]
        quiet: bool,
        /// `table` (default), `table TEMPLATE`, `json` or a Go template per volume.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Show volumes in detail.
    Inspect {
        /// A Go template: {{.Mountpoint}}, {{json .Labels}}...
        #[arg(short, long)]
        format: Option<String>,
        /// Names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove volumes.
    Rm {
        /// Accepted for Docker compatibility.
        #[arg(short, long)]
        force: bool,
        /// Names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove volumes no container uses (anonymous ones; all with -a).
    Prune {
        /// Named volumes too.
        #[arg(short, long)]
        all: bool,
        /// Accepted for Docker compatibility.
        #[arg(short, long)]
        force: bool,
    },
}

/// Runs a volume command.
pub fn run(engine: &Engine, command: &VolumeCommand) -> Result<u8> {
    match command {
        VolumeCommand::Create { label, name } => {
            let labels = label
                .iter()
                .map(|l| l.split_once('=').map_or((l.clone(), String::new()), |(k, v)| (k.into(), v.into())))
                .collect();
            let volume = engine.volume_create(name.as_deref(), None, labels, Default::default())?;
            println!("{}", volume.name);
        }
        VolumeCommand::Ls { quiet, format: fmt } => {
            let volumes = engine.volumes().list()?;
            if *quiet {
                volumes.iter().for_each(|v| println!("{}", v.name));
            } else {
                let rows: Vec<Val> = volumes
                    .iter()
                    .map(|v| {
                        let (labels, label) = crate::formatter::labels(&v.labels);
                        row(vec![
                            ("Name", text(&v.name)),
                            ("Driver", text(&v.driver)),
                            ("Scope", text("local")),
                            ("Mountpoint", text(v.mountpoint.display().to_string())),
                            ("Labels", labels),
                            ("Label", label),
                            ("Links", text("N/A")),
                            ("Size", text("N/A")),
                            ("Availability", text("N/A")),
                            ("Group", text("N/A")),
                            ("Status", text("N/A")),
                        ])
                    })
                    .collect();
                crate::formatter::print(fmt, &VOLUMES_LISTING, &rows)?;
            }
        }
        VolumeCommand::Inspect { format, names } => {
            let infos = names.iter().map(|n| engine.volumes().inspect(n)).collect::<Result<Vec<_>, _>>()?;
            match format {
                Some(t) => {
                    let values = infos
                        .iter()
                        .map(|i| Ok((serde_json::to_value(i)?, crate::formatter::VOLUME_SCHEMA)))
                        .collect::<Result<Vec<_>>>()?;
                    crate::formatter::inspect_each(t, &values)?;
                }
                None => println!("{}", serde_json::to_string_pretty(&infos)?),
            }
        }
        VolumeCommand::Rm { names, force } => {
            let mut status = 0;
            for name in names {
                match engine.volume_remove(name, *force) {
                    Ok(()) => println!("{name}"),
                    Err(e) => {
                        crate::report(&e.into());
                        status = 1;
                    }
                }
            }
            return Ok(status);
        }
        VolumeCommand::Prune { all, .. } => {
            let report = engine.volume_prune(*all, &Default::default())?;
            println!("Deleted Volumes:");
            for name in &report.volumes_deleted {
                println!("{name}");
            }
            println!("\nTotal reclaimed space: {}", format::size(report.space_reclaimed));
        }
    }
    Ok(0)
}
