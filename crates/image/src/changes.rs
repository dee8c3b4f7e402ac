//! Dockerfile instructions given to `import --change` and `commit --change`, applied to
//! an image config's `config` object.

use serde_json::{Map, Value, json};

use crate::ImageError;

/// Applies one instruction (`CMD ["sh"]`, `ENV A=b`, `WORKDIR /x`, `EXPOSE 80/tcp`, ...) to
/// `config` (the image config's `config` object).
pub fn apply(config: &mut Map<String, Value>, change: &str) -> Result<(), ImageError> {
    let bad = |reason: &str| ImageError::BadChange { change: change.to_owned(), reason: reason.to_owned() };
    let (instruction, rest) =
        change.trim().split_once(char::is_whitespace).ok_or_else(|| bad("instruction without a value"))?;
    let rest = rest.trim();
    match instruction.to_ascii_uppercase().as_str() {
        "CMD" => {
            config.insert("Cmd".into(), command(rest).map_err(|r| bad(&r))?);
        }
        "ENTRYPOINT" => {
            config.insert("Entrypoint".into(), command(rest).map_err(|r| bad(&r))?);
        }
        "ENV" => {
            let pairs = if rest.contains('=') {
                rest.split_whitespace()
                    .map(|p| p.split_once('=').map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned())))
                    .collect::<Option<Vec<_>>>()
            } else {
                rest.split_once(char::is_whitespace).map(|(k, v)| vec![(k.to_owned(), v.trim().to_owned())])
            }
            .ok_or_else(|| bad("expected NAME=value"))?;
            let env = config
                .entry("Env")
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .ok_or_else(|| bad("Env is not a list"))?;
            for (key, value) in pairs {
                env.retain(|e| e.as_str().and_then(|e| e.split_once('=')).map(|(k, _)| k) != Some(key.as_str()));
                env.push(json!(format!("{key}={value}")));
            }
        }
        "WORKDIR" => {
            if !rest.starts_with('/') {
                return Err(bad("WORKDIR must be an absolute path"));
            }
            config.insert("WorkingDir".into(), json!(rest));
        }
        "USER" => {
            config.insert("User".into(), json!(rest));
        }
        "STOPSIGNAL" => {
            config.insert("StopSignal".into(), json!(rest));
        }
        "EXPOSE" => {
            let ports = config.entry("ExposedPorts").or_insert_with(|| json!({}));
            for port in rest.split_whitespace() {
                let (number, proto) = port.split_once('/').unwrap_or((port, "tcp"));
                if number.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
                    return Err(bad("expected PORT[/tcp|/udp]"));
                }
                ports[format!("{number}/{proto}")] = json!({});
            }
        }
        "VOLUME" => {
            let volumes = config.entry("Volumes").or_insert_with(|| json!({}));
            let paths: Vec<String> = match serde_json::from_str::<Vec<String>>(rest) {
                Ok(list) => list,
                Err(_) => rest.split_whitespace().map(str::to_owned).collect(),
            };
            for path in paths {
                volumes[path] = json!({});
            }
        }
        "LABEL" => {
            let labels = config.entry("Labels").or_insert_with(|| json!({}));
            for pair in rest.split_whitespace() {
                let (k, v) = pair.split_once('=').ok_or_else(|| bad("expected KEY=value"))?;
                labels[k.trim_matches('"')] = json!(v.trim_matches('"'));
            }
        }
        "HEALTHCHECK" => {
            let check = healthcheck(rest).map_err(|r| bad(&r))?;
            config.insert("Healthcheck".into(), serde_json::to_value(check).expect("a check serializes"));
        }
        _ => {
            return Err(bad(
                "supported: CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR",
            ));
        }
    }
    Ok(())
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D]
/// [--start-interval=D] [--retries=N] CMD command` (exec or shell form), as a Dockerfile has it.
fn healthcheck(text: &str) -> Result<crate::health::Healthcheck, String> {
    use crate::health::{Healthcheck, parse_go_duration};
    let mut check = Healthcheck::default();
    let mut rest = text.trim();
    while let Some(option) = rest.strip_prefix("--") {
        let (option, after) = option.split_once(char::is_whitespace).unwrap_or((option, ""));
        let (name, value) = option.split_once('=').ok_or_else(|| format!("--{option}: expected --NAME=VALUE"))?;
        let duration = || parse_go_duration(value).map_err(|e| format!("--{name}: {e}"));
        match name {
            "interval" => check.interval = duration()?,
            "timeout" => check.timeout = duration()?,
            "start-period" => check.start_period = duration()?,
            "start-interval" => check.start_interval = duration()?,
            "retries" => check.retries = value.parse().map_err(|_| format!("--retries={value}: not a number"))?,
            _ => return Err(format!("unknown option --{name}")),
        }
        rest = after.trim_start();
    }
    let (kind, command_text) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    match kind.to_ascii_uppercase().as_str() {
        "NONE" if command_text.trim().is_empty() => check.test = vec!["NONE".into()],
        "CMD" => {
            let command_text = command_text.trim();
            check.test = if command_text.starts_with('[') {
                let list: Vec<String> =
                    serde_json::from_str(command_text).map_err(|e| format!("not a JSON list of strings: {e}"))?;
                std::iter::once("CMD".to_owned()).chain(list).collect()
            } else {
                vec!["CMD-SHELL".into(), command_text.to_owned()]
            };
        }
        _ => return Err("expected NONE or CMD command".into()),
    }
    check.check()?;
    Ok(check)
}

