//! Networks and their endpoints, kept in `<root>/network/networks.json` (written
//! atomically under `<root>/network/lock`), and what attaching and detaching a container
//! does to the kernel.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use lindocker_sys::lock::FileLock;
use serde::{Deserialize, Serialize};

use crate::ipam::Pool;
pub use crate::model::{Endpoint, Network, PortMapping};
use crate::ports::{PortSpec, Protocol};
use crate::{NetworkError, firewall, hostlock, links, netns};

/// The network containers join when they name none.
pub const DEFAULT_NETWORK: &str = "bridge";
/// Its bridge, under the default data root.
pub const DEFAULT_BRIDGE: &str = "lindocker0";
/// The default data root: its table and default bridge keep the plain names.
pub const DEFAULT_ROOT: &str = "/var/lib/lindocker";

/// What a container asks of one network.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Attachment {
    /// The network's name.
    pub network: String,
    /// `--ip`.
    pub ip: Option<Ipv4Addr>,
    /// `--ip6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    /// `--network-alias`.
    pub aliases: Vec<String>,
    /// `--mac-address`.
    pub mac: Option<[u8; 6]>,
}

/// What `network create` asks for; `None` lets lindocker choose.
#[derive(Debug, Clone, Default)]
pub struct NetworkSpec {
    /// `--subnet` (IPv4).
    pub subnet: Option<Ipv4Net>,
    /// `--gateway` (IPv4).
    pub gateway: Option<Ipv4Addr>,
    /// `--ip-range` (IPv4).
    pub ip_range: Option<Ipv4Net>,
    /// `--ipv6`: containers get an IPv6 address too.
    pub ipv6: bool,
    /// `--subnet` (IPv6; default: a random unique local /64).
    pub subnet6: Option<Ipv6Net>,
    /// `--gateway` (IPv6).
    pub gateway6: Option<Ipv6Addr>,
    /// `--internal`.
    pub internal: bool,
    /// `--disable-dns`: no names by DNS on it.
    pub disable_dns: bool,
    /// `--label`s.
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    networks: Vec<Network>,
    endpoints: Vec<Endpoint>,
    /// The [`RULES`] generation the table was last written with.
    #[serde(default)]
    rules: u32,
    /// A bridge was made again (after a reboot, which takes the table too): the table
    /// must be written before a container runs.
    #[serde(skip)]
    rules_stale: bool,
}

/// The generation of the ruleset's shape: a table written by an older lindocker (say,
/// without the loopback guard) is rewritten on the next attach.
const RULES: u32 = 2;

/// The networks under a data root.
#[derive(Debug, Clone)]
pub struct Networks {
    dir: PathBuf,
    /// The DNS server's binary and the state directory it keeps its pid file in (none:
    /// no names by DNS, for callers that never attach).
    dns: Option<(PathBuf, PathBuf)>,
    /// Our nftables table (one per data root).
    table: String,
    /// The default network's bridge (one per data root).
    default_bridge: String,
}

/// The data root's lock, then the host's (see [`hostlock`]), always in that order.
struct Locked {
    _file: FileLock,
    _host: hostlock::HostLock,
}

/// The nftables table and the default network's bridge of data root `root`: `lindocker`
/// and `lindocker0` for the default root; for any other one, the same with a hash of its
/// path, so that two roots on one host never rewrite each other's rules (a bridge name
/// has at most 15 characters).
pub fn names_for(root: &Path) -> (String, String) {
    use sha2::{Digest, Sha256};
    use std::os::unix::ffi::OsStrExt;
    let canonical = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let default = fs::canonicalize(DEFAULT_ROOT).unwrap_or_else(|_| PathBuf::from(DEFAULT_ROOT));
    if canonical == default {
        return (firewall::TABLE.to_owned(), DEFAULT_BRIDGE.to_owned());
    }
    let hash = Sha256::digest(canonical.as_os_str().as_bytes());
    let hex: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    (format!("{}-{hex}", firewall::TABLE), format!("ld0-{hex}"))
}

