//! Docker's legacy container links (`--link NAME[:ALIAS]`): the linked container's
//! address in this container's /etc/hosts under the alias, its short id and its name.
//! The address is looked up when the container's network is attached, so a link
//! follows the linked container across its restarts as Docker's does.

use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::{Engine, EngineError};

/// One `--link`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Link {
    /// The linked container: its name or id as given, its id once created.
    pub container: String,
    /// The name this container knows it by (a host name).
    pub alias: String,
}

/// Parses `--link NAME[:ALIAS]`: the name as a container name or id, the alias (the name
/// if none) as a host name, since both end up in /etc/hosts.
pub fn parse(value: &str) -> Result<Link, EngineError> {
    let bad =
        |reason: &str| EngineError::BadOption { option: "--link".into(), value: value.into(), reason: reason.into() };
    let (name, alias) = value.split_once(':').unwrap_or((value, ""));
    let name = name.strip_prefix('/').unwrap_or(name);
    let alias = if value.contains(':') { alias } else { name };
    let name_ok = name.len() <= 128
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !name_ok {
        return Err(bad("expected NAME[:ALIAS] with a container's name or id"));
    }
    if !crate::options::is_hostname(alias) {
        return Err(bad("invalid alias (RFC 1123 letters, digits, '-' and '.')"));
    }
    Ok(Link { container: name.into(), alias: alias.into() })
}

/// The `/etc/hosts` line of a linked container: `IP<TAB>ALIAS ID12 NAME`, each name once.
pub fn hosts_line(ip: &str, alias: &str, id: &str, name: &str) -> String {
    let mut names: Vec<&str> = Vec::new();
    for n in [alias, &id[..12.min(id.len())], name] {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    format!("{ip}\t{}", names.join(" "))
}

impl Engine {
    /// Checks `record`'s links as `create` takes them: on a bridge network, naming
    /// existing containers other than itself; each is replaced by its linked id.
    pub(crate) fn resolve_links(&self, record: &mut Record) -> Result<(), EngineError> {
        if record.network.links.is_empty() {
            return Ok(());
        }
        if record.network.mode != "bridge" {
            return Err(EngineError::Invalid(format!(
                "conflicting options: --link needs a bridge network, not --network {}",
                record.network.mode
            )));
        }
        for link in &mut record.network.links {
            let id = self
                .records
                .resolve(&link.container)
                .map_err(|e| EngineError::Invalid(format!("could not get container for {}: {e}", link.container)))?;
            if id == record.id {
                return Err(EngineError::Invalid("a container cannot link to itself".into()));
            }
            link.container = id;
        }
        Ok(())
    }

    /// The /etc/hosts lines of `record`'s links, looked up now: each linked container must
    /// run and share one of this container's networks.
    pub fn link_hosts(&self, record: &Record) -> Result<Vec<String>, EngineError> {
        let mut lines = Vec::new();
        for link in &record.network.links {
            let other =
                self.records.read(&link.container).ok().filter(|o| o.state.status.is_live()).ok_or_else(|| {
                    EngineError::Invalid(format!(
                        "Cannot link to a non running container: {} AS /{}/{}",
                        link.container, record.name, link.alias
                    ))
                })?;
            let endpoints = self.networks.endpoints_of(&other.id)?;
            let shared = endpoints
                .iter()
                .find(|e| record.network.attachments.iter().any(|a| a.network == e.network))
                .ok_or_else(|| {
                EngineError::Invalid(format!(
                    "Cannot link to /{}, as it does not belong to the default network",
                    other.name
                ))
            })?;
            lines.push(hosts_line(&shared.ip.to_string(), &link.alias, &other.id, &other.name));
        }
        Ok(lines)
    }

    /// Docker's link variables for `record`'s links to running containers, looked up now
    /// (at create): `ALIAS_NAME=/SELF/ALIAS`; for the linked container's exposed and
    /// published ports `ALIAS_PORT=proto://IP:PORT` (the lowest),
    /// `ALIAS_PORT_<PORT>_<PROTO>[_ADDR|_PORT|_PROTO]`; its environment as
    /// `ALIAS_ENV_<NAME>` (`HOME` and `PATH` left out), as Docker hands it on.
    pub(crate) fn link_env(&self, record: &Record) -> Vec<String> {
        let mut env = Vec::new();
        for link in &record.network.links {
            let prefix = link.alias.to_ascii_uppercase().replace('-', "_");
            env.push(format!("{prefix}_NAME=/{}/{}", record.name, link.alias));
            let Some(other) = self.records.read(&link.container).ok().filter(|o| o.state.status.is_live()) else {
                continue;
            };
            let ip = self.networks.endpoints_of(&other.id).ok().and_then(|endpoints| {
                endpoints
                    .into_iter()
                    .find(|e| record.network.attachments.iter().any(|a| a.network == e.network))
                    .map(|e| e.ip)
            });
            if let Some(ip) = ip {
                let mut ports: Vec<(u16, &str)> =
                    other.network.ports.iter().map(|p| (p.container_port, p.protocol.as_str())).collect();
                let exposed = self.images.find(&other.image).and_then(|i| self.images.config(&i)).ok();
                let exposed = exposed.and_then(|c| c.config().clone()).and_then(|c| c.exposed_ports().clone());
                for key in exposed.unwrap_or_default() {
                    if let Ok(Some((port, protocol))) = lindocker_network::ports::parse_exposed(&key) {
                        ports.push((port, protocol.as_str()));
                    }
                }
                ports.sort_unstable();
                ports.dedup();
                if let Some((port, proto)) = ports.first() {
                    env.push(format!("{prefix}_PORT={proto}://{ip}:{port}"));
                }
                for (port, proto) in &ports {
                    let var = format!("{prefix}_PORT_{port}_{}", proto.to_ascii_uppercase());
                    env.push(format!("{var}={proto}://{ip}:{port}"));
                    env.push(format!("{var}_ADDR={ip}"));
                    env.push(format!("{var}_PORT={port}"));
                    env.push(format!("{var}_PROTO={proto}"));
                }
            }
            for entry in &other.config.env {
                if let Some((name, value)) = entry.split_once('=')
                    && name != "HOME"
                    && name != "PATH"
                {
                    env.push(format!("{prefix}_ENV_{name}={value}"));
                }
            }
        }
        env
    }

    /// Docker's `HostConfig.Links`: `/NAME:/SELF/ALIAS`, with the linked container's name
    /// as it is now.
    pub fn link_names(&self, record: &Record) -> Vec<String> {
        record
            .network
            .links
            .iter()
            .map(|l| {
                let name = self.records.read(&l.container).map(|o| o.name).unwrap_or_else(|_| l.container.clone());
                format!("/{name}:/{}/{}", record.name, l.alias)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_values() {
        assert_eq!(parse("db:database").unwrap(), Link { container: "db".into(), alias: "database".into() });
        assert_eq!(parse("/db").unwrap(), Link { container: "db".into(), alias: "db".into() });
        for bad in ["", ":x", "db:", "db:x:y", "db:bad alias", "db:a\nb", "../x:y", "db:-x", "d b"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(hosts_line("10.0.0.2", "db", &"a".repeat(64), "db"), format!("10.0.0.2\tdb {}", "a".repeat(12)));
    }
}
