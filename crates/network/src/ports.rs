//! Published ports, typed where they enter: `-p [HOSTIP:][HOSTPORT:]CTRPORT[/tcp|/udp]`,
//! `-P` (the keys of an image's `ExposedPorts`, written by the image's author), so that
//! only a protocol of [`Protocol`], addresses and port numbers ever reach a rule. An IPv6
//! host address is written in brackets, as Docker's: `-p [::1]:8080:80`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use crate::NetworkError;

/// A transport protocol lindocker publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// Its name as nft and Docker write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A port published to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    /// Host address to listen on (`0.0.0.0`: every address, IPv4 and IPv6, as Docker's
    /// default; `::`: every IPv6 address).
    pub host_ip: IpAddr,
    /// Host port; 0 picks a free one at start.
    pub host_port: u16,
    /// The container's port.
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: Protocol,
}

/// A port number 1-65535 in decimal digits only (`u16::from_str` would take `+80`).
fn port_number(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|n| *n > 0)
}

/// Parses one `-p` value.
pub fn parse(spec: &str) -> Result<PortSpec, NetworkError> {
    let bad = |why: &str| NetworkError::invalid("-p", spec, why);
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((rest, "tcp")) => (rest, Protocol::Tcp),
        Some((rest, "udp")) => (rest, Protocol::Udp),
        Some(_) => return Err(bad("the protocol is tcp or udp")),
        None => (spec, Protocol::Tcp),
    };
    // `[V6]:HOSTPORT:CTRPORT`: the address is what is in brackets.
    let (bracketed, rest) = match rest.strip_prefix('[') {
        Some(r) => {
            let (ip, after) = r.split_once(']').ok_or_else(|| bad("an IPv6 address is closed by ]"))?;
            let ip: std::net::Ipv6Addr = ip.parse().map_err(|_| bad("[...] holds an IPv6 address"))?;
            let after = after.strip_prefix(':').ok_or_else(|| bad("expected [IPV6]:HOSTPORT:CONTAINERPORT"))?;
            (Some(IpAddr::V6(ip)), after)
        }
        None => (None, rest),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let port = |p: &str| port_number(p).ok_or_else(|| bad("a port is 1-65535"));
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let (host_ip, host_port, container_port) = match (bracketed, parts.as_slice()) {
        (None, [c]) => (any, 0, port(c)?),
        (None, [h, c]) => (any, port(h)?, port(c)?),
        (Some(ip), [h, c]) => (ip, if h.is_empty() { 0 } else { port(h)? }, port(c)?),
        (None, [ip, h, c]) => (
            IpAddr::V4(ip.parse().map_err(|_| bad("the host address is IPv4, or IPv6 in brackets"))?),
            if h.is_empty() { 0 } else { port(h)? },
            port(c)?,
        ),
        _ => return Err(bad("expected [HOSTIP:][HOSTPORT:]CONTAINERPORT[/PROTO]")),
    };
    Ok(PortSpec { host_ip, host_port, container_port, protocol })
}

/// Parses one key of an image's `ExposedPorts` (`PORT[/tcp|/udp|/sctp]`, as Docker
/// writes them). `None` for an SCTP port, which lindocker does not publish; an error
/// for anything else that is not a port and a protocol.
pub fn parse_exposed(key: &str) -> Result<Option<(u16, Protocol)>, NetworkError> {
    let bad = || NetworkError::invalid("ExposedPorts key of the image", key, "expected PORT[/tcp|/udp|/sctp]");
    let (number, protocol) = key.split_once('/').unwrap_or((key, "tcp"));
    let port = port_number(number).ok_or_else(bad)?;
    match protocol {
        "tcp" => Ok(Some((port, Protocol::Tcp))),
        "udp" => Ok(Some((port, Protocol::Udp))),
        "sctp" => Ok(None),
        _ => Err(bad()),
    }
}

