//! What `pull` shows: a bar per layer on a terminal (indicatif), plain lines like
//! `docker pull`'s otherwise, nothing with `--quiet`; or typed [`PullEvent`]s handed to a
//! callback (the API streams them as Docker's JSON progress lines).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Where pull progress goes.
#[derive(Debug, Clone)]
pub enum Progress {
    /// Nothing but errors.
    Quiet,
    /// One line per event on stdout.
    Lines,
    /// Bars on stderr.
    Bars(MultiProgress),
    /// Each step handed to a callback.
    Events(EventSink),
}

/// One step of a pull, as Docker's progress stream has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullEvent {
    /// A line about the whole pull (`Digest: sha256:...`); `id` is the tag for
    /// `Pulling from ...`.
    Status {
        /// What happened.
        status: String,
        /// The tag or digest it is about, if any.
        id: Option<String>,
    },
    /// A layer's step (`Pulling fs layer`, `Downloading`, `Download complete`, `Pull
    /// complete`, `Already exists`, `Retrying`), with bytes so far while downloading.
    Layer {
        /// The layer's 12-hex short digest.
        id: String,
        /// The step.
        status: String,
        /// Bytes arrived and bytes in all, while downloading.
        progress: Option<(u64, u64)>,
    },
}

/// The callback of [`Progress::Events`]; called from the pull's worker threads.
#[derive(Clone)]
pub struct EventSink(pub Arc<dyn Fn(PullEvent) + Send + Sync>);

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}

/// Progress for one layer.
#[derive(Debug, Clone)]
pub struct LayerProgress {
    id: String,
    bar: Option<ProgressBar>,
    lines: bool,
    /// What moving bytes is called: `Downloading` or `Pushing`.
    verb: &'static str,
    /// With [`Progress::Events`]: the sink, bytes so far, bytes in all.
    events: Option<(EventSink, Arc<AtomicU64>, u64)>,
}

impl Progress {
    /// Bars when stderr is a terminal, lines otherwise; `quiet` silences both.
    pub fn for_terminal(quiet: bool) -> Progress {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            Progress::Bars(MultiProgress::new())
        } else {
            Progress::Lines
        }
    }

    /// A callback for every step.
    pub fn events(sink: impl Fn(PullEvent) + Send + Sync + 'static) -> Progress {
        Progress::Events(EventSink(Arc::new(sink)))
    }

    /// A status line (`Digest: sha256:...`).
    pub fn message(&self, text: &str) {
        self.message_about(None, text);
    }

    /// A status line about `id` (`latest: Pulling from library/busybox`).
    pub fn message_about(&self, id: Option<&str>, text: &str) {
        let line = match id {
            Some(id) => format!("{id}: {text}"),
            None => text.to_owned(),
        };
        match self {
            Progress::Quiet => {}
            Progress::Lines => println!("{line}"),
            Progress::Bars(multi) => {
                let _ = multi.println(line);
            }
            Progress::Events(sink) => {
                (sink.0)(PullEvent::Status { status: text.to_owned(), id: id.map(str::to_owned) })
            }
        }
    }

    /// Starts tracking the layer `digest` of `size` bytes.
    pub fn layer(&self, digest: &str, size: u64) -> LayerProgress {
        self.track(digest, size, "Pulling fs layer", "Downloading")
    }

    /// Starts tracking the upload of blob `digest` of `size` bytes (`push`).
    pub fn push_layer(&self, digest: &str, size: u64) -> LayerProgress {
        self.track(digest, size, "Preparing", "Pushing")
    }

    fn track(&self, digest: &str, size: u64, first: &str, verb: &'static str) -> LayerProgress {
        let id = short(digest).to_owned();
        match self {
            Progress::Quiet => LayerProgress { id, bar: None, lines: false, verb, events: None },
            Progress::Lines => {
                println!("{id}: {first}");
                let _ = std::io::stdout().flush();
                LayerProgress { id, bar: None, lines: true, verb, events: None }
            }
            Progress::Events(sink) => {
                (sink.0)(PullEvent::Layer { id: id.clone(), status: first.into(), progress: None });
                LayerProgress { id, bar: None, lines: false, verb, events: Some((sink.clone(), Arc::default(), size)) }
            }
            Progress::Bars(multi) => {
                let bar = multi.add(ProgressBar::new(size));
                bar.set_style(
                    ProgressStyle::with_template("{prefix}: {msg:<16} [{bar:30}] {bytes}/{total_bytes}")
                        .expect("template is valid")
                        .progress_chars("=> "),
                );
                bar.set_prefix(id.clone());
                bar.set_message(verb);
                LayerProgress { id, bar: Some(bar), lines: false, verb, events: None }
            }
        }
    }
}

impl LayerProgress {
    /// `n` more bytes arrived.
    pub fn advance(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        if let Some((sink, current, total)) = &self.events {
            let now = current.fetch_add(n, Ordering::Relaxed) + n;
            (sink.0)(PullEvent::Layer { id: self.id.clone(), status: self.verb.into(), progress: Some((now, *total)) });
        }
    }

    /// The download starts over (after a dropped connection).
    pub fn restart(&self, why: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(0);
            bar.set_message("Retrying");
        } else if self.lines {
            println!("{}: Retrying ({why})", self.id);
        } else if let Some((sink, current, _)) = &self.events {
            current.store(0, Ordering::Relaxed);
            (sink.0)(PullEvent::Layer { id: self.id.clone(), status: format!("Retrying ({why})"), progress: None });
        }
    }

    /// A step finished (`Download complete`, `Pull complete`, `Already exists`).
    pub fn status(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(text.to_owned());
            if text != "Download complete" {
                bar.finish();
            }
        } else if self.lines {
            println!("{}: {text}", self.id);
        } else if let Some((sink, ..)) = &self.events {
            (sink.0)(PullEvent::Layer { id: self.id.clone(), status: text.into(), progress: None });
        }
    }
}

/// The 12 hex digits Docker shows for a digest.
pub fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}
