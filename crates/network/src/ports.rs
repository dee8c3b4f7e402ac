//! `-p [HOSTIP:][HOSTPORT:]CTRPORT[/tcp|/udp]` and `-P`.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::NetworkError;

/// A port published to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    /// Host address to listen on (`0.0.0.0`: every address).
    pub host_ip: Ipv4Addr,
    /// Host port; 0 picks a free one at start.
    pub host_port: u16,
    /// The container's port.
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// Parses one `-p` value.
pub fn parse(spec: &str) -> Result<PortSpec, NetworkError> {
    let bad = |why: &str| NetworkError::invalid("-p", spec, why);
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((rest, proto)) if proto == "tcp" || proto == "udp" => (rest, proto.to_owned()),
        Some(_) => return Err(bad("the protocol is tcp or udp")),
        None => (spec, "tcp".to_owned()),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let port = |p: &str| p.parse::<u16>().ok().filter(|n| *n > 0).ok_or_else(|| bad("a port is 1-65535"));
    let (host_ip, host_port, container_port) = match parts.as_slice() {
        [c] => (Ipv4Addr::UNSPECIFIED, 0, port(c)?),
        [h, c] => (Ipv4Addr::UNSPECIFIED, port(h)?, port(c)?),
        [ip, h, c] => (
            ip.parse().map_err(|_| bad("the host address must be an IPv4 address"))?,
            if h.is_empty() { 0 } else { port(h)? },
            port(c)?,
        ),
        _ => return Err(bad("expected [HOSTIP:][HOSTPORT:]CONTAINERPORT[/PROTO]")),
    };
    Ok(PortSpec { host_ip, host_port, container_port, protocol })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("80").unwrap().host_port, 0);
        let p = parse("127.0.0.1:8080:80/udp").unwrap();
        assert_eq!(
            (p.host_ip, p.host_port, p.container_port, p.protocol.as_str()),
            (Ipv4Addr::LOCALHOST, 8080, 80, "udp")
        );
        assert_eq!(parse("8080:80").unwrap().host_port, 8080);
        for bad in ["", "x", "80/sctp", "1:2:3:4", "0", "70000", "a.b:1:2"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
