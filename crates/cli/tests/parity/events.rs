//! Docker parity: events. Every action is journaled by whichever process did it (the
//! CLI, the shim for `start`/`die`/`oom`); `lindocker events` reads the journal with
//! Docker's `--since/--until/--filter/--format`, and follows it live.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use lindocker_testkit::image::{self, Entry};
use lindocker_testkit::{Engine, Registry};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// Now, as `events --since/--until` takes it (unix seconds with nanoseconds).
fn stamp() -> String {
    let d = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// `events --since since --until now` with `extra` flags, as JSON values.
fn journal(engine: &Engine, since: &str, extra: &[&str]) -> Vec<Value> {
    let until = stamp();
    let mut args = vec!["events", "--since", since, "--until", &until, "--format", "json"];
    args.extend_from_slice(extra);
    let out = engine.ok(&args);
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"))).collect()
}

fn actions(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["Action"].as_str().unwrap().to_owned()).collect()
}

fn attr<'a>(event: &'a Value, key: &str) -> &'a str {
    event["Actor"]["Attributes"][key].as_str().unwrap_or_else(|| panic!("no {key} in {event}"))
}

fn clean(engine: &Engine) {
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn container_lifecycle_is_journaled_in_order() {
    let engine = Engine::with_busybox(BIN, "evlife");
    let t0 = stamp();
    let id = engine
        .ok(&["run", "-d", "--name", "web", "--label", "tier=front", "localhost/busybox", "sleep", "100"])
        .trim()
        .to_owned();
    engine.fails(&["exec", "web", "sh", "-c", "exit 4"], 4);
    engine.ok(&["pause", "web"]);
    engine.ok(&["unpause", "web"]);
    engine.ok(&["rename", "web", "web2"]);
    // `sleep` as pid 1 ignores SIGTERM: stop kills it after the timeout.
    engine.ok(&["stop", "-t", "1", "web2"]);
    engine.ok(&["rm", "web2"]);
    let events = journal(&engine, &t0, &["--filter", &format!("container={id}")]);
    assert_eq!(
        actions(&events),
        [
            "create",
            "start",
            "exec_create: sh -c exit 4",
            "exec_start: sh -c exit 4",
            "exec_die",
            "pause",
            "unpause",
            "rename",
            "kill",
            "kill",
            "die",
            "stop",
            "destroy"
        ],
        "{events:#?}"
    );
    for e in &events {
        assert_eq!(e["Type"], "container");
        assert_eq!(e["scope"], "local");
        assert_eq!(e["Actor"]["ID"], id.as_str());
        // Docker's legacy fields for containers.
        assert_eq!(e["id"], id.as_str());
        assert_eq!(e["status"], e["Action"]);
        assert_eq!(e["from"], "localhost/busybox");
        assert_eq!(attr(e, "image"), "localhost/busybox");
        assert_eq!(attr(e, "tier"), "front", "labels are attributes");
        assert_eq!(e["time"].as_i64().unwrap(), e["timeNano"].as_i64().unwrap() / 1_000_000_000);
    }
    let nanos: Vec<i64> = events.iter().map(|e| e["timeNano"].as_i64().unwrap()).collect();
    assert!(nanos.windows(2).all(|w| w[0] <= w[1]), "in time order: {nanos:?}");
    assert_eq!(attr(&events[0], "name"), "web");
    assert_eq!(attr(&events[4], "exitCode"), "4");
    assert_eq!(attr(&events[4], "execID"), attr(&events[2], "execID"));
    assert_eq!(attr(&events[7], "oldName"), "web");
    assert_eq!(attr(&events[7], "name"), "web2");
    assert_eq!(attr(&events[8], "signal"), "15");
    assert_eq!(attr(&events[9], "signal"), "9");
    assert_eq!(attr(&events[10], "exitCode"), "137");
    assert_eq!(attr(&events[12], "name"), "web2");

    // A container's own exit code; `--rm`: die, then destroy (the shim removes it).
    let t1 = stamp();
    engine.fails(&["run", "--rm", "--name", "three", "localhost/busybox", "sh", "-c", "exit 3"], 3);
    let events = journal(&engine, &t1, &["--filter", "container=three"]);
    assert_eq!(actions(&events), ["create", "attach", "start", "die", "destroy"], "{events:#?}");
    assert_eq!(attr(&events[3], "exitCode"), "3");

    // The kernel's OOM killer: `oom`, then `die` with 137 (from the shim).
    let t2 = stamp();
    let out = engine.run(&[
        "run",
        "--name",
        "hog",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        "localhost/busybox",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=64M",
        "count=1",
    ]);
    assert_eq!(out.status.code(), Some(137), "{}", String::from_utf8_lossy(&out.stderr));
    let events =
        journal(&engine, &t2, &["--filter", "container=hog", "--filter", "event=oom", "--filter", "event=die"]);
    assert_eq!(actions(&events), ["oom", "die"], "{events:#?}");
    assert_eq!(attr(&events[1], "exitCode"), "137");
    engine.ok(&["rm", "hog"]);

    // Networks and volumes around a container's life; `restart`.
    let t3 = stamp();
    engine.ok(&["network", "create", "evnet"]);
    let id2 = engine
        .ok(&[
            "run",
            "-d",
            "--name",
            "svc",
            "--network",
            "evnet",
            "-v",
            "vol1:/data",
            "localhost/busybox",
            "sleep",
            "100",
        ])
        .trim()
        .to_owned();
    engine.ok(&["restart", "-t", "0", "svc"]);
    engine.ok(&["rm", "-f", "svc"]);
    engine.ok(&["network", "rm", "evnet"]);
    engine.ok(&["volume", "rm", "vol1"]);
    let events = journal(&engine, &t3, &[]);
    let seen: Vec<String> = events
        .iter()
        .filter(|e| e["Action"] != "kill")
        .map(|e| format!("{} {}", e["Type"].as_str().unwrap(), e["Action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            "network create",
            "volume create",
            "container create",
            "network connect",
            "volume mount",
            "container start",
            // restart
            "container die",
            "volume unmount",
            "network disconnect",
            "container stop",
            "network connect",
            "volume mount",
            "container start",
            "container restart",
            // rm -f
            "container die",
            "volume unmount",
            "network disconnect",
            "container destroy",
            "network destroy",
            "volume destroy",
        ],
        "{events:#?}"
    );
    let connect = events.iter().find(|e| e["Action"] == "connect").unwrap();
    assert_eq!((attr(connect, "container"), attr(connect, "name")), (id2.as_str(), "evnet"));
    let mount = events.iter().find(|e| e["Action"] == "mount").unwrap();
    assert_eq!(mount["Actor"]["ID"], "vol1");
    assert_eq!((attr(mount, "container"), attr(mount, "destination")), (id2.as_str(), "/data"));
    assert_eq!(attr(mount, "read/write"), "true");

    // Docker's text line: time with nine digits, type, action, id, sorted attributes.
    let until = t3;
    let text = engine.ok(&["events", "--since", &t0, "--until", &until, "--filter", &format!("container={id}")]);
    let first = text.lines().next().unwrap();
    let (time, rest) = first.split_once(' ').unwrap();
    assert!(time.len() == 30 && time.ends_with('Z') && time.as_bytes()[19] == b'.', "{first}");
    assert_eq!(rest, format!("container create {id} (image=localhost/busybox, name=web, tier=front)"));
    // A template over Docker's Go field names.
    let text = engine.ok(&[
        "events",
        "--since",
        &t0,
        "--until",
        &until,
        "--filter",
        "event=die",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}",
    ]);
    assert_eq!(text, "container die web2 137\ncontainer die three 3\ncontainer die hog 137\n");
    // `system events` is the same command.
    let same = engine.ok(&[
        "system",
        "events",
        "--since",
        &t0,
        "--until",
        &until,
        "--filter",
        "event=die",
        "--format",
        "{{.Actor.ID}}",
    ]);
    assert_eq!(same.lines().next(), Some(id.as_str()));
    clean(&engine);
}

#[test]
fn filters_and_times_as_docker_combines_them() {
    let engine = Engine::with_busybox(BIN, "evfilt");
    let t0 = stamp();
    engine.ok(&["create", "--name", "ca", "localhost/busybox", "true"]);
    std::thread::sleep(Duration::from_millis(50));
    let t_mid = stamp();
    engine.ok(&[
        "create",
        "--name",
        "cb",
        "--label",
        "x=1",
        "--label",
        "evil=a\n2024-01-01 fake",
        "localhost/busybox",
        "true",
    ]);
    engine.ok(&["volume", "create", "data"]);
    let net = engine.ok(&["network", "create", "evnet"]).trim().to_owned();
    engine.ok(&["tag", "localhost/busybox", "localhost/bb:v1"]);
    engine.ok(&["rmi", "localhost/bb:v1"]);
    engine.ok(&["update", "--restart", "always", "ca"]);
    let exported = engine.root.join("ca.tar");
    engine.ok(&["export", "-o", exported.to_str().unwrap(), "ca"]);
    std::fs::remove_file(&exported).unwrap();
    engine.ok(&["rm", "ca", "cb"]);
    engine.ok(&["volume", "rm", "data"]);
    engine.ok(&["network", "rm", "evnet"]);

    let names = |events: &[Value]| -> Vec<String> {
        // (A volume's name is its id; Docker gives it no `name` attribute.)
        let name =
            |e: &Value| e["Actor"]["Attributes"]["name"].as_str().or(e["Actor"]["ID"].as_str()).unwrap().to_owned();
        events
            .iter()
            .map(|e| format!("{} {} {}", e["Type"].as_str().unwrap(), e["Action"].as_str().unwrap(), name(e)))
            .collect()
    };
    assert_eq!(
        names(&journal(&engine, &t0, &["--filter", "container=ca"])),
        ["container create ca", "container update ca", "container export ca", "container destroy ca"]
    );
    // One key's values are alternatives; different keys must all hold.
    assert_eq!(
        names(&journal(
            &engine,
            &t0,
            &["--filter", "container=ca", "--filter", "container=cb", "--filter", "event=create"]
        )),
        ["container create ca", "container create cb"]
    );
    assert_eq!(
        names(&journal(&engine, &t0, &["--filter", "label=x=1"])),
        ["container create cb", "container destroy cb"]
    );
    assert_eq!(names(&journal(&engine, &t0, &["--filter", "label=x"])).len(), 2);
    assert_eq!(
        names(&journal(&engine, &t0, &["--filter", "type=volume"])),
        ["volume create data", "volume destroy data"]
    );
    assert_eq!(
        names(&journal(&engine, &t0, &["--filter", "network=evnet"])),
        ["network create evnet", "network destroy evnet"]
    );
    let net_events = journal(&engine, &t0, &["--filter", "type=network", "--filter", "event=create"]);
    assert_eq!(net_events[0]["Actor"]["ID"], net.as_str());
    assert!(net_events[0].get("status").is_none(), "legacy fields only for containers and images");
    // Image events: `tag` names the new tag, `untag` and `delete` the image id.
    let images = journal(&engine, &t0, &["--filter", "type=image"]);
    assert_eq!(actions(&images), ["tag", "untag"], "{images:#?}");
    assert_eq!(attr(&images[0], "name"), "localhost/bb:v1");
    assert!(images[0]["Actor"]["ID"].as_str().unwrap().starts_with("sha256:"));
    // `image=` matches a container's image too.
    assert_eq!(journal(&engine, &t0, &["--filter", "image=localhost/busybox", "--filter", "type=container"]).len(), 6);
    assert_eq!(journal(&engine, &t0, &["--filter", "image=localhost/nothing"]).len(), 0);

    // Times: unix seconds, RFC 3339, and durations before now.
    assert_eq!(
        names(&journal(&engine, &t_mid, &["--filter", "event=create", "--filter", "type=container"])),
        ["container create cb"]
    );
    let rfc = |stamp: &str| {
        let secs: i64 = stamp.split('.').next().unwrap().parse().unwrap();
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%SZ"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let until = stamp();
    let all = engine.ok(&["events", "--since", "10m", "--until", &until, "--filter", "container=ca"]);
    assert_eq!(all.lines().count(), 4, "{all}");
    let before = engine.ok(&["events", "--since", "10m", "--until", &t_mid, "--filter", "type=container"]);
    assert_eq!(before.lines().count(), 1, "only ca's create is before t_mid: {before}");
    let from_rfc = engine.ok(&["events", "--since", &rfc(&t0), "--until", &until, "--filter", "container=cb"]);
    assert_eq!(from_rfc.lines().count(), 2, "a label's newline forges no line: {from_rfc}");
    assert!(from_rfc.contains("evil=a\\n2024-01-01 fake"), "{from_rfc}");
    assert_eq!(engine.ok(&["events", "--since", "-1h", "--until", &until]), "", "since is in the future");

    // Bad input: exit 125, said clearly.
    let err = engine.fails(&["events", "--until", "1", "--filter", "bogus=1"], 125);
    assert!(err.contains("invalid filter 'bogus'"), "{err}");
    let err = engine.fails(&["events", "--until", "1", "--filter", "type=bogus"], 125);
    assert!(err.contains("type=bogus"), "{err}");
    let err = engine.fails(&["events", "--since", "yesterday", "--until", "1"], 125);
    assert!(err.contains("--since"), "{err}");
    let err = engine.fails(&["events", "--until", "2024-13-40"], 125);
    assert!(err.contains("--until"), "{err}");
    clean(&engine);
}

/// Reads `child`'s stdout lines on a thread.
fn lines_of(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_exit(child: &mut std::process::Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn live_events_follow_the_journal() {
    let engine = Engine::with_busybox(BIN, "evlive");
    engine.ok(&["create", "--name", "before", "localhost/busybox", "true"]);
    let mut follow = engine.cmd();
    follow
        .args(["events", "--filter", "type=container", "--format", "{{.Action}} {{.Actor.Attributes.name}}"])
        .stdout(Stdio::piped());
    let mut child = follow.spawn().unwrap();
    let rx = lines_of(child.stdout.take().unwrap());
    std::thread::sleep(Duration::from_millis(500));
    engine.ok(&["run", "--rm", "--name", "live", "localhost/busybox", "true"]);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.last().map(String::as_str) != Some("destroy live") && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            seen.push(line);
        }
    }
    // Only what happened after it started, in order.
    assert_eq!(seen, ["create live", "attach live", "start live", "die live", "destroy live"]);
    // SIGTERM ends it.
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let status = wait_exit(&mut child, Duration::from_secs(5)).expect("events ends on SIGTERM");
    assert!(!status.success());

    // A reader that went away (`events | head -1`) ends it at the next event.
    let mut follow = engine.cmd();
    follow.args(["events"]).stdout(Stdio::piped());
    let mut child = follow.spawn().unwrap();
    drop(child.stdout.take());
    std::thread::sleep(Duration::from_millis(300));
    engine.ok(&["volume", "create", "poke"]);
    let status = wait_exit(&mut child, Duration::from_secs(5)).expect("events ends on a broken pipe");
    assert!(!status.success());
    engine.ok(&["volume", "rm", "poke"]);

    // With a future --until it follows until then, and exits by itself.
    let until = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64() + 1.5;
    let mut follow = engine.cmd();
    follow
        .args([
            "events",
            "--until",
            &format!("{until:.3}"),
            "--filter",
            "type=volume",
            "--format",
            "{{.Action}} {{.Actor.ID}}",
        ])
        .stdout(Stdio::piped());
    let mut child = follow.spawn().unwrap();
    let rx = lines_of(child.stdout.take().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    engine.ok(&["volume", "create", "late"]);
    let status = wait_exit(&mut child, Duration::from_secs(5)).expect("events ends at --until");
    assert!(status.success());
    let got: Vec<String> = rx.try_iter().collect();
    assert!(got.last().is_some_and(|l| l == "create late"), "{got:?}");
    engine.ok(&["volume", "rm", "late"]);

    // --since without --until: what is stored since then, then what comes.
    let mut follow = engine.cmd();
    follow
        .args(["events", "--since", "1m", "--filter", "container=before", "--format", "{{.Action}}"])
        .stdout(Stdio::piped());
    let mut child = follow.spawn().unwrap();
    let rx = lines_of(child.stdout.take().unwrap());
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).as_deref(), Ok("create"), "the stored event first");
    engine.ok(&["rm", "before"]);
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).as_deref(), Ok("destroy"), "then the new one");
    child.kill().unwrap();
    child.wait().unwrap();
    clean(&engine);
}

