//! Address management for one network and one address family: the gateway, allocations,
//! and the order in which released addresses come back (only after every other free one,
//! so a stale peer does not reach a new container at an old container's address).

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::NetworkError;

/// An address family a [`Pool`] hands out: addresses as numbers, subnets as
/// (first address, prefix length).
pub trait Family: Copy + Ord + fmt::Display + fmt::Debug + Serialize + DeserializeOwned {
    /// The family's subnet type.
    type Net: Copy + PartialEq + fmt::Display + fmt::Debug + Serialize + DeserializeOwned;
    /// The longest prefix a network may have (room for a gateway and containers).
    const MAX_PREFIX: u8;
    /// Bits in an address.
    const BITS: u8;
    /// Whether the last address of a subnet is its broadcast address (IPv4).
    const BROADCAST: bool;
    /// The address as a number.
    fn number(self) -> u128;
    /// The address of a number.
    fn from_number(n: u128) -> Self;
    /// A subnet's first address and prefix length.
    fn parts(net: &Self::Net) -> (Self, u8);
    /// The subnet of `addr` with `prefix` bits (host bits cleared).
    fn net(addr: Self, prefix: u8) -> Self::Net;
}

impl Family for Ipv4Addr {
    type Net = Ipv4Net;
    const MAX_PREFIX: u8 = 30;
    const BITS: u8 = 32;
    const BROADCAST: bool = true;
    fn number(self) -> u128 {
        u32::from(self).into()
    }
    fn from_number(n: u128) -> Self {
        Ipv4Addr::from(n as u32)
    }
    fn parts(net: &Ipv4Net) -> (Self, u8) {
        (net.network(), net.prefix_len())
    }
    fn net(addr: Self, prefix: u8) -> Ipv4Net {
        Ipv4Net::new(addr, prefix).expect("prefix checked").trunc()
    }
}

impl Family for Ipv6Addr {
    type Net = Ipv6Net;
    const MAX_PREFIX: u8 = 126;
    const BITS: u8 = 128;
    const BROADCAST: bool = false;
    fn number(self) -> u128 {
        u128::from(self)
    }
    fn from_number(n: u128) -> Self {
        Ipv6Addr::from(n)
    }
    fn parts(net: &Ipv6Net) -> (Self, u8) {
        (net.network(), net.prefix_len())
    }
    fn net(addr: Self, prefix: u8) -> Ipv6Net {
        Ipv6Net::new(addr, prefix).expect("prefix checked").trunc()
    }
}

/// The first address of `net` and how many it holds (saturating for huge IPv6 nets).
fn span<A: Family>(net: &A::Net) -> (u128, u128) {
    let (first, prefix) = A::parts(net);
    let host_bits = u32::from(A::BITS - prefix);
    (first.number(), if host_bits >= 128 { u128::MAX } else { 1u128 << host_bits })
}

/// Whether `ip` is inside `net`.
pub fn contains<A: Family>(net: &A::Net, ip: A) -> bool {
    let (first, size) = span::<A>(net);
    ip.number().wrapping_sub(first) < size
}

/// The pool of one network in one family.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(bound(serialize = "", deserialize = ""))]
pub struct Pool<A: Family> {
    /// The subnet.
    pub subnet: A::Net,
    /// The bridge's address.
    pub gateway: A,
    /// Where addresses are handed out (default: the subnet).
    pub range: A::Net,
    /// Address -> container id.
    pub allocated: BTreeMap<A, String>,
    /// The last address handed out: the search for a free one starts after it.
    pub last: Option<A>,
}

impl<A: Family> Pool<A> {
    /// A pool over `subnet` with `gateway` (default: the first address) and `range`.
    pub fn new(subnet: A::Net, gateway: Option<A>, range: Option<A::Net>) -> Result<Pool<A>, NetworkError> {
        let (first, prefix) = A::parts(&subnet);
        let subnet = A::net(first, prefix);
        if prefix > A::MAX_PREFIX {
            let limit = format!("too small: at most /{}", A::MAX_PREFIX);
            return Err(NetworkError::invalid("--subnet", &subnet.to_string(), &limit));
        }
        let gateway = gateway.unwrap_or_else(|| A::from_number(first.number() + 1));
        let pool = Pool { subnet, gateway, range: subnet, allocated: BTreeMap::new(), last: None };
        if !contains::<A>(&subnet, gateway) || gateway == first || pool.is_broadcast(gateway) {
            return Err(NetworkError::BadAddress {
                address: gateway.to_string(),
                reason: format!("the gateway is not a host address of {subnet}"),
            });
        }
        let range = match range {
            Some(r) => {
                let (r_first, r_prefix) = A::parts(&r);
                let r = A::net(r_first, r_prefix);
                if !contains::<A>(&subnet, r_first) || r_prefix < prefix {
                    return Err(NetworkError::invalid("--ip-range", &r.to_string(), &format!("not inside {subnet}")));
                }
                r
            }
            None => subnet,
        };
        Ok(Pool { range, ..pool })
    }

