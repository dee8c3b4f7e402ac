//! Docker parity: terminals (`exec -it`, `run -it`, `start -a`, `attach`) under a data
//! root and state directory deeper than the defaults, and `cp` as Docker does it.

use std::io::{Read, Write};
use std::ops::Deref;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lindocker_testkit::{Engine, FakeHost, Pty};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// An engine whose data root and state directory are longer than the defaults
/// (`/var/lib/lindocker`, `/run/lindocker`) and longer than a socket address holds once a
/// socket's name is added, with `localhost/busybox`, in a fake host of its own.
pub struct DeepEngine {
    engine: Engine,
    /// Dropped after the engine: its containers' network goes first.
    _host: FakeHost,
}

impl Deref for DeepEngine {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.engine
    }
}

/// A fresh directory for test `name` whose path is `len` bytes long.
fn deep_dir(name: &str, len: usize) -> PathBuf {
    let base = std::env::temp_dir().join(format!("lindocker-test-{}-{name}-", std::process::id()));
    let pad = len.saturating_sub(base.as_os_str().len()).max(1);
    let dir = PathBuf::from(format!("{}{}", base.display(), "d".repeat(pad)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl DeepEngine {
    /// The engine for test `name` (a short word: it names a network namespace).
    pub fn new(name: &str) -> DeepEngine {
        let mut engine = Engine::new(BIN, name);
        let _ = std::fs::remove_dir_all(&engine.root);
        let _ = std::fs::remove_dir_all(&engine.state);
        engine.root = deep_dir(&format!("{name}-root"), 100);
        engine.state = deep_dir(&format!("{name}-state"), 96);
        let host = FakeHost::new(name);
        engine.netns = Some(host.path.clone());
        let tar = engine.root.join("busybox.tar");
        std::fs::write(&tar, lindocker_testkit::image::busybox_layer(&engine.root)).unwrap();
        engine.ok(&["import", "-c", r#"CMD ["sh"]"#, tar.to_str().unwrap(), "localhost/busybox"]);
        std::fs::remove_file(&tar).unwrap();
        DeepEngine { engine, _host: host }
    }
}

/// Runs `cmd` with a new pty as its stdin, stdout and stderr, typing `input` (if any)
/// after `delay`; waits at most `timeout` for it to exit (then kills it). Its exit status
/// (None if killed) and everything the pty showed.
pub fn under_pty(
    mut cmd: Command,
    input: Option<(&[u8], Duration)>,
    timeout: Duration,
) -> (Option<ExitStatus>, String) {
    let pty = Pty::open(24, 80);
    pty.attach(&mut cmd);
    let mut child = cmd.spawn().expect("spawn under a pty");
    drop(cmd); // its copies of the slave
    let mut master = pty.master.try_clone().unwrap();
    drop(pty);
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&seen);
    let mut reader = master.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let start = Instant::now();
    let mut typed = input.is_none();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if let Some((bytes, delay)) = input
            && !typed
            && start.elapsed() >= delay
        {
            master.write_all(bytes).unwrap();
            typed = true;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(300)); // the last output still in the pty
    let out = seen.lock().unwrap().clone();
    (status, out)
}

fn lindocker(engine: &Engine, args: &[&str]) -> Command {
    let mut cmd = engine.cmd();
    cmd.args(args);
    cmd
}

#[test]
fn terminals_work_under_a_root_and_state_deeper_than_a_socket_address() {
    let engine = DeepEngine::new("ttydeep");
    let limit = Duration::from_secs(60);
    engine.ok(&["run", "-d", "--name", "web", "localhost/busybox", "httpd", "-f", "-p", "80"]);

    // The README's `exec -it web sh`, typed at.
    let (status, out) = under_pty(
        lindocker(&engine, &["exec", "-it", "web", "sh"]),
        Some((b"echo EXEC-$((6*7)) $(tty); exit 4\r", Duration::from_millis(1500))),
        limit,
    );
    assert_eq!(status.and_then(|s| s.code()), Some(4), "exec -it web sh:\n{out}");
    assert!(out.contains("EXEC-42 /dev/pts/"), "exec -it web sh:\n{out}");

    // `run -it`.
    let (status, out) = under_pty(
        lindocker(
            &engine,
            &["run", "-it", "--rm", "localhost/busybox", "sh", "-c", "echo RUN-$((6*7)) $(tty); exit 3"],
        ),
        None,
        limit,
    );
    assert_eq!(status.and_then(|s| s.code()), Some(3), "run -it:\n{out}");
    assert!(out.contains("RUN-42 /dev/pts/"), "run -it:\n{out}");

    // `start -a` of a terminal container.
    engine.ok(&["create", "-t", "--name", "later", "localhost/busybox", "sh", "-c", "echo START-$((6*7)) $(tty)"]);
    let (status, out) = under_pty(lindocker(&engine, &["start", "-a", "later"]), None, limit);
    assert_eq!(status.and_then(|s| s.code()), Some(0), "start -a:\n{out}");
    assert!(out.contains("START-42 /dev/pts/"), "start -a:\n{out}");

    // `attach` to a running terminal container.
    engine.ok(&["run", "-dit", "--name", "shell", "localhost/busybox", "sh"]);
    let (status, out) = under_pty(
        lindocker(&engine, &["attach", "shell"]),
        Some((b"echo ATTACH-$((6*7)); exit 5\r", Duration::from_millis(1500))),
        limit,
    );
    assert_eq!(status.and_then(|s| s.code()), Some(5), "attach:\n{out}");
    assert!(out.contains("ATTACH-42"), "attach:\n{out}");

    engine.ok(&["rm", "-f", "web", "later", "shell"]);
    assert_eq!(engine.leftovers(), Vec::<String>::new());
}
