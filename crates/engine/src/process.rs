//! The process of a container, one builder for the container's own process (`run`,
//! `start`) and for each `exec`: its environment (PATH's default, HOSTNAME, TERM with a
//! terminal, the container's variables, an exec's overriding them), its user and groups
//! as the container's own `/etc` names them, its capabilities.

use std::os::fd::OwnedFd;
use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

use crate::EngineError;
use crate::record::Record;

/// Docker's PATH for a container whose image sets none.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A variable's name: what comes before the first `=` (all of a bare `KEY`).
fn name_of(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(k, _)| k)
}

/// Adds Docker's PATH in front if `env` sets none.
pub fn with_default_path(env: &mut Vec<String>) {
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.into());
    }
}

/// Lays `overrides` over `env` as Docker does (`ReplaceOrAppendEnvValues`): a `KEY=VALUE`
/// replaces every `KEY` of `env` (appended at the end), a bare `KEY` removes it.
pub fn override_env(env: &mut Vec<String>, overrides: &[String]) {
    for pair in overrides {
        let key = name_of(pair);
        env.retain(|e| name_of(e) != key);
        if pair.contains('=') {
            env.push(pair.clone());
        }
    }
}

/// Checks variables from a client (`KEY=VALUE` or a bare `KEY`): a name, no NUL byte.
pub fn check_env(pairs: &[String]) -> Result<(), EngineError> {
    for pair in pairs {
        if pair.contains('\0') || name_of(pair).is_empty() {
            return Err(EngineError::Invalid(format!("invalid environment variable: {pair}")));
        }
    }
    Ok(())
}

/// The environment of a process in a container whose variables are `container_env`:
/// PATH's default if it sets none, its variables, `HOSTNAME`, `TERM=xterm` with a
/// terminal (unless it sets TERM), then `overrides` (an exec's `-e`) laid over them.
pub fn environment(container_env: &[String], hostname: &str, tty: bool, overrides: &[String]) -> Vec<String> {
    let mut env = container_env.to_vec();
    with_default_path(&mut env);
    env.push(format!("HOSTNAME={hostname}"));
    if tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    override_env(&mut env, overrides);
    env
}

/// Who a process runs as.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The user.
    pub uid: u32,
    /// The primary group.
    pub gid: u32,
    /// The user's other groups, then `--group-add`'s.
    pub additional_gids: Vec<u32>,
}

/// Where a container's `/etc/passwd` and `/etc/group` are read: its filesystem (a
/// trusted path, the container's merged directory) or its own view (a descriptor of a
/// running container's root, volumes and mounts over `/etc` included).
#[derive(Debug, Clone, Copy)]
pub enum UserRoot<'a> {
    /// The merged directory.
    Dir(&'a Path),
    /// A running container's root.
    Fd(&'a OwnedFd),
}

/// `user[:group]` and the `--group-add` values, resolved in `root`.
pub fn identity(root: UserRoot<'_>, user: &str, group_add: &[String]) -> Result<Identity, EngineError> {
    let ((uid, gid, mut additional_gids), extra) = match root {
        UserRoot::Dir(dir) => (crate::users::resolve(dir, user)?, crate::users::resolve_groups(dir, group_add)?),
        UserRoot::Fd(fd) => (crate::users::resolve_at(fd, user)?, crate::users::resolve_groups_at(fd, group_add)?),
    };
    for gid in extra {
        if !additional_gids.contains(&gid) {
            additional_gids.push(gid);
        }
    }
    Ok(Identity { uid, gid, additional_gids })
}

/// A process of a container, as the OCI runtime takes it (`process` of config.json, or
/// `exec --process`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerProcess {
    /// A pty.
    pub terminal: bool,
    /// Its user and groups.
    pub identity: Identity,
    /// The command.
    pub args: Vec<String>,
    /// `KEY=VALUE` pairs.
    pub env: Vec<String>,
    /// The working directory (absolute).
    pub cwd: String,
    /// Bounding, effective and permitted capabilities.
    pub capabilities: Vec<String>,
    /// `no_new_privs`.
    pub no_new_privileges: bool,
}

