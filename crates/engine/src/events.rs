//! The event journal: every engine action (a container created, started, dead; an image
//! pulled; a network connected; ...) as Docker's event JSON, one line each, appended by
//! whichever process did it (a CLI, a shim) to `<root>/events/journal`. `lindocker
//! events` reads and follows it; the Docker API's `/events` will serve it too.
//!
//! Bounded: when the journal would grow past its limit it is renamed to `journal.1`
//! (replacing the older one) and a new one begun, so two files at most. Writers append
//! with one `write` per record to the journal opened `O_APPEND` (the kernel serialises
//! appends to a file: records never interleave); a rotation happens under an exclusive
//! `flock` of `events/lock`, which readers take shared to open both files as one
//! snapshot. A record a writer appends to a file just rotated away lands in `journal.1`
//! (a live follower that already moved on misses it). A writer that died mid-write
//! leaves a torn line: the next writer starts on a new line and readers skip any line
//! that does not parse.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use lindocker_sys::lock::FileLock;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::record::Record;

/// What an event is about (Docker's `Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// A container.
    Container,
    /// An image.
    Image,
    /// A network.
    Network,
    /// A volume.
    Volume,
}

impl EventType {
    /// Docker's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Container => "container",
            EventType::Image => "image",
            EventType::Network => "network",
            EventType::Volume => "volume",
        }
    }
}

/// Who the event is about: an id and attributes (`name`, `image`, `exitCode`, labels...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Container id, image id or reference, network id, volume name.
    #[serde(rename = "ID")]
    pub id: String,
    /// Sorted, as Docker prints them.
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

/// One event, in Docker's JSON (`docker events --format json`, the API's `/events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Legacy (containers and images): the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Legacy (containers and images): the actor's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Legacy (containers): the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// What it is about.
    #[serde(rename = "Type")]
    pub kind: EventType,
    /// `create`, `start`, `die`, `exec_start: sh -c ...`, `pull`, `connect`, ...
    #[serde(rename = "Action")]
    pub action: String,
    /// Who.
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// Always `local`.
    pub scope: String,
    /// Seconds since the epoch.
    pub time: i64,
    /// Nanoseconds since the epoch.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

/// Attributes kept when a record would be larger than [`MAX_RECORD`] (labels dropped).
const CORE_ATTRIBUTES: &[&str] =
    &["name", "image", "exitCode", "signal", "container", "type", "driver", "execID", "oldName", "imageID"];
/// The largest line a record may take; beyond, labels are left out.
const MAX_RECORD: usize = 8 * 1024;

impl Event {
    /// An event happening now.
    pub fn new(kind: EventType, action: &str, id: &str, attributes: BTreeMap<String, String>) -> Event {
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let time_nano = i64::try_from(now.as_nanos()).unwrap_or(i64::MAX);
        // Docker fills the legacy fields for containers and images only.
        let legacy = matches!(kind, EventType::Container | EventType::Image);
        Event {
            status: legacy.then(|| action.to_owned()),
            id: legacy.then(|| id.to_owned()),
            from: (kind == EventType::Container).then(|| attributes.get("image").cloned().unwrap_or_default()),
            kind,
            action: action.to_owned(),
            actor: Actor { id: id.to_owned(), attributes },
            scope: "local".into(),
            time: time_nano.div_euclid(1_000_000_000),
            time_nano,
        }
    }

    /// A container's event: its labels, `image` (as named at create) and `name`, then
    /// `extra` (`exitCode`, `signal`, ...).
    pub fn container(record: &Record, action: &str, extra: &[(&str, String)]) -> Event {
        let mut attributes: BTreeMap<String, String> = record.config.labels.clone();
        attributes.insert("image".into(), record.image_name.clone());
        attributes.insert("name".into(), record.name.clone());
        for (k, v) in extra {
            attributes.insert((*k).to_owned(), v.clone());
        }
        Event::new(EventType::Container, action, &record.id, attributes)
    }

