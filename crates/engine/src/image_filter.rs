//! Which images `images --filter` and `GET /images/json?filters=` keep: Docker's
//! `reference` (wildcards, as `path.Match`), `dangling`, `label`, `before`, `since` and
//! `until`. Values of one key are alternatives, except labels (all must hold); different
//! keys must all hold.

use std::time::SystemTime;

use crate::EngineError;
use crate::go_match::glob_match;
use crate::images::{ImageSummary, Images};

/// The filter keys `images` knows.
pub const KEYS: [&str; 6] = ["reference", "dangling", "label", "before", "since", "until"];

/// Parsed image filters.
#[derive(Debug, Clone, Default)]
pub struct ImageFilter {
    references: Vec<String>,
    /// Only untagged images (true) or only tagged ones (false).
    pub dangling: Option<bool>,
    labels: Vec<String>,
    /// Created before this image (unix nanoseconds).
    before: Option<i64>,
    /// Created after this image (unix nanoseconds).
    since: Option<i64>,
    /// Created before this time (unix nanoseconds).
    until: Option<i64>,
}

fn invalid(key: &str, value: &str) -> EngineError {
    EngineError::Invalid(format!("invalid filter '{key}={value}'"))
}

impl ImageFilter {
    /// Filters from `(key, value)` pairs; `before` and `since` name images of `images`.
    pub fn parse(pairs: &[(String, String)], images: &Images) -> Result<ImageFilter, EngineError> {
        let mut filter = ImageFilter::default();
        for (key, value) in pairs {
            match key.as_str() {
                "reference" => {
                    // A malformed pattern is refused now rather than matching nothing.
                    glob_match(value, "").map_err(|_| invalid(key, value))?;
                    filter.references.push(value.clone());
                }
                "dangling" => {
                    filter.dangling = Some(match value.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(invalid(key, value)),
                    });
                }
                "label" => filter.labels.push(value.clone()),
                "before" | "since" => {
                    let image = images.store().find(value)?;
                    let created = created_nanos(image.created.as_deref());
                    // Several values: the widest bound, as Docker keeps the last one read.
                    let slot = if key == "before" { &mut filter.before } else { &mut filter.since };
                    *slot = Some(created);
                }
                "until" => {
                    let until = crate::events::parse_time(value, SystemTime::now()).map_err(EngineError::Invalid)?;
                    filter.until = Some(until);
                }
                _ => return Err(EngineError::Invalid(format!("invalid filter '{key}'"))),
            }
        }
        Ok(filter)
    }

    /// `image` as the filters leave it: `None` if it goes, else with only the names a
    /// `reference` filter matched (Docker lists just those).
    pub fn apply(&self, mut image: ImageSummary, created: Option<&str>) -> Option<ImageSummary> {
        let untagged = image.repo_tags.is_empty();
        if self.dangling.is_some_and(|d| d != untagged) {
            return None;
        }
        let nanos = created_nanos(created);
        if self.before.is_some_and(|b| nanos >= b)
            || self.since.is_some_and(|s| nanos <= s)
            || self.until.is_some_and(|u| nanos >= u)
        {
            return None;
        }
        let labelled = self.labels.iter().all(|l| match l.split_once('=') {
            Some((k, v)) => image.labels.get(k).is_some_and(|have| have == v),
            None => image.labels.contains_key(l),
        });
        if !labelled {
            return None;
        }
        if !self.references.is_empty() {
            let hit = |name: &String| self.references.iter().any(|p| familiar_match(p, name));
            image.repo_tags.retain(hit);
            image.repo_digests.retain(hit);
            if image.repo_tags.is_empty() && image.repo_digests.is_empty() {
                return None;
            }
        }
        Some(image)
    }
}

/// Docker's `reference.FamiliarMatch`: the pattern against the familiar name with its
/// tag or digest (`busybox:1.36`), else against the name alone (`busybox`).
fn familiar_match(pattern: &str, familiar: &str) -> bool {
    if glob_match(pattern, familiar).unwrap_or(false) {
        return true;
    }
    let name = match familiar.split_once('@') {
        Some((name, _)) => name,
        None => match familiar.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => name,
            _ => familiar,
        },
    };
    glob_match(pattern, name).unwrap_or(false)
}

/// An image's creation time in unix nanoseconds (0 when it does not say).
fn created_nanos(created: Option<&str>) -> i64 {
    created.and_then(|t| crate::events::parse_time(t, SystemTime::now()).ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_match_as_dockers_familiar_match() {
        for (pattern, name, want) in [
            ("busybox", "busybox:latest", true),
            ("busybox:latest", "busybox:latest", true),
            ("busy*", "busybox:1.36", true),
            ("busy*:*libc", "busybox:1.36-glibc", true),
            ("busy*:*libc", "busybox:1.36-musl", false),
            ("*", "localhost/busybox:latest", false),
            ("*/*", "localhost/busybox:latest", true),
            ("localhost/busybox", "localhost:5000/busybox:x", false),
            ("localhost:5000/busybox", "localhost:5000/busybox:x", true),
            ("busybox", "busybox@sha256:abcd", true),
        ] {
            assert_eq!(familiar_match(pattern, name), want, "{pattern} {name}");
        }
    }
}