/// What a process of `record` differs in: `run`'s is the container's own, an exec's
/// comes from its request.
#[derive(Debug, Clone, Default)]
pub struct ProcessOptions<'a> {
    /// The command.
    pub args: Vec<String>,
    /// A pty.
    pub tty: bool,
    /// Variables laid over the container's.
    pub env: &'a [String],
    /// The working directory (the container's if `None`; `/` if that is empty).
    pub workdir: Option<&'a str>,
    /// Every capability (`exec --privileged`), whatever the container has.
    pub privileged: bool,
}

impl ContainerProcess {
    /// The process for `record` running as `identity` (see [`identity`]).
    pub fn new(record: &Record, identity: Identity, options: ProcessOptions<'_>) -> ContainerProcess {
        let c = &record.config;
        let h = &record.host_config;
        let cwd = options.workdir.unwrap_or(&c.working_dir);
        ContainerProcess {
            terminal: options.tty,
            identity,
            args: options.args,
            env: environment(&c.env, &c.hostname, options.tty, options.env),
            cwd: if cwd.is_empty() { "/".to_owned() } else { cwd.to_owned() },
            capabilities: crate::bundle::capabilities(&h.cap_add, &h.cap_drop, h.privileged || options.privileged),
            no_new_privileges: h.no_new_privileges,
        }
    }

    /// The OCI `process` object.
    pub fn to_json(&self) -> Value {
        let caps = &self.capabilities;
        let id = &self.identity;
        json!({
            "terminal": self.terminal,
            "user": { "uid": id.uid, "gid": id.gid, "additionalGids": id.additional_gids },
            "args": self.args,
            "env": self.env,
            "cwd": self.cwd,
            "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
            "noNewPrivileges": self.no_new_privileges,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn path_default_only_when_the_container_sets_none() {
        let env = environment(&strings(&["A=1"]), "h", false, &[]);
        assert_eq!(env, strings(&[DEFAULT_PATH, "A=1", "HOSTNAME=h"]));
        let env = environment(&strings(&["PATH=/bin", "A=1"]), "h", false, &[]);
        assert_eq!(env, strings(&["PATH=/bin", "A=1", "HOSTNAME=h"]));
    }

    #[test]
    fn term_only_with_a_terminal_and_not_over_the_containers() {
        let base = strings(&["PATH=/bin"]);
        assert!(!environment(&base, "h", false, &[]).iter().any(|e| e.starts_with("TERM=")));
        assert_eq!(environment(&base, "h", true, &[]).last().unwrap(), "TERM=xterm");
        let own = strings(&["PATH=/bin", "TERM=vt100"]);
        let env = environment(&own, "h", true, &[]);
        assert_eq!(env.iter().filter(|e| e.starts_with("TERM=")).collect::<Vec<_>>(), ["TERM=vt100"]);
    }

    #[test]
    fn overrides_replace_by_name_and_a_bare_name_removes() {
        let base = strings(&["PATH=/bin", "A=1", "B=2", "A=3"]);
        let env = environment(&base, "h", true, &strings(&["A=x", "TERM=dumb", "B", "C=y=z"]));
        assert_eq!(env, strings(&["PATH=/bin", "HOSTNAME=h", "A=x", "TERM=dumb", "C=y=z"]));
        // `PATH` given by the exec wins over the image's.
        let env = environment(&base, "h", false, &strings(&["PATH=/opt"]));
        assert_eq!(env.iter().filter(|e| e.starts_with("PATH=")).collect::<Vec<_>>(), ["PATH=/opt"]);
    }

    #[test]
    fn client_variables_need_a_name_and_no_nul() {
        assert!(check_env(&strings(&["A=1", "B", "C="])).is_ok());
        for bad in ["=1", "", "A=\0"] {
            assert!(check_env(&strings(&[bad])).is_err(), "{bad:?}");
        }
    }
}
