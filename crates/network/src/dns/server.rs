//! The server process: a UDP socket and a TCP listener on each served network's gateway
//! addresses (IPv4 and IPv6), port 53, in one poll loop. The record data is the network
//! store's file, read again (a few KiB; parsed only if its bytes changed) before every
//! batch of questions, so an answer is as current as the store: a container that
//! stopped a moment ago is gone. (Not a `stat`: inode numbers are reused and mtimes are
//! coarse, so a rewrite of the same size can look unchanged.) Names not
//! ours are forwarded over the transport they came on: over UDP from the same poll loop
//! (a fresh socket per question, so a random source port; no thread), over TCP from the
//! connection's thread; a question's bytes go upstream as they came (EDNS and all) and
//! the answer comes back as it came, once its id and source match.
//!
//! The server exits once no container is left on a served network, deciding so under
//! the store's lock, which every attach holds while it looks for a live server.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, poll};
use rustix::net::{AddressFamily, SocketType, bind, listen, socket, sockopt};

use super::answer::{Decision, Directory};
use crate::NetworkError;

/// Questions forwarded at once at most (UDP ones pending, TCP connections); beyond,
/// SERVFAIL at once.
const MAX_INFLIGHT: usize = 128;
/// How long one upstream server has to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the store is looked at when no question comes.
const TICK_MS: u64 = 250;

/// A served network's sockets on one of its gateway addresses.
struct Listener {
    network: String,
    address: IpAddr,
    udp: Arc<UdpSocket>,
    tcp: TcpListener,
}

/// The name servers of the host's `/etc/resolv.conf` (loopback ones included: the
/// server runs in the host's network namespace, where they answer).
pub fn host_resolvers() -> Vec<IpAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|a| a.split('%').next()?.parse().ok())
        .collect()
}

/// The server of the networks under `network_dir` (`<root>/network`); its pid goes to
/// `pid_file`, and `ready` is told (one line) once it listens.
pub fn run(network_dir: &Path, pid_file: &Path, ready: impl FnOnce()) -> Result<(), NetworkError> {
    let store = network_dir.join("networks.json");
    let mut server = Server {
        store,
        seen: None,
        directory: Arc::new(Directory::default()),
        listeners: Vec::new(),
        pending: Vec::new(),
    };
    server.reload()?;
    let pid = std::process::id().to_string();
    std::fs::write(pid_file, pid.as_bytes()).map_err(|e| NetworkError::io(pid_file, e))?;
    ready();
    let inflight = Arc::new(AtomicUsize::new(0));
    let mut buf = vec![0u8; 65535];
    loop {
        if !server.directory.in_use() && server.last_one_left(network_dir, pid_file)? {
            return Ok(());
        }
        if let Err(e) = server.reload() {
            eprintln!("lindocker-dns: {e}");
        }
        let listening = server.listeners.len();
        let ready: Vec<usize> = {
            let mut fds: Vec<PollFd> = server
                .listeners
                .iter()
                .flat_map(|l| [PollFd::new(&*l.udp, PollFlags::IN), PollFd::new(&l.tcp, PollFlags::IN)])
                .chain(server.pending.iter().map(|p| PollFd::new(&p.socket, PollFlags::IN)))
                .collect();
            let wait = server.pending.iter().map(|p| p.deadline.saturating_duration_since(Instant::now())).min();
            let wait = wait.unwrap_or(Duration::from_millis(TICK_MS)).min(Duration::from_millis(TICK_MS));
            let timeout = rustix::event::Timespec { tv_sec: 0, tv_nsec: i64::from(wait.subsec_nanos()) };
            match poll(&mut fds, Some(&timeout)) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(NetworkError::io(Path::new("poll"), e.into())),
            }
            fds.iter().enumerate().filter(|(_, f)| !f.revents().is_empty()).map(|(i, _)| i).collect()
        };
        // Answers from upstream first (their sockets are indexed after the listeners'),
        // last to first so that removing one moves none still to come.
        for &i in ready.iter().rev().filter(|i| **i >= 2 * listening) {
            server.upstream_answer(i - 2 * listening, &mut buf);
        }
        server.expire();
        // Before answering: the store as it is now (on error, as it was).
        if let Err(e) = server.reload() {
            eprintln!("lindocker-dns: {e}");
        }
        for &i in ready.iter().filter(|i| **i < 2 * listening) {
            // (Listeners only ever come after those polled, or all go at once.)
            let Some(l) = server.listeners.get(i / 2).filter(|_| server.listeners.len() >= listening) else { continue };
            if i % 2 == 0 {
                let udp = l.udp.clone();
                let network = l.network.clone();
                while let Ok((n, from)) = udp.recv_from(&mut buf) {
                    server.udp_question(&network, &udp, &buf[..n], from);
                }
            } else if let Ok((stream, from)) = l.tcp.accept() {
                server.tcp_client(l, stream, from, &inflight);
            }
        }
    }
}

