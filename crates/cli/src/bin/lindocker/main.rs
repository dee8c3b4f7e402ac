//! `lindocker`: the Docker-like command line.

mod format;
mod images;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A container engine for Linux: images, containers, networks, without a daemon.
#[derive(Debug, Parser)]
#[command(name = "lindocker", version, about)]
pub struct Cli {
    /// Where images, layers, containers and volumes live.
    #[arg(long, global = true, env = "LINDOCKER_ROOT", default_value = "/var/lib/lindocker")]
    root: PathBuf,
    /// A registry (host[:port]) to reach over plain HTTP; loopback ones always are.
    #[arg(long = "insecure-registry", global = true, env = "LINDOCKER_INSECURE_REGISTRIES", value_delimiter = ',')]
    insecure_registries: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Image(images::ImageCommand),
    /// Manage images.
    #[command(name = "image", subcommand)]
    ImageGroup(images::ImageSubcommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Image(ref command) => images::run(&cli, command),
        Command::ImageGroup(ref command) => images::run_sub(&cli, command),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(1)
        }
    }
}
