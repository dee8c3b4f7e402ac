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
    // The first diff id is a chain id, which names a directory of the layer store.
    for id in config.rootfs().diff_ids() {
        if lindocker_storage::digest::Digest::parse(id).is_err() {
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
        // `create` parses these for real; here, what could never be one is refused where
        // it enters (a stop signal once reached the runtime's command line as an option).
        if let Some(signal) = inner.stop_signal()
            && !plausible_signal(signal)
        {
            return Err(invalid(format!("config.StopSignal: {signal:?} is not a signal name or number")));
        }
        for port in inner.exposed_ports().iter().flatten() {
            if !plausible_port(port) {
                return Err(invalid(format!("config.ExposedPorts: {port:?} is not PORT[/tcp|/udp|/sctp]")));
            }
        }
    }
    // Docker's extension, which the OCI type does not carry: typed and checked here too.
    if let Some(check) =
        crate::health::from_image_config(bytes).map_err(|e| invalid(format!("config.Healthcheck: {e}")))?
    {
        check.check().map_err(|e| invalid(format!("config.Healthcheck: {e}")))?;
    }
    Ok(config)
}

/// `SIGTERM`, `term`, `RTMIN+3`, `15`: letters, digits and `+` only.
fn plausible_signal(signal: &str) -> bool {
    !signal.is_empty() && signal.len() <= 16 && signal.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+')
}

/// `80`, `80/tcp`, `53/udp`, `8000-8010/tcp`.
fn plausible_port(key: &str) -> bool {
    let (ports, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let number = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    let ports_ok = match ports.split_once('-') {
        Some((low, high)) => number(low) && number(high),
        None => number(ports),
    };
    ports_ok && matches!(proto.to_ascii_lowercase().as_str(), "tcp" | "udp" | "sctp")
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
        assert!(parse(config(r#"{"Healthcheck":{"Test":["CMD","true"],"Interval":1000000}}"#).as_bytes()).is_ok());
        for bad in [
            r#"{"Healthcheck":{"Interval":-5}}"#,
            r#"{"Healthcheck":{"Test":"true"}}"#,
            r#"{"Healthcheck":{"Retries":-1}}"#,
        ] {
            let err = parse(config(bad).as_bytes()).unwrap_err().to_string();
            assert!(err.contains("config.Healthcheck"), "{bad}: {err}");
        }
    }

    #[test]
    fn stop_signals_and_ports_that_could_never_be_are_refused() {
        for ok in [r#"{"StopSignal":"SIGTERM"}"#, r#"{"StopSignal":"9"}"#, r#"{"StopSignal":"RTMIN+3"}"#] {
            assert!(parse(config(ok).as_bytes()).is_ok(), "{ok}");
        }
        let err = parse(config(r#"{"StopSignal":"--root=/x"}"#).as_bytes()).unwrap_err().to_string();
        assert!(err.contains("config.StopSignal"), "{err}");
        assert!(parse(config(r#"{"StopSignal":"TERM\n"}"#).as_bytes()).is_err());
        for ok in ["80", "80/tcp", "53/UDP", "9/sctp", "8000-8010/tcp"] {
            let inner = format!(r#"{{"ExposedPorts":{{"{ok}":{{}}}}}}"#);
            assert!(parse(config(&inner).as_bytes()).is_ok(), "{ok}");
        }
        for bad in ["80/tcp dport 9 accept\n}", "x/tcp", "80/icmp", "", "/tcp"] {
            let inner = format!(r#"{{"ExposedPorts":{{"{bad}":{{}}}}}}"#);
            let err = parse(config(&inner).as_bytes()).unwrap_err().to_string();
            assert!(err.contains("config.ExposedPorts"), "{bad}: {err}");
        }
    }
}