/// Parses one `--expose` value (`PORT[/PROTO]` or a range `FIRST-LAST[/PROTO]`, the
/// protocol tcp, udp or sctp) into `ExposedPorts` keys (`8080/tcp`), at most 1024 of them.
pub fn parse_expose(value: &str) -> Result<Vec<String>, NetworkError> {
    let bad = |why: &str| NetworkError::invalid("--expose", value, why);
    let (ports, protocol) = value.split_once('/').unwrap_or((value, "tcp"));
    if !matches!(protocol, "tcp" | "udp" | "sctp") {
        return Err(bad("the protocol is tcp, udp or sctp"));
    }
    let port = |p: &str| port_number(p).ok_or_else(|| bad("a port is 1-65535"));
    let (first, last) = match ports.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(ports)?, port(ports)?),
    };
    if first > last || last - first >= 1024 {
        return Err(bad("a range is FIRST-LAST, at most 1024 ports"));
    }
    Ok((first..=last).map(|p| format!("{p}/{protocol}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expose_values() {
        assert_eq!(parse_expose("80").unwrap(), ["80/tcp"]);
        assert_eq!(parse_expose("53/udp").unwrap(), ["53/udp"]);
        assert_eq!(parse_expose("9000-9002/udp").unwrap(), ["9000/udp", "9001/udp", "9002/udp"]);
        for bad in ["http", "0", "70000", "9001-9000", "80/icmp", "1-2000", "+80"] {
            assert!(parse_expose(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forms() {
        assert_eq!(parse("80").unwrap().host_port, 0);
        let p = parse("127.0.0.1:8080:80/udp").unwrap();
        assert_eq!(
            (p.host_ip, p.host_port, p.container_port, p.protocol),
            (IpAddr::V4(Ipv4Addr::LOCALHOST), 8080, 80, Protocol::Udp)
        );
        assert_eq!(parse("[::1]:8080:80").unwrap().host_ip, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(parse("[::]::80/udp").unwrap().host_ip, "::".parse::<IpAddr>().unwrap());
        assert_eq!(parse("80").unwrap().host_ip, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(parse("8080:80").unwrap().host_port, 8080);
        assert_eq!(parse("127.0.0.1::80").unwrap().host_port, 0);
        for bad in [
            "",
            "x",
            "80/sctp",
            "1:2:3:4",
            "0",
            "70000",
            "a.b:1:2",
            "+80",
            "80/tcp dport 9 accept",
            "80/TCP",
            "::1:8080:80",
            "[::1]:80",
            "[::1:8080:80",
            "[1.2.3.4]:1:2",
            "[::1]x:1:2",
            "[::1]:1:2:3",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exposed_keys() {
        assert_eq!(parse_exposed("80/tcp").unwrap(), Some((80, Protocol::Tcp)));
        assert_eq!(parse_exposed("53/udp").unwrap(), Some((53, Protocol::Udp)));
        assert_eq!(parse_exposed("8080").unwrap(), Some((8080, Protocol::Tcp)));
        assert_eq!(parse_exposed("7/sctp").unwrap(), None);
        for bad in ["", "/tcp", "80/", "80/tcp dport 9 accept\n}\n}\ntable inet x {", "0/tcp", "65536/udp", "-1/tcp"] {
            let err = parse_exposed(bad).unwrap_err().to_string();
            assert!(err.contains("ExposedPorts"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn protocols_serialize_as_before() {
        // Records and networks.json written before the enum hold "tcp"/"udp".
        assert_eq!(serde_json::to_string(&Protocol::Udp).unwrap(), r#""udp""#);
        assert_eq!(serde_json::from_str::<Protocol>(r#""tcp""#).unwrap(), Protocol::Tcp);
        assert!(serde_json::from_str::<Protocol>(r#""tcp dport 1 accept""#).is_err());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any string: a clean error or a spec whose parts print back into a valid `-p`
        /// made of digits, dots, colons and a protocol name; never a panic.
        #[test]
        fn port_specs_are_typed_or_refused(spec in "\\PC{0,40}|[0-9.:/a-z ]{0,30}|\\[[0-9a-f:]{0,12}\\]:[0-9:]{0,12}") {
            if let Ok(p) = parse(&spec) {
                prop_assert!(p.container_port > 0);
                let host = std::net::SocketAddr::new(p.host_ip, p.host_port);
                let again = parse(&format!("{host}:{}/{}", p.container_port, p.protocol));
                if p.host_port != 0 {
                    prop_assert_eq!(again.unwrap(), p);
                }
            }
        }

        /// Any key: a clean error naming `ExposedPorts`, or a port and a protocol.
        #[test]
        fn exposed_keys_are_typed_or_refused(key in "\\PC{0,40}|[0-9]{1,6}/[a-z\\n{} ]{0,12}") {
            match parse_exposed(&key) {
                Ok(Some((port, _))) => prop_assert!(port > 0),
                Ok(None) => prop_assert!(key.ends_with("/sctp")),
                Err(e) => prop_assert!(e.to_string().contains("ExposedPorts")),
            }
        }
    }
}
