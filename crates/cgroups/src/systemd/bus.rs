//! systemd's D-Bus API, the few calls a container's unit needs: start a transient unit,
//! change its properties, stop it, each waited for until its job is done.
//!
//! Connected on the system bus, as runc and crun do. The connection runs a thread of its
//! own: the runtime connects only after it has cloned the container's process (a clone
//! of a multi-threaded process may inherit a lock another thread held).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use zbus::blocking::{Connection, MessageIterator};
use zbus::zvariant::{self, OwnedObjectPath};

use super::properties::{Property, Value};
use crate::{Error, Result};

const DESTINATION: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const JOB_REMOVED: &str = "type='signal',sender='org.freedesktop.systemd1',path='/org/freedesktop/systemd1',\
interface='org.freedesktop.systemd1.Manager',member='JobRemoved'";

/// How long systemd may take for a job (runc waits 30 s too).
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to systemd (PID 1) over the system bus.
pub struct Systemd {
    conn: Connection,
}

/// A job's `JobRemoved` signal: its object path and result (`done`, `failed`, ...).
type JobResult = (OwnedObjectPath, String);

fn err(what: impl std::fmt::Display) -> impl FnOnce(zbus::Error) -> Error {
    let what = what.to_string();
    move |e| Error::Systemd(format!("{what}: {e}"))
}

/// The D-Bus error name of a failed call, e.g. `org.freedesktop.systemd1.NoSuchUnit`.
fn error_name(e: &zbus::Error) -> Option<&str> {
    match e {
        zbus::Error::MethodError(name, _, _) => Some(name.as_str()),
        _ => None,
    }
}

fn to_variant(v: &Value) -> zvariant::Value<'_> {
    match v {
        Value::Str(s) => zvariant::Value::from(s.as_str()),
        Value::Strs(v) => zvariant::Value::from(v.iter().map(String::as_str).collect::<Vec<_>>()),
        Value::Bool(b) => zvariant::Value::from(*b),
        Value::U64(n) => zvariant::Value::from(*n),
        Value::U32s(v) => zvariant::Value::from(v.clone()),
        Value::Bytes(v) => zvariant::Value::from(v.clone()),
    }
}

fn variants(props: &[Property]) -> Vec<(&str, zvariant::Value<'_>)> {
    props.iter().map(|(name, v)| (*name, to_variant(v))).collect()
}

impl Systemd {
    /// Connects to systemd on the system bus.
    pub fn connect() -> Result<Systemd> {
        let conn = Connection::system().map_err(err("connect to the D-Bus system bus (to reach systemd)"))?;
        Ok(Systemd { conn })
    }

    fn call<B>(&self, method: &str, body: &B) -> zbus::Result<zbus::Message>
    where
        B: serde::Serialize + zvariant::DynamicType,
    {
        self.conn.call_method(Some(DESTINATION), PATH, Some(MANAGER), method, body)
    }

    /// systemd's version number (`252` of `252.36-1~deb12u1`).
    pub fn version(&self) -> Result<u32> {
        let reply = self
            .conn
            .call_method(Some(DESTINATION), PATH, Some("org.freedesktop.DBus.Properties"), "Get", &(MANAGER, "Version"))
            .map_err(err("read systemd's version"))?;
        let value: zvariant::OwnedValue = reply.body().deserialize().map_err(err("read systemd's version"))?;
        let text: String =
            value.try_into().map_err(|e: zvariant::Error| Error::Systemd(format!("systemd's version: {e}")))?;
        let digits: String = text.trim_start_matches(['"', 'v']).chars().take_while(char::is_ascii_digit).collect();
        digits.parse().map_err(|_| Error::Systemd(format!("systemd's version {text:?} is not a number")))
    }

    /// Listens for finished jobs (before a job is made, so that its end cannot be missed).
    fn job_listener(&self) -> Result<mpsc::Receiver<JobResult>> {
        let iter = MessageIterator::for_match_rule(JOB_REMOVED, &self.conn, Some(256))
            .map_err(err("listen for systemd's JobRemoved signal"))?;
        // On the system bus systemd signals only to subscribers.
        self.call("Subscribe", &()).map_err(err("subscribe to systemd's signals"))?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for msg in iter.flatten() {
                let body = msg.body().deserialize::<(u32, OwnedObjectPath, String, String)>();
                if let Ok((_, job, _, result)) = body
                    && tx.send((job, result)).is_err()
                {
                    return;
                }
            }
        });
        Ok(rx)
    }

    /// Waits for `job` to finish; returns its result.
    fn wait(jobs: &mpsc::Receiver<JobResult>, job: &OwnedObjectPath, unit: &str) -> Result<String> {
        let deadline = Instant::now() + JOB_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match jobs.recv_timeout(left) {
                Ok((j, result)) if &j == job => return Ok(result),
                Ok(_) => continue,
                Err(_) => {
                    return Err(Error::Systemd(format!(
                        "timed out after {}s waiting for systemd's job on unit {unit}",
                        JOB_TIMEOUT.as_secs()
                    )));
                }
            }
        }
    }

    /// Starts transient unit `name` with `props` and waits until it runs. A failed unit
    /// of that name left from before is reset and the start retried once (as runc does).
    pub fn start_transient_unit(&self, name: &str, props: &[Property]) -> Result<()> {
        let jobs = self.job_listener()?;
        let aux: Vec<(&str, Vec<(&str, zvariant::Value<'_>)>)> = Vec::new();
        let body = (name, "replace", variants(props), aux);
        let reply = match self.call("StartTransientUnit", &body) {
            Err(e) if error_name(&e) == Some("org.freedesktop.systemd1.UnitExists") => {
                self.reset_failed(name);
                self.call("StartTransientUnit", &body)
            }
            other => other,
        }
        .map_err(err(format!("start systemd unit {name}")))?;
        let job: OwnedObjectPath = reply.body().deserialize().map_err(err(format!("start systemd unit {name}")))?;
        let result = Self::wait(&jobs, &job, name)?;
        if result != "done" {
            self.reset_failed(name);
            return Err(Error::Systemd(format!("systemd could not start unit {name}: job {result}")));
        }
        Ok(())
    }

    /// Changes properties of a running unit (for its lifetime, not persistently).
    pub fn set_unit_properties(&self, name: &str, props: &[Property]) -> Result<()> {
        self.call("SetUnitProperties", &(name, true, variants(props)))
            .map(drop)
            .map_err(err(format!("set properties of systemd unit {name}")))
    }

    /// Stops unit `name` and waits until it is gone; a unit systemd no longer has (a
    /// scope ends by itself once its processes have) is no error.
    pub fn stop_unit(&self, name: &str) -> Result<()> {
        let jobs = self.job_listener()?;
        match self.call("StopUnit", &(name, "replace")) {
            Ok(reply) => {
                let job: OwnedObjectPath =
                    reply.body().deserialize().map_err(err(format!("stop systemd unit {name}")))?;
                Self::wait(&jobs, &job, name)?;
            }
            Err(e) if error_name(&e) == Some("org.freedesktop.systemd1.NoSuchUnit") => {}
            Err(e) => return Err(err(format!("stop systemd unit {name}"))(e)),
        }
        // A unit that failed stays loaded until reset.
        self.reset_failed(name);
        Ok(())
    }

    fn reset_failed(&self, name: &str) {
        let _ = self.call("ResetFailedUnit", &(name,));
    }
}
