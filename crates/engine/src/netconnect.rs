//! `network connect`/`disconnect` of one container: the check, the change to its live
//! network and the record's update happen under the container's lock, so that two of
//! them (or one and a command that changes the record) cannot interleave and leave the
//! record saying something else than what was done.

use std::net::{Ipv4Addr, Ipv6Addr};

use lindocker_network::Attachment;

use crate::events::{Event, EventType};
use crate::record::Status;
use crate::{Engine, EngineError};

/// What `network connect` asks for, its values already typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectRequest {
    /// The network (name or id).
    pub network: String,
    /// The container (name or id).
    pub container: String,
    /// `--ip`: its address on the network.
    pub ip: Option<Ipv4Addr>,
    /// `--ip6`.
    pub ip6: Option<Ipv6Addr>,
    /// `--alias`: more names on the network (checked here, as they come from a client).
    pub aliases: Vec<String>,
}

fn network_error(e: lindocker_network::NetworkError) -> EngineError {
    EngineError::Network(e)
}

impl Engine {
    /// Joins a container to a network: at once if it runs (or is paused), else at its
    /// next start; the record says so either way.
    pub fn connect_network(&self, request: &ConnectRequest) -> Result<(), EngineError> {
        for alias in &request.aliases {
            crate::options::parse_alias("--alias", alias)?;
        }
        let container = &request.container;
        let id = self.records.resolve(container)?;
        // Settled first: settling takes the lock itself.
        self.reconcile(self.records.read(&id)?);
        let _lock = self.records.lock(&id)?;
        let mut record = self.records.read(&id)?;
        if record.network.mode != "bridge" {
            return Err(EngineError::State(format!(
                "container {container} uses --network {}; it cannot join networks",
                record.network.mode
            )));
        }
        let (n, _) = self.networks.inspect(&request.network).map_err(network_error)?;
        let live = matches!(record.state.status, Status::Running | Status::Paused);
        if let Some(wish) = record.network.attachments.iter_mut().find(|a| a.network == n.name) {
            if live {
                return Err(EngineError::State(format!(
                    "container {container} is already connected to network {}",
                    n.name
                )));
            }
            // Not running, the attachment is only a wish, and is updated as dockerd
            // updates a stopped container's endpoint settings: docker-compose connects
            // the networks it created the container with.
            if let Some(ip) = request.ip
                && !n.pool.subnet.contains(&ip)
            {
                return Err(EngineError::Invalid(format!("invalid address {ip}: not in {}", n.pool.subnet)));
            }
            for alias in &request.aliases {
                if !wish.aliases.contains(alias) {
                    wish.aliases.push(alias.clone());
                }
            }
            wish.ip = request.ip.or(wish.ip);
            wish.ip6 = request.ip6.or(wish.ip6);
            self.records.write(&record)?;
            // Best effort: the record is written (a container without its files yet).
            let _ = self.refresh_resolv_conf(&record);
            return Ok(());
        }
        let attachment = Attachment {
            network: n.name.clone(),
            ip: request.ip,
            ip6: request.ip6,
            aliases: request.aliases.clone(),
            mac: None,
        };
        if live {
            self.networks.connect(&id, &attachment, &self.netns_path(&id)).map_err(network_error)?;
        } else if let Some(ip) = request.ip
            && !n.pool.subnet.contains(&ip)
        {
            return Err(EngineError::Invalid(format!("invalid address {ip}: not in {}", n.pool.subnet)));
        }
        record.network.attachments.push(attachment);
        self.records.write(&record)?;
        // Now on a network with names by DNS: its server is the container's (Docker's
        // rebuild of resolv.conf on connect).
        let _ = self.refresh_resolv_conf(&record);
        let attributes = [("container", id.as_str()), ("name", n.name.as_str()), ("type", "bridge")];
        self.events.emit(Event::with(EventType::Network, "connect", &n.id, &attributes));
        Ok(())
    }

    /// Takes a container off a network: at once if it runs (or is paused); the record
    /// forgets it either way.
    pub fn disconnect_network(&self, network: &str, container: &str) -> Result<(), EngineError> {
        let id = self.records.resolve(container)?;
        self.reconcile(self.records.read(&id)?);
        let _lock = self.records.lock(&id)?;
        let mut record = self.records.read(&id)?;
        let (n, _) = self.networks.inspect(network).map_err(network_error)?;
        if !record.network.attachments.iter().any(|a| a.network == n.name) {
            return Err(EngineError::State(format!("container {container} is not connected to network {network}")));
        }
        if matches!(record.state.status, Status::Running | Status::Paused) {
            self.networks.disconnect(&id, &n.name).map_err(network_error)?;
        }
        record.network.attachments.retain(|a| a.network != n.name);
        self.records.write(&record)?;
        // The server of the network it left would refuse it: another network's server,
        // or the resolvers it had before.
        let _ = self.refresh_resolv_conf(&record);
        let attributes = [("container", id.as_str()), ("name", n.name.as_str()), ("type", "bridge")];
        self.events.emit(Event::with(EventType::Network, "disconnect", &n.id, &attributes));
        Ok(())
    }
}
