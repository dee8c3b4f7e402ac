//! A big log: `logs --tail`, `--since` and `-f` read it with bounded memory (from the
//! end for `--tail`); and output into a closed pipe ends the CLI quietly, as Docker's.

use std::io::{BufWriter, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use lindocker_testkit::Engine;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// Runs `cmd` to its end under GNU time; returns its stdout, stderr and peak resident
/// size in KiB.
fn measured(cmd: Command) -> (String, String, u64) {
    let dir = lindocker_testkit::temp_dir("logs-tail-out");
    let (out_path, err_path, rss_path) = (dir.join("out"), dir.join("err"), dir.join("rss"));
    let mut timed = Command::new("/usr/bin/time");
    timed.arg("-f").arg("%M").arg("-o").arg(&rss_path).arg(cmd.get_program()).args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            timed.env(key, value);
        }
    }
    timed.stdin(Stdio::null());
    timed.stdout(std::fs::File::create(&out_path).unwrap()).stderr(std::fs::File::create(&err_path).unwrap());
    let status = timed.status().unwrap();
    let out = std::fs::read_to_string(&out_path).unwrap();
    let err = std::fs::read_to_string(&err_path).unwrap();
    let rss = std::fs::read_to_string(&rss_path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(status.success(), "{cmd:?}: {status:?}: {err}");
    (out, err, rss.trim().parse().unwrap_or_else(|_| panic!("time said {rss:?}")))
}

fn entry(text: &str, time: &str) -> String {
    format!("{{\"log\":\"{text}\\n\",\"stream\":\"stdout\",\"time\":\"{time}\"}}\n")
}

#[test]
fn logs_of_a_big_log_use_little_memory() {
    let engine = Engine::with_busybox(BIN, "bigtail");
    engine.ok(&["run", "--name", "big", "localhost/busybox", "echo", "first"]);
    let id = engine.ok(&["inspect", "-f", "{{.Id}}", "big"]).trim().to_owned();
    let log = engine.root.join("containers").join(&id).join("log.json");
    {
        // 200 MB of old lines, then two recent ones.
        let mut f = BufWriter::new(std::fs::File::create(&log).unwrap());
        let line = entry(&"y".repeat(200), "2020-01-01T00:00:00.000000000Z");
        for _ in 0..(200 << 20) / line.len() {
            f.write_all(line.as_bytes()).unwrap();
        }
        f.write_all(entry("almost the end", "2021-01-01T00:00:00.000000000Z").as_bytes()).unwrap();
        f.write_all(entry("the very end", "2021-01-01T00:00:01.000000000Z").as_bytes()).unwrap();
    }
    let limit_kib = 32 * 1024;
    let cases: [(&[&str], &str); 4] = [
        (&["logs", "--tail", "1", "big"], "the very end\n"),
        (&["logs", "--tail", "2", "big"], "almost the end\nthe very end\n"),
        (&["logs", "--since", "2020-06-01T00:00:00Z", "big"], "almost the end\nthe very end\n"),
        (&["logs", "-f", "--tail", "1", "big"], "the very end\n"),
    ];
    for (args, want) in cases {
        let mut cmd = engine.cmd();
        cmd.args(args);
        let (out, err, rss) = measured(cmd);
        assert_eq!(out, want, "lindocker {args:?}: {err}");
        assert!(rss < limit_kib, "lindocker {args:?} peaked at {rss} KiB for a 200 MB log");
    }
    engine.ok(&["rm", "big"]);
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let engine = Engine::with_busybox(BIN, "epipe");
    engine.ok(&["run", "--name", "talked", "localhost/busybox", "sh", "-c", "seq 1 20000"]);
    for args in [&["inspect", "talked"][..], &["logs", "talked"], &["ps", "-a"], &["images"]] {
        // `lindocker ... | head -c1`, with head already gone.
        let (reader, writer) = rustix::pipe::pipe().unwrap();
        drop(reader);
        let mut cmd = engine.cmd();
        cmd.args(args).stdout(std::fs::File::from(writer)).stderr(Stdio::piped());
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.is_empty(), "lindocker {args:?} into a closed pipe said: {err}");
        assert!(
            out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
            "lindocker {args:?}: {:?}",
            out.status
        );
    }
    // `logs -f` of a container that keeps talking ends too.
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "talking",
        "localhost/busybox",
        "sh",
        "-c",
        "while :; do echo hi; sleep 0.1; done",
    ]);
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    drop(reader);
    let mut cmd = engine.cmd();
    cmd.args(["logs", "-f", "talking"]).stdout(std::fs::File::from(writer)).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("logs -f into a closed pipe did not end");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.is_empty(), "logs -f into a closed pipe said: {err}");
    assert!(status.success() || status.signal() == Some(libc::SIGPIPE), "logs -f: {status:?}");
    engine.ok(&["rm", "-f", "talked", "talking"]);
}
