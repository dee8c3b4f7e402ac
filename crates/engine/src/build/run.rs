//! `RUN`: the command as a container made and started through the engine's own path
//! (`create` + shim + the default runtime, with the default confinement: seccomp,
//! Docker's capabilities, no new privileges), its read-write layer stored as the step's
//! layer, the container removed whatever happened.

use std::path::Path;
use std::time::Duration;

use lindocker_image::ImageRecord;
use serde_json::Value;

use super::cache::BuiltLayer;
use super::layer::commit_upper;
use crate::attach::{Kind, read_frame};
use crate::lifecycle::CreateRequest;
use crate::options::MountSpec;
use crate::{Engine, EngineError};

/// What one `RUN` runs.
#[derive(Debug)]
pub struct RunSpec<'a> {
    /// The process (shell form already put after the shell).
    pub argv: Vec<String>,
    /// The image config of the state it runs on (Env, WorkingDir, User).
    pub config: &'a Value,
    /// The layers of that state.
    pub layers: &'a [BuiltLayer],
    /// Build arguments and proxy settings, added to its environment only.
    pub env: Vec<String>,
    /// `none`, `host`, `bridge` or a network's name.
    pub network: String,
    /// `RUN --mount`s, made ready by the caller.
    pub mounts: Vec<MountSpec>,
}

/// The image name build containers are recorded with (`ps -a` shows it, should one be
/// left by a killed `build`).
pub const IMAGE_NAME: &str = "lindocker-build";

/// Removes the containers of builds that were killed half-way (their `build` gone, the
/// command ended, nobody holding them): run before a build's first `RUN`.
pub fn sweep_abandoned(engine: &Engine) {
    let Ok((ids, _)) = engine.records().scan() else { return };
    for id in ids {
        let Ok(record) = engine.records().read(&id) else { continue };
        if record.image_name != IMAGE_NAME {
            continue;
        }
        let record = engine.reconcile(record);
        if record.state.status.is_live() {
            continue;
        }
        // Its build holds `<state>/<id>.build` for the container's whole life (the
        // busy lock is let go before the build is done with it).
        let owner = owner_lock(engine, &id);
        let Ok(Some(_owner)) = lindocker_sys::lock::FileLock::try_exclusive(&owner) else { continue };
        if let Some(_free) = engine.try_abandoned(&id) {
            let _ = engine.remove_now(&record, true);
            let _ = std::fs::remove_file(&owner);
        }
    }
}

/// The lock a build holds on its step's container.
fn owner_lock(engine: &Engine, id: &str) -> std::path::PathBuf {
    engine.state().join(format!("{id}.build"))
}

/// The error of a command that failed, in BuildKit's words.
pub fn failed(argv: &[String], code: i32) -> String {
    format!("process \"{}\" did not complete successfully: exit code: {code}", argv.join(" "))
}

/// Runs the step; `output` gets the command's output as it comes. Returns the layer of
/// its changes (None if it changed nothing), or the failure; either way no container,
/// mount, network namespace or cgroup of it remains.
pub fn run(engine: &Engine, spec: &RunSpec, output: &mut dyn FnMut(&[u8])) -> Result<Option<BuiltLayer>, EngineError> {
    let image = step_image(engine, spec)?;
    let config_blob = image.id.clone();
    let result = run_on(engine, spec, image, output);
    // The step's config blob was only for the container: gone with it (unless an image
    // happens to have the very same config).
    if !engine.images().images().is_ok_and(|all| all.iter().any(|i| i.id == config_blob))
        && let Ok(path) = engine.images().blob_path(&config_blob)
    {
        let _ = std::fs::remove_file(path);
    }
    result
}

