//! Address management for one network: the gateway, allocations, and the order in which
//! released addresses come back (only after every other free one, so a stale peer does
//! not reach a new container at an old container's address).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::NetworkError;

/// The pool of one network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pool {
    /// The subnet.
    pub subnet: Ipv4Net,
    /// The bridge's address.
    pub gateway: Ipv4Addr,
    /// Where addresses are handed out (default: the subnet).
    pub range: Ipv4Net,
    /// Address -> container id.
    pub allocated: BTreeMap<Ipv4Addr, String>,
    /// The last address handed out: the search for a free one starts after it.
    pub last: Option<Ipv4Addr>,
}

impl Pool {
    /// A pool over `subnet` with `gateway` (default: the first address) and `range`.
    pub fn new(subnet: Ipv4Net, gateway: Option<Ipv4Addr>, range: Option<Ipv4Net>) -> Result<Pool, NetworkError> {
        let subnet = subnet.trunc();
        if subnet.prefix_len() > 30 {
            return Err(NetworkError::invalid("--subnet", &subnet.to_string(), "too small: at most /30"));
        }
        let gateway = gateway.unwrap_or_else(|| Ipv4Addr::from(u32::from(subnet.network()) + 1));
        if !subnet.contains(&gateway) || gateway == subnet.network() || gateway == subnet.broadcast() {
            return Err(NetworkError::BadAddress {
                address: gateway.to_string(),
                reason: format!("the gateway is not a host address of {subnet}"),
            });
        }
        let range = range.map(|r| r.trunc()).unwrap_or(subnet);
        if !subnet.contains(&range) {
            return Err(NetworkError::invalid("--ip-range", &range.to_string(), &format!("not inside {subnet}")));
        }
        Ok(Pool { subnet, gateway, range, allocated: BTreeMap::new(), last: None })
    }

    fn usable(&self, ip: Ipv4Addr) -> bool {
        self.range.contains(&ip) && ip != self.subnet.network() && ip != self.subnet.broadcast() && ip != self.gateway
    }

    /// Gives `owner` an address: `wanted` if given and free, else the next free one.
    pub fn allocate(&mut self, owner: &str, wanted: Option<Ipv4Addr>, network: &str) -> Result<Ipv4Addr, NetworkError> {
        if let Some(ip) = wanted {
            if !self.subnet.contains(&ip) || !self.usable(ip) {
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
        let first = u32::from(self.range.network());
        let size = 1u64 << (32 - self.range.prefix_len());
        let start = self.last.map(|l| u32::from(l).wrapping_sub(first).wrapping_add(1) as u64 % size).unwrap_or(0);
        for step in 0..size {
            let ip = Ipv4Addr::from(first.wrapping_add(((start + step) % size) as u32));
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
        let mut pool = Pool::new("10.9.0.0/29".parse().unwrap(), None, None).unwrap();
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
        assert!(Pool::new("10.9.0.0/24".parse().unwrap(), Some(Ipv4Addr::new(10, 8, 0, 1)), None).is_err());
    }
}
