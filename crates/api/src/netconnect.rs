//! Network connect and disconnect for the API, making the calls the CLI's `network
//! connect/disconnect` makes. TEMPORARY: the engine gets its own typed connect and
//! disconnect (under the container lock) in another branch; at the merge these two
//! functions become calls to it and this file goes.

use lindocker_engine::record::Status;
use lindocker_engine::{Engine, EngineError};
use lindocker_network::Attachment;

use crate::error::{ApiError, ApiResult};
use crate::filter_map::engine_error;

/// Joins `container` to `network` (at once if it runs).
pub fn connect(
    engine: &Engine,
    network: &str,
    container: &str,
    ip: Option<std::net::Ipv4Addr>,
    ip6: Option<std::net::Ipv6Addr>,
    aliases: Vec<String>,
) -> ApiResult<()> {
    let id = engine.records.resolve(container).map_err(engine_error)?;
    let record = engine.reconcile(engine.records.read(&id).map_err(engine_error)?);
    if record.network.mode != "bridge" {
        return Err(ApiError::bad(format!(
            "container {container} uses --network {}; it cannot join networks",
            record.network.mode
        )));
    }
    let (n, _) = engine.networks.inspect(network).map_err(|e| engine_error(EngineError::Net(e)))?;
    let running = matches!(record.state.status, Status::Running | Status::Paused);
    if record.network.attachments.iter().any(|a| a.network == n.name) {
        if running {
            return Err(ApiError::conflict(format!(
                "container {container} is already connected to network {}",
                n.name
            )));
        }
        // Not running: the attachment is only a wish in the record. docker-compose
        // connects the networks it created the container with (it reads `inspect`, which
        // lists live endpoints only), so this updates the wish instead of refusing.
        if let Some(ip) = ip
            && !n.pool.subnet.contains(&ip)
        {
            return Err(ApiError::bad(format!("invalid address {ip}: not in {}", n.pool.subnet)));
        }
        engine
            .records
            .update(&id, |r| {
                if let Some(a) = r.network.attachments.iter_mut().find(|a| a.network == n.name) {
                    for alias in aliases {
                        if !a.aliases.contains(&alias) {
                            a.aliases.push(alias);
                        }
                    }
                    a.ip = ip.or(a.ip);
                    a.ip6 = ip6.or(a.ip6);
                }
            })
            .map_err(engine_error)?;
        return Ok(());
    }
    let attachment = Attachment { network: n.name.clone(), ip, ip6, aliases, mac: None };
    if running {
        engine
            .networks
            .connect(&id, &attachment, &engine.netns_path(&id))
            .map_err(|e| engine_error(EngineError::Net(e)))?;
    } else if let Some(ip) = ip
        && !n.pool.subnet.contains(&ip)
    {
        return Err(ApiError::bad(format!("invalid address {ip}: not in {}", n.pool.subnet)));
    }
    engine.records.update(&id, |r| r.network.attachments.push(attachment)).map_err(engine_error)?;
    engine.network_event("connect", &n.id, &[("container", &id), ("name", &n.name), ("type", "bridge")]);
    Ok(())
}

/// Takes `container` off `network` (at once if it runs).
pub fn disconnect(engine: &Engine, network: &str, container: &str) -> ApiResult<()> {
    let id = engine.records.resolve(container).map_err(engine_error)?;
    let record = engine.reconcile(engine.records.read(&id).map_err(engine_error)?);
    let (n, _) = engine.networks.inspect(network).map_err(|e| engine_error(EngineError::Net(e)))?;
    if !record.network.attachments.iter().any(|a| a.network == n.name) {
        return Err(ApiError::conflict(format!("container {container} is not connected to network {network}")));
    }
    if matches!(record.state.status, Status::Running | Status::Paused) {
        engine.networks.disconnect(&id, &n.name).map_err(|e| engine_error(EngineError::Net(e)))?;
    }
    engine.records.update(&id, |r| r.network.attachments.retain(|a| a.network != n.name)).map_err(engine_error)?;
    engine.network_event("disconnect", &n.id, &[("container", &id), ("name", &n.name), ("type", "bridge")]);
    Ok(())
}
