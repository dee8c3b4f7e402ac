//! `build`: an image from a Dockerfile, on the engine's own run path and image store.
//!
//! The Dockerfile is parsed whole; the target stage (the last, or `--target`) and the
//! stages it needs (its `FROM`, `COPY --from`, `RUN --mount=from=`) are built, each
//! once, in dependency order, one step at a time. Every step has a cache key
//! ([`cache`]); a hit takes the stored result without running anything. `RUN` is a
//! container ([`run`]), `COPY`/`ADD` a copy into a mounted root ([`layer`], [`copy`]),
//! the rest changes the config only ([`config`]). The image is recorded, and tagged,
//! only once every step succeeded. Stages are built one after the other in this
//! process (see `docs/ARCHITECTURE.md`, "How a build runs").

pub mod cache;
pub mod config;
pub mod context;
pub mod copy;
mod copy_step;
mod instruction;
mod layer;
mod run;
mod run_step;
pub mod vars;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lindocker_dockerfile::ast::{self, Kind};
use lindocker_dockerfile::expand;
use lindocker_image::registry::{self, Platform, PullOptions};
use lindocker_image::{ImageRecord, archive, reference};
use serde_json::{Value, json};

use self::cache::{BuiltLayer, Cache, Entry};
use self::context::SourceTree;
use self::vars::{BuildArgs, Pairs, Scope};
use crate::{Engine, EngineError};

/// Where the build context comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// A directory, read in place (`.dockerignore` applied).
    Dir(PathBuf),
    /// A tar file or stream (`-`: the CLI passes `/dev/stdin`), unpacked into scratch
    /// space for the build.
    Tar(PathBuf),
}

/// Where the Dockerfile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerfileSource {
    /// A file of the context (`Dockerfile` by default).
    InContext(String),
    /// The text itself (`-f -`, or a file the CLI read).
    Text(String),
}

/// What `build` asks for, flags parsed.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The context.
    pub context: Context,
    /// The Dockerfile.
    pub dockerfile: DockerfileSource,
    /// `-t`: names the image gets when the build succeeds.
    pub tags: Vec<String>,
    /// `--build-arg K=V`.
    pub build_args: BTreeMap<String, String>,
    /// `--target`: the stage to build (default the last).
    pub target: Option<String>,
    /// `--no-cache`: run every step.
    pub no_cache: bool,
    /// `--pull`: pull every base image even if it is stored.
    pub pull: bool,
    /// `--network` for `RUN`: `none`, `host`, `default`/None (the default bridge), or a
    /// network's name.
    pub network: Option<String>,
    /// `--label`: labels of the image.
    pub labels: BTreeMap<String, String>,
    /// `--platform`: only the host's.
    pub platform: Option<String>,
    /// Registries spoken to over plain HTTP when a base image is pulled.
    pub insecure_registries: Vec<String>,
}

/// What a successful build made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOutcome {
    /// The image id (`sha256:...`).
    pub id: String,
    /// The names it got (full references).
    pub tags: Vec<String>,
}

/// What a build reports as it goes (the CLI renders it as Docker's plain or tty view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent<'a> {
    /// Step `n` starts (`[stage 2/5] RUN ...`, `[internal] load ...`).
    Vertex {
        /// Its number.
        n: usize,
        /// What it is.
        name: &'a str,
    },
    /// Step `n` was found in the cache.
    Cached {
        /// Its number.
        n: usize,
    },
    /// A line of step `n`'s output, `elapsed` after it started.
    Output {
        /// Its number.
        n: usize,
        /// Since the step started.
        elapsed: Duration,
        /// The line (without its newline).
        line: &'a str,
    },
    /// A status line of step `n` (`writing image sha256:... done`).
    Status {
        /// Its number.
        n: usize,
        /// The text.
        text: &'a str,
    },
    /// Step `n` is done.
    Done {
        /// Its number.
        n: usize,
        /// How long it took.
        elapsed: Duration,
    },
    /// Step `n` failed.
    Error {
        /// Its number.
        n: usize,
        /// How long it ran.
        elapsed: Duration,
        /// Why.
        message: &'a str,
    },
    /// A warning for the user (an unused build argument).
    Warning {
        /// The text.
        text: &'a str,
    },
}

