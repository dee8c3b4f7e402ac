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
            let endpoints = self.networks.endpoints_of(&other.id).map_err(|e| EngineError::Network(e.to_string()))?;
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