/// A question forwarded over UDP, waiting for its answer (in the poll loop: no thread).
struct Pending {
    /// Connected to the upstream server asked now (a port of the kernel's choosing).
    socket: UdpSocket,
    /// The listener it came to, and who asked.
    reply: Arc<UdpSocket>,
    client: SocketAddr,
    question: Vec<u8>,
    /// Servers not asked yet.
    rest: Vec<SocketAddr>,
    fail: Vec<u8>,
    deadline: Instant,
}

impl Pending {
    /// Asks the next server; `None` (after sending SERVFAIL) when none is left.
    fn next(mut self) -> Option<Pending> {
        while !self.rest.is_empty() {
            let upstream = self.rest.remove(0);
            if let Some(socket) = ask_udp(upstream, &self.question) {
                self.socket = socket;
                self.deadline = Instant::now() + UPSTREAM_TIMEOUT;
                return Some(self);
            }
        }
        let _ = self.reply.send_to(&self.fail, self.client);
        None
    }
}

/// A fresh nonblocking socket connected to `upstream`, the question sent on it.
fn ask_udp(upstream: SocketAddr, question: &[u8]) -> Option<UdpSocket> {
    let local: SocketAddr = if upstream.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let s = UdpSocket::bind(local).ok()?;
    s.connect(upstream).ok()?;
    s.set_nonblocking(true).ok()?;
    s.send(question).ok()?;
    Some(s)
}

struct Server {
    store: PathBuf,
    /// The store's bytes as last parsed.
    seen: Option<Vec<u8>>,
    directory: Arc<Directory>,
    listeners: Vec<Listener>,
    /// UDP questions forwarded, waiting (at most [`MAX_INFLIGHT`]).
    pending: Vec<Pending>,
}

impl Server {
    /// Reads the store again if it changed, and listens on every served network's
    /// gateways (and no more on those of networks gone).
    fn reload(&mut self) -> Result<(), NetworkError> {
        let Some(directory) = fresh(&self.store, &mut self.seen)? else { return Ok(()) };
        self.directory = Arc::new(directory);
        let wanted: BTreeMap<IpAddr, String> = self
            .directory
            .networks()
            .iter()
            .flat_map(|n| n.gateway_addresses().into_iter().map(|g| (g.addr(), n.name.clone())))
            .collect();
        self.listeners.retain(|l| wanted.get(&l.address) == Some(&l.network));
        for (address, network) in wanted {
            if !self.listeners.iter().any(|l| l.address == address) {
                match listen_on(address) {
                    Ok((udp, tcp)) => self.listeners.push(Listener { network, address, udp: Arc::new(udp), tcp }),
                    Err(e) => eprintln!("lindocker-dns: cannot listen on {address}: {e}"),
                }
            }
        }
        Ok(())
    }

    /// Under the store's lock: whether the last container has left (the pid file is
    /// then removed, and the lock held until the process is gone, sockets and all).
    fn last_one_left(&mut self, network_dir: &Path, pid_file: &Path) -> Result<bool, NetworkError> {
        let path = network_dir.join("lock");
        let lock = lindocker_sys::lock::FileLock::exclusive(&path).map_err(|e| NetworkError::io(&path, e))?;
        self.seen = None;
        self.reload()?;
        if self.directory.in_use() {
            return Ok(false);
        }
        let _ = std::fs::remove_file(pid_file);
        self.listeners.clear();
        std::mem::forget(lock);
        Ok(true)
    }

    fn udp_question(&mut self, network: &str, udp: &Arc<UdpSocket>, packet: &[u8], from: SocketAddr) {
        match self.directory.decide(network, from.ip(), packet, true) {
            Decision::Answer(bytes) => {
                let _ = udp.send_to(&bytes, from);
            }
            Decision::Ignore => {}
            Decision::Forward { upstreams, fail } => {
                if self.pending.len() >= MAX_INFLIGHT {
                    let _ = udp.send_to(&fail, from);
                    return;
                }
                let Some(first) = upstreams.first().copied() else { return };
                let question = packet.to_vec();
                let pending = match ask_udp(first, &question) {
                    Some(socket) => Some(Pending {
                        socket,
                        reply: udp.clone(),
                        client: from,
                        question,
                        rest: upstreams[1..].to_vec(),
                        fail,
                        deadline: Instant::now() + UPSTREAM_TIMEOUT,
                    }),
                    None => {
                        let _ = udp.send_to(&fail, from);
                        None
                    }
                };
                self.pending.extend(pending);
            }
        }
    }

