//! Image configs that arrive from outside (a loaded archive, a registry) are parsed into
//! their typed form before anything is stored, so that a config `run` could not use
//! (`"Cmd": "sh"`, a number for `User`) is refused where it enters, with the field
//! named, rather than at the first `run`.

use oci_spec::image::ImageConfiguration;

use crate::ImageError;

/// The typed config in `bytes`, or an error naming the first field that is wrong.
pub fn parse(bytes: &[u8]) -> Result<ImageConfiguration, ImageError> {
    let invalid = |reason: String| ImageError::Invalid(format!("image config: {reason}"));
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let config: ImageConfiguration =
        serde_path_to_error::deserialize(de).map_err(|e| invalid(format!("{}: {}", e.path(), e.inner())))?;
    for id in config.rootfs().diff_ids() {
        let hex = id.strip_prefix("sha256:").unwrap_or_default();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(invalid(format!("rootfs.diff_ids: {id:?} is not a sha256 digest")));
        }
    }
    if let Some(inner) = config.config() {
        for var in inner.env().iter().flatten() {
            if var.split_once('=').is_none_or(|(name, _)| name.is_empty()) || var.contains('\0') {
                return Err(invalid(format!("config.Env: invalid environment variable {var:?}")));
            }
        }
        for arg in inner.cmd().iter().chain(inner.entrypoint()).flatten() {
            if arg.contains('\0') {
                return Err(invalid(format!("config.Cmd/Entrypoint: {arg:?} contains a NUL byte")));
            }
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(inner: &str) -> String {
        format!(
            r#"{{"architecture":"amd64","os":"linux","config":{inner},"rootfs":{{"type":"layers","diff_ids":["sha256:{}"]}}}}"#,
            "a".repeat(64)
        )
    }

    #[test]
    fn typed_configs_only() {
        assert!(parse(config(r#"{"Cmd":["sh"],"Env":["A=b"]}"#).as_bytes()).is_ok());
        assert!(parse(config(r#"{"Cmd":null}"#).as_bytes()).is_ok());
        let err = parse(config(r#"{"Cmd":"sh"}"#).as_bytes()).unwrap_err().to_string();
        assert!(err.contains("config.Cmd") && err.contains("invalid type"), "{err}");
        assert!(parse(config(r#"{"User":7}"#).as_bytes()).is_err());
        assert!(parse(config(r#"{"Env":["=B"]}"#).as_bytes()).is_err());
        assert!(parse(config(r#"{"Env":["A"]}"#).as_bytes()).is_err());
        assert!(
            parse(br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["../x"]}}"#).is_err()
        );
        assert!(parse(b"[]").is_err());
    }
}
