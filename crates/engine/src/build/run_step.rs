//! The `RUN` step: its command (heredocs as BuildKit runs them), its cache key (build
//! arguments, network, bind mounts' content; never a cache mount's), its mounts made
//! ready, and the container ([`super::run`]) that runs it.

use std::path::PathBuf;
use std::time::Instant;

use lindocker_dockerfile::ast;

use super::cache::{self, Entry};
use super::context::SourceTree;
use super::copy::{self, CopyRequest, CopySource};
use super::layer::StepRoot;
use super::vars::Scope;
use super::{Build, BuildEvent, State, config, run, with_layer};
use crate::EngineError;
use crate::options::MountSpec;

impl Build<'_> {
    pub(super) fn run_step(
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
        // The host's network namespace (its loopback services) is the user's to grant, as
        // BuildKit's `network.host` entitlement: a Dockerfile or a base image's ONBUILD
        // trigger cannot take it by itself.
        if network == "host" && run.network.is_some() && self.request.network.as_deref() != Some("host") {
            return Err(EngineError::Invalid(
                "RUN --network=host: network.host is not allowed; build with --network host to allow it".into(),
            ));
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
        let request = bind_request(&sources);
        copy::source_digest(&self.tree, &request)
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
                let dir = super::cache_mount_dir(&self.engine.root).join(cache::key(&["cache-mount", id]));
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
                let request = bind_request(&sources);
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

/// The longest output line kept whole; a longer one is cut into pieces this long (a step
/// printing without new lines must not grow the engine's memory).
const MAX_LINE: usize = 64 << 10;

/// Splits output into lines.
#[derive(Default)]
struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    fn feed(&mut self, data: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        // Only the new bytes are searched: a long line costs linear time, not quadratic.
        for piece in data.split_inclusive(|b| *b == b'\n') {
            let (mut body, ended) = match piece.split_last() {
                Some((b'\n', body)) => (body, true),
                _ => (piece, false),
            };
            while self.partial.len() + body.len() > MAX_LINE {
                let (head, tail) = body.split_at(MAX_LINE - self.partial.len());
                self.partial.extend_from_slice(head);
                out.push(self.take());
                body = tail;
            }
            self.partial.extend_from_slice(body);
            if ended {
                out.push(self.take());
            }
        }
        out
    }

    fn take(&mut self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned()
    }

    fn rest(&mut self) -> Option<String> {
        (!self.partial.is_empty()).then(|| String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned())
    }
}

/// What a `RUN --mount=type=bind` copies: its source, whole, to `/mnt/` of a scratch
/// directory (the same request keys the step and makes the copy).
fn bind_request(sources: &[CopySource]) -> CopyRequest<'_> {
    CopyRequest { sources, dest: "/mnt/", chown: None, chmod: None, add: false, exclude: &[], parents: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_line_is_cut_and_nothing_is_lost() {
        // A step printing without new lines must not grow the engine's memory.
        let mut s = LineSplitter::default();
        let chunk = vec![b'a'; 1 << 20];
        let mut seen = 0;
        for _ in 0..64 {
            for line in s.feed(&chunk) {
                assert!(line.len() <= MAX_LINE, "a line of {} bytes", line.len());
                seen += line.len();
            }
            assert!(s.partial.len() <= MAX_LINE, "{} bytes held", s.partial.len());
        }
        seen += s.rest().map_or(0, |r| r.len());
        assert_eq!(seen, 64 << 20);
        assert_eq!(s.feed(b"x\ny\n"), vec!["x".to_owned(), "y".to_owned()]);
    }

    #[test]
    fn output_is_split_into_lines() {
        let mut s = LineSplitter::default();
        assert_eq!(s.feed(b"a\nb"), vec!["a".to_owned()]);
        assert_eq!(s.feed(b"c\n"), vec!["bc".to_owned()]);
        assert_eq!(s.feed(b"d"), Vec::<String>::new());
        assert_eq!(s.rest(), Some("d".to_owned()));
    }
}
