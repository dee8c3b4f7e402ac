//! A container that never reads its stdin, and attached clients that stall: the shim
//! goes on relaying and logging the container's output regardless (input waits, with
//! back-pressure on the clients that send it; a client that does not read is dropped).

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use lindocker_testkit::Engine;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// A line every 100 ms, numbered.
const TICK: &str = "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done";

fn id_of(engine: &Engine, name: &str) -> String {
    engine.ok(&["inspect", "-f", "{{.Id}}", name]).trim().to_owned()
}

fn log_lines(engine: &Engine, id: &str) -> usize {
    let log = std::fs::read(engine.root.join("containers").join(id).join("log.json")).unwrap_or_default();
    log.iter().filter(|&&b| b == b'\n').count()
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The number of the last tick `logs --tail 1` shows.
fn last_tick(engine: &Engine, name: &str) -> usize {
    let out = engine.ok(&["logs", "--tail", "1", name]);
    let n = out.trim().rsplit(' ').next().unwrap_or("");
    n.parse().unwrap_or_else(|_| panic!("logs --tail 1: {out:?}"))
}

/// The log keeps growing for `secs` seconds, and `logs` shows the newest lines.
fn keeps_logging(engine: &Engine, name: &str, id: &str) {
    let before = log_lines(engine, id);
    std::thread::sleep(Duration::from_secs(2));
    let after = log_lines(engine, id);
    assert!(after >= before + 10, "the log stopped growing: {before} -> {after} lines in 2 s");
    let tick = last_tick(engine, name);
    assert!(tick + 3 >= after, "logs --tail 1 shows tick {tick}, the log has {after} lines");
}

#[test]
fn a_container_that_never_reads_stdin_keeps_logging() {
    let engine = Engine::with_busybox(BIN, "deafin");
    let mut cmd = engine.cmd();
    cmd.args(["run", "-i", "--name", "deaf", "localhost/busybox", "sh", "-c", TICK])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut cli = cmd.spawn().unwrap();
    let mut input = cli.stdin.take().unwrap();
    wait_for("the container to run", || engine.ok(&["ps", "-q"]).len() > 1);
    let id = id_of(&engine, "deaf");
    wait_for("its first lines", || log_lines(&engine, &id) >= 3);
    // Megabytes the container never reads. The feeder may block for good (back-pressure):
    // it ends when the CLI does.
    std::thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..64 {
            if input.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_secs(1));
    keeps_logging(&engine, "deaf", &id);
    // The CLI is still attached and well.
    assert!(cli.try_wait().unwrap().is_none(), "the attached CLI ended");
    engine.ok(&["rm", "-f", "deaf"]);
    let _ = cli.kill();
    let _ = cli.wait();
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn stalled_clients_do_not_stop_the_log() {
    let engine = Engine::with_busybox(BIN, "stall");
    // About 400 KB/s: more than a socket buffers within a few seconds.
    let loud = format!("i=0; while :; do i=$((i+1)); echo tick {} $i; usleep 2000; done", "x".repeat(800));
    engine.ok(&["run", "-d", "--name", "loud", "localhost/busybox", "sh", "-c", &loud]);
    let id = id_of(&engine, "loud");
    let socket = engine.state.join(format!("{}.sock", &id[..12]));
    // One client never reads; another sends half a frame header and stops there.
    let deaf = UnixStream::connect(&socket).unwrap();
    let mut half = UnixStream::connect(&socket).unwrap();
    half.write_all(&[5, 0, 0]).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    keeps_logging(&engine, "loud", &id);
    // `attach`-style clients still come and go.
    let mut late = UnixStream::connect(&socket).unwrap();
    late.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = [0u8; 5];
    std::io::Read::read_exact(&mut late, &mut head).unwrap();
    assert_eq!(head[0], 1, "a stdout frame");
    drop((deaf, half, late));
    engine.ok(&["rm", "-f", "loud"]);
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}
