//! Image commands: pull, push, images, inspect, tag, rmi, import, load, save, prune, login,
//! logout.

use crate::lazy::Lazy;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use lindocker_engine::image_filter::ImageFilter;
use lindocker_engine::images::{ImageDeleteItem, ImageSummary, Images};
use lindocker_image::progress::Progress;
use lindocker_image::push::PushOptions;
use lindocker_image::registry::{self, Platform, PullOptions};
use lindocker_image::{Store, auth, reference};
use serde_json::Value;

use crate::formatter::{Listing, row, text};
use crate::template::Val;
use crate::{Cli, format};
use lindocker_engine::events::{Event, EventType, Journal};

/// The image commands at the top level (`lindocker pull`, `lindocker images`, ...).
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    #[command(flatten)]
    Both(ImageShared),
    /// List images.
    Images(Lazy<ListArgs>),
    /// Remove images.
    Rmi(Lazy<RmiArgs>),
    /// Store credentials for a registry.
    Login(Lazy<LoginArgs>),
    /// Forget the credentials for a registry.
    Logout {
        /// The registry (default docker.io).
        registry: Option<String>,
    },
}

/// The image commands with the same name at the top level and under `image`
/// (`lindocker pull` = `lindocker image pull`): one definition for both.
#[derive(Debug, Subcommand)]
pub enum ImageShared {
    /// Build an image from a Dockerfile.
    Build(Lazy<crate::build::BuildArgs>),
    /// Download an image from a registry.
    Pull(Lazy<PullArgs>),
    /// Upload an image to a registry.
    Push(Lazy<PushArgs>),
    /// Give an image another name.
    Tag {
        /// The image.
        source: String,
        /// The new name.
        target: String,
    },
    /// Show the steps an image was built by, newest first.
    History(Lazy<HistoryArgs>),
    /// Make an image from a root filesystem tar.
    Import(Lazy<ImportArgs>),
    /// Load images from a `docker save` or OCI archive.
    Load(Lazy<LoadArgs>),
    /// Write images to an archive that `docker load` and `podman load` read.
    Save(Lazy<SaveArgs>),
}

/// `lindocker image SUBCOMMAND`.
#[derive(Debug, Subcommand)]
#[command(name = "image")]
pub enum ImageSubcommand {
    #[command(flatten)]
    Both(ImageShared),
    /// Show images in detail (JSON).
    Inspect {
        /// A Go template: {{.Id}}, {{json .Config}}, {{range .RepoTags}}...
        #[arg(short, long)]
        format: Option<String>,
        /// Images by name or id.
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// List images.
    #[command(alias = "list")]
    Ls(Lazy<ListArgs>),
    /// Remove images.
    #[command(alias = "remove")]
    Rm(Lazy<RmiArgs>),
    /// Remove dangling images and the layers and blobs nothing uses.
    Prune {
        /// Remove every image no container uses, not only dangling ones.
        #[arg(short, long)]
        all: bool,
        /// Do not ask (accepted for Docker compatibility: lindocker never asks).
        #[arg(short, long)]
        force: bool,
    },
}

/// `history` options.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Sizes and dates for people (`-H=false`: bytes and RFC 3339 times).
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    human: bool,
    /// Full ids and commands.
    #[arg(long)]
    no_trunc: bool,
    /// Only the ids.
    #[arg(short, long)]
    quiet: bool,
    /// `table` (default), `table TEMPLATE`, `json` or a template: {{.ID}} {{.CreatedSince}}
    /// {{.CreatedAt}} {{.CreatedBy}} {{.Size}} {{.Comment}}.
    #[arg(long)]
    format: Option<String>,
    /// The image.
    image: String,
}

/// `pull` options.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// The platform to pick from a multi-platform image (os/arch[/variant]).
    #[arg(long)]
    platform: Option<String>,
    /// Print only the image name.
    #[arg(short, long)]
    quiet: bool,
    /// REGISTRY/REPO[:TAG|@sha256:...]
    name: String,
}