    /// Docker's volume `mount` (at start) or `unmount` (at exit) of each volume `record`
    /// has: the volume's name as the actor, the container and destination as attributes.
    pub fn volume_mounts(record: &Record, action: &str) -> Vec<Event> {
        record
            .mounts
            .iter()
            .filter_map(|m| match m {
                crate::options::MountSpec::Volume { name, target, readonly, .. } => {
                    let mut attributes = BTreeMap::new();
                    attributes.insert("container".to_owned(), record.id.clone());
                    attributes.insert("driver".to_owned(), "local".to_owned());
                    if action == "mount" {
                        attributes.insert("destination".to_owned(), target.clone());
                        attributes.insert("propagation".to_owned(), String::new());
                        attributes.insert("read/write".to_owned(), (!readonly).to_string());
                    }
                    Some(Event::new(EventType::Volume, action, name, attributes))
                }
                _ => None,
            })
            .collect()
    }

    /// An event with the attributes given as pairs.
    pub fn with(kind: EventType, action: &str, id: &str, attributes: &[(&str, &str)]) -> Event {
        let attributes = attributes.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Event::new(kind, action, id, attributes)
    }

    /// The journal's line for it (newline included), at most [`MAX_RECORD`] bytes
    /// unless its core attributes alone are larger.
    fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("an event serializes");
        if line.len() > MAX_RECORD {
            let mut small = self.clone();
            small.actor.attributes.retain(|k, _| CORE_ATTRIBUTES.contains(&k.as_str()));
            for v in small.actor.attributes.values_mut() {
                if v.len() > 512 {
                    let mut end = 512;
                    while !v.is_char_boundary(end) {
                        end -= 1;
                    }
                    v.truncate(end);
                }
            }
            line = serde_json::to_vec(&small).expect("an event serializes");
        }
        line.push(b'\n');
        line
    }

    /// The value a `--format` template sees: Go's field names of Docker's
    /// `events.Message` (`.Type`, `.Action`, `.Actor.Attributes.name`, `.TimeNano`...).
    pub fn template_value(&self) -> Value {
        json!({
            "Status": self.status.clone().unwrap_or_default(),
            "ID": self.id.clone().unwrap_or_default(),
            "From": self.from.clone().unwrap_or_default(),
            "Type": self.kind.as_str(),
            "Action": self.action,
            "Actor": { "ID": self.actor.id, "Attributes": self.actor.attributes },
            "Scope": self.scope,
            "Time": self.time,
            "TimeNano": self.time_nano,
        })
    }
}

/// The journal of a data root: `<root>/events/`.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
    max_bytes: u64,
}

/// The default size of one journal file: two are kept. (Writers racing a rotation may
/// each add one record past it.)
pub const DEFAULT_MAX_BYTES: u64 = 1 << 20;
/// Overrides [`DEFAULT_MAX_BYTES`] (bytes, at least 1024): for tests and small hosts.
pub const MAX_BYTES_ENV: &str = "LINDOCKER_EVENTS_MAX_SIZE";

