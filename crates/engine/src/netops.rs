//! Who sets a container's network up. The CLI does it itself ([`Direct`]); the shim,
//! which restarts containers and must stay small beside each of them, asks a helper
//! process, `lindocker network-hook` ([`ViaHelper`]), so it carries no netlink code.

use std::process::{Command, Stdio};

use crate::events::{Event, EventType};
use crate::record::Record;
use crate::{Engine, EngineError};

/// Sets a container's bridge networks up before it starts and tears them down after
/// (the engine itself handles `host`, `container:` and `none`).
pub trait NetworkOps: Send + Sync + std::fmt::Debug {
    /// Namespace, links, addresses, rules, names.
    fn attach(&self, engine: &Engine, record: &Record) -> Result<(), EngineError>;
    /// Undoes `attach`; harmless if nothing is attached.
    fn detach(&self, engine: &Engine, record: &Record);
}

/// In this process, through lindocker-network.
#[derive(Debug)]
pub struct Direct;

impl NetworkOps for Direct {
    fn attach(&self, engine: &Engine, record: &Record) -> Result<(), EngineError> {
        let n = &record.network;
        let hosts = engine.paths(&record.id).hosts();
        let mut extra_hosts = n.extra_hosts.clone();
        extra_hosts.extend(engine.link_hosts(record)?);
        engine
            .networks
            .attach(
                &record.id,
                &record.name,
                &record.config.hostname,
                &n.attachments,
                &n.ports,
                &engine.netns_path(&record.id),
                &hosts,
                &extra_hosts,
                &n.dns.iter().filter_map(|d| d.parse().ok()).collect::<Vec<std::net::IpAddr>>(),
            )
            .map(|endpoints| network_events(engine, record, "connect", &endpoints))
            .map_err(EngineError::from)
    }

    fn detach(&self, engine: &Engine, record: &Record) {
        let gone = engine.networks.endpoints_of(&record.id).unwrap_or_default();
        if engine.networks.detach(&record.id, &engine.netns_path(&record.id)).is_ok() {
            network_events(engine, record, "disconnect", &gone);
        }
    }
}

/// Journals Docker's `network connect`/`disconnect` of `record` for each endpoint.
fn network_events(engine: &Engine, record: &Record, action: &str, endpoints: &[lindocker_network::Endpoint]) {
    if endpoints.is_empty() {
        return;
    }
    let networks = engine.networks.list().unwrap_or_default();
    for e in endpoints {
        let id = networks.iter().find(|n| n.name == e.network).map_or(e.network.as_str(), |n| n.id.as_str());
        let attributes = [("container", record.id.as_str()), ("name", e.network.as_str()), ("type", "bridge")];
        engine.events.emit(Event::with(EventType::Network, action, id, &attributes));
    }
}

/// By running `lindocker network-hook attach|detach ID`, installed beside the shim.
#[derive(Debug)]
pub struct ViaHelper;

impl ViaHelper {
    fn run(engine: &Engine, verb: &str, id: &str) -> Result<(), EngineError> {
        let lindocker = engine.cli_binary();
        let out = Command::new(&lindocker)
            .arg("--root")
            .arg(&engine.root)
            .arg("--state")
            .arg(&engine.state)
            .arg("--cgroup-parent")
            .arg(&engine.cgroup_parent)
            .args(["network-hook", verb, id])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| EngineError::io(&lindocker, e))?;
        if out.status.success() {
            Ok(())
        } else {
            let text = String::from_utf8_lossy(&out.stderr);
            Err(EngineError::NetworkHelper {
                kind: crate::ErrorKind::from_exit_code(out.status.code()),
                message: text.trim().trim_start_matches("Error: ").to_owned(),
            })
        }
    }
}

impl NetworkOps for ViaHelper {
    fn attach(&self, engine: &Engine, record: &Record) -> Result<(), EngineError> {
        Self::run(engine, "attach", &record.id)
    }

    fn detach(&self, engine: &Engine, record: &Record) {
        let _ = Self::run(engine, "detach", &record.id);
    }
}
