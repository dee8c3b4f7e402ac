//! DNS rebinding: a web page whose name an attacker points at 127.0.0.1 reaches a
//! loopback TCP service as its own origin, so the browser sends it any request (JSON
//! bodies included, with no preflight). What gives such a request away is its `Host`
//! header, the attacker's name. A client of a loopback address names the address itself
//! or `localhost`; any other name is refused there.

use hyper::header::{HeaderMap, HeaderValue};

/// Whether a request comes from a web browser: it sends `Origin` with every cross-site
/// request that can change something (and `Origin: null` from sandboxed frames), and
/// `Sec-Fetch-*` with every request; no API client sends either. A page need not rebind
/// a name to reach `http://127.0.0.1:2375`: it can POST there directly (no preflight
/// without a body), with a `Host` of the address. Refused on every TCP listener.
pub fn from_a_browser(headers: &HeaderMap) -> bool {
    headers.contains_key(hyper::header::ORIGIN) || headers.keys().any(|name| name.as_str().starts_with("sec-fetch-"))
}

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

    #[test]
    fn browsers_are_told_by_origin_or_sec_fetch() {
        let with = |name: &'static str, value: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static(value));
            h
        };
        assert!(from_a_browser(&with("origin", "null")));
        assert!(from_a_browser(&with("origin", "http://attacker.example")));
        assert!(from_a_browser(&with("sec-fetch-mode", "no-cors")));
        assert!(from_a_browser(&with("Sec-Fetch-Site", "cross-site")));
        assert!(!from_a_browser(&with("user-agent", "Docker-Client/27.0.0")));
        assert!(!from_a_browser(&HeaderMap::new()));
    }
}
