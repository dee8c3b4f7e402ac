//! Networks as Docker describes them (`network inspect`, `GET /networks`), and the
//! typed `network create`, `rm` and `prune` both front ends call: the bridge networks of
//! the store and the predefined `host` and `none`.

use std::collections::BTreeMap;

use lindocker_network::{Endpoint, Network, NetworkError, NetworkSpec};
use serde::Serialize;

use crate::events::{Event, EventType};
use crate::predefined::{PREDEFINED, Predefined};
use crate::{Engine, EngineError};

/// One network (Docker's `NetworkResource`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkResource {
    /// The name.
    pub name: String,
    /// 64 hex digits.
    pub id: String,
    /// RFC 3339 (Go's zero time for the predefined ones).
    pub created: String,
    /// Always `local`.
    pub scope: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    /// Containers get IPv6 addresses too.
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// Its address pools.
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    /// No way out.
    pub internal: bool,
    /// Always false.
    pub attachable: bool,
    /// Always false.
    pub ingress: bool,
    /// Always `{"Network": ""}`.
    pub config_from: ConfigFrom,
    /// Always false.
    pub config_only: bool,
    /// The containers on it, by id.
    pub containers: BTreeMap<String, NetworkContainer>,
    /// Driver options: for the default network, its bridge's name (as Docker's
    /// `bridge`); none for the others (docker-compose takes any option it did not ask
    /// for as a changed network).
    pub options: BTreeMap<String, String>,
    /// The Linux bridge (the CLI's `network inspect` shows it as an option).
    #[serde(skip)]
    pub bridge: Option<String>,
    /// Whether the DNS server answers on it (the CLI's `network inspect` shows it as
    /// Podman's `dns_enabled` option); none for `host` and `none`.
    #[serde(skip)]
    pub dns_enabled: Option<bool>,
    /// `--label`s.
    pub labels: BTreeMap<String, String>,
}

/// Docker's `IPAM`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    /// Always `default`.
    pub driver: String,
    /// Always none.
    pub options: Option<BTreeMap<String, String>>,
    /// One pool per address family.
    pub config: Vec<IpamConfig>,
}

/// One address pool.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    /// CIDR.
    pub subnet: String,
    /// The bridge's address.
    pub gateway: String,
    /// Where container addresses come from (IPv4 only).
    #[serde(rename = "IPRange", skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
}

/// Docker's `ConfigFrom`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigFrom {
    /// Always empty.
    pub network: String,
}

/// A container on a network (Docker's `EndpointResource`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkContainer {
    /// The container's name.
    pub name: String,
    /// Empty: endpoints have no id of their own here.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// Empty unless set.
    pub mac_address: String,
    /// `address/prefix`, or empty.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    /// `address/prefix`, or empty.
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
    /// More names on this network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<String>>,
}

/// What `network create` asks for, as given (strings are checked here).
#[derive(Debug, Clone, Default)]
pub struct NetworkCreate {
    /// The name.
    pub name: String,
    /// Only `bridge` (the default when empty).
    pub driver: String,
    /// Subnets in CIDR form: one IPv4 and, with `ipv6`, one IPv6 at most.
    pub subnets: Vec<String>,
    /// Gateways, one per subnet family.
    pub gateways: Vec<String>,
    /// The IPv4 sub-range container addresses come from.
    pub ip_range: Option<String>,
    /// No way out of the network.
    pub internal: bool,
    /// Give containers IPv6 addresses too.
    pub ipv6: bool,
    /// No DNS server for it (Podman's `--disable-dns`).
    pub disable_dns: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// `network ls` filters: values of one key are alternatives, keys must all match.
#[derive(Debug, Clone, Default)]
pub struct NetworkFilters {
    /// `name=` (substring).
    pub name: Vec<String>,
    /// `id=` (prefix).
    pub id: Vec<String>,
    /// `driver=`.
    pub driver: Vec<String>,
    /// `label=k` or `label=k=v` (all must match).
    pub label: Vec<String>,
    /// `type=custom|builtin`.
    pub kind: Vec<String>,
}

impl NetworkFilters {
    /// Parses Docker's filter map (`{"name":["x"],...}`); an unknown key is an error.
    pub fn from_map(map: &BTreeMap<String, Vec<String>>) -> Result<NetworkFilters, EngineError> {
        let mut f = NetworkFilters::default();
        for (key, values) in map {
            let slot = match key.as_str() {
                "name" => &mut f.name,
                "id" => &mut f.id,
                "driver" => &mut f.driver,
                "label" => &mut f.label,
                "type" => &mut f.kind,
                "scope" | "dangling" => continue,
                other => return Err(bad("filters", other, "invalid filter")),
            };
            slot.extend(values.iter().cloned());
        }
        Ok(f)
    }