/// Receives a build's events.
pub trait BuildProgress {
    /// One event.
    fn event(&mut self, event: BuildEvent<'_>);
}

/// A progress that drops everything (`-q`).
#[derive(Debug, Default)]
pub struct Quiet;

impl BuildProgress for Quiet {
    fn event(&mut self, _: BuildEvent<'_>) {}
}

/// The state of a stage after a step.
#[derive(Debug, Clone)]
struct State {
    config: Value,
    layers: Vec<BuiltLayer>,
    key: String,
}

impl State {
    fn chain(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.chain_id.clone()).collect()
    }
}

/// A base a step copies or mounts from (`--from`).
enum FromTree {
    Context,
    State(State),
}

/// One build in progress.
struct Build<'a> {
    engine: &'a Engine,
    request: &'a BuildRequest,
    file: ast::Dockerfile,
    escape: char,
    globals: Pairs,
    platform_args: Vec<(String, String)>,
    args: BuildArgs,
    tree: SourceTree,
    cache: Cache,
    results: Vec<Option<State>>,
    building: Vec<bool>,
    bases: Vec<String>,
    next: usize,
    swept: bool,
    progress: &'a mut dyn BuildProgress,
}

impl Engine {
    /// Builds the image `request` describes, reporting to `progress`. On failure nothing
    /// is left of the step that failed (no container, mount, layer) and no name moves;
    /// the steps that succeeded stay in the cache.
    pub fn build(&self, request: &BuildRequest, progress: &mut dyn BuildProgress) -> Result<BuildOutcome, EngineError> {
        let host = Platform::host();
        if let Some(p) = &request.platform {
            check_platform(p, &host)?;
        }
        let tags = request
            .tags
            .iter()
            .map(|t| {
                let r = reference::parse(t).map_err(|e| EngineError::BadOption {
                    option: "--tag".into(),
                    value: t.clone(),
                    reason: e.to_string(),
                })?;
                if r.digest().is_some() {
                    return Err(EngineError::BadOption {
                        option: "--tag".into(),
                        value: t.clone(),
                        reason: "a tag cannot name a digest".into(),
                    });
                }
                Ok(r.whole())
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(network) = &request.network
            && !matches!(network.as_str(), "none" | "host" | "default" | "bridge")
        {
            self.networks.inspect(network)?;
        }
        // No collection while the build runs: cache entries are checked once and then
        // relied on, new layers are named by the image only at the end.
        let _content = self.images.content_guard()?;
        let mut scratch = None;
        let started = Instant::now();
        let result = (|| {
            let mut tree = match &request.context {
                Context::Dir(dir) => {
                    if !dir.is_dir() {
                        return Err(EngineError::NotFound(format!(
                            "unable to prepare context: path {:?} not found",
                            dir.display().to_string()
                        )));
                    }
                    SourceTree::context_dir(dir)?
                }
                Context::Tar(path) => {
                    let input = std::fs::File::open(path).map_err(|e| EngineError::io(path, e))?;
                    let dir = self.images.scratch_dir()?;
                    scratch = Some(dir.clone());
                    SourceTree::context_tar(input, &dir)?
                }
            };
            let text = match &request.dockerfile {
                DockerfileSource::Text(text) => text.clone(),
                DockerfileSource::InContext(name) => {
                    let bytes = tree.read_file(name).map_err(|e| match e {
                        EngineError::NotFound(_) => EngineError::NotFound(format!(
                            "failed to read dockerfile: open {name}: no such file or directory"
                        )),
                        other => other,
                    })?;
                    // BuildKit: `<Dockerfile>.dockerignore` beside it wins over `.dockerignore`.
                    if let Ok(rules) = tree.read_file(&format!("{name}.dockerignore")) {
                        tree.set_ignore(&String::from_utf8_lossy(&rules))?;
                    }
                    String::from_utf8(bytes)
                        .map_err(|_| EngineError::Invalid(format!("the Dockerfile {name} is not UTF-8")))?
                }
            };
            progress.event(BuildEvent::Vertex { n: 1, name: "[internal] load build definition from Dockerfile" });
            let file = lindocker_dockerfile::parse(&text).map_err(|e| EngineError::Invalid(e.to_string()))?;
            progress
                .event(BuildEvent::Status { n: 1, text: &format!("transferring dockerfile: {}B done", text.len()) });
            progress.event(BuildEvent::Done { n: 1, elapsed: started.elapsed() });
            let platform_args = vars::platform_args(&host.os, &host.architecture, host.variant.as_deref());
            let count = file.stages.len();
            let mut build = Build {
                engine: self,
                request,
                escape: file.directives.escape,
                file,
                globals: Pairs::default(),
                platform_args,
                args: BuildArgs::new(request.build_args.clone()),
                tree,
                cache: Cache::open(&self.root),
                results: vec![None; count],
                building: vec![false; count],
                bases: Vec::new(),
                next: 2,
                swept: false,
                progress,
            };
            build.run(&tags)
        })();
        if let Some(dir) = scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
        result
    }
}

fn check_platform(p: &str, host: &Platform) -> Result<(), EngineError> {
    let wanted = registry::Platform::parse(p).map_err(|e| EngineError::BadOption {
        option: "--platform".into(),
        value: p.into(),
        reason: e.to_string(),
    })?;
    if wanted.os != host.os || wanted.architecture != host.architecture {
        return Err(EngineError::BadOption {
            option: "--platform".into(),
            value: p.into(),
            reason: format!("only the host's platform ({}/{}) can be built", host.os, host.architecture),
        });
    }
    Ok(())
}

fn expand_err(e: lindocker_dockerfile::ExpandError) -> EngineError {
    EngineError::Invalid(e.to_string())
}

impl Build<'_> {
    fn vertex(&mut self, name: &str) -> usize {
        let n = self.next;
        self.next += 1;
        self.progress.event(BuildEvent::Vertex { n, name });
        n
    }

    fn run(&mut self, tags: &[String]) -> Result<BuildOutcome, EngineError> {
        // Global ARGs: the platform's first, each default expanded over those before it.
        let mut globals = Pairs(self.platform_args.clone());
        for decl in self.file.global_args.clone() {
            let value = match self.args.take(&decl.name) {
                Some(v) => Some(v),
                None => match &decl.default {
                    Some(d) => Some(expand::word(d, &globals, self.escape).map_err(expand_err)?),
                    None => None,
                },
            };
            if let Some(value) = value {
                globals.0.push((decl.name.clone(), value));
            }
        }
        self.globals = globals;
        self.bases = self
            .file
            .stages
            .iter()
            .map(|s| expand::word(&s.base, &self.globals, self.escape).map_err(expand_err))
            .collect::<Result<_, _>>()?;
        let target = match &self.request.target {
            None => self.file.stages.len() - 1,
            Some(t) => self.stage_index(t).ok_or_else(|| {
                EngineError::NotFound(format!("target stage {:?} could not be found", t.to_lowercase()))
            })?,
        };
        let state = self.stage(target)?;
        let unused = self.args.unconsumed();
        if !unused.is_empty() {
            let text = format!("[Warning] One or more build-args [{}] were not consumed", unused.join(" "));
            self.progress.event(BuildEvent::Warning { text: &text });
        }
        self.export(state, tags)
    }

    /// The stage a name or index (`COPY --from=0`) refers to.
    fn stage_index(&self, name: &str) -> Option<usize> {
        let lower = name.to_lowercase();
        self.file
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| name.parse::<usize>().ok().filter(|i| *i < self.file.stages.len()))
    }