fn new_id() -> String {
    let mut seed = [0u8; 32];
    let _ = rustix::rand::getrandom(&mut seed, rustix::rand::GetRandomFlags::empty());
    seed.iter().map(|b| format!("{b:02x}")).collect()
}

fn now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!("{secs}")
}

/// Whether a name is a valid network name.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn write_sysctl(path: &str, value: &str) -> Result<(), NetworkError> {
    fs::write(path, value).map_err(|e| NetworkError::io(Path::new(path), e))
}

impl Networks {
    /// The networks under `root/network`.
    pub fn open(root: &Path) -> Result<Networks, NetworkError> {
        let dir = root.join("network");
        fs::create_dir_all(&dir).map_err(|e| NetworkError::io(&dir, e))?;
        let (table, default_bridge) = names_for(root);
        Ok(Networks { dir, table, default_bridge, dns: None })
    }

    /// These networks with names served by `binary` (`lindocker-dns`), its pid file
    /// under `state`.
    pub fn with_dns_server(mut self, binary: PathBuf, state: PathBuf) -> Networks {
        self.dns = Some((binary, state));
        self
    }

    /// Starts the DNS server if a container is to join a network it serves (a user
    /// network without `--disable-dns`) and it is not running. Called under the lock.
    fn ensure_dns(
        &self,
        state: &State,
        networks: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<(), NetworkError> {
        let Some((binary, dns_state)) = &self.dns else { return Ok(()) };
        let served = |name: &str| {
            state
                .networks
                .iter()
                .find(|n| n.name == name || n.id.starts_with(name))
                .is_some_and(crate::dns::answer::serves)
        };
        if !networks.into_iter().any(|n| served(n.as_ref())) {
            return Ok(());
        }
        let root = self.dir.parent().unwrap_or(&self.dir);
        crate::dns::ensure(binary, root, dns_state)
    }

    /// Stops the DNS server once no container is left on a network it serves. Called
    /// under the lock.
    fn stop_dns_if_unused(&self, state: &State) {
        let Some((_, dns_state)) = &self.dns else { return };
        let served = |e: &Endpoint| state.networks.iter().any(|n| n.name == e.network && crate::dns::answer::serves(n));
        if !state.endpoints.iter().any(served) {
            crate::dns::stop(self.dir.parent().unwrap_or(&self.dir), dns_state);
        }
    }

    /// Our nftables table.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn lock(&self) -> Result<Locked, NetworkError> {
        let path = self.dir.join("lock");
        let lock = FileLock::exclusive(&path).map_err(|e| NetworkError::io(&path, e))?;
        Ok(Locked { _file: lock, _host: hostlock::HostLock::take()? })
    }

    fn load(&self) -> Result<State, NetworkError> {
        load(&self.dir.join("networks.json"))
    }

    fn save(&self, state: &State) -> Result<(), NetworkError> {
        let path = self.dir.join("networks.json");
        lindocker_sys::atomic::write_durable(&path, &serde_json::to_vec_pretty(state).expect("state serializes"))
            .map_err(|e| NetworkError::io(&path, e))
    }

    /// Every network.
    pub fn list(&self) -> Result<Vec<Network>, NetworkError> {
        Ok(self.load()?.networks)
    }

    /// Network `name` (or id prefix).
    pub fn inspect(&self, name: &str) -> Result<(Network, Vec<Endpoint>), NetworkError> {
        let state = self.load()?;
        let network = find(&state, name)?.clone();
        let endpoints = state.endpoints.into_iter().filter(|e| e.network == network.name).collect();
        Ok((network, endpoints))
    }

    /// The endpoints of container `id`.
    pub fn endpoints_of(&self, id: &str) -> Result<Vec<Endpoint>, NetworkError> {
        Ok(self.load()?.endpoints.into_iter().filter(|e| e.container == id).collect())
    }

