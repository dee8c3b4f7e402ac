//! Reading a container's log as `logs` does: the last N entries, a time window,
//! following until the container ends; one loop for the CLI and the API.

use std::time::{Duration, SystemTime};

use crate::logs::{Entry, entry_time};
use crate::record::Record;
use crate::{Engine, EngineError};

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Only the last N entries.
    pub tail: Option<usize>,
    /// Only entries at or after this time.
    pub since: Option<SystemTime>,
    /// Only entries up to this time (following stops once it has passed).
    pub until: Option<SystemTime>,
    /// Keep reading new entries until the container ends.
    pub follow: bool,
}

/// How often a follower looks for new entries.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

impl Engine {
    /// Gives each selected entry to `each`, and calls `flush` after each batch; either
    /// returning `false` (the reader went away) ends the reading. Streamed with bounded
    /// memory: never the whole log at once.
    pub fn read_logs(
        &self,
        record: &Record,
        options: &LogOptions,
        mut each: impl FnMut(Entry) -> bool,
        mut flush: impl FnMut() -> bool,
    ) -> Result<(), EngineError> {
        let mut reader = self.log_reader(record, options.tail)?;
        let past_until = std::cell::Cell::new(false);
        let gone = std::cell::Cell::new(false);
        let mut take = |e: Entry| {
            if gone.get() {
                return;
            }
            let time = entry_time(&e);
            if options.since.is_some_and(|since| time < since) {
                return;
            }
            if options.until.is_some_and(|until| time > until) {
                past_until.set(true);
                return;
            }
            gone.set(!each(e));
        };
        reader.read_new(&mut take);
        if gone.get() || !flush() {
            return Ok(());
        }
        if !options.follow {
            return Ok(());
        }
        loop {
            let live = self.records.read(&record.id).map(|r| self.reconcile(r).state.status.is_live()).unwrap_or(false);
            std::thread::sleep(FOLLOW_POLL);
            reader.read_new(&mut take);
            if gone.get() || !flush() {
                return Ok(());
            }
            // Following ends with the container, or once `until` has passed.
            if !live || past_until.get() || options.until.is_some_and(|until| SystemTime::now() > until) {
                return Ok(());
            }
        }
    }
}
