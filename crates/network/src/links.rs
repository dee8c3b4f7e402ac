//! Links, addresses and routes through netlink (rtnetlink on a runtime of its own, made
//! per call: a netlink socket belongs to the network namespace it was opened in).

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

use futures_util::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::{Handle, LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder, new_connection};

use crate::NetworkError;

fn nl(e: impl std::fmt::Display) -> NetworkError {
    NetworkError::Netlink(e.to_string())
}

/// Runs `f` with a netlink handle in the calling thread's network namespace.
fn with_handle<R>(f: impl AsyncFnOnce(Handle) -> Result<R, NetworkError>) -> Result<R, NetworkError> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().map_err(nl)?;
    rt.block_on(async {
        let (connection, handle, _) = new_connection().map_err(nl)?;
        tokio::spawn(connection);
        f(handle).await
    })
}

async fn index_of(handle: &Handle, name: &str) -> Result<Option<u32>, NetworkError> {
    let mut links = handle.link().get().match_name(name.to_owned()).execute();
    match links.try_next().await {
        Ok(Some(link)) => Ok(Some(link.header.index)),
        Ok(None) => Ok(None),
        // The kernel answers ENODEV for a name it does not know.
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -19 => Ok(None),
        Err(e) => Err(nl(e)),
    }
}

/// Whether a link named `name` exists here.
pub fn exists(name: &str) -> Result<bool, NetworkError> {
    with_handle(async |h| Ok(index_of(&h, name).await?.is_some()))
}

/// Adds `address` to link `index`; an IPv6 one without duplicate address detection, so
/// that it is usable at once (the address is ours to give; no one else has it).
async fn add_address(h: &Handle, index: u32, address: IpNet) -> Result<(), NetworkError> {
    let mut request = h.address().add(index, address.addr(), address.prefix_len());
    if address.addr().is_ipv6() {
        request.message_mut().attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    request.execute().await.map_err(nl)
}

/// Makes bridge `name` with the gateway `addresses` (address/prefix) on it, up; adds
/// only what is missing.
pub fn ensure_bridge(name: &str, addresses: &[IpNet]) -> Result<(), NetworkError> {
    let (name, addresses) = (name.to_owned(), addresses.to_vec());
    with_handle(async move |h| {
        let index = match index_of(&h, &name).await? {
            Some(i) => i,
            None => {
                // A MAC of its own: a bridge without one takes its lowest port's, and
                // changes it when that container leaves; its neighbours' ARP entries for
                // the gateway (the DNS server's address) then point nowhere for a while.
                let mut mac = [0u8; 6];
                let _ = rustix::rand::getrandom(&mut mac, rustix::rand::GetRandomFlags::empty());
                mac[0] = (mac[0] & 0xfe) | 0x02; // unicast, locally administered
                let bridge = LinkBridge::new(&name).address(mac.to_vec()).build();
                h.link().add(bridge).execute().await.map_err(nl)?;
                index_of(&h, &name).await?.ok_or_else(|| nl(format!("bridge {name} vanished")))?
            }
        };
        let mut existing = h.address().get().set_link_index_filter(index).execute();
        let mut have = Vec::new();
        while let Some(a) = existing.try_next().await.map_err(nl)? {
            for at in a.attributes {
                if let AddressAttribute::Address(ip) = at {
                    have.push(ip);
                }
            }
        }
        for address in addresses.iter().filter(|a| !have.contains(&a.addr())) {
            add_address(&h, index, *address).await?;
        }
        h.link().set(LinkUnspec::new_with_index(index).up().build()).execute().await.map_err(nl)
    })
}

/// Deletes link `name` if it exists.
pub fn delete(name: &str) -> Result<(), NetworkError> {
    let name = name.to_owned();
    with_handle(async move |h| {
        if let Some(index) = index_of(&h, &name).await? {
            h.link().del(index).execute().await.map_err(nl)?;
        }
        Ok(())
    })
}

/// Makes a veth pair in one request: `host` here, joined to `bridge` and up, `peer`
/// born inside the namespace `netns` (moving a link between namespaces afterwards costs
/// an RCU grace period, some 20 ms, on every start).
pub fn veth_into(host: &str, peer: &str, bridge: &str, netns: &File) -> Result<(), NetworkError> {
    use rtnetlink::LinkMessageBuilder;
    use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
    let (host, peer, bridge) = (host.to_owned(), peer.to_owned(), bridge.to_owned());
    let fd = netns.as_raw_fd();
    with_handle(async move |h| {
        let bridge_index = index_of(&h, &bridge).await?.ok_or_else(|| nl(format!("no bridge {bridge}")))?;
        let peer_message = LinkMessageBuilder::<LinkUnspec>::new().name(peer.clone()).setns_by_fd(fd).build();
        let message = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(host.clone())
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_message)))
            .controller(bridge_index)
            .up()
            .build();
        h.link().add(message).execute().await.map_err(nl)
    })
}

