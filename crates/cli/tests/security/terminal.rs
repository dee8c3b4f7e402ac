//! The admin's terminal stays the admin's: without `-t`, a container process gets pipes
//! (or sockets, or /dev/null) relayed by the engine, never a descriptor of the host
//! terminal the CLI runs on — else a process it leaves behind reads what is typed next,
//! or writes into the admin's session.

use std::io::Write;
use std::time::Duration;

use lindocker_testkit::{Engine, Pty};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

const SHOW: &str = "for fd in 0 1 2; do readlink /proc/self/fd/$fd; done; echo END";

/// Runs `lindocker args` with a pty as its stdin, stdout and stderr; returns what the
/// command printed before END.
fn under_pty(engine: &Engine, args: &[&str]) -> Vec<String> {
    let pty = Pty::open(24, 80);
    let mut cmd = engine.cmd();
    cmd.args(args);
    pty.attach(&mut cmd);
    let reader = pty.read_until("END");
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "lindocker {args:?} under a pty did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The echo of this ends the reader if the command printed no END of its own.
    let _ = (&pty.master).write_all(b"\nEND\n");
    let out = reader.join().unwrap();
    out.lines().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty() && l != "END").collect()
}

/// Each of fds 0-2 (lines of readlink) is a pipe, a socket or /dev/null.
fn no_host_terminal(what: &str, fds: &[String]) {
    assert_eq!(fds.len(), 3, "{what}: {fds:?}");
    for fd in fds {
        assert!(
            fd.starts_with("pipe:") || fd.starts_with("socket:") || fd == "/dev/null",
            "{what}: the container process holds {fd} ({fds:?})"
        );
    }
}

#[test]
fn exec_and_run_without_t_never_hand_over_the_terminal() {
    let engine = Engine::with_busybox(BIN, "termfds");
    engine.ok(&["run", "-d", "--name", "box", "localhost/busybox", "sleep", "1000"]);
    no_host_terminal("exec", &under_pty(&engine, &["exec", "box", "sh", "-c", SHOW]));
    let fds = under_pty(&engine, &["exec", "-i", "box", "sh", "-c", SHOW]);
    no_host_terminal("exec -i", &fds);
    assert!(fds[0].starts_with("pipe:") || fds[0].starts_with("socket:"), "exec -i: stdin is {}", fds[0]);
    // With -t it gets a terminal: the container's own, which we relay.
    let fds = under_pty(&engine, &["exec", "-t", "box", "sh", "-c", SHOW]);
    assert!(fds.len() == 3 && fds.iter().all(|f| f.starts_with("/dev/pts/")), "exec -t: {fds:?}");
    no_host_terminal("run", &under_pty(&engine, &["run", "--rm", "localhost/busybox", "sh", "-c", SHOW]));
    no_host_terminal("run -i", &under_pty(&engine, &["run", "--rm", "-i", "localhost/busybox", "sh", "-c", SHOW]));
    engine.ok(&["create", "--name", "starter", "localhost/busybox", "sh", "-c", SHOW]);
    no_host_terminal("start -a", &under_pty(&engine, &["start", "-a", "starter"]));
    // A process an `exec -d` leaves behind has no terminal of ours either.
    let pty = Pty::open(24, 80);
    let mut cmd = engine.cmd();
    cmd.args(["exec", "-d", "box", "sh", "-c", r#"a=$(readlink /proc/$$/fd/0); b=$(readlink /proc/$$/fd/1); c=$(readlink /proc/$$/fd/2); printf '%s\n' "$a" "$b" "$c" > /fds"#]);
    pty.attach(&mut cmd);
    assert!(cmd.status().unwrap().success());
    drop(pty);
    let mut fds = String::new();
    for _ in 0..100 {
        fds = engine.ok(&["exec", "box", "cat", "/fds"]);
        if fds.lines().count() == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let fds: Vec<String> = fds.lines().map(str::to_owned).collect();
    no_host_terminal("exec -d", &fds);
    engine.ok(&["rm", "-f", "box", "starter"]);
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}
