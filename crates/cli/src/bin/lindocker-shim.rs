//! `lindocker-shim`: the monitor of one container (see `lindocker_engine::shim`). A
//! binary of its own, apart from `lindocker`, so that the process that stays beside every
//! running container carries no registry client, no argument parser, and little memory.
//!
//! Usage (by `lindocker` only): `lindocker-shim ROOT STATE CGROUP_PARENT ID`.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    // The shim forks into the runtime's library to start a container: the code its
    // container init runs until it execs must not be a writable host file (CVE-2019-5736).
    if let Err(e) = lindocker_runtime::sealed_exe::ensure() {
        eprintln!("lindocker-shim: re-execute from a sealed image of the binary: {e}");
        return ExitCode::from(1);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, state, cgroup_parent, id] = args.as_slice() else {
        eprintln!("usage: lindocker-shim ROOT STATE CGROUP_PARENT ID (started by lindocker)");
        return ExitCode::from(2);
    };
    match lindocker_engine::Engine::open(
        Path::new(root),
        Path::new(state),
        cgroup_parent,
        &lindocker_engine::netops::ViaHelper,
    ) {
        Ok(engine) => ExitCode::from(lindocker_engine::shim::run(&engine, id).clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("lindocker-shim: {e}");
            ExitCode::from(1)
        }
    }
}
