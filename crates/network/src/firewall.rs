//! The nftables side: one table of our own per data root (`inet lindocker` for the
//! default root), rebuilt whole from the networks and endpoints on every change, in one
//! transaction, so no rule can outlive what it was for.
//!
//! - postrouting: masquerade for traffic leaving a (non-internal) network's subnet, for
//!   host-local traffic sent to a published port (127.0.0.1), and for hairpin traffic
//!   (a container reaching another through a published port);
//! - forward: isolation between networks, and no way in or out of an internal one;
//! - input: a bridge has `route_localnet=1` (for ports published on 127.0.0.1), so
//!   whatever comes from a bridge to 127.0.0.0/8 and was not DNATed by a published port
//!   is dropped: a container must not reach the host's loopback services
//!   (CVE-2020-8558; kube-proxy's KUBE-FIREWALL rule);
//! - prerouting and output: published ports as DNAT to the container's address; a port
//!   published on a loopback address only in output (the host's own traffic), as Docker
//!   drops traffic from elsewhere to it.
//!
//! An IPv6 network gets the same rules for its IPv6 subnet, and its containers' ports
//! are published on the host's IPv6 addresses too, but for ::1: IPv6 has no
//! `route_localnet`, a packet from ::1 cannot be routed to a container; the port's
//! userland proxy ([`crate::proxy`]) takes those.
//!
//! The ruleset is built as nft's JSON schema (the `nftables` crate) from typed values:
//! addresses, port numbers, a [`Protocol`], interface names checked here. No text of
//! anyone's reaches nft's parser as syntax.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use nftables::batch::Batch;
use nftables::expr::{
    BinaryOperation, CT, Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression, Payload, PayloadField,
    Prefix,
};
use nftables::schema::{Chain, NfListObject, Nftables, Rule, Table};
use nftables::stmt::{Match, NAT, NATFamily, Operator, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use crate::NetworkError;
use crate::model::{Endpoint, Network};
use crate::ports::Protocol;

/// The default data root's table.
pub const TABLE: &str = "lindocker";

fn name_of_ours(name: &str, max: usize) -> bool {
    name.len() <= max
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether `name` is an interface name we could have made: at most 15 ASCII letters,
/// digits, `-`, `_` or `.`, starting with a letter or digit.
pub fn valid_name(name: &str) -> bool {
    name_of_ours(name, 15)
}

/// Whether `name` is a table name we could have made (as [`valid_name`], up to 32).
pub fn valid_table(name: &str) -> bool {
    name_of_ours(name, 32)
}

/// The port a rule of a table's `output` chain (as `nft -j list` shows it) publishes:
/// its protocol, host port and host address (none: every address).
pub fn published_port(expr: &serde_json::Value) -> Option<crate::PortMapping> {
    let statements = expr.as_array()?;
    let (mut protocol, mut host_port, mut host_ip, mut container_port) =
        (None, None, IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    for st in statements {
        if let Some(m) = st.get("match") {
            let field = &m["left"]["payload"];
            match (field["protocol"].as_str(), field["field"].as_str()) {
                (Some("tcp"), Some("dport")) => protocol = Some(Protocol::Tcp),
                (Some("udp"), Some("dport")) => protocol = Some(Protocol::Udp),
                (Some("ip"), Some("daddr")) => host_ip = IpAddr::V4(m["right"].as_str()?.parse().ok()?),
                _ => continue,
            }
            if field["field"] == "dport" {
                host_port = u16::try_from(m["right"].as_u64()?).ok();
            }
        } else if let Some(nat) = st.get("dnat") {
            container_port = nat["port"].as_u64().and_then(|p| u16::try_from(p).ok()).unwrap_or(0);
        }
    }
    Some(crate::PortMapping { host_ip, host_port: host_port?, container_port, protocol: protocol? })
}

fn s(text: &str) -> Expression<'static> {
    Expression::String(Cow::Owned(text.to_owned()))
}

fn payload(protocol: &'static str, field: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(PayloadField {
        protocol: Cow::Borrowed(protocol),
        field: Cow::Borrowed(field),
    })))
}

fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn ct(key: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::CT(CT { key: Cow::Borrowed(key), family: None, dir: None }))
}

fn prefix(net: IpNet) -> Expression<'static> {
    let net = net.trunc();
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(s(&net.addr().to_string())),
        len: u32::from(net.prefix_len()),
    }))
}

fn is(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match { left, right, op: Operator::EQ })
}

fn is_not(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match { left, right, op: Operator::NEQ })
}

/// `ct status dnat`: the connection had its destination rewritten by one of our rules.
fn dnatted() -> Statement<'static> {
    Statement::Match(Match { left: ct("status"), right: s("dnat"), op: Operator::IN })
}

/// `ct status & dnat == 0`.
fn not_dnatted() -> Statement<'static> {
    is(Expression::BinaryOperation(Box::new(BinaryOperation::AND(ct("status"), s("dnat")))), Expression::Number(0))
}

fn saddr(net: IpNet) -> Statement<'static> {
    match net {
        IpNet::V4(_) => is(payload("ip", "saddr"), prefix(net)),
        IpNet::V6(_) => is(payload("ip6", "saddr"), prefix(net)),
    }
}

fn daddr(net: IpNet) -> Statement<'static> {
    match net {
        IpNet::V4(_) => is(payload("ip", "daddr"), prefix(net)),
        IpNet::V6(_) => is(payload("ip6", "daddr"), prefix(net)),
    }
}

fn masquerade() -> Statement<'static> {
    Statement::Masquerade(None)
}

fn drop() -> Statement<'static> {
    Statement::Drop(None)
}

fn dnat(family: NATFamily, to: IpAddr, port: u16) -> Statement<'static> {
    Statement::DNAT(Some(NAT {
        addr: Some(s(&to.to_string())),
        family: Some(family),
        port: Some(Expression::Number(u32::from(port))),
        flags: None,
    }))
}

/// `meta nfproto ipv4|ipv6`.
fn nfproto(v4: bool) -> Statement<'static> {
    is(meta(MetaKey::Nfproto), s(if v4 { "ipv4" } else { "ipv6" }))
}

/// `fib daddr type local`: addressed to this host, on any of its addresses.
fn to_this_host() -> Statement<'static> {
    let mut flags = HashSet::new();
    flags.insert(FibFlag::Daddr);
    is(Expression::Named(NamedExpression::Fib(Fib { result: FibResult::Type, flags })), s("local"))
}

/// `tcp|udp dport PORT`.
fn dport(protocol: Protocol, port: u16) -> Statement<'static> {
    let protocol = match protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    };
    is(payload(protocol, "dport"), Expression::Number(u32::from(port)))
}

/// One rule: its statements.
type RuleBody = Vec<Statement<'static>>;

/// The rules of our table, chain by chain.
#[derive(Debug, Default)]
struct Chains {
    forward: Vec<RuleBody>,
    input: Vec<RuleBody>,
    prerouting: Vec<RuleBody>,
    output: Vec<RuleBody>,
    postrouting: Vec<RuleBody>,
}