fn run_on(
    engine: &Engine,
    spec: &RunSpec,
    image: ImageRecord,
    output: &mut dyn FnMut(&[u8]),
) -> Result<Option<BuiltLayer>, EngineError> {
    let id = crate::ids::new_id();
    let network = match spec.network.as_str() {
        "none" | "host" => crate::record::NetworkConfig { mode: spec.network.clone(), ..Default::default() },
        name => crate::record::NetworkConfig {
            mode: "bridge".into(),
            attachments: vec![lindocker_network::Attachment { network: name.into(), ..Default::default() }],
            ..Default::default()
        },
    };
    let request = CreateRequest {
        image: IMAGE_NAME.into(),
        cmd: spec.argv.clone(),
        env: spec.env.clone(),
        attach: crate::attach_options::AttachStreams { stdin: false, stdout: true, stderr: true },
        mounts: spec.mounts.clone(),
        network,
        start_now: true,
        id: Some(id.clone()),
        built: Some(image),
        ..Default::default()
    };
    let owner = owner_lock(engine, &id);
    let owned = lindocker_sys::lock::FileLock::exclusive(&owner).map_err(|e| EngineError::io(&owner, e))?;
    let result = run_owned(engine, spec, &request, output, &id);
    let _ = std::fs::remove_file(&owner);
    drop(owned);
    result
}

fn run_owned(
    engine: &Engine,
    spec: &RunSpec,
    request: &CreateRequest,
    output: &mut dyn FnMut(&[u8]),
    id: &str,
) -> Result<Option<BuiltLayer>, EngineError> {
    let id = id.to_owned();
    let busy = engine.hold_busy(&id)?;
    let shim = engine.spawn_shim(&id)?;
    // Dropping the pending shim before `go` ends it having touched nothing.
    let record = engine.create(request)?;
    let result = (|| {
        let attached = engine.attach_network(&record).is_ok();
        let mut stream = shim.go(attached)?;
        let mut message = None;
        let code = loop {
            match read_frame(&mut stream) {
                Ok(Some((Kind::Stdout | Kind::Stderr, data))) => output(&data),
                Ok(Some((Kind::Error, text))) => message = Some(String::from_utf8_lossy(&text).into_owned()),
                Ok(Some((Kind::Exit, code))) => break String::from_utf8_lossy(&code).parse::<i32>().unwrap_or(125),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    break engine.records().read(&record.id).map(|r| r.state.exit_code).unwrap_or(255);
                }
            }
        };
        drop(busy);
        // The shim still tears down (runtime state, network, mount) after the exit frame.
        engine.wait_for_shim(&id, Duration::from_secs(10));
        if let Some(message) = message {
            return Err(EngineError::StepFailed(message));
        }
        if code != 0 {
            return Err(EngineError::StepFailed(failed(&spec.argv, code)));
        }
        let exclude: Vec<&Path> = lindocker_storage::container::INIT_FILES.iter().map(Path::new).collect();
        let parent = spec.layers.last().map(|l| l.chain_id.as_str());
        commit_upper(engine.images(), &engine.paths(&id).dir().join("upper"), parent, &exclude)
    })();
    let removed = engine.remove_now(&engine.records().read(&id).unwrap_or(record), true);
    let layer = result?;
    removed?;
    Ok(layer)
}

/// The step's state as an image the container is made from: its config without what a
/// build step must not get (health check, volumes, ports, command), stored as a blob;
/// the record is never put in the index.
fn step_image(engine: &Engine, spec: &RunSpec) -> Result<ImageRecord, EngineError> {
    let mut config = spec.config.clone();
    let inner = super::config::inner(&mut config);
    for key in ["Healthcheck", "Volumes", "ExposedPorts", "Entrypoint", "Cmd", "OnBuild", "StopSignal"] {
        inner.remove(key);
    }
    let bytes = serde_json::to_vec(&config).expect("a config serializes");
    let id = engine.images().write_blob(&bytes)?;
    Ok(ImageRecord {
        manifest: id.clone(),
        id,
        names: Vec::new(),
        digests: Vec::new(),
        layers: spec.layers.iter().map(|l| l.chain_id.clone()).collect(),
        size: 0,
        created: None,
    })
}