    /// The result of stage `index`, built first if it was not.
    fn stage(&mut self, index: usize) -> Result<State, EngineError> {
        if let Some(state) = &self.results[index] {
            return Ok(state.clone());
        }
        if self.building[index] {
            return Err(EngineError::Invalid(format!(
                "circular dependency detected on stage: {}",
                self.stage_label(index)
            )));
        }
        self.building[index] = true;
        let state = self.build_stage(index)?;
        self.results[index] = Some(state.clone());
        Ok(state)
    }

    fn stage_label(&self, index: usize) -> String {
        self.file.stages[index].name.clone().unwrap_or_else(|| format!("stage-{index}"))
    }

    /// The prefix of a step's name: `[build 2/5]`, or `[2/5]` in a one-stage file.
    fn step_name(&self, index: usize, k: usize, total: usize, text: &str) -> String {
        if self.file.stages.len() > 1 {
            format!("[{} {k}/{total}] {text}", self.stage_label(index))
        } else {
            format!("[{k}/{total}] {text}")
        }
    }

    fn build_stage(&mut self, index: usize) -> Result<State, EngineError> {
        let stage = self.file.stages[index].clone();
        if let Some(p) = &stage.platform {
            let p = expand::word(p, &self.globals, self.escape).map_err(expand_err)?;
            check_platform(&p, &Platform::host())?;
        }
        let base = self.bases[index].clone();
        let base_stage =
            self.file.stages[..index].iter().position(|s| s.name.as_deref() == Some(base.to_lowercase().as_str()));
        let mut triggers = Vec::new();
        // FROM: a stage, scratch, or an image (pulled if missing, or always with --pull).
        let vertices = 1 + stage.instructions.iter().filter(|i| is_vertex(&i.kind)).count();
        let mut state = match base_stage {
            Some(i) => self.stage(i)?,
            None if base.eq_ignore_ascii_case("scratch") => {
                let host = Platform::host();
                let config = json!({
                    "architecture": host.architecture,
                    "os": host.os,
                    "config": {},
                    "rootfs": { "type": "layers", "diff_ids": [] },
                    "history": [],
                });
                State { config, layers: Vec::new(), key: cache::key(&["scratch"]) }
            }
            None => {
                let name = self.step_name(index, 1, vertices, &format!("FROM {}", display_name(&base)));
                let n = self.vertex(&name);
                let started = Instant::now();
                let (image, pulled) = self.base_image(&base, n)?;
                if !pulled {
                    self.progress.event(BuildEvent::Cached { n });
                } else {
                    self.progress.event(BuildEvent::Done { n, elapsed: started.elapsed() });
                }
                let mut state = self.image_state(&image)?;
                if let Some(list) = state.config["config"]["OnBuild"].as_array() {
                    triggers = list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
                }
                config::inner(&mut state.config).remove("OnBuild");
                state
            }
        };
        let mut scope = Scope { env: config::env(&state.config), args: Vec::new() };
        let mut instructions = Vec::new();
        for trigger in &triggers {
            let parsed = lindocker_dockerfile::parse_trigger(trigger)
                .map_err(|e| EngineError::Invalid(format!("the base image's ONBUILD {trigger:?}: {e}")))?;
            instructions.push(parsed);
        }
        let vertices = vertices + instructions.iter().filter(|i| is_vertex(&i.kind)).count();
        instructions.extend(stage.instructions.iter().cloned());
        let mut k = 1;
        let mut cmd_set = false;
        for instruction in &instructions {
            if is_vertex(&instruction.kind) {
                k += 1;
            }
            let name = self.step_name(index, k, vertices, &instruction.source.original);
            self.step(instruction, &name, &mut state, &mut scope, &mut cmd_set)?;
        }
        Ok(state)
    }