    /// The answer (or the error) waiting on pending question `index`: relayed to the
    /// client as it came, once it matches the question's id; an error asks the next
    /// server.
    fn upstream_answer(&mut self, index: usize, buf: &mut [u8]) {
        let Some(p) = self.pending.get(index) else { return };
        match p.socket.recv(buf) {
            Ok(n) if n >= 12 && buf[..2] == p.question[..2] && buf[2] & 0x80 != 0 => {
                let _ = p.reply.send_to(&buf[..n], p.client);
                self.pending.swap_remove(index);
            }
            Ok(_) => {} // not the answer: keep waiting
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => {
                let p = self.pending.swap_remove(index);
                self.pending.extend(p.next());
            }
        }
    }

    /// Questions whose server did not answer in time go to the next one.
    fn expire(&mut self) {
        let now = Instant::now();
        let (late, waiting): (Vec<Pending>, Vec<Pending>) =
            std::mem::take(&mut self.pending).into_iter().partition(|p| p.deadline <= now);
        self.pending = waiting;
        self.pending.extend(late.into_iter().filter_map(Pending::next));
    }

    /// A TCP client (a resolver retrying a truncated answer, or one that asks over TCP
    /// only), served by a thread of its own, bounded like the forwarders.
    fn tcp_client(&self, l: &Listener, stream: TcpStream, from: SocketAddr, inflight: &Arc<AtomicUsize>) {
        let Some(slot) = Slot::take(inflight) else { return };
        let (network, store) = (l.network.clone(), self.store.clone());
        let mut directory = self.directory.clone();
        let mut seen = self.seen.clone();
        let _ = std::thread::Builder::new().stack_size(128 * 1024).spawn(move || {
            let _slot = slot;
            let mut s = stream;
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
            while let Some(packet) = read_framed(&mut s) {
                if let Ok(Some(newer)) = fresh(&store, &mut seen) {
                    directory = Arc::new(newer);
                }
                let answer = match directory.decide(&network, from.ip(), &packet, false) {
                    Decision::Answer(bytes) => bytes,
                    Decision::Ignore => return,
                    Decision::Forward { upstreams, fail } => {
                        upstreams.iter().find_map(|u| forward_tcp(*u, &packet)).unwrap_or(fail)
                    }
                };
                if write_framed(&mut s, &answer).is_err() {
                    return;
                }
            }
        });
    }
}

/// The directory of the store at `path`, if its bytes are not `seen` (which then
/// become them).
fn fresh(path: &Path, seen: &mut Option<Vec<u8>>) -> Result<Option<Directory>, NetworkError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(NetworkError::io(path, e)),
    };
    if seen.as_ref() == Some(&bytes) {
        return Ok(None);
    }
    let (networks, endpoints) = crate::store::parse_state(path, &bytes)?;
    *seen = Some(bytes);
    Ok(Some(Directory::new(networks, endpoints, host_resolvers())))
}

/// One of [`MAX_INFLIGHT`] places, given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(counter: &Arc<AtomicUsize>) -> Option<Slot> {
        if counter.fetch_add(1, Ordering::SeqCst) >= MAX_INFLIGHT {
            counter.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Slot(counter.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A UDP socket and a TCP listener on `address`:53. `IP_FREEBIND`: an IPv6 gateway may
/// still be tentative (duplicate address detection) when the server starts.
fn listen_on(address: IpAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    let family = if address.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
    let at = SocketAddr::new(address, 53);
    let make = |kind: SocketType| -> std::io::Result<rustix::fd::OwnedFd> {
        let fd = socket(family, kind, None)?;
        sockopt::set_socket_reuseaddr(&fd, true)?;
        if address.is_ipv4() {
            sockopt::set_ip_freebind(&fd, true)?;
        } else {
            sockopt::set_ipv6_freebind(&fd, true)?;
            sockopt::set_ipv6_v6only(&fd, true)?;
        }
        bind(&fd, &at)?;
        Ok(fd)
    };
    let udp = UdpSocket::from(make(SocketType::DGRAM)?);
    udp.set_nonblocking(true)?;
    let tcp_fd = make(SocketType::STREAM)?;
    listen(&tcp_fd, 64)?;
    let tcp = TcpListener::from(tcp_fd);
    tcp.set_nonblocking(true)?;
    Ok((udp, tcp))
}

/// Asks `upstream` over TCP.
fn forward_tcp(upstream: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&upstream, UPSTREAM_TIMEOUT).ok()?;
    s.set_read_timeout(Some(UPSTREAM_TIMEOUT)).ok()?;
    write_framed(&mut s, packet).ok()?;
    let answer = read_framed(&mut s)?;
    (answer.len() >= 12 && answer[..2] == packet[..2]).then_some(answer)
}

/// One DNS message over TCP: a 2-byte length, then the message (RFC 1035 4.2.2).
fn read_framed(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).ok()?;
    Some(buf)
}

fn write_framed(s: &mut TcpStream, message: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(message.len()).map_err(|_| std::io::ErrorKind::InvalidData)?;
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend(len.to_be_bytes());
    framed.extend(message);
    s.write_all(&framed)
}