    /// Creates a network. Without a subnet, one is picked that overlaps no other network
    /// and no address or route of the host.
    pub fn create(&self, name: &str, spec: &NetworkSpec) -> Result<Network, NetworkError> {
        let _lock = self.lock()?;
        let mut state = self.load()?;
        let network = self.new_network(&state, name, spec)?;
        // The bridge exists from the start, as Docker's does.
        links::ensure_bridge(&network.bridge, &network.gateway_addresses())?;
        state.networks.push(network.clone());
        if let Err(e) = self.save(&state).and_then(|()| firewall::apply(&self.table, &state.networks, &state.endpoints))
        {
            let _ = links::delete(&network.bridge);
            return Err(e);
        }
        Ok(network)
    }

    fn new_network(&self, state: &State, name: &str, spec: &NetworkSpec) -> Result<Network, NetworkError> {
        if !valid_name(name) {
            return Err(NetworkError::invalid("network name", name, "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"));
        }
        if state.networks.iter().any(|n| n.name == name) {
            return Err(NetworkError::NameTaken(name.into()));
        }
        let host = links::host_networks()?;
        let taken: Vec<(IpNet, String)> = state
            .networks
            .iter()
            .flat_map(|n| {
                let label = format!("network {}", n.name);
                std::iter::once((IpNet::V4(n.pool.subnet), label.clone()))
                    .chain(n.pool6.as_ref().map(|p| (IpNet::V6(p.subnet), label)))
            })
            .chain(host.iter().map(|h| (*h, format!("the host's {h}"))))
            .collect();
        let overlaps = |s: IpNet| {
            taken.iter().find(|(t, _)| t.contains(&s.network()) || s.contains(&t.network())).map(|(_, w)| w.clone())
        };
        let subnet = match spec.subnet {
            Some(s) => {
                if let Some(other) = overlaps(IpNet::V4(s.trunc())) {
                    return Err(NetworkError::Overlap { subnet: s.to_string(), other });
                }
                s
            }
            None => candidate_subnets()
                .find(|s| overlaps(IpNet::V4(*s)).is_none())
                .ok_or_else(|| NetworkError::invalid("--subnet", "", "no free private /16 or /24 left; give one"))?,
        };
        let pool = Pool::new(subnet, spec.gateway, spec.ip_range)?;
        let pool6 = if spec.ipv6 {
            let subnet6 = match spec.subnet6 {
                Some(s) => {
                    if let Some(other) = overlaps(IpNet::V6(s.trunc())) {
                        return Err(NetworkError::Overlap { subnet: s.to_string(), other });
                    }
                    s
                }
                None => std::iter::repeat_with(unique_local_subnet)
                    .take(16)
                    .find(|s| overlaps(IpNet::V6(*s)).is_none())
                    .ok_or_else(|| NetworkError::invalid("--subnet", "", "no free IPv6 subnet found; give one"))?,
            };
            Some(Pool::new(subnet6, spec.gateway6, None)?)
        } else if spec.subnet6.is_some() || spec.gateway6.is_some() {
            return Err(NetworkError::invalid("--subnet", "IPv6", "an IPv6 subnet or gateway needs --ipv6"));
        } else {
            None
        };
        let id = new_id();
        let bridge = if name == DEFAULT_NETWORK { self.default_bridge.clone() } else { format!("ld-{}", &id[..12]) };
        Ok(Network {
            name: name.into(),
            id,
            bridge,
            pool,
            pool6,
            internal: spec.internal,
            dns_disabled: spec.disable_dns,
            labels: spec.labels.clone(),
            created: now(),
        })
    }

    /// Removes networks; one with containers on it is refused.
    pub fn remove(&self, name: &str) -> Result<(), NetworkError> {
        let _lock = self.lock()?;
        let mut state = self.load()?;
        let network = find(&state, name)?.clone();
        let users: Vec<String> =
            state.endpoints.iter().filter(|e| e.network == network.name).map(|e| e.name.clone()).collect();
        if !users.is_empty() {
            return Err(NetworkError::InUse { name: network.name, containers: users.join(", ") });
        }
        state.networks.retain(|n| n.name != network.name);
        links::delete(&network.bridge)?;
        firewall::apply(&self.table, &state.networks, &state.endpoints)?;
        self.save(&state)
    }

