//! What the server keeps of root's powers: it parses packets from containers, so it
//! keeps only `CAP_NET_BIND_SERVICE` (port 53 for a network made later), in every set
//! and the bounding set, and sets no_new_privs. It stays uid 0 to read the store's files
//! (root's, 0600-able) as their owner, without `CAP_DAC_OVERRIDE`.

use std::collections::HashSet;

use caps::{CapSet, Capability};

/// Drops every capability but `CAP_NET_BIND_SERVICE`, for good.
pub fn confine() -> Result<(), String> {
    let keep = Capability::CAP_NET_BIND_SERVICE;
    for cap in caps::all() {
        if cap != keep {
            caps::drop(None, CapSet::Bounding, cap).map_err(|e| format!("bounding set: {e}"))?;
        }
    }
    let only: HashSet<Capability> = [keep].into();
    caps::clear(None, CapSet::Ambient).map_err(|e| format!("ambient set: {e}"))?;
    caps::clear(None, CapSet::Inheritable).map_err(|e| format!("inheritable set: {e}"))?;
    caps::set(None, CapSet::Effective, &only).map_err(|e| format!("effective set: {e}"))?;
    caps::set(None, CapSet::Permitted, &only).map_err(|e| format!("permitted set: {e}"))?;
    rustix::thread::set_no_new_privs(true).map_err(|e| format!("no_new_privs: {e}"))?;
    Ok(())
}
