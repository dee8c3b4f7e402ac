//! What the server says to one question: the names of the asking container's networks
//! (container names, `--network-alias`es, host names, 12-char ids) answered from the
//! store's records, everything else handed to the forwarder. Pure: no socket here.
//!
//! A question is answered only for a container: its source address must be an
//! endpoint's on the network whose listener it reached. It then sees the names of
//! every user network it is on, and no other (isolation).

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::model::{Endpoint, Network};
use crate::store::DEFAULT_NETWORK;

/// The largest UDP answer without EDNS (RFC 1035).
const PLAIN_UDP: usize = 512;
/// The largest UDP answer we send with EDNS (the DNS flag day's 1232).
const EDNS_UDP: u16 = 1232;

/// The record data of one moment: the user networks, their endpoints, and the host's
/// resolvers (for containers without `--dns`).
#[derive(Debug, Default)]
pub struct Directory {
    networks: Vec<Network>,
    endpoints: Vec<Endpoint>,
    host_resolvers: Vec<IpAddr>,
    /// Turns the order of answers with several addresses (round robin).
    turn: AtomicUsize,
}

/// What to do with a packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send these bytes back.
    Answer(Vec<u8>),
    /// Ask these servers (port 53), in turn; send back what the first one says, or, if
    /// none does, the `fail` bytes (SERVFAIL).
    Forward {
        /// The upstream servers.
        upstreams: Vec<SocketAddr>,
        /// SERVFAIL for the question.
        fail: Vec<u8>,
    },
    /// Say nothing (not a question, or not parseable).
    Ignore,
}

/// Whether a network is served: every one but the default `bridge` (as Docker's) and
/// those made with `--disable-dns` (as Podman's).
pub fn serves(network: &Network) -> bool {
    network.name != DEFAULT_NETWORK && !network.dns_disabled
}

impl Directory {
    /// The directory over `networks` and `endpoints`; names not ours go to
    /// `host_resolvers` unless a container has `--dns` servers of its own.
    pub fn new(networks: Vec<Network>, endpoints: Vec<Endpoint>, host_resolvers: Vec<IpAddr>) -> Directory {
        let networks: Vec<Network> = networks.into_iter().filter(serves).collect();
        let endpoints = endpoints.into_iter().filter(|e| networks.iter().any(|n| n.name == e.network)).collect();
        Directory { networks, endpoints, host_resolvers, turn: AtomicUsize::new(0) }
    }

    /// The served networks.
    pub fn networks(&self) -> &[Network] {
        &self.networks
    }

    /// Whether any container is on a served network.
    pub fn in_use(&self) -> bool {
        !self.endpoints.is_empty()
    }

    /// Decides what to say to `packet`, which came from `source` to the listener of
    /// network `network`; `udp` limits the answer's size.
    pub fn decide(&self, network: &str, source: IpAddr, packet: &[u8], udp: bool) -> Decision {
        let Ok(query) = Message::from_vec(packet) else {
            return Decision::Ignore;
        };
        if query.message_type() != MessageType::Query {
            return Decision::Ignore; // never answer an answer (no loops, no reflection)
        }
        if query.op_code() != OpCode::Query {
            return Decision::Answer(reply(&query, ResponseCode::NotImp, Vec::new(), udp));
        }
        let [question] = query.queries() else {
            return Decision::Answer(reply(&query, ResponseCode::FormErr, Vec::new(), udp));
        };
        let Some(asker) = self.endpoints.iter().find(|e| e.network == network && holds(e, source)) else {
            return Decision::Answer(reply(&query, ResponseCode::Refused, Vec::new(), udp));
        };
        // The networks the asker is on, the one asked through first.
        let mut visible: Vec<&str> = vec![network];
        for e in self.endpoints.iter().filter(|e| e.container == asker.container && e.network != network) {
            visible.push(&e.network);
        }
        let name = question.name();
        let kind = question.query_type();
        if let Some(records) = self.local(&visible, name, kind) {
            return Decision::Answer(reply(&query, ResponseCode::NoError, records, udp));
        }
        let internal = self.networks.iter().any(|n| n.name == network && n.internal);
        let upstreams: Vec<SocketAddr> = if asker.upstream.is_empty() { &self.host_resolvers } else { &asker.upstream }
            .iter()
            .filter(|a| !self.is_listener(**a))
            .map(|a| SocketAddr::new(*a, 53))
            .collect();
        if internal || upstreams.is_empty() {
            let code = if internal { ResponseCode::NXDomain } else { ResponseCode::ServFail };
            return Decision::Answer(reply(&query, code, Vec::new(), udp));
        }
        Decision::Forward { upstreams, fail: reply(&query, ResponseCode::ServFail, Vec::new(), udp) }
    }

