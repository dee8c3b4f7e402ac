//! A container's health check as Docker stores it in an image config and a container's
//! `Config.Healthcheck` (`HEALTHCHECK` in a Dockerfile, `--health-*` on `run`): the
//! test, durations in nanoseconds, the retries; and Go's duration syntax, which the
//! flags and Docker's messages use ("1m30s").

use serde::{Deserialize, Deserializer, Serialize};

/// Docker's `HealthConfig`. Zero means "the default" for every number (or "the image's",
/// for flags laid over an image's check).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `[]` (inherit), `["NONE"]`, `["CMD", arg...]` or `["CMD-SHELL", command]`.
    #[serde(default, deserialize_with = "null_as_empty", skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    /// Between the end of one check and the start of the next (ns).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// Longest a check may run (ns).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// Time after the start in which failures do not count (ns).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// Between checks during the start period (ns).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    /// Consecutive failures that make the container unhealthy.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// Docker's `MinimumDuration`: a duration that is set must be at least 1 ms.
pub const MINIMUM_DURATION: i64 = 1_000_000;

impl Healthcheck {
    /// Checks what Docker's daemon checks at `create`, and what could never reach a
    /// process (a NUL byte); the message names the field.
    pub fn check(&self) -> Result<(), String> {
        for (name, value) in [
            ("Interval", self.interval),
            ("Timeout", self.timeout),
            ("StartPeriod", self.start_period),
            ("StartInterval", self.start_interval),
        ] {
            if value != 0 && value < MINIMUM_DURATION {
                return Err(format!("{name} in Healthcheck cannot be less than {}", go_duration(MINIMUM_DURATION)));
            }
        }
        if self.retries < 0 {
            return Err("Retries in Healthcheck cannot be negative".into());
        }
        if self.retries > i64::from(u32::MAX) {
            return Err("Retries in Healthcheck is too large".into());
        }
        if self.test.iter().any(|a| a.contains('\0')) {
            return Err("Test in Healthcheck contains a NUL byte".into());
        }
        if matches!(self.test.first().map(String::as_str), Some("CMD" | "CMD-SHELL"))
            && self.test.get(1).is_none_or(|a| a.is_empty())
        {
            return Err(format!("Test in Healthcheck: {} needs a command", self.test[0]));
        }
        Ok(())
    }

    /// The command a check runs (`CMD`: the arguments as they are; `CMD-SHELL`: them
    /// after `/bin/sh -c`, as Docker does for a Linux image); none for `NONE`, an empty
    /// test, or a type Docker does not know (it warns and runs nothing).
    pub fn probe(&self) -> Option<Vec<String>> {
        let rest = self.test.get(1..).filter(|r| !r.is_empty())?;
        match self.test[0].as_str() {
            "CMD" => Some(rest.to_vec()),
            "CMD-SHELL" => {
                Some(["/bin/sh".to_owned(), "-c".to_owned()].into_iter().chain(rest.iter().cloned()).collect())
            }
            _ => None,
        }
    }

    /// Flags (`self`) laid over the image's check, as Docker merges them: every field
    /// left zero (or an empty test) is the image's.
    pub fn over(mut self, image: &Healthcheck) -> Healthcheck {
        if self.test.is_empty() {
            self.test = image.test.clone();
        }
        for (mine, theirs) in [
            (&mut self.interval, image.interval),
            (&mut self.timeout, image.timeout),
            (&mut self.start_period, image.start_period),
            (&mut self.start_interval, image.start_interval),
            (&mut self.retries, image.retries),
        ] {
            if *mine == 0 {
                *mine = theirs;
            }
        }
        self
    }
}

/// The `config.Healthcheck` of an image config's JSON, if it has one.
pub fn from_image_config(bytes: &[u8]) -> Result<Option<Healthcheck>, String> {
    #[derive(Deserialize)]
    struct Top {
        #[serde(default)]
        config: Option<Inner>,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(default, rename = "Healthcheck")]
        healthcheck: Option<Healthcheck>,
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let top: Top = serde_path_to_error::deserialize(de).map_err(|e| format!("{}: {}", e.path(), e.inner()))?;
    Ok(top.config.and_then(|c| c.healthcheck))
}

/// Parses Go's duration syntax (`time.ParseDuration`): `300ms`, `1.5h`, `2h45m`, `0`;
/// units ns, us (µs), ms, s, m, h. Nanoseconds.
pub fn parse_go_duration(text: &str) -> Result<i64, String> {
    let bad = || format!("time: invalid duration {text:?}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.bytes().take_while(u8::is_ascii_digit).count();
                a.split_at(n)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            _ => return Err(format!("time: unknown unit {unit:?} in duration {text:?}")),
        };
        let whole: i128 = if int.is_empty() { 0 } else { int.parse().map_err(|_| bad())? };
        let mut part = whole.checked_mul(scale).ok_or_else(bad)?;
        let mut place = scale;
        for digit in frac.bytes().take(18) {
            place /= 10;
            part += i128::from(digit - b'0') * place;
        }
        total = total.checked_add(part).filter(|t| *t <= i128::from(i64::MAX)).ok_or_else(bad)?;
        rest = after;
    }
    let total = total as i64;
    Ok(if negative { -total } else { total })
}

