//! What the metadata instructions do to the image config (no layer), and the history
//! entries every step leaves, with `created_by` as BuildKit writes it.

use lindocker_dockerfile::ast::{Command, Healthcheck};
use serde_json::{Map, Value, json};

use crate::EngineError;

/// The shell of shell-form commands: the config's `Shell`, else `/bin/sh -c`.
pub fn shell(config: &Value) -> Vec<String> {
    match config["config"]["Shell"].as_array() {
        Some(list) if !list.is_empty() => list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => vec!["/bin/sh".into(), "-c".into()],
    }
}

/// A command as the argument list it runs: exec form as is, shell form after the shell.
pub fn argv(command: &Command, shell: &[String]) -> Vec<String> {
    match command {
        Command::Exec(list) => list.clone(),
        Command::Shell(text) => {
            let mut out = shell.to_vec();
            out.push(text.clone());
            out
        }
    }
}

/// A list as Go's `%q` prints a `[]string` (`["a" "b"]`), which BuildKit's history uses.
pub fn go_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| serde_json::to_string(s).expect("a string serializes")).collect();
    format!("[{}]", quoted.join(" "))
}

/// The inner `config` object of an image config, made if missing.
pub fn inner(config: &mut Value) -> &mut Map<String, Value> {
    if !config["config"].is_object() {
        config["config"] = json!({});
    }
    config["config"].as_object_mut().expect("made an object above")
}

/// Appends a history entry.
pub fn push_history(config: &mut Value, created_by: &str, empty_layer: bool) {
    let mut entry = json!({
        "created": crate::now(),
        "created_by": created_by,
        "comment": "buildkit.dockerfile.v0",
    });
    if empty_layer {
        entry["empty_layer"] = json!(true);
    }
    match config["history"].as_array_mut() {
        Some(list) => list.push(entry),
        None => config["history"] = json!([entry]),
    }
}

/// Sets `key=value` in `Env` (replacing an earlier value of the key).
pub fn set_env(config: &mut Value, key: &str, value: &str) {
    let env = inner(config).entry("Env").or_insert_with(|| json!([]));
    if !env.is_array() {
        *env = json!([]);
    }
    let list = env.as_array_mut().expect("made a list above");
    let prefix = format!("{key}=");
    list.retain(|e| e.as_str().is_some_and(|e| !e.starts_with(&prefix)));
    list.push(json!(format!("{key}={value}")));
}

/// The config's `Env` as `KEY=VALUE` strings.
pub fn env(config: &Value) -> Vec<String> {
    config["config"]["Env"]
        .as_array()
        .map(|l| l.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// `WORKDIR path` over the current working directory (relative paths join it), cleaned.
pub fn workdir(current: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{}/{path}", if current.is_empty() { "/" } else { current })
    };
    clean(&joined)
}

/// A path cleaned as Go's `path.Clean` (absolute).
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `HEALTHCHECK` as the config's `Healthcheck` object and the history text.
pub fn healthcheck(check: &Healthcheck, shell: &[String]) -> Result<(Value, String), EngineError> {
    let Healthcheck::Check { command, interval, timeout, start_period, start_interval, retries } = check else {
        return Ok((json!({ "Test": ["NONE"] }), "HEALTHCHECK NONE".into()));
    };
    let _ = shell;
    let test: Vec<String> = match command {
        Command::Shell(text) => vec!["CMD-SHELL".into(), text.clone()],
        Command::Exec(list) => std::iter::once("CMD".to_owned()).chain(list.iter().cloned()).collect(),
    };
    let mut object = json!({ "Test": test });
    let mut text = Vec::new();
    for (key, value) in
        [("Interval", interval), ("Timeout", timeout), ("StartPeriod", start_period), ("StartInterval", start_interval)]
    {
        if let Some(value) = value {
            let ns = lindocker_image::health::parse_go_duration(value).map_err(|reason| EngineError::BadOption {
                option: format!("HEALTHCHECK --{}", key.to_ascii_lowercase()),
                value: value.clone(),
                reason,
            })?;
            object[key] = json!(ns);
            text.push(format!("{key}:{value}"));
        }
    }
    if let Some(retries) = retries {
        object["Retries"] = json!(retries);
        text.push(format!("Retries:{retries}"));
    }
    let created_by = format!("HEALTHCHECK &{{{} {}}}", go_list(&test), text.join(" "));
    Ok((object, created_by.replace(" }", "}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_in_both_forms() {
        let sh = vec!["/bin/sh".to_owned(), "-c".to_owned()];
        assert_eq!(argv(&Command::Shell("echo hi".into()), &sh), ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(argv(&Command::Exec(vec!["echo".into(), "hi".into()]), &sh), ["echo", "hi"]);
        assert_eq!(go_list(&["nginx".into(), "-g".into()]), r#"["nginx" "-g"]"#);
    }

    #[test]
    fn workdir_joins_and_cleans() {
        assert_eq!(workdir("", "app"), "/app");
        assert_eq!(workdir("/app", "src/../lib/"), "/app/lib");
        assert_eq!(workdir("/app", "/x"), "/x");
    }

    #[test]
    fn env_replaces_a_key() {
        let mut config = json!({ "config": { "Env": ["PATH=/bin", "A=1"] } });
        set_env(&mut config, "A", "2");
        assert_eq!(env(&config), ["PATH=/bin", "A=2"]);
    }

    #[test]
    fn healthcheck_durations_become_nanoseconds() {
        let check = Healthcheck::Check {
            command: Command::Shell("true".into()),
            interval: Some("1s".into()),
            timeout: None,
            start_period: None,
            start_interval: None,
            retries: Some(2),
        };
        let (object, _) = healthcheck(&check, &[]).unwrap();
        assert_eq!(object["Interval"], json!(1_000_000_000i64));
        assert_eq!(object["Test"], json!(["CMD-SHELL", "true"]));
    }
}
