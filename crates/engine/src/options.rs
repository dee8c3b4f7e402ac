//! What `run`/`create` flags mean, parsed and checked before anything is created.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::EngineError;

/// A mount asked for with `-v`, `--tmpfs` or an image's `Volumes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountSpec {
    /// `-v /host:/ctr[:ro]`.
    Bind {
        /// The host path.
        source: PathBuf,
        /// Where it appears in the container.
        target: String,
        /// Mounted read-only.
        readonly: bool,
    },
    /// `-v NAME:/ctr[:ro]` (named) or an image volume / `-v /ctr` (anonymous).
    Volume {
        /// The volume's name (anonymous ones get a random one).
        name: String,
        /// Where it appears in the container.
        target: String,
        /// Mounted read-only.
        readonly: bool,
        /// Made for this container only; `rm -v` removes it.
        anonymous: bool,
    },
    /// `--tmpfs /ctr[:options]`.
    Tmpfs {
        /// Where it appears in the container.
        target: String,
        /// Extra mount options (`size=64m`, `mode=1777`).
        options: Vec<String>,
    },
}

impl MountSpec {
    /// Where the mount appears in the container.
    pub fn target(&self) -> &str {
        match self {
            MountSpec::Bind { target, .. } | MountSpec::Volume { target, .. } | MountSpec::Tmpfs { target, .. } => {
                target
            }
        }
    }
}

/// Parses `-v SPEC`: `/host:/ctr[:ro|rw]`, `name:/ctr[:ro]`, or `/ctr` (anonymous).
pub fn parse_volume(spec: &str) -> Result<MountSpec, EngineError> {
    let bad = |why: &str| EngineError::BadOption { option: "-v".into(), value: spec.into(), reason: why.into() };
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, None),
        [source, target] => (Some(*source), *target, None),
        [source, target, mode] => (Some(*source), *target, Some(*mode)),
        _ => return Err(bad("expected [SOURCE:]TARGET[:ro|rw]")),
    };
    let readonly = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(other) => return Err(bad(&format!("unknown mode {other:?} (ro or rw)"))),
    };
    check_mount_target(target).map_err(|why| bad(&why))?;
    Ok(match source {
        None => MountSpec::Volume { name: crate::ids::new_id(), target: target.into(), readonly, anonymous: true },
        Some(source) if source.starts_with('/') => {
            MountSpec::Bind { source: source.into(), target: target.into(), readonly }
        }
        Some(source) if source.starts_with('.') || source.contains('/') => {
            return Err(bad("a host path must be absolute; a volume name has no '/'"));
        }
        Some(name) => {
            crate::volumes::check_name(name)?;
            MountSpec::Volume { name: name.into(), target: target.into(), readonly, anonymous: false }
        }
    })
}

/// Checks a path in the container that something is mounted on (from `-v`, `--tmpfs` or
/// an image's `VOLUME`): absolute, not the root, and without `..` (which would lead the
/// volume's copy-up and the mount out of the container's root).
pub fn check_mount_target(target: &str) -> Result<(), String> {
    if !target.starts_with('/') {
        return Err("the container path must be absolute".into());
    }
    if target.split('/').any(|part| part == "..") {
        return Err("the container path must not contain '..'".into());
    }
    if target.contains('\0') {
        return Err("the container path must not contain NUL".into());
    }
    if target.split('/').all(|part| part.is_empty() || part == ".") {
        return Err("cannot mount over the container's root".into());
    }
    Ok(())
}

/// Checks a signal (`TERM`, `SIGTERM`, `15`, `RTMIN+1`) as the runtime parses it and
/// returns its number: what the runtime's `kill` gets, so no value from an image or a
/// flag can pass for one of its options.
pub fn parse_signal(option: &str, value: &str) -> Result<i32, EngineError> {
    lindocker_runtime::signal::parse(value).map_err(|_| EngineError::BadOption {
        option: option.into(),
        value: value.into(),
        reason: "not a signal name or number".into(),
    })
}

/// Parses `--tmpfs /ctr[:opt,opt]`.
pub fn parse_tmpfs(spec: &str) -> Result<MountSpec, EngineError> {
    let (target, options) = spec.split_once(':').unwrap_or((spec, ""));
    check_mount_target(target).map_err(|reason| EngineError::BadOption {
        option: "--tmpfs".into(),
        value: spec.into(),
        reason,
    })?;
    let options = options.split(',').filter(|o| !o.is_empty()).map(str::to_owned).collect();
    Ok(MountSpec::Tmpfs { target: target.into(), options })
}

/// Parses a size like Docker: `100m`, `1g`, `512k`, `1024b`, `2048` (bytes).
pub fn parse_bytes(option: &str, value: &str) -> Result<i64, EngineError> {
    let bad = || EngineError::BadOption {
        option: option.into(),
        value: value.into(),
        reason: "expected a size like 512k, 100m or 1g".into(),
    };
    let lower = value.trim().to_ascii_lowercase();
    let lower = lower.trim_end_matches('b');
    let (number, unit) = match lower.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => lower.split_at(i),
        None => (lower, ""),
    };
    let number: f64 = number.parse().map_err(|_| bad())?;
    let multiplier: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0f64.powi(4),
        _ => return Err(bad()),
    };
    if number < 0.0 || !number.is_finite() {
        return Err(bad());
    }
    Ok((number * multiplier) as i64)
}

/// A `--ulimit name=soft[:hard]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// `nofile`, `nproc`, ...
    pub name: String,
    /// Soft limit.
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

