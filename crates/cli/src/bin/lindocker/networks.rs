//! `lindocker network create/ls/inspect/rm/prune/connect/disconnect` and `port`.

use lindocker_engine::events::{Event, EventType};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use lindocker_engine::Engine;
use lindocker_engine::netconnect::ConnectRequest;
use lindocker_engine::predefined::{self, PREDEFINED, Predefined};
use lindocker_engine::record::Status;
use lindocker_network::{Endpoint, Network, PortMapping};
use serde_json::{Value, json};

use crate::formatter::{Listing, row, text};
use crate::template::Val;

/// Network commands.
#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a bridge network.
    Create {
        /// Driver (only `bridge`).
        #[arg(short, long, default_value = "bridge")]
        driver: String,
        /// Subnet in CIDR form (default: a free private range); an IPv4 one and, with
        /// `--ipv6`, an IPv6 one (default: a random unique local /64).
        #[arg(long)]
        subnet: Vec<String>,
        /// Gateway of a subnet (default: the subnet's first address).
        #[arg(long)]
        gateway: Vec<String>,
        /// Allocate container addresses from this sub-range.
        #[arg(long)]
        ip_range: Option<String>,
        /// No way out of the network.
        #[arg(long)]
        internal: bool,
        /// Labels: K=V.
        #[arg(long)]
        label: Vec<String>,
        /// Give containers IPv6 addresses too.
        #[arg(long)]
        ipv6: bool,
        /// The name.
        name: String,
    },
    /// List networks.
    #[command(alias = "list")]
    Ls {
        /// Only names... ids, as Docker.
        #[arg(short, long)]
        quiet: bool,
        /// `table` (default), `table TEMPLATE`, `json` or a Go template per network.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Show networks in detail.
    Inspect {
        /// A Go template: {{.Driver}}, {{range .IPAM.Config}}{{.Subnet}}{{end}}...
        #[arg(short, long)]
        format: Option<String>,
        /// Names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove networks.
    #[command(alias = "remove")]
    Rm {
        /// Names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove networks no container uses.
    Prune {
        /// Accepted for Docker compatibility.
        #[arg(short, long)]
        force: bool,
    },
    /// Join a container to a network (at once if it runs).
    Connect {
        /// Address on the network.
        #[arg(long)]
        ip: Option<String>,
        /// IPv6 address on the network.
        #[arg(long)]
        ip6: Option<String>,
        /// More names on the network.
        #[arg(long)]
        alias: Vec<String>,
        /// The network.
        network: String,
        /// The container.
        container: String,
    },
    /// Take a container off a network (at once if it runs).
    Disconnect {
        /// The network.
        network: String,
        /// The container.
        container: String,
    },
}

fn network_json(n: &Network, endpoints: &[Endpoint]) -> Value {
    let containers: BTreeMap<String, Value> = endpoints
        .iter()
        .map(|e| {
            let ip6 = match (e.ip6, &n.pool6) {
                (Some(ip6), Some(p6)) => format!("{ip6}/{}", p6.subnet.prefix_len()),
                _ => String::new(),
            };
            let v4 = format!("{}/{}", e.ip, n.pool.subnet.prefix_len());
            (
                e.container.clone(),
                json!({ "Name": e.name, "IPv4Address": v4, "IPv6Address": ip6, "Aliases": e.aliases }),
            )
        })
        .collect();
    let mut config = vec![
        json!({ "Subnet": n.pool.subnet.to_string(), "Gateway": n.pool.gateway.to_string(), "IPRange": n.pool.range.to_string() }),
    ];
    if let Some(p6) = &n.pool6 {
        config.push(json!({ "Subnet": p6.subnet.to_string(), "Gateway": p6.gateway.to_string() }));
    }
    json!({
        "Name": n.name, "Id": n.id, "Created": n.created, "Driver": "bridge", "Scope": "local", "Internal": n.internal,
        "EnableIPv6": n.pool6.is_some(), "Attachable": false, "Ingress": false, "ConfigOnly": false,
        "ConfigFrom": { "Network": "" },
        "IPAM": { "Driver": "default", "Config": config },
        "Options": { "com.docker.network.bridge.name": n.bridge },
        "Labels": n.labels, "Containers": containers,
    })
}

/// Docker's inspect JSON for `host` or `none`.
fn predefined_json(engine: &Engine, p: Predefined) -> Value {
    let containers: BTreeMap<String, Value> = engine
        .predefined_members(p.name)
        .into_iter()
        .map(|(id, name)| {
            (id, json!({ "Name": name, "EndpointID": "", "MacAddress": "", "IPv4Address": "", "IPv6Address": "" }))
        })
        .collect();
    json!({
        "Name": p.name, "Id": p.id, "Created": "0001-01-01T00:00:00Z", "Scope": "local", "Driver": p.driver,
        "EnableIPv6": false, "IPAM": { "Driver": "default", "Options": null, "Config": [] },
        "Internal": false, "Attachable": false, "Ingress": false, "ConfigFrom": { "Network": "" }, "ConfigOnly": false,
        "Containers": containers, "Options": {}, "Labels": {},
    })
}

/// `network ls --format`: Docker's default table and headers.
const NETWORKS_LISTING: Listing<'static> = Listing {
    default_table: "table {{.ID}}\\t{{.Name}}\\t{{.Driver}}\\t{{.Scope}}",
    headers: &[
        ("ID", "NETWORK ID"),
        ("Name", "NAME"),
        ("Driver", "DRIVER"),
        ("Scope", "SCOPE"),
        ("IPv6", "IPV6"),
        ("Internal", "INTERNAL"),
        ("Labels", "LABELS"),
        ("CreatedAt", "CREATED"),
    ],
};

/// One network as `network ls --format` sees it.
fn network_row(
    id: &str,
    name: &str,
    driver: &str,
    ipv6: bool,
    internal: bool,
    labels: &BTreeMap<String, String>,
    created: Option<&str>,
) -> Val {
    let (labels, label) = crate::formatter::labels(labels);
    row(vec![
        ("ID", text(&id[..12.min(id.len())])),
        ("Name", text(name)),
        ("Driver", text(driver)),
        ("Scope", text("local")),
        ("IPv6", text(ipv6.to_string())),
        ("Internal", text(internal.to_string())),
        ("Labels", labels),
        ("Label", label),
        ("CreatedAt", text(crate::formatter::created_at(created))),
    ])
}

/// Journals a network event (the actor is the network's id).
fn network_event(engine: &Engine, action: &str, id: &str, attributes: &[(&str, &str)]) {
    engine.events().emit(Event::with(EventType::Network, action, id, attributes));
}

/// Runs a network command.
pub fn run(engine: &Engine, command: &NetworkCommand) -> Result<u8> {
    let nets = engine.networks();
    match command {
        NetworkCommand::Create { driver, subnet, gateway, ip_range, internal, label, ipv6, name } => {
            if predefined::find(name).is_some_and(|p| p.name == name) {
                bail!("network with name {name} already exists");
            }
            if driver != "bridge" {
                bail!("--driver {driver}: only bridge networks exist");
            }
            let mut spec = lindocker_network::NetworkSpec { ipv6: *ipv6, internal: *internal, ..Default::default() };
            for s in subnet {
                match s.parse::<ipnet::IpNet>() {
                    Ok(ipnet::IpNet::V4(n)) if spec.subnet.is_none() => spec.subnet = Some(n),
                    Ok(ipnet::IpNet::V6(n)) if spec.subnet6.is_none() => spec.subnet6 = Some(n),
                    Ok(_) => bail!("--subnet {s}: one IPv4 and one IPv6 subnet at most"),
                    Err(_) => bail!("--subnet {s:?}: expected a CIDR like 10.89.0.0/24 or fd00:89::/64"),
                }
            }
            for g in gateway {
                match g.parse::<std::net::IpAddr>() {
                    Ok(std::net::IpAddr::V4(a)) if spec.subnet.is_some() => spec.gateway = Some(a),
                    Ok(std::net::IpAddr::V6(a)) if spec.subnet6.is_some() => spec.gateway6 = Some(a),
                    Ok(_) => bail!("--gateway {g} needs a --subnet of its family"),
                    Err(_) => bail!("--gateway {g:?}: not an IP address"),
                }
            }
            spec.ip_range = ip_range
                .as_deref()
                .map(|s| {
                    s.parse().with_context(|| format!("--ip-range {s:?}: expected an IPv4 CIDR like 10.89.0.0/25"))
                })
                .transpose()?;
            spec.labels = label
                .iter()
                .map(|l| l.split_once('=').map_or((l.clone(), String::new()), |(k, v)| (k.into(), v.into())))
                .collect();
            let network = nets.create(name, &spec)?;
            network_event(engine, "create", &network.id, &[("name", &network.name), ("type", "bridge")]);
            println!("{}", network.id);
        }
        NetworkCommand::Ls { quiet, format: fmt } => {
            let mut rows: Vec<(String, Val)> = nets
                .list()?
                .iter()
                .map(|n| {
                    let row = network_row(
                        &n.id,
                        &n.name,
                        "bridge",
                        n.pool6.is_some(),
                        n.internal,
                        &n.labels,
                        Some(&n.created),
                    );
                    (n.name.clone(), row)
                })
                .collect();
            rows.extend(PREDEFINED.iter().map(|p| {
                (p.name.to_owned(), network_row(p.id, p.name, p.driver, false, false, &BTreeMap::new(), None))
            }));
            // Docker lists networks by name.
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            let rows: Vec<Val> = rows.into_iter().map(|(_, r)| r).collect();
            if *quiet {
                crate::formatter::print("{{.ID}}", &NETWORKS_LISTING, &rows)?;
            } else {
                crate::formatter::print(fmt, &NETWORKS_LISTING, &rows)?;
            }
        }
        NetworkCommand::Inspect { format, names } => {
            let mut out = Vec::new();
            for name in names {
                match engine.find_predefined(name) {
                    Some(p) => out.push(predefined_json(engine, p)),
                    None => {
                        let (n, endpoints) = nets.inspect(name)?;
                        out.push(network_json(&n, &endpoints));
                    }
                }
            }
            match format {
                Some(t) => {
                    let typed: Vec<_> = out.into_iter().map(|v| (v, crate::formatter::NETWORK_SCHEMA)).collect();
                    crate::formatter::inspect_each(t, &typed)?
                }
                None => println!("{}", serde_json::to_string_pretty(&out)?),
            }
        }
        NetworkCommand::Rm { names } => {
            let mut status = 0;
            for name in names {
                if let Some(p) = engine.find_predefined(name) {
                    eprintln!("Error response from daemon: {} is a pre-defined network and cannot be removed", p.name);
                    status = 1;
                    continue;
                }
                let known = nets.inspect(name).ok().map(|(n, _)| n);
                match nets.remove(name) {
                    Ok(()) => {
                        if let Some(n) = known {
                            network_event(engine, "destroy", &n.id, &[("name", &n.name), ("type", "bridge")]);
                        }
                        println!("{name}")
                    }
                    Err(e) => {
                        eprintln!("Error: {e}");
                        status = 1;
                    }
                }
            }
            return Ok(status);
        }
        NetworkCommand::Prune { .. } => {
            println!("Deleted Networks:");
            let before = nets.list()?;
            for name in nets.prune()? {
                if let Some(n) = before.iter().find(|n| n.name == name) {
                    network_event(engine, "destroy", &n.id, &[("name", &n.name), ("type", "bridge")]);
                }
                println!("{name}");
            }
        }
        NetworkCommand::Connect { ip, ip6, alias, network, container } => {
            let ip = ip
                .as_deref()
                .map(|i| i.parse().with_context(|| format!("--ip {i:?}: not an IPv4 address")))
                .transpose()?;
            let ip6 = ip6
                .as_deref()
                .map(|i| i.parse().with_context(|| format!("--ip6 {i:?}: not an IPv6 address")))
                .transpose()?;
            engine.connect_network(&ConnectRequest {
                network: network.clone(),
                container: container.clone(),
                ip,
                ip6,
                aliases: alias.clone(),
            })?;
        }
        NetworkCommand::Disconnect { network, container } => engine.disconnect_network(network, container)?,
    }
    Ok(0)
}

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`: every published port as
/// `80/tcp -> 0.0.0.0:8080`, or the host addresses of one (`0.0.0.0:8080`), as Docker's.
/// A port that is not published (or a container that is not running, which publishes
/// nothing) is an error naming it.
pub fn port(engine: &Engine, container: &str, private_port: Option<&str>) -> Result<u8> {
    let id = engine.records().resolve(container)?;
    let record = engine.reconcile(engine.records().read(&id)?);
    let wanted = match private_port {
        Some(text) => {
            let (number, proto) = text.split_once('/').unwrap_or((text, "tcp"));
            let number: u16 = number.parse().map_err(|_| anyhow::anyhow!("invalid port ({number})"))?;
            Some((number, proto.to_ascii_lowercase()))
        }
        None => None,
    };
    let mut ports = Vec::new();
    if matches!(record.state.status, Status::Running | Status::Paused) {
        for e in engine.networks().endpoints_of(&id)? {
            ports.extend(e.ports);
        }
    }
    ports.sort_by_key(|p| (p.container_port, p.protocol, p.host_ip, p.host_port));
    let host = |p: &PortMapping| SocketAddrV4::new(p.host_ip, p.host_port).to_string();
    let lines: Vec<String> = match &wanted {
        None => ports.iter().map(|p| format!("{}/{} -> {}", p.container_port, p.protocol, host(p))).collect(),
        Some((number, proto)) => {
            let lines: Vec<String> = ports
                .iter()
                .filter(|p| p.container_port == *number && p.protocol.as_str() == proto)
                .map(host)
                .collect();
            if lines.is_empty() {
                bail!("No public port '{}' published for {container}", private_port.unwrap_or_default());
            }
            lines
        }
    };
    for line in lines {
        println!("{line}");
    }
    Ok(0)
}

/// The PORTS column of `ps`.
pub fn ports_column(engine: &Engine, id: &str) -> String {
    engine
        .networks()
        .endpoints_of(id)
        .unwrap_or_default()
        .iter()
        .flat_map(|e| {
            e.ports.iter().map(|p| format!("{}:{}->{}/{}", p.host_ip, p.host_port, p.container_port, p.protocol))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
