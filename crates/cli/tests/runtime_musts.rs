//! One test per MUST of the OCI runtime spec (v1.2.1: `runtime.md`, `config.md`,
//! `config-linux.md`) that applies to a runtime on Linux, each named after its id in
//! `docs/runtime-spec-musts.md`, run as an OCI bundle through `lindocker-runtime` and
//! checked from inside the container with the checker, or by the command's exit code,
//! output and the host's view.

#[path = "runtime_musts/common.rs"]
mod common;
#[path = "runtime_musts/config.rs"]
mod config;
#[path = "runtime_musts/config_linux.rs"]
mod config_linux;
#[path = "runtime_musts/runtime.rs"]
mod runtime;