impl Journal {
    /// The journal under data root `root` (made on the first append).
    pub fn open(root: &Path) -> Journal {
        let max_bytes = std::env::var(MAX_BYTES_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(DEFAULT_MAX_BYTES, |v| v.max(1024));
        Journal { dir: root.join("events"), max_bytes }
    }

    /// The current file.
    pub fn path(&self) -> PathBuf {
        self.dir.join("journal")
    }

    /// The rotated (older) file.
    pub fn older_path(&self) -> PathBuf {
        self.dir.join("journal.1")
    }

    fn lock(&self, exclusive: bool) -> io::Result<FileLock> {
        let path = self.dir.join("lock");
        if exclusive { FileLock::exclusive(&path) } else { FileLock::shared(&path) }
    }

    fn open_current(&self) -> io::Result<File> {
        std::fs::OpenOptions::new().append(true).read(true).create(true).mode(0o600).open(self.path())
    }

    /// Appends `event` with one `write` to the journal opened `O_APPEND`: the kernel
    /// places each whole at the end, whoever else appends at the same time. Callers treat
    /// a failure as harmless (the action itself happened).
    pub fn append(&self, event: &Event) -> io::Result<()> {
        let line = event.to_line();
        let mut file = match self.open_current() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // The first event of this data root.
                match std::fs::DirBuilder::new().mode(0o700).create(&self.dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                self.open_current()?
            }
            other => other?,
        };
        let mut size = file.metadata()?.len();
        let mut _rotating = None;
        if size > 0 && size + line.len() as u64 > self.max_bytes {
            // One rotation at a time, and not while a reader opens its snapshot.
            _rotating = Some(self.lock(true)?);
            let ours = file.metadata()?.ino();
            // Another writer may have rotated it since we opened ours.
            if std::fs::metadata(self.path()).is_ok_and(|m| m.ino() == ours) {
                std::fs::rename(self.path(), self.older_path())?;
            }
            file = self.open_current()?;
            size = file.metadata()?.len();
        }
        let mut record = Vec::with_capacity(line.len() + 1);
        if size > 0 {
            // A writer killed mid-line left no newline: ours starts on a line of its own.
            // (Seeing another's record half-copied costs at most an empty line.)
            let mut last = [0u8; 1];
            if rustix::io::pread(&file, &mut last, size - 1)? == 1 && last[0] != b'\n' {
                record.push(b'\n');
            }
        }
        record.extend_from_slice(&line);
        // One call: a second one for a remainder could land after another's record. A
        // short write (a full disk) leaves a torn line that readers skip.
        let written = file.write(&record)?;
        if written < record.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "the event journal took part of a record"));
        }
        Ok(())
    }

    /// Appends `event`, ignoring failures (an event that cannot be written must not fail
    /// the action it reports).
    pub fn emit(&self, event: Event) {
        let _ = self.append(&event);
    }

    /// Every stored event, oldest first, then (with [`Follower::poll`]) each new one.
    pub fn follow_from_start(&self) -> Follower {
        let mut follower = Follower { journal: self.clone(), older: None, current: None, partial: Vec::new() };
        if let Ok(_lock) = self.lock(false) {
            follower.older = File::open(self.older_path()).ok();
            follower.current = File::open(self.path()).ok().and_then(|f| Some((f.metadata().ok()?.ino(), f)));
        } else {
            // No journal directory (nothing happened yet) or not ours to lock.
            follower.current = File::open(self.path()).ok().and_then(|f| Some((f.metadata().ok()?.ino(), f)));
        }
        follower
    }

    /// Only events appended from now on.
    pub fn follow_from_end(&self) -> Follower {
        let mut follower = self.follow_from_start();
        follower.older = None;
        if let Some((_, file)) = &mut follower.current {
            let _ = std::io::Seek::seek(file, io::SeekFrom::End(0));
        }
        follower
    }

    /// Every stored event, oldest first.
    pub fn read_all(&self) -> Vec<Event> {
        self.follow_from_start().poll()
    }
}

/// Reads a journal as it grows, across rotations (see [`Journal::follow_from_start`]).
#[derive(Debug)]
pub struct Follower {
    journal: Journal,
    /// The rotated file, read first (once).
    older: Option<File>,
    /// The file being read and its inode.
    current: Option<(u64, File)>,
    /// An incomplete last line, waiting for its end.
    partial: Vec<u8>,
}

impl Follower {
    /// Events appended since the last call, oldest first; lines that do not parse (a
    /// writer killed mid-line) are skipped.
    pub fn poll(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        if let Some(mut older) = self.older.take() {
            read_lines(&mut older, &mut self.partial, &mut out);
            self.partial.clear(); // a torn last line of the old file stays torn
        }
        if let Some((_, file)) = &mut self.current {
            read_lines(file, &mut self.partial, &mut out);
        }
        // Rotated (or made) since we opened ours?
        let now = std::fs::metadata(self.journal.path()).ok().map(|m| m.ino());
        if now.is_some() && now != self.current.as_ref().map(|(ino, _)| *ino) {
            // The rest of ours first (the lock: no rotation while we switch).
            let _lock = self.journal.lock(false);
            if let Some((_, file)) = &mut self.current {
                read_lines(file, &mut self.partial, &mut out);
            }
            self.partial.clear();
            self.current = File::open(self.journal.path()).ok().and_then(|f| Some((f.metadata().ok()?.ino(), f)));
            drop(_lock);
            if let Some((_, file)) = &mut self.current {
                read_lines(file, &mut self.partial, &mut out);
            }
        }
        out
    }
}

/// The longest incomplete line a reader keeps waiting for its end.
const MAX_PARTIAL: usize = 1 << 20;

