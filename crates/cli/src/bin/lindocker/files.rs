//! A container's files: `cp` both ways, `commit` (its changes as a new image), `export`
//! (its whole filesystem as a tar), `diff` (what changed).

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use lindocker_engine::Engine;
use lindocker_engine::copy::{self, CopyError, CopyOptions};
use lindocker_engine::inroot;
use lindocker_engine::options::MountSpec;
use lindocker_engine::record::{Record, Status};
use lindocker_image::archive::{self, NewImage};
use lindocker_image::reference;
use lindocker_storage::container::ContainerFs;
use serde_json::{Map, json};

use crate::containers::{CommitArgs, CpArgs};

fn record(engine: &Engine, name: &str) -> Result<Record> {
    let id = engine.records.resolve(name)?;
    Ok(engine.reconcile(engine.records.read(&id)?))
}

/// The descriptor a container path is resolved from, and the path relative to it. A
/// running container's own view (`/proc/PID/root`) shows its volumes, binds and tmpfs
/// mounts; a stopped one's path lies in the bind or volume mounted deepest over it, or
/// else in its filesystem `merged`. Only engine-made or admin-given host paths are
/// opened here; the container path is resolved inside the descriptor by the caller.
fn base_of(engine: &Engine, record: &Record, merged: &Path, path: &str) -> Result<(OwnedFd, String)> {
    if record.state.status.is_live() && record.state.pid > 0 {
        let root = inroot::running_root(record.state.pid, &record.id)
            .with_context(|| format!("opening the root of container {}", record.id))?;
        return Ok((root, path.to_owned()));
    }
    let wanted: PathBuf = Path::new(path).components().filter(|c| matches!(c, Component::Normal(_))).collect();
    let mut best: Option<(usize, PathBuf, String)> = None;
    for m in &record.mounts {
        let target: PathBuf =
            Path::new(m.target()).components().filter(|c| matches!(c, Component::Normal(_))).collect();
        let Ok(rest) = wanted.strip_prefix(&target) else { continue };
        let depth = target.components().count();
        if best.as_ref().is_some_and(|(d, _, _)| *d >= depth) {
            continue;
        }
        let host = match m {
            MountSpec::Bind { source, .. } => source.clone(),
            MountSpec::Volume { name, .. } => engine.volumes.data_dir(name),
            MountSpec::Tmpfs { .. } => continue, // empty while stopped: the image's files show
        };
        // Keep what the user wrote after the mount point (`/.`, a trailing `/`).
        let mut rest = rest.display().to_string();
        if path.ends_with("/.") {
            rest.push_str("/.");
        } else if path.ends_with('/') {
            rest.push('/');
        }
        best = Some((depth, host, rest));
    }
    let (host, rest) = match best {
        Some((_, host, rest)) => (host, rest),
        None => (merged.to_owned(), path.to_owned()),
    };
    let root = inroot::open_dir(&host).with_context(|| format!("opening {}", host.display()))?;
    Ok((root, rest))
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
    let (container, into_container) = match (split(source), split(destination)) {
        (Some(c), None) => (c, false),
        (None, Some(c)) => (c, true),
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("one of source and destination must be CONTAINER:PATH"),
    };
    if !into_container && destination == "-" && io::stdout().is_terminal() {
        bail!("cowardly refusing to write a tar to a terminal (redirect the output)");
    }
    let record = record(engine, &container.0)?;
    let fs = ContainerFs::at(engine.records.dir(&record.id));
    let was_mounted = record.state.status.is_live();
    let merged = engine.mount_rootfs(&record)?;
    let options = CopyOptions { follow_link: a.follow_link, archive: a.archive };
    let result = (|| -> Result<()> {
        let (root, path) = base_of(engine, &record, &merged, &container.1)?;
        let copied = if into_container && source == "-" {
            let ids = record.host_config.user_ns.then(lindocker_engine::userns::ranges);
            copy::tar_in(io::stdin().lock(), &root, &path, options, ids)
        } else if into_container {
            copy::copy_in(Path::new(source), &root, &path, options)
        } else if destination == "-" {
            let mut out = io::stdout().lock();
            copy::tar_out(&root, &path, options, &mut out)
        } else {
            copy::copy_out(&root, &path, Path::new(destination), options)
        };
        let copied = copied.map_err(|e| match e {
            CopyError::NotFound(_) => {
                anyhow::anyhow!("Could not find the file {} in container {}", container.1, container.0)
            }
            e => e.into(),
        })?;
        for skipped in copied.skipped {
            eprintln!(
                "lindocker: skipped {} (device nodes, FIFOs and sockets are not copied)",
                crate::format::printable(&skipped.to_string_lossy())
            );
        }
        Ok(())
    })();
    if !was_mounted {
        let _ = fs.unmount();
    }
    result.map(|()| 0)
}

