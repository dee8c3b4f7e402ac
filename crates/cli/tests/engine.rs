//! The engine end to end: `lindocker run` and friends on the real kernel, with the
//! shim, logs, volumes, limits, crash recovery, and proof that nothing is left behind.

use std::fs;
use std::time::{Duration, Instant};

use lindocker_testkit::{Engine, temp_dir};
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

fn clean(engine: &Engine) {
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `$HOME` as `docker run` shows it: runc sets it from the container's passwd when the
/// spec has none (`/` for a user without an entry); an explicit `-e HOME` wins.
#[test]
fn home_is_the_users_from_the_containers_passwd() {
    let engine = Engine::with_busybox(BIN, "home");
    let home = |flags: &[&str]| {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend_from_slice(flags);
        args.extend(["localhost/busybox", "sh", "-c", "echo $HOME"]);
        engine.ok(&args)
    };
    assert_eq!(home(&[]), "/root\n");
    assert_eq!(home(&["-u", "1000"]), "/\n");
    assert_eq!(home(&["-e", "HOME=/elsewhere"]), "/elsewhere\n");
    engine.ok(&["run", "-d", "--name", "homed", "--network", "none", "localhost/busybox", "sleep", "60"]);
    assert_eq!(engine.ok(&["exec", "homed", "sh", "-c", "echo $HOME"]), "/root\n");
    engine.ok(&["rm", "-f", "homed"]);
    clean(&engine);
}

#[test]
fn run_prints_output_and_returns_the_exit_code() {
    let engine = Engine::with_busybox(BIN, "run");
    let out = engine.run(&["run", "--rm", "localhost/busybox", "echo", "hello"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    assert_eq!(out.status.code(), Some(0));
    // Another OCI runtime by name (runc, which the README's install command installs).
    assert_eq!(engine.ok(&["run", "--rm", "--runtime", "runc", "localhost/busybox", "echo", "via runc"]), "via runc\n");
    let err = engine.fails(&["run", "--rm", "--runtime", "/no/such/runtime", "localhost/busybox", "true"], 125);
    assert!(err.contains("unknown or missing runtime"), "{err}");
    let out =
        engine.run(&["run", "--name", "three", "localhost/busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let info = inspect(&engine, "three");
    assert_eq!(info["State"]["Status"], "exited");
    assert_eq!(info["State"]["ExitCode"], 3);
    assert_eq!(info["Name"], "/three");
    assert_eq!(info["Id"].as_str().unwrap().len(), 64);
    let logs = engine.run(&["logs", "three"]);
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&logs.stderr), "err\n");
    let raw =
        fs::read_to_string(engine.root.join("containers").join(info["Id"].as_str().unwrap()).join("log.json")).unwrap();
    let first: Value = serde_json::from_str(raw.lines().next().unwrap()).unwrap();
    assert!(first["log"].is_string() && first["stream"].is_string() && first["time"].is_string(), "{first}");
    let ps = engine.ok(&["ps", "-a"]);
    assert!(ps.starts_with("CONTAINER ID   IMAGE"), "{ps}");
    assert!(ps.lines().any(|l| l.contains("Exited (3)") && l.ends_with("three")), "{ps}");
    assert_eq!(engine.ok(&["ps", "-q"]), "", "nothing runs");
    engine.ok(&["rm", "three"]);
    assert_eq!(engine.ok(&["ps", "-a", "-q"]), "");
    clean(&engine);
}

#[test]
fn exit_codes_and_errors_follow_docker() {
    let engine = Engine::with_busybox(BIN, "codes");
    let err = engine.fails(&["run", "--rm", "localhost/busybox", "/no/such/program"], 127);
    assert!(err.contains("no such file"), "{err}");
    let err = engine.fails(&["run", "--rm", "localhost/busybox", "nosuchcommand"], 127);
    assert!(err.contains("not found"), "{err}");
    let err = engine.fails(&["run", "--rm", "localhost/busybox", "/etc/passwd"], 126);
    assert!(err.contains("permission denied"), "{err}");
    let err = engine.fails(&["run", "--rm", "-m", "10zz", "localhost/busybox", "true"], 125);
    assert!(err.contains("--memory"), "{err}");
    let err = engine.fails(&["run", "--rm", "--pull", "never", "localhost/nothere", "true"], 125);
    assert!(err.contains("No such image"), "{err}");
    let err = engine.fails(&["run", "--rm", "-v", "relative:/x:ro:extra", "localhost/busybox", "true"], 125);
    assert!(err.contains("-v"), "{err}");
    // A missing host path of `-v` is made, as Docker makes it (`--mount` refuses it:
    // parity mounts::); a relative one is the caller's (Docker CLI 23+).
    let made = engine.root.join("made-by-v/deeper");
    let v = format!("{}:/x", made.display());
    engine.ok(&["run", "--rm", "-v", &v, "localhost/busybox", "sh", "-c", "echo hi > /x/f"]);
    assert_eq!(std::fs::read_to_string(made.join("f")).unwrap(), "hi\n");
    engine.fails(&["run", "--bogus-flag", "localhost/busybox"], 125);
    let err = engine.fails(&["logs", "nothere"], 1);
    assert!(err.contains("No such container: nothere"), "{err}");
    engine.ok(&["create", "--name", "taken", "localhost/busybox", "true"]);
    let err = engine.fails(&["rmi", "localhost/busybox"], 1);
    assert!(err.contains("being used by a container"), "{err}");
    let err = engine.fails(&["run", "--name", "taken", "localhost/busybox", "true"], 125);
    assert!(err.contains("already in use"), "{err}");
    // The failed starts above are containers in "created" state, as in Docker.
    engine.ok(&["container", "prune", "-f"]);
    assert_eq!(engine.ok(&["ps", "-a", "-q"]), "");
    clean(&engine);
}

#[test]
fn two_clis_racing_for_a_name_one_wins() {
    let engine = Engine::with_busybox(BIN, "race");
    let children: Vec<_> = (0..6)
        .map(|_| {
            engine
                .cmd()
                .args(["create", "--name", "contested", "localhost/busybox", "true"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let wins = children.into_iter().map(|mut c| c.wait().unwrap().success()).filter(|ok| *ok).count();
    assert_eq!(wins, 1);
    assert_eq!(engine.ok(&["ps", "-a", "-q"]).lines().count(), 1, "the losers made nothing");
    engine.ok(&["rm", "contested"]);
    clean(&engine);
}

#[test]
fn detached_containers_log_exec_stop_and_rm() {
    let engine = Engine::with_busybox(BIN, "detached");
    let id = engine.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "localhost/busybox",
        "sh",
        "-c",
        "trap 'echo bye; exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done",
    ]);
    assert_eq!(id.trim().len(), 64);
    wait_for("three ticks", || engine.ok(&["logs", "ticker"]).lines().count() >= 3);
    assert_eq!(engine.ok(&["logs", "--tail", "1", "ticker"]).lines().count(), 1);
    let stamped = engine.ok(&["logs", "-t", "--tail", "1", "ticker"]);
    assert!(stamped.starts_with("20") && stamped.contains(" tick "), "{stamped}");
    assert!(engine.ok(&["ps"]).contains("Up "), "running");
    assert_eq!(engine.ok(&["exec", "ticker", "sh", "-c", "echo $((6*7))"]), "42\n");
    assert_eq!(engine.ok(&["exec", "-e", "X=y", "-w", "/tmp", "ticker", "sh", "-c", "echo $X $(pwd)"]), "y /tmp\n");
    let out = engine.run(&["exec", "ticker", "sh", "-c", "exit 5"]);
    assert_eq!(out.status.code(), Some(5));
    engine.fails(&["exec", "ticker", "nosuchcommand"], 127);
    // A signal sent to `exec` reaches the exec'd process.
    let mut exec = engine
        .cmd()
        .args(["exec", "ticker", "sh", "-c", "trap 'echo got TERM; exit 3' TERM; echo ready; sleep 100 & wait"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(exec.stdout.take().unwrap()));
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let cli = rustix::process::Pid::from_raw(exec.id() as i32).unwrap();
    rustix::process::kill_process(cli, rustix::process::Signal::TERM).unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "got TERM");
    assert_eq!(exec.wait().unwrap().code(), Some(3));
    let top = engine.ok(&["top", "ticker"]);
    assert!(top.contains("sleep") || top.contains("sh -c"), "{top}");
    let stats = engine.ok(&["stats", "--no-stream", "ticker"]);
    assert!(stats.contains("ticker") && stats.contains('%'), "{stats}");
    engine.ok(&["pause", "ticker"]);
    assert_eq!(inspect(&engine, "ticker")["State"]["Status"], "paused");
    engine.ok(&["unpause", "ticker"]);
    let started = Instant::now();
    engine.ok(&["stop", "ticker"]);
    assert!(started.elapsed() < Duration::from_secs(8), "the TERM trap ended it, no 10 s wait");
    assert!(engine.ok(&["logs", "ticker"]).ends_with("bye\n"));
    let info = inspect(&engine, "ticker");
    assert_eq!(info["State"]["Status"], "exited");
    assert_eq!(info["State"]["ExitCode"], 0);
    let err = engine.fails(&["exec", "ticker", "true"], 1);
    assert!(err.contains("is not running"), "{err}");
    assert_eq!(engine.ok(&["wait", "ticker"]).trim(), "0");
    // Start again, then remove by force while it runs.
    engine.ok(&["start", "ticker"]);
    wait_for("running again", || inspect(&engine, "ticker")["State"]["Running"] == true);
    let err = engine.fails(&["rm", "ticker"], 1);
    assert!(err.contains("cannot remove a running container"), "{err}");
    engine.ok(&["rename", "ticker", "renamed"]);
    engine.ok(&["rm", "-f", "renamed"]);
    assert_eq!(engine.ok(&["ps", "-a", "-q"]), "");
    clean(&engine);
}

#[test]
fn a_killed_shim_or_cli_leaves_a_container_that_can_be_started_and_removed() {
    let engine = Engine::with_busybox(BIN, "crash");
    engine.ok(&["run", "-d", "--name", "victim", "localhost/busybox", "sleep", "1000"]);
    let shims = engine.shims();
    assert_eq!(shims.len(), 1);
    rustix::process::kill_process(rustix::process::Pid::from_raw(shims[0]).unwrap(), rustix::process::Signal::KILL)
        .unwrap();
    wait_for("the shim to die", || engine.shims().is_empty());
    let ps = engine.ok(&["ps", "-a"]);
    assert!(ps.lines().any(|l| l.contains("Exited") && l.ends_with("victim")), "{ps}");
    assert!(inspect(&engine, "victim")["State"]["Error"].as_str().unwrap().contains("shim"));
    // Nothing of the old run is left running.
    assert!(
        lindocker_testkit::leftovers(&engine.cgroup_parent, &engine.root, &engine.state)
            .iter()
            .all(|l| !l.starts_with("process"))
    );
    engine.ok(&["start", "victim"]);
    wait_for("running again", || inspect(&engine, "victim")["State"]["Running"] == true);

    // "Reboot": every shim killed, the mounts gone.
    for pid in engine.shims() {
        rustix::process::kill_process(rustix::process::Pid::from_raw(pid).unwrap(), rustix::process::Signal::KILL)
            .unwrap();
    }
    wait_for("the shims to die", || engine.shims().is_empty());
    let merged = engine.root.join("containers").join(inspect(&engine, "victim")["Id"].as_str().unwrap()).join("merged");
    let _ = rustix::mount::unmount(&merged, rustix::mount::UnmountFlags::DETACH);
    assert!(engine.ok(&["ps", "-a"]).contains("Exited"));
    engine.ok(&["start", "victim"]);
    wait_for("running after the reboot", || inspect(&engine, "victim")["State"]["Running"] == true);
    engine.ok(&["rm", "-f", "victim"]);

    // A foreground `run` whose CLI is killed: the container goes on.
    let mut cli = engine.cmd().args(["run", "--name", "orphan", "localhost/busybox", "sleep", "1000"]).spawn().unwrap();
    wait_for("the container to run", || {
        engine.run(&["inspect", "orphan"]).status.success() && inspect(&engine, "orphan")["State"]["Running"] == true
    });
    cli.kill().unwrap();
    cli.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(inspect(&engine, "orphan")["State"]["Running"], true, "killing the CLI does not kill the container");
    engine.ok(&["rm", "-f", "orphan"]);
    clean(&engine);
}

#[test]
fn the_first_command_after_a_reboot_restarts_what_the_policies_say() {
    let engine = Engine::with_busybox(BIN, "boot");
    let run = |args: &[&str]| {
        let mut all = vec!["run", "-d", "--network", "none"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["localhost/busybox", "sleep", "1000"]);
        engine.ok(&all);
    };
    run(&["--name", "always", "--restart", "always"]);
    run(&["--name", "stopped", "--restart", "unless-stopped"]);
    engine.ok(&["stop", "-t", "0", "stopped"]);
    run(&["--name", "unless", "--restart", "unless-stopped"]);
    run(&["--name", "plain"]);
    run(&["--name", "ephemeral", "--rm"]);
    engine.ok(&["create", "--name", "torn", "--network", "none", "localhost/busybox", "true"]);
    let torn = inspect(&engine, "torn")["Id"].as_str().unwrap().to_owned();

    engine.reboot();
    // The crash caught `torn` mid-write (a `--rm` record is not fsynced).
    fs::write(engine.root.join("containers").join(&torn).join("record.json"), "").unwrap();

    let state = |name: &str| inspect(&engine, name)["State"]["Status"].as_str().unwrap().to_owned();
    assert_eq!(state("always"), "running", "`always` comes back");
    assert_eq!(state("unless"), "running", "`unless-stopped` comes back when not stopped");
    assert_eq!(state("stopped"), "exited", "a container the user stopped stays stopped");
    assert_eq!(state("plain"), "exited");
    assert_eq!(inspect(&engine, "plain")["State"]["ExitCode"], 137);
    let err = engine.fails(&["inspect", "ephemeral"], 1);
    assert!(err.contains("No such"), "a `--rm` container the crash ended is removed: {err}");
    engine.fails(&["inspect", "torn"], 1);
    assert!(!engine.root.join("containers").join(&torn).exists(), "the torn record's directory is gone");
    engine.ok(&["create", "--name", "torn", "--network", "none", "localhost/busybox", "true"]);
    // Once per boot: a second command changes nothing.
    engine.ok(&["stop", "-t", "0", "always"]);
    assert_eq!(engine.ok(&["system", "boot"]), "");
    assert_eq!(state("always"), "exited");
    let ids: Vec<String> = engine.ok(&["ps", "-aq"]).lines().map(str::to_owned).collect();
    let mut args = vec!["rm", "-f"];
    args.extend(ids.iter().map(String::as_str));
    engine.ok(&args);
    clean(&engine);
}

#[test]
fn user_namespace_containers_are_root_inside_and_unprivileged_outside() {
    let engine = Engine::with_busybox(BIN, "userns");
    let (uids, _) = lindocker_engine::userns::ranges();
    let out = engine.ok(&[
        "run",
        "--rm",
        "--user-ns",
        "localhost/busybox",
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; stat -c %u /bin/busybox; touch /bin/busybox && echo wrote",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "{out}");
    let map: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(map, ["0", &uids.host.to_string(), &uids.size.to_string()], "{out}");
    assert_eq!(lines[2], "0", "the image's root-owned files are the container root's: {out}");
    assert_eq!(lines[3], "wrote", "{out}");

    engine.ok(&["run", "-d", "--name", "uns", "--user-ns", "localhost/busybox", "sleep", "1000"]);
    let pid = inspect(&engine, "uns")["State"]["Pid"].as_i64().unwrap();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(uid_line.split_whitespace().nth(1), Some(uids.host.to_string().as_str()), "{uid_line}");
    engine.ok(&["exec", "uns", "sh", "-c", "echo e > /fromexec"]);
    // On disk what it wrote belongs to root, as for any container: commit and diff as usual.
    let id = inspect(&engine, "uns")["Id"].as_str().unwrap().to_owned();
    let upper = engine.root.join("containers").join(&id).join("upper/fromexec");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&fs::metadata(&upper).unwrap()), 0);
    assert!(engine.ok(&["diff", "uns"]).contains("A /fromexec"));
    engine.ok(&["rm", "-f", "uns"]);
    // A new volume is the container root's; what the image had there is copied in.
    let out = engine.ok(&[
        "run",
        "--rm",
        "--user-ns",
        "-v",
        "nsvol:/etc",
        "localhost/busybox",
        "sh",
        "-c",
        "echo v > /etc/new && stat -c %u /etc/passwd",
    ]);
    assert_eq!(out, "0\n");
    engine.ok(&["volume", "rm", "nsvol"]);
    clean(&engine);
}

#[test]
fn volumes_binds_and_tmpfs() {
    let engine = Engine::with_busybox(BIN, "volumes");
    // A named volume starts with the image's content at the mount point.
    let out = engine.ok(&[
        "run",
        "--rm",
        "-v",
        "data:/etc",
        "localhost/busybox",
        "sh",
        "-c",
        "cat /etc/passwd | head -1; echo kept > /etc/note",
    ]);
    assert!(out.starts_with("root:"), "{out}");
    assert_eq!(engine.ok(&["run", "--rm", "-v", "data:/etc:ro", "localhost/busybox", "cat", "/etc/note"]), "kept\n");
    let err = engine.fails(&["run", "--rm", "-v", "data:/etc:ro", "localhost/busybox", "touch", "/etc/x"], 1);
    assert!(err.contains("Read-only"), "{err}");
    assert!(engine.ok(&["volume", "ls"]).contains("data"));
    let info: Value = serde_json::from_str(&engine.ok(&["volume", "inspect", "data"])).unwrap();
    assert_eq!(fs::read_to_string(format!("{}/note", info[0]["Mountpoint"].as_str().unwrap())).unwrap(), "kept\n");

    let host = temp_dir("volumes-bind");
    fs::write(host.join("in"), "from the host\n").unwrap();
    let bind = format!("{}:/mnt", host.display());
    assert_eq!(
        engine.ok(&["run", "--rm", "-v", &bind, "localhost/busybox", "sh", "-c", "cat /mnt/in; echo back > /mnt/out"]),
        "from the host\n"
    );
    assert_eq!(fs::read_to_string(host.join("out")).unwrap(), "back\n");
    let out = engine.ok(&["run", "--rm", "--tmpfs", "/scratch:size=1m", "--read-only", "localhost/busybox", "sh", "-c", "echo t > /scratch/f && cat /scratch/f && grep ' /scratch ' /proc/mounts | cut -d' ' -f3; touch /rootfile 2>&1 || true"]);
    assert!(out.starts_with("t\ntmpfs\n") && out.contains("Read-only"), "{out}");

    // An anonymous volume goes with `rm -v`; a named one stays.
    engine.ok(&["run", "--name", "anon", "-v", "/cache", "-v", "data:/data", "localhost/busybox", "true"]);
    assert_eq!(engine.ok(&["volume", "ls", "-q"]).lines().count(), 2);
    let err = engine.fails(&["volume", "rm", "data"], 1);
    assert!(err.contains("in use"), "{err}");
    engine.ok(&["rm", "-v", "anon"]);
    assert_eq!(engine.ok(&["volume", "ls", "-q"]).trim(), "data");
    engine.ok(&["volume", "rm", "data"]);
    fs::remove_dir_all(&host).unwrap();
    clean(&engine);
}

fn cgroup_file(engine: &Engine, name: &str, controller: &str, file: &str) -> String {
    let id = inspect(engine, name)["Id"].as_str().unwrap().to_owned();
    let v1 = format!("/sys/fs/cgroup/{controller}{}/{id}/{file}", engine.cgroup_parent);
    let v2 = format!("/sys/fs/cgroup{}/{id}/{file}", engine.cgroup_parent);
    fs::read_to_string(&v1).or_else(|_| fs::read_to_string(&v2)).unwrap_or_else(|e| panic!("{v1}: {e}"))
}

#[test]
fn limits_are_enforced_by_the_kernel() {
    let engine = Engine::with_busybox(BIN, "limits");
    // Memory: a process that grows past 32 MiB is OOM-killed, and inspect says so.
    let out = engine.run(&[
        "run",
        "--name",
        "hog",
        "-m",
        "32m",
        "--memory-swap",
        "32m",
        "localhost/busybox",
        "sh",
        "-c",
        "x=a; while true; do x=$x$x; done",
    ]);
    assert_eq!(out.status.code(), Some(137), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(inspect(&engine, "hog")["State"]["OOMKilled"], true);
    engine.ok(&["rm", "hog"]);

    // Pids: a fork bomb stays under 20 processes and the host is fine.
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "bomb",
        "--pids-limit",
        "20",
        "localhost/busybox",
        "sh",
        "-c",
        // The bomb goes off in a subshell: the container's PID 1 forks nothing after it,
        // so a failed fork cannot end the container before we look.
        "sleep 1000 & (bomb() { bomb | bomb & }; bomb) 2>/dev/null; wait",
    ]);
    std::thread::sleep(Duration::from_millis(500));
    let current: u64 = cgroup_file(&engine, "bomb", "pids", "pids.current").trim().parse().unwrap();
    assert!(current <= 20, "{current} processes");
    assert_eq!(cgroup_file(&engine, "bomb", "pids", "pids.max").trim(), "20");
    engine.ok(&["rm", "-f", "bomb"]);

    // CPU: half a core for a busy loop, measured from the cgroup's usage over a second.
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "spin",
        "--cpus",
        "0.5",
        "localhost/busybox",
        "sh",
        "-c",
        "while true; do :; done",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let usage = || -> u64 {
        let id = inspect(&engine, "spin")["Id"].as_str().unwrap().to_owned();
        let v1 = format!("/sys/fs/cgroup/cpuacct{}/{id}/cpuacct.usage", engine.cgroup_parent);
        match fs::read_to_string(&v1) {
            Ok(ns) => ns.trim().parse().unwrap(),
            Err(_) => {
                let stat = fs::read_to_string(format!("/sys/fs/cgroup{}/{id}/cpu.stat", engine.cgroup_parent)).unwrap();
                stat.lines().find_map(|l| l.strip_prefix("usage_usec ")).unwrap().parse::<u64>().unwrap() * 1000
            }
        }
    };
    let (u0, t0) = (usage(), Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let share = (usage() - u0) as f64 / t0.elapsed().as_nanos() as f64;
    assert!((0.3..0.7).contains(&share), "a busy loop under --cpus 0.5 used {share:.2} of a core");
    engine.ok(&["rm", "-f", "spin"]);

    // cpuset: pinned to CPU 0, as the container itself sees.
    let out = engine.ok(&[
        "run",
        "--rm",
        "--cpuset-cpus",
        "0",
        "localhost/busybox",
        "grep",
        "Cpus_allowed_list",
        "/proc/self/status",
    ]);
    assert!(out.trim().ends_with(":\t0") || out.trim().ends_with(" 0"), "{out}");
    // ulimits reach the process.
    assert_eq!(
        engine.ok(&[
            "run",
            "--rm",
            "--ulimit",
            "nofile=1024:2048",
            "localhost/busybox",
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn"
        ]),
        "1024\n2048\n"
    );
    clean(&engine);
}

#[test]
fn confinement_defaults_and_options() {
    let engine = Engine::with_busybox(BIN, "confine");
    let caps = |args: &[&str]| -> String {
        let mut all = vec!["run", "--rm"];
        all.extend_from_slice(args);
        all.extend(["localhost/busybox", "grep", "CapEff", "/proc/self/status"]);
        engine.ok(&all)
    };
    assert!(caps(&[]).contains("00000000a80425fb"), "Docker's default set: {}", caps(&[]));
    assert!(caps(&["--cap-drop", "ALL"]).contains("0000000000000000"));
    let ours = fs::read_to_string("/proc/self/status").unwrap().lines().find(|l| l.starts_with("CapBnd:")).unwrap()
        [7..]
        .trim()
        .to_owned();
    assert!(caps(&["--privileged"]).contains(&ours), "--privileged gives every capability we have");
    // The container's process starts with no signal ignored or blocked, whatever the
    // CLI, the shim or the runtime ignored (Rust ignores SIGPIPE; glibc keeps 32 and 33).
    let signals = engine.ok(&["run", "--rm", "localhost/busybox", "grep", "-E", "Sig(Ign|Blk)", "/proc/self/status"]);
    assert_eq!(signals.matches("0000000000000000").count(), 2, "{signals}");
    // Docker's seccomp profile is in force (mode 2, a filter); unconfined has none. (The
    // runtime's own tests prove what a profile refuses.)
    let seccomp = engine.ok(&["run", "--rm", "localhost/busybox", "grep", "Seccomp:", "/proc/self/status"]);
    assert!(seccomp.contains('2'), "{seccomp}");
    let seccomp = engine.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "localhost/busybox",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]);
    assert!(seccomp.contains('0'), "{seccomp}");
    // A syscall newer than this libseccomp knows (statmount, 457) is not allowed by the
    // profile but fails with ENOSYS, which programs fall back from, not EPERM (as runc).
    let probe = engine.ok(&["run", "--rm", "localhost/busybox", "checker", "--syscall", "457"]);
    let probe: serde_json::Value = serde_json::from_str(&probe).unwrap();
    assert!(matches!(probe["writes"]["syscall:457"]["errno"].as_i64(), Some(38 | 14)), "{probe}");
    // User, working directory, host name, env, entrypoint, labels, init.
    let out = engine.ok(&[
        "run",
        "--rm",
        "-u",
        "nobody",
        "-w",
        "/tmp",
        "-h",
        "box",
        "-e",
        "A=1",
        "localhost/busybox",
        "sh",
        "-c",
        "id -u; pwd; hostname; echo $A; cat /etc/hostname",
    ]);
    assert_eq!(out, "65534\n/tmp\nbox\n1\nbox\n");
    assert_eq!(
        engine.ok(&["run", "--rm", "--entrypoint", "echo", "localhost/busybox", "via", "entrypoint"]),
        "via entrypoint\n"
    );
    assert_eq!(
        engine.ok(&["run", "--rm", "--init", "localhost/busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"]),
        "/dev/init -- sh -c cat /proc/1/cmdline | tr '\\0' ' ' "
    );
    engine.ok(&["create", "--name", "labelled", "--label", "team=core", "localhost/busybox", "true"]);
    assert_eq!(engine.ok(&["ps", "-a", "-q", "--filter", "label=team=core"]).lines().count(), 1);
    assert_eq!(engine.ok(&["ps", "-a", "-q", "--filter", "label=team=other"]), "");
    engine.ok(&["rm", "labelled"]);
    clean(&engine);
}

#[test]
fn commit_export_diff_and_cp() {
    let engine = Engine::with_busybox(BIN, "commit");
    engine.ok(&[
        "run",
        "--name",
        "changed",
        "localhost/busybox",
        "sh",
        "-c",
        "echo made > /made; rm -f /etc/group; mkdir -p /newdir",
    ]);
    let diff = engine.ok(&["diff", "changed"]);
    assert!(diff.contains("A /made") && diff.contains("D /etc/group") && diff.contains("C /etc"), "{diff}");
    let id = engine.ok(&["commit", "-c", "CMD [\"cat\", \"/made\"]", "changed", "localhost/committed:1"]);
    assert!(id.starts_with("sha256:"));
    assert_eq!(engine.ok(&["run", "--rm", "localhost/committed:1"]), "made\n");
    assert!(
        !engine.run(&["run", "--rm", "localhost/committed:1", "test", "-e", "/etc/group"]).status.success(),
        "the deletion is in the image"
    );
    let tar = engine.root.join("export.tar");
    engine.ok(&["export", "-o", tar.to_str().unwrap(), "changed"]);
    let mut archive = tar::Archive::new(fs::File::open(&tar).unwrap());
    let names: Vec<String> =
        archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
    assert!(
        names.iter().any(|n| n == "made")
            && names.iter().any(|n| n == "bin/busybox")
            && !names.iter().any(|n| n == "etc/group")
    );

    let host = temp_dir("commit-cp");
    engine.ok(&["cp", "changed:/made", host.join("made").to_str().unwrap()]);
    assert_eq!(fs::read_to_string(host.join("made")).unwrap(), "made\n");
    fs::write(host.join("in"), "into\n").unwrap();
    engine.ok(&["cp", host.join("in").to_str().unwrap(), "changed:/newdir/"]);
    engine.ok(&["start", "-a", "changed"]);
    let id = inspect(&engine, "changed")["Id"].as_str().unwrap().to_owned();
    assert_eq!(fs::read_to_string(engine.root.join("containers").join(id).join("upper/newdir/in")).unwrap(), "into\n");
    engine.ok(&["rm", "changed"]);
    engine.ok(&["rmi", "localhost/committed:1"]);

    // `cp` sees what the container sees: its volumes and tmpfs while it runs, its volumes
    // and binds while it is stopped.
    let cp =
        ["run", "-d", "--name", "cp", "-v", "cpvol:/data", "--tmpfs", "/scratch", "localhost/busybox", "sleep", "1000"];
    engine.ok(&cp);
    engine.ok(&["cp", host.join("in").to_str().unwrap(), "cp:/data/"]);
    engine.ok(&["cp", host.join("in").to_str().unwrap(), "cp:/scratch/in"]);
    assert_eq!(engine.ok(&["exec", "cp", "cat", "/data/in", "/scratch/in"]), "into\ninto\n");
    engine.ok(&["stop", "-t", "0", "cp"]);
    engine.ok(&["cp", "cp:/data/in", host.join("back").to_str().unwrap()]);
    assert_eq!(fs::read_to_string(host.join("back")).unwrap(), "into\n");
    let err = engine.fails(&["cp", host.join("in").to_str().unwrap(), "cp:/no/such/dir/in"], 1);
    assert!(err.contains("no such directory"), "{err}");
    engine.ok(&["rm", "-v", "cp"]);
    engine.ok(&["volume", "rm", "cpvol"]);
    fs::remove_dir_all(&host).unwrap();
    clean(&engine);
}

#[test]
fn restart_policies_and_log_rotation() {
    let engine = Engine::with_busybox(BIN, "restart");
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "localhost/busybox",
        "sh",
        "-c",
        "echo try; exit 1",
    ]);
    wait_for("two restarts", || {
        let info = inspect(&engine, "flaky");
        info["State"]["Status"] == "exited" && info["RestartCount"] == 2
    });
    assert_eq!(engine.ok(&["logs", "flaky"]), "try\ntry\ntry\n", "state: {}", inspect(&engine, "flaky")["State"]);
    engine.ok(&["rm", "flaky"]);

    engine.ok(&[
        "run",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=2",
        "localhost/busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done",
    ]);
    let id = inspect(&engine, "chatty")["Id"].as_str().unwrap().to_owned();
    let dir = engine.root.join("containers").join(&id);
    assert!(dir.join("log.json.1").exists() && !dir.join("log.json.2").exists());
    assert!(fs::metadata(dir.join("log.json")).unwrap().len() <= 1024);
    assert!(engine.ok(&["logs", "chatty"]).ends_with("line 199\n"));
    engine.ok(&["rm", "chatty"]);
    clean(&engine);
}

#[test]
fn a_terminal_container_is_interactive_and_detachable() {
    let engine = Engine::with_busybox(BIN, "tty");
    let pty = lindocker_testkit::Pty::open(33, 101);
    let mut cmd = engine.cmd();
    cmd.args(["run", "-it", "--name", "term", "localhost/busybox", "sh"]);
    pty.attach(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let reader = pty.read_until("SIZE 33 101");
    use std::io::Write;
    let mut master = pty.master.try_clone().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    master.write_all(b"echo SIZE $(stty size)\r").unwrap();
    let seen = reader.join().unwrap();
    assert!(seen.contains("SIZE 33 101"), "{seen}");
    // Ctrl-P Ctrl-Q: the CLI leaves, the container stays.
    master.write_all(b"\x10\x11").unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert_eq!(inspect(&engine, "term")["State"]["Running"], true);
    engine.ok(&["rm", "-f", "term"]);
    clean(&engine);
}
