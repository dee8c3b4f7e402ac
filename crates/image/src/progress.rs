//! What `pull` shows: a bar per layer on a terminal (indicatif), plain lines like
//! `docker pull`'s otherwise, nothing with `--quiet`.

use std::io::{IsTerminal, Write};

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
}

/// Progress for one layer.
#[derive(Debug, Clone)]
pub struct LayerProgress {
    id: String,
    bar: Option<ProgressBar>,
    lines: bool,
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

    /// A status line (`latest: Pulling from library/busybox`).
    pub fn message(&self, text: &str) {
        match self {
            Progress::Quiet => {}
            Progress::Lines => println!("{text}"),
            Progress::Bars(multi) => {
                let _ = multi.println(text);
            }
        }
    }

    /// Starts tracking the layer `digest` of `size` bytes.
    pub fn layer(&self, digest: &str, size: u64) -> LayerProgress {
        let id = short(digest).to_owned();
        match self {
            Progress::Quiet => LayerProgress { id, bar: None, lines: false },
            Progress::Lines => {
                println!("{id}: Pulling fs layer");
                let _ = std::io::stdout().flush();
                LayerProgress { id, bar: None, lines: true }
            }
            Progress::Bars(multi) => {
                let bar = multi.add(ProgressBar::new(size));
                bar.set_style(
                    ProgressStyle::with_template("{prefix}: {msg:<16} [{bar:30}] {bytes}/{total_bytes}")
                        .expect("template is valid")
                        .progress_chars("=> "),
                );
                bar.set_prefix(id.clone());
                bar.set_message("Downloading");
                LayerProgress { id, bar: Some(bar), lines: false }
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
    }

    /// The download starts over (after a dropped connection).
    pub fn restart(&self, why: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(0);
            bar.set_message("Retrying");
        } else if self.lines {
            println!("{}: Retrying ({why})", self.id);
        }
    }

    /// A step finished (`Download complete`, `Pull complete`, `Already exists`).
    pub fn status(&self, text: &'static str) {
        if let Some(bar) = &self.bar {
            bar.set_message(text);
            if text != "Download complete" {
                bar.finish();
            }
        } else if self.lines {
            println!("{}: {text}", self.id);
        }
    }
}

/// The 12 hex digits Docker shows for a digest.
pub fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}
