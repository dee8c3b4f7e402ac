//! `wait --condition`: Docker's three things to wait for. `not-running` returns at once
//! for a container that does not run; `next-exit` waits for the next exit even of one
//! that does not run now; `removed` waits until the container is gone.
//!
//! Daemonless, there is nobody to tell us: the record is read again every 50 ms (cheap:
//! two small files), and a live container's shim is asked for its exit as well, since a
//! `--rm` container's last exit code is never written to its record.

use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::Duration;

use crate::attach::{Kind, read_frame};
use crate::{Engine, EngineError};

/// What `wait` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitCondition {
    /// The container does not run (at once if it does not run now).
    #[default]
    NotRunning,
    /// The container's next exit.
    NextExit,
    /// The container's removal.
    Removed,
}

impl std::str::FromStr for WaitCondition {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<WaitCondition, EngineError> {
        match s {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(EngineError::BadOption {
                option: "--condition".into(),
                value: other.into(),
                reason: "expected not-running, next-exit or removed".into(),
            }),
        }
    }
}

/// How often the record is read again.
const POLL: Duration = Duration::from_millis(50);
/// How often a wait looks at a container that is not running, for its first second.
const SOON: Duration = Duration::from_millis(2);
/// For at most a second.
const SOON_TRIES: u32 = 500;
/// How long a shim may take to report an exit after the container's record is gone.
const SHIM_LAST_WORD: Duration = Duration::from_secs(5);

impl Engine {
    /// Waits for `condition`; returns the container's (last) exit code.
    pub fn wait_for(&self, id: &str, condition: WaitCondition) -> Result<i32, EngineError> {
        if condition == WaitCondition::NotRunning {
            return self.wait(id);
        }
        Ok(self.wait_for_while(id, condition, &|| true)?.expect("a wait that never gives up ends with a code"))
    }

    /// As [`Engine::wait_for`], for a waiter that may go away (an API client that
    /// disconnects): `wanted` is asked every 50 ms, and once it says no the wait ends
    /// (`Ok(None)`) with its thread and its connection to the shim, not at the exit,
    /// hours later.
    pub fn wait_for_while(
        &self,
        id: &str,
        condition: WaitCondition,
        wanted: &dyn Fn() -> bool,
    ) -> Result<Option<i32>, EngineError> {
        if condition == WaitCondition::NotRunning {
            return self.wait_while(id, wanted);
        }
        let first = self.reconcile(self.records.read(id)?);
        let seen = first.state.finished_at.clone();
        let mut last_code = first.state.exit_code;
        // The shim's word on the exit, from a thread that reads its frames (ended by the
        // guard's shutdown of its connection when the wait ends first).
        let mut shim: Option<(mpsc::Receiver<Option<i32>>, ShutOnDrop)> = None;
        let mut shim_code = None;
        let mut soon_left = SOON_TRIES;
        loop {
            let record = match self.records.read(id) {
                Ok(record) => Some(self.reconcile(record)),
                Err(EngineError::NoSuchContainer(_)) => None,
                Err(e) => return Err(e),
            };
            let Some(record) = record else {
                // A `--rm` container is gone before its shim tells its exit code.
                if let Some((rx, _guard)) = shim.take()
                    && let Ok(Some(code)) = rx.recv_timeout(SHIM_LAST_WORD)
                {
                    shim_code = Some(code);
                }
                return match condition {
                    WaitCondition::Removed => Ok(Some(shim_code.unwrap_or(last_code))),
                    _ => shim_code.map(Some).ok_or_else(|| EngineError::NoSuchContainer(id.into())),
                };
            };
            let state = &record.state;
            if condition == WaitCondition::NextExit && state.finished_at.is_some() && state.finished_at != seen {
                return Ok(Some(state.exit_code));
            }
            if !wanted() {
                return Ok(None);
            }
            if !state.status.is_live() {
                last_code = state.exit_code;
            }
            if shim.is_none()
                && state.status.is_live()
                && let Ok(stream) = lindocker_runtime::socket_path::connect(&self.attach_socket(id))
            {
                let guard = ShutOnDrop(stream.try_clone().map_err(|e| EngineError::io(&self.attach_socket(id), e))?);
                shim = Some((watch_exit(stream), guard));
            }
            match shim.as_ref().map(|(rx, _)| rx.recv_timeout(POLL)) {
                Some(Ok(code)) => {
                    shim = None;
                    if let Some(code) = code {
                        if condition == WaitCondition::NextExit {
                            return Ok(Some(code));
                        }
                        shim_code = Some(code);
                    }
                }
                Some(Err(mpsc::RecvTimeoutError::Timeout)) => {}
                Some(Err(mpsc::RecvTimeoutError::Disconnected)) => shim = None,
                // Not running: a client that waits before it starts the container (the
                // docker CLI's `run`) starts it at once, and an `--rm` container's removal
                // follows its exit within milliseconds. Either is looked for as often for
                // the first second, then every 50 ms.
                None if soon_left > 0 && (shim_code.is_some() || !state.status.is_live()) => {
                    soon_left -= 1;
                    std::thread::sleep(SOON)
                }
                None => std::thread::sleep(POLL),
            }
        }
    }
}

impl Engine {
    /// As [`Engine::wait`], until `wanted` says no (`Ok(None)`): the shim's frames are
    /// read as they come, `wanted` asked between them and every 50 ms.
    fn wait_while(&self, id: &str, wanted: &dyn Fn() -> bool) -> Result<Option<i32>, EngineError> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let record = self.reconcile(self.records.read(id)?);
        if record.state.status.is_live()
            && let Ok(mut stream) = lindocker_runtime::socket_path::connect(&self.attach_socket(id))
        {
            let tick = Timespec { tv_sec: 0, tv_nsec: POLL.as_nanos() as i64 };
            loop {
                if !wanted() {
                    return Ok(None);
                }
                match poll(&mut [PollFd::new(&stream, PollFlags::IN)], Some(&tick)) {
                    Ok(0) | Err(rustix::io::Errno::INTR) => continue,
                    Ok(_) => {}
                    Err(_) => break,
                }
                match read_frame(&mut stream) {
                    Ok(Some((Kind::Exit, payload))) => {
                        return Ok(Some(String::from_utf8_lossy(&payload).parse().unwrap_or(255)));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        }
        // The shim is gone: the record has the last word.
        let record = self.reconcile(self.records.read(id).map_err(|_| EngineError::NoSuchContainer(id.into()))?);
        Ok(Some(record.state.exit_code))
    }
}

/// A second handle on a shim connection that a thread reads: dropping it shuts the
/// connection down, so that the thread's read ends.
struct ShutOnDrop(UnixStream);

impl Drop for ShutOnDrop {
    fn drop(&mut self) {
        let _ = self.0.shutdown(std::net::Shutdown::Both);
    }
}

/// Reads a shim's frames in a thread of its own; sends the exit code it reports, or
/// `None` if it goes away without one.
fn watch_exit(mut stream: UnixStream) -> mpsc::Receiver<Option<i32>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let code = loop {
            match read_frame(&mut stream) {
                Ok(Some((Kind::Exit, payload))) => break String::from_utf8_lossy(&payload).parse().ok(),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break None,
            }
        };
        let _ = tx.send(code);
    });
    rx
}
