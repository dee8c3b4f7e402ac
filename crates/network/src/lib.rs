//! Networks for lindocker containers: bridge networks with an address pool each (IPAM),
//! IPv4 and, with `--ipv6`, IPv6; a network namespace per container joined to its bridges
//! by veth pairs (netlink),
//! NAT, isolation and published ports in an nftables table of our own, and names
//! (on user networks, an embedded DNS server: [`dns`]).
//!
//! The engine calls [`Networks::attach`] before the runtime starts a container (the
//! runtime only sees the namespace's path) and [`Networks::detach`] when it ends.

pub mod dns;
pub mod firewall;
pub mod hostlock;
pub mod ipam;
pub mod links;
pub mod model;
pub mod netns;
pub mod ports;
pub mod proxy;
pub mod store;

use std::path::{Path, PathBuf};

pub use model::{Endpoint, Network, PortMapping};
pub use store::{Attachment, NetworkSpec, Networks};

/// Everything networking can fail with.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// No network by that name.
    #[error("network {0} not found")]
    NoSuchNetwork(String),
    /// The name is taken.
    #[error("network with name {0} already exists")]
    NameTaken(String),
    /// A subnet that overlaps another network or the host's addresses and routes.
    #[error("invalid pool request: pool {subnet} overlaps with {other}")]
    Overlap {
        /// The subnet asked for.
        subnet: String,
        /// What it overlaps.
        other: String,
    },
    /// Every address of the subnet is given out.
    #[error("no available addresses on network {0}: the subnet is full")]
    Full(String),
    /// An address or gateway that is not in the subnet, or taken.
    #[error("invalid address {address}: {reason}")]
    BadAddress {
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// A network that containers still use.
    #[error("error while removing network: network {name} has active endpoints ({containers})")]
    InUse {
        /// The network.
        name: String,
        /// Its containers.
        containers: String,
    },
    /// A host port that is taken.
    #[error("Bind for {address}:{port} failed: port is already allocated")]
    PortTaken {
        /// Host address.
        address: String,
        /// Host port.
        port: u16,
    },
    /// A malformed `-p`, subnet or option.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        /// Which option.
        what: String,
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
    /// Netlink refused.
    #[error("netlink: {0}")]
    Netlink(String),
    /// nft refused.
    #[error("nftables: {0}")]
    Firewall(String),
    /// The DNS server of user networks.
    #[error("{0}")]
    Dns(String),
    /// A file or kernel operation failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// A record that does not parse.
    #[error("{}: corrupt: {reason}", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl NetworkError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        NetworkError::Io { path: path.to_path_buf(), source }
    }

    pub(crate) fn invalid(what: &str, value: &str, reason: &str) -> Self {
        NetworkError::Invalid { what: what.into(), value: value.into(), reason: reason.into() }
    }
}