    /// A base image: stored, or pulled (always with `--pull`). Returns it and whether it
    /// was pulled.
    fn base_image(&mut self, name: &str, n: usize) -> Result<(ImageRecord, bool), EngineError> {
        if !self.request.pull
            && let Ok(image) = self.engine.images.find(name)
        {
            return Ok((image, false));
        }
        let options = PullOptions { platform: Platform::host(), insecure: self.request.insecure_registries.clone() };
        let text = format!("pulling {}", display_name(name));
        self.progress.event(BuildEvent::Status { n, text: &text });
        let image = registry::pull(&self.engine.images, name, &options, &lindocker_image::progress::Progress::Quiet)?;
        Ok((image, true))
    }

    /// An image as a stage's starting state.
    fn image_state(&self, image: &ImageRecord) -> Result<State, EngineError> {
        let store = &self.engine.images;
        let config: Value = serde_json::from_slice(&store.read_blob(&image.id)?)
            .map_err(|e| EngineError::Invalid(format!("image config of {}: {e}", image.id)))?;
        let manifest: Value = serde_json::from_slice(&store.read_blob(&image.manifest)?)
            .map_err(|e| EngineError::Invalid(format!("image manifest of {}: {e}", image.id)))?;
        let descriptors = manifest["layers"].as_array().cloned().unwrap_or_default();
        let diff_ids = config["rootfs"]["diff_ids"].as_array().cloned().unwrap_or_default();
        if descriptors.len() != image.layers.len() || diff_ids.len() != image.layers.len() {
            return Err(EngineError::Invalid(format!("image {} has inconsistent layers", image.id)));
        }
        let mut layers = Vec::new();
        for ((d, diff), chain) in descriptors.iter().zip(&diff_ids).zip(&image.layers) {
            let unpacked = store.layers().info(chain).map(|i| i.size).unwrap_or(0);
            layers.push(BuiltLayer {
                digest: d["digest"].as_str().unwrap_or_default().to_owned(),
                size: d["size"].as_u64().unwrap_or(0),
                media_type: d["mediaType"].as_str().unwrap_or_default().to_owned(),
                diff_id: diff.as_str().unwrap_or_default().to_owned(),
                chain_id: chain.clone(),
                unpacked,
            });
        }
        Ok(State { config, layers, key: cache::key(&["image", &image.id]) })
    }