/// The exec form (`["a","b"]`) as it is; the shell form wrapped in `/bin/sh -c`.
fn command(text: &str) -> Result<Value, String> {
    if text.starts_with('[') {
        let list: Vec<String> = serde_json::from_str(text).map_err(|e| format!("not a JSON list of strings: {e}"))?;
        Ok(json!(list))
    } else {
        Ok(json!(["/bin/sh", "-c", text]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions() {
        let mut c = Map::new();
        apply(&mut c, r#"CMD ["sh"]"#).unwrap();
        apply(&mut c, "ENTRYPOINT echo hi").unwrap();
        apply(&mut c, "ENV A=1 B=2").unwrap();
        apply(&mut c, "ENV A 3").unwrap();
        apply(&mut c, "EXPOSE 80 53/udp").unwrap();
        apply(&mut c, "WORKDIR /srv").unwrap();
        assert_eq!(c["Cmd"], json!(["sh"]));
        assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(c["Env"], json!(["B=2", "A=3"]));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert!(apply(&mut c, "WORKDIR rel").is_err());
        assert!(apply(&mut c, "CMD [bad").is_err());
        assert!(apply(&mut c, "FROM x").is_err());
        assert!(apply(&mut c, "EXPOSE http").is_err());
        apply(&mut c, "HEALTHCHECK --interval=1s --retries=2 CMD wget -q localhost || exit 1").unwrap();
        assert_eq!(
            c["Healthcheck"],
            json!({"Test": ["CMD-SHELL", "wget -q localhost || exit 1"], "Interval": 1_000_000_000, "Retries": 2})
        );
        apply(&mut c, r#"HEALTHCHECK CMD ["true"]"#).unwrap();
        assert_eq!(c["Healthcheck"], json!({"Test": ["CMD", "true"]}));
        apply(&mut c, "HEALTHCHECK NONE").unwrap();
        assert_eq!(c["Healthcheck"], json!({"Test": ["NONE"]}));
        for bad in
            ["HEALTHCHECK --interval=1 CMD true", "HEALTHCHECK CMD", "HEALTHCHECK --x=1 CMD true", "HEALTHCHECK x"]
        {
            assert!(apply(&mut c, bad).is_err(), "{bad}");
        }
    }
}
