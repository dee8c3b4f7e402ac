//! Container operations made of the lifecycle's steps, for every front end: finding a
//! container by name, `restart` and `container prune`.

use crate::events::Event;
use crate::record::Record;
use crate::{Engine, EngineError};

impl Engine {
    /// The container `name_or_id` names (a name, a full id or a unique prefix), settled
    /// (see [`Engine::settle`]): a `--rm` container that settling removed is no more.
    pub fn find_container(&self, name_or_id: &str) -> Result<Record, EngineError> {
        let id = self.records.resolve(name_or_id)?;
        self.settle(self.records.read(&id)?).ok_or_else(|| EngineError::NoSuchContainer(name_or_id.into()))
    }

    /// `restart`: [`Engine::stop`] (the stop signal, SIGKILL after `timeout` seconds,
    /// the container's own stop timeout if `None`), then a start, waited for.
    ///
    /// No lock spans the two: the shim writes the container's end under its lock
    /// between them.
    pub fn restart(&self, id: &str, timeout: Option<u32>) -> Result<(), EngineError> {
        let record = self.reconcile(self.records.read(id)?);
        self.stop(&record.id, timeout)?;
        let mut stream = self.start(&record.id)?;
        Engine::wait_started(&mut stream).map_err(|(message, code)| EngineError::StartFailed { message, code })?;
        self.events.emit(Event::container(&record, "restart", &[]));
        Ok(())
    }

    /// `container prune`: every container that is not running (and what crashes left
    /// of containers) removed; their ids.
    pub fn prune_containers(&self) -> Result<Vec<String>, EngineError> {
        let mut freed = self.sweep_wrecks();
        for record in self.records.all()? {
            let Some(record) = self.settle(record) else { continue };
            if !record.state.status.is_live() {
                self.remove(&record.id, false, false)?;
                freed.push(record.id);
            }
        }
        Ok(freed)
    }
}