    fn word(&self, text: &str, scope: &Scope) -> Result<String, EngineError> {
        expand::word(text, scope, self.escape).map_err(expand_err)
    }

    fn lookup(&self, key: &str) -> Option<Entry> {
        if self.request.no_cache {
            return None;
        }
        self.cache.get(key, &self.engine.images)
    }

    /// Runs `work` as vertex `name` under `key` unless the cache has it; the new state.
    fn cached_vertex(
        &mut self,
        name: &str,
        key: String,
        work: &mut dyn FnMut(&mut Self, usize, Instant) -> Result<Entry, EngineError>,
    ) -> Result<State, EngineError> {
        let n = self.vertex(name);
        let started = Instant::now();
        if let Some(entry) = self.lookup(&key) {
            self.progress.event(BuildEvent::Cached { n });
            return Ok(State { config: entry.config, layers: entry.layers, key });
        }
        match work(self, n, started) {
            Ok(entry) => {
                self.cache.put(&key, &entry)?;
                self.progress.event(BuildEvent::Done { n, elapsed: started.elapsed() });
                Ok(State { config: entry.config, layers: entry.layers, key })
            }
            Err(e) => {
                let message = e.to_string();
                self.progress.event(BuildEvent::Error { n, elapsed: started.elapsed(), message: &message });
                Err(e)
            }
        }
    }

