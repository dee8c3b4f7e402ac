//! DNS rebinding: a web page whose name an attacker points at 127.0.0.1 reaches a
//! loopback TCP service as its own origin, so the browser sends it any request (JSON
//! bodies included, with no preflight). What gives such a request away is its `Host`
//! header, the attacker's name. A client of a loopback address names the address itself
//! or `localhost`; any other name is refused there.

use hyper::header::HeaderValue;

/// Whether a request to a loopback TCP listener with this `Host` header is served.
/// A request without one (HTTP/1.0) is: a browser always sends it.
pub fn loopback_host_allowed(host: Option<&HeaderValue>) -> bool {
    let Some(host) = host else { return true };
    let Ok(host) = host.to_str() else { return false };
    let name = match host.strip_prefix('[') {
        // `[v6]` or `[v6]:port`.
        Some(rest) => match rest.split_once(']') {
            Some((addr, port)) if port.is_empty() || port.strip_prefix(':').is_some_and(valid_port) => {
                return addr.parse::<std::net::Ipv6Addr>().is_ok();
            }
            _ => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) if valid_port(port) => name,
            Some(_) => return false,
            None => host,
        },
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::Ipv4Addr>().is_ok()
}

fn valid_port(text: &str) -> bool {
    (1..=5).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(host: &str) -> bool {
        loopback_host_allowed(Some(&HeaderValue::from_str(host).unwrap()))
    }

    #[test]
    fn addresses_and_localhost_pass_names_do_not() {
        for ok in ["127.0.0.1", "127.0.0.1:2375", "localhost", "LocalHost:2375", "[::1]", "[::1]:2375", "10.0.0.1:1"] {
            assert!(allowed(ok), "{ok}");
        }
        for bad in [
            "attacker.example",
            "attacker.example:2375",
            "127.0.0.1.nip.io",
            "localhost.attacker.example",
            "localhost:",
            "localhost:abc",
            "127.0.0.1:2375:1",
            "[::1",
            "[::1]x",
            "[attacker.example]:1",
            "",
        ] {
            assert!(!allowed(bad), "{bad}");
        }
        assert!(loopback_host_allowed(None));
    }
}
