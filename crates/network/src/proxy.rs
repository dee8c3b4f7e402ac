//! The userland proxy of published ports on IPv6, as Docker's docker-proxy: a packet
//! from the host's `::1` cannot be DNATed to a container (IPv6 has no
//! `route_localnet`), and a container without an IPv6 address cannot be reached by a
//! DNAT from an IPv6 one. So the proxy of a container (`lindocker-proxy`, a child of its
//! shim that dies with it) listens on the host's IPv6 side of each published port and
//! relays TCP connections and UDP datagrams to the container's address (IPv6 if it has
//! one, else IPv4). What nft DNATs (every other host address to a container with IPv6)
//! never reaches its socket.
//!
//! Bounded against hostile clients: at most [`MAX_TCP`] connections (more are refused)
//! and [`MAX_UDP`] UDP flows at a time (a new one evicts the flow whose client has been
//! quiet longest), each relayed by threads with small stacks; an idle UDP flow ends
//! after [`UDP_IDLE`].

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::model::Endpoint;
use crate::ports::Protocol;

/// The proxy's binary name (installed beside `lindocker`).
pub const BINARY: &str = "lindocker-proxy";
/// TCP connections relayed at once.
pub const MAX_TCP: usize = 1024;
/// UDP clients relayed at once.
pub const MAX_UDP: usize = 256;
/// A UDP flow with no answer for this long is forgotten.
pub const UDP_IDLE: Duration = Duration::from_secs(30);
const STACK: usize = 64 * 1024;
/// The pause after a failed `accept` (no descriptor left).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// One port the proxy relays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The host's address and port.
    pub listen: SocketAddr,
    /// The container's.
    pub target: SocketAddr,
}

/// What the proxy of a container with `endpoints` relays: for each published port on
/// every address (`0.0.0.0`, `::`) the host's IPv6 side (`[::]`), for one on a single
/// IPv6 address that address; to the container's IPv6 address, or its IPv4 one.
pub fn forwards(endpoints: &[Endpoint]) -> Vec<Forward> {
    let mut out = Vec::new();
    for e in endpoints {
        for p in &e.ports {
            let listen = match p.host_ip {
                ip if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                IpAddr::V6(ip) => IpAddr::V6(ip),
                IpAddr::V4(_) => continue,
            };
            let target: IpAddr = e.ip6.map_or(IpAddr::V4(e.ip), IpAddr::V6);
            out.push(Forward {
                protocol: p.protocol,
                listen: SocketAddr::new(listen, p.host_port),
                target: SocketAddr::new(target, p.container_port),
            });
        }
    }
    out
}

impl Forward {
    /// Its three arguments on the proxy's command line: `tcp [::1]:8080 10.0.0.2:80`.
    pub fn to_args(&self) -> [String; 3] {
        [self.protocol.as_str().to_owned(), self.listen.to_string(), self.target.to_string()]
    }

    /// Parses [`Forward::to_args`]'s three arguments.
    pub fn from_args(args: &[String]) -> Result<Forward, String> {
        let [protocol, listen, target] = args else { return Err("expected PROTO LISTEN TARGET".into()) };
        let protocol = match protocol.as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            other => return Err(format!("bad protocol {other:?}")),
        };
        let addr = |s: &String| s.parse::<SocketAddr>().map_err(|_| format!("bad address {s:?}"));
        Ok(Forward { protocol, listen: addr(listen)?, target: addr(target)? })
    }
}

/// A host socket, bound, with where it relays to.
#[derive(Debug)]
pub enum Bound {
    /// A TCP listener.
    Tcp(TcpListener, SocketAddr),
    /// A UDP socket.
    Udp(UdpSocket, SocketAddr),
}

