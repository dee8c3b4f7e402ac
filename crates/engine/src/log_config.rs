//! `--log-driver` and `--log-opt`, checked as Docker's drivers check them: `json-file`
//! (Docker's on-disk format, no rotation unless `max-size`), `local` (the same files here,
//! rotated by default: 20 MB, 5 files, compressed) and `none` (nothing stored).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::EngineError;

/// Where a container's output is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum LogDriver {
    /// One JSON object per line, as Docker's json-file driver.
    #[default]
    #[serde(rename = "json-file")]
    JsonFile,
    /// Docker's `local` driver: rotated and compressed by default. Stored in the
    /// json-file format here (its on-disk format is the driver's own business).
    #[serde(rename = "local")]
    Local,
    /// Nothing stored; `logs` cannot read.
    #[serde(rename = "none")]
    None,
}

impl LogDriver {
    /// Docker's name of the driver.
    pub fn name(self) -> &'static str {
        match self {
            LogDriver::JsonFile => "json-file",
            LogDriver::Local => "local",
            LogDriver::None => "none",
        }
    }
}

/// A driver with its options, checked, and the rotation they ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// The driver.
    pub driver: LogDriver,
    /// The options as given (what `inspect` shows).
    pub opts: BTreeMap<String, String>,
    /// Rotate when a file would grow past this many bytes.
    pub max_size: Option<u64>,
    /// Files kept, the current one included.
    pub max_file: u32,
    /// Rotated files are gzipped.
    pub compress: bool,
}

/// Options every driver takes (Docker's log buffering; accepted, the shim never blocks
/// on its log anyway).
const BUILT_IN: [&str; 2] = ["mode", "max-buffer-size"];
const JSON_FILE: [&str; 8] = ["max-file", "max-size", "compress", "labels", "labels-regex", "env", "env-regex", "tag"];
const LOCAL: [&str; 3] = ["max-file", "max-size", "compress"];

/// The message of a refused option.
fn invalid(message: String) -> EngineError {
    EngineError::Invalid(message)
}

impl LogConfig {
    /// Checks `--log-driver` (json-file if not given) and the `--log-opt K=V` values.
    pub fn parse(driver: Option<&str>, opts: &[String]) -> Result<LogConfig, EngineError> {
        let driver = match driver.unwrap_or("json-file") {
            "json-file" => LogDriver::JsonFile,
            "local" => LogDriver::Local,
            "none" => LogDriver::None,
            other => return Err(invalid(format!("logger: no log driver named '{other}' is registered"))),
        };
        let mut map = BTreeMap::new();
        for opt in opts {
            let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
            map.insert(k.to_owned(), v.to_owned());
        }
        if driver == LogDriver::None {
            if !map.is_empty() {
                return Err(invalid("invalid logging opts for driver none".into()));
            }
            return Ok(LogConfig { driver, opts: map, max_size: None, max_file: 1, compress: false });
        }
        match map.get("mode").map(String::as_str) {
            None | Some("" | "blocking" | "non-blocking") => {}
            Some(mode) => return Err(invalid(format!("logger: logging mode not supported: {mode}"))),
        }
        if let Some(size) = map.get("max-buffer-size") {
            if map.get("mode").map(String::as_str) != Some("non-blocking") {
                return Err(invalid(
                    "logger: max-buffer-size option is only supported with 'mode=non-blocking'".into(),
                ));
            }
            human_size(size, 1024)
                .map_err(|e| invalid(format!("logger: could not parse value of max-buffer-size: {e}")))?;
        }
        let known: &[&str] = if driver == LogDriver::Local { &LOCAL } else { &JSON_FILE };
        for key in map.keys() {
            if !known.contains(&key.as_str()) && !BUILT_IN.contains(&key.as_str()) {
                return Err(invalid(match driver {
                    LogDriver::Local => format!("unknown log opt '{key}' for log driver local"),
                    _ => format!("unknown log opt '{key}' for json-file log driver"),
                }));
            }
        }
        let max_size = map
            .get("max-size")
            .map(|v| human_size(v, 1000).map_err(|e| invalid(format!("invalid max-size {v:?}: {e}"))))
            .transpose()?;
        if max_size == Some(0) {
            return Err(invalid("max-size must be a positive number".into()));
        }
        let max_file = match map.get("max-file") {
            Some(v) => {
                let n: i64 = v.parse().map_err(|_| invalid(format!("invalid max-file {v:?}: not a number")))?;
                if n < 1 {
                    return Err(invalid("max-file cannot be less than 1".into()));
                }
                u32::try_from(n).map_err(|_| invalid(format!("invalid max-file {v:?}: too large")))?
            }
            None if driver == LogDriver::Local => 5,
            None => 1,
        };
        let compress = match map.get("compress") {
            Some(v) => {
                parse_bool(v).ok_or_else(|| invalid(format!("invalid compress {v:?}: expected true or false")))?
            }
            None => driver == LogDriver::Local,
        };
        let max_size = match driver {
            LogDriver::Local => Some(max_size.unwrap_or(20 * 1024 * 1024)),
            _ => max_size,
        };
        if compress && (max_file < 2 || max_size.is_none()) {
            return Err(invalid(match driver {
                LogDriver::Local => "compression cannot be enabled when max file count is 1".into(),
                _ => "compress cannot be true when max-file is less than 2 or max-size is not set".into(),
            }));
        }
        Ok(LogConfig { driver, opts: map, max_size, max_file, compress })
    }
}

