//! What the MUST tests share: the runtime binary, waiting, and reading results.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use lindocker_testkit::{Bundle, Runtime, leftovers};
use serde_json::Value;

/// The runtime under test, from this build.
pub const BIN: &str = env!("CARGO_BIN_EXE_lindocker-runtime");

/// A runtime with its own state root and a bundle running `args`, both named `name`.
pub fn setup(name: &str, args: &[&str]) -> (Runtime, Bundle) {
    (Runtime::new(BIN, name), Bundle::new(name, args))
}

/// Polls `check` for up to ten seconds.
pub fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The command's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that the command failed (the spec's "generate an error") and returns stderr.
#[track_caller]
pub fn failed(out: &Output) -> String {
    let err = stderr(out);
    assert!(!out.status.success(), "expected an error, got success: {err}");
    assert!(err.contains("error"), "no error message: {err}");
    err
}

/// `create` of the bundle as `id`.
pub fn create(rt: &Runtime, b: &Bundle, id: &str) -> Output {
    rt.run(&["create", "--bundle", b.dir.to_str().unwrap(), id])
}

/// `run` of the bundle as `id`, expecting the checker's report.
pub fn check(rt: &Runtime, b: &Bundle, id: &str) -> Value {
    rt.check(b, id)
}

/// The state's `status` of `id`.
pub fn status(rt: &Runtime, id: &str) -> String {
    rt.state(id)["status"].as_str().unwrap().to_string()
}

/// A process that is gone or a zombie.
pub fn dead(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z"))
}

/// Asserts that the runtime, the bundle and its cgroups left nothing behind.
#[track_caller]
pub fn clean(rt: &Runtime, b: &Bundle) {
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// The mountinfo entry (from the checker's report) mounted at `dest`: the last one.
pub fn mount_at<'a>(report: &'a Value, dest: &str) -> Option<&'a Value> {
    report["mounts"].as_array().unwrap().iter().rev().find(|m| m["mountpoint"] == dest)
}

/// Writes an executable shell script at `path`.
pub fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Accepts one connection on `listener` and receives one message with one descriptor
/// (SCM_RIGHTS): the descriptor, the payload, and whether the peer then closed.
pub fn receive_fd(listener: &std::os::unix::net::UnixListener) -> (std::os::fd::OwnedFd, Vec<u8>, bool) {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    use std::io::{IoSliceMut, Read};
    let (mut conn, _) = listener.accept().unwrap();
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut buf = vec![0u8; 65536];
    let msg = rustix::net::recvmsg(&conn, &mut [IoSliceMut::new(&mut buf)], &mut control, RecvFlags::empty()).unwrap();
    let len = msg.bytes;
    let fd = control
        .drain()
        .find_map(|m| match m {
            RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
            _ => None,
        })
        .expect("a descriptor");
    buf.truncate(len);
    // Nothing more on this connection: the next read is its end.
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut rest = Vec::new();
    let closed = conn.read_to_end(&mut rest).is_ok() && rest.is_empty();
    (fd, buf, closed)
}