    /// A gateway of ours (forwarding there would loop).
    fn is_listener(&self, address: IpAddr) -> bool {
        self.networks.iter().any(|n| n.gateway_addresses().iter().any(|g| g.addr() == address))
    }

    /// The answer records for a name on `visible` networks, or `None` if the name is
    /// not ours.
    fn local(&self, visible: &[&str], name: &Name, kind: RecordType) -> Option<Vec<Record>> {
        if kind == RecordType::PTR
            && let Ok(net) = name.parse_arpa_name()
        {
            let address = net.addr();
            let full = net.prefix_len() == if address.is_ipv4() { 32 } else { 128 };
            let owner =
                self.endpoints.iter().find(|e| full && visible.contains(&e.network.as_str()) && holds(e, address));
            return owner.map(|e| {
                let target = Name::from_ascii(format!("{}.", e.name)).unwrap_or_else(|_| Name::root());
                vec![Record::from_rdata(name.clone(), 0, RData::PTR(PTR(target)))]
            });
        }
        let wanted = name.to_ascii().trim_end_matches('.').to_ascii_lowercase();
        if wanted.is_empty() || wanted.contains('.') && !wanted.chars().any(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        // The first visible network that has the name answers (the one asked through first).
        let holders: Vec<&Endpoint> = visible
            .iter()
            .map(|net| {
                self.endpoints
                    .iter()
                    .filter(|e| e.network == *net && answers_to(e, &wanted))
                    .collect::<Vec<&Endpoint>>()
            })
            .find(|found| !found.is_empty())?;
        let mut data: Vec<RData> = match kind {
            RecordType::A => {
                holders.iter().map(|e| e.ip).collect::<BTreeSet<_>>().into_iter().map(|ip| RData::A(A(ip))).collect()
            }
            RecordType::AAAA => holders
                .iter()
                .filter_map(|e| e.ip6)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|ip| RData::AAAA(AAAA(ip)))
                .collect(),
            _ => Vec::new(), // the name is ours, it has no such record: NODATA
        };
        if data.len() > 1 {
            let turn = self.turn.fetch_add(1, Ordering::Relaxed) % data.len();
            data.rotate_left(turn);
        }
        Some(data.into_iter().map(|d| Record::from_rdata(name.clone(), 0, d)).collect())
    }
}

/// Whether `address` is endpoint `e`'s.
fn holds(e: &Endpoint, address: IpAddr) -> bool {
    match address {
        IpAddr::V4(a) => e.ip == a,
        IpAddr::V6(a) => e.ip6 == Some(a) || a.to_ipv4_mapped() == Some(e.ip),
    }
}

/// Whether endpoint `e` goes by `name` (lowercase, no trailing dot): its container's
/// name, host name, an alias (the 12-char id is one), or any of those followed by the
/// network's name (`db.mynet`, as Docker answers too).
fn answers_to(e: &Endpoint, name: &str) -> bool {
    let bare = name.strip_suffix(&format!(".{}", e.network.to_ascii_lowercase())).unwrap_or(name);
    [name, bare].iter().any(|n| {
        e.name.eq_ignore_ascii_case(n)
            || e.hostname.eq_ignore_ascii_case(n)
            || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(n))
    })
}