/// `push` options.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push every tag of the repository.
    #[arg(short, long)]
    all_tags: bool,
    /// Print only the pushed digest reference.
    #[arg(short, long)]
    quiet: bool,
    /// Push only if the image is for this platform (os/arch[/variant]).
    #[arg(long)]
    platform: Option<String>,
    /// REGISTRY/REPO[:TAG]
    name: String,
}

/// `images` options.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Show all images (also the untagged ones).
    #[arg(short, long)]
    all: bool,
    /// Print only the ids.
    #[arg(short, long)]
    quiet: bool,
    /// Show digests.
    #[arg(long)]
    digests: bool,
    /// Print full ids.
    #[arg(long)]
    no_trunc: bool,
    /// `table` (default), `table TEMPLATE`, `json` or a Go template per image.
    #[arg(long, default_value = "table")]
    format: String,
    /// KEY=VALUE: reference (wildcards), dangling, label, before, since, until.
    #[arg(short, long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
    /// Only images of this repository.
    repository: Option<String>,
}

/// `rmi` options.
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Remove an image even if it has several names.
    #[arg(short, long)]
    force: bool,
    /// Images by name or id.
    #[arg(required = true)]
    images: Vec<String>,
}

/// `import` options.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Dockerfile instructions for the config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER,
    /// VOLUME, WORKDIR, STOPSIGNAL.
    #[arg(short, long = "change")]
    changes: Vec<String>,
    /// A comment for the history.
    #[arg(short, long)]
    message: Option<String>,
    /// The tar file (plain, .gz or .zst), or `-` for stdin.
    file: String,
    /// The image's name.
    name: Option<String>,
}

/// `load` options.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The archive (default: stdin).
    #[arg(short, long)]
    input: Option<String>,
    /// Print nothing.
    #[arg(short, long)]
    quiet: bool,
}

/// `save` options.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Where to write (default: stdout).
    #[arg(short, long)]
    output: Option<String>,
    /// Images by name or id.
    #[arg(required = true)]
    images: Vec<String>,
}

/// `login` options.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// User name.
    #[arg(short, long)]
    username: Option<String>,
    /// Password (prefer --password-stdin).
    #[arg(short, long)]
    password: Option<String>,
    /// Read the password from stdin.
    #[arg(long)]
    password_stdin: bool,
    /// The registry (default docker.io).
    registry: Option<String>,
}

fn store(cli: &Cli) -> Result<Store> {
    Ok(images(cli)?.store().clone())
}

fn images(cli: &Cli) -> Result<Images> {
    Images::open(&cli.root, &cli.state).with_context(|| format!("opening the image store under {}", cli.root.display()))
}

/// Runs a top-level image command.
pub fn run(cli: &Cli, command: &ImageCommand) -> Result<u8> {
    match command {
        ImageCommand::Both(command) => run_shared(cli, command),
        ImageCommand::Images(a) => list(cli, a),
        ImageCommand::Rmi(a) => rmi(cli, a),
        ImageCommand::Login(a) => login(cli, a),
        ImageCommand::Logout { registry } => {
            let registry = registry.as_deref().unwrap_or("docker.io");
            if auth::remove(registry)? {
                println!("Removing login credentials for {registry}");
            } else {
                println!("Not logged in to {registry}");
            }
            Ok(0)
        }
    }
}

/// Runs `lindocker image SUBCOMMAND`.
pub fn run_sub(cli: &Cli, command: &ImageSubcommand) -> Result<u8> {
    match command {
        ImageSubcommand::Both(command) => run_shared(cli, command),
        ImageSubcommand::Inspect { format, images } => inspect(cli, images, format.as_deref()),
        ImageSubcommand::Ls(a) => list(cli, a),
        ImageSubcommand::Rm(a) => rmi(cli, a),
        ImageSubcommand::Prune { all, .. } => prune(cli, *all),
    }
}

/// Runs a command that has the same name at the top level and under `image`.
fn run_shared(cli: &Cli, command: &ImageShared) -> Result<u8> {
    match command {
        ImageShared::Build(a) => crate::build::build(cli, a),
        ImageShared::Pull(a) => pull(cli, a),
        ImageShared::Push(a) => push(cli, a),
        ImageShared::Tag { source, target } => tag(cli, source, target),
        ImageShared::History(a) => history(cli, a),
        ImageShared::Import(a) => import(cli, a),
        ImageShared::Load(a) => load(cli, a),
        ImageShared::Save(a) => save(cli, a),
    }
}