/// How a container's interface is set up inside its namespace.
#[derive(Debug, Clone)]
pub struct Inside {
    /// Its name there (`eth0`, ...).
    pub ifname: String,
    /// Its addresses (an IPv4 one, and an IPv6 one on an IPv6 network).
    pub addresses: Vec<IpNet>,
    /// Default routes through these gateways (none for an internal network or a second
    /// interface).
    pub gateways: Vec<IpAddr>,
    /// `--mac-address`.
    pub mac: Option<[u8; 6]>,
}

/// Inside a container's namespace (its `lo` is up since `netns::create`): `peer` renamed
/// and given its addresses, up; the default routes.
pub fn configure_inside(peer: &str, inside: Inside) -> Result<(), NetworkError> {
    let peer = peer.to_owned();
    with_handle(async move |h| {
        let index = index_of(&h, &peer).await?.ok_or_else(|| nl(format!("no link {peer} in the container")))?;
        let mut rename = LinkUnspec::new_with_index(index).name(inside.ifname.clone());
        if let Some(mac) = inside.mac {
            rename = rename.address(mac.to_vec());
        }
        h.link().set(rename.build()).execute().await.map_err(nl)?;
        for address in &inside.addresses {
            add_address(&h, index, *address).await?;
        }
        h.link().set(LinkUnspec::new_with_index(index).up().build()).execute().await.map_err(nl)?;
        for gateway in &inside.gateways {
            let route = match gateway {
                IpAddr::V4(g) => RouteMessageBuilder::<Ipv4Addr>::new().gateway(*g).build(),
                IpAddr::V6(g) => RouteMessageBuilder::<Ipv6Addr>::new().gateway(*g).output_interface(index).build(),
            };
            h.route().add(route).execute().await.map_err(nl)?;
        }
        Ok(())
    })
}

/// The networks this namespace has addresses or routes in (for overlap checks).
pub fn host_networks() -> Result<Vec<IpNet>, NetworkError> {
    with_handle(async |h| {
        let mut out = Vec::new();
        let mut addresses = h.address().get().execute();
        while let Some(a) = addresses.try_next().await.map_err(nl)? {
            for at in &a.attributes {
                if let AddressAttribute::Address(ip) = at
                    && let Ok(net) = IpNet::new(*ip, a.header.prefix_len)
                {
                    out.push(net.trunc());
                }
            }
        }
        let v4 = h.route().get(RouteMessageBuilder::<Ipv4Addr>::new().build()).execute();
        let v6 = h.route().get(RouteMessageBuilder::<Ipv6Addr>::new().build()).execute();
        let mut routes = futures_util::stream::select(v4, v6);
        while let Some(r) = routes.try_next().await.map_err(nl)? {
            let len = r.header.destination_prefix_length;
            if len == 0 {
                continue; // the default route overlaps everything and means nothing here
            }
            for at in &r.attributes {
                let ip = match at {
                    RouteAttribute::Destination(RouteAddress::Inet(ip)) => IpAddr::V4(*ip),
                    RouteAttribute::Destination(RouteAddress::Inet6(ip)) => IpAddr::V6(*ip),
                    _ => continue,
                };
                if let Ok(net) = IpNet::new(ip, len) {
                    out.push(net.trunc());
                }
            }
        }
        Ok(out)
    })
}
