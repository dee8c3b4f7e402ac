//! Which containers `ps` (and `GET /containers/json`) lists: running ones or all, the
//! newest first, Docker's filters, a limit.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::record::{Record, Status};
use crate::{Engine, EngineError};

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Stopped containers too.
    pub all: bool,
    /// Only the newest N (any state).
    pub last: Option<usize>,
    /// Filters as `(key, value)`: status, name, id, label, ancestor, exited, health.
    pub filters: Vec<(String, String)>,
}

/// The filter keys lindocker knows.
pub const FILTERS: [&str; 7] = ["status", "name", "id", "label", "ancestor", "exited", "health"];

impl ListOptions {
    /// Adds `KEY=VALUE` filters (the CLI's `--filter`).
    pub fn filter_texts(&mut self, texts: &[String]) -> Result<(), EngineError> {
        for f in texts {
            let (key, value) = f
                .split_once('=')
                .ok_or_else(|| EngineError::Invalid(format!("bad filter {f:?}: expected KEY=VALUE")))?;
            self.filters.push((key.to_owned(), value.to_owned()));
        }
        Ok(())
    }
}

impl Engine {
    /// The containers `options` selects, settled, newest first.
    pub fn list_containers(&self, options: &ListOptions) -> Result<Vec<Record>, EngineError> {
        // Docker's rule: values of one key are alternatives, except labels (all must hold);
        // different keys must all hold.
        let mut by_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (key, value) in &options.filters {
            if !FILTERS.contains(&key.as_str()) {
                return Err(EngineError::Invalid(format!("invalid filter '{key}'")));
            }
            if key == "health" && !matches!(value.as_str(), "starting" | "healthy" | "unhealthy" | "none") {
                return Err(EngineError::Invalid(format!("Unrecognised filter value for health: {value}")));
            }
            by_key.entry(key).or_default().push(value);
        }
        let mut records: Vec<Record> = self.settled_all()?;
        records.sort_by(|x, y| y.created.cmp(&x.created));
        if !options.all && options.last.is_none() && !by_key.contains_key("status") {
            records.retain(|r| r.state.status.is_live());
        }
        records.retain(|r| {
            by_key.iter().all(|(key, values)| {
                let mut hits = values.iter().map(|v| matches(r, key, v));
                if *key == "label" { hits.all(|h| h) } else { hits.any(|h| h) }
            })
        });
        if let Some(n) = options.last {
            records.truncate(n);
        }
        Ok(records)
    }
}

/// Whether `record` passes filter `key=value` (the key is known).
fn matches(record: &Record, key: &str, value: &str) -> bool {
    match key {
        "status" => status_name(record.state.status) == value,
        "name" => record.name.contains(value.trim_start_matches('/')),
        "id" => record.id.starts_with(value),
        "label" => match value.split_once('=') {
            Some((k, v)) => record.config.labels.get(k).is_some_and(|x| x == v),
            None => record.config.labels.contains_key(value),
        },
        "ancestor" => record.image_name == value || record.image.contains(value),
        "exited" => record.state.status == Status::Exited && record.state.exit_code.to_string() == value,
        "health" => record.state.health.as_ref().map_or("none", |h| h.status.as_str()) == value,
        _ => false,
    }
}

/// Docker's name of a state (`running`, `exited`...).
pub fn status_name(status: Status) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// A duration the way Docker's `ps` and `images` show it.
pub fn human_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let plural = |n: u64, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    match s {
        0 => "Less than a second".into(),
        1..=59 => plural(s, "second"),
        60..=119 => "About a minute".into(),
        120..=3599 => plural(s / 60, "minute"),
        3600..=7199 => "About an hour".into(),
        7200..=172_799 => plural(s / 3600, "hour"),
        172_800..=1_209_599 => plural(s / 86_400, "day"),
        1_209_600..=5_183_999 => plural(s / 604_800, "week"),
        5_184_000..=63_071_999 => plural(s / 2_592_000, "month"),
        _ => plural(s / 31_536_000, "year"),
    }
}

/// Docker's STATUS column.
pub fn status_text(record: &Record) -> String {
    let since = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| humantime::parse_rfc3339_weak(t.split('.').next().unwrap_or(t).trim_end_matches('Z')).ok())
            .map(|t| human_duration(SystemTime::now().duration_since(t).unwrap_or_default()))
            .unwrap_or_default()
    };
    match record.state.status {
        Status::Created => "Created".into(),
        Status::Running => match &record.state.health {
            Some(h) => format!("Up {} ({})", since(&record.state.started_at), h.status.ps_text()),
            None => format!("Up {}", since(&record.state.started_at)),
        },
        Status::Paused => format!("Up {} (Paused)", since(&record.state.started_at)),
        Status::Restarting => {
            format!("Restarting ({}) {} ago", record.state.exit_code, since(&record.state.finished_at))
        }
        Status::Exited => format!("Exited ({}) {} ago", record.state.exit_code, since(&record.state.finished_at)),
        Status::Removing => "Removal In Progress".into(),
    }
}
