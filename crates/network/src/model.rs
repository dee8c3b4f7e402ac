//! What a network and a container's place on it are: the records the store keeps and the
//! firewall turns into rules. Their own module, so that neither of those two needs the
//! other for its types.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::ipam::Pool;
use crate::ports::Protocol;

/// One bridge network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Network {
    /// Its name.
    pub name: String,
    /// 64 hex digits.
    pub id: String,
    /// The Linux bridge.
    pub bridge: String,
    /// IPv4 addresses.
    pub pool: Pool<Ipv4Addr>,
    /// IPv6 addresses (`--ipv6`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool6: Option<Pool<Ipv6Addr>>,
    /// No way out of the subnet.
    pub internal: bool,
    /// `--disable-dns` (Podman's flag): no DNS server for it; its containers keep the
    /// host's resolvers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dns_disabled: bool,
    /// `--label`s.
    pub labels: BTreeMap<String, String>,
    /// RFC 3339.
    pub created: String,
}

/// A published port as it was given out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Host address (0.0.0.0: all, IPv4 and IPv6; `::`: all IPv6).
    pub host_ip: IpAddr,
    /// Host port.
    pub host_port: u16,
    /// Container port.
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: Protocol,
}

impl PortMapping {
    /// The host addresses it answers on, as Docker lists them: `0.0.0.0` stands for the
    /// IPv6 side too (`[::]`, served by the port proxy) when the host has IPv6.
    pub fn host_addresses(&self) -> Vec<SocketAddr> {
        let mut out = vec![SocketAddr::new(self.host_ip, self.host_port)];
        if self.host_ip == IpAddr::V4(Ipv4Addr::UNSPECIFIED) && host_has_ipv6() {
            out.push(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), self.host_port));
        }
        out
    }
}

/// Whether this network namespace has IPv6 (not booted with `ipv6.disable=1`).
fn host_has_ipv6() -> bool {
    std::path::Path::new("/proc/net/if_inet6").exists()
}

/// A container on a network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    /// The container's id.
    pub container: String,
    /// Its name (others resolve it by this).
    pub name: String,
    /// Its host name.
    pub hostname: String,
    /// More names on this network.
    pub aliases: Vec<String>,
    /// The network.
    pub network: String,
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its IPv6 address, on an IPv6 network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    /// The host side of its veth pair.
    pub host_veth: String,
    /// Ports published to the host (on the first network only).
    pub ports: Vec<PortMapping>,
    /// The container's /etc/hosts on the host (its own names; peers are in DNS).
    pub hosts_file: PathBuf,
    /// `--add-host` lines.
    pub extra_hosts: Vec<String>,
    /// `--dns`: where the DNS server forwards this container's questions for names not
    /// on its networks (none: the host's resolvers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<std::net::IpAddr>,
}

impl Network {
    /// The bridge's addresses: the gateways with their subnets' prefixes.
    pub fn gateway_addresses(&self) -> Vec<IpNet> {
        let mut out = vec![IpNet::new(self.pool.gateway.into(), self.pool.subnet.prefix_len()).expect("valid prefix")];
        if let Some(p6) = &self.pool6 {
            out.push(IpNet::new(p6.gateway.into(), p6.subnet.prefix_len()).expect("valid prefix"));
        }
        out
    }

    /// Gives back every address container `id` holds on this network.
    pub fn release(&mut self, id: &str) {
        self.pool.release(id);
        if let Some(p6) = &mut self.pool6 {
            p6.release(id);
        }
    }
}