/// Journals an image event as Docker does: `id` the image's id (or, for `pull`, the
/// reference), `name` its attribute.
pub fn image_event(cli: &Cli, action: &str, id: &str, name: &str) {
    let event = Event::with(EventType::Image, action, id, &[("name", name)]);
    Journal::open(&cli.root).emit(event);
}

fn tag(cli: &Cli, source: &str, target: &str) -> Result<u8> {
    images(cli)?.tag(source, target)?;
    Ok(0)
}

/// Docker's `history` columns.
const HISTORY: Listing<'static> = Listing {
    default_table: "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
    headers: &[
        ("ID", "IMAGE"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ],
};

/// `history`: the steps of the image's config, newest first, each with the size of the
/// layer it made (`lindocker_image::history`).
fn history(cli: &Cli, a: &HistoryArgs) -> Result<u8> {
    let store = store(cli)?;
    let image = store.find(&a.image)?;
    let steps = lindocker_image::history::history(&store, &image)?;
    let id = |step: &lindocker_image::history::Step| match &step.id {
        Some(id) if a.no_trunc => id.clone(),
        Some(id) => id.trim_start_matches("sha256:").chars().take(12).collect(),
        None => "<missing>".to_owned(),
    };
    if a.quiet {
        for step in &steps {
            println!("{}", id(step));
        }
        return Ok(0);
    }
    let rows: Vec<Val> = steps
        .iter()
        .map(|step| {
            let when = step.created.as_deref().and_then(|t| {
                humantime::parse_rfc3339_weak(t.split('.').next().unwrap_or(t).trim_end_matches('Z')).ok()
            });
            let created_at = when.map(|t| humantime::format_rfc3339_seconds(t).to_string()).unwrap_or_default();
            let since = if a.human { format::ago(step.created.as_deref()) } else { created_at.clone() };
            // Docker shows a step's tabs as spaces, and cuts long commands to 45 characters.
            let by = step.created_by.replace('\t', " ");
            let by = if !a.no_trunc && by.chars().count() > 45 {
                format!("{}…", by.chars().take(44).collect::<String>())
            } else {
                by
            };
            let size = if a.human { format::size(step.size) } else { step.size.to_string() };
            row(vec![
                ("ID", text(id(step))),
                ("CreatedSince", text(since)),
                ("CreatedAt", text(created_at)),
                ("CreatedBy", text(by)),
                ("Size", text(size)),
                ("Comment", text(&step.comment)),
            ])
        })
        .collect();
    crate::formatter::print(a.format.as_deref().unwrap_or(""), &HISTORY, &rows)?;
    Ok(0)
}

fn pull(cli: &Cli, a: &PullArgs) -> Result<u8> {
    let platform = match &a.platform {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    };
    let options = PullOptions { platform, insecure: cli.insecure_registries.clone() };
    let progress = Progress::for_terminal(a.quiet);
    let image = images(cli)?.pull(&a.name, &options, &progress)?;
    let reference = reference::parse(&a.name)?;
    println!(
        "{}",
        if reference.tag().is_some() { reference.whole() } else { image.digests.first().cloned().unwrap_or(image.id) }
    );
    Ok(0)
}

fn push(cli: &Cli, a: &PushArgs) -> Result<u8> {
    let platform = a.platform.as_deref().map(Platform::parse).transpose()?;
    let options = PushOptions { insecure: cli.insecure_registries.clone(), all_tags: a.all_tags, platform };
    let progress = Progress::for_terminal(a.quiet);
    let pushed = images(cli)?.push(&a.name, &options, &progress, None)?;
    if a.quiet {
        for tag in pushed {
            let repository = tag.name.rsplit_once(':').map_or(tag.name.as_str(), |(r, _)| r);
            println!("{}@{}", reference::familiar(repository), tag.digest);
        }
    }
    Ok(0)
}

fn short_id(id: &str) -> &str {
    let hex = id.trim_start_matches("sha256:");
    &hex[..12.min(hex.len())]
}