#[test]
fn journal_stays_bounded_and_concurrent_writers_keep_lines_whole() {
    let engine = Engine::with_busybox(BIN, "evjournal");
    let dir = engine.root.join("events");
    let t0 = stamp();
    // Many processes at once, each appending its own events.
    let spawn_all = |args: &dyn Fn(usize) -> Vec<String>, n: usize| {
        let children: Vec<_> = (0..n)
            .map(|i| {
                let mut c = engine.cmd();
                c.args(args(i)).stdout(Stdio::null()).stderr(Stdio::piped());
                c.spawn().unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    };
    spawn_all(
        &|i| vec!["create".into(), "--name".into(), format!("c{i}"), "localhost/busybox".into(), "true".into()],
        12,
    );
    spawn_all(&|i| vec!["volume".into(), "create".into(), format!("v{i}")], 24);
    // A writer killed mid-record leaves a torn line; it must not hide the next one.
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("journal"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"status\":\"create\",\"id\":\"torn"))
        .unwrap();
    spawn_all(&|i| vec!["volume".into(), "rm".into(), format!("v{i}")], 24);
    // Names, labels and commands are root's to read, as the records are.
    use std::os::unix::fs::PermissionsExt;
    for path in [dir.clone(), dir.join("journal")] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", path.display());
    }
    let raw = std::fs::read_to_string(dir.join("journal")).unwrap();
    let torn = raw.lines().filter(|l| serde_json::from_str::<Value>(l).is_err()).count();
    assert_eq!(torn, 1, "only the line we tore: {raw}");
    let events = journal(&engine, &t0, &[]);
    let mut created: Vec<String> = events
        .iter()
        .filter(|e| e["Action"] == "create" && e["Type"] == "container")
        .map(|e| attr(e, "name").to_owned())
        .collect();
    created.sort();
    let mut want: Vec<String> = (0..12).map(|i| format!("c{i}")).collect();
    want.sort();
    assert_eq!(created, want);
    assert_eq!(events.iter().filter(|e| e["Type"] == "volume").count(), 48);
    let names: Vec<String> = (0..12).map(|i| format!("c{i}")).collect();
    let mut rm = vec!["rm"];
    rm.extend(names.iter().map(String::as_str));
    engine.ok(&rm);

    // Bounded: with 4 KiB per file, two files at most, the newest events kept.
    let small = |args: &[&str]| {
        let out = engine.cmd().env("LINDOCKER_EVENTS_MAX_SIZE", "4096").args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    for i in 0..40 {
        small(&["volume", "create", &format!("r{i}")]);
        small(&["volume", "rm", &format!("r{i}")]);
    }
    let size = |name: &str| std::fs::metadata(dir.join(name)).map(|m| m.len()).unwrap_or(0);
    assert!(size("journal") <= 4096 && size("journal.1") <= 4096, "{} {}", size("journal"), size("journal.1"));
    assert!(size("journal.1") > 0, "rotated");
    let kept = journal(&engine, &t0, &["--filter", "type=volume"]);
    assert!(kept.len() < 80, "old events are gone: {}", kept.len());
    assert_eq!(kept.last().unwrap()["Actor"]["ID"], "r39");
    assert_eq!(kept.last().unwrap()["Action"], "destroy");

    // Rotating while many write: every line whole, still bounded (a record over the
    // limit at most per writer racing the rotation).
    let children: Vec<_> = (0..32)
        .map(|i| {
            let mut c = engine.cmd();
            c.env("LINDOCKER_EVENTS_MAX_SIZE", "4096").args(["volume", "create", &format!("p{i}")]);
            c.stdout(Stdio::null()).spawn().unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    for name in ["journal", "journal.1"] {
        let raw = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(raw.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()), "{name}: {raw}");
        assert!(raw.len() <= 4096 + 32 * 300, "{name}: {} bytes", raw.len());
    }
    for i in 0..32 {
        engine.ok(&["volume", "rm", &format!("p{i}")]);
    }
    clean(&engine);
}

#[test]
fn image_events_are_journaled() {
    // In this namespace: the registry listens on loopback. No container here has a network.
    let registry = Registry::start("evimg", None);
    let engine = Engine::new(BIN, "evimg");
    let t0 = stamp();
    let tar = engine.root.join("busybox.tar");
    std::fs::write(&tar, image::busybox_layer(&engine.root)).unwrap();
    let imported = engine.ok(&["import", tar.to_str().unwrap(), "localhost/busybox"]).trim().to_owned();
    let layout = engine.root.join("layout");
    let layer = image::layer(&[Entry::Dir("etc")]);
    let desc = image::image(&layout, &[(layer.clone(), layer)], serde_json::json!({ "Cmd": ["sh"] }), "amd64");
    image::finish_layout(&layout, "v1", vec![desc]);
    registry.push(&layout, "test/ev", "v1");
    let name = format!("{}/test/ev:v1", registry.addr);
    engine.ok(&["pull", "-q", &name]);
    engine.ok(&["tag", "localhost/busybox", "localhost/bb:v2"]);
    let archive = engine.root.join("saved.tar");
    engine.ok(&["save", "-o", archive.to_str().unwrap(), "localhost/bb:v2"]);
    engine.ok(&["rmi", "localhost/bb:v2"]);
    engine.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
    engine.ok(&["create", "--network", "none", "--name", "cm", "localhost/busybox", "true"]);
    let committed = engine.ok(&["commit", "-m", "snap", "cm", "localhost/snap:1"]).trim().to_owned();
    engine.ok(&["rm", "cm"]);
    engine.ok(&["rmi", "localhost/snap:1"]);
    let events = journal(&engine, &t0, &["--filter", "type=image"]);
    let seen: Vec<String> = events
        .iter()
        .map(|e| {
            format!("{} {} {}", e["Action"].as_str().unwrap(), e["Actor"]["ID"].as_str().unwrap(), attr(e, "name"))
        })
        .collect();
    let want = [
        format!("import {imported} {imported}"),
        format!("pull {name} {}/test/ev", registry.addr),
        format!("tag {imported} localhost/bb:v2"),
        format!("save {imported} {imported}"),
        format!("untag {imported} {imported}"),
        format!("load {imported} {imported}"),
        format!("untag {committed} {committed}"),
        format!("delete {committed} {committed}"),
    ];
    assert_eq!(seen, want, "{events:#?}");
    let commit = journal(&engine, &t0, &["--filter", "event=commit"]);
    assert_eq!(commit.len(), 1);
    assert_eq!(commit[0]["Type"], "container");
    assert_eq!((attr(&commit[0], "imageID"), attr(&commit[0], "comment")), (committed.as_str(), "snap"));
    assert_eq!(attr(&commit[0], "imageRef"), "localhost/snap:1");
    clean(&engine);
}