/// A duration as Go's `time.Duration.String()` prints it: `1s`, `1.5s`, `500ms`,
/// `1m30s`, `2h0m0s`, `0s`.
pub fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    let frac = |value: u64, digits: u32| -> String {
        let scale = 10u64.pow(digits);
        let (whole, part) = (value / scale, value % scale);
        if part == 0 {
            return whole.to_string();
        }
        let text = format!("{part:0width$}", width = digits as usize);
        format!("{whole}.{}", text.trim_end_matches('0'))
    };
    if u < 1_000_000_000 {
        return match u {
            0..1_000 => format!("{sign}{u}ns"),
            1_000..1_000_000 => format!("{sign}{}µs", frac(u, 3)),
            _ => format!("{sign}{}ms", frac(u, 6)),
        };
    }
    let seconds = frac(u % 60_000_000_000, 9);
    let minutes = u / 60_000_000_000;
    if minutes == 0 {
        return format!("{sign}{seconds}s");
    }
    let hours = minutes / 60;
    if hours == 0 {
        return format!("{sign}{minutes}m{seconds}s");
    }
    format!("{sign}{hours}h{}m{seconds}s", minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_and_print_as_go_does() {
        for (text, ns) in [
            ("0", 0),
            ("1s", 1_000_000_000),
            ("1.5s", 1_500_000_000),
            ("500ms", 500_000_000),
            ("1m30s", 90_000_000_000),
            ("2h45m", 9_900_000_000_000),
            ("1us", 1_000),
            ("-2s", -2_000_000_000),
            (".5s", 500_000_000),
        ] {
            assert_eq!(parse_go_duration(text), Ok(ns), "{text}");
        }
        for bad in ["", "1", "s", "1x", "1.s.", "-", "9999999999h"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
        for (ns, text) in [
            (0, "0s"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (500_000_000, "500ms"),
            (1_000_000, "1ms"),
            (1_500, "1.5µs"),
            (999, "999ns"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (30_000_000_000, "30s"),
        ] {
            assert_eq!(go_duration(ns), text, "{ns}");
        }
    }

    #[test]
    fn checks_and_merges_as_docker() {
        let image = Healthcheck {
            test: vec!["CMD".into(), "true".into()],
            interval: 5_000_000_000,
            retries: 2,
            ..Default::default()
        };
        let flags = Healthcheck { test: vec!["CMD-SHELL".into(), "echo hi".into()], ..Default::default() }.over(&image);
        assert_eq!(flags.probe(), Some(vec!["/bin/sh".into(), "-c".into(), "echo hi".into()]));
        assert_eq!((flags.interval, flags.retries), (5_000_000_000, 2));
        let only_interval = Healthcheck { interval: MINIMUM_DURATION, ..Default::default() }.over(&image);
        assert_eq!(only_interval.probe(), Some(vec!["true".to_owned()]));
        assert_eq!(only_interval.interval, MINIMUM_DURATION);
        assert_eq!(Healthcheck { test: vec!["NONE".into()], ..Default::default() }.probe(), None);
        assert_eq!(Healthcheck { test: vec!["WHAT".into(), "x".into()], ..Default::default() }.probe(), None);
        assert!(Healthcheck { interval: 10, ..Default::default() }.check().unwrap_err().contains("less than 1ms"));
        assert!(Healthcheck { retries: -1, ..Default::default() }.check().is_err());
        assert!(Healthcheck { test: vec!["CMD".into()], ..Default::default() }.check().is_err());
        assert!(Healthcheck { test: vec!["CMD".into(), "a\0b".into()], ..Default::default() }.check().is_err());
        let stored = r#"{"config":{"Healthcheck":{"Test":["CMD-SHELL","curl -f localhost"],"Interval":30000000000}}}"#;
        let hc = from_image_config(stored.as_bytes()).unwrap().unwrap();
        assert_eq!(hc.interval, 30_000_000_000);
        assert_eq!(
            serde_json::to_string(&hc).unwrap(),
            r#"{"Test":["CMD-SHELL","curl -f localhost"],"Interval":30000000000}"#
        );
        assert_eq!(from_image_config(br#"{"config":{"Cmd":["sh"]}}"#).unwrap(), None);
        assert!(from_image_config(br#"{"config":{"Healthcheck":{"Interval":"1s"}}}"#).is_err());
    }
}