fn rules(networks: &[Network], endpoints: &[Endpoint]) -> Result<Chains, NetworkError> {
    let mut c = Chains::default();
    for n in networks {
        if !valid_name(&n.bridge) {
            return Err(NetworkError::Firewall(format!("network {}: bad bridge name {:?}", n.name, n.bridge)));
        }
    }
    let iif = |br: &str| is(meta(MetaKey::Iifname), s(br));
    let oif = |br: &str| is(meta(MetaKey::Oifname), s(br));
    let not_iif = |br: &str| is_not(meta(MetaKey::Iifname), s(br));
    let not_oif = |br: &str| is_not(meta(MetaKey::Oifname), s(br));
    let loopback = IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8).expect("valid"));
    for n in networks {
        let br = n.bridge.as_str();
        let subnet = IpNet::V4(n.pool.subnet);
        if n.internal {
            c.forward.push(vec![iif(br), not_oif(br), drop()]);
            c.forward.push(vec![oif(br), not_iif(br), drop()]);
        } else {
            c.postrouting.push(vec![saddr(subnet), not_oif(br), masquerade()]);
        }
        c.input.push(vec![iif(br), daddr(loopback), not_dnatted(), drop()]);
        c.postrouting.push(vec![saddr(loopback), oif(br), masquerade()]);
        c.postrouting.push(vec![dnatted(), saddr(subnet), daddr(subnet), masquerade()]);
        if let Some(p6) = &n.pool6 {
            let subnet6 = IpNet::V6(p6.subnet);
            if !n.internal {
                c.postrouting.push(vec![saddr(subnet6), not_oif(br), masquerade()]);
            }
            c.postrouting.push(vec![dnatted(), saddr(subnet6), daddr(subnet6), masquerade()]);
        }
        for other in networks.iter().filter(|o| o.bridge != n.bridge) {
            c.forward.push(vec![iif(br), oif(&other.bridge), drop()]);
        }
    }
    for e in endpoints {
        for p in &e.ports {
            // IPv4: every address (the default) or the one given; a loopback one only in
            // output, as Docker drops traffic from elsewhere to it.
            let v4_target = match p.host_ip {
                IpAddr::V4(ip) if ip.is_unspecified() => Some(to_this_host()),
                IpAddr::V4(ip) => Some(is(payload("ip", "daddr"), s(&ip.to_string()))),
                IpAddr::V6(_) => None,
            };
            if let Some(target) = v4_target {
                let rule = vec![
                    nfproto(true),
                    target,
                    dport(p.protocol, p.host_port),
                    dnat(NATFamily::IP, e.ip.into(), p.container_port),
                ];
                if !p.host_ip.is_loopback() {
                    c.prerouting.push(rule.clone());
                }
                c.output.push(rule);
            }
            // IPv6, every address of the host (`0.0.0.0` or `::`) to a container that has
            // one, but ::1, which the proxy takes. A single IPv6 address is the proxy's.
            if let (Some(ip6), true) = (e.ip6, p.host_ip.is_unspecified()) {
                let rule = vec![
                    nfproto(false),
                    to_this_host(),
                    is_not(payload("ip6", "daddr"), s("::1")),
                    dport(p.protocol, p.host_port),
                    dnat(NATFamily::IP6, ip6.into(), p.container_port),
                ];
                c.prerouting.push(rule.clone());
                c.output.push(rule);
            }
        }
    }
    Ok(c)
}

/// The commands that replace table `table` with the rules for `networks` and
/// `endpoints` (none left: the table is removed).
pub fn render(table: &str, networks: &[Network], endpoints: &[Endpoint]) -> Result<Nftables<'static>, NetworkError> {
    if !valid_table(table) {
        return Err(NetworkError::Firewall(format!("bad table name {table:?}")));
    }
    let table_object =
        || NfListObject::Table(Table { family: NfFamily::INet, name: Cow::Owned(table.to_owned()), handle: None });
    let mut batch = Batch::new();
    // Adding the table first makes the delete valid whether or not it existed.
    batch.add(table_object());
    batch.delete(table_object());
    if networks.is_empty() {
        return Ok(batch.to_nftables());
    }
    batch.add(table_object());
    let c = rules(networks, endpoints)?;
    let chains: [(&str, NfChainType, NfHook, i32, Vec<RuleBody>); 5] = [
        ("forward", NfChainType::Filter, NfHook::Forward, 0, c.forward),
        ("input", NfChainType::Filter, NfHook::Input, 0, c.input),
        ("prerouting", NfChainType::NAT, NfHook::Prerouting, -100, c.prerouting),
        ("output", NfChainType::NAT, NfHook::Output, -100, c.output),
        ("postrouting", NfChainType::NAT, NfHook::Postrouting, 100, c.postrouting),
    ];
    for (name, kind, hook, prio, rules) in chains {
        batch.add(NfListObject::Chain(Chain {
            family: NfFamily::INet,
            table: Cow::Owned(table.to_owned()),
            name: Cow::Borrowed(name),
            _type: Some(kind),
            hook: Some(hook),
            prio: Some(prio),
            policy: Some(NfChainPolicy::Accept),
            ..Chain::default()
        }));
        for expr in rules {
            batch.add(NfListObject::Rule(Rule {
                family: NfFamily::INet,
                table: Cow::Owned(table.to_owned()),
                chain: Cow::Borrowed(name),
                expr: Cow::Owned(expr),
                ..Rule::default()
            }));
        }
    }
    Ok(batch.to_nftables())
}

