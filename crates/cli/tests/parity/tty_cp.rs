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

/// The entries of a tar stream: (path, type, link target, uid, contents).
fn tar_entries(data: &[u8]) -> Vec<(String, tar::EntryType, String, u64, Vec<u8>)> {
    let mut archive = tar::Archive::new(data);
    let mut out = Vec::new();
    for entry in archive.entries().expect("a tar stream") {
        let mut entry = entry.expect("a tar entry");
        let path = entry.path().unwrap().display().to_string();
        let kind = entry.header().entry_type();
        let link = entry.link_name().unwrap().map(|l| l.display().to_string()).unwrap_or_default();
        let uid = entry.header().uid().unwrap();
        let mut body = Vec::new();
        entry.read_to_end(&mut body).unwrap();
        out.push((path, kind, link, uid, body));
    }
    out
}

/// A tar entry written as a client may write it: any name, any link target, `..` too.
fn raw_entry(builder: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, name: &str, link: &str, body: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    header.set_entry_type(kind);
    header.set_mode(0o644);
    header.set_uid(4321);
    header.set_gid(4321);
    header.set_size(body.len() as u64);
    if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
        header.set_device_major(if kind == tar::EntryType::Char { 1 } else { 8 }).unwrap();
        header.set_device_minor(if kind == tar::EntryType::Char { 3 } else { 0 }).unwrap();
    }
    header.set_cksum();
    builder.append(&header, body).unwrap();
}

/// `lindocker cp` with a tar stream from `tar` as its input.
fn cp_from_stdin(engine: &Engine, args: &[&str], tar: &[u8], name: &str) -> std::process::Output {
    let file = engine.root.join(name);
    std::fs::write(&file, tar).unwrap();
    let mut cmd = engine.cmd();
    cmd.args(args).stdin(std::fs::File::open(&file).unwrap());
    let out = lindocker_testkit::output_via_files(cmd, &file);
    std::fs::remove_file(&file).unwrap();
    out
}