impl LogConfig {
    /// Writes the driver, its options and its rotation into a container's host config.
    pub fn apply_to(self, host: &mut crate::record::HostConfig) {
        host.log_driver = self.driver;
        host.log_max_size = self.max_size;
        host.log_max_file = self.max_file;
        host.log_compress = self.compress;
        host.log_opts = self.opts;
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A size as Docker's `units` reads it: a number (a fraction allowed) and an optional
/// unit `k m g t p` (any case, an optional `b`/`ib`), each a factor of `base`.
fn human_size(text: &str, base: u64) -> Result<u64, String> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 =
        number.parse().ok().filter(|v: &f64| v.is_finite()).ok_or_else(|| format!("invalid size: '{text}'"))?;
    let unit = unit.trim_start_matches(' ').to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let power = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return Err(format!("invalid size: '{text}'")),
    };
    let bytes = value * (base as f64).powi(power);
    if bytes >= u64::MAX as f64 {
        return Err(format!("invalid size: '{text}'"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(driver: Option<&str>, opts: &[&str]) -> Result<LogConfig, String> {
        LogConfig::parse(driver, &opts.iter().map(|o| o.to_string()).collect::<Vec<_>>()).map_err(|e| e.to_string())
    }

    #[test]
    fn drivers_and_defaults() {
        let c = parse(None, &[]).unwrap();
        assert_eq!((c.driver, c.max_size, c.max_file, c.compress), (LogDriver::JsonFile, None, 1, false));
        let c = parse(Some("local"), &[]).unwrap();
        assert_eq!((c.driver, c.max_size, c.max_file, c.compress), (LogDriver::Local, Some(20 << 20), 5, true));
        let c = parse(Some("json-file"), &["max-size=1k", "max-file=3", "compress=true", "tag={{.Name}}"]).unwrap();
        assert_eq!((c.max_size, c.max_file, c.compress), (Some(1000), 3, true));
        assert_eq!(parse(Some("none"), &[]).unwrap().driver, LogDriver::None);
        assert_eq!(parse(None, &["max-size=1.5MB"]).unwrap().max_size, Some(1_500_000));
    }

    #[test]
    fn refused_as_docker_refuses() {
        for (driver, opts, message) in [
            (Some("syslogish"), &[][..], "no log driver named 'syslogish' is registered"),
            (None, &["colour=red"][..], "unknown log opt 'colour' for json-file log driver"),
            (Some("local"), &["labels=a"][..], "unknown log opt 'labels' for log driver local"),
            (None, &["max-file=0"][..], "max-file cannot be less than 1"),
            (None, &["max-size=-1"][..], "invalid max-size"),
            (None, &["max-size=10q"][..], "invalid max-size"),
            (None, &["max-size=0"][..], "max-size must be a positive number"),
            (None, &["compress=true"][..], "compress cannot be true"),
            (Some("local"), &["max-file=1"][..], "compression cannot be enabled"),
            (Some("none"), &["max-size=1k"][..], "invalid logging opts for driver none"),
            (None, &["mode=sometimes"][..], "logging mode not supported"),
            (None, &["max-buffer-size=4m"][..], "only supported with 'mode=non-blocking'"),
        ] {
            let err = parse(driver, opts).unwrap_err();
            assert!(err.contains(message), "{driver:?} {opts:?}: {err}");
        }
        assert!(parse(Some("local"), &["max-file=1", "compress=false"]).is_ok());
    }
}
