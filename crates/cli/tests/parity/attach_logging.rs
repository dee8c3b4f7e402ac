//! Docker parity: attach_logging. `-a`, `--sig-proxy`, `--detach-keys`, `--log-driver`
//! and `--log-opt`, `logs --until`, `wait --condition`, `top` with ps options.

use std::io::{BufRead, Write};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use lindocker_testkit::{Engine, Pty};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

fn inspect(engine: &Engine, name: &str) -> Value {
    let out: Value = serde_json::from_str(&engine.ok(&["inspect", name])).unwrap();
    out[0].clone()
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn running(engine: &Engine, name: &str) -> bool {
    inspect(engine, name)["State"]["Running"] == true
}

fn clean(engine: &Engine) {
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Runs `lindocker args` with `input` as its stdin; output through files (a container may
/// hold pipes).
fn run_with_input(engine: &Engine, args: &[&str], input: &[u8]) -> Output {
    let dir = engine.root.join("io");
    std::fs::create_dir_all(&dir).unwrap();
    let (out_path, err_path) = (dir.join("out"), dir.join("err"));
    let mut cmd = engine.cmd();
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    Output { status, stdout: std::fs::read(&out_path).unwrap(), stderr: std::fs::read(&err_path).unwrap() }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn attach_only_the_named_streams() {
    let engine = Engine::with_busybox(BIN, "attach-a");
    let script = "echo out; echo err >&2";
    let out = engine.run(&["run", "--rm", "-a", "stdout", "localhost/busybox", "sh", "-c", script]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!((text(&out.stdout), text(&out.stderr)), ("out\n".into(), String::new()));
    let out = engine.run(&["run", "--rm", "-a", "STDERR", "localhost/busybox", "sh", "-c", script]);
    assert_eq!((text(&out.stdout), text(&out.stderr)), (String::new(), "err\n".into()));
    let out = engine.run(&["run", "--rm", "-a", "stdout", "-a", "stderr", "localhost/busybox", "sh", "-c", script]);
    assert_eq!((text(&out.stdout), text(&out.stderr)), ("out\n".into(), "err\n".into()));
    // `-a` implies waiting for the exit, whose code is ours.
    let out = engine.run(&["run", "--rm", "-a", "stderr", "localhost/busybox", "sh", "-c", "exit 6"]);
    assert_eq!(out.status.code(), Some(6));
    // Input goes in only with `-a stdin` (and `-i`).
    let out = run_with_input(
        &engine,
        &["run", "--rm", "-i", "-a", "stdin", "-a", "stdout", "localhost/busybox", "sh", "-c", "cat; echo done"],
        b"typed\n",
    );
    assert_eq!(text(&out.stdout), "typed\ndone\n", "{}", text(&out.stderr));
    // Not attached to any output: the id is printed, the exit still waited for.
    let out = run_with_input(
        &engine,
        &["run", "--name", "quiet", "-i", "-a", "stdin", "localhost/busybox", "sh", "-c", "cat; exit 4"],
        b"x\n",
    );
    assert_eq!(out.status.code(), Some(4));
    let id = inspect(&engine, "quiet")["Id"].as_str().unwrap().to_owned();
    assert_eq!(text(&out.stdout), format!("{id}\n"));
    engine.ok(&["rm", "quiet"]);
    // Validated where they enter.
    let err = engine.fails(&["run", "--rm", "-a", "stdnothing", "localhost/busybox", "true"], 125);
    assert!(err.contains("valid streams are STDIN, STDOUT and STDERR"), "{err}");
    let err = engine.fails(&["run", "--rm", "-d", "-a", "stdout", "localhost/busybox", "true"], 125);
    assert!(err.contains("Conflicting options: -a and -d"), "{err}");
    // `create -a` is what inspect shows.
    engine.ok(&["create", "--name", "made", "-a", "stderr", "localhost/busybox", "sh", "-c", script]);
    let config = &inspect(&engine, "made")["Config"];
    assert_eq!(
        (&config["AttachStdin"], &config["AttachStdout"], &config["AttachStderr"]),
        (&false.into(), &false.into(), &true.into())
    );
    // `start -a` attaches both outputs whatever `create -a` said, as Docker's does.
    let out = engine.run(&["start", "-a", "made"]);
    assert_eq!((text(&out.stdout), text(&out.stderr)), ("out\n".into(), "err\n".into()));
    engine.ok(&["rm", "made"]);
    assert_eq!(engine.ok(&["ps", "-aq"]), "");
    clean(&engine);
}

/// Starts `lindocker args` with piped stdout; returns it after its first line is `ready`.
fn start_until_ready(
    engine: &Engine,
    args: &[&str],
) -> (Child, std::io::Lines<std::io::BufReader<std::process::ChildStdout>>) {
    let mut child = engine.cmd().args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    (child, lines)
}

#[test]
fn sig_proxy_forwards_signals_unless_turned_off() {
    let engine = Engine::with_busybox(BIN, "sigproxy");
    let script = "trap 'echo got TERM; exit 3' TERM; echo ready; sleep 100 & wait";
    // Default: the signal the CLI gets reaches the container.
    let (mut cli, mut lines) =
        start_until_ready(&engine, &["run", "--name", "on", "localhost/busybox", "sh", "-c", script]);
    let pid = rustix::process::Pid::from_raw(cli.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "got TERM");
    assert_eq!(cli.wait().unwrap().code(), Some(3));
    // `--sig-proxy=false`: the CLI ends by the signal, the container runs on untouched.
    let (mut cli, _lines) = start_until_ready(
        &engine,
        &["run", "--sig-proxy=false", "--name", "off", "localhost/busybox", "sh", "-c", script],
    );
    let pid = rustix::process::Pid::from_raw(cli.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = cli.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(15), "{status}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(running(&engine, "off"), "the container was not signalled");
    assert_eq!(engine.ok(&["logs", "off"]), "ready\n");
    engine.ok(&["rm", "-f", "on", "off"]);
    clean(&engine);
}

/// Runs `lindocker args` at a terminal (a pty), types `first`, then `keys` once `marker`
/// shows (the CLI relays, its terminal is raw), and returns the exit code; the CLI must
/// end within 10 s.
fn at_terminal(engine: &Engine, args: &[&str], first: &[u8], marker: &'static str, keys: &[u8]) -> Option<i32> {
    let pty = Pty::open(24, 80);
    let mut cmd = engine.cmd();
    cmd.args(args);
    pty.attach(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let seen = pty.read_until(marker);
    (&pty.master).write_all(first).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.is_finished() {
        assert!(Instant::now() < deadline, "{marker:?} never showed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = seen.join().unwrap();
    assert!(seen.contains(marker), "{seen}");
    (&pty.master).write_all(keys).unwrap();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline + Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("lindocker {args:?} did not detach");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn detach_keys_leave_the_container_running() {
    let engine = Engine::with_busybox(BIN, "detachkeys");
    let code = at_terminal(
        &engine,
        &[
            "run",
            "-it",
            "--detach-keys",
            "ctrl-x,y",
            "--name",
            "dk",
            "localhost/busybox",
            "sh",
            "-c",
            "echo READY; exec sh",
        ],
        b"",
        "READY",
        b"\x18y",
    );
    assert_eq!(code, Some(0));
    assert!(running(&engine, "dk"), "detached, not stopped");
    // The default sequence, Ctrl-P Ctrl-Q, on `attach`; and `attach --detach-keys`.
    let code = at_terminal(&engine, &["attach", "dk"], b"echo $((40+2))\n", "42", b"\x10\x11");
    assert_eq!(code, Some(0));
    assert!(running(&engine, "dk"));
    let code =
        at_terminal(&engine, &["attach", "--detach-keys", "ctrl-@,a", "dk"], b"echo $((40+3))\n", "43", b"\x00a");
    assert_eq!(code, Some(0));
    assert!(running(&engine, "dk"));
    // `exec -it`: the keys leave the exec'd process running.
    let code = at_terminal(
        &engine,
        &["exec", "-it", "--detach-keys", "ctrl-x,y", "dk", "sh", "-c", "echo EXECREADY; exec sleep 1234"],
        b"",
        "EXECREADY",
        b"\x18y",
    );
    assert_eq!(code, Some(0));
    std::thread::sleep(Duration::from_millis(500));
    let top = engine.ok(&["top", "dk", "-o", "pid,args"]);
    assert!(top.contains("sleep 1234"), "{top}");
    engine.ok(&["stop", "-t", "1", "dk"]);
    // `start -a` takes them too.
    let code =
        at_terminal(&engine, &["start", "-a", "--detach-keys", "ctrl-^,ctrl-_", "dk"], b"", "READY", b"\x1e\x1f");
    assert_eq!(code, Some(0));
    assert!(running(&engine, "dk"));
    // A bad spec is refused before anything is made.
    for bad in ["ctrl-1", "ctrl-", "ab", "ctrl-p,,"] {
        let err =
            engine.fails(&["run", "-it", "--detach-keys", bad, "--name", "bad", "localhost/busybox", "true"], 125);
        assert!(err.to_lowercase().contains("detach"), "{bad}: {err}");
        engine.fails(&["attach", "--detach-keys", bad, "dk"], 125);
        engine.fails(&["exec", "-it", "--detach-keys", bad, "dk", "true"], 125);
    }
    assert!(engine.run(&["inspect", "bad"]).status.code() != Some(0), "nothing was created");
    engine.ok(&["rm", "-f", "dk"]);
    clean(&engine);
}

fn container_dir(engine: &Engine, name: &str) -> std::path::PathBuf {
    engine.root.join("containers").join(inspect(engine, name)["Id"].as_str().unwrap())
}

fn log_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("log.json"))
        .collect();
    names.sort();
    names
}

/// `count` lines of about 50 bytes.
fn chatter(count: u32) -> String {
    format!("i=1; while [ $i -le {count} ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done")
}

/// The `logs` output is a run of consecutive lines ending with the last one.
fn consecutive_to(out: &str, last: u32) -> u32 {
    let numbers: Vec<u32> = out.lines().map(|l| l.split('-').nth(1).unwrap().parse().unwrap()).collect();
    assert!(!numbers.is_empty());
    assert_eq!(*numbers.last().unwrap(), last, "{out}");
    for pair in numbers.windows(2) {
        assert_eq!(pair[0] + 1, pair[1], "a gap in {numbers:?}");
    }
    numbers.len() as u32
}

#[test]
fn log_drivers_and_rotation() {
    let engine = Engine::with_busybox(BIN, "logdrivers");
    // none: output still reaches the attached CLI; nothing is stored; `logs` says so.
    let out = engine.run(&["run", "--log-driver", "none", "--name", "nolog", "localhost/busybox", "echo", "hi"]);
    assert_eq!(text(&out.stdout), "hi\n");
    let err = engine.fails(&["logs", "nolog"], 1);
    assert!(err.contains("configured logging driver does not support reading"), "{err}");
    assert_eq!(log_files(&container_dir(&engine, "nolog")), Vec::<String>::new());
    assert_eq!(inspect(&engine, "nolog")["HostConfig"]["LogConfig"]["Type"], "none");
    assert_eq!(inspect(&engine, "nolog")["LogPath"], "");

    // json-file: Docker's lines, rotated at max-size keeping max-file files.
    engine.ok(&[
        "run",
        "--log-driver",
        "json-file",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=3",
        "--log-opt",
        "labels=a,b",
        "--log-opt",
        "env=HOME",
        "--log-opt",
        "tag={{.Name}}",
        "--name",
        "json",
        "localhost/busybox",
        "sh",
        "-c",
        &chatter(200),
    ]);
    let dir = container_dir(&engine, "json");
    assert_eq!(log_files(&dir), ["log.json", "log.json.1", "log.json.2"]);
    for file in log_files(&dir) {
        let content = std::fs::read_to_string(dir.join(&file)).unwrap();
        assert!(content.len() <= 1024, "{file}: {} bytes", content.len());
        for line in content.lines() {
            let entry: Value = serde_json::from_str(line).unwrap();
            assert!(entry["log"].as_str().unwrap().starts_with("line-"), "{line}");
            assert_eq!(entry["stream"], "stdout");
            assert!(entry["time"].as_str().unwrap().ends_with('Z'), "{line}");
        }
    }
    let kept = consecutive_to(&engine.ok(&["logs", "json"]), 200);
    assert!(kept > 20 && kept < 200, "three files of 1k hold {kept} lines");
    assert_eq!(engine.ok(&["logs", "--tail", "2", "json"]).lines().count(), 2);
    let config = &inspect(&engine, "json")["HostConfig"]["LogConfig"];
    assert_eq!(config["Type"], "json-file");
    assert_eq!(config["Config"]["max-size"], "1k");
    assert_eq!(config["Config"]["max-file"], "3");

    // json-file with compress: rotated files gzipped, still read.
    engine.ok(&[
        "run",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=3",
        "--log-opt",
        "compress=true",
        "--name",
        "gz",
        "localhost/busybox",
        "sh",
        "-c",
        &chatter(200),
    ]);
    assert_eq!(log_files(&container_dir(&engine, "gz")), ["log.json", "log.json.1.gz", "log.json.2.gz"]);
    let kept = consecutive_to(&engine.ok(&["logs", "gz"]), 200);
    assert!(kept > 20, "{kept}");
    assert_eq!(
        consecutive_to(&engine.ok(&["logs", "--tail", "12", "gz"]), 200),
        12,
        "the current file and the last rotated one"
    );

    // local: rotated (compressed by default), read across files.
    engine.ok(&[
        "run",
        "--log-driver",
        "local",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=2",
        "--name",
        "local",
        "localhost/busybox",
        "sh",
        "-c",
        &chatter(300),
    ]);
    let files = log_files(&container_dir(&engine, "local"));
    assert_eq!(files, ["log.json", "log.json.1.gz"]);
    let kept = consecutive_to(&engine.ok(&["logs", "local"]), 300);
    assert!(kept > 20 && kept < 300, "{kept}");
    assert_eq!(inspect(&engine, "local")["HostConfig"]["LogConfig"]["Type"], "local");

    // Refused as Docker refuses them, before anything is made.
    let bad: [(&[&str], &str); 7] = [
        (&["--log-driver", "nosuch"], "no log driver named 'nosuch' is registered"),
        (&["--log-opt", "colour=red"], "unknown log opt 'colour' for json-file log driver"),
        (&["--log-driver", "local", "--log-opt", "labels=a"], "unknown log opt 'labels' for log driver local"),
        (&["--log-opt", "max-file=0"], "max-file cannot be less than 1"),
        (&["--log-opt", "max-size=-5"], "max-size"),
        (&["--log-opt", "max-size=1k", "--log-opt", "compress=maybe"], "compress"),
        (
            &["--log-opt", "compress=true"],
            "compress cannot be true when max-file is less than 2 or max-size is not set",
        ),
    ];
    for (flags, message) in bad {
        let mut args = vec!["run", "--name", "bad"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["localhost/busybox", "true"]);
        let err = engine.fails(&args, 125);
        assert!(err.contains(message), "{flags:?}: {err}");
    }
    assert!(engine.run(&["inspect", "bad"]).status.code() != Some(0), "nothing was created");
    engine.ok(&["rm", "nolog", "json", "gz", "local"]);
    clean(&engine);
}

#[test]
fn logs_until() {
    let engine = Engine::with_busybox(BIN, "until");
    engine.ok(&["run", "-d", "--name", "until1", "localhost/busybox", "sh", "-c", "echo early; sleep 3; echo late"]);
    wait_for("early", || engine.ok(&["logs", "until1"]) == "early\n");
    std::thread::sleep(Duration::from_millis(700));
    let between = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap();
    assert_eq!(engine.ok(&["wait", "until1"]), "0\n");
    assert_eq!(engine.ok(&["logs", "until1"]), "early\nlate\n");
    // Relative: ends that long ago.
    assert_eq!(engine.ok(&["logs", "--until", "1s", "until1"]), "early\n");
    assert_eq!(engine.ok(&["logs", "--until", "1h", "until1"]), "");
    // Unix timestamps, with and without a fraction.
    let stamp = format!("{}.{:09}", between.as_secs(), between.subsec_nanos());
    assert_eq!(engine.ok(&["logs", "--until", &stamp, "until1"]), "early\n");
    // (Whole seconds: rounded up, still well before `late`.)
    assert_eq!(engine.ok(&["logs", "--until", &(between.as_secs() + 1).to_string(), "until1"]), "early\n");
    // RFC 3339: up to and including that time.
    let stamped = engine.ok(&["logs", "-t", "until1"]);
    let early_time = stamped.lines().next().unwrap().split(' ').next().unwrap().to_owned();
    assert_eq!(engine.ok(&["logs", "--until", &early_time, "until1"]), "early\n");
    assert_eq!(engine.ok(&["logs", "--since", &early_time, "--until", &early_time, "until1"]), "early\n");
    let err = engine.fails(&["logs", "--until", "yesterday-ish", "until1"], 1);
    assert!(err.contains("until"), "{err}");
    engine.ok(&["rm", "until1"]);
    clean(&engine);
}

/// `lindocker wait` in the background; its output through a file.
fn wait_in_background(engine: &Engine, args: &[&str]) -> (Child, std::path::PathBuf) {
    let path = engine.root.join(format!("wait-{}", args.join("-").replace('/', "_")));
    let child = engine.cmd().args(args).stdout(std::fs::File::create(&path).unwrap()).spawn().unwrap();
    (child, path)
}

fn finished(child: &mut Child, path: &std::path::Path) -> Option<(i32, String)> {
    child.try_wait().unwrap().map(|s| (s.code().unwrap_or(-1), std::fs::read_to_string(path).unwrap()))
}

#[test]
fn wait_conditions() {
    let engine = Engine::with_busybox(BIN, "waitcond");
    engine.ok(&["create", "--name", "cw", "localhost/busybox", "sh", "-c", "sleep 1; exit 7"]);
    // not-running (the default): a container that does not run returns at once.
    assert_eq!(engine.ok(&["wait", "--condition", "not-running", "cw"]), "0\n");
    assert_eq!(engine.ok(&["wait", "cw"]), "0\n");
    // next-exit: waits for the next exit, even though it is not running now.
    let (mut next, path) = wait_in_background(&engine, &["wait", "--condition", "next-exit", "cw"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(finished(&mut next, &path).is_none(), "next-exit returned before any exit");
    engine.ok(&["start", "cw"]);
    let mut result = None;
    wait_for("next-exit", || {
        result = finished(&mut next, &path);
        result.is_some()
    });
    assert_eq!(result.unwrap(), (0, "7\n".into()));
    // removed: the exit is not enough; `rm` is.
    let (mut removed, path) = wait_in_background(&engine, &["wait", "--condition", "removed", "cw"]);
    engine.ok(&["start", "cw"]);
    assert_eq!(engine.ok(&["wait", "cw"]), "7\n");
    std::thread::sleep(Duration::from_millis(300));
    assert!(finished(&mut removed, &path).is_none(), "removed returned before rm");
    engine.ok(&["rm", "cw"]);
    let mut result = None;
    wait_for("removed", || {
        result = finished(&mut removed, &path);
        result.is_some()
    });
    assert_eq!(result.unwrap(), (0, "7\n".into()));
    // A `--rm` container is removed by its exit.
    engine.ok(&["run", "-d", "--rm", "--name", "gone", "localhost/busybox", "sh", "-c", "sleep 1; exit 2"]);
    assert_eq!(engine.ok(&["wait", "--condition", "removed", "gone"]), "2\n");
    let err = engine.fails(&["wait", "--condition", "sometime", "cw"], 125);
    assert!(err.contains("condition"), "{err}");
    clean(&engine);
}

#[test]
fn top_with_ps_options() {
    let engine = Engine::with_busybox(BIN, "top");
    engine.ok(&["run", "-d", "--name", "tp", "localhost/busybox", "sh", "-c", "sleep 1000 & wait"]);
    wait_for("two processes", || engine.ok(&["top", "tp"]).lines().count() == 3);
    let rows = |out: &str| -> Vec<Vec<String>> {
        out.lines().map(|l| l.split_whitespace().map(str::to_owned).collect()).collect()
    };
    let out = engine.ok(&["top", "tp", "-o", "pid,user,args"]);
    let table = rows(&out);
    assert_eq!(table[0], ["PID", "USER", "COMMAND"], "{out}");
    assert_eq!(table.len(), 3, "only the container's processes: {out}");
    for row in &table[1..] {
        assert_eq!(row[1], "root", "{out}");
        let args = row[2..].join(" ");
        assert!(args == "sh -c sleep 1000 & wait" || args == "sleep 1000", "{out}");
    }
    let out = engine.ok(&["top", "tp", "aux"]);
    let table = rows(&out);
    assert_eq!(&table[0][..3], ["USER", "PID", "%CPU"], "{out}");
    assert_eq!(table.len(), 3, "{out}");
    assert!(out.contains("sleep 1000"), "{out}");
    // Docker's check: no renaming of the PID column; ps's own errors come through.
    let err = engine.fails(&["top", "tp", "-o", "user=PID"], 1);
    assert!(err.contains("not allowed"), "{err}");
    let err = engine.fails(&["top", "tp", "--no-such-option"], 1);
    assert!(err.contains("ps"), "{err}");
    engine.ok(&["rm", "-f", "tp"]);
    clean(&engine);
}

/// Rotated files are gzipped beside the relay (in a child, one at a time): a container
/// writing on while files rotate and compress loses no line and none comes out of order,
/// and once it ended every rotated file is compressed.
#[test]
fn compression_beside_continuous_output_keeps_every_line_in_order() {
    let engine = Engine::with_busybox(BIN, "gz-order");
    engine.ok(&[
        "run",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=90",
        "--log-opt",
        "compress=true",
        "--name",
        "gzo",
        "localhost/busybox",
        "sh",
        "-c",
        &chatter(600),
    ]);
    let files = log_files(&container_dir(&engine, "gzo"));
    assert!(files.len() > 40, "{files:?}");
    assert!(files.iter().all(|f| f == "log.json" || f.ends_with(".gz")), "{files:?}");
    assert_eq!(consecutive_to(&engine.ok(&["logs", "gzo"]), 600), 600);
    engine.ok(&["rm", "gzo"]);
}
