//! `linux.netDevices`: host interfaces moved into the container's network namespace,
//! renamed, with their permanent global addresses, up (as runc does); and moved back
//! out, under their host names, when the container is deleted while its namespace
//! lives (the kernel returns a physical device by itself when the namespace dies, and
//! destroys a virtual one).
//!
//! netlink through rtnetlink on a current-thread tokio runtime made per call: no thread
//! is started, so entering the container's network namespace with `setns` (which
//! applies to the calling thread) also places the netlink socket made there.

use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressScope};
use rtnetlink::{Handle, LinkUnspec, new_connection};

use crate::{Error, Result};

fn nl(what: &str) -> impl Fn(rtnetlink::Error) -> Error + '_ {
    move |e| Error::Init(format!("linux.netDevices: {what}: {e}"))
}

/// Runs `f` with a netlink handle in the calling thread's network namespace.
fn with_handle<R>(f: impl AsyncFnOnce(Handle) -> Result<R>) -> Result<R> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| Error::Init(format!("linux.netDevices: netlink runtime: {e}")))?;
    rt.block_on(async {
        let (connection, handle, _) =
            new_connection().map_err(|e| Error::Init(format!("linux.netDevices: netlink socket: {e}")))?;
        tokio::spawn(connection);
        f(handle).await
    })
}

async fn index_of(h: &Handle, name: &str) -> Result<Option<u32>> {
    let mut links = h.link().get().match_name(name.to_owned()).execute();
    match links.try_next().await {
        Ok(Some(link)) => Ok(Some(link.header.index)),
        Ok(None) => Ok(None),
        // ENODEV: no link of that name.
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Ok(None),
        Err(e) => Err(nl(name)(e)),
    }
}

/// Runs `f` inside the network namespace `netns`, then returns to ours.
fn inside<R>(netns: &File, f: impl FnOnce() -> Result<R>) -> Result<R> {
    let ours = File::open("/proc/thread-self/ns/net")
        .map_err(|e| Error::Init(format!("linux.netDevices: open our network namespace: {e}")))?;
    lindocker_sys::setns(netns.as_raw_fd(), libc::CLONE_NEWNET)
        .map_err(|e| Error::Init(format!("linux.netDevices: enter the container's network namespace: {e}")))?;
    let result = f();
    lindocker_sys::setns(ours.as_raw_fd(), libc::CLONE_NEWNET)
        .map_err(|e| Error::Init(format!("linux.netDevices: return to our network namespace: {e}")))?;
    result
}

/// Moves each `(host name, name inside)` into `netns` (the container's, open).
pub fn move_in(devices: &[(String, String)], netns: &File) -> Result<()> {
    for (host, name) in devices {
        let fd = netns.as_raw_fd();
        let addresses = with_handle(async |h| {
            let index = index_of(&h, host)
                .await?
                .ok_or_else(|| Error::Init(format!("linux.netDevices: no interface {host:?} on the host")))?;
            h.link().set(LinkUnspec::new_with_index(index).down().build()).execute().await.map_err(nl(host))?;
            // The kernel drops addresses on the move: keep the permanent, global ones.
            let mut kept: Vec<(IpAddr, u8)> = Vec::new();
            let mut list = h.address().get().set_link_index_filter(index).execute();
            while let Some(a) = list.try_next().await.map_err(nl(host))? {
                if a.header.scope != AddressScope::Universe || !a.header.flags.contains(AddressHeaderFlags::Permanent) {
                    continue;
                }
                for at in &a.attributes {
                    if let AddressAttribute::Address(ip) = at {
                        kept.push((*ip, a.header.prefix_len));
                    }
                }
            }
            // Renamed and moved in one request: no clash with a name on either side.
            let message = LinkUnspec::new_with_index(index).name(name.clone()).setns_by_fd(fd).build();
            h.link().set(message).execute().await.map_err(nl(host))?;
            Ok(kept)
        })?;
        inside(netns, || {
            with_handle(async |h| {
                let index = index_of(&h, name)
                    .await?
                    .ok_or_else(|| Error::Init(format!("linux.netDevices: {host:?} did not arrive as {name:?}")))?;
                for (ip, prefix) in &addresses {
                    h.address().add(index, *ip, *prefix).execute().await.map_err(nl(name))?;
                }
                h.link().set(LinkUnspec::new_with_index(index).up().build()).execute().await.map_err(nl(name))
            })
        })?;
    }
    Ok(())
}

/// Moves each device still in `netns` back into ours, under its host name.
pub fn move_out(devices: &[(String, String)], netns: &File) -> Result<()> {
    let ours = File::open("/proc/thread-self/ns/net")
        .map_err(|e| Error::Init(format!("linux.netDevices: open our network namespace: {e}")))?;
    let fd = ours.as_raw_fd();
    inside(netns, || {
        with_handle(async |h| {
            for (host, name) in devices {
                if let Some(index) = index_of(&h, name).await? {
                    let message = LinkUnspec::new_with_index(index).down().name(host.clone()).setns_by_fd(fd).build();
                    h.link().set(message).execute().await.map_err(nl(name))?;
                }
            }
            Ok(())
        })
    })
}

/// Whether `name` can be an interface name (what the kernel's `dev_valid_name` takes).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c == '/' || c == ':' || c.is_whitespace())
}
