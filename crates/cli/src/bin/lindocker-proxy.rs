//! `lindocker-proxy`: the userland proxy of one container's ports published on IPv6
//! (see `lindocker_network::proxy`). Started by the container's shim, never by hand; it
//! dies with the shim (a parent-death signal), so nothing listens once the shim is gone.
//!
//! Usage (by the shim only): `lindocker-proxy SHIM_PID (tcp|udp LISTEN TARGET)...`.
//! It prints `ready` once every socket is bound, or the reason it could not bind one.

use std::io::Write;
use std::process::ExitCode;

use lindocker_network::{dns, proxy};

fn fail(message: &str) -> ExitCode {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{message}").and_then(|()| out.flush());
    ExitCode::from(1)
}

fn main() -> ExitCode {
    // Nothing of the shim's or the engine's (their pipes, sockets) stays reachable here:
    // every descriptor but stdio goes before anything else is opened.
    if let Err(e) = lindocker_sys::close_fds_from(3, &[]) {
        return fail(&format!("lindocker-proxy: cannot close inherited descriptors: {e}"));
    }
    // Each relayed connection takes two descriptors: the soft limit a service usually
    // gets (1024) would run out before `MAX_TCP` connections; the hard one is allowed.
    let nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    if nofile.current < nofile.maximum {
        let raised = rustix::process::Rlimit { current: nofile.maximum, maximum: nofile.maximum };
        let _ = rustix::process::setrlimit(rustix::process::Resource::Nofile, raised);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((parent, rest)) = args.split_first() else {
        return fail("usage: lindocker-proxy SHIM_PID (tcp|udp LISTEN TARGET)... (started by lindocker-shim)");
    };
    // Gone with the shim, even if it was killed: and if it died before this was set,
    // our parent is someone else already.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let parent_now = rustix::process::getppid().map(|p| p.as_raw_nonzero().get().to_string());
    if parent_now.as_deref() != Some(parent.as_str()) {
        return fail("lindocker-proxy: the shim that started it is gone");
    }
    if rest.is_empty() || rest.len() % 3 != 0 {
        return fail("usage: lindocker-proxy SHIM_PID (tcp|udp LISTEN TARGET)...");
    }
    let forwards: Result<Vec<_>, _> = rest.chunks(3).map(proxy::Forward::from_args).collect();
    let bound = match forwards.and_then(|f| proxy::bind(&f)) {
        Ok(b) => b,
        Err(e) => return fail(&e),
    };
    // It relays what clients and containers send: nothing of root's powers is left.
    if let Err(e) = dns::confine::drop_all() {
        return fail(&format!("lindocker-proxy: cannot confine itself: {e}"));
    }
    // The change of user cleared the parent-death signal: again, and the shim checked
    // again (it may have died in between).
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let parent_now = rustix::process::getppid().map(|p| p.as_raw_nonzero().get().to_string());
    if parent_now.as_deref() != Some(parent.as_str()) {
        return fail("lindocker-proxy: the shim that started it is gone");
    }
    if let Err(e) = dns::confine::filter_syscalls() {
        return fail(&format!("lindocker-proxy: cannot confine itself: {e}"));
    }
    let mut out = std::io::stdout();
    let _ = out.write_all(b"ready\n").and_then(|()| out.flush());
    match proxy::run(bound) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lindocker-proxy: {e}");
            ExitCode::from(1)
        }
    }
}