/// Reads `file` to its end, parsing complete lines into `out`; an incomplete last line
/// waits in `partial`.
fn read_lines(file: &mut File, partial: &mut Vec<u8>, out: &mut Vec<Event>) {
    let mut buf = [0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => partial.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let Some(end) = partial.iter().rposition(|&b| b == b'\n') else {
        // No record is this long: a torn line that never ends is dropped.
        if partial.len() > MAX_PARTIAL {
            partial.clear();
        }
        return;
    };
    for line in partial[..end].split(|&b| b == b'\n') {
        if let Ok(event) = serde_json::from_slice::<Event>(line) {
            out.push(event);
        }
    }
    partial.drain(..=end);
}

/// `--filter` of `events`, combined as Docker does: values of one key are alternatives,
/// different keys must all match; `label` filters must all match.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    by_key: BTreeMap<String, Vec<String>>,
}

/// The keys `events --filter` takes.
const FILTER_KEYS: &[&str] = &["container", "event", "image", "label", "network", "type", "volume", "scope", "daemon"];

impl Filters {
    /// Parses `key=value` filters; an unknown key, or a `type`/`scope` value Docker
    /// does not have, is an error.
    pub fn parse(filters: &[String]) -> Result<Filters, String> {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in filters {
            let Some((key, value)) = f.split_once('=') else {
                return Err(format!("bad format of filter (expected name=value): {f:?}"));
            };
            let key = key.trim().to_ascii_lowercase();
            if !FILTER_KEYS.contains(&key.as_str()) {
                return Err(format!("invalid filter '{key}'"));
            }
            let valid_type =
                ["container", "image", "network", "volume", "daemon", "plugin", "node", "service", "secret", "config"];
            if key == "type" && !valid_type.contains(&value) {
                return Err(format!("invalid filter 'type={value}'"));
            }
            if key == "scope" && !["local", "swarm"].contains(&value) {
                return Err(format!("invalid filter 'scope={value}'"));
            }
            by_key.entry(key).or_default().push(value.to_owned());
        }
        Ok(Filters { by_key })
    }

    fn values(&self, key: &str) -> Option<&[String]> {
        self.by_key.get(key).map(Vec::as_slice)
    }

    fn exact(&self, key: &str, candidates: &[&str]) -> bool {
        self.values(key).is_none_or(|vs| vs.iter().any(|v| candidates.contains(&v.as_str())))
    }

    /// One of the values is a prefix of one of the candidates (Docker's fuzzy match).
    fn fuzzy(&self, key: &str, candidates: &[&str]) -> bool {
        self.values(key).is_none_or(|vs| vs.iter().any(|v| candidates.iter().any(|c| c.starts_with(v.as_str()))))
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &Event) -> bool {
        let attr = |k: &str| event.actor.attributes.get(k).map_or("", String::as_str);
        let id = event.actor.id.as_str();
        let of_kind = |kind: EventType| if event.kind == kind { [id, attr("name")] } else { ["\0", "\0"] };
        // `exec_create`, `exec_start`, `health_status` carry the command or status after
        // a colon: Docker matches these by prefix.
        let event_ok = if self
            .values("event")
            .is_some_and(|vs| vs.iter().any(|v| ["exec_create", "exec_start", "health_status"].contains(&v.as_str())))
        {
            self.fuzzy("event", &[&event.action])
        } else {
            self.exact("event", &[&event.action])
        };
        let image_name = if event.kind == EventType::Image { attr("name") } else { attr("image") };
        let image_ok = self.exact("image", &[id, image_name, strip_tag(id), strip_tag(image_name)]);
        let labels_ok = self.values("label").is_none_or(|vs| {
            vs.iter().all(|v| match v.split_once('=') {
                Some((k, want)) => event.actor.attributes.get(k).is_some_and(|have| have == want),
                None => event.actor.attributes.contains_key(v),
            })
        });
        event_ok
            && self.exact("type", &[event.kind.as_str()])
            && self.exact("scope", &[&event.scope])
            && self.values("daemon").is_none()
            && self.fuzzy("container", &of_kind(EventType::Container))
            && self.fuzzy("network", &of_kind(EventType::Network))
            && self.fuzzy("volume", &of_kind(EventType::Volume))
            && image_ok
            && labels_ok
    }
}

