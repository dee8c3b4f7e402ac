//! Test kit for lindocker: builds busybox root filesystems and OCI bundles, runs the
//! runtime binary with a private `--root`, and proves that nothing leaked.
//!
//! Tests run as root on the real kernel. Each bundle gets a cgroup parent of its own
//! (`/lindocker-test-<pid>-<name>`), removed when the bundle is dropped.

pub mod api;
mod bundle;
mod containerd;
pub mod cri;
/// Docker's default confinement (capabilities and seccomp profile), as the engine builds it.
pub mod docker_profile {
    pub use lindocker_engine::confinement::{DOCKER_CAPS, convert, docker_capabilities, docker_seccomp};
}
mod engine;
mod fakehost;
pub mod image;
mod leaks;
mod podman;
mod proxy;
mod pty;
mod registry;
mod rootfs;

pub use api::{Api, Reply, Service};
pub use bundle::{Bundle, Runtime, checker_path, dnsq_path};
pub use containerd::{CNI_BIN_DIR, CgroupDriver, Containerd, POD_SUBNET, containerd_available};
pub use engine::Engine;
pub use fakehost::FakeHost;
pub use leaks::{cgroup_dirs, cgroup_file, leftovers};
pub use podman::Podman;
pub use proxy::{Proxy, ProxyMode};
pub use pty::Pty;
pub use registry::{Registry, free_port};
pub use rootfs::busybox_rootfs;

/// Runs `cmd`, capturing its output through files named after `base`, not pipes: a
/// container may inherit the command's stdio and keep it open until it exits, so waiting
/// for a pipe's end would hang.
pub fn output_via_files(mut cmd: std::process::Command, base: &std::path::Path) -> std::process::Output {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let out_path = base.with_extension(format!("out{n}"));
    let err_path = base.with_extension(format!("err{n}"));
    let out = std::fs::File::create(&out_path).unwrap();
    let err = std::fs::File::create(&err_path).unwrap();
    let status = cmd.stdout(out).stderr(err).status().expect("run the command");
    let output = std::process::Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    };
    let _ = std::fs::remove_file(out_path);
    let _ = std::fs::remove_file(err_path);
    output
}

/// Insists that `out` (of `what`, for the message) succeeded; returns its stdout.
pub fn stdout_of_success(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh, empty directory under the system temp dir, unique per process and name.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lindocker-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}
