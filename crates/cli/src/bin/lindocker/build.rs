//! `lindocker build`: flags to a `BuildRequest`, the engine's events to Docker's plain
//! progress log (or a compact view on a terminal), the failure as BuildKit reports it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use lindocker_engine::build::{BuildEvent, BuildProgress, BuildRequest, Context, DockerfileSource, Quiet};

use crate::{Cli, Failure};

/// `build` options.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Name and optionally a tag (`name:tag`); may be given more than once.
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// The Dockerfile (default `PATH/Dockerfile`); `-` reads it from stdin.
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// A build-time variable (`KEY=VALUE`, or `KEY` to take it from the environment).
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// The stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// Run every step, using no cached result.
    #[arg(long)]
    pub no_cache: bool,
    /// Pull the base images even if they are stored.
    #[arg(long)]
    pub pull: bool,
    /// The network of RUN steps: default, none, host or a network's name.
    #[arg(long, default_value = "default")]
    pub network: String,
    /// A label of the image (`KEY=VALUE`).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// The platform to build for (only the host's).
    #[arg(long)]
    pub platform: Option<String>,
    /// Print only the image id.
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image id to this file.
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// auto, plain or tty.
    #[arg(long, default_value = "auto")]
    pub progress: String,
    /// The context: a directory, or `-` for a tar on stdin.
    pub context: String,
}

fn bad(message: impl Into<String>) -> anyhow::Error {
    Failure::new(125, message).into()
}

/// `lindocker build`.
pub fn build(cli: &Cli, a: &BuildArgs) -> Result<u8> {
    let request = request(cli, a)?;
    let tty = match a.progress.as_str() {
        "auto" => std::io::stderr().is_terminal(),
        "tty" => true,
        "plain" => false,
        other => return Err(bad(format!("invalid value {other:?} for --progress: expected auto, plain or tty"))),
    };
    let engine = crate::open::engine(cli)?;
    let mut render = Render::new(tty);
    let mut quiet = Quiet;
    let progress: &mut dyn BuildProgress = if a.quiet { &mut quiet } else { &mut render };
    if !a.quiet && !tty {
        eprintln!("#0 building with \"default\" instance using lindocker driver\n");
    }
    match engine.build(&request, progress) {
        Ok(outcome) => {
            render.finish();
            if let Some(path) = &a.iidfile {
                std::fs::write(path, &outcome.id).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
            }
            if a.quiet {
                println!("{}", outcome.id);
            }
            Ok(0)
        }
        Err(e) => {
            render.finish();
            if let Some((name, lines)) = render.failed() {
                eprintln!("------\n > {}:", shown(&name));
                for line in lines {
                    eprintln!("{}", shown(&line));
                }
                eprintln!("------");
            }
            let message = e.to_string();
            let lines: Vec<String> = message.split('\n').map(shown).collect();
            eprintln!("ERROR: failed to solve: {}", lines.join("\n"));
            Ok(1)
        }
    }
}

/// The flags as the engine's request; a malformed one is exit 125 (as Docker's CLI).
fn request(cli: &Cli, a: &BuildArgs) -> Result<BuildRequest> {
    let mut build_args = BTreeMap::new();
    for arg in &a.build_args {
        match arg.split_once('=') {
            Some(("", _)) => return Err(bad(format!("invalid argument {arg:?} for \"--build-arg\": empty name"))),
            Some((k, v)) => {
                build_args.insert(k.to_owned(), v.to_owned());
            }
            // Docker: `--build-arg K` takes K from the environment, or is dropped.
            None => {
                if let Ok(v) = std::env::var(arg) {
                    build_args.insert(arg.clone(), v);
                }
            }
        }
    }
    for k in build_args.keys() {
        if k.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(format!("invalid argument {k:?} for \"--build-arg\": bad name")));
        }
    }
    let mut labels = BTreeMap::new();
    for label in &a.labels {
        let (k, v) = label.split_once('=').unwrap_or((label, ""));
        if k.is_empty() {
            return Err(bad(format!("invalid argument {label:?} for \"--label\": empty name")));
        }
        labels.insert(k.to_owned(), v.to_owned());
    }
    if a.network.is_empty() {
        return Err(bad("invalid argument \"\" for \"--network\""));
    }
    let stdin_context = a.context == "-";
    let context = if stdin_context {
        Context::Tar(PathBuf::from("/dev/stdin"))
    } else {
        let path = PathBuf::from(&a.context);
        let path = if path.is_absolute() { path } else { std::env::current_dir()?.join(path) };
        Context::Dir(path)
    };
    let dockerfile = match a.file.as_deref() {
        Some("-") if stdin_context => {
            return Err(bad("invalid argument: can't use stdin for both build context and dockerfile"));
        }
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| bad(format!("reading the Dockerfile from stdin: {e}")))?;
            DockerfileSource::Text(text)
        }
        // Relative to the working directory, as Docker's CLI has it; in a tar context, a
        // file of the tar.
        // A file inside the context is read there (with its own `NAME.dockerignore`).
        Some(name) if !stdin_context && let Some(inside) = inside_context(&context, name) => {
            DockerfileSource::InContext(inside)
        }
        Some(name) if !stdin_context => match std::fs::read(name) {
            Ok(bytes) => DockerfileSource::Text(
                String::from_utf8(bytes).map_err(|_| bad(format!("the Dockerfile {name} is not UTF-8")))?,
            ),
            Err(_) => DockerfileSource::InContext(name.to_owned()),
        },
        Some(name) => DockerfileSource::InContext(name.to_owned()),
        None => DockerfileSource::InContext("Dockerfile".into()),
    };
    Ok(BuildRequest {
        context,
        dockerfile,
        tags: a.tags.clone(),
        build_args,
        target: a.target.clone(),
        no_cache: a.no_cache,
        pull: a.pull,
        network: Some(a.network.clone()).filter(|n| n != "default"),
        labels,
        platform: a.platform.clone(),
        insecure_registries: cli.insecure_registries.clone(),
    })
}

