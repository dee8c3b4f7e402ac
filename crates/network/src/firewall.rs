//! The nftables side: one table of our own (`inet lindocker`), rebuilt whole from the
//! networks and endpoints on every change, in one `nft -f` transaction, so no rule can
//! outlive what it was for.
//!
//! - postrouting: masquerade for traffic leaving a (non-internal) network's subnet, for
//!   host-local traffic sent to a published port (127.0.0.1), and for hairpin traffic
//!   (a container reaching another through a published port);
//! - forward: isolation between networks, and no way in or out of an internal one;
//! - prerouting and output: published ports as DNAT to the container's address.
//!
//! An IPv6 network gets the same rules for its IPv6 subnet, and its containers' ports
//! are published on the host's IPv6 addresses too (not on ::1: IPv6 has no
//! `route_localnet`, a packet from ::1 cannot be routed to a container).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::NetworkError;
use crate::store::{Endpoint, Network};

/// The table's name.
pub const TABLE: &str = "lindocker";

/// The ruleset for `networks` and `endpoints`, as nft's own syntax. Every value in it is
/// one we produced (addresses, port numbers, bridge names of our own making).
pub fn render(networks: &[Network], endpoints: &[Endpoint]) -> String {
    let mut forward = Vec::new();
    let mut postrouting = Vec::new();
    let mut dnat = Vec::new();
    for n in networks {
        let (br, subnet) = (&n.bridge, n.pool.subnet);
        if n.internal {
            forward.push(format!("iifname \"{br}\" oifname != \"{br}\" drop"));
            forward.push(format!("oifname \"{br}\" iifname != \"{br}\" drop"));
        } else {
            postrouting.push(format!("ip saddr {subnet} oifname != \"{br}\" masquerade"));
        }
        postrouting.push(format!("ip saddr 127.0.0.0/8 oifname \"{br}\" masquerade"));
        postrouting.push(format!("ct status dnat ip saddr {subnet} ip daddr {subnet} masquerade"));
        if let Some(p6) = &n.pool6 {
            let subnet6 = p6.subnet;
            if !n.internal {
                postrouting.push(format!("ip6 saddr {subnet6} oifname != \"{br}\" masquerade"));
            }
            postrouting.push(format!("ct status dnat ip6 saddr {subnet6} ip6 daddr {subnet6} masquerade"));
        }
        for other in networks.iter().filter(|o| o.bridge != n.bridge) {
            forward.push(format!("iifname \"{br}\" oifname \"{}\" drop", other.bridge));
        }
    }
    for e in endpoints {
        for p in &e.ports {
            let target = if p.host_ip.is_unspecified() {
                "fib daddr type local".to_owned()
            } else {
                format!("ip daddr {}", p.host_ip)
            };
            dnat.push(format!(
                "meta nfproto ipv4 {target} {} dport {} dnat ip to {}:{}",
                p.protocol, p.host_port, e.ip, p.container_port
            ));
            if let (Some(ip6), true) = (e.ip6, p.host_ip.is_unspecified()) {
                dnat.push(format!(
                    "meta nfproto ipv6 fib daddr type local {} dport {} dnat ip6 to [{ip6}]:{}",
                    p.protocol, p.host_port, p.container_port
                ));
            }
        }
    }
    let chain = |name: &str, head: &str, rules: &[String]| {
        let mut s = format!("  chain {name} {{\n    {head}\n");
        for r in rules {
            s.push_str(&format!("    {r}\n"));
        }
        s.push_str("  }\n");
        s
    };
    let mut out = format!("table inet {TABLE} {{\n");
    out.push_str(&chain("forward", "type filter hook forward priority filter; policy accept;", &forward));
    out.push_str(&chain("prerouting", "type nat hook prerouting priority dstnat; policy accept;", &dnat));
    out.push_str(&chain("output", "type nat hook output priority -100; policy accept;", &dnat));
    out.push_str(&chain("postrouting", "type nat hook postrouting priority srcnat; policy accept;", &postrouting));
    out.push_str("}\n");
    out
}

fn nft(script: &str) -> Result<(), NetworkError> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NetworkError::Firewall(format!("cannot run nft ({e}); install nftables")))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(script.as_bytes())
        .map_err(|e| NetworkError::Firewall(e.to_string()))?;
    let out = child.wait_with_output().map_err(|e| NetworkError::Firewall(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NetworkError::Firewall(String::from_utf8_lossy(&out.stderr).trim().to_owned()))
    }
}

/// Replaces our table with the rules for `networks` and `endpoints`; with no network
/// left, removes it.
pub fn apply(networks: &[Network], endpoints: &[Endpoint]) -> Result<(), NetworkError> {
    // Declaring the table first makes the delete valid whether or not it existed.
    let mut script = format!("table inet {TABLE}\ndelete table inet {TABLE}\n");
    if !networks.is_empty() {
        script.push_str(&render(networks, endpoints));
    }
    nft(&script)
}
