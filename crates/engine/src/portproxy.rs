//! The userland proxy of a container's ports published on IPv6 (`lindocker-proxy`, see
//! `lindocker_network::proxy`): started by the shim after the network is attached, for
//! each start, and ended before it is detached; a child of the shim that dies with it.

use std::io::BufRead;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};

use rustix::process::{Pid, PidfdFlags, Signal, WaitOptions, pidfd_open, pidfd_send_signal, waitpid};

use crate::record::Record;
use crate::{Engine, EngineError};

/// A running proxy; dropping it ends it.
#[derive(Debug)]
pub struct PortProxy {
    pid: Pid,
    pidfd: OwnedFd,
}

impl Drop for PortProxy {
    fn drop(&mut self) {
        // Through its pidfd: the shim's reaping loop may have collected it already, and
        // its pid could be someone else's then.
        let _ = pidfd_send_signal(&self.pidfd, Signal::KILL);
        let _ = waitpid(Some(self.pid), WaitOptions::empty());
    }
}

/// Starts the proxy for `record`'s ports published on IPv6, if it has any; returns once
/// it listens, or the reason it could not (a port taken meanwhile).
pub fn start(engine: &Engine, record: &Record) -> Result<Option<PortProxy>, EngineError> {
    let endpoints = engine.networks.endpoints_of(&record.id)?;
    let forwards = lindocker_network::proxy::forwards(&endpoints);
    if forwards.is_empty() {
        return Ok(None);
    }
    let binary = engine.self_exe.with_file_name(lindocker_network::proxy::BINARY);
    let me = rustix::process::getpid().as_raw_nonzero().get().to_string();
    let mut child = Command::new(&binary)
        .arg(me)
        .args(forwards.iter().flat_map(|f| f.to_args()))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| EngineError::io(&binary, e))?;
    let mut line = String::new();
    let out = child.stdout.take().expect("piped");
    let _ = std::io::BufReader::new(out).read_line(&mut line);
    let pid = Pid::from_raw(child.id() as i32).expect("a child's pid");
    if line != "ready\n" {
        let _ = child.kill();
        let _ = child.wait();
        let why = line.trim();
        return Err(EngineError::Invalid(if why.is_empty() {
            "the port proxy did not start".into()
        } else {
            why.into()
        }));
    }
    // Alive (it just answered, and only we reap it): the pidfd is its own.
    let pidfd = pidfd_open(pid, PidfdFlags::empty()).map_err(|e| EngineError::io(&binary, e.into()))?;
    Ok(Some(PortProxy { pid, pidfd }))
}
