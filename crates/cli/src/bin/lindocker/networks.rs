//! `lindocker network create/ls/inspect/rm/prune/connect/disconnect` and `port`.

use lindocker_engine::events::{Event, EventType};
use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use lindocker_engine::Engine;
use lindocker_engine::record::Status;
use lindocker_network::{Attachment, Endpoint, Network};
use serde_json::{Value, json};

use crate::format;

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
        /// `table` or `json`.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Show networks in detail.
    Inspect {
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
        "Name": n.name, "Id": n.id, "Driver": "bridge", "Scope": "local", "Internal": n.internal,
        "EnableIPv6": n.pool6.is_some(),
        "IPAM": { "Driver": "default", "Config": config },
        "Options": { "com.docker.network.bridge.name": n.bridge },
        "Labels": n.labels, "Containers": containers,
    })
}

/// Journals a network event (the actor is the network's id).
fn network_event(engine: &Engine, action: &str, id: &str, attributes: &[(&str, &str)]) {
    engine.events.emit(Event::with(EventType::Network, action, id, attributes));
}

/// Runs a network command.
pub fn run(engine: &Engine, command: &NetworkCommand) -> Result<u8> {
    let nets = &engine.networks;
    match command {
        NetworkCommand::Create { driver, subnet, gateway, ip_range, internal, label, ipv6, name } => {
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
            let list = nets.list()?;
            if *quiet {
                list.iter().for_each(|n| println!("{}", &n.id[..12]));
            } else if fmt == "json" {
                for n in &list {
                    println!("{}", json!({ "ID": &n.id[..12], "Name": n.name, "Driver": "bridge", "Scope": "local" }));
                }
            } else {
                let mut rows = vec![["NETWORK ID", "NAME", "DRIVER", "SCOPE"].map(String::from).to_vec()];
                rows.extend(
                    list.iter().map(|n| vec![n.id[..12].to_owned(), n.name.clone(), "bridge".into(), "local".into()]),
                );
                format::table(&rows);
            }
        }
        NetworkCommand::Inspect { names } => {
            let mut out = Vec::new();
            for name in names {
                let (n, endpoints) = nets.inspect(name)?;
                out.push(network_json(&n, &endpoints));
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        NetworkCommand::Rm { names } => {
            let mut status = 0;
            for name in names {
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
            for a in alias {
                lindocker_engine::options::parse_alias("--alias", a)?;
            }
            let id = engine.records.resolve(container)?;
            let record = engine.reconcile(engine.records.read(&id)?);
            if record.network.mode != "bridge" {
                bail!("container {container} uses --network {}; it cannot join networks", record.network.mode);
            }
            let (n, _) = nets.inspect(network)?;
            let ip = ip
                .as_deref()
                .map(|i| i.parse().with_context(|| format!("--ip {i:?}: not an IPv4 address")))
                .transpose()?;
            if record.network.attachments.iter().any(|a| a.network == n.name) {
                bail!("container {container} is already connected to network {}", n.name);
            }
            let ip6 = ip6
                .as_deref()
                .map(|i| i.parse().with_context(|| format!("--ip6 {i:?}: not an IPv6 address")))
                .transpose()?;
            let attachment = Attachment { network: n.name.clone(), ip, ip6, aliases: alias.clone(), mac: None };
            if record.state.status == Status::Running || record.state.status == Status::Paused {
                nets.connect(&id, &attachment, &engine.netns_path(&id))?;
            } else if let Some(ip) = ip
                && !n.pool.subnet.contains(&ip)
            {
                bail!("invalid address {ip}: not in {}", n.pool.subnet);
            }
            engine.records.update(&id, |r| r.network.attachments.push(attachment))?;
            network_event(engine, "connect", &n.id, &[("container", &id), ("name", &n.name), ("type", "bridge")]);
        }
        NetworkCommand::Disconnect { network, container } => {
            let id = engine.records.resolve(container)?;
            let record = engine.reconcile(engine.records.read(&id)?);
            let (n, _) = nets.inspect(network)?;
            if !record.network.attachments.iter().any(|a| a.network == n.name) {
                bail!("container {container} is not connected to network {network}");
            }
            if record.state.status == Status::Running || record.state.status == Status::Paused {
                nets.disconnect(&id, &n.name)?;
            }
            engine.records.update(&id, |r| r.network.attachments.retain(|a| a.network != n.name))?;
            network_event(engine, "disconnect", &n.id, &[("container", &id), ("name", &n.name), ("type", "bridge")]);
        }
    }
    Ok(0)
}

/// `lindocker port CONTAINER`: its published ports.
pub fn port(engine: &Engine, container: &str) -> Result<u8> {
    let id = engine.records.resolve(container)?;
    let record = engine.reconcile(engine.records.read(&id)?);
    if record.state.status != Status::Running && record.state.status != Status::Paused {
        return Ok(0);
    }
    for e in engine.networks.endpoints_of(&id)? {
        for p in &e.ports {
            println!("{}/{} -> {}:{}", p.container_port, p.protocol, p.host_ip, p.host_port);
        }
    }
    Ok(0)
}

/// The PORTS column of `ps`.
pub fn ports_column(engine: &Engine, id: &str) -> String {
    engine
        .networks
        .endpoints_of(id)
        .unwrap_or_default()
        .iter()
        .flat_map(|e| {
            e.ports.iter().map(|p| format!("{}:{}->{}/{}", p.host_ip, p.host_port, p.container_port, p.protocol))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `NetworkSettings` for `inspect`.
pub fn settings(engine: &Engine, id: &str) -> Value {
    let endpoints = engine.networks.endpoints_of(id).unwrap_or_default();
    let networks: BTreeMap<String, Value> = endpoints
        .iter()
        .map(|e| {
            let network = engine.networks.inspect(&e.network).ok().map(|(n, _)| n);
            let gateway = network.as_ref().map(|n| n.pool.gateway.to_string()).unwrap_or_default();
            let gateway6 = network.and_then(|n| n.pool6).map(|p| p.gateway.to_string()).unwrap_or_default();
            let ip6 = e.ip6.map(|a| a.to_string()).unwrap_or_default();
            (
                e.network.clone(),
                json!({ "IPAddress": e.ip.to_string(), "Gateway": gateway, "GlobalIPv6Address": ip6, "IPv6Gateway": gateway6, "Aliases": e.aliases }),
            )
        })
        .collect();
    let mut ports = BTreeMap::new();
    for p in endpoints.iter().flat_map(|e| &e.ports) {
        ports.insert(
            format!("{}/{}", p.container_port, p.protocol),
            json!([{ "HostIp": p.host_ip.to_string(), "HostPort": p.host_port.to_string() }]),
        );
    }
    json!({
        "SandboxKey": engine.netns_path(id),
        "IPAddress": endpoints.first().map(|e| e.ip.to_string()).unwrap_or_default(),
        "Networks": networks,
        "Ports": ports,
    })
}
