//! Image references in Docker's grammar: `docker.io` is the default registry, official
//! images live under `library/`, the default tag is `latest`.

use oci_spec::distribution::Reference;

use crate::ImageError;

/// Parses `text` into a full reference (registry, repository, and a tag or digest).
pub fn parse(text: &str) -> Result<Reference, ImageError> {
    let bad = |reason: &str| ImageError::BadReference { reference: text.to_owned(), reason: reason.to_owned() };
    if text.is_empty() {
        return Err(bad("empty"));
    }
    if text.chars().any(|c| c.is_ascii_uppercase()) && !text.contains(['@', ':']) {
        return Err(bad("repository name must be lowercase"));
    }
    let reference: Reference = text.parse().map_err(|e: oci_spec::distribution::ParseError| bad(&e.to_string()))?;
    if let Some(digest) = reference.digest() {
        let hex = digest.strip_prefix("sha256:").ok_or_else(|| bad("only sha256 digests are supported"))?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("digest must be sha256: and 64 hex digits"));
        }
    }
    Ok(match (reference.tag(), reference.digest()) {
        (None, None) => {
            Reference::with_tag(reference.registry().into(), reference.repository().into(), "latest".into())
        }
        _ => reference,
    })
}

/// The repository part of a reference, fully qualified: `docker.io/library/busybox`.
pub fn repository(reference: &Reference) -> String {
    format!("{}/{}", reference.registry(), reference.repository())
}

/// How Docker shows a name: `docker.io/library/busybox:latest` as `busybox:latest`,
/// `docker.io/user/app` as `user/app`; other registries stay as they are.
pub fn familiar(name: &str) -> &str {
    name.strip_prefix("docker.io/library/").or_else(|| name.strip_prefix("docker.io/")).unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_defaults() {
        assert_eq!(parse("busybox").unwrap().whole(), "docker.io/library/busybox:latest");
        assert_eq!(parse("user/app:1").unwrap().whole(), "docker.io/user/app:1");
        assert_eq!(parse("localhost:5000/a/b").unwrap().whole(), "localhost:5000/a/b:latest");
        assert_eq!(parse("localhost/busybox").unwrap().whole(), "localhost/busybox:latest");
        let d = format!("busybox@sha256:{}", "a".repeat(64));
        assert_eq!(parse(&d).unwrap().digest(), Some(format!("sha256:{}", "a".repeat(64)).as_str()));
        assert_eq!(familiar("docker.io/library/busybox:latest"), "busybox:latest");
        assert_eq!(familiar("localhost:5000/x:1"), "localhost:5000/x:1");
    }

    #[test]
    fn malformed() {
        for bad in ["", "UPPER", "a b", "busybox:", "busybox@sha256:123", ":tag", "a//b"] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
    }
}