/// Binds every host socket (IPv6 only: the IPv4 side is nft's), or says which could not
/// be bound, in Docker's words.
pub fn bind(forwards: &[Forward]) -> Result<Vec<Bound>, String> {
    use rustix::net::{AddressFamily, SocketType, bind, listen, socket, sockopt};
    let mut out = Vec::new();
    for f in forwards {
        let family = if f.listen.is_ipv6() { AddressFamily::INET6 } else { AddressFamily::INET };
        let kind = if f.protocol == Protocol::Tcp { SocketType::STREAM } else { SocketType::DGRAM };
        let fd = match socket(family, kind, None) {
            Ok(fd) => fd,
            // A host without IPv6: `0.0.0.0`'s IPv6 side is not there, as with Docker.
            Err(rustix::io::Errno::AFNOSUPPORT) if f.listen.ip().is_unspecified() => continue,
            Err(e) => return Err(format!("socket: {e}")),
        };
        if f.listen.is_ipv6() {
            sockopt::set_ipv6_v6only(&fd, true).map_err(|e| format!("IPV6_V6ONLY: {e}"))?;
        }
        let taken = |e: rustix::io::Errno| {
            format!("Bind for {}:{} failed: {}", bracketed(f.listen.ip()), f.listen.port(), io::Error::from(e))
        };
        if f.protocol == Protocol::Tcp {
            sockopt::set_socket_reuseaddr(&fd, true).map_err(|e| format!("SO_REUSEADDR: {e}"))?;
            bind(&fd, &f.listen).map_err(taken)?;
            listen(&fd, 128).map_err(taken)?;
            out.push(Bound::Tcp(TcpListener::from(fd), f.target));
        } else {
            bind(&fd, &f.listen).map_err(taken)?;
            out.push(Bound::Udp(UdpSocket::from(fd), f.target));
        }
    }
    Ok(out)
}

fn bracketed(ip: IpAddr) -> String {
    if ip.is_ipv6() { format!("[{ip}]") } else { ip.to_string() }
}