    /// Joins container `id` (named `name`, host name `hostname`) to `attachments` inside
    /// the namespace at `netns_path` (created here), publishing `ports` on the first
    /// network. Its /etc/hosts is `hosts_file`. On failure nothing is left.
    #[allow(clippy::too_many_arguments)]
    pub fn attach(
        &self,
        id: &str,
        name: &str,
        hostname: &str,
        attachments: &[Attachment],
        ports: &[PortSpec],
        netns_path: &Path,
        hosts_file: &Path,
        extra_hosts: &[String],
        upstream: &[IpAddr],
    ) -> Result<Vec<Endpoint>, NetworkError> {
        let _lock = self.lock()?;
        let mut state = self.load()?;
        // First the server (if it cannot start, nothing is changed yet); it looks at the
        // store before each answer, so the endpoints saved below are served at once.
        self.ensure_dns(&state, attachments.iter().map(|a| a.network.as_str()))?;
        let who = Who { id, name, hostname, hosts_file, extra_hosts, upstream };
        let result = self.attach_locked(&mut state, &who, attachments, ports, netns_path);
        if result.is_err() {
            state.endpoints.retain(|e| e.container != id);
            for n in &mut state.networks {
                n.release(id);
            }
            for a in attachments {
                let _ = links::delete(&veth_name(id, &a.network));
            }
            netns::remove(netns_path);
            let _ = firewall::apply(&self.table, &state.networks, &state.endpoints);
        }
        self.save(&state)?;
        let endpoints = result?;
        write_hosts(&state, id);
        Ok(endpoints)
    }

    fn attach_locked(
        &self,
        state: &mut State,
        who: &Who,
        attachments: &[Attachment],
        ports: &[PortSpec],
        netns_path: &Path,
    ) -> Result<Vec<Endpoint>, NetworkError> {
        // The default network comes into being on first use.
        let mut rules_changed = state.rules != RULES;
        if attachments.iter().any(|a| a.network == DEFAULT_NETWORK)
            && !state.networks.iter().any(|n| n.name == DEFAULT_NETWORK)
        {
            let network = self.new_network(state, DEFAULT_NETWORK, &NetworkSpec::default())?;
            state.networks.push(network);
            rules_changed = true;
        }
        let mut mapped = Vec::new();
        if !ports.is_empty() {
            // Ports other data roots publish on this host are taken too.
            let foreign = foreign_ports(&self.table)?;
            for p in ports {
                let m = reserve_port(state, &foreign, p)?;
                mapped.push(m);
            }
        }
        netns::create(netns_path)?;
        let ns = File::open(netns_path).map_err(|e| NetworkError::io(netns_path, e))?;
        write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
        let mut endpoints = Vec::new();
        for (i, a) in attachments.iter().enumerate() {
            let ports = if i == 0 { mapped.clone() } else { Vec::new() };
            endpoints.push(join(state, who, a, i, ports, &ns, netns_path)?);
        }
        state.endpoints.extend(endpoints.iter().cloned());
        // The per-network rules exist since the network does; only published ports are
        // per container (nft takes milliseconds to start: no call when nothing changes).
        if rules_changed || state.rules_stale || !mapped.is_empty() {
            firewall::apply(&self.table, &state.networks, &state.endpoints)?;
            state.rules = RULES;
        }
        Ok(endpoints)
    }

    /// Takes container `id` off every network: addresses, veths, rules, its namespace.
    pub fn detach(&self, id: &str, netns_path: &Path) -> Result<(), NetworkError> {
        let _lock = self.lock()?;
        let mut state = self.load()?;
        let gone: Vec<Endpoint> = state.endpoints.iter().filter(|e| e.container == id).cloned().collect();
        state.endpoints.retain(|e| e.container != id);
        for n in &mut state.networks {
            n.release(id);
        }
        // The veths go with the namespace: deleting them one by one would cost an RCU
        // grace period each; the kernel tears the namespace down in the background.
        netns::remove(netns_path);
        let had_ports = gone.iter().any(|e| !e.ports.is_empty());
        let applied = if had_ports { firewall::apply(&self.table, &state.networks, &state.endpoints) } else { Ok(()) };
        self.save(&state)?;
        if !gone.is_empty() {
            self.stop_dns_if_unused(&state);
        }
        applied
    }