/// An answer to `query` with `code` and `answers`, EDNS if the question had it, cut to
/// what UDP carries (the truncation bit tells the client to ask over TCP).
fn reply(query: &Message, code: ResponseCode, answers: Vec<Record>, udp: bool) -> Vec<u8> {
    let mut m = Message::new();
    m.set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true)
        .set_authoritative(code == ResponseCode::NoError && !answers.is_empty())
        .set_response_code(code);
    m.add_queries(query.queries().iter().cloned());
    let limit = match query.extensions() {
        Some(edns) => {
            let mut ours = Edns::new();
            ours.set_max_payload(EDNS_UDP);
            m.set_edns(ours);
            usize::from(edns.max_payload().clamp(PLAIN_UDP as u16, EDNS_UDP))
        }
        None => PLAIN_UDP,
    };
    m.add_answers(answers);
    let bytes = m.to_vec().unwrap_or_default();
    if udp && bytes.len() > limit {
        m.take_answers();
        m.set_truncated(true);
        return m.to_vec().unwrap_or_default();
    }
    bytes
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::str::FromStr;

    use hickory_proto::op::Query;

    use super::*;
    use crate::firewall::tests::{endpoint, network};

    fn ep(network: &str, container: &str, ip: [u8; 4], aliases: &[&str]) -> Endpoint {
        let mut e = endpoint(network, Ipv4Addr::from(ip), None, Vec::new());
        e.container = container.repeat(64 / container.len());
        e.name = container.into();
        e.hostname = format!("{container}-host");
        e.aliases = aliases.iter().map(|a| (*a).to_owned()).collect();
        e
    }

    fn directory() -> Directory {
        let mut with6 = ep("a", "db", [10, 0, 0, 2], &["store"]);
        with6.ip6 = Some(Ipv6Addr::from_str("fd00::2").unwrap());
        Directory::new(
            vec![
                network("a", "ld-a", "10.0.0.0/24", false),
                network("b", "ld-b", "10.0.1.0/24", true),
                network("bridge", "ld0", "10.0.2.0/24", false),
            ],
            vec![
                with6,
                ep("a", "db2", [10, 0, 0, 3], &["store"]),
                ep("a", "web", [10, 0, 0, 4], &[]),
                ep("b", "web", [10, 0, 1, 4], &[]),
                ep("b", "lone", [10, 0, 1, 5], &[]),
                ep("bridge", "old", [10, 0, 2, 2], &[]),
            ],
            vec![IpAddr::from([192, 0, 2, 53])],
        )
    }

    fn ask(d: &Directory, network: &str, from: [u8; 4], name: &str, kind: RecordType) -> Decision {
        let mut q = Message::new();
        q.set_id(7).set_message_type(MessageType::Query).set_recursion_desired(true);
        q.add_query(Query::query(Name::from_str(name).unwrap(), kind));
        d.decide(network, IpAddr::from(from), &q.to_vec().unwrap(), true)
    }

    fn answers(d: Decision) -> (ResponseCode, Vec<String>) {
        let Decision::Answer(bytes) = d else { panic!("{d:?}") };
        let m = Message::from_vec(&bytes).unwrap();
        (m.response_code(), m.answers().iter().map(|r| r.data().to_string()).collect())
    }

    #[test]
    fn names_aliases_and_round_robin() {
        let d = directory();
        assert_eq!(answers(ask(&d, "a", [10, 0, 0, 4], "db.", RecordType::A)).1, ["10.0.0.2"]);
        assert_eq!(answers(ask(&d, "a", [10, 0, 0, 4], "DB-host.", RecordType::A)).1, ["10.0.0.2"]);
        assert_eq!(answers(ask(&d, "a", [10, 0, 0, 4], "db.a.", RecordType::A)).1, ["10.0.0.2"]);
        assert_eq!(answers(ask(&d, "a", [10, 0, 0, 4], "db.", RecordType::AAAA)).1, ["fd00::2"]);
        assert_eq!(answers(ask(&d, "a", [10, 0, 0, 4], "db.", RecordType::MX)), (ResponseCode::NoError, vec![]));
        let first = answers(ask(&d, "a", [10, 0, 0, 4], "store.", RecordType::A)).1;
        let second = answers(ask(&d, "a", [10, 0, 0, 4], "store.", RecordType::A)).1;
        assert_eq!(first.len(), 2);
        assert_ne!(first, second);
        assert_eq!(answers(ask(&d, "a", [10, 0, 0, 4], "2.0.0.10.in-addr.arpa.", RecordType::PTR)).1, ["db."]);
    }

    #[test]
    fn isolation_forwarding_and_strangers() {
        let d = directory();
        // A container on both networks sees both; one on b only does not see a.
        assert_eq!(answers(ask(&d, "a", [10, 0, 0, 4], "lone.", RecordType::A)).1, ["10.0.1.5"]);
        assert!(matches!(ask(&d, "b", [10, 0, 1, 5], "db.", RecordType::A), Decision::Answer(_)));
        assert_eq!(answers(ask(&d, "b", [10, 0, 1, 5], "db.", RecordType::A)).0, ResponseCode::NXDomain);
        // Asked through network a's listener from an address not on a: refused.
        assert_eq!(answers(ask(&d, "a", [10, 0, 1, 5], "db.", RecordType::A)).0, ResponseCode::Refused);
        // The default bridge is not served.
        assert_eq!(answers(ask(&d, "bridge", [10, 0, 2, 2], "db.", RecordType::A)).0, ResponseCode::Refused);
        // Other names go upstream, not from an internal network.
        let Decision::Forward { upstreams, .. } = ask(&d, "a", [10, 0, 0, 2], "example.com.", RecordType::A) else {
            panic!()
        };
        assert_eq!(upstreams, [SocketAddr::from(([192, 0, 2, 53], 53))]);
        assert!(matches!(
            ask(&d, "a", [10, 0, 0, 2], "9.9.9.9.in-addr.arpa.", RecordType::PTR),
            Decision::Forward { .. }
        ));
        // Garbage and answers get nothing.
        assert_eq!(d.decide("a", IpAddr::from([10, 0, 0, 2]), b"\x00\x01garbage", true), Decision::Ignore);
    }
}