/// Relays on every bound socket, for ever (the proxy ends with its shim).
pub fn run(bound: Vec<Bound>) -> io::Result<()> {
    let mut threads = Vec::new();
    for b in bound {
        let t = std::thread::Builder::new().stack_size(STACK);
        threads.push(match b {
            Bound::Tcp(l, target) => t.spawn(move || accept_loop(&l, target))?,
            Bound::Udp(s, target) => t.spawn(move || udp_loop(s, target))?,
        });
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

fn accept_loop(listener: &TcpListener, target: SocketAddr) {
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(_) => {
                // Out of descriptors (or memory): they come back as relays end. Retrying
                // at once would spin on the same error; the client waits in the backlog.
                std::thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        if active.load(Ordering::Relaxed) >= MAX_TCP {
            drop(client);
            continue;
        }
        active.fetch_add(1, Ordering::Relaxed);
        let mine = Arc::clone(&active);
        let spawned = std::thread::Builder::new().stack_size(STACK).spawn(move || {
            relay_tcp(client, target);
            mine.fetch_sub(1, Ordering::Relaxed);
        });
        if spawned.is_err() {
            // The closure (and with it the client) is gone: so is its count.
            active.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Copies both ways until each side has closed its half. The two threads share each
/// socket (no duplicate descriptors: two per connection, not four).
fn relay_tcp(client: TcpStream, target: SocketAddr) {
    let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) else { return };
    let (client, server) = (Arc::new(client), Arc::new(server));
    let (client2, server2) = (Arc::clone(&client), Arc::clone(&server));
    let back = std::thread::Builder::new().stack_size(STACK).spawn(move || {
        let _ = io::copy(&mut &*server2, &mut &*client2);
        let _ = client2.shutdown(Shutdown::Write);
    });
    let _ = io::copy(&mut &*client, &mut &*server);
    let _ = server.shutdown(Shutdown::Write);
    if let Ok(back) = back {
        let _ = back.join();
    }
}

/// A client's flow: its socket towards the container, and when the client last sent.
struct Flow {
    upstream: Arc<UdpSocket>,
    last: Instant,
}

type Flows = Arc<Mutex<HashMap<SocketAddr, Flow>>>;

/// Each client address gets a socket of its own towards the container, so that answers
/// find their way back to it.
fn udp_loop(socket: UdpSocket, target: SocketAddr) {
    let socket = Arc::new(socket);
    let flows: Flows = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf) else { continue };
        let flow = flows.lock().ok().and_then(|mut map| {
            map.get_mut(&client).map(|f| {
                f.last = Instant::now();
                Arc::clone(&f.upstream)
            })
        });
        let flow = match flow {
            Some(f) => f,
            None => match new_flow(&socket, &flows, client, target) {
                Some(f) => f,
                None => continue,
            },
        };
        let _ = flow.send(&buf[..n]);
    }
}

fn new_flow(socket: &Arc<UdpSocket>, flows: &Flows, client: SocketAddr, target: SocketAddr) -> Option<Arc<UdpSocket>> {
    let mut map = flows.lock().ok()?;
    if map.len() >= MAX_UDP {
        // Full: the flow whose client has been quiet longest makes room. Sources are
        // cheap to spoof; refusing new flows instead would lock every real client out
        // for the idle time. Its thread wakes from the shutdown and ends.
        let quietest = map.iter().min_by_key(|(_, f)| f.last).map(|(c, _)| *c);
        if let Some(old) = quietest.and_then(|c| map.remove(&c)) {
            let _ = rustix::net::shutdown(&*old.upstream, rustix::net::Shutdown::Both);
        }
    }
    let local: SocketAddr = if target.is_ipv6() { "[::]:0".parse().ok()? } else { "0.0.0.0:0".parse().ok()? };
    let upstream = UdpSocket::bind(local).ok()?;
    upstream.connect(target).ok()?;
    upstream.set_read_timeout(Some(UDP_IDLE)).ok()?;
    let upstream = Arc::new(upstream);
    map.insert(client, Flow { upstream: Arc::clone(&upstream), last: Instant::now() });
    drop(map);
    let (socket, mine, theirs) = (Arc::clone(socket), Arc::clone(flows), Arc::clone(&upstream));
    let spawned = std::thread::Builder::new().stack_size(STACK).spawn(move || {
        let mut buf = vec![0u8; 65536];
        // 0: shut down by an eviction (an empty datagram ends the flow too; the client's
        // next one opens another).
        while let Ok(n @ 1..) = theirs.recv(&mut buf) {
            let _ = socket.send_to(&buf[..n], client);
        }
        if let Ok(mut map) = mine.lock()
            && map.get(&client).is_some_and(|f| Arc::ptr_eq(&f.upstream, &theirs))
        {
            map.remove(&client);
        }
    });
    if spawned.is_err() {
        flows.lock().ok()?.remove(&client);
        return None;
    }
    Some(upstream)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::firewall::tests::endpoint;
    use crate::model::PortMapping;

    fn port(host_ip: &str, host_port: u16, protocol: Protocol) -> PortMapping {
        PortMapping { host_ip: host_ip.parse().unwrap(), host_port, container_port: 80, protocol }
    }

    #[test]
    fn which_ports_the_proxy_takes() {
        let ports = vec![
            port("0.0.0.0", 8080, Protocol::Tcp),
            port("127.0.0.1", 8081, Protocol::Tcp),
            port("::1", 8082, Protocol::Udp),
            port("::", 8083, Protocol::Tcp),
        ];
        let v4 = endpoint("n", Ipv4Addr::new(10, 0, 0, 2), None, ports.clone());
        let got: Vec<[String; 3]> = forwards(&[v4]).iter().map(Forward::to_args).collect();
        assert_eq!(
            got,
            [
                ["tcp", "[::]:8080", "10.0.0.2:80"],
                ["udp", "[::1]:8082", "10.0.0.2:80"],
                ["tcp", "[::]:8083", "10.0.0.2:80"]
            ]
            .map(|a| a.map(str::to_owned))
        );
        let v6 = endpoint("n", Ipv4Addr::new(10, 0, 0, 2), Some("fd00::2".parse().unwrap()), ports);
        let f = forwards(&[v6]);
        assert_eq!(f[0].target, "[fd00::2]:80".parse().unwrap());
        assert_eq!(Forward::from_args(&f[1].to_args()).unwrap(), f[1]);
        for bad in [["sctp", "[::]:1", "1.2.3.4:5"], ["tcp", "::1", "1.2.3.4:5"], ["tcp", "[::1]:1", "x"]] {
            assert!(Forward::from_args(&bad.map(str::to_owned)).is_err(), "{bad:?}");
        }
    }
}