fn split_name(name: &str) -> (String, String) {
    let familiar = reference::familiar(name);
    match familiar.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_owned(), tag.to_owned()),
        _ => (familiar.to_owned(), "<none>".to_owned()),
    }
}

fn list(cli: &Cli, a: &ListArgs) -> Result<u8> {
    // `images REPO` lists that repository's names (all tags), `images REPO:TAG` that one.
    let ops = images(cli)?;
    let mut pairs = Vec::new();
    for f in &a.filters {
        let (key, value) =
            f.split_once('=').ok_or_else(|| anyhow::anyhow!("bad format of filter (expected name=value)"))?;
        pairs.push((key.to_owned(), value.to_owned()));
    }
    let filter = ImageFilter::parse(&pairs, &ops)?;
    let images = ops.summaries(a.all, a.repository.as_deref(), &filter)?;
    let mut rows: Vec<(&ImageSummary, String, String, String)> = Vec::new();
    for image in &images {
        let digest = image
            .repo_digests
            .first()
            .and_then(|d| d.split_once('@'))
            .map(|(_, d)| d.to_owned())
            .unwrap_or_else(|| "<none>".into());
        if image.repo_tags.is_empty() {
            rows.push((image, "<none>".into(), "<none>".into(), digest));
            continue;
        }
        for name in &image.repo_tags {
            let (repo, tag) = split_name(name);
            rows.push((image, repo, tag, digest.clone()));
        }
    }
    if a.quiet {
        let mut seen = std::collections::HashSet::new();
        for (image, ..) in &rows {
            if seen.insert(image.id.clone()) {
                println!("{}", if a.no_trunc { image.id.clone() } else { short_id(&image.id).to_owned() });
            }
        }
        return Ok(0);
    }
    let listing = if a.digests { &IMAGES_DIGESTS_LISTING } else { &IMAGES_LISTING };
    let rows: Vec<Val> = rows
        .into_iter()
        .map(|(image, repo, tag, digest)| {
            let id = if a.no_trunc { image.id.clone() } else { short_id(&image.id).to_owned() };
            let created = (image.created > 0).then(|| {
                let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(image.created as u64);
                humantime::format_rfc3339_seconds(time).to_string()
            });
            row(vec![
                ("ID", text(id)),
                ("Repository", text(repo)),
                ("Tag", text(tag)),
                ("Digest", text(digest)),
                ("CreatedSince", text(format::ago(created.as_deref()))),
                ("CreatedAt", text(crate::formatter::created_at(created.as_deref()))),
                ("Size", text(format::size(image.size))),
                ("VirtualSize", text(format::size(image.size))),
                ("SharedSize", text("N/A")),
                ("UniqueSize", text("N/A")),
                ("Containers", text("N/A")),
            ])
        })
        .collect();
    crate::formatter::print(&a.format, listing, &rows)?;
    Ok(0)
}

const IMAGE_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("VirtualSize", "VIRTUAL SIZE"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("Containers", "CONTAINERS"),
];

/// `images --format`: Docker's default table and headers.
const IMAGES_LISTING: Listing<'static> = Listing {
    default_table: "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}",
    headers: IMAGE_HEADERS,
};

/// `images --digests`.
const IMAGES_DIGESTS_LISTING: Listing<'static> = Listing {
    default_table: "table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}",
    headers: IMAGE_HEADERS,
};

/// Docker-shaped JSON for an image.
pub fn inspect_value(cli: &Cli, name: &str) -> Result<Value> {
    Ok(images(cli)?.inspect(name)?)
}

fn inspect(cli: &Cli, names: &[String], template: Option<&str>) -> Result<u8> {
    let mut out = Vec::new();
    let mut status = 0;
    for name in names {
        match inspect_value(cli, name) {
            Ok(v) => out.push(v),
            Err(e) => {
                eprintln!("Error: {e}");
                status = 1;
            }
        }
    }
    match template {
        Some(t) => {
            let typed: Vec<_> = out.into_iter().map(|v| (v, crate::formatter::IMAGE_SCHEMA)).collect();
            crate::formatter::inspect_each(t, &typed)?
        }
        None => println!("{}", serde_json::to_string_pretty(&out)?),
    }
    Ok(status)
}