    fn matches(&self, n: &NetworkResource, builtin: bool) -> bool {
        let any = |values: &[String], test: &dyn Fn(&str) -> bool| values.is_empty() || values.iter().any(|v| test(v));
        any(&self.name, &|v| n.name.contains(v))
            && any(&self.id, &|v| n.id.starts_with(v))
            && any(&self.driver, &|v| n.driver == v)
            && any(&self.kind, &|v| (v == "builtin") == builtin)
            && self.label.iter().all(|l| match l.split_once('=') {
                Some((k, v)) => n.labels.get(k).is_some_and(|have| have == v),
                None => n.labels.contains_key(l),
            })
    }
}

fn bad(option: &str, value: &str, reason: &str) -> EngineError {
    EngineError::BadOption { option: option.into(), value: value.into(), reason: reason.into() }
}

/// Docker's option naming a bridge network's Linux bridge.
pub const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";

/// A network's creation time as RFC 3339 (the store keeps unix seconds).
fn rfc3339(created: &str) -> String {
    match created.parse::<u64>() {
        Ok(secs) => {
            let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            humantime::format_rfc3339_seconds(time).to_string()
        }
        Err(_) => created.to_owned(),
    }
}

/// Docker's description of stored network `n` with its `endpoints`.
pub fn describe(n: &Network, endpoints: &[Endpoint]) -> NetworkResource {
    let containers = endpoints
        .iter()
        .map(|e| {
            let ip6 = match (e.ip6, &n.pool6) {
                (Some(ip6), Some(p6)) => format!("{ip6}/{}", p6.subnet.prefix_len()),
                _ => String::new(),
            };
            let container = NetworkContainer {
                name: e.name.clone(),
                endpoint_id: String::new(),
                mac_address: String::new(),
                ipv4_address: format!("{}/{}", e.ip, n.pool.subnet.prefix_len()),
                ipv6_address: ip6,
                aliases: Some(e.aliases.clone()),
            };
            (e.container.clone(), container)
        })
        .collect();
    let mut config = vec![IpamConfig {
        subnet: n.pool.subnet.to_string(),
        gateway: n.pool.gateway.to_string(),
        ip_range: Some(n.pool.range.to_string()),
    }];
    if let Some(p6) = &n.pool6 {
        config.push(IpamConfig { subnet: p6.subnet.to_string(), gateway: p6.gateway.to_string(), ip_range: None });
    }
    NetworkResource {
        name: n.name.clone(),
        id: n.id.clone(),
        created: rfc3339(&n.created),
        scope: "local".into(),
        driver: "bridge".into(),
        enable_ipv6: n.pool6.is_some(),
        ipam: Ipam { driver: "default".into(), options: None, config },
        internal: n.internal,
        attachable: false,
        ingress: false,
        config_from: ConfigFrom::default(),
        config_only: false,
        containers,
        options: if n.name == lindocker_network::store::DEFAULT_NETWORK {
            BTreeMap::from([(BRIDGE_NAME_OPTION.to_owned(), n.bridge.clone())])
        } else {
            BTreeMap::new()
        },
        bridge: Some(n.bridge.clone()),
        dns_enabled: Some(lindocker_network::dns::answer::serves(n)),
        labels: n.labels.clone(),
    }
}

impl Engine {
    /// Docker's description of predefined network `p`, with the containers using it.
    pub fn describe_predefined(&self, p: Predefined) -> NetworkResource {
        let containers = self
            .predefined_members(p.name)
            .into_iter()
            .map(|(id, name)| {
                let c = NetworkContainer {
                    name,
                    endpoint_id: String::new(),
                    mac_address: String::new(),
                    ipv4_address: String::new(),
                    ipv6_address: String::new(),
                    aliases: None,
                };
                (id, c)
            })
            .collect();
        NetworkResource {
            name: p.name.into(),
            id: p.id.into(),
            created: "0001-01-01T00:00:00Z".into(),
            scope: "local".into(),
            driver: p.driver.into(),
            enable_ipv6: false,
            ipam: Ipam { driver: "default".into(), options: None, config: vec![] },
            internal: false,
            attachable: false,
            ingress: false,
            config_from: ConfigFrom::default(),
            config_only: false,
            containers,
            options: BTreeMap::new(),
            bridge: None,
            dns_enabled: None,
            labels: BTreeMap::new(),
        }
    }

