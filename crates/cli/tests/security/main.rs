//! The threat model as tests: each module performs one attack that a hostile image, a
//! hostile container or a hostile client could try, and checks that the host holds.
//! `docs/SECURITY.md` lists the boundaries these tests stand for.

mod api;
mod browser_requests;
mod build;
mod capabilities;
mod cp_output;
mod cp_paths;
mod cp_tar_in;
mod cp_tar_out;
mod cp_userns;
mod devices;
mod exe_overwrite;
mod health_fds;
mod image_paths;
mod init_fds;
mod input;
mod ipc_sysctl;
mod keyring;
mod load_archive;
mod localnet;
mod nft_injection;
mod passwd;
mod permissions;
mod port_proxy;
mod push;
mod registry_limits;
mod resolv_refresh;
mod rt_budget;
mod stop_signal;
mod terminal;
mod volume_copy_up;
