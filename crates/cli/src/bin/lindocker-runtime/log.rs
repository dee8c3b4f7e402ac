//! `--log` and `--log-format`: where errors go, in the form containerd and Podman read.
//! containerd shows a failing runtime's last `"level":"error"` JSON line to the user.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use crate::args::LogFormat;

/// The runtime's logger.
pub struct Logger {
    path: Option<PathBuf>,
    format: LogFormat,
    debug: bool,
}

impl Logger {
    /// A logger writing to `path` (stderr when `None`).
    pub fn new(path: Option<PathBuf>, format: LogFormat, debug: bool) -> Logger {
        Logger { path, format, debug }
    }

    /// Logs an error: to the log file, and always to stderr as well, saying `error` as
    /// runc's messages do (`level=error`): tools match on the word.
    pub fn error(&self, msg: &str) {
        if self.path.is_some() {
            self.write("error", msg);
        }
        let _ = writeln!(std::io::stderr(), "lindocker-runtime: error: {msg}");
    }

    /// Logs a warning.
    pub fn warn(&self, msg: &str) {
        self.write("warning", msg);
    }

    /// Logs a debug message when `--debug` is on.
    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.write("debug", msg);
        }
    }

    fn write(&self, level: &str, msg: &str) {
        let time = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
        let line = match self.format {
            LogFormat::Json => serde_json::json!({ "level": level, "msg": msg, "time": time }).to_string(),
            LogFormat::Text => format!("time=\"{time}\" level={level} msg={msg:?}"),
        };
        match &self.path {
            Some(p) => {
                if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(p) {
                    let _ = writeln!(f, "{line}");
                }
            }
            None => {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        }
    }
}