/// Parses `--ulimit nofile=1024:2048`.
pub fn parse_ulimit(spec: &str) -> Result<Ulimit, EngineError> {
    let bad = |why: &str| EngineError::BadOption { option: "--ulimit".into(), value: spec.into(), reason: why.into() };
    let (name, values) = spec.split_once('=').ok_or_else(|| bad("expected NAME=SOFT[:HARD]"))?;
    const NAMES: [&str; 16] = [
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
        "as",
    ];
    if !NAMES.contains(&name) {
        return Err(bad("unknown limit name"));
    }
    let parse = |v: &str| {
        if v == "-1" || v == "unlimited" {
            Ok(u64::MAX)
        } else {
            v.parse::<u64>().map_err(|_| bad("limits are numbers"))
        }
    };
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (parse(s)?, parse(h)?),
        None => (parse(values)?, parse(values)?),
    };
    if soft > hard {
        return Err(bad("the soft limit is above the hard one"));
    }
    Ok(Ulimit { name: name.into(), soft, hard })
}

/// A restart policy (`--restart`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum RestartPolicy {
    /// Never restart.
    #[default]
    No,
    /// Restart after a non-zero exit, at most `n` times (0: no limit).
    OnFailure(u32),
    /// Always restart (also when the engine comes back).
    Always,
    /// Restart unless the user stopped it.
    UnlessStopped,
}

impl RestartPolicy {
    /// Parses `no`, `on-failure[:N]`, `always`, `unless-stopped`.
    pub fn parse(text: &str) -> Result<RestartPolicy, EngineError> {
        let bad = || EngineError::BadOption {
            option: "--restart".into(),
            value: text.into(),
            reason: "expected no, on-failure[:N], always or unless-stopped".into(),
        };
        Ok(match text.split_once(':') {
            None => match text {
                "no" => RestartPolicy::No,
                "on-failure" => RestartPolicy::OnFailure(0),
                "always" => RestartPolicy::Always,
                "unless-stopped" => RestartPolicy::UnlessStopped,
                _ => return Err(bad()),
            },
            Some(("on-failure", n)) => RestartPolicy::OnFailure(n.parse().map_err(|_| bad())?),
            _ => return Err(bad()),
        })
    }

    /// Docker's name for it.
    pub fn name(&self) -> String {
        match self {
            RestartPolicy::No => "no".into(),
            RestartPolicy::OnFailure(_) => "on-failure".into(),
            RestartPolicy::Always => "always".into(),
            RestartPolicy::UnlessStopped => "unless-stopped".into(),
        }
    }
}

/// Parses a CPU count like `0.5` into nanoCPUs.
pub fn parse_cpus(value: &str) -> Result<i64, EngineError> {
    let cpus: f64 = value.parse().map_err(|_| EngineError::BadOption {
        option: "--cpus".into(),
        value: value.into(),
        reason: "expected a number of CPUs like 0.5".into(),
    })?;
    let online = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    if cpus <= 0.0 || cpus > online {
        return Err(EngineError::BadOption {
            option: "--cpus".into(),
            value: value.into(),
            reason: format!("range of CPUs is from 0.01 to {online:.2}, as there are only {online} CPUs available"),
        });
    }
    Ok((cpus * 1e9) as i64)
}

/// Parses `K=V` lines of an `--env-file` (blank lines and `#` comments skipped; a bare
/// `K` takes the value from our environment, as Docker does).
pub fn parse_env_file(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            if l.contains('=') { Some(l.to_owned()) } else { std::env::var(l).ok().map(|v| format!("{l}={v}")) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("-m", "100m").unwrap(), 100 << 20);
        assert_eq!(parse_bytes("-m", "1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("-m", "512K").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("-m", "4096").unwrap(), 4096);
        assert!(parse_bytes("-m", "10zz").is_err());
        assert!(parse_bytes("-m", "").is_err());
    }

    #[test]
    fn volumes() {
        assert_eq!(
            parse_volume("/h:/c:ro").unwrap(),
            MountSpec::Bind { source: "/h".into(), target: "/c".into(), readonly: true }
        );
        assert!(matches!(parse_volume("data:/c").unwrap(), MountSpec::Volume { anonymous: false, .. }));
        assert!(matches!(parse_volume("/c").unwrap(), MountSpec::Volume { anonymous: true, .. }));
        assert!(parse_volume("rel/path:/c").is_err());
        assert!(parse_volume("/h:c").is_err());
        assert!(parse_volume("/h:/c:xx").is_err());
        assert!(parse_volume("data:/../../etc").is_err());
        assert!(parse_volume("/a/..").is_err());
        assert!(parse_volume("data:/./").is_err());
        assert!(parse_tmpfs("/x/../../y").is_err());
        assert!(check_mount_target("/var/lib/..data").is_ok());
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("s", "SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("s", "kill").unwrap(), 9);
        assert_eq!(parse_signal("s", "10").unwrap(), 10);
        assert!(parse_signal("s", "--root=/x").is_err());
        assert!(parse_signal("s", "TERM --all").is_err());
        assert!(parse_signal("s", "0").is_err());
    }

    #[test]
    fn ulimits_and_restart() {
        assert_eq!(parse_ulimit("nofile=1024:2048").unwrap(), Ulimit { name: "nofile".into(), soft: 1024, hard: 2048 });
        assert!(parse_ulimit("nofile=2048:1024").is_err());
        assert!(parse_ulimit("bogus=1").is_err());
        assert_eq!(RestartPolicy::parse("on-failure:3").unwrap(), RestartPolicy::OnFailure(3));
        assert!(RestartPolicy::parse("sometimes").is_err());
    }
}