    /// Removes every network no container uses, the default one excepted.
    pub fn prune(&self) -> Result<Vec<String>, NetworkError> {
        let names: Vec<String> = self.list()?.into_iter().map(|n| n.name).filter(|n| n != DEFAULT_NETWORK).collect();
        let mut removed = Vec::new();
        for name in names {
            if self.remove(&name).is_ok() {
                removed.push(name);
            }
        }
        Ok(removed)
    }
}

/// Writes container `id`'s /etc/hosts: localhost, its own address and host name, its
/// `--add-host` lines. Its peers are not there: they are in DNS (a user network) or not
/// found by name at all (the default `bridge`, as in Docker). One file per start, not
/// one per container on the network.
fn write_hosts(state: &State, id: &str) {
    let own: Vec<&Endpoint> = state.endpoints.iter().filter(|e| e.container == id).collect();
    let Some(first) = own.first() else { return };
    let mut text = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    text.push_str(&format!("{}\t{}\n", first.ip, first.hostname));
    if let Some(ip6) = first.ip6 {
        text.push_str(&format!("{ip6}\t{}\n", first.hostname));
    }
    for line in &first.extra_hosts {
        text.push_str(line);
        text.push('\n');
    }
    // In place: the container sees this file through a bind mount of its inode.
    if let Ok(mut f) = OpenOptions::new().write(true).truncate(true).open(&first.hosts_file) {
        let _ = f.write_all(text.as_bytes());
    }
}

/// The container an endpoint is made for.
struct Who<'a> {
    id: &'a str,
    name: &'a str,
    hostname: &'a str,
    hosts_file: &'a Path,
    extra_hosts: &'a [String],
    upstream: &'a [IpAddr],
}

/// Puts the container on one network as its interface `eth{index}` (the first one gets
/// the default route): an address, a veth pair into the bridge, the address inside.
fn join(
    state: &mut State,
    who: &Who,
    a: &Attachment,
    index: usize,
    ports: Vec<PortMapping>,
    ns: &File,
    netns_path: &Path,
) -> Result<Endpoint, NetworkError> {
    let id = who.id;
    let stale = &mut state.rules_stale;
    let network = state
        .networks
        .iter_mut()
        .find(|n| n.name == a.network || n.id.starts_with(&a.network))
        .ok_or_else(|| NetworkError::NoSuchNetwork(a.network.clone()))?;
    if !links::exists(&network.bridge)? {
        // A network whose bridge is gone (after a reboot) gets it back only if no one
        // took its subnet meanwhile (another data root, the host's own addresses).
        let subnet = IpNet::V4(network.pool.subnet);
        let host = links::host_networks()?;
        if let Some(other) = host.iter().find(|h| h.contains(&subnet.network()) || subnet.contains(&h.network())) {
            return Err(NetworkError::Overlap {
                subnet: format!("{subnet} of network {}", network.name),
                other: format!("{other}, in use on this host (by another data root or the host itself)"),
            });
        }
        *stale = true;
    }
    let ip = network.pool.allocate(id, a.ip, &network.name)?;
    let ip6 = match &mut network.pool6 {
        Some(p6) => Some(p6.allocate(id, a.ip6, &network.name)?),
        None if a.ip6.is_some() => {
            return Err(NetworkError::invalid("--ip6", &a.ip6.expect("some").to_string(), "the network has no IPv6"));
        }
        None => None,
    };
    links::ensure_bridge(&network.bridge, &network.gateway_addresses())?;
    write_sysctl(&format!("/proc/sys/net/ipv4/conf/{}/route_localnet", network.bridge), "1")?;
    if ip6.is_some() {
        write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")?;
    }
    let host_veth = veth_name(id, &network.name);
    let peer = format!("{host_veth}p");
    if let Err(e) = links::veth_into(&host_veth, &peer, &network.bridge, ns) {
        // A veth of this container's last run may still exist: its namespace is gone, but
        // the kernel tears the links of a dead namespace down in the background.
        if !links::exists(&host_veth)? {
            return Err(e);
        }
        links::delete(&host_veth)?;
        links::veth_into(&host_veth, &peer, &network.bridge, ns)?;
    }
    let mut addresses = vec![IpNet::new(ip.into(), network.pool.subnet.prefix_len()).expect("prefix from a subnet")];
    let mut gateways = vec![IpAddr::V4(network.pool.gateway)];
    if let (Some(ip6), Some(p6)) = (ip6, &network.pool6) {
        addresses.push(IpNet::new(ip6.into(), p6.subnet.prefix_len()).expect("prefix from a subnet"));
        gateways.push(IpAddr::V6(p6.gateway));
    }
    if index != 0 || network.internal {
        gateways.clear();
    }
    let inside = links::Inside { ifname: format!("eth{index}"), addresses, gateways, mac: a.mac };
    netns::within(netns_path, move || links::configure_inside(&peer, inside))??;
    let mut aliases = a.aliases.clone();
    if !aliases.contains(&id[..12].to_owned()) {
        aliases.push(id[..12].to_owned());
    }
    Ok(Endpoint {
        container: id.into(),
        name: who.name.into(),
        hostname: who.hostname.into(),
        aliases,
        network: network.name.clone(),
        ip,
        ip6,
        host_veth,
        ports,
        hosts_file: who.hosts_file.to_owned(),
        extra_hosts: who.extra_hosts.to_vec(),
        upstream: who.upstream.to_vec(),
    })
}