fn failed_with(out: &std::process::Output, what: &str) -> String {
    assert!(!out.status.success(), "{what} succeeded: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn cp_copies_trees_and_tar_streams_as_docker_does() {
    use std::os::unix::fs::MetadataExt;
    let engine = Engine::with_busybox(BIN, "cpdocker");
    let host = lindocker_testkit::temp_dir("cpdocker-host");
    let h = |p: &str| host.join(p).to_str().unwrap().to_owned();
    let read = |p: &str| std::fs::read_to_string(host.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    engine.ok(&[
        "run",
        "--name",
        "cpc",
        "localhost/busybox",
        "sh",
        "-c",
        "mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b && ln -s a /data/link && chown 1234:5678 /data/a",
    ]);

    // Out of the container: a directory to a new path is that path; into an existing
    // directory it goes under its own name; `DIR/.` copies its contents.
    engine.ok(&["cp", "cpc:/data", &h("new")]);
    assert_eq!((read("new/a"), read("new/sub/b")), ("one\n".into(), "two\n".into()));
    std::fs::create_dir(host.join("exists")).unwrap();
    engine.ok(&["cp", "cpc:/data", &h("exists")]);
    assert_eq!(read("exists/data/sub/b"), "two\n");
    std::fs::create_dir(host.join("contents")).unwrap();
    engine.ok(&["cp", "cpc:/data/.", &h("contents")]);
    assert_eq!(read("contents/sub/b"), "two\n");
    assert!(!host.join("contents/data").exists());
    // A directory onto a file, or a file to `MISSING/`, is refused and changes nothing.
    std::fs::write(host.join("file"), "x").unwrap();
    failed_with(&engine.run(&["cp", "cpc:/data", &h("file")]), "cp DIR FILE");
    assert_eq!(read("file"), "x");
    failed_with(&engine.run(&["cp", "cpc:/data/a", &h("missing/")]), "cp FILE MISSING/");
    assert!(!host.join("missing").exists());
    // A file into an existing directory, and onto an existing file.
    engine.ok(&["cp", "cpc:/data/a", &format!("{}/", h("exists"))]);
    assert_eq!(read("exists/a"), "one\n");
    engine.ok(&["cp", "cpc:/data/sub/b", &h("file")]);
    assert_eq!(read("file"), "two\n");
    // A symlink is copied as one; with -L, what it points at.
    engine.ok(&["cp", "cpc:/data/link", &h("l")]);
    assert_eq!(std::fs::read_link(host.join("l")).unwrap(), PathBuf::from("a"));
    engine.ok(&["cp", "-L", "cpc:/data/link", &h("l2")]);
    assert!(std::fs::symlink_metadata(host.join("l2")).unwrap().is_file());
    assert_eq!(read("l2"), "one\n");
    // -a keeps the owner; without it the copy is ours.
    engine.ok(&["cp", "-a", "cpc:/data/a", &h("owned")]);
    let meta = std::fs::metadata(host.join("owned")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1234, 5678));
    engine.ok(&["cp", "cpc:/data/a", &h("plain")]);
    assert_eq!(std::fs::metadata(host.join("plain")).unwrap().uid(), 0);

    // `-` as the destination: a tar stream on stdout, no file named `-`.
    let mut cmd = engine.cmd();
    cmd.args(["cp", "cpc:/data", "-"]).current_dir(&host);
    let out = lindocker_testkit::output_via_files(cmd, &host.join("tar-out"));
    lindocker_testkit::stdout_of_success(&out, "cp c:/data -");
    assert!(!host.join("-").exists(), "cp made a file named -");
    let entries = tar_entries(&out.stdout);
    let names: Vec<&str> = entries.iter().map(|e| e.0.trim_end_matches('/')).collect();
    for want in ["data", "data/a", "data/sub", "data/sub/b", "data/link"] {
        assert!(names.contains(&want), "{want} not in the tar: {names:?}");
    }
    let a = entries.iter().find(|e| e.0 == "data/a").unwrap();
    assert_eq!((a.3, a.4.as_slice()), (1234, b"one\n".as_slice()));
    let link = entries.iter().find(|e| e.0 == "data/link").unwrap();
    assert_eq!((link.1, link.2.as_str()), (tar::EntryType::Symlink, "a"));
    let out = engine.run(&["cp", "cpc:/data/.", "-"]);
    lindocker_testkit::stdout_of_success(&out, "cp c:/data/. -");
    let names: Vec<String> = tar_entries(&out.stdout).into_iter().map(|e| e.0).collect();
    assert!(names.iter().any(|n| n.trim_start_matches("./") == "sub/b"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("data")), "{names:?}");
    let out = engine.run(&["cp", "cpc:/data/sub/b", "-"]);
    lindocker_testkit::stdout_of_success(&out, "cp c:/data/sub/b -");
    let entries = tar_entries(&out.stdout);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!((entries[0].0.as_str(), entries[0].4.as_slice()), ("b", b"two\n".as_slice()));

    // Into the container: a host directory to a new path.
    std::fs::create_dir_all(host.join("tree/inner")).unwrap();
    std::fs::write(host.join("tree/inner/f"), "in\n").unwrap();
    engine.ok(&["cp", &h("tree"), "cpc:/newtree"]);
    engine.ok(&["cp", "cpc:/newtree/inner/f", &h("back")]);
    assert_eq!(read("back"), "in\n");

    // `-` as the source: a tar stream from stdin, extracted into an existing directory;
    // the tar's owners only with -a.
    let mut builder = tar::Builder::new(Vec::new());
    raw_entry(&mut builder, tar::EntryType::Directory, "x/", "", b"");
    raw_entry(&mut builder, tar::EntryType::Regular, "x/y", "", b"tarred\n");
    raw_entry(&mut builder, tar::EntryType::Symlink, "z", "x/y", b"");
    let tarball = builder.into_inner().unwrap();
    let out = cp_from_stdin(&engine, &["cp", "-", "cpc:/data"], &tarball, "in.tar");
    lindocker_testkit::stdout_of_success(&out, "cp - c:/data");
    engine.ok(&["cp", "-a", "-L", "cpc:/data/z", &h("y")]);
    assert_eq!(read("y"), "tarred\n");
    assert_eq!(std::fs::metadata(host.join("y")).unwrap().uid(), 0, "owner without -a");
    let out = cp_from_stdin(&engine, &["cp", "-a", "-", "cpc:/newtree"], &tarball, "in.tar");
    lindocker_testkit::stdout_of_success(&out, "cp -a - c:/newtree");
    engine.ok(&["cp", "-a", "cpc:/newtree/x/y", &h("y2")]);
    assert_eq!(std::fs::metadata(host.join("y2")).unwrap().uid(), 4321, "owner with -a");
    // The destination must be an existing directory.
    failed_with(&cp_from_stdin(&engine, &["cp", "-", "cpc:/data/a"], &tarball, "in.tar"), "cp - FILE");
    failed_with(&cp_from_stdin(&engine, &["cp", "-", "cpc:/nowhere"], &tarball, "in.tar"), "cp - MISSING");

    // A hostile tar: `..`, a symlink out then a write through it, absolute names, hard
    // links to host files, device nodes. Nothing lands outside /data, nothing on the host.
    std::fs::create_dir(host.join("victim")).unwrap();
    std::fs::write(host.join("secret"), "secret\n").unwrap();
    let victim = h("victim");
    let secret = h("secret");
    let mut builder = tar::Builder::new(Vec::new());
    raw_entry(&mut builder, tar::EntryType::Regular, "../escaped", "", b"out\n");
    let climbing = builder.into_inner().unwrap();
    failed_with(&cp_from_stdin(&engine, &["cp", "-", "cpc:/data"], &climbing, "evil1.tar"), "a tar with ..");
    let mut builder = tar::Builder::new(Vec::new());
    raw_entry(&mut builder, tar::EntryType::Symlink, "out", &victim, b"");
    raw_entry(&mut builder, tar::EntryType::Regular, "out/pwned", "", b"pwned\n");
    let through_link = builder.into_inner().unwrap();
    let _ = cp_from_stdin(&engine, &["cp", "-", "cpc:/data"], &through_link, "evil2.tar");
    let mut builder = tar::Builder::new(Vec::new());
    raw_entry(&mut builder, tar::EntryType::Link, "hard", &secret, b"");
    let hard = builder.into_inner().unwrap();
    let _ = cp_from_stdin(&engine, &["cp", "-", "cpc:/data"], &hard, "evil3.tar");
    let mut builder = tar::Builder::new(Vec::new());
    raw_entry(&mut builder, tar::EntryType::Regular, "/abs", "", b"abs\n");
    raw_entry(&mut builder, tar::EntryType::Char, "null", "", b"");
    raw_entry(&mut builder, tar::EntryType::Block, "disk", "", b"");
    let devices = builder.into_inner().unwrap();
    let _ = cp_from_stdin(&engine, &["cp", "-", "cpc:/data"], &devices, "evil4.tar");
    assert!(std::fs::read_dir(host.join("victim")).unwrap().next().is_none(), "written through a symlink out");
    assert_eq!(std::fs::metadata(host.join("secret")).unwrap().nlink(), 1, "a hard link to a host file");
    assert_eq!(read("secret"), "secret\n");
    failed_with(&engine.run(&["cp", "cpc:/escaped", &h("escaped")]), "cp of a file extracted above /data");
    let out = engine.run(&["cp", "cpc:/data", "-"]);
    lindocker_testkit::stdout_of_success(&out, "cp c:/data -");
    let entries = tar_entries(&out.stdout);
    for entry in &entries {
        assert!(
            !matches!(entry.1, tar::EntryType::Char | tar::EntryType::Block),
            "a device node was extracted: {}",
            entry.0
        );
    }
    let abs = entries.iter().find(|e| e.0 == "data/abs").expect("an absolute name lands inside the directory");
    assert_eq!(abs.4, b"abs\n");

    engine.ok(&["rm", "cpc"]);
    std::fs::remove_dir_all(&host).unwrap();
    assert_eq!(engine.leftovers(), Vec::<String>::new());
}

/// A caller of the runtime (containerd, Podman, our engine) may name a `--console-socket`
/// deeper than a socket address holds: the runtime still reaches it.
#[test]
fn the_runtime_reaches_a_console_socket_of_any_depth() {
    let rt = lindocker_testkit::Runtime::new(env!("CARGO_BIN_EXE_lindocker-runtime"), "deepsock");
    let mut b = lindocker_testkit::Bundle::new("deepsock", &["sh", "-c", "echo CONSOLE-$((6*7)) $(tty)"]);
    b.config["process"]["terminal"] = serde_json::json!(true);
    b.write();
    let dir = b.dir.join("d".repeat(60)).join("e".repeat(60));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("console.sock");
    let listener = lindocker_runtime::socket_path::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        lindocker_runtime::console::receive_fd(&stream).unwrap()
    });
    rt.ok(&["create", "--bundle", b.dir.to_str().unwrap(), "--console-socket", sock.to_str().unwrap(), "deep1"]);
    let master = receiver.join().unwrap();
    rt.ok(&["start", "deep1"]);
    let mut out = String::new();
    let mut f = std::fs::File::from(master);
    let mut buf = [0u8; 1024];
    while !out.contains("CONSOLE-42 /dev/pts/") || !out.ends_with('\n') {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(out.contains("CONSOLE-42 /dev/pts/"), "{out:?}");
    rt.ok(&["delete", "--force", "deep1"]);
    assert_eq!(lindocker_testkit::leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// An exec's environment as Docker's daemon builds it: `-t` adds `TERM=xterm` unless the
/// container sets TERM (then the container's, once: it had both before), `-e` wins over
/// either, and without `-t` there is no TERM.
#[test]
fn exec_with_a_terminal_keeps_the_containers_term() {
    let engine = Engine::with_busybox(BIN, "exec-term");
    engine.ok(&["run", "-d", "--name", "own", "-e", "TERM=vt100", "localhost/busybox", "sleep", "1000"]);
    engine.ok(&["run", "-d", "--name", "plain", "localhost/busybox", "sleep", "1000"]);
    let terms = |args: &[&str]| {
        let (status, out) = under_pty(lindocker(&engine, args), None, Duration::from_secs(30));
        assert_eq!(status.and_then(|s| s.code()), Some(0), "{args:?}:\n{out}");
        out.lines().map(str::trim).filter(|l| l.starts_with("TERM=")).map(str::to_owned).collect::<Vec<_>>()
    };
    let env = ["sh", "-c", "env | grep ^TERM= || true"];
    assert_eq!(terms(&[&["exec", "-t", "own"][..], &env].concat()), ["TERM=vt100"]);
    assert_eq!(terms(&[&["exec", "-t", "plain"][..], &env].concat()), ["TERM=xterm"]);
    assert_eq!(terms(&[&["exec", "-t", "-e", "TERM=dumb", "own"][..], &env].concat()), ["TERM=dumb"]);
    assert_eq!(engine.ok(&[&["exec", "plain"][..], &env].concat()), "");
    engine.ok(&["rm", "-f", "own", "plain"]);
}
