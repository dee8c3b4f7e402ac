//! lindocker's OCI runtime: turns a bundle (`config.json` + root filesystem) into an
//! isolated process, and manages it through the OCI lifecycle
//! (creating -> created -> running -> stopped).
//!
//! The crate is synchronous and single-threaded on purpose: it forks, and a forked child
//! of a multi-threaded process may only call async-signal-safe functions.
//!
//! - [`spec`] loads and checks `config.json`;
//! - [`state`] keeps each container's state under `--root`, atomically and under a lock;
//! - [`container`] implements the lifecycle commands;
//! - `init` is what the cloned child runs until it execs the user's process.

mod channel;
pub mod console;
pub mod container;
pub mod default_spec;
mod error;
pub mod features;
mod hooks;
mod idmap;
mod init;
mod memory_policy;
mod namespaces;
mod net_devices;
mod paths;
pub mod sealed_exe;
mod seccomp;
pub mod signal;
pub mod socket_path;
pub mod spec;
pub mod state;

pub use channel::ProgramFailure;
pub use error::{Error, Result};
