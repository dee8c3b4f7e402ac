//! IPC sysctls (`kernel.shm*`, `kernel.msg*`, `kernel.sem`, `fs.mqueue.*`) are per IPC
//! namespace: a container may set them only in an IPC namespace that is not the host's.
//! Joining a container that itself runs with `--ipc host` must not become a way to set
//! them in the host's namespace.

use std::fs;

use lindocker_testkit::Engine;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");
const BUSYBOX: &str = "localhost/busybox";
const KNOB: &str = "/proc/sys/kernel/shm_rmid_forced";

#[test]
fn ipc_sysctls_never_reach_the_hosts_ipc_namespace() {
    let engine = Engine::with_busybox(BIN, "ipcsysctl");
    let before = fs::read_to_string(KNOB).unwrap();
    let other = if before.trim() == "1" { "0" } else { "1" };
    let sysctl = format!("kernel.shm_rmid_forced={other}");
    engine.ok(&["run", "-d", "--name", "hostipc", "--ipc", "host", BUSYBOX, "sleep", "1000"]);
    let joined = engine.run(&["run", "--rm", "--ipc", "container:hostipc", "--sysctl", &sysctl, BUSYBOX, "true"]);
    let direct = engine.run(&["run", "--rm", "--ipc", "host", "--sysctl", &sysctl, BUSYBOX, "true"]);
    let after = fs::read_to_string(KNOB).unwrap();
    if after != before {
        // Put the host back before failing.
        fs::write(KNOB, &before).unwrap();
    }
    engine.ok(&["rm", "-f", "hostipc"]);
    assert_eq!(after, before, "the host's kernel.shm_rmid_forced was changed");
    for out in [joined, direct] {
        assert_eq!(out.status.code(), Some(125), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("ipc namespace"), "{err}");
    }
    // A shareable container's namespace is its own: there the sysctl is allowed.
    engine.ok(&["run", "-d", "--name", "shared", "--ipc", "shareable", BUSYBOX, "sleep", "1000"]);
    let seen = engine.ok(&["run", "--rm", "--ipc", "container:shared", "--sysctl", &sysctl, BUSYBOX, "cat", KNOB]);
    assert_eq!(seen.trim(), other);
    assert_eq!(fs::read_to_string(KNOB).unwrap(), before);
    engine.ok(&["rm", "-f", "shared"]);
}
