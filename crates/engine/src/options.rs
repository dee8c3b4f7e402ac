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
        /// `--mount bind-propagation=`: `rprivate` (Docker's default) unless given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        propagation: Option<String>,
        /// `--mount bind-recursive=disabled` (or `bind-nonrecursive`): mounts under the
        /// source are not carried along.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        nonrecursive: bool,
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
        /// `--mount volume-nocopy`: a new volume is not filled from the image.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        nocopy: bool,
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
        None => MountSpec::Volume {
            name: crate::ids::new_id(),
            target: target.into(),
            readonly,
            anonymous: true,
            nocopy: false,
        },
        Some(source) if source.starts_with('/') => MountSpec::Bind {
            source: source.into(),
            target: target.into(),
            readonly,
            propagation: None,
            nonrecursive: false,
        },
        Some(source) if source.starts_with('.') || source.contains('/') => {
            return Err(bad("a host path must be absolute; a volume name has no '/'"));
        }
        Some(name) => {
            crate::volumes::check_name(name)?;
            MountSpec::Volume { name: name.into(), target: target.into(), readonly, anonymous: false, nocopy: false }
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

/// One `-e`/`--env` value: `KEY=VALUE` as given, or a bare `KEY` taking its value from
/// our environment (`None` when we have none: Docker then leaves it unset). An empty
/// name (`=B`) or a NUL byte is refused.
pub fn parse_env(value: &str) -> Result<Option<String>, EngineError> {
    let invalid = || EngineError::Invalid(format!("invalid environment variable: {value}"));
    if value.contains('\0') {
        return Err(invalid());
    }
    match value.split_once('=') {
        Some(("", _)) => Err(invalid()),
        Some(_) => Ok(Some(value.to_owned())),
        None if value.is_empty() => Err(invalid()),
        None => Ok(std::env::var(value).ok().map(|v| format!("{value}={v}"))),
    }
}

/// The lines of an `--env-file` or `--label-file` that say something, numbered from 0:
/// a leading BOM, leading blanks and a trailing CR dropped, blank lines and `#`
/// comments skipped (Docker's reader of both).
fn meaningful_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .map(|line| {
            let line = line.trim_start();
            line.strip_suffix('\r').unwrap_or(line)
        })
        .enumerate()
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

/// Parses the lines of an `--env-file` as Docker does: leading blanks dropped, blank
/// lines and `#` comments skipped, `K=V` taken as is, a bare `K` from our environment.
/// A line without a name (`=B`), a name with blanks or a NUL byte is an error naming the
/// line.
pub fn parse_env_file(text: &str) -> Result<Vec<String>, EngineError> {
    let mut out = Vec::new();
    for (n, line) in meaningful_lines(text) {
        let bad = |reason: String| EngineError::Invalid(format!("--env-file line {}: {reason}", n + 1));
        if line.contains('\0') {
            return Err(bad("contains a NUL byte".into()));
        }
        let name = line.split_once('=').map_or(line, |(k, _)| k);
        if name.is_empty() {
            return Err(bad(format!("no variable name in {line:?}")));
        }
        if name.chars().any(char::is_whitespace) {
            return Err(bad(format!("variable {name:?} contains whitespaces")));
        }
        if line.contains('=') {
            out.push(line.to_owned());
        } else if let Ok(v) = std::env::var(name) {
            out.push(format!("{name}={v}"));
        }
    }
    Ok(out)
}

/// Parses a `--label-file` as Docker does: blank lines and `#` comments skipped, leading
/// blanks dropped, `K=V` a label, a bare `K` a label with an empty value. A line without a
/// name or with a NUL byte is an error naming the line.
pub fn parse_label_file(text: &str) -> Result<Vec<(String, String)>, EngineError> {
    let mut out = Vec::new();
    for (n, line) in meaningful_lines(text) {
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        if key.is_empty() || line.contains('\0') {
            return Err(EngineError::Invalid(format!("--label-file line {}: invalid label {line:?}", n + 1)));
        }
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

/// Whether `name` is a host name by RFC 1123: dot-separated labels of letters, digits,
/// `_` and inner hyphens, each 1 to 63 characters, 253 in all. Nothing else may reach
/// `/etc/hosts` or `/etc/hostname` (a newline there would add lines).
pub fn is_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `--hostname`: a host name (see [`is_hostname`]) of at most 64 bytes, the kernel's
/// limit.
pub fn parse_hostname(value: &str) -> Result<String, EngineError> {
    uts_name("--hostname", value, "invalid hostname format (RFC 1123 letters, digits, '-' and '.')")
}

/// `--domainname`: a host name (see [`is_hostname`]) of at most 64 bytes, the kernel's
/// limit for the NIS domain name.
pub fn parse_domainname(value: &str) -> Result<String, EngineError> {
    uts_name("--domainname", value, "invalid domain name (RFC 1123 letters, digits, '-' and '.', at most 64)")
}

/// A UTS name (host or NIS domain): RFC 1123, at most 64 bytes.
fn uts_name(option: &str, value: &str, reason: &str) -> Result<String, EngineError> {
    if is_hostname(value) && value.len() <= 64 {
        Ok(value.to_owned())
    } else {
        Err(EngineError::BadOption { option: option.into(), value: value.into(), reason: reason.into() })
    }
}

/// `--annotation KEY[=VALUE]` (the value may be empty, as Docker's): a key without NUL
/// or whitespace, a value without NUL; they go into the OCI spec as they are.
pub fn parse_annotation(value: &str) -> Result<(String, String), EngineError> {
    let (key, val) = value.split_once('=').unwrap_or((value, ""));
    if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) || val.contains('\0') {
        return Err(EngineError::BadOption {
            option: "--annotation".into(),
            value: value.into(),
            reason: "expected KEY=VALUE with a key of printable characters".into(),
        });
    }
    Ok((key.to_owned(), val.to_owned()))
}

/// `--mac-address aa:bb:cc:dd:ee:ff` as bytes: six hex bytes, not a multicast address.
pub fn parse_mac(option: &str, text: &str) -> Result<[u8; 6], EngineError> {
    let bad =
        |reason: &str| EngineError::BadOption { option: option.into(), value: text.into(), reason: reason.into() };
    let parts: Vec<u8> = text
        .split(':')
        .map(|p| if p.len() <= 2 { u8::from_str_radix(p, 16).ok() } else { None })
        .collect::<Option<_>>()
        .ok_or_else(|| bad("expected aa:bb:cc:dd:ee:ff"))?;
    let mac: [u8; 6] = parts.try_into().map_err(|_| bad("expected six bytes"))?;
    if mac[0] & 1 == 1 {
        return Err(bad("a multicast address"));
    }
    Ok(mac)
}

/// A network alias (`--network-alias`, `network connect --alias`): a host name, since
/// it is written into other containers' `/etc/hosts`.
pub fn parse_alias(option: &str, value: &str) -> Result<String, EngineError> {
    if is_hostname(value) {
        Ok(value.to_owned())
    } else {
        Err(EngineError::BadOption {
            option: option.into(),
            value: value.into(),
            reason: "invalid alias (RFC 1123 letters, digits, '-' and '.')".into(),
        })
    }
}

/// `--add-host NAME:IP` (or `NAME=IP`; an IPv6 address may be bracketed) as the
/// `/etc/hosts` line `IP<TAB>NAME`, both parts validated.
pub fn parse_add_host(value: &str) -> Result<String, EngineError> {
    let bad = |reason: &str| EngineError::BadOption {
        option: "--add-host".into(),
        value: value.into(),
        reason: reason.into(),
    };
    let (name, ip) = value.split_once('=').or_else(|| value.split_once(':')).ok_or_else(|| bad("expected NAME:IP"))?;
    if !is_hostname(name) {
        return Err(bad("invalid host name (RFC 1123 letters, digits, '-' and '.')"));
    }
    if ip == "host-gateway" {
        return Err(bad("host-gateway is not supported"));
    }
    let ip = ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')).unwrap_or(ip);
    let ip: std::net::IpAddr = ip.parse().map_err(|_| bad("not an IP address"))?;
    Ok(format!("{ip}\t{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn env_values() {
        assert_eq!(parse_env("A=b=c").unwrap().as_deref(), Some("A=b=c"));
        assert_eq!(parse_env("A=").unwrap().as_deref(), Some("A="));
        assert!(parse_env("=B").unwrap_err().to_string().contains("invalid environment variable: =B"));
        assert!(parse_env("").is_err());
        assert!(parse_env("A=\0").is_err());
        assert_eq!(parse_env("LINDOCKER_SURELY_UNSET_VARIABLE").unwrap(), None);
        let file = "\u{feff}# comment\n\n  A=1\nB= spaced \r\nLINDOCKER_SURELY_UNSET_VARIABLE\n";
        assert_eq!(parse_env_file(file).unwrap(), ["A=1", "B= spaced "]);
        for bad in ["=B", "A B=c", "A\0=b", "A=b\0"] {
            assert!(parse_env_file(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn label_files() {
        let labels = parse_label_file("# c\n\n  a=1\nb=two words\r\nc\n").unwrap();
        assert_eq!(labels, [("a".into(), "1".into()), ("b".into(), "two words".into()), ("c".into(), String::new())]);
        assert!(parse_label_file("=x\n").is_err());
        assert!(parse_label_file("a=\0\n").is_err());
    }

    #[test]
    fn hosts() {
        assert_eq!(parse_add_host("db:10.0.0.2").unwrap(), "10.0.0.2\tdb");
        assert_eq!(parse_add_host("db.local=10.0.0.2").unwrap(), "10.0.0.2\tdb.local");
        assert_eq!(parse_add_host("v6:::1").unwrap(), "::1\tv6");
        assert_eq!(parse_add_host("v6:[fe80::1]").unwrap(), "fe80::1\tv6");
        for bad in ["db", "db:1.2.3.4\n5.6.7.8 evil", "a\nb:1.2.3.4", "db:host-gateway", ":1.2.3.4", "a..b:1.2.3.4"] {
            assert!(parse_add_host(bad).is_err(), "{bad:?}");
        }
        assert!(parse_alias("--network-alias", "db").is_ok());
        assert!(parse_alias("--network-alias", "db\n6.6.6.6 evil").is_err());
        assert!(parse_hostname("web-1.example").is_ok());
        assert!(parse_hostname("x\n1.2.3.4 evil").is_err());
        assert!(parse_hostname(&"a".repeat(65)).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever is accepted puts exactly one line into /etc/hosts, of an address and a
        /// clean name.
        #[test]
        fn add_host_yields_one_clean_line(value in "\\PC{0,40}|[a-z0-9.:=\\[\\]\n -]{0,40}") {
            if let Ok(line) = parse_add_host(&value) {
                prop_assert!(!line.contains('\n') && !line.contains('\r'));
                let (ip, name) = line.split_once('\t').unwrap();
                prop_assert!(ip.parse::<std::net::IpAddr>().is_ok());
                prop_assert!(is_hostname(name) && !name.contains(char::is_whitespace));
            }
        }

        /// Accepted env values have a name, no NUL, and are what was given: `K=V` as is, a
        /// bare `K` as `K=` and our own value (the generator can hit names we have, `_`).
        #[test]
        fn env_values_have_a_name(value in "\\PC{0,30}|[A-Z=\0 ]{0,10}") {
            if let Ok(Some(env)) = parse_env(&value) {
                prop_assert!(!env.starts_with('=') && !env.contains('\0'));
                if value.contains('=') {
                    prop_assert_eq!(env, value);
                } else {
                    let own = std::env::var(&value).unwrap();
                    prop_assert_eq!(env, format!("{value}={own}"));
                }
            }
        }

        /// Every variable from an env file has a name without blanks and no NUL.
        #[test]
        fn env_file_entries_are_clean(text in "([A-Za-z_ =#\0\r\t]{0,12}\n){0,8}") {
            if let Ok(vars) = parse_env_file(&text) {
                for var in vars {
                    let name = var.split_once('=').map_or(var.as_str(), |(k, _)| k);
                    prop_assert!(!name.is_empty() && !name.contains(char::is_whitespace) && !var.contains('\0'));
                }
            }
        }
    }

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
            MountSpec::Bind {
                source: "/h".into(),
                target: "/c".into(),
                readonly: true,
                propagation: None,
                nonrecursive: false
            }
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
    fn domainnames_and_annotations() {
        assert_eq!(parse_domainname("example.org").unwrap(), "example.org");
        assert!(parse_domainname("bad name").is_err() && parse_domainname(&"x".repeat(65)).is_err());
        assert_eq!(parse_annotation("a.b=c=d").unwrap(), ("a.b".into(), "c=d".into()));
        assert_eq!(parse_annotation("k").unwrap(), ("k".into(), String::new()));
        for bad in ["", "=v", "a b=c", "a\nb=c", "a=\0"] {
            assert!(parse_annotation(bad).is_err(), "{bad:?}");
        }
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