impl Networks {
    /// Joins a running container (its namespace at `netns_path`) to one more network.
    pub fn connect(&self, id: &str, attachment: &Attachment, netns_path: &Path) -> Result<Endpoint, NetworkError> {
        let _lock = self.lock()?;
        let mut state = self.load()?;
        let mine: Vec<Endpoint> = state.endpoints.iter().filter(|e| e.container == id).cloned().collect();
        let Some(first) = mine.first() else {
            return Err(NetworkError::invalid("container", id, "it is on no bridge network"));
        };
        let network = find(&state, &attachment.network)?.name.clone();
        if mine.iter().any(|e| e.network == network) {
            return Err(NetworkError::invalid("network", &network, "the container is on it already"));
        }
        self.ensure_dns(&state, [&network])?;
        let ns = File::open(netns_path).map_err(|e| NetworkError::io(netns_path, e))?;
        let who = Who {
            id,
            name: &first.name,
            hostname: &first.hostname,
            hosts_file: &first.hosts_file,
            extra_hosts: &first.extra_hosts,
            upstream: &first.upstream,
        };
        let index = mine.len();
        let endpoint = match join(&mut state, &who, attachment, index, Vec::new(), &ns, netns_path) {
            Ok(e) => e,
            Err(e) => {
                if let Some(n) = state.networks.iter_mut().find(|n| n.name == network) {
                    n.release(id);
                }
                let _ = links::delete(&veth_name(id, &network));
                return Err(e);
            }
        };
        state.endpoints.push(endpoint.clone());
        if state.rules_stale {
            firewall::apply(&self.table, &state.networks, &state.endpoints)?;
            state.rules = RULES;
        }
        self.save(&state)?;
        Ok(endpoint)
    }

    /// Takes a running container off one network (its other networks stay).
    pub fn disconnect(&self, id: &str, network: &str) -> Result<(), NetworkError> {
        let _lock = self.lock()?;
        let mut state = self.load()?;
        let network = find(&state, network)?.name.clone();
        let Some(gone) = state.endpoints.iter().find(|e| e.container == id && e.network == network).cloned() else {
            return Err(NetworkError::invalid("network", &network, "the container is not on it"));
        };
        state.endpoints.retain(|e| !(e.container == id && e.network == network));
        if let Some(n) = state.networks.iter_mut().find(|n| n.name == network) {
            n.release(id);
        }
        links::delete(&gone.host_veth)?;
        if !gone.ports.is_empty() {
            firewall::apply(&self.table, &state.networks, &state.endpoints)?;
        }
        self.save(&state)?;
        write_hosts(&state, id);
        self.stop_dns_if_unused(&state);
        Ok(())
    }
}

