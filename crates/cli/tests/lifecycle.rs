//! OCI lifecycle through the runc-compatible CLI: create -> created -> start -> running
//! -> kill -> stopped -> delete; state, list, locking, pid reuse, leaks.

use std::path::Path;
use std::time::{Duration, Instant};

use lindocker_testkit::{Bundle, Runtime, leftovers};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker-runtime");

/// Waits (up to 10 s) until `check` holds: tests wait for what they need, not for a
/// fixed time that a loaded machine may not honour.
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_status(rt: &Runtime, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = rt.state(id);
        if s["status"] == want {
            return;
        }
        assert!(Instant::now() < deadline, "{id} never became {want}: {s}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn create_start_kill_delete() {
    let rt = Runtime::new(BIN, "lifecycle");
    let b = Bundle::new("lifecycle", &["sleep", "1000"]);
    let pid_file = b.dir.join("pid");
    // Options after the id, as go-runc sometimes passes them.
    rt.ok(&["create", "c1", "--bundle", b.dir.to_str().unwrap(), "--pid-file", pid_file.to_str().unwrap()]);
    let s = rt.state("c1");
    assert_eq!(s["status"], "created");
    assert_eq!(s["id"], "c1");
    assert_eq!(s["ociVersion"], "1.2.0");
    assert_eq!(s["bundle"], b.dir.to_str().unwrap());
    assert!(s["annotations"].is_object());
    let pid = s["pid"].as_i64().unwrap();
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    // The created init waits: it is alive, but not yet the user's program.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_ne!(comm.trim(), "sleep");
    // delete of a created container is allowed; here we start it instead.
    rt.ok(&["start", "c1"]);
    wait_status(&rt, "c1", "running");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(exe.ends_with("busybox"), "{exe:?}");
    // A second start is refused.
    let out = rt.run(&["start", "c1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("running"));
    // delete without --force refuses a running container and changes nothing.
    let out = rt.run(&["delete", "c1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stop it first or use --force"), "{out:?}");
    assert_eq!(rt.state("c1")["status"], "running");
    rt.ok(&["kill", "c1", "KILL"]);
    wait_status(&rt, "c1", "stopped");
    assert_eq!(rt.state("c1")["pid"], 0);
    rt.ok(&["delete", "c1"]);
    let out = rt.run(&["state", "c1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

#[test]
fn kill_accepts_every_signal_form() {
    let rt = Runtime::new(BIN, "signals");
    // The shell traps the signals and writes each number down.
    let script = "trap 'echo 15 >> /tmp/got' TERM; trap 'echo 10 >> /tmp/got' USR1; \
                  trap 'echo 1 >> /tmp/got' HUP; touch /tmp/ready; while true; do sleep 0.05; done";
    let mut b = Bundle::new("signals", &["sh", "-c", script]);
    b.share_dir("tmp", "/tmp");
    b.write();
    rt.ok(&["run", "--detach", "--bundle", b.dir.to_str().unwrap(), "sig"]);
    wait_for("the traps", || b.dir.join("tmp/ready").exists());
    let got_path = b.dir.join("tmp/got");
    let lines = || std::fs::read_to_string(&got_path).map_or(0, |t| t.lines().count());
    for (n, sig) in ["TERM", "SIGUSR1", "1"].into_iter().enumerate() {
        rt.ok(&["kill", "sig", sig]);
        wait_for(&format!("signal {sig}"), || lines() > n);
    }
    let got = std::fs::read_to_string(&got_path).unwrap();
    assert_eq!(got.lines().collect::<Vec<_>>(), vec!["15", "10", "1"]);
    let out = rt.run(&["kill", "sig", "NOPE"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown signal \"NOPE\""));
    rt.ok(&["kill", "--all", "sig", "KILL"]);
    wait_status(&rt, "sig", "stopped");
    rt.ok(&["delete", "sig"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

#[test]
fn delete_force_and_created() {
    let rt = Runtime::new(BIN, "force");
    let b = Bundle::new("force", &["sleep", "1000"]);
    let bundle = b.dir.to_str().unwrap();
    rt.ok(&["create", "--bundle", bundle, "created"]);
    // A created container is deleted without --force (its waiting init is killed).
    let pid = rt.state("created")["pid"].as_i64().unwrap();
    rt.ok(&["delete", "created"]);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap().contains(") Z")
    );
    rt.ok(&["run", "-d", "--bundle", bundle, "running"]);
    rt.ok(&["delete", "--force", "running"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// `delete --force` of a container that is gone succeeds, as runc's does: containerd's
/// shim cleans up with it after the container was deleted (and warned on every pod
/// before). Without --force, an unknown id is still an error.
#[test]
fn delete_force_of_a_container_that_is_gone() {
    let rt = Runtime::new(BIN, "forcegone");
    let b = Bundle::new("forcegone", &["true"]);
    rt.ok(&["run", "--keep", "--bundle", b.dir.to_str().unwrap(), "gone"]);
    rt.ok(&["delete", "gone"]);
    rt.ok(&["delete", "--force", "gone"]);
    rt.ok(&["delete", "--force", "never-was"]);
    let out = rt.run(&["delete", "never-was"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: container \"never-was\" does not exist"), "{out:?}");
    // Still no path games: a bad id is refused with --force too.
    assert_eq!(rt.run(&["delete", "--force", "../x"]).status.code(), Some(1));
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

#[test]
fn list_table_and_json() {
    let rt = Runtime::new(BIN, "list");
    let b = Bundle::new("list", &["sleep", "1000"]);
    rt.ok(&["create", "--bundle", b.dir.to_str().unwrap(), "l1"]);
    let table = rt.ok(&["list"]);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("ID"));
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(row[0], "l1");
    assert_eq!(row[2], "created");
    let json: serde_json::Value = serde_json::from_str(&rt.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(json[0]["id"], "l1");
    assert_eq!(json[0]["status"], "created");
    assert_eq!(rt.ok(&["list", "-q"]).trim(), "l1");
    rt.ok(&["delete", "l1"]);
    assert_eq!(rt.ok(&["list", "-q"]).trim(), "");
}

#[test]
fn run_passes_exit_codes_and_signal_deaths() {
    let rt = Runtime::new(BIN, "exitcodes");
    let mut b = Bundle::new("exitcodes", &["sh", "-c", "exit 42"]);
    assert_eq!(rt.run_bundle(&b, "e1").0, 42);
    // Without a pid namespace of its own the shell is not a pid 1, which ignores
    // signals it has no handler for: SIGKILL kills it, and run reports 128+9.
    let namespaces = b.config["linux"]["namespaces"].clone();
    b.config["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "pid");
    b.set_args(&["sh", "-c", "kill -9 $$"]);
    assert_eq!(rt.run_bundle(&b, "e2").0, 137);
    b.config["linux"]["namespaces"] = namespaces;
    b.set_args(&["sh", "-c", "echo out; echo err >&2"]);
    let (code, out, err) = rt.run_bundle(&b, "e3");
    assert_eq!((code, out.as_str(), err.as_str()), (0, "out\n", "err\n"));
    // --keep leaves a stopped container to inspect.
    let out = rt.run(&["run", "--keep", "--bundle", b.dir.to_str().unwrap(), "kept"]);
    assert!(out.status.success());
    assert_eq!(rt.state("kept")["status"], "stopped");
    rt.ok(&["delete", "kept"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

#[test]
fn run_forwards_signals() {
    let rt = Runtime::new(BIN, "forward");
    let mut b =
        Bundle::new("forward", &["sh", "-c", "trap 'exit 3' TERM; touch /tmp/ready; while true; do sleep 0.05; done"]);
    b.share_dir("tmp", "/tmp");
    b.write();
    let child = rt
        .cmd()
        .args(["run", "--bundle", b.dir.to_str().unwrap(), "fw"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the trap", || b.dir.join("tmp/ready").exists());
    // Signal our own child, the runtime, by its pid: it forwards to the container.
    assert_eq!(unsafe_free_kill(child.id() as i32, libc::SIGTERM), 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

fn unsafe_free_kill(pid: i32, sig: i32) -> i32 {
    std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .map_or(-1, |s| s.code().unwrap_or(-1))
}

/// Of ten concurrent creates of one id exactly one wins; the state stays whole.
#[test]
fn concurrent_creates_of_one_id() {
    let rt = Runtime::new(BIN, "concurrent");
    let b = Bundle::new("concurrent", &["sleep", "1000"]);
    let bundle = b.dir.to_str().unwrap();
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            (0..10).map(|_| scope.spawn(|| rt.run(&["create", "--bundle", bundle, "same"]))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wins = results.iter().filter(|r| r.status.success()).count();
    assert_eq!(wins, 1, "{results:?}");
    for r in results.iter().filter(|r| !r.status.success()) {
        assert!(String::from_utf8_lossy(&r.stderr).contains("already exists"), "{r:?}");
    }
    assert_eq!(rt.state("same")["status"], "created");
    // Concurrent deletes: one deletes, the others find nothing; nothing is corrupted.
    std::thread::scope(|scope| {
        for _ in 0..5 {
            scope.spawn(|| rt.run(&["delete", "--force", "same"]));
        }
    });
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// A state whose pid now belongs to another process (same number, other start time)
/// is a stopped container, and kill must not touch that process.
#[test]
fn pid_reuse_is_detected() {
    let rt = Runtime::new(BIN, "pidreuse");
    let b = Bundle::new("pidreuse", &["true"]);
    rt.ok(&["run", "--keep", "--bundle", b.dir.to_str().unwrap(), "old"]);
    let path = rt.root.join("old/state.json");
    let mut state: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    // Start times count clock ticks (10 ms): two processes started within one tick look
    // alike (runc's limit too). Let a few ticks pass.
    std::thread::sleep(Duration::from_millis(50));
    let mut innocent = std::process::Command::new("sleep").arg("100").spawn().unwrap();
    state["pid"] = serde_json::json!(innocent.id());
    std::fs::write(&path, state.to_string()).unwrap();
    assert_eq!(rt.state("old")["status"], "stopped");
    assert!(!rt.run(&["kill", "old", "KILL"]).status.success());
    assert!(innocent.try_wait().unwrap().is_none(), "the innocent process was killed");
    innocent.kill().unwrap();
    innocent.wait().unwrap();
    rt.ok(&["delete", "old"]);
}

/// 50 create/start/kill/delete cycles leave no mount, cgroup, process or state.
#[test]
fn fifty_cycles_leak_nothing() {
    let rt = Runtime::new(BIN, "cycles");
    let b = Bundle::new("cycles", &["sleep", "1000"]);
    let bundle = b.dir.to_str().unwrap();
    // Only mounts of this test count: the other tests of this binary mount and unmount
    // in parallel.
    let ours = || {
        let (dir, root) = (b.dir.to_str().unwrap(), rt.root.to_str().unwrap());
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        mounts.lines().filter(|l| l.contains(dir) || l.contains(root)).map(str::to_string).collect::<Vec<_>>()
    };
    let mounts_before = ours();
    for i in 0..50 {
        let id = format!("cycle{i}");
        rt.ok(&["create", "--bundle", bundle, &id]);
        rt.ok(&["start", &id]);
        rt.ok(&["kill", &id, "KILL"]);
        wait_status(&rt, &id, "stopped");
        rt.ok(&["delete", &id]);
    }
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
    assert_eq!(mounts_before, ours());
}

/// A `create` killed half-way leaves a "creating" state; `delete` cleans all of it up.
#[test]
fn delete_recovers_from_a_crashed_create() {
    let rt = Runtime::new(BIN, "crash");
    let mut b = Bundle::new("crash", &["sleep", "1000"]);
    // The create pauses in a createRuntime hook, long enough to be killed there.
    b.config["hooks"] = serde_json::json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "1"]}]});
    b.write();
    let mut create = rt
        .cmd()
        .args(["create", "--bundle", b.dir.to_str().unwrap(), "crashed"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !rt.root.join("crashed/state.json").exists()
        || lindocker_testkit::cgroup_dirs(&format!("{}/crash", b.cgroup_parent)).iter().all(|d| !d.exists())
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    create.kill().unwrap();
    create.wait().unwrap();
    assert_eq!(rt.state("crashed")["status"], "creating");
    std::thread::sleep(Duration::from_millis(1200));
    rt.ok(&["delete", "--force", "crashed"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// A torn state file (a power loss before the data reached the disk) is reported by
/// `state` and removed by `delete`.
#[test]
fn torn_state_is_reported_and_deletable() {
    let rt = Runtime::new(BIN, "torn");
    let b = Bundle::new("torn", &["true"]);
    rt.ok(&["run", "--keep", "--bundle", b.dir.to_str().unwrap(), "torn"]);
    std::fs::write(rt.root.join("torn/state.json"), "").unwrap();
    let out = rt.run(&["state", "torn"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("state.json"), "{out:?}");
    rt.ok(&["delete", "torn"]);
    assert!(!rt.root.join("torn").exists());
    // (Its empty cgroup stays here; after a real power loss there are no cgroups left.
    // The bundle's drop removes it.)
}