    /// Every network (stored and predefined) that passes `filters`, by name.
    pub fn network_list(&self, filters: &NetworkFilters) -> Result<Vec<NetworkResource>, EngineError> {
        let mut out = Vec::new();
        for n in self.networks.list()? {
            let (n, endpoints) = self.networks.inspect(&n.name)?;
            let resource = describe(&n, &endpoints);
            if filters.matches(&resource, false) {
                out.push(resource);
            }
        }
        for p in PREDEFINED {
            let resource = self.describe_predefined(p);
            if filters.matches(&resource, true) {
                out.push(resource);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The network `name` names (a name, id or id prefix).
    pub fn network_inspect(&self, name: &str) -> Result<NetworkResource, EngineError> {
        if let Some(p) = self.find_predefined(name) {
            return Ok(self.describe_predefined(p));
        }
        let (n, endpoints) = self.networks.inspect(name)?;
        Ok(describe(&n, &endpoints))
    }

    /// Creates a bridge network; journals `create`.
    pub fn network_create(&self, request: &NetworkCreate) -> Result<NetworkResource, EngineError> {
        let name = request.name.as_str();
        if crate::predefined::find(name).is_some_and(|p| p.name == name) {
            return Err(NetworkError::NameTaken(name.into()).into());
        }
        if !request.driver.is_empty() && request.driver != "bridge" {
            return Err(bad("--driver", &request.driver, "only bridge networks exist"));
        }
        let mut spec = NetworkSpec {
            ipv6: request.ipv6,
            internal: request.internal,
            disable_dns: request.disable_dns,
            ..Default::default()
        };
        for s in &request.subnets {
            match s.parse::<ipnet::IpNet>() {
                Ok(ipnet::IpNet::V4(n)) if spec.subnet.is_none() => spec.subnet = Some(n),
                Ok(ipnet::IpNet::V6(n)) if spec.subnet6.is_none() => spec.subnet6 = Some(n),
                Ok(_) => return Err(bad("--subnet", s, "one IPv4 and one IPv6 subnet at most")),
                Err(_) => return Err(bad("--subnet", s, "expected a CIDR like 10.89.0.0/24 or fd00:89::/64")),
            }
        }
        for g in &request.gateways {
            match g.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V4(a)) if spec.subnet.is_some() => spec.gateway = Some(a),
                Ok(std::net::IpAddr::V6(a)) if spec.subnet6.is_some() => spec.gateway6 = Some(a),
                Ok(_) => return Err(bad("--gateway", g, "needs a subnet of its family")),
                Err(_) => return Err(bad("--gateway", g, "not an IP address")),
            }
        }
        spec.ip_range = request
            .ip_range
            .as_deref()
            .map(|s| s.parse().map_err(|_| bad("--ip-range", s, "expected an IPv4 CIDR like 10.89.0.0/25")))
            .transpose()?;
        spec.labels = request.labels.clone();
        let network = self.networks.create(name, &spec)?;
        self.network_event("create", &network.id, &[("name", &network.name), ("type", "bridge")]);
        Ok(describe(&network, &[]))
    }

    /// Removes the network `name` names; journals `destroy`. A predefined network, or
    /// one containers use, is a [`EngineError::State`] (409).
    pub fn network_remove(&self, name: &str) -> Result<(), EngineError> {
        if let Some(p) = self.find_predefined(name) {
            return Err(EngineError::State(format!("{} is a pre-defined network and cannot be removed", p.name)));
        }
        let (n, _) = self.networks.inspect(name)?;
        self.networks.remove(&n.name)?;
        self.network_event("destroy", &n.id, &[("name", &n.name), ("type", "bridge")]);
        Ok(())
    }

    /// Removes every network no container uses (not the default one); journals each
    /// `destroy`. Returns the names removed.
    pub fn network_prune(&self) -> Result<Vec<String>, EngineError> {
        let before = self.networks.list()?;
        let removed = self.networks.prune()?;
        for name in &removed {
            if let Some(n) = before.iter().find(|n| &n.name == name) {
                self.network_event("destroy", &n.id, &[("name", &n.name), ("type", "bridge")]);
            }
        }
        Ok(removed)
    }

    /// Journals a network event (the actor is the network's id).
    pub fn network_event(&self, action: &str, id: &str, attributes: &[(&str, &str)]) {
        self.events.emit(Event::with(EventType::Network, action, id, attributes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_filter_is_refused() {
        let map = BTreeMap::from([("colour".to_owned(), vec!["x".to_owned()])]);
        assert!(NetworkFilters::from_map(&map).is_err());
        let map = BTreeMap::from([("name".to_owned(), vec!["x".to_owned()])]);
        assert_eq!(NetworkFilters::from_map(&map).unwrap().name, vec!["x"]);
    }
}
