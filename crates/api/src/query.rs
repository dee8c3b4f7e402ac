//! The query string: `a=1&b=x%20y`, decoded, with Docker's readings of booleans and
//! numbers (a bad value is a 400, never silently a default).

use crate::error::{ApiError, ApiResult};

/// A request's query parameters, decoded.
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a raw query string (`None`: no `?`).
    pub fn parse(raw: Option<&str>) -> ApiResult<Query> {
        let mut out = Vec::new();
        for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            out.push((decode(k)?, decode(v)?));
        }
        Ok(Query(out))
    }

    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// A boolean as Docker reads it (`1`, `true`, `True`...; absent or empty: false).
    pub fn flag(&self, key: &str) -> ApiResult<bool> {
        match self.get(key) {
            None | Some("") => Ok(false),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "t" | "yes" => Ok(true),
                "0" | "false" | "f" | "no" => Ok(false),
                _ => Err(ApiError::bad(format!("invalid boolean value for {key}: {v:?}"))),
            },
        }
    }

    /// A number, if given.
    pub fn number<T: std::str::FromStr>(&self, key: &str) -> ApiResult<Option<T>> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| ApiError::bad(format!("invalid value for {key}: {v:?}"))),
        }
    }
}

/// Percent-decoding (`+` is a space, as Go's `url.ParseQuery` reads it).
fn decode(text: &str) -> ApiResult<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ApiError::bad(format!("invalid URL escape in {text:?}")))?;
                out.push(byte);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ApiError::bad(format!("{text:?}: not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        let q = Query::parse(Some("a=1&b=x%20y+z&filters=%7B%22a%22%3A1%7D&c")).unwrap();
        assert_eq!(q.get("b"), Some("x y z"));
        assert_eq!(q.get("filters"), Some("{\"a\":1}"));
        assert!(q.flag("a").unwrap());
        assert!(!q.flag("c").unwrap());
        assert!(q.flag("b").is_err());
        assert!(Query::parse(Some("a=%zz")).is_err());
        assert_eq!(q.number::<u32>("a").unwrap(), Some(1));
    }
}
