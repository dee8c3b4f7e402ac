//! `lindocker network create/ls/inspect/rm/prune/connect/disconnect` and `port`.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use lindocker_engine::netconnect::ConnectRequest;
use lindocker_engine::network_info::{BRIDGE_NAME_OPTION, NetworkCreate, NetworkFilters};
use lindocker_engine::record::Status;
use lindocker_engine::{Engine, EngineError};

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
        /// No DNS server on this network: its containers keep the host's resolvers (as
        /// Podman's flag).
        #[arg(long)]
        disable_dns: bool,
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

/// Runs a network command.
pub fn run(engine: &Engine, command: &NetworkCommand) -> Result<u8> {
    match command {
        NetworkCommand::Create { driver, subnet, gateway, ip_range, internal, label, ipv6, disable_dns, name } => {
            let request = NetworkCreate {
                name: name.clone(),
                driver: driver.clone(),
                subnets: subnet.clone(),
                gateways: gateway.clone(),
                ip_range: ip_range.clone(),
                internal: *internal,
                ipv6: *ipv6,
                disable_dns: *disable_dns,
                labels: label
                    .iter()
                    .map(|l| l.split_once('=').map_or((l.clone(), String::new()), |(k, v)| (k.into(), v.into())))
                    .collect(),
            };
            let network = engine.network_create(&request)?;
            println!("{}", network.id);
        }
        NetworkCommand::Ls { quiet, format: fmt } => {
            let rows: Vec<Val> = engine
                .network_list(&NetworkFilters::default())?
                .iter()
                .map(|n| {
                    let created = (n.created != "0001-01-01T00:00:00Z").then_some(n.created.as_str());
                    network_row(&n.id, &n.name, &n.driver, n.enable_ipv6, n.internal, &n.labels, created)
                })
                .collect();
            if *quiet {
                crate::formatter::print("{{.ID}}", &NETWORKS_LISTING, &rows)?;
            } else {
                crate::formatter::print(fmt, &NETWORKS_LISTING, &rows)?;
            }
        }
        NetworkCommand::Inspect { format, names } => {
            let mut out = Vec::new();
            for name in names {
                let network = engine.network_inspect(name)?;
                let mut value = serde_json::to_value(&network)?;
                // lindocker's inspect names every bridge (the API shows Docker's options).
                if let Some(bridge) = &network.bridge {
                    value["Options"][BRIDGE_NAME_OPTION] = bridge.as_str().into();
                }
                // As Podman names it.
                if let Some(enabled) = network.dns_enabled {
                    value["Options"]["dns_enabled"] = enabled.to_string().into();
                }
                out.push(value);
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
                match engine.network_remove(name) {
                    Ok(()) => println!("{name}"),
                    Err(e @ EngineError::State(_)) => {
                        eprintln!("Error response from daemon: {e}");
                        status = 1;
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
            for name in engine.network_prune()? {
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
    let lines: Vec<String> = match &wanted {
        None => ports
            .iter()
            .flat_map(|p| {
                p.host_addresses().into_iter().map(move |a| format!("{}/{} -> {a}", p.container_port, p.protocol))
            })
            .collect(),
        Some((number, proto)) => {
            let lines: Vec<String> = ports
                .iter()
                .filter(|p| p.container_port == *number && p.protocol.as_str() == proto)
                .flat_map(|p| p.host_addresses().into_iter().map(|a| a.to_string()))
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
            e.ports.iter().flat_map(|p| {
                p.host_addresses().into_iter().map(|a| format!("{a}->{}/{}", p.container_port, p.protocol))
            })
        })
        .collect::<Vec<_>>()
        .join(", ")
}