fn load(path: &Path) -> Result<State, NetworkError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| NetworkError::Corrupt { path: path.to_owned(), reason: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(NetworkError::io(path, e)),
    }
}

/// The networks and endpoints in `bytes`, the store's file at `path` read without the
/// lock (the file is replaced whole, never written in place): for the DNS server.
pub(crate) fn parse_state(path: &Path, bytes: &[u8]) -> Result<(Vec<Network>, Vec<Endpoint>), NetworkError> {
    if bytes.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let state: State = serde_json::from_slice(bytes)
        .map_err(|e| NetworkError::Corrupt { path: path.to_owned(), reason: e.to_string() })?;
    Ok((state.networks, state.endpoints))
}

fn find<'a>(state: &'a State, name: &str) -> Result<&'a Network, NetworkError> {
    state
        .networks
        .iter()
        .find(|n| n.name == name)
        .or_else(|| if name.len() >= 3 { state.networks.iter().find(|n| n.id.starts_with(name)) } else { None })
        .ok_or_else(|| NetworkError::NoSuchNetwork(name.into()))
}

/// The host side of container `id`'s veth on `network` (15 characters at most).
fn veth_name(id: &str, network: &str) -> String {
    let mut h: u32 = 2166136261;
    for b in network.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(16777619);
    }
    format!("ld{}{:03x}", &id[..8], h & 0xfff)
}

/// Private ranges tried for a network without `--subnet`, as Docker's default pools.
fn candidate_subnets() -> impl Iterator<Item = Ipv4Net> {
    (17..32u8)
        .map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).expect("valid"))
        .chain((0..=255u8).map(|b| Ipv4Net::new(Ipv4Addr::new(192, 168, b, 0), 24).expect("valid")))
}

/// A random unique local IPv6 /64 (RFC 4193: fd00::/8, a 40-bit global id, subnet 0),
/// as Docker picks for `--ipv6` without a subnet.
fn unique_local_subnet() -> Ipv6Net {
    let mut id = [0u8; 5];
    let _ = rustix::rand::getrandom(&mut id, rustix::rand::GetRandomFlags::empty());
    let mut octets = [0u8; 16];
    octets[0] = 0xfd;
    octets[1..6].copy_from_slice(&id);
    Ipv6Net::new(Ipv6Addr::from(octets), 64).expect("valid")
}

/// The ports other data roots publish on this host, read from their tables (named
/// `lindocker*`, see [`names_for`]) in the kernel, in one `nft -j list ruleset inet`.
fn foreign_ports(own: &str) -> Result<Vec<PortMapping>, NetworkError> {
    let text = nftables::helper::get_current_ruleset_raw(nftables::helper::DEFAULT_NFT, ["list", "ruleset", "inet"])
        .map_err(|e| NetworkError::Firewall(format!("cannot list the host's rules: {e}")))?;
    let listing: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| NetworkError::Firewall(format!("nft -j: {e}")))?;
    let objects = listing["nftables"].as_array().map(Vec::as_slice).unwrap_or_default();
    Ok(objects
        .iter()
        .filter_map(|o| o.get("rule"))
        .filter(|r| {
            let table = r["table"].as_str().unwrap_or_default();
            r["chain"] == "output" && table != own && table.starts_with(firewall::TABLE) && firewall::valid_table(table)
        })
        .filter_map(|r| firewall::published_port(&r["expr"]))
        .collect())
}

/// Whether two host addresses of published ports share an address: `0.0.0.0` is every
/// address (IPv4 and IPv6, as Docker's default), `::` every IPv6 one.
fn addresses_overlap(a: IpAddr, b: IpAddr) -> bool {
    let everything = |ip: IpAddr| ip == IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let every_v6 = |ip: IpAddr, other: IpAddr| ip == IpAddr::V6(Ipv6Addr::UNSPECIFIED) && other.is_ipv6();
    a == b || everything(a) || everything(b) || every_v6(a, b) || every_v6(b, a)
}

