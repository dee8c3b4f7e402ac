//! A container's files: `cp` both ways, `commit` (its changes as a new image), `export`
//! (its whole filesystem as a tar), `diff` (what changed).

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use lindocker_engine::Engine;
use lindocker_engine::options::MountSpec;
use lindocker_engine::record::{Record, Status};
use lindocker_image::archive::{self, NewImage};
use lindocker_image::reference;
use lindocker_storage::container::ContainerFs;
use lindocker_storage::pack::{Source, pack_dir};
use lindocker_storage::unpack::unpack_layer;
use serde_json::{Map, json};

use crate::containers::CommitArgs;

fn record(engine: &Engine, name: &str) -> Result<Record> {
    let id = engine.records.resolve(name)?;
    Ok(engine.reconcile(engine.records.read(&id)?))
}

/// A container path resolved under `root` without letting `..` or a symlink climb out:
/// the path (or, for one not there yet, its parent) is opened with `RESOLVE_IN_ROOT` and
/// named through /proc/self/fd while the returned descriptor lives.
fn inside(root: &Path, path: &str) -> Result<(PathBuf, Option<std::os::fd::OwnedFd>)> {
    use std::os::fd::AsRawFd;
    let relative: PathBuf = Path::new(path).components().filter(|c| matches!(c, Component::Normal(_))).collect();
    if relative.as_os_str().is_empty() {
        return Ok((root.to_owned(), None));
    }
    let dirfd =
        rustix::fs::open(root, rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY, rustix::fs::Mode::empty())?;
    let open = |p: &Path| {
        rustix::fs::openat2(
            &dirfd,
            p,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
            rustix::fs::ResolveFlags::IN_ROOT,
        )
    };
    if let Ok(fd) = open(&relative) {
        return Ok((PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())), Some(fd)));
    }
    let name = relative.file_name().expect("a normal last component").to_owned();
    let parent = relative.parent().unwrap_or(Path::new(""));
    let fd = if parent.as_os_str().is_empty() {
        rustix::fs::openat(&dirfd, ".", rustix::fs::OFlags::PATH, rustix::fs::Mode::empty())
    } else {
        open(parent)
    }
    .map_err(|_| anyhow::anyhow!("no such directory in the container: /{}", parent.display()))?;
    Ok((PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())).join(name), Some(fd)))
}

/// The directory a container path is found under, and the path relative to it. A
/// running container's own view (`/proc/PID/root`) shows its volumes, binds and tmpfs
/// mounts; a stopped one's path lies in the bind or volume mounted deepest over it, or
/// else in its filesystem `merged`.
fn base_of(engine: &Engine, record: &Record, merged: &Path, path: &str) -> (PathBuf, String) {
    if record.state.status.is_live() && record.state.pid > 0 {
        return (PathBuf::from(format!("/proc/{}/root", record.state.pid)), path.to_owned());
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
        best = Some((depth, host, rest.display().to_string()));
    }
    match best {
        Some((_, host, rest)) => (host, rest),
        None => (merged.to_owned(), path.to_owned()),
    }
}

fn copy_tree(source: &Path, destination: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(source)
        .with_context(|| format!("{}: no such file or directory", source.display()))?;
    if meta.is_dir() {
        std::fs::create_dir_all(destination)?;
        let (reader, writer) = io::pipe()?;
        let src = source.to_owned();
        let packer = std::thread::spawn(move || pack_dir(&src, Source::Plain, &[], writer));
        let unpacked = unpack_layer(reader, destination);
        packer.join().map_err(|_| anyhow::anyhow!("copy failed"))??;
        unpacked?;
    } else {
        std::fs::copy(source, destination).with_context(|| format!("copying to {}", destination.display()))?;
    }
    Ok(())
}

/// `lindocker cp`: `CONTAINER:PATH HOSTPATH` or `HOSTPATH CONTAINER:PATH`.
pub fn cp(engine: &Engine, source: &str, destination: &str) -> Result<u8> {
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
    let record = record(engine, &container.0)?;
    let fs = ContainerFs::at(engine.records.dir(&record.id));
    let was_mounted = record.state.status.is_live();
    let merged = engine.mount_rootfs(&record)?;
    let (base, path) = base_of(engine, &record, &merged, &container.1);
    let result = (|| -> Result<()> {
        if into_container {
            let host = Path::new(source);
            let (target, _fd) = inside(&base, &path)?;
            let target =
                if target.is_dir() { target.join(host.file_name().context("source has no name")?) } else { target };
            copy_tree(host, &target)
        } else {
            let (from, _fd) = inside(&base, &path)?;
            if !from.exists() {
                bail!("Could not find the file {} in container {}", container.1, container.0);
            }
            let dest = Path::new(destination);
            let dest = if dest.is_dir() {
                dest.join(Path::new(&container.1).file_name().unwrap_or_default())
            } else {
                dest.to_owned()
            };
            copy_tree(&from, &dest)
        }
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
    let details = NewImage {
        changes: &a.changes,
        comment: a.message.as_deref(),
        author: a.author.as_deref(),
        config: Some(config),
    };
    let image = archive::new_image(&engine.images, base.as_ref(), &layer, &details, name.as_deref())?;
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
    Ok(0)
}

/// `lindocker diff`: A (added), C (changed), D (deleted) paths.
pub fn diff(engine: &Engine, name: &str) -> Result<u8> {
    let record = record(engine, name)?;
    let fs = ContainerFs::at(engine.records.dir(&record.id));
    for (kind, path) in fs.diff(engine.images.layers(), &record.layers)? {
        println!("{kind} {path}");
    }
    Ok(0)
}
