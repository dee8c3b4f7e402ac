//! A container's files: `cp` both ways, `commit` (its changes as a new image), `export`
//! (its whole filesystem as a tar), `diff` (what changed); the engine does them
//! (`lindocker_engine::files`), this reads the flags and writes the output.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::Args;
use lindocker_engine::Engine;
use lindocker_engine::copy::CopyOptions;
use lindocker_engine::files::CommitRequest;

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

/// `lindocker cp`: `CONTAINER:PATH HOSTPATH` or `HOSTPATH CONTAINER:PATH`. Every
/// container path is resolved inside the container's root, through descriptors
/// (`lindocker_engine::copy`).
pub fn cp(engine: &Engine, a: &CpArgs) -> Result<u8> {
    let (source, destination) = (a.source.as_str(), a.destination.as_str());
    let split = |s: &str| -> Option<(String, String)> {
        let (c, p) = s.split_once(':')?;
        if c.is_empty() || c.contains('/') { None } else { Some((c.to_owned(), p.to_owned())) }
    };
    let ((container, path), into_container) = match (split(source), split(destination)) {
        (Some(c), None) => (c, false),
        (None, Some(c)) => (c, true),
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("one of source and destination must be CONTAINER:PATH"),
    };
    if !into_container && destination == "-" && io::stdout().is_terminal() {
        bail!("cowardly refusing to write a tar to a terminal (redirect the output)");
    }
    let options = CopyOptions { follow_link: a.follow_link, archive: a.archive };
    let copied = if into_container && source == "-" {
        engine.archive_in(&container, &path, &mut io::stdin().lock(), options)
    } else if into_container {
        engine.copy_into(Path::new(source), &container, &path, options)
    } else if destination == "-" {
        engine.archive_out(&container, &path, &mut io::stdout().lock(), options)
    } else {
        engine.copy_out_of(&container, &path, Path::new(destination), options)
    }?;
    for skipped in copied.skipped {
        eprintln!(
            "lindocker: skipped {} (device nodes, FIFOs and sockets are not copied)",
            crate::format::printable(&skipped.to_string_lossy())
        );
    }
    Ok(0)
}

/// `lindocker commit`: the container's read-write layer as a new layer on its image.
pub fn commit(engine: &Engine, a: &CommitArgs) -> Result<u8> {
    let request = CommitRequest {
        container: a.container.clone(),
        repository: a.repository.clone(),
        changes: a.changes.clone(),
        message: a.message.clone(),
        author: a.author.clone(),
        pause: a.pause,
    };
    println!("{}", engine.commit(&request)?.id);
    Ok(0)
}

/// `lindocker export`: the container's filesystem as one tar.
pub fn export(engine: &Engine, name: &str, output: Option<&str>) -> Result<u8> {
    // Looked up first: no file is made for a container that is not there.
    engine.records().resolve(name)?;
    match output {
        Some(path) => {
            let file = File::create(path).with_context(|| format!("creating {path}"))?;
            engine.export(name, io::BufWriter::new(file))?;
        }
        None => {
            if io::stdout().is_terminal() {
                bail!("cowardly refusing to write a tar to a terminal (use -o FILE or redirect)");
            }
            let mut out = io::BufWriter::new(io::stdout().lock());
            engine.export(name, &mut out)?;
            out.flush()?;
        }
    }
    Ok(0)
}

/// `lindocker diff`: A (added), C (changed), D (deleted) paths.
pub fn diff(engine: &Engine, name: &str) -> Result<u8> {
    for change in engine.diff(name)? {
        println!("{} {}", change.kind.letter(), crate::format::printable(&change.path));
    }
    Ok(0)
}
