//! `lindocker network create/ls/inspect/rm/prune/connect/disconnect` and `port`.

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
        /// Subnet in CIDR form (default: a free private range).
        #[arg(long)]
        subnet: Option<String>,
        /// Gateway (default: the subnet's first address).
        #[arg(long)]
        gateway: Option<String>,
        /// Allocate container addresses from this sub-range.
        #[arg(long)]
        ip_range: Option<String>,
        /// No way out of the network.
        #[arg(long)]
        internal: bool,
        /// Labels: K=V.
        #[arg(long)]
        label: Vec<String>,
        /// IPv6 is not supported yet; refused.
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
        .map(|e| (e.container.clone(), json!({ "Name": e.name, "IPv4Address": format!("{}/{}", e.ip, n.pool.subnet.prefix_len()), "Aliases": e.aliases })))
        .collect();
    json!({
        "Name": n.name, "Id": n.id, "Driver": "bridge", "Scope": "local", "Internal": n.internal,
        "IPAM": { "Driver": "default", "Config": [{ "Subnet": n.pool.subnet.to_string(), "Gateway": n.pool.gateway.to_string(), "IPRange": n.pool.range.to_string() }] },
        "Options": { "com.docker.network.bridge.name": n.bridge },
        "Labels": n.labels, "Containers": containers,
    })
}

/// Runs a network command.
pub fn run(engine: &Engine, command: &NetworkCommand) -> Result<u8> {
    let nets = &engine.networks;
    match command {
        NetworkCommand::Create { driver, subnet, gateway, ip_range, internal, label, ipv6, name } => {
            if driver != "bridge" {
                bail!("--driver {driver}: only bridge networks exist");
            }
            if *ipv6 {
                bail!("--ipv6: IPv6 networks are not supported yet");
            }
            let parse_net = |v: &Option<String>, what: &str| -> Result<Option<ipnet::Ipv4Net>> {
                v.as_deref()
                    .map(|s| {
                        s.parse().with_context(|| format!("{what} {s:?}: expected an IPv4 CIDR like 10.89.0.0/24"))
                    })
                    .transpose()
            };
            let gateway = gateway
                .as_deref()
                .map(|g| g.parse().with_context(|| format!("--gateway {g:?}: not an IPv4 address")))
                .transpose()?;
            if gateway.is_some() && subnet.is_none() {
                bail!("--gateway needs --subnet");
            }
            let labels = label
                .iter()
                .map(|l| l.split_once('=').map_or((l.clone(), String::new()), |(k, v)| (k.into(), v.into())))
                .collect();
            let network = nets.create(
                name,
                parse_net(subnet, "--subnet")?,
                gateway,
                parse_net(ip_range, "--ip-range")?,
                *internal,
                labels,
            )?;
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
                match nets.remove(name) {
                    Ok(()) => println!("{name}"),
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
            for name in nets.prune()? {
                println!("{name}");
            }
        }
        NetworkCommand::Connect { ip, alias, network, container } => {
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
            let attachment = Attachment { network: n.name.clone(), ip, aliases: alias.clone(), mac: None };
            if record.state.status == Status::Running || record.state.status == Status::Paused {
                nets.connect(&id, &attachment, &engine.netns_path(&id))?;
            } else if let Some(ip) = ip
                && !n.pool.subnet.contains(&ip)
            {
                bail!("invalid address {ip}: not in {}", n.pool.subnet);
            }
            engine.records.update(&id, |r| r.network.attachments.push(attachment))?;
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
            let gateway =
                engine.networks.inspect(&e.network).map(|(n, _)| n.pool.gateway.to_string()).unwrap_or_default();
            (e.network.clone(), json!({ "IPAddress": e.ip.to_string(), "Gateway": gateway, "Aliases": e.aliases }))
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
