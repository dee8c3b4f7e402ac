//! One instruction of a stage: `ARG` (the scope only), `RUN`/`COPY`/`ADD` (their own
//! modules), and the metadata instructions, which change the config and leave a history
//! entry (`empty_layer`) but no layer.

use lindocker_dockerfile::ast::{self, Kind};
use lindocker_dockerfile::expand;
use serde_json::{Value, json};

use super::cache::{self, Entry};
use super::vars::Scope;
use super::{Build, State, config, expand_err};
use crate::EngineError;

impl Build<'_> {
    /// One instruction.
    pub(super) fn step(
        &mut self,
        instruction: &ast::Instruction,
        name: &str,
        state: &mut State,
        scope: &mut Scope,
        cmd_set: &mut bool,
    ) -> Result<(), EngineError> {
        let shell = config::shell(&state.config);
        let meta = |state: &mut State, created_by: String, change: &dyn Fn(&mut Value)| -> (String, Value) {
            let mut config = state.config.clone();
            change(&mut config);
            config::push_history(&mut config, &created_by, true);
            (created_by, config)
        };
        let (created_by, config) = match &instruction.kind {
            Kind::Arg(decls) => {
                for decl in decls {
                    let value = match self.args.take(&decl.name) {
                        Some(v) => Some(v),
                        None => match &decl.default {
                            Some(d) => Some(self.word(d, scope)?),
                            None => self.globals.0.iter().rev().find(|(n, _)| *n == decl.name).map(|(_, v)| v.clone()),
                        },
                    };
                    scope.declare(&decl.name, value);
                }
                return Ok(());
            }
            Kind::Run(run) => return self.run_step(run, name, state, scope, &shell),
            Kind::Copy(c) => return self.copy_step(c, false, &instruction.source.original, name, state, scope),
            Kind::Add(c) => return self.copy_step(c, true, &instruction.source.original, name, state, scope),
            Kind::Env(pairs) => {
                let mut set = Vec::new();
                for kv in pairs {
                    let key = self.word(&kv.key, scope)?;
                    let value = self.word(&kv.value, scope)?;
                    scope.set_env(&key, &value);
                    set.push((key, value));
                }
                let text = set.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
                meta(state, format!("ENV {text}"), &|c| {
                    for (k, v) in &set {
                        config::set_env(c, k, v);
                    }
                })
            }
            Kind::Label(pairs) => {
                let mut set = Vec::new();
                for kv in pairs {
                    set.push((self.word(&kv.key, scope)?, self.word(&kv.value, scope)?));
                }
                let text = set.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
                meta(state, format!("LABEL {text}"), &|c| {
                    let labels = config::inner(c).entry("Labels").or_insert_with(|| json!({}));
                    if !labels.is_object() {
                        *labels = json!({});
                    }
                    for (k, v) in &set {
                        labels[k.as_str()] = json!(v);
                    }
                })
            }
            Kind::Workdir(path) => {
                let path = self.word(path, scope)?;
                let current = state.config["config"]["WorkingDir"].as_str().unwrap_or_default().to_owned();
                let dir = config::workdir(&current, &path);
                meta(state, format!("WORKDIR {dir}"), &|c| {
                    config::inner(c).insert("WorkingDir".into(), json!(dir));
                })
            }
            Kind::User(user) => {
                let user = self.word(user, scope)?;
                meta(state, format!("USER {user}"), &|c| {
                    config::inner(c).insert("User".into(), json!(user));
                })
            }
            Kind::Expose(ports) => {
                let mut keys = Vec::new();
                for p in ports {
                    for word in expand::words(p, scope, self.escape).map_err(expand_err)? {
                        let key = if word.contains('/') { word.to_lowercase() } else { format!("{word}/tcp") };
                        lindocker_network::ports::parse_exposed(&key).map_err(|e| EngineError::BadOption {
                            option: "EXPOSE".into(),
                            value: word.clone(),
                            reason: e.to_string(),
                        })?;
                        keys.push(key);
                    }
                }
                keys.sort();
                keys.dedup();
                let text = keys.iter().map(|k| format!("{k}:{{}}")).collect::<Vec<_>>().join(" ");
                meta(state, format!("EXPOSE map[{text}]"), &|c| {
                    let ports = config::inner(c).entry("ExposedPorts").or_insert_with(|| json!({}));
                    if !ports.is_object() {
                        *ports = json!({});
                    }
                    for k in &keys {
                        ports[k.as_str()] = json!({});
                    }
                })
            }
            Kind::Volume(list) => {
                let mut dirs = Vec::new();
                for v in list {
                    dirs.push(self.word(v, scope)?);
                }
                meta(state, format!("VOLUME [{}]", dirs.join(" ")), &|c| {
                    let volumes = config::inner(c).entry("Volumes").or_insert_with(|| json!({}));
                    if !volumes.is_object() {
                        *volumes = json!({});
                    }
                    for d in &dirs {
                        volumes[d.as_str()] = json!({});
                    }
                })
            }
            Kind::Cmd(command) => {
                let list = config::argv(command, &shell);
                *cmd_set = true;
                meta(state, format!("CMD {}", config::go_list(&list)), &|c| {
                    config::inner(c).insert("Cmd".into(), json!(list));
                })
            }
            Kind::Entrypoint(command) => {
                let list = config::argv(command, &shell);
                // Docker: a CMD inherited from the base is reset by ENTRYPOINT.
                let reset = !*cmd_set;
                meta(state, format!("ENTRYPOINT {}", config::go_list(&list)), &|c| {
                    let inner = config::inner(c);
                    inner.insert("Entrypoint".into(), json!(list));
                    if reset {
                        inner.insert("Cmd".into(), Value::Null);
                    }
                })
            }
            Kind::Healthcheck(check) => {
                let (object, text) = config::healthcheck(check, &shell)?;
                meta(state, text, &|c| {
                    config::inner(c).insert("Healthcheck".into(), object.clone());
                })
            }
            Kind::StopSignal(signal) => {
                let signal = self.word(signal, scope)?;
                crate::options::parse_signal("STOPSIGNAL", &signal)?;
                meta(state, format!("STOPSIGNAL {signal}"), &|c| {
                    config::inner(c).insert("StopSignal".into(), json!(signal));
                })
            }
            Kind::Shell(list) => meta(state, format!("SHELL [{}]", list.join(" ")), &|c| {
                config::inner(c).insert("Shell".into(), json!(list));
            }),
            Kind::Onbuild(trigger) => {
                let text = lindocker_dockerfile::onbuild_expression(trigger);
                meta(state, format!("ONBUILD {text}"), &|c| {
                    let list = config::inner(c).entry("OnBuild").or_insert_with(|| json!([]));
                    if !list.is_array() {
                        *list = json!([]);
                    }
                    list.as_array_mut().expect("made a list above").push(json!(text));
                })
            }
            Kind::Maintainer(name) => {
                let name = self.word(name, scope)?;
                meta(state, format!("MAINTAINER {name}"), &|c| {
                    c["author"] = json!(name);
                })
            }
        };
        // Metadata steps are cached too, so that a rebuild makes the same config (the
        // history's times) and so the same image id.
        let key = cache::key(&["meta", &state.key, &created_by]);
        let entry = match self.lookup(&key) {
            Some(entry) => entry,
            None => {
                let entry = Entry { config, layers: state.layers.clone() };
                self.cache.put(&key, &entry)?;
                entry
            }
        };
        *state = State { config: entry.config, layers: entry.layers, key };
        Ok(())
    }
}
