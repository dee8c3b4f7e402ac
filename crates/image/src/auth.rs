//! Registry credentials, kept as Docker keeps them: `{"auths": {HOST: {"auth":
//! base64(user:password)}}}` in `$LINDOCKER_CONFIG/config.json` (default
//! `~/.lindocker/config.json`, mode 0600); Docker's own `~/.docker/config.json` is read
//! as a fallback.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lindocker_sys::atomic::{AtomicWrite, Durability};
use serde_json::{Map, Value, json};

use crate::ImageError;

/// The key Docker uses for Docker Hub.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The config file credentials are written to.
pub fn config_path() -> PathBuf {
    match std::env::var_os("LINDOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir).join("config.json"),
        None => home().join(".lindocker/config.json"),
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"))
}

fn key_for(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY,
        other => other,
    }
}

fn read(path: &PathBuf) -> Result<Map<String, Value>, ImageError> {
    match fs::read(path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(ImageError::Corrupt { path: path.clone(), reason: "not a JSON object".into() }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(ImageError::io(path, e)),
    }
}

/// The user name and password stored for `registry`, if any.
pub fn credentials(registry: &str) -> Result<Option<(String, String)>, ImageError> {
    let key = key_for(registry);
    for path in [config_path(), home().join(".docker/config.json")] {
        let config = read(&path)?;
        let Some(auth) =
            config.get("auths").and_then(|a| a.get(key)).and_then(|e| e.get("auth")).and_then(Value::as_str)
        else {
            continue;
        };
        let decoded =
            STANDARD.decode(auth).map_err(|e| ImageError::Corrupt { path: path.clone(), reason: e.to_string() })?;
        let decoded = String::from_utf8_lossy(&decoded).into_owned();
        if let Some((user, password)) = decoded.split_once(':') {
            return Ok(Some((user.to_owned(), password.to_owned())));
        }
    }
    Ok(None)
}

/// Stores credentials for `registry`.
pub fn store(registry: &str, user: &str, password: &str) -> Result<(), ImageError> {
    let path = config_path();
    let mut config = read(&path)?;
    let auths = config.entry("auths").or_insert_with(|| json!({}));
    auths[key_for(registry)] = json!({ "auth": STANDARD.encode(format!("{user}:{password}")) });
    write(&path, &config)
}

/// Removes the credentials for `registry`; false if there were none.
pub fn remove(registry: &str) -> Result<bool, ImageError> {
    let path = config_path();
    let mut config = read(&path)?;
    let removed =
        config.get_mut("auths").and_then(Value::as_object_mut).and_then(|a| a.remove(key_for(registry))).is_some();
    if removed {
        write(&path, &config)?;
    }
    Ok(removed)
}

fn write(path: &Path, config: &Map<String, Value>) -> Result<(), ImageError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| ImageError::io(dir, e))?;
    }
    // Private from its first byte.
    let written = AtomicWrite::new(Durability::Durable)
        .mode(0o600)
        .write(path, &serde_json::to_vec_pretty(config).expect("config serializes"));
    written.map_err(|e| ImageError::io(path, e))
}

/// The credentials of a Docker `X-Registry-Auth` header (base64url of JSON with
/// `username` and `password`; padded or not); `None` for an empty or anonymous one.
/// Anything else is an error: a client's header is hostile input.
pub fn decode_registry_auth(header: &str) -> Result<Option<(String, String)>, ImageError> {
    #[derive(serde::Deserialize)]
    struct Header {
        #[serde(default)]
        username: String,
        #[serde(default)]
        password: String,
    }
    let header = header.trim();
    if header.is_empty() {
        return Ok(None);
    }
    let bad = |why: String| ImageError::Invalid(format!("X-Registry-Auth: {why}"));
    let trimmed = header.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .map_err(|e| bad(e.to_string()))?;
    if bytes.iter().all(u8::is_ascii_whitespace) || bytes == b"{}" || bytes == b"null" {
        return Ok(None);
    }
    let parsed: Header = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    Ok((!parsed.username.is_empty()).then_some((parsed.username, parsed.password)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_auth_headers() {
        let encode = |text: &str| base64::engine::general_purpose::URL_SAFE.encode(text);
        assert_eq!(
            decode_registry_auth(&encode(r#"{"username":"u","password":"p?>","serveraddress":"x"}"#)).unwrap(),
            Some(("u".into(), "p?>".into()))
        );
        assert_eq!(decode_registry_auth("").unwrap(), None);
        assert_eq!(decode_registry_auth(&encode("{}")).unwrap(), None);
        assert!(decode_registry_auth("%%%").is_err());
        assert!(decode_registry_auth(&encode("[1]")).is_err());
    }
}
