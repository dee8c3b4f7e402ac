//! The `COPY`/`ADD` step: sources and destination expanded, the key from the sources'
//! content (or the `--from` stage's key), the copy into a mounted root committed as the
//! layer.

use std::time::Instant;

use lindocker_dockerfile::ast;

use super::cache::{self, Entry};
use super::context::SourceTree;
use super::copy::{self, CopyRequest, CopySource};
use super::layer::StepRoot;
use super::vars::Scope;
use super::{Build, FromTree, State, config, with_layer};
use crate::EngineError;

impl Build<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn copy_step(
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
}