/// Whether the host could take `port` on `ip` now: a test bind (IPv6 only for an IPv6
/// address, so that it does not collide with an IPv4 socket). `implicit`: `::` as the
/// IPv6 side of `0.0.0.0`, which a host without IPv6 does without.
fn bindable(protocol: Protocol, ip: IpAddr, port: u16, implicit: bool) -> bool {
    use rustix::net::{AddressFamily, SocketType, bind, socket, sockopt};
    let (family, kind) = match (ip, protocol) {
        (IpAddr::V4(_), Protocol::Tcp) => (AddressFamily::INET, SocketType::STREAM),
        (IpAddr::V4(_), Protocol::Udp) => (AddressFamily::INET, SocketType::DGRAM),
        (IpAddr::V6(_), Protocol::Tcp) => (AddressFamily::INET6, SocketType::STREAM),
        (IpAddr::V6(_), Protocol::Udp) => (AddressFamily::INET6, SocketType::DGRAM),
    };
    let fd = match socket(family, kind, None) {
        Ok(fd) => fd,
        // A host without IPv6 (ipv6.disable=1): `0.0.0.0` is its IPv4 side only, as
        // Docker's; a port on `::` or an IPv6 address is refused.
        Err(rustix::io::Errno::AFNOSUPPORT) => return implicit,
        Err(_) => return false,
    };
    if ip.is_ipv6() && sockopt::set_ipv6_v6only(&fd, true).is_err() {
        return false;
    }
    let _ = sockopt::set_socket_reuseaddr(&fd, protocol == Protocol::Tcp);
    bind(&fd, &std::net::SocketAddr::new(ip, port)).is_ok()
}

/// The host addresses a published port takes: its own, and for `0.0.0.0` also `::`
/// (IPv6, through the proxy).
fn host_addresses(ip: IpAddr) -> Vec<IpAddr> {
    if ip == IpAddr::V4(Ipv4Addr::UNSPECIFIED) { vec![ip, IpAddr::V6(Ipv6Addr::UNSPECIFIED)] } else { vec![ip] }
}

/// Checks a host port is free (ours, other data roots' and the host's), or picks one
/// for port 0.
fn reserve_port(state: &State, foreign: &[PortMapping], p: &PortSpec) -> Result<PortMapping, NetworkError> {
    let ours = |port: u16| {
        state
            .endpoints
            .iter()
            .flat_map(|e| &e.ports)
            .chain(foreign)
            .any(|m| m.host_port == port && m.protocol == p.protocol && addresses_overlap(m.host_ip, p.host_ip))
    };
    let implicit = |ip: IpAddr| ip != p.host_ip;
    let busy =
        |port: u16| host_addresses(p.host_ip).into_iter().find(|ip| !bindable(p.protocol, *ip, port, implicit(*ip)));
    let shown = |ip: IpAddr| if ip.is_ipv6() { format!("[{ip}]") } else { ip.to_string() };
    let host_port = if p.host_port == 0 {
        (32768..61000u16)
            .find(|port| !ours(*port) && busy(*port).is_none())
            .ok_or(NetworkError::PortTaken { address: shown(p.host_ip), port: 0 })?
    } else if ours(p.host_port) {
        return Err(NetworkError::PortTaken { address: shown(p.host_ip), port: p.host_port });
    } else if let Some(ip) = busy(p.host_port) {
        return Err(NetworkError::PortTaken { address: shown(ip), port: p.host_port });
    } else {
        p.host_port
    };
    Ok(PortMapping { host_ip: p.host_ip, host_port, container_port: p.container_port, protocol: p.protocol })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_host_addresses_overlap() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(addresses_overlap(ip("0.0.0.0"), ip("::1")));
        assert!(addresses_overlap(ip("::"), ip("::1")));
        assert!(addresses_overlap(ip("::"), ip("0.0.0.0")));
        assert!(!addresses_overlap(ip("::"), ip("127.0.0.1")));
        assert!(!addresses_overlap(ip("::1"), ip("127.0.0.1")));
        assert!(!addresses_overlap(ip("::1"), ip("fd00::1")));
        assert!(addresses_overlap(ip("127.0.0.1"), ip("127.0.0.1")));
    }
}