/// `name` (relative to the working directory) as a path inside a context directory.
/// Only its directory is resolved here: the file itself is read inside the context (a
/// `Dockerfile` that is a symlink out of a cloned repository resolves inside it, as in
/// BuildKit, never to a host file).
fn inside_context(context: &Context, name: &str) -> Option<String> {
    let Context::Dir(dir) = context else { return None };
    let path = std::path::Path::new(name);
    let file = path.file_name()?;
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let parent = std::fs::canonicalize(parent).ok()?;
    let rel = parent.strip_prefix(std::fs::canonicalize(dir).ok()?).ok()?.join(file);
    rel.to_str().map(str::to_owned)
}

/// Docker's plain progress log, or a line per step rewritten on a terminal.
struct Render {
    tty: bool,
    names: HashMap<usize, String>,
    tails: HashMap<usize, VecDeque<String>>,
    failed: Option<usize>,
    running: Option<usize>,
}

const TAIL: usize = 10;

impl Render {
    fn new(tty: bool) -> Render {
        Render { tty, names: HashMap::new(), tails: HashMap::new(), failed: None, running: None }
    }

    fn out(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.tty && self.running.take().is_some() {
            self.out("\n");
        }
    }

    /// The failed step's name and its last output lines.
    fn failed(&self) -> Option<(String, Vec<String>)> {
        let n = self.failed?;
        let lines = self.tails.get(&n).map(|t| t.iter().cloned().collect()).unwrap_or_default();
        Some((self.names.get(&n).cloned().unwrap_or_default(), lines))
    }
}

/// `text` with its control characters but tabs escaped: step names (an image's `ONBUILD`
/// triggers among them), a step's output and errors quoting either come from images and
/// containers, and must not drive the terminal (BuildKit's tty view runs them through a
/// terminal emulator of its own for the same reason).
fn shown(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return text.to_owned();
    }
    text.chars()
        .map(|c| if c.is_control() && c != '\t' { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

impl BuildProgress for Render {
    fn event(&mut self, event: BuildEvent<'_>) {
        match event {
            BuildEvent::Vertex { n, name } => {
                let name = &shown(name);
                self.names.insert(n, name.to_owned());
                if self.tty {
                    self.out(&format!("\r\x1b[K => {name}"));
                    self.running = Some(n);
                } else {
                    self.out(&format!("#{n} {name}\n"));
                }
            }
            BuildEvent::Cached { n } => {
                if self.tty {
                    self.out(&format!("\r\x1b[K => CACHED {}\n", self.names[&n]));
                    self.running = None;
                } else {
                    self.out(&format!("#{n} CACHED\n\n"));
                }
            }
            BuildEvent::Output { n, elapsed, line } => {
                let text = format!("#{n} {:.3} {}", elapsed.as_secs_f64(), shown(line));
                let tail = self.tails.entry(n).or_default();
                if tail.len() == TAIL {
                    tail.pop_front();
                }
                tail.push_back(text.clone());
                if !self.tty {
                    self.out(&format!("{text}\n"));
                }
            }
            BuildEvent::Status { n, text } => {
                if !self.tty {
                    self.out(&format!("#{n} {}\n", shown(text)));
                }
            }
            BuildEvent::Done { n, elapsed } => {
                if self.tty {
                    self.out(&format!("\r\x1b[K => {} {}\n", self.names[&n], seconds(elapsed)));
                    self.running = None;
                } else {
                    self.out(&format!("#{n} DONE {}\n\n", seconds(elapsed)));
                }
            }
            BuildEvent::Error { n, elapsed, message } => {
                self.failed = Some(n);
                if self.tty {
                    self.out(&format!("\r\x1b[K => ERROR {} {}\n", self.names[&n], seconds(elapsed)));
                    self.running = None;
                } else {
                    self.out(&format!("#{n} ERROR: {}\n\n", shown(message)));
                }
            }
            BuildEvent::Warning { text } => {
                self.finish();
                self.out(&format!("{}\n", shown(text)));
            }
        }
    }
}
