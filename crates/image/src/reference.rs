//! Image references in Docker's grammar: `docker.io` is the default registry, official
//! images live under `library/`, the default tag is `latest`.

use oci_spec::distribution::Reference;

use crate::ImageError;

/// Parses `text` into a full reference (registry, repository, and a tag or digest).
///
/// Written out rather than through `Reference::from_str`, whose regular expressions
/// take tens of milliseconds to compile in every process that parses a name.
pub fn parse(text: &str) -> Result<Reference, ImageError> {
    let bad = |reason: &str| ImageError::BadReference { reference: text.to_owned(), reason: reason.to_owned() };
    if text.is_empty() {
        return Err(bad("empty"));
    }
    if text.len() > 255 {
        return Err(bad("longer than 255 characters"));
    }
    let (name, digest) = match text.split_once('@') {
        Some((name, digest)) => {
            let hex = digest.strip_prefix("sha256:").ok_or_else(|| bad("only sha256 digests are supported"))?;
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(bad("digest must be sha256: and 64 lowercase hex digits"));
            }
            (name, Some(digest))
        }
        None => (text, None),
    };
    // A tag follows the last ':' that is after the last '/' (a ':' before is a port).
    let (name, tag) = match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (&name[..i], Some(&name[i + 1..])),
        _ => (name, None),
    };
    if let Some(tag) = tag {
        let mut chars = tag.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !first_ok || tag.len() > 128 || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            return Err(bad("a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"));
        }
    }
    let (registry, path) = match name.split_once('/') {
        // The first part names a registry if it looks like a host: a dot, a port, or localhost.
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => ("docker.io".to_owned(), name.to_owned()),
    };
    if !valid_host(&registry) {
        return Err(bad("invalid registry host"));
    }
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(bad("repository name must be lowercase"));
    }
    if path.is_empty() || !path.split('/').all(valid_path_component) {
        return Err(bad("repository path components are [a-z0-9] separated by '.', '_', '__' or '-'"));
    }
    let path = if registry == "docker.io" && !path.contains('/') { format!("library/{path}") } else { path };
    Ok(match (tag, digest) {
        (_, Some(digest)) => Reference::with_digest(registry, path, digest.to_owned()),
        (Some(tag), None) => Reference::with_tag(registry, path, tag.to_owned()),
        (None, None) => Reference::with_tag(registry, path, "latest".to_owned()),
    })
}

fn valid_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            i += 1;
            continue;
        }
        // A separator: '.', '_', '__', or a run of '-'.
        let start = i;
        match b {
            b'.' => i += 1,
            b'_' => i += if bytes.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            b'-' => {
                while bytes.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || !bytes.get(i).is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return false;
        }
    }
    true
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
        assert_eq!(parse("a__b/c-d--e.f_g:v1.0-rc_1").unwrap().whole(), "docker.io/a__b/c-d--e.f_g:v1.0-rc_1");
        let pinned = format!("registry.example.com:443/team/app@sha256:{}", "b".repeat(64));
        assert_eq!(parse(&pinned).unwrap().registry(), "registry.example.com:443");
        assert_eq!(parse(&pinned).unwrap().repository(), "team/app");
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "UPPER",
            "a b",
            "busybox:",
            "busybox@sha256:123",
            ":tag",
            "a//b",
            "a..b",
            "-a",
            "a-",
            "host:port/x",
            "x/Y",
        ] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
    }
}

/// Property tests: any text either parses into a reference whose parts obey the grammar
/// (and print back to something that parses to the same reference) or is refused; none
/// panics.
#[cfg(test)]
mod prop {
    use proptest::prelude::*;

    use super::*;