    /// The state a `--from` names: a stage (built if needed), else an image.
    fn state_named(&mut self, from: &str) -> Result<State, EngineError> {
        match self.stage_index(from) {
            Some(i) => self.stage(i),
            None => {
                let image = match self.engine.images.find(from) {
                    Ok(image) => image,
                    Err(_) => {
                        let options = PullOptions {
                            platform: Platform::host(),
                            insecure: self.request.insecure_registries.clone(),
                        };
                        registry::pull(
                            &self.engine.images,
                            from,
                            &options,
                            &lindocker_image::progress::Progress::Quiet,
                        )?
                    }
                };
                self.image_state(&image)
            }
        }
    }

    /// Records the image and its names.
    fn export(&mut self, state: State, tags: &[String]) -> Result<BuildOutcome, EngineError> {
        let n = self.vertex("exporting to image");
        let started = Instant::now();
        let mut config = state.config.clone();
        if !self.request.labels.is_empty() {
            let labels = config::inner(&mut config).entry("Labels").or_insert_with(|| json!({}));
            if !labels.is_object() {
                *labels = json!({});
            }
            for (k, v) in &self.request.labels {
                labels[k.as_str()] = json!(v);
            }
        }
        // The image's time is its last step's: a rebuild from the cache is the same image.
        if let Some(created) = config["history"].as_array().and_then(|h| h.last()).map(|h| h["created"].clone()) {
            config["created"] = created;
        }
        let bytes = serde_json::to_vec(&config).expect("a config serializes");
        let descriptors = state.layers.iter().map(BuiltLayer::descriptor).collect();
        let store = &self.engine.images;
        let (id, manifest) = archive::write_config_and_manifest(store, &bytes, descriptors)?;
        let text = format!("writing image {id} done");
        self.progress.event(BuildEvent::Status { n, text: &text });
        let record = ImageRecord {
            id: id.clone(),
            manifest,
            names: Vec::new(),
            digests: Vec::new(),
            layers: state.chain(),
            size: state.layers.iter().map(|l| l.unpacked).sum(),
            created: config["created"].as_str().map(str::to_owned),
        };
        if tags.is_empty() {
            store.add(record.clone(), None)?;
        }
        for tag in tags {
            store.add(record.clone(), Some(tag))?;
            let text = format!("naming to {tag} done");
            self.progress.event(BuildEvent::Status { n, text: &text });
            let familiar = reference::familiar(tag);
            let event = crate::events::Event::with(crate::events::EventType::Image, "tag", &id, &[("name", familiar)]);
            self.engine.events.emit(event);
        }
        self.progress.event(BuildEvent::Done { n, elapsed: started.elapsed() });
        Ok(BuildOutcome { id, tags: tags.to_vec() })
    }
}

/// The state after a step that made `layer` (or nothing).
fn with_layer(state: &State, layer: Option<BuiltLayer>, created_by: &str) -> Entry {
    let mut config = state.config.clone();
    let mut layers = state.layers.clone();
    config::push_history(&mut config, created_by, layer.is_none());
    if let Some(layer) = layer {
        match config["rootfs"]["diff_ids"].as_array_mut() {
            Some(ids) => ids.push(json!(layer.diff_id)),
            None => config["rootfs"] = json!({ "type": "layers", "diff_ids": [layer.diff_id] }),
        }
        layers.push(layer);
    }
    Entry { config, layers }
}

/// Whether an instruction is a step of its own in the progress view (BuildKit shows the
/// ones that make a file system state).
fn is_vertex(kind: &Kind) -> bool {
    matches!(kind, Kind::Run(_) | Kind::Copy(_) | Kind::Add(_))
}

/// An image name as BuildKit shows it (`docker.io/library/busybox:latest`).
fn display_name(name: &str) -> String {
    reference::parse(name).map(|r| r.whole()).unwrap_or_else(|_| name.to_owned())
}

/// The data root's directory of a build's cache mounts (for `system df`/prune later).
pub fn cache_mount_dir(root: &Path) -> PathBuf {
    root.join("build/cache-mounts")
}
