//! The first command after a boot does what a daemon would do when it starts.
//!
//! lindocker has no daemon, so nothing of it runs when the machine comes up. Instead the
//! first CLI command of each boot (told apart by the kernel's boot id, kept in
//! `<state>/boot-id`; `<state>` is on tmpfs, so a reboot empties it anyway) settles what
//! the reboot left, as dockerd does when it starts: containers whose shim died with the
//! machine are marked exited, `--rm` ones and records torn by the crash are removed, and
//! containers whose restart policy asks for it are started again. `lindocker system boot`
//! runs the same step, for an init system to call at boot.

use std::fs;
use std::path::PathBuf;

use lindocker_sys::atomic::{AtomicWrite, Durability};

use crate::options::RestartPolicy;
use crate::record::Record;
use crate::{Engine, EngineError};

const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// What recovery after a boot did.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Containers started again by their restart policy.
    pub restarted: Vec<String>,
    /// Containers removed: `--rm` ones that were running, and torn records.
    pub removed: Vec<String>,
    /// Containers whose restart failed, with the reason.
    pub failed: Vec<(String, String)>,
}

impl Engine {
    fn boot_marker(&self) -> PathBuf {
        self.state.join("boot-id")
    }

    /// Whether this boot has not been settled yet (one small read when it has).
    pub fn needs_boot_recovery(&self) -> bool {
        let now = fs::read_to_string(BOOT_ID).unwrap_or_default();
        fs::read_to_string(self.boot_marker()).map_or(true, |seen| seen != now)
    }

    /// Settles what the last boot left (see the module's documentation), once per boot:
    /// concurrent callers wait for the first, then find nothing to do.
    pub fn recover_after_boot(&self) -> Result<Recovery, EngineError> {
        let mut done = Recovery::default();
        if !self.needs_boot_recovery() {
            return Ok(done);
        }
        let lock = crate::record::lock_file(&self.root.join("boot.lock"))?;
        if !self.needs_boot_recovery() {
            return Ok(done);
        }
        let mut to_start = Vec::new();
        for (id, record) in self.records_and_wrecks()? {
            let Some(record) = record else {
                self.remove_torn(&id);
                done.removed.push(id);
                continue;
            };
            let was_live = record.state.status.is_live();
            let (record, settled) = self.stop_tracking(record);
            // `--rm` ones the crash ended, running or being started.
            if (was_live || settled.is_some()) && record.host_config.auto_remove {
                let _ = self.remove_now(&record, true);
                done.removed.push(record.name);
            } else if restarts_at_boot(&record, was_live) {
                to_start.push(record);
            }
        }
        let now = fs::read_to_string(BOOT_ID).unwrap_or_default();
        let marker = self.boot_marker();
        AtomicWrite::new(Durability::CrashSafe)
            .write(&marker, now.as_bytes())
            .map_err(|e| EngineError::io(&marker, e))?;
        drop(lock);
        for record in to_start {
            match self.start(&record.id).map(|mut s| Engine::wait_started(&mut s)) {
                Ok(Ok(())) => done.restarted.push(record.name),
                Ok(Err((message, _))) => done.failed.push((record.name, message)),
                Err(e) => done.failed.push((record.name, e.to_string())),
            }
        }
        Ok(done)
    }

    /// Every container directory, with its record or `None` if the record is torn.
    fn records_and_wrecks(&self) -> Result<Vec<(String, Option<Record>)>, EngineError> {
        let dir = self.root.join("containers");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| EngineError::io(&dir, e))?.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                let record = self.records.read(&id).ok();
                out.push((id, record));
            }
        }
        Ok(out)
    }

    /// Removes a container whose record a crash tore (or never wrote): its mount,
    /// directory and names.
    fn remove_torn(&self, id: &str) {
        self.clear_wreck(id);
        for (name, owner) in self.records.names() {
            if owner == id {
                self.records.release_name(&name, id);
            }
        }
    }
}

/// Docker's rule when its daemon starts: `always` comes back, `unless-stopped` unless the
/// user stopped it, `on-failure` if the crash ended it (and retries are left). Only
/// containers that ran before.
pub(crate) fn restarts_at_boot(record: &Record, was_live: bool) -> bool {
    let st = &record.state;
    st.started_at.is_some()
        && match record.host_config.restart {
            RestartPolicy::No => false,
            RestartPolicy::Always => true,
            RestartPolicy::UnlessStopped => !st.stopped_by_user,
            RestartPolicy::OnFailure(max) => was_live && (max == 0 || st.restart_count < max),
        }
}