    fn is_broadcast(&self, ip: A) -> bool {
        let (first, size) = span::<A>(&self.subnet);
        A::BROADCAST && ip.number() == first + size - 1
    }

    fn usable(&self, ip: A) -> bool {
        contains::<A>(&self.range, ip) && ip != A::parts(&self.subnet).0 && !self.is_broadcast(ip) && ip != self.gateway
    }

    /// Gives `owner` an address: `wanted` if given and free, else the next free one.
    pub fn allocate(&mut self, owner: &str, wanted: Option<A>, network: &str) -> Result<A, NetworkError> {
        if let Some(ip) = wanted {
            if !contains::<A>(&self.subnet, ip) || !self.usable(ip) {
                return Err(NetworkError::BadAddress {
                    address: ip.to_string(),
                    reason: format!("not an assignable address of {}", self.range),
                });
            }
            if self.allocated.contains_key(&ip) {
                return Err(NetworkError::BadAddress { address: ip.to_string(), reason: "already in use".into() });
            }
            self.allocated.insert(ip, owner.to_owned());
            return Ok(ip);
        }
        let (first, size) = span::<A>(&self.range);
        let start = self.last.map(|l| l.number().wrapping_sub(first).wrapping_add(1) % size).unwrap_or(0);
        // A full IPv6 /64 is out of reach; a search as long as the allocations plus the
        // few reserved addresses always finds a free one.
        let tries = size.min(self.allocated.len() as u128 + 4);
        for step in 0..tries {
            let ip = A::from_number(first.wrapping_add((start + step) % size));
            if self.usable(ip) && !self.allocated.contains_key(&ip) {
                self.allocated.insert(ip, owner.to_owned());
                self.last = Some(ip);
                return Ok(ip);
            }
        }
        Err(NetworkError::Full(network.to_owned()))
    }

    /// Gives back whatever `owner` holds.
    pub fn release(&mut self, owner: &str) {
        self.allocated.retain(|_, o| o != owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_order_reuse_and_exhaustion() {
        let mut pool = Pool::<Ipv4Addr>::new("10.9.0.0/29".parse().unwrap(), None, None).unwrap();
        assert_eq!(pool.gateway, Ipv4Addr::new(10, 9, 0, 1));
        let a = pool.allocate("a", None, "n").unwrap();
        let b = pool.allocate("b", None, "n").unwrap();
        assert_eq!((a, b), (Ipv4Addr::new(10, 9, 0, 2), Ipv4Addr::new(10, 9, 0, 3)));
        pool.release("a");
        // .2 is free again, but .4 .. .6 come first.
        let next: Vec<Ipv4Addr> = (0..4).map(|i| pool.allocate(&format!("c{i}"), None, "n").unwrap()).collect();
        assert_eq!(
            next,
            vec![
                Ipv4Addr::new(10, 9, 0, 4),
                Ipv4Addr::new(10, 9, 0, 5),
                Ipv4Addr::new(10, 9, 0, 6),
                Ipv4Addr::new(10, 9, 0, 2)
            ]
        );
        assert!(matches!(pool.allocate("full", None, "n"), Err(NetworkError::Full(_))));
        assert!(pool.allocate("x", Some(Ipv4Addr::new(10, 9, 1, 1)), "n").is_err());
        assert!(Pool::<Ipv4Addr>::new("10.9.0.0/24".parse().unwrap(), Some(Ipv4Addr::new(10, 8, 0, 1)), None).is_err());
    }

    #[test]
    fn ipv6_pools_hand_out_in_order_without_a_broadcast() {
        let mut pool = Pool::<Ipv6Addr>::new("fd00:89::/64".parse().unwrap(), None, None).unwrap();
        assert_eq!(pool.gateway, "fd00:89::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(pool.allocate("a", None, "n").unwrap(), "fd00:89::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(pool.allocate("b", None, "n").unwrap(), "fd00:89::3".parse::<Ipv6Addr>().unwrap());
        let wanted = "fd00:89::ffff:ffff:ffff:ffff".parse().unwrap();
        assert_eq!(pool.allocate("c", Some(wanted), "n").unwrap(), wanted, "no broadcast in IPv6");
        assert!(pool.allocate("d", Some("fd00:90::5".parse().unwrap()), "n").is_err());
        let mut tiny = Pool::<Ipv6Addr>::new("fd00:1::/126".parse().unwrap(), None, None).unwrap();
        for owner in ["a", "b"] {
            tiny.allocate(owner, None, "t").unwrap();
        }
        assert!(matches!(tiny.allocate("c", None, "t"), Err(NetworkError::Full(_))));
        assert!(Pool::<Ipv6Addr>::new("fd00:1::/127".parse().unwrap(), None, None).is_err());
    }
}
