//! Digests as names of files. Every digest, diff id and chain id comes from an image (a
//! config, a manifest, an archive) before it names a blob or a layer directory: only
//! `sha256:` and 64 lowercase hex digits is a digest, so no `/`, `..` or other spelling
//! of one can become a path.

use std::fmt;

use crate::StorageError;

/// A checked `sha256:<64 lowercase hex>` digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Checks `digest`; anything but `sha256:` and 64 lowercase hex digits is refused.
    pub fn parse(digest: &str) -> Result<Digest, StorageError> {
        match digest.strip_prefix("sha256:") {
            Some(hex) if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => {
                Ok(Digest(digest.to_owned()))
            }
            _ => Err(StorageError::BadDigest(digest.to_owned())),
        }
    }

    /// The 64 hex digits: the only part of a digest that names a file.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sha256_with_64_lowercase_hex_digits() {
        let good = format!("sha256:{}", "0123456789abcdef".repeat(4));
        assert_eq!(Digest::parse(&good).unwrap().hex(), &good[7..]);
        for bad in [
            "sha256:/etc".to_owned(),
            "sha256:../../x".to_owned(),
            "sha256:".to_owned(),
            good.to_uppercase(),
            good.replace("sha256", "sha512"),
            format!("{good}/x"),
            format!("{good}0"),
            good[7..].to_owned(),
            format!("sha256:{}", "g".repeat(64)),
        ] {
            assert!(Digest::parse(&bad).is_err(), "{bad}");
        }
    }
}