/// Replaces table `table` with the rules for `networks` and `endpoints`; with no
/// network left, removes it. One `nft -j -f -` transaction.
pub fn apply(table: &str, networks: &[Network], endpoints: &[Endpoint]) -> Result<(), NetworkError> {
    let ruleset = render(table, networks, endpoints)?;
    nftables::helper::apply_ruleset(&ruleset).map_err(|e| match e {
        nftables::helper::NftablesError::NftExecution { inner, .. } => {
            NetworkError::Firewall(format!("cannot run nft ({inner}); install nftables"))
        }
        nftables::helper::NftablesError::NftFailed { stderr, .. } => NetworkError::Firewall(stderr.trim().to_owned()),
        other => NetworkError::Firewall(other.to_string()),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;
    use std::net::Ipv6Addr;

    use serde_json::Value;

    use super::*;
    use crate::ipam::Pool;
    use crate::model::PortMapping;

    pub(crate) fn network(name: &str, bridge: &str, subnet: &str, internal: bool) -> Network {
        Network {
            name: name.into(),
            id: "0".repeat(64),
            bridge: bridge.into(),
            pool: Pool::new(subnet.parse().unwrap(), None, None).unwrap(),
            pool6: None,
            internal,
            dns_disabled: false,
            labels: BTreeMap::new(),
            created: "0".into(),
        }
    }

    pub(crate) fn endpoint(network: &str, ip: Ipv4Addr, ip6: Option<Ipv6Addr>, ports: Vec<PortMapping>) -> Endpoint {
        Endpoint {
            container: "a".repeat(64),
            name: "c".into(),
            hostname: "c".into(),
            aliases: Vec::new(),
            network: network.into(),
            ip,
            ip6,
            host_veth: "ldaaaaaaaa000".into(),
            ports,
            hosts_file: "/nonexistent".into(),
            extra_hosts: Vec::new(),
            upstream: Vec::new(),
        }
    }

    fn json(r: &Nftables) -> Value {
        serde_json::to_value(r).unwrap()
    }

    /// The rules of `chain`, each as its list of statements.
    fn chain(r: &Value, chain: &str) -> Vec<Value> {
        r["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["add"]["rule"].as_object())
            .filter(|rule| rule["chain"] == chain)
            .map(|rule| rule["expr"].clone())
            .collect()
    }

    /// Every string in `v` (object keys excepted: they are the schema's).
    pub(crate) fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Value::Object(o) => o.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }

    /// What a string in our ruleset may be: a keyword of the schema's, a name we gave, an
    /// address.
    pub(crate) fn allowed(s: &str, names: &[&str]) -> bool {
        const WORDS: &[&str] = &[
            "inet",
            "filter",
            "nat",
            "accept",
            "forward",
            "input",
            "prerouting",
            "output",
            "postrouting",
            "ip",
            "ip6",
            "tcp",
            "udp",
            "saddr",
            "daddr",
            "dport",
            "iifname",
            "oifname",
            "nfproto",
            "ipv4",
            "ipv6",
            "status",
            "dnat",
            "local",
            "type",
            "==",
            "!=",
            "in",
        ];
        WORDS.contains(&s) || names.contains(&s) || s.parse::<IpAddr>().is_ok()
    }

    #[test]
    fn nothing_left_removes_the_table() {
        let r = json(&render("lindocker", &[], &[]).unwrap());
        assert_eq!(
            r,
            serde_json::json!({"nftables": [
                {"add": {"table": {"family": "inet", "name": "lindocker"}}},
                {"delete": {"table": {"family": "inet", "name": "lindocker"}}},
            ]})
        );
    }

    #[test]
    fn a_network_with_a_published_port() {
        let n = network("bridge", "lindocker0", "172.17.0.0/16", false);
        let ports = vec![
            PortMapping {
                host_ip: Ipv4Addr::UNSPECIFIED.into(),
                host_port: 8080,
                container_port: 80,
                protocol: Protocol::Tcp,
            },
            PortMapping {
                host_ip: Ipv4Addr::LOCALHOST.into(),
                host_port: 5353,
                container_port: 53,
                protocol: Protocol::Udp,
            },
            // The proxy's alone.
            PortMapping {
                host_ip: "::1".parse().unwrap(),
                host_port: 8081,
                container_port: 80,
                protocol: Protocol::Tcp,
            },
        ];
        let e = endpoint("bridge", Ipv4Addr::new(172, 17, 0, 2), None, ports);
        let r = json(&render("lindocker", &[n], &[e]).unwrap());
        // The loopback guard.
        let input = chain(&r, "input");
        assert_eq!(input.len(), 1);
        let text = input[0].to_string();
        assert!(
            text.contains(r#"{"prefix":{"addr":"127.0.0.0","len":8}}"#) && text.contains(r#""drop":null"#),
            "{text}"
        );
        assert!(text.contains(r#"{"&":[{"ct":{"key":"status"}},"dnat"]}"#), "{text}");
        // 8080 in prerouting and output; 5353 on 127.0.0.1 in output only.
        let pre = chain(&r, "prerouting");
        let out = chain(&r, "output");
        assert_eq!((pre.len(), out.len()), (1, 2));
        let text = pre[0].to_string();
        assert!(text.contains(r#"{"payload":{"field":"dport","protocol":"tcp"}}"#) || text.contains(r#""dport""#));
        assert!(text.contains(r#""addr":"172.17.0.2""#) && text.contains(r#""port":80"#), "{text}");
        let text = out[1].to_string();
        assert!(text.contains(r#""right":"127.0.0.1""#) && text.contains(r#""protocol":"udp""#), "{text}");
        assert!(text.contains(r#""port":53"#), "{text}");
        // Masquerade: out of the subnet, from loopback, hairpin.
        assert_eq!(chain(&r, "postrouting").len(), 3);
        assert!(chain(&r, "forward").is_empty());
    }

    #[test]
    fn ipv6_ports_leave_loopback_to_the_proxy() {
        let n = network("six", "ld-666666666666", "10.6.0.0/24", false);
        let p = |ip: &str, port| PortMapping {
            host_ip: ip.parse().unwrap(),
            host_port: port,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        let e = endpoint(
            "six",
            Ipv4Addr::new(10, 6, 0, 2),
            Some("fd00::2".parse().unwrap()),
            vec![p("0.0.0.0", 1), p("::", 2), p("::1", 3)],
        );
        let r = json(&render("lindocker", &[n], &[e]).unwrap());
        let out: Vec<String> = chain(&r, "output").iter().map(Value::to_string).collect();
        // 1: IPv4 and IPv6; 2: IPv6; 3: the proxy's alone.
        assert_eq!(out.len(), 3, "{out:#?}");
        assert!(out[0].contains(r#""ipv4""#) && out[1].contains(r#""ipv6""#) && out[2].contains(r#""ipv6""#));
        for rule in &out[1..] {
            assert!(
                rule.contains(
                    r#"{"match":{"left":{"payload":{"field":"daddr","protocol":"ip6"}},"op":"!=","right":"::1"}}"#
                ),
                "{rule}"
            );
        }
        assert!(!out.iter().any(|r| r.contains(r#""right":3"#)));
    }

    #[test]
    fn isolation_and_internal_networks() {
        let a = network("a", "ld-aaaaaaaaaaaa", "10.1.0.0/24", true);
        let b = network("b", "ld-bbbbbbbbbbbb", "10.2.0.0/24", false);
        let r = json(&render("lindocker-1234abcd", &[a, b], &[]).unwrap());
        // Internal a: 2 rules; isolation: a->b and b->a.
        assert_eq!(chain(&r, "forward").len(), 4);
        assert_eq!(chain(&r, "input").len(), 2);
        // Only b masquerades out of its subnet.
        assert_eq!(chain(&r, "postrouting").len(), 5);
    }

    #[test]
    fn ports_read_back_from_nft_listings() {
        // Two rules of an `output` chain as `nft -j list` shows them.
        let rule: Value = serde_json::from_str(
            r#"[{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "127.0.0.1"}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 5353}},
                {"dnat": {"family": "ip", "addr": "172.18.0.2", "port": 53}}]"#,
        )
        .unwrap();
        assert_eq!(
            published_port(&rule),
            Some(PortMapping {
                host_ip: Ipv4Addr::LOCALHOST.into(),
                host_port: 5353,
                container_port: 53,
                protocol: Protocol::Udp
            })
        );
        let rule: Value = serde_json::from_str(
            r#"[{"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}},
                {"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}},
                {"dnat": {"family": "ip", "addr": "172.18.0.2", "port": 80}}]"#,
        )
        .unwrap();
        assert_eq!(
            published_port(&rule),
            Some(PortMapping {
                host_ip: Ipv4Addr::UNSPECIFIED.into(),
                host_port: 8080,
                container_port: 80,
                protocol: Protocol::Tcp
            })
        );
        // What we render reads back the same.
        let n = network("bridge", "lindocker0", "172.17.0.0/16", false);
        let p = PortMapping {
            host_ip: Ipv4Addr::UNSPECIFIED.into(),
            host_port: 8443,
            container_port: 443,
            protocol: Protocol::Tcp,
        };
        let e = endpoint("bridge", Ipv4Addr::new(172, 17, 0, 2), None, vec![p.clone()]);
        let r = json(&render("lindocker", &[n], &[e]).unwrap());
        assert_eq!(published_port(&chain(&r, "output")[0]), Some(p));
        assert_eq!(published_port(&serde_json::json!([{"masquerade": null}])), None);
    }

    #[test]
    fn names_that_are_not_ours_are_refused() {
        for bad in ["", "x y", "@set", "a\"b", "}", "abcdefghijklmnop", "-lead"] {
            let n = network("n", bad, "10.1.0.0/24", false);
            assert!(render("lindocker", &[n], &[]).is_err(), "bridge {bad:?}");
            if bad.len() <= 15 {
                assert!(render(bad, &[], &[]).is_err(), "table {bad:?}");
            }
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::tests::{allowed, endpoint, network, strings};
    use super::*;
    use crate::model::PortMapping;
    use crate::ports;

    proptest! {
        /// Whatever `-p` values and image `ExposedPorts` keys a hostile user or image
        /// gives, what reaches nft holds nothing but keywords, our names, addresses and
        /// numbers.
        #[test]
        fn rulesets_hold_only_typed_values(
            specs in proptest::collection::vec("\\PC{0,24}|[0-9.:]{1,20}(/(tcp|udp|sctp|[a-z\\n} ]{0,8}))?", 0..6),
            keys in proptest::collection::vec("\\PC{0,24}|[0-9]{1,5}(/[a-z\\n{} ]{0,12})?", 0..6),
            octet in 0u8..=255,
            prefix_len in 16u8..=28,
        ) {
            let mut mapped = Vec::new();
            for spec in &specs {
                if let Ok(p) = ports::parse(spec) {
                    mapped.push(PortMapping { host_ip: p.host_ip, host_port: p.host_port.max(1), container_port: p.container_port, protocol: p.protocol });
                }
            }
            for key in &keys {
                match ports::parse_exposed(key) {
                    Ok(Some((port, protocol))) => mapped.push(PortMapping { host_ip: Ipv4Addr::UNSPECIFIED.into(), host_port: 40000, container_port: port, protocol }),
                    Ok(None) => {}
                    Err(e) => prop_assert!(e.to_string().contains("ExposedPorts")),
                }
            }
            let subnet = format!("10.{octet}.0.0/{prefix_len}");
            let n = network("net", "ld-0123456789ab", &subnet, false);
            let ip = Ipv4Addr::new(10, octet, 0, 2);
            let e = endpoint("net", ip, Some("fd00::2".parse().unwrap()), mapped);
            let r = serde_json::to_value(render("lindocker", &[n], &[e]).unwrap()).unwrap();
            let mut all = Vec::new();
            strings(&r, &mut all);
            for s in all {
                prop_assert!(allowed(&s, &["lindocker", "ld-0123456789ab"]), "{:?} in the ruleset", s);
            }
        }
    }
}
