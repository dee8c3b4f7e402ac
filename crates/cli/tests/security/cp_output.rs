//! What `cp` and `diff` print stays inert: no tar written onto the admin's terminal, and
//! no container-chosen name reaches it with its control characters (an escape sequence in
//! a file name would drive the admin's terminal).

use std::io::Write;
use std::time::Duration;

use lindocker_testkit::{Engine, Pty, temp_dir};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

#[test]
fn cp_to_stdout_refuses_a_terminal() {
    let engine = Engine::with_busybox(BIN, "cptty");
    engine.ok(&["create", "--name", "box", "localhost/busybox", "true"]);
    let pty = Pty::open(24, 80);
    let mut cmd = engine.cmd();
    cmd.args(["cp", "box:/bin", "-"]);
    pty.attach(&mut cmd);
    let reader = pty.read_until("END");
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "cp to a terminal did not end");
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = (&pty.master).write_all(b"\nEND\n");
    let out = reader.join().unwrap();
    assert!(!status.success(), "cp wrote to a terminal: {out:?}");
    assert!(out.contains("terminal"), "cp says why: {out:?}");
    assert!(!out.contains("ustar"), "a tar reached the terminal: {out:?}");
}

#[test]
fn container_names_reach_stderr_escaped() {
    let engine = Engine::with_busybox(BIN, "cpesc");
    let script = "mkdir /data && touch \"/data/$(printf 'a\\033[31mred')\" && \
                  mknod \"/data/$(printf 'n\\033]0;title\\007')\" c 1 3 && echo ready";
    engine.ok(&["run", "--name", "box", "localhost/busybox", "sh", "-c", script]);
    let out = temp_dir("cpesc-out");
    let copied = engine.run(&["cp", "box:/data", out.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&copied.stderr).contains("skipped"), "{}", String::from_utf8_lossy(&copied.stderr));
    let missing = engine.run(&["cp", "box:/data/\x1b[2Jgone", out.to_str().unwrap()]);
    assert!(!missing.status.success());
    let diff = engine.run(&["diff", "box"]);
    assert!(diff.status.success());
    for (what, bytes) in [
        ("cp's skipped line", &copied.stderr),
        ("cp's error", &missing.stderr),
        ("diff", &diff.stdout),
        ("diff's stderr", &diff.stderr),
    ] {
        assert!(!bytes.contains(&0x1b), "{what} carries an escape byte: {:?}", String::from_utf8_lossy(bytes));
        assert!(!bytes.contains(&0x07), "{what} carries a bell byte: {:?}", String::from_utf8_lossy(bytes));
    }
    assert!(String::from_utf8_lossy(&diff.stdout).contains("red"), "diff lists the file");
    let _ = std::fs::remove_dir_all(&out);
}