/// `lindocker commit`: the container's read-write layer as a new layer on its image.
pub fn commit(engine: &Engine, a: &CommitArgs) -> Result<u8> {
    let record = record(engine, &a.container)?;
    let name = a.repository.as_deref().map(reference::parse).transpose()?.map(|r| r.whole());
    let mut scratch = Map::new();
    for change in &a.changes {
        lindocker_image::changes::apply(&mut scratch, change)?;
    }
    let base = engine.images.find(&record.image).ok();
    let paused = a.pause && record.state.status == Status::Running && engine.pause_for_commit(&record.id).is_ok();
    let fs = ContainerFs::at(engine.records.dir(&record.id));
    let (reader, writer) = io::pipe()?;
    let packer = std::thread::spawn(move || fs.commit(writer));
    let _guard = engine.images.content_guard()?;
    let parent = record.layers.last().map(String::as_str);
    let layer = archive::store_layer(&engine.images, parent, None, reader);
    let packed = packer.join().map_err(|_| anyhow::anyhow!("commit failed"));
    if paused {
        engine.resume_after_commit(&record.id);
    }
    packed??;
    let layer = layer?;
    let c = &record.config;
    let mut config = Map::new();
    config.insert("Env".into(), json!(c.env));
    config.insert("Cmd".into(), json!(c.cmd));
    config.insert("Entrypoint".into(), if c.entrypoint.is_empty() { json!(null) } else { json!(c.entrypoint) });
    config.insert("WorkingDir".into(), json!(c.working_dir));
    config.insert("User".into(), json!(c.user));
    config.insert("Labels".into(), json!(c.labels));
    config.insert("StopSignal".into(), json!(c.stop_signal));
    if let Some(check) = &c.healthcheck {
        config.insert("Healthcheck".into(), json!(check));
    }
    let details = NewImage {
        changes: &a.changes,
        comment: a.message.as_deref(),
        author: a.author.as_deref(),
        config: Some(config),
    };
    let image = archive::new_image(&engine.images, base.as_ref(), &layer, &details, name.as_deref())?;
    let attributes = [
        ("comment", a.message.clone().unwrap_or_default()),
        ("imageID", image.id.clone()),
        ("imageRef", name.as_deref().map(|n| reference::familiar(n).to_owned()).unwrap_or_default()),
    ];
    engine.events.emit(lindocker_engine::events::Event::container(&record, "commit", &attributes));
    println!("{}", image.id);
    Ok(0)
}

/// `lindocker export`: the container's filesystem as one tar.
pub fn export(engine: &Engine, name: &str, output: Option<&str>) -> Result<u8> {
    let record = record(engine, name)?;
    let fs = ContainerFs::at(engine.records.dir(&record.id));
    match output {
        Some(path) => {
            let file = File::create(path).with_context(|| format!("creating {path}"))?;
            fs.export(engine.images.layers(), &record.layers, io::BufWriter::new(file))?;
        }
        None => {
            if io::stdout().is_terminal() {
                bail!("cowardly refusing to write a tar to a terminal (use -o FILE or redirect)");
            }
            let mut out = io::BufWriter::new(io::stdout().lock());
            fs.export(engine.images.layers(), &record.layers, &mut out)?;
            out.flush()?;
        }
    }
    engine.events.emit(lindocker_engine::events::Event::container(&record, "export", &[]));
    Ok(0)
}

/// `lindocker diff`: A (added), C (changed), D (deleted) paths.
pub fn diff(engine: &Engine, name: &str) -> Result<u8> {
    let record = record(engine, name)?;
    let fs = ContainerFs::at(engine.records.dir(&record.id));
    for (kind, path) in fs.diff(engine.images.layers(), &record.layers)? {
        println!("{kind} {}", crate::format::printable(&path));
    }
    Ok(0)
}