fn rmi(cli: &Cli, a: &RmiArgs) -> Result<u8> {
    let images = images(cli)?;
    let mut status = 0;
    for name in &a.images {
        match images.remove(name, a.force, false) {
            Ok(items) => {
                for item in items {
                    match item {
                        ImageDeleteItem::Untagged(name) => println!("Untagged: {name}"),
                        ImageDeleteItem::Deleted(id) => println!("Deleted: {id}"),
                    }
                }
            }
            Err(e) => {
                eprintln!("Error: {e}");
                status = 1;
            }
        }
    }
    Ok(status)
}

fn prune(cli: &Cli, all: bool) -> Result<u8> {
    let report = images(cli)?.prune(all)?;
    if !report.images_deleted.is_empty() {
        println!("Deleted Images:");
        for item in &report.images_deleted {
            match item {
                ImageDeleteItem::Untagged(name) => println!("untagged: {name}"),
                ImageDeleteItem::Deleted(id) => println!("deleted: {id}"),
            }
        }
        println!();
    }
    println!("Total reclaimed space: {}", format::size(report.space_reclaimed));
    Ok(0)
}

fn open_input(path: &str) -> Result<Box<dyn Read>> {
    Ok(if path == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path).with_context(|| format!("opening {path}"))?)
    })
}

fn import(cli: &Cli, a: &ImportArgs) -> Result<u8> {
    let input = open_input(&a.file)?;
    let image = images(cli)?.import(input, a.name.as_deref(), &a.changes, a.message.as_deref())?;
    println!("{}", image.id);
    Ok(0)
}

fn load(cli: &Cli, a: &LoadArgs) -> Result<u8> {
    let input: Box<dyn Read> = match &a.input {
        Some(path) => open_input(path)?,
        None if io::stdin().is_terminal() => bail!("requested load from stdin, but stdin is empty (use -i FILE)"),
        None => open_input("-")?,
    };
    let loaded = images(cli)?.load(input)?;
    if !a.quiet {
        for image in loaded {
            if image.names.is_empty() {
                println!("Loaded image ID: {}", image.image.id);
            }
            for name in image.names {
                println!("Loaded image: {}", reference::familiar(&name));
            }
        }
    }
    Ok(0)
}

fn save(cli: &Cli, a: &SaveArgs) -> Result<u8> {
    let images = images(cli)?;
    for name in &a.images {
        images.store().find(name)?;
    }
    match &a.output {
        Some(path) => {
            let tmp = format!("{path}.tmp-{}", std::process::id());
            let result = File::create(&tmp)
                .with_context(|| format!("creating {tmp}"))
                .and_then(|f| Ok(images.save(&a.images, io::BufWriter::new(f))?))
                .and_then(|()| std::fs::rename(&tmp, path).with_context(|| format!("renaming to {path}")));
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result?;
        }
        None => {
            let stdout = io::stdout();
            if stdout.is_terminal() {
                bail!("cowardly refusing to write an archive to a terminal (use -o FILE or redirect)");
            }
            images.save(&a.images, io::BufWriter::new(stdout.lock()))?;
        }
    }
    Ok(0)
}

fn login(cli: &Cli, a: &LoginArgs) -> Result<u8> {
    let registry = a.registry.as_deref().unwrap_or("docker.io");
    let username = match &a.username {
        Some(u) => u.clone(),
        None => bail!("--username is required"),
    };
    let password = match (&a.password, a.password_stdin) {
        (Some(_), true) => bail!("--password and --password-stdin are mutually exclusive"),
        (Some(p), false) => p.clone(),
        (None, true) => {
            let mut text = String::new();
            io::stdin().read_to_string(&mut text)?;
            text.trim_end_matches(['\n', '\r']).to_owned()
        }
        (None, false) => bail!("give the password with --password-stdin (or --password)"),
    };
    registry::login(registry, &username, &password, &cli.insecure_registries)?;
    println!("Login Succeeded");
    io::stdout().flush()?;
    Ok(0)
}
