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

/// The shim dies (kill -9) while a check runs: the container's busy lock is free at once,
/// so the engine can tell the shim is gone; the check's process held none of it.
#[test]
fn a_running_check_does_not_hold_the_busy_lock_of_a_dead_shim() {
    let engine = Engine::with_busybox(BIN, "healthlock");
    let args = ["run", "-d", "--health-cmd", "sleep 30", "--health-interval", "10ms", "--health-timeout", "60s"];
    let mut all = args.to_vec();
    all.extend_from_slice(&[BUSYBOX, "sleep", "1000"]);
    let id = engine.ok(&all).trim().to_owned();
    // A check is under way by then (they start every 10 ms and last 30 s).
    std::thread::sleep(Duration::from_millis(1500));
    // The shim, and the fork of it that runs the check (its child).
    let shims = engine.shims();
    let ppid = |pid: i32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1)).and_then(|p| p.parse().ok())
    };
    let shim = *shims.iter().find(|&&p| ppid(p).is_none_or(|pp: i32| !shims.contains(&pp))).unwrap();
    assert!(shims.len() >= 2, "no check under way: {shims:?}");
    let shim = rustix::process::Pid::from_raw(shim).unwrap();
    rustix::process::kill_process(shim, rustix::process::Signal::KILL).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let busy = std::fs::OpenOptions::new().write(true).open(engine.state.join(format!("{id}.busy"))).unwrap();
    let free = rustix::fs::flock(&busy, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok();
    drop(busy);
    let _ = engine.run(&["rm", "-f", &id]);
    assert!(free, "the busy lock is still held after the shim was killed");
}
