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
mod layer;
mod run;
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
use self::copy::{CopyRequest, CopySource};
use self::layer::StepRoot;
use self::vars::{BuildArgs, Pairs, Scope};
use crate::options::MountSpec;
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

    /// One instruction.
    fn step(
        &mut self,
        instruction: &ast::Instruction,
        name: &str,
        state: &mut State,
        scope: &mut Scope,
        cmd_set: &mut bool,
    ) -> Result<(), EngineError> {
        let shell = config::shell(&state.config);
        let meta = |state: &mut State, created_by: String, change: &dyn Fn(&mut Value)| -> (String, Value) {
            let mut config = state.config.clone();
            change(&mut config);
            config::push_history(&mut config, &created_by, true);
            (created_by, config)
        };
        let (created_by, config) = match &instruction.kind {
            Kind::Arg(decls) => {
                for decl in decls {
                    let value = match self.args.take(&decl.name) {
                        Some(v) => Some(v),
                        None => match &decl.default {
                            Some(d) => Some(self.word(d, scope)?),
                            None => self.globals.0.iter().rev().find(|(n, _)| *n == decl.name).map(|(_, v)| v.clone()),
                        },
                    };
                    scope.declare(&decl.name, value);
                }
                return Ok(());
            }
            Kind::Run(run) => return self.run_step(run, name, state, scope, &shell),
            Kind::Copy(c) => return self.copy_step(c, false, &instruction.source.original, name, state, scope),
            Kind::Add(c) => return self.copy_step(c, true, &instruction.source.original, name, state, scope),
            Kind::Env(pairs) => {
                let mut set = Vec::new();
                for kv in pairs {
                    let key = self.word(&kv.key, scope)?;
                    let value = self.word(&kv.value, scope)?;
                    scope.set_env(&key, &value);
                    set.push((key, value));
                }
                let text = set.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
                meta(state, format!("ENV {text}"), &|c| {
                    for (k, v) in &set {
                        config::set_env(c, k, v);
                    }
                })
            }
            Kind::Label(pairs) => {
                let mut set = Vec::new();
                for kv in pairs {
                    set.push((self.word(&kv.key, scope)?, self.word(&kv.value, scope)?));
                }
                let text = set.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
                meta(state, format!("LABEL {text}"), &|c| {
                    let labels = config::inner(c).entry("Labels").or_insert_with(|| json!({}));
                    if !labels.is_object() {
                        *labels = json!({});
                    }
                    for (k, v) in &set {
                        labels[k.as_str()] = json!(v);
                    }
                })
            }
            Kind::Workdir(path) => {
                let path = self.word(path, scope)?;
                let current = state.config["config"]["WorkingDir"].as_str().unwrap_or_default().to_owned();
                let dir = config::workdir(&current, &path);
                meta(state, format!("WORKDIR {dir}"), &|c| {
                    config::inner(c).insert("WorkingDir".into(), json!(dir));
                })
            }
            Kind::User(user) => {
                let user = self.word(user, scope)?;
                meta(state, format!("USER {user}"), &|c| {
                    config::inner(c).insert("User".into(), json!(user));
                })
            }
            Kind::Expose(ports) => {
                let mut keys = Vec::new();
                for p in ports {
                    for word in expand::words(p, scope, self.escape).map_err(expand_err)? {
                        let key = if word.contains('/') { word.to_lowercase() } else { format!("{word}/tcp") };
                        lindocker_network::ports::parse_exposed(&key).map_err(|e| EngineError::BadOption {
                            option: "EXPOSE".into(),
                            value: word.clone(),
                            reason: e.to_string(),
                        })?;
                        keys.push(key);
                    }
                }
                keys.sort();
                keys.dedup();
                let text = keys.iter().map(|k| format!("{k}:{{}}")).collect::<Vec<_>>().join(" ");
                meta(state, format!("EXPOSE map[{text}]"), &|c| {
                    let ports = config::inner(c).entry("ExposedPorts").or_insert_with(|| json!({}));
                    if !ports.is_object() {
                        *ports = json!({});
                    }
                    for k in &keys {
                        ports[k.as_str()] = json!({});
                    }
                })
            }
            Kind::Volume(list) => {
                let mut dirs = Vec::new();
                for v in list {
                    dirs.push(self.word(v, scope)?);
                }
                meta(state, format!("VOLUME [{}]", dirs.join(" ")), &|c| {
                    let volumes = config::inner(c).entry("Volumes").or_insert_with(|| json!({}));
                    if !volumes.is_object() {
                        *volumes = json!({});
                    }
                    for d in &dirs {
                        volumes[d.as_str()] = json!({});
                    }
                })
            }
            Kind::Cmd(command) => {
                let list = config::argv(command, &shell);
                *cmd_set = true;
                meta(state, format!("CMD {}", config::go_list(&list)), &|c| {
                    config::inner(c).insert("Cmd".into(), json!(list));
                })
            }
            Kind::Entrypoint(command) => {
                let list = config::argv(command, &shell);
                // Docker: a CMD inherited from the base is reset by ENTRYPOINT.
                let reset = !*cmd_set;
                meta(state, format!("ENTRYPOINT {}", config::go_list(&list)), &|c| {
                    let inner = config::inner(c);
                    inner.insert("Entrypoint".into(), json!(list));
                    if reset {
                        inner.insert("Cmd".into(), Value::Null);
                    }
                })
            }
            Kind::Healthcheck(check) => {
                let (object, text) = config::healthcheck(check, &shell)?;
                meta(state, text, &|c| {
                    config::inner(c).insert("Healthcheck".into(), object.clone());
                })
            }
            Kind::StopSignal(signal) => {
                let signal = self.word(signal, scope)?;
                crate::options::parse_signal("STOPSIGNAL", &signal)?;
                meta(state, format!("STOPSIGNAL {signal}"), &|c| {
                    config::inner(c).insert("StopSignal".into(), json!(signal));
                })
            }
            Kind::Shell(list) => meta(state, format!("SHELL [{}]", list.join(" ")), &|c| {
                config::inner(c).insert("Shell".into(), json!(list));
            }),
            Kind::Onbuild(trigger) => {
                let text = lindocker_dockerfile::onbuild_expression(trigger);
                meta(state, format!("ONBUILD {text}"), &|c| {
                    let list = config::inner(c).entry("OnBuild").or_insert_with(|| json!([]));
                    if !list.is_array() {
                        *list = json!([]);
                    }
                    list.as_array_mut().expect("made a list above").push(json!(text));
                })
            }
            Kind::Maintainer(name) => {
                let name = self.word(name, scope)?;
                meta(state, format!("MAINTAINER {name}"), &|c| {
                    c["author"] = json!(name);
                })
            }
        };
        // Metadata steps are cached too, so that a rebuild makes the same config (the
        // history's times) and so the same image id.
        let key = cache::key(&["meta", &state.key, &created_by]);
        let entry = match self.lookup(&key) {
            Some(entry) => entry,
            None => {
                let entry = Entry { config, layers: state.layers.clone() };
                self.cache.put(&key, &entry)?;
                entry
            }
        };
        *state = State { config: entry.config, layers: entry.layers, key };
        Ok(())
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

    fn run_step(
        &mut self,
        run: &ast::Run,
        name: &str,
        state: &mut State,
        scope: &Scope,
        shell: &[String],
    ) -> Result<(), EngineError> {
        // Heredocs as BuildKit runs them: the shell reads them, or a `#!` script is run
        // as a file of its own (mounted at /dev/pipes).
        let mut script = None;
        let argv = match lindocker_dockerfile::heredoc_run(run) {
            Some(lindocker_dockerfile::HeredocRun::Shell(text)) => {
                let mut out = shell.to_vec();
                out.push(text);
                out
            }
            Some(lindocker_dockerfile::HeredocRun::Script { name, content }) => {
                if name.is_empty() || name.contains('/') || name.starts_with('.') {
                    return Err(EngineError::Invalid(format!("bad heredoc name {name:?}")));
                }
                script = Some((name.to_owned(), content.to_owned()));
                vec![format!("/dev/pipes/{name}")]
            }
            None => config::argv(&run.command, shell),
        };
        let run_args = scope.run_args();
        let prefix = if run_args.is_empty() {
            String::new()
        } else {
            let pairs: Vec<String> = run_args.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("|{} {} ", pairs.len(), pairs.join(" "))
        };
        let created_by = format!("RUN {prefix}{} # buildkit", argv.join(" "));
        let mut env: Vec<String> = run_args.iter().map(|(k, v)| format!("{k}={v}")).collect();
        env.extend(self.args.proxies().iter().map(|(k, v)| format!("{k}={v}")));
        let network = match run.network.as_deref().or(self.request.network.as_deref()) {
            None | Some("default") => "bridge".to_owned(),
            Some(other) => other.to_owned(),
        };
        if !matches!(network.as_str(), "none" | "host" | "bridge") && run.network.is_some() {
            return Err(EngineError::BadOption {
                option: "RUN --network".into(),
                value: network,
                reason: "expected default, none or host".into(),
            });
        }
        let workdir = state.config["config"]["WorkingDir"].as_str().unwrap_or("/").to_owned();
        let mut mount_words = Vec::new();
        let mut mount_keys = Vec::new();
        for m in &run.mounts {
            let target = config::workdir(&workdir, &self.word(&m.target, scope)?);
            let from = m.from.as_ref().map(|f| self.word(f, scope)).transpose()?;
            let source = m.source.as_ref().map(|s| self.word(s, scope)).transpose()?;
            let id = m.id.as_ref().map(|i| self.word(i, scope)).transpose()?;
            mount_words.push((m.clone(), target.clone(), from.clone(), source.clone(), id.clone()));
            match m.kind {
                // What a cache or tmpfs mount holds is never part of the key.
                ast::MountKind::Cache => mount_keys.push(format!("cache:{target}")),
                ast::MountKind::Tmpfs => mount_keys.push(format!("tmpfs:{target}")),
                ast::MountKind::Bind => {
                    let from_key = match &from {
                        None => self.bind_digest(source.as_deref())?,
                        Some(f) => self.state_named(f)?.key,
                    };
                    mount_keys.push(format!(
                        "bind:{target}:{}:{from_key}:{}",
                        source.as_deref().unwrap_or("."),
                        m.readonly.unwrap_or(true)
                    ));
                }
                ast::MountKind::Secret | ast::MountKind::Ssh => {
                    return Err(EngineError::Invalid(format!(
                        "RUN --mount=type={}: secrets and ssh agents are not supported by lindocker build",
                        if m.kind == ast::MountKind::Secret { "secret" } else { "ssh" }
                    )));
                }
            }
        }
        let key = cache::key(&["run", &state.key, &created_by, &env.join("\n"), &network, &mount_keys.join("\n")]);
        let mut work = |build: &mut Self, n: usize, started: Instant| -> Result<Entry, EngineError> {
            if !build.swept {
                build.swept = true;
                run::sweep_abandoned(build.engine);
            }
            let mut held = Held::default();
            let mut mounts = Vec::new();
            if let Some((name, content)) = &script {
                let dir = build.engine.images.scratch_dir()?;
                held.dirs.push(dir.clone());
                let file = dir.join(name);
                std::fs::write(&file, content).map_err(|e| EngineError::io(&file, e))?;
                std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                    .map_err(|e| EngineError::io(&file, e))?;
                mounts.push(MountSpec::Bind {
                    source: dir,
                    target: "/dev/pipes".into(),
                    readonly: true,
                    propagation: None,
                    nonrecursive: false,
                });
            }
            for (m, target, from, source, id) in &mount_words {
                mounts.push(build.run_mount(
                    m,
                    target,
                    from.as_deref(),
                    source.as_deref(),
                    id.as_deref(),
                    &mut held,
                )?);
            }
            let spec = run::RunSpec {
                argv: argv.clone(),
                config: &state.config,
                layers: &state.layers,
                env: env.clone(),
                network: network.clone(),
                mounts,
            };
            let mut lines = LineSplitter::default();
            let progress = &mut *build.progress;
            let layer = run::run(build.engine, &spec, &mut |data| {
                for line in lines.feed(data) {
                    progress.event(BuildEvent::Output { n, elapsed: started.elapsed(), line: &line });
                }
            });
            if let Some(line) = lines.rest() {
                progress.event(BuildEvent::Output { n, elapsed: started.elapsed(), line: &line });
            }
            drop(held);
            let layer = layer?;
            Ok(with_layer(state, layer, &created_by))
        };
        let new = self.cached_vertex(name, key, &mut work)?;
        *state = new;
        Ok(())
    }

    /// The key part of a bind mount from the context: its sources' content.
    fn bind_digest(&self, source: Option<&str>) -> Result<String, EngineError> {
        let sources = [CopySource::Path(source.unwrap_or(".").to_owned())];
        let request = CopyRequest {
            sources: &sources,
            dest: "/mnt/",
            chown: None,
            chmod: None,
            add: false,
            exclude: &[],
            parents: false,
        };
        copy::source_digest(&self.tree, &request)
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

    /// Makes one `RUN --mount` ready; what must live for the step goes into `held`.
    fn run_mount(
        &mut self,
        m: &ast::RunMount,
        target: &str,
        from: Option<&str>,
        source: Option<&str>,
        id: Option<&str>,
        held: &mut Held,
    ) -> Result<MountSpec, EngineError> {
        match m.kind {
            ast::MountKind::Cache => {
                let id = id.unwrap_or(target);
                let dir = self.engine.root.join("build/cache-mounts").join(cache::key(&["cache-mount", id]));
                if !dir.exists() {
                    let mode = match &m.mode {
                        Some(text) => u32::from_str_radix(text, 8).map_err(|_| EngineError::BadOption {
                            option: "RUN --mount mode".into(),
                            value: text.clone(),
                            reason: "expected an octal mode".into(),
                        })?,
                        None => 0o755,
                    };
                    let parent = dir.parent().expect("a joined path has a parent");
                    std::fs::create_dir_all(parent).map_err(|e| EngineError::io(parent, e))?;
                    std::os::unix::fs::chown(parent, Some(0), Some(0)).map_err(|e| EngineError::io(parent, e))?;
                    let tmp = parent.join(format!(".tmp-{}", crate::ids::new_id()));
                    std::fs::create_dir(&tmp).map_err(|e| EngineError::io(&tmp, e))?;
                    std::os::unix::fs::chown(&tmp, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))
                        .map_err(|e| EngineError::io(&tmp, e))?;
                    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(mode))
                        .map_err(|e| EngineError::io(&tmp, e))?;
                    if std::fs::rename(&tmp, &dir).is_err() {
                        let _ = std::fs::remove_dir(&tmp); // made by a build beside us
                    }
                }
                // `locked` and `private` both wait for the other users (private is not
                // given a copy of its own); `shared` (the default) does not wait.
                if matches!(m.sharing.as_deref(), Some("locked" | "private")) {
                    let lock = dir.with_extension("lock");
                    held.locks
                        .push(lindocker_sys::lock::FileLock::exclusive(&lock).map_err(|e| EngineError::io(&lock, e))?);
                }
                Ok(MountSpec::Bind {
                    source: dir,
                    target: target.to_owned(),
                    readonly: m.readonly.unwrap_or(false),
                    propagation: None,
                    nonrecursive: false,
                })
            }
            ast::MountKind::Tmpfs => {
                let mut options = Vec::new();
                if let Some(size) = &m.size {
                    let bytes = crate::options::parse_bytes("RUN --mount size", size)?;
                    options.push(format!("size={bytes}"));
                }
                Ok(MountSpec::Tmpfs { target: target.to_owned(), options })
            }
            _ => {
                // A bind mount gets a copy of what it names, so that nothing the step
                // does reaches the context or the stage, and no path of theirs (a
                // symlink out) is ever handed to the runtime.
                let copy_dir = self.engine.images.scratch_dir()?;
                held.dirs.push(copy_dir.clone());
                let sources = [CopySource::Path(source.unwrap_or(".").to_owned())];
                let request = CopyRequest {
                    sources: &sources,
                    dest: "/mnt/",
                    chown: None,
                    chmod: None,
                    add: false,
                    exclude: &[],
                    parents: false,
                };
                match from {
                    None => copy::copy(&self.tree, &request, &copy_dir)?,
                    Some(f) => {
                        let state = self.state_named(f)?;
                        let root = StepRoot::mount(&self.engine.images, &state.chain(), false)?;
                        let tree = SourceTree::rootfs(&root.path())?;
                        copy::copy(&tree, &request, &copy_dir)?;
                    }
                }
                let mut path = copy_dir.join("mnt");
                let base =
                    source.unwrap_or(".").trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_owned();
                if !base.is_empty() && base != "." {
                    let file = path.join(&base);
                    if std::fs::symlink_metadata(&file).is_ok_and(|m| m.is_file()) {
                        path = file;
                    }
                }
                Ok(MountSpec::Bind {
                    source: path,
                    target: target.to_owned(),
                    readonly: m.readonly.unwrap_or(true),
                    propagation: None,
                    nonrecursive: false,
                })
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn copy_step(
        &mut self,
        c: &ast::Copy,
        add: bool,
        original: &str,
        name: &str,
        state: &mut State,
        scope: &Scope,
    ) -> Result<(), EngineError> {
        let mut sources = Vec::new();
        for s in &c.sources {
            let doc = s.strip_prefix("<<").map(|n| n.trim_start_matches('-').trim_matches(['"', '\'']));
            match doc.and_then(|n| c.heredocs.iter().find(|h| h.name == n)) {
                Some(h) => {
                    let content = if h.expand { self.word(&h.content, scope)? } else { h.content.clone() };
                    sources.push(CopySource::Inline { name: h.name.clone(), content: content.into_bytes() });
                }
                None => sources.push(CopySource::Path(self.word(s, scope)?)),
            }
        }
        let workdir = state.config["config"]["WorkingDir"].as_str().unwrap_or("/").to_owned();
        let dest_word = self.word(&c.dest, scope)?;
        let mut dest = config::workdir(&workdir, &dest_word);
        if (dest_word.ends_with('/') || dest_word == "." || dest_word.ends_with("/.")) && dest != "/" {
            dest.push('/');
        }
        let chown = c.chown.as_ref().map(|v| self.word(v, scope)).transpose()?;
        let chmod = match &c.chmod {
            Some(text) => {
                let text = self.word(text, scope)?;
                Some(u32::from_str_radix(&text, 8).ok().filter(|m| *m <= 0o7777).ok_or_else(|| {
                    EngineError::BadOption {
                        option: "--chmod".into(),
                        value: text.clone(),
                        reason: "expected an octal mode".into(),
                    }
                })?)
            }
            None => None,
        };
        let exclude = c.exclude.iter().map(|e| self.word(e, scope)).collect::<Result<Vec<_>, _>>()?;
        let from = c.from.as_ref().map(|f| self.word(f, scope)).transpose()?;
        let request = CopyRequest {
            sources: &sources,
            dest: &dest,
            chown: chown.as_deref(),
            chmod,
            add,
            exclude: &exclude,
            parents: c.parents,
        };
        let described = format!("{sources:?}\n{dest}\n{chown:?}\n{chmod:?}\n{add}\n{exclude:?}\n{}", c.parents);
        // The sources' content: hashed from the context; a stage or image is named by
        // its own key (its content follows from it), so nothing is mounted to look up.
        let (tree, content) = match &from {
            None => (FromTree::Context, copy::source_digest(&self.tree, &request)?),
            Some(f) => {
                let source = self.state_named(f)?;
                let key = source.key.clone();
                (FromTree::State(source), key)
            }
        };
        let created_by = format!("{original} # buildkit");
        let key = cache::key(&["copy", &state.key, &created_by, &described, &content]);
        let mut work = |build: &mut Self, _n: usize, _started: Instant| -> Result<Entry, EngineError> {
            let store = &build.engine.images;
            let root = StepRoot::mount(store, &state.chain(), true)?;
            match &tree {
                FromTree::Context => copy::copy(&build.tree, &request, &root.path())?,
                FromTree::State(source) => {
                    let view = StepRoot::mount(store, &source.chain(), false)?;
                    let source_tree = SourceTree::rootfs(&view.path())?;
                    copy::copy(&source_tree, &request, &root.path())?;
                }
            }
            let parent = state.layers.last().map(|l| l.chain_id.clone());
            let layer = root.commit(store, parent.as_deref())?;
            Ok(with_layer(state, layer, &created_by))
        };
        let new = self.cached_vertex(name, key, &mut work)?;
        *state = new;
        Ok(())
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

/// What a `RUN`'s mounts need while it runs: cache locks, scratch copies.
#[derive(Default)]
struct Held {
    locks: Vec<lindocker_sys::lock::FileLock>,
    dirs: Vec<PathBuf>,
}

impl Drop for Held {
    fn drop(&mut self) {
        for dir in &self.dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
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

/// Splits output into lines.
#[derive(Default)]
struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    fn feed(&mut self, data: &[u8]) -> Vec<String> {
        self.partial.extend_from_slice(data);
        let mut out = Vec::new();
        while let Some(pos) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            out.push(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
        }
        out
    }

    fn rest(&mut self) -> Option<String> {
        (!self.partial.is_empty()).then(|| String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned())
    }
}

/// The data root's directory of a build's cache mounts (for `system df`/prune later).
pub fn cache_mount_dir(root: &Path) -> PathBuf {
    root.join("build/cache-mounts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_split_into_lines() {
        let mut s = LineSplitter::default();
        assert_eq!(s.feed(b"a\nb"), vec!["a".to_owned()]);
        assert_eq!(s.feed(b"c\n"), vec!["bc".to_owned()]);
        assert_eq!(s.feed(b"d"), Vec::<String>::new());
        assert_eq!(s.rest(), Some("d".to_owned()));
    }
}