    /// A repository path component: lowercase alphanumerics joined by separators.
    fn component() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,6}((\\.|_|__|-{1,3})[a-z0-9]{1,6}){0,2}"
    }

    fn host() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("localhost".to_owned()),
            "[a-z0-9]{1,8}(-[a-z0-9]{1,4})?\\.[a-z]{2,5}",
            "[a-z0-9]{1,8}\\.[a-z0-9]{1,8}\\.[a-z]{2,4}",
        ]
        .prop_flat_map(|h| (Just(h), proptest::option::of(1u16..)))
        .prop_map(|(h, port)| match port {
            Some(p) => format!("{h}:{p}"),
            None => h,
        })
    }

    /// Characters that matter to the grammar, plus a few that must never pass.
    fn noisy() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                4 => proptest::char::range('a', 'z'),
                1 => proptest::char::range('A', 'Z'),
                2 => proptest::char::range('0', '9'),
                3 => proptest::sample::select(vec![':', '/', '@', '.', '_', '-', ' ', '\n', '\0', 'é', '\u{202e}']),
            ],
            0..80,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    fn assert_well_formed(r: &Reference) {
        assert!(valid_host(r.registry()), "registry {:?}", r.registry());
        assert!(r.repository().split('/').all(valid_path_component), "repository {:?}", r.repository());
        if let Some(tag) = r.tag() {
            assert!(!tag.is_empty() && tag.len() <= 128, "tag {tag:?}");
            assert!(tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)), "tag {tag:?}");
            assert!(!tag.starts_with(['.', '-']), "tag {tag:?}");
        }
        if let Some(digest) = r.digest() {
            let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
            assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        }
        assert!(r.tag().is_some() || r.digest().is_some(), "a tag or a digest");
    }

    /// Parsing what a reference prints gives the same reference (when it fits in 255).
    fn assert_round_trip(r: &Reference) {
        let whole = r.whole();
        if whole.len() <= 255 {
            let again = parse(&whole).unwrap_or_else(|e| panic!("{whole:?} does not parse back: {e}"));
            assert_eq!(again.whole(), whole);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_text_parses_or_is_refused(text in "\\PC{0,300}") {
            if let Ok(r) = parse(&text) {
                assert_well_formed(&r);
                assert_round_trip(&r);
            }
        }

        #[test]
        fn grammar_noise_parses_or_is_refused(text in noisy()) {
            if let Ok(r) = parse(&text) {
                assert_well_formed(&r);
                assert_round_trip(&r);
                prop_assert!(!text.contains([' ', '\n', '\0', 'é', '\u{202e}']), "{text:?} was accepted");
            }
        }

        #[test]
        fn valid_references_keep_their_parts(
            host in proptest::option::of(host()),
            path in proptest::collection::vec(component(), 1..4),
            tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
            digest in proptest::option::of("[0-9a-f]{64}"),
        ) {
            let mut path = path;
            if host.is_none() && path.len() > 1 {
                // Without a host, a first component with a dot would name one.
                path[0] = path[0].replace('.', "-");
            }
            let path = path.join("/");
            let mut text = host.clone().map(|h| format!("{h}/{path}")).unwrap_or(path.clone());
            if let Some(tag) = &tag {
                text = format!("{text}:{tag}");
            }
            if let Some(hex) = &digest {
                text = format!("{text}@sha256:{hex}");
            }
            let r = parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_well_formed(&r);
            assert_round_trip(&r);
            let registry = host.unwrap_or_else(|| "docker.io".into());
            prop_assert_eq!(r.registry(), registry.as_str());
            let expected_path = if registry == "docker.io" && !path.contains('/') { format!("library/{path}") } else { path };
            prop_assert_eq!(r.repository(), expected_path.as_str());
            match (&digest, &tag) {
                (Some(hex), _) => {
                    let expected = format!("sha256:{hex}");
                    prop_assert_eq!(r.digest(), Some(expected.as_str()));
                }
                (None, Some(tag)) => prop_assert_eq!(r.tag(), Some(tag.as_str())),
                (None, None) => prop_assert_eq!(r.tag(), Some("latest")),
            }
        }
    }
}
