//! `lindocker-api`: the Docker Engine API server, which `lindocker system service` execs.
//! A binary of its own: linking the HTTP server into `lindocker` made every command start
//! slower (a bigger binary to load; `lindocker ps` +1.5 ms at best, measured).
//!
//! Usage: `lindocker-api --root DIR --state DIR --cgroup-parent CG [--time N]
//! [--allow-remote-tcp] [unix:///PATH | tcp://IP:PORT]`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("Error: {message}");
            ExitCode::from(125)
        }
    }
}

fn run() -> Result<(), String> {
    use lindocker_api::{Address, Listener};
    let mut root = PathBuf::from("/var/lib/lindocker");
    let mut state = PathBuf::from("/run/lindocker");
    let mut cgroup_parent = String::from("/lindocker");
    let mut time = 5u64;
    let mut remote = false;
    let mut address = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--root" => root = value("--root")?.into(),
            "--state" => state = value("--state")?.into(),
            "--cgroup-parent" => cgroup_parent = value("--cgroup-parent")?,
            "--time" => time = value("--time")?.parse().map_err(|_| "--time: expected seconds".to_owned())?,
            "--allow-remote-tcp" => remote = true,
            a if !a.starts_with('-') && address.is_none() => address = Some(Address::parse(a, remote)?),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    // Nothing this process inherited goes on to the shims it starts (the boot recovery
    // below starts some): not systemd's sockets (descriptor 3 on, the API's listening
    // socket open for the life of their containers), not what a caller leaked. Then
    // systemd's socket is taken. (A kernel without close_range(2): best effort.)
    let _ = lindocker_sys::cloexec_from(3);
    let activated = Listener::from_systemd();
    let engine = lindocker_engine::Engine::open(&root, &state, &cgroup_parent, &lindocker_engine::netops::Direct)
        .map_err(|e| format!("opening {}: {e}", root.display()))?;
    if engine.needs_boot_recovery() {
        let done = engine.recover_after_boot().map_err(|e| e.to_string())?;
        for (name, why) in done.failed {
            eprintln!("lindocker-api: could not restart {name} after the reboot: {why}");
        }
    }
    let listener = match (address, activated) {
        (None, Some(listener)) => listener,
        (address, _) => {
            let address = address.unwrap_or_else(|| Address::Unix(lindocker_api::listen::DEFAULT_SOCKET.into()));
            Listener::bind(&address).map_err(|e| format!("listening on {address:?}: {e}"))?
        }
    };
    let idle = (time > 0).then(|| std::time::Duration::from_secs(time));
    lindocker_api::serve(engine, listener, idle).map_err(|e| e.to_string())
}
