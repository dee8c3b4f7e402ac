//! `lindocker-dns`: the embedded DNS server of a data root's user networks (see
//! `lindocker_network::dns`). Started by whoever attaches the first container to a user
//! network, never by hand; it exits after the last container has left.
//!
//! Usage (by lindocker only): `lindocker-dns --root ROOT --state STATE`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use lindocker_network::dns;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [flag_root, root, flag_state, state] = args.as_slice() else {
        eprintln!("usage: lindocker-dns --root ROOT --state STATE (started by lindocker)");
        return ExitCode::from(2);
    };
    if flag_root != "--root" || flag_state != "--state" {
        eprintln!("usage: lindocker-dns --root ROOT --state STATE (started by lindocker)");
        return ExitCode::from(2);
    }
    // Before the first packet: it parses what containers send.
    if let Err(e) = dns::confine::confine().and_then(|()| dns::confine::filter_syscalls()) {
        eprintln!("lindocker-dns: cannot confine itself: {e}");
        return ExitCode::from(1);
    }
    let state = Path::new(state);
    let ready = || {
        let mut out = std::io::stdout();
        let _ = out.write_all(b"ready\n").and_then(|()| out.flush());
    };
    match dns::server::run(&Path::new(root).join("network"), &dns::pid_file(state), ready) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lindocker-dns: {e}");
            ExitCode::from(1)
        }
    }
}
