//! `exec`'s process: a process.json, or the container's own process with the command
//! and the flags laid over it, as runc builds it.

use anyhow::{Context, Result, bail};
use lindocker_runtime::container::{self, ExecOptions};
use lindocker_runtime::state::Store;
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilitiesBuilder, Process};

use crate::args::ExecArgs;

/// The options for `container::exec`.
pub fn options(store: &Store, a: ExecArgs) -> Result<ExecOptions> {
    let process = match &a.process {
        Some(path) => {
            let text = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
            let de = &mut serde_json::Deserializer::from_slice(&text);
            let mut p = serde_path_to_error::deserialize::<_, Process>(de)
                .map_err(|e| anyhow::anyhow!("{}: {}: {}", path.display(), e.path(), e.inner()))?;
            // No capabilities in process.json: the container's (as runc does), which
            // are none if its config lists none; never the runtime's own.
            if p.capabilities().is_none() {
                let spec = container::container_spec(store, &a.id)?;
                p.set_capabilities(spec.process().as_ref().and_then(|c| c.capabilities().clone()));
            }
            p
        }
        None => from_flags(store, &a)?,
    };
    Ok(ExecOptions {
        id: a.id,
        process,
        console_socket: a.console_socket,
        pid_file: a.pid_file,
        detach: a.detach,
        preserve_fds: a.preserve_fds,
        on_warning: Some(crate::warn),
    })
}

fn from_flags(store: &Store, a: &ExecArgs) -> Result<Process> {
    if a.command.is_empty() {
        bail!("exec: give a command, or --process FILE");
    }
    let spec = container::container_spec(store, &a.id)?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    let mut env = p.env().clone().unwrap_or_default();
    for var in &a.env {
        let Some((key, _)) = var.split_once('=') else { bail!("--env {var:?}: expected KEY=VALUE") };
        env.retain(|e| e.split_once('=').map(|(k, _)| k) != Some(key));
        env.push(var.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(user) = &a.user {
        let (uid, gid) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user.as_str(), None),
        };
        let mut u = p.user().clone();
        u.set_uid(uid.parse().with_context(|| format!("--user {user:?}: the uid must be a number"))?);
        if let Some(g) = gid {
            u.set_gid(g.parse().with_context(|| format!("--user {user:?}: the gid must be a number"))?);
        }
        p.set_user(u);
    }
    if !a.additional_gids.is_empty() {
        let mut u = p.user().clone();
        u.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(u);
    }
    if !a.cap.is_empty() {
        // Absent means empty (not oci-spec's default of three capabilities).
        let mut caps = p
            .capabilities()
            .clone()
            .unwrap_or_else(|| LinuxCapabilitiesBuilder::default().build().expect("no required fields"));
        for name in &a.cap {
            let cap: Capability = serde_json::from_value(serde_json::Value::String(name.clone()))
                .map_err(|_| anyhow::anyhow!("--cap {name:?}: unknown capability"))?;
            let add = |set: &Option<Capabilities>| {
                let mut set = set.clone().unwrap_or_default();
                set.insert(cap);
                Some(set)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
            caps.set_inheritable(add(caps.inheritable()));
            caps.set_ambient(add(caps.ambient()));
        }
        p.set_capabilities(Some(caps));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}
