//! A health check runs in a forked copy of the shim. That copy must hold none of the
//! shim's descriptors it does not need: the write end of the container's stdin pipe (a
//! check would keep the container's stdin open), client sockets, the log, the lock that
//! says the container is busy.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use lindocker_testkit::Engine;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");
const BUSYBOX: &str = "localhost/busybox";

#[test]
fn a_running_check_does_not_keep_the_containers_stdin_open() {
    let engine = Engine::with_busybox(BIN, "healthfds");
    let mut child = engine
        .cmd()
        .args(["run", "-i", "--name", "hfds", "--health-cmd", "sleep 20", "--health-interval", "10ms"])
        .args(["--health-timeout", "30s", BUSYBOX, "sh", "-c", "sleep 1; cat; echo EOF"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"x").unwrap();
    // Input ends while the first check runs (its interval is 10 ms).
    std::thread::sleep(Duration::from_millis(600));
    drop(stdin);
    let started = Instant::now();
    let ended = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(15) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if ended.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    engine.ok(&["rm", "-f", "hfds"]);
    assert!(ended.is_some(), "the container's stdin stayed open while a check ran");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "xEOF\n");
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
}