/// `name:tag` -> `name` (a registry's port is not a tag), as Docker's events name images.
pub fn strip_tag(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => image,
    }
}

/// Docker's `--since`/`--until` values: a Go duration before `now` (`10m`, `1h30m`,
/// `1.5h`), a unix time (`1700000000`, `1700000000.5`), or an RFC 3339 date or time
/// (`2024-01-02`, `2024-01-02T15:04`, `2024-01-02T15:04:05.123Z`, `...+02:00`; without a
/// zone, UTC). Returns nanoseconds since the epoch.
pub fn parse_time(text: &str, now: SystemTime) -> Result<i64, String> {
    let bad = || format!("failed to parse value as time or duration: {text:?}");
    let text = text.trim();
    let nanos_of = |t: SystemTime| match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    };
    if text != "0"
        && let Some(d) = parse_go_duration(text)
    {
        return Ok(nanos_of(now).saturating_sub(d));
    }
    if text.contains('-') && !text.starts_with('-') {
        return parse_rfc3339(text).ok_or_else(bad);
    }
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    if secs.is_empty()
        || !secs.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 9
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    let frac: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().map_err(|_| bad())? };
    secs.checked_mul(1_000_000_000).and_then(|n| n.checked_add(frac)).ok_or_else(bad)
}

/// Go's `time.ParseDuration`: `[-+]` then number-unit pairs (`ns us µs ms s m h`), in
/// nanoseconds.
fn parse_go_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let total = total as i64;
    Some(if negative { -total } else { total })
}

/// `YYYY-MM-DD[THH[:MM[:SS[.frac]]]][Z|±HH:MM]` in nanoseconds since the epoch.
fn parse_rfc3339(text: &str) -> Option<i64> {
    let digits = |s: &str| -> Option<i64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (date, rest) = text.split_at_checked(10)?;
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (year, month, day) = (digits(y)?, digits(m)?, digits(d)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // The zone: a trailing `Z` or `±HH:MM`.
    let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if rest.len() >= 6 && matches!(rest.as_bytes()[rest.len() - 6], b'+' | b'-') {
        let (c, zone) = rest.split_at(rest.len() - 6);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, mm) = zone[1..].split_once(':')?;
        (c, sign * (digits(h)? * 3600 + digits(mm)? * 60))
    } else {
        (rest, 0)
    };
    let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0);
    if !clock.is_empty() {
        let clock = clock.strip_prefix(['T', 't'])?;
        let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
        let mut fields = hms.split(':');
        hour = digits(fields.next()?)?;
        minute = fields.next().map(digits).unwrap_or(Some(0))?;
        second = fields.next().map(digits).unwrap_or(Some(0))?;
        if fields.next().is_some() || hour > 23 || minute > 59 || second > 60 || frac.len() > 9 {
            return None;
        }
        if !frac.is_empty() {
            nanos = digits(&format!("{frac:0<9}"))?;
        }
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// An RFC 3339 time with nine fraction digits, in UTC (Docker's `RFC3339NanoFixed`).
pub fn format_time(time_nano: i64) -> String {
    let secs = time_nano.div_euclid(1_000_000_000);
    let nanos = time_nano.rem_euclid(1_000_000_000) as u32;
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64) + Duration::from_nanos(u64::from(nanos));
    humantime::format_rfc3339_nanos(t).to_string()
}

/// Which events a reader wants: stored ones from `since` (nanoseconds), live ones until
/// `until`, those `filters` pass. Without `since` and `until`, only what happens from now
/// on (as Docker).
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Nanoseconds since the epoch.
    pub since: Option<i64>,
    /// Nanoseconds since the epoch.
    pub until: Option<i64>,
    /// `key=value` filters.
    pub filters: Filters,
}

impl EventQuery {
    /// Parses Docker's `since`/`until` values (see [`parse_time`]) and `key=value`
    /// filters, relative to now.
    pub fn parse(since: Option<&str>, until: Option<&str>, filters: &[String]) -> Result<EventQuery, String> {
        let now = SystemTime::now();
        let since = since.map(|t| parse_time(t, now).map_err(|e| format!("since: {e}"))).transpose()?;
        let until = until.map(|t| parse_time(t, now).map_err(|e| format!("until: {e}"))).transpose()?;
        Ok(EventQuery { since, until, filters: Filters::parse(filters)? })
    }
}

