//! `cp - CONTAINER:DIR` into a `--user-ns` container: the tar's owners are the
//! container's ids, so they land in the container's id range (root's files are its root's,
//! not the host's root nor the overflow id), running or stopped.

use std::io::Write;
use std::process::Stdio;

use lindocker_testkit::Engine;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// A tar of `name` (uid/gid `id`).
fn tar_of(name: &str, id: u64) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_uid(id);
    h.set_gid(id);
    h.set_mtime(0);
    b.append_data(&mut h, name, &b"abc"[..]).unwrap();
    b.into_inner().unwrap()
}

fn cp_in(engine: &Engine, args: &[&str], tar: &[u8]) {
    let mut cmd = engine.cmd();
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(tar).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "cp {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_tar_into_a_user_ns_container_gets_the_containers_ids() {
    let engine = Engine::with_busybox(BIN, "cpuns");
    engine.ok(&["run", "-d", "--name", "uns", "--user-ns", "localhost/busybox", "sleep", "1000"]);
    cp_in(&engine, &["cp", "-", "uns:/tmp"], &tar_of("plain", 7));
    cp_in(&engine, &["cp", "-a", "-", "uns:/tmp"], &tar_of("kept", 1000));
    let stat = |name: &str| engine.ok(&["exec", "uns", "stat", "-c", "%u:%g", &format!("/tmp/{name}")]);
    assert_eq!(stat("plain"), "0:0\n", "without -a: the container's root owns it");
    assert_eq!(stat("kept"), "1000:1000\n", "with -a: the tar's ids, as the container sees them");
    // Stopped: the same through the engine's own mount.
    engine.ok(&["stop", "-t", "0", "uns"]);
    cp_in(&engine, &["cp", "-a", "-", "uns:/tmp"], &tar_of("stopped", 1000));
    engine.ok(&["start", "uns"]);
    assert_eq!(stat("stopped"), "1000:1000\n", "with -a, stopped");
}
