//! Opening the engine for the global flags: every command that works on containers,
//! volumes or networks starts here.

use anyhow::{Context, Result};
use lindocker_engine::Engine;

use crate::Cli;

/// Opens the engine for the global flags. The first command after a boot first settles
/// what the reboot left (see `lindocker_engine::boot`).
pub fn engine(cli: &Cli) -> Result<Engine> {
    let engine = engine_as_is(cli)?;
    if engine.needs_boot_recovery() {
        for (name, why) in engine.recover_after_boot()?.failed {
            eprintln!("lindocker: could not restart {name} after the reboot: {why}");
        }
    }
    Ok(engine)
}

/// Opens the engine without settling a boot: for the shim's network hook, which runs
/// while that recovery starts containers.
pub fn engine_as_is(cli: &Cli) -> Result<Engine> {
    Engine::open(&cli.root, &cli.state, &cli.cgroup_parent, &lindocker_engine::netops::Direct)
        .with_context(|| format!("opening {}", cli.root.display()))
}