/// The events of a [`EventQuery`], read in batches as the journal grows.
#[derive(Debug)]
pub struct EventStream {
    follower: Follower,
    query: EventQuery,
    done: bool,
}

impl Journal {
    /// The events `query` wants: stored ones first, then live ones.
    pub fn stream(&self, query: EventQuery) -> EventStream {
        let follower = if query.since.is_some() || query.until.is_some() {
            self.follow_from_start()
        } else {
            self.follow_from_end()
        };
        EventStream { follower, query, done: false }
    }
}

impl crate::Engine {
    /// The events of this engine's journal that `query` wants.
    pub fn event_stream(&self, query: EventQuery) -> EventStream {
        self.events.stream(query)
    }
}

impl EventStream {
    /// The matching events appended since the last call, oldest first. After the batch
    /// that reached `until`, [`EventStream::finished`] is true.
    pub fn next_batch(&mut self) -> Vec<Event> {
        let polled_at = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
        let (since, until) = (self.query.since, self.query.until);
        let out = self
            .follower
            .poll()
            .into_iter()
            .filter(|e| since.is_none_or(|s| e.time_nano >= s) && until.is_none_or(|u| e.time_nano <= u))
            .filter(|e| self.query.filters.matches(e))
            .collect();
        if until.is_some_and(|u| polled_at > u) {
            self.done = true;
        }
        out
    }

    /// Whether `until` has passed (nothing more will come).
    pub fn finished(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventType, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        Event::with(kind, action, id, attrs)
    }

    #[test]
    fn docker_json_shape() {
        let e = ev(EventType::Container, "die", "abc", &[("image", "busybox"), ("name", "web"), ("exitCode", "3")]);
        let v: Value = serde_json::from_slice(&e.to_line()).unwrap();
        assert_eq!(v["status"], "die");
        assert_eq!(v["id"], "abc");
        assert_eq!(v["from"], "busybox");
        assert_eq!(v["Type"], "container");
        assert_eq!(v["Action"], "die");
        assert_eq!(v["Actor"]["Attributes"]["exitCode"], "3");
        assert_eq!(v["scope"], "local");
        assert_eq!(v["time"].as_i64().unwrap(), v["timeNano"].as_i64().unwrap() / 1_000_000_000);
        let n = ev(EventType::Network, "connect", "net", &[("container", "abc")]);
        let v: Value = serde_json::from_slice(&n.to_line()).unwrap();
        assert!(v.get("status").is_none() && v.get("from").is_none());
    }

    #[test]
    fn huge_labels_are_dropped_from_the_record() {
        let big = "x".repeat(20_000);
        let e = ev(EventType::Container, "create", "abc", &[("name", "web"), ("evil", &big)]);
        let line = e.to_line();
        assert!(line.len() < MAX_RECORD);
        let back: Event = serde_json::from_slice(&line).unwrap();
        assert_eq!(back.actor.attributes.get("name").unwrap(), "web");
        assert!(!back.actor.attributes.contains_key("evil"));
    }

    #[test]
    fn filters_combine_as_docker() {
        let start = ev(
            EventType::Container,
            "start",
            "aaaa1111",
            &[("name", "web"), ("image", "busybox:latest"), ("tier", "front")],
        );
        let die = ev(EventType::Container, "die", "bbbb2222", &[("name", "db"), ("image", "postgres")]);
        let net = ev(EventType::Network, "connect", "nnnn", &[("name", "bridge"), ("container", "aaaa1111")]);
        let f = |fs: &[&str]| Filters::parse(&fs.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        assert!(f(&["container=web"]).matches(&start));
        assert!(f(&["container=aaaa"]).matches(&start));
        assert!(!f(&["container=web"]).matches(&die));
        assert!(!f(&["container=web"]).matches(&net));
        assert!(f(&["container=web", "container=db"]).matches(&die));
        assert!(!f(&["container=web", "event=die"]).matches(&start));
        assert!(f(&["event=start", "event=die"]).matches(&die));
        assert!(f(&["image=busybox"]).matches(&start));
        assert!(!f(&["image=busybox"]).matches(&die));
        assert!(f(&["label=tier=front"]).matches(&start));
        assert!(f(&["label=tier"]).matches(&start));
        assert!(!f(&["label=tier", "label=other"]).matches(&start));
        assert!(f(&["type=network"]).matches(&net) && !f(&["type=network"]).matches(&start));
        assert!(f(&["network=bridge"]).matches(&net));
        let exec = ev(EventType::Container, "exec_start: sh -c true", "aaaa1111", &[]);
        assert!(f(&["event=exec_start"]).matches(&exec));
        assert!(Filters::parse(&["bogus=1".into()]).is_err());
        assert!(Filters::parse(&["type=bogus".into()]).is_err());
        assert!(Filters::parse(&["novalue".into()]).is_err());
    }

    #[test]
    fn times_as_docker_reads_them() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let s = 1_000_000_000i64;
        assert_eq!(parse_time("10m", now), Ok((1_700_000_000 - 600) * s));
        assert_eq!(parse_time("1h30m", now), Ok((1_700_000_000 - 5400) * s));
        assert_eq!(parse_time("1.5h", now), Ok((1_700_000_000 - 5400) * s));
        assert_eq!(parse_time("-10s", now), Ok((1_700_000_000 + 10) * s));
        assert_eq!(parse_time("1700000123", now), Ok(1_700_000_123 * s));
        assert_eq!(parse_time("1700000123.5", now), Ok(1_700_000_123 * s + 500_000_000));
        assert_eq!(parse_time("0", now), Ok(0));
        assert_eq!(parse_time("2023-11-14T22:13:20Z", now), Ok(1_700_000_000 * s));
        assert_eq!(parse_time("2023-11-14T22:13:20.25Z", now), Ok(1_700_000_000 * s + 250_000_000));
        assert_eq!(parse_time("2023-11-15T00:13:20+02:00", now), Ok(1_700_000_000 * s));
        assert_eq!(parse_time("2023-11-14T22:13", now), Ok((1_700_000_000 - 20) * s));
        assert_eq!(parse_time("2023-11-14", now), Ok((1_700_000_000 - 80_000) * s));
        assert_eq!(parse_time("1970-01-01T00:00:00Z", now), Ok(0));
        for bad in ["", "yesterday", "10x", "2023-13-01", "2023-11-14T25:00", "12.3.4", "1700000000.1234567890"] {
            assert!(parse_time(bad, now).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn formats_with_nine_digits() {
        assert_eq!(format_time(1_700_000_000_000_000_007), "2023-11-14T22:13:20.000000007Z");
        assert_eq!(format_time(1_700_000_000_000_000_000), "2023-11-14T22:13:20.000000000Z");
    }

    fn temp() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("events-unit-{}-{}", std::process::id(), crate::ids::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn torn_lines_are_skipped_and_rotation_is_followed() {
        let root = temp();
        let mut journal = Journal::open(&root);
        journal.max_bytes = 2048;
        let mut follower = journal.follow_from_start();
        journal.append(&ev(EventType::Volume, "create", "v1", &[])).unwrap();
        // A writer killed mid-record.
        std::fs::OpenOptions::new().append(true).open(journal.path()).unwrap().write_all(b"{\"Type\":\"vol").unwrap();
        journal.append(&ev(EventType::Volume, "create", "v2", &[])).unwrap();
        let got: Vec<String> = follower.poll().into_iter().map(|e| e.actor.id).collect();
        assert_eq!(got, ["v1", "v2"]);
        for i in 0..100 {
            journal.append(&ev(EventType::Volume, "destroy", &format!("d{i}"), &[])).unwrap();
        }
        let got: Vec<String> = follower.poll().into_iter().map(|e| e.actor.id).collect();
        // Rotated more than once: what was kept is continuous and ends with the last.
        assert_eq!(got.last().unwrap(), "d99");
        let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert!(size(journal.path()) <= 2048 && size(journal.older_path()) <= 2048);
        let stored: Vec<String> = journal.read_all().into_iter().map(|e| e.actor.id).collect();
        assert!(stored.len() > 10 && stored.last().unwrap() == "d99", "{stored:?}");
        std::fs::remove_dir_all(root).unwrap();
    }
}
