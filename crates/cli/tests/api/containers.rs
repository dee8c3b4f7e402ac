//! Containers and exec through the API: the docker CLI's run, ps, logs, exec, attach,
//! stop, rm, inspect, cp.

use std::time::{Duration, Instant};

use lindocker_testkit::{Api, Engine};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a pty's master reads, as it comes (a reader thread that never blocks the test).
fn read_pty(pty: &lindocker_testkit::Pty) -> std::sync::mpsc::Receiver<String> {
    use std::io::Read;
    let mut master = pty.master.try_clone().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 || tx.send(String::from_utf8_lossy(&buf[..n]).into_owned()).is_err() {
                break;
            }
        }
    });
    rx
}

/// What came until `marker` (or 20 s passed).
fn seen_until(rx: &std::sync::mpsc::Receiver<String>, marker: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut out = String::new();
    while !out.contains(marker) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(text) => out.push_str(&text),
            Err(_) => break,
        }
    }
    out
}

/// The child's status; killed after 30 s.
fn wait_child(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn clean(engine: &Engine) {
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn docker_version_talks_to_the_service() {
    let engine = Engine::new(BIN, "api_version");
    let api = Api::start(&engine);
    let out = api.docker_ok(&["version", "--format", "{{.Server.APIVersion}} {{.Server.Os}} {{.Client.APIVersion}}"]);
    assert_eq!(out.trim(), "1.50 linux 1.50");
}

#[test]
fn docker_run_rm_prints_the_output_and_returns_the_exit_code() {
    let engine = Engine::with_busybox(BIN, "api_run");
    let api = Api::start(&engine);
    let out = api.docker_run(&["run", "--rm", "localhost/busybox", "echo", "hi"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hi\n",
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        api.output()
    );
    assert_eq!(out.status.code(), Some(0));
    let out = api.docker_run(&["run", "--rm", "localhost/busybox", "sh", "-c", "echo oops >&2; exit 3"]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    assert_eq!(out.status.code(), Some(3));
    // --rm: nothing is left, for the CLI either.
    assert_eq!(engine.ok(&["ps", "-aq"]), "");
    let out = api.docker_run(&["run", "--rm", "localhost/busybox", "no-such-command"]);
    assert_eq!(out.status.code(), Some(127), "{}", String::from_utf8_lossy(&out.stderr));
    drop(api);
    clean(&engine);
}

#[test]
fn docker_run_d_ps_logs_inspect_stop_rm_are_the_clis_containers() {
    let engine = Engine::with_busybox(BIN, "api_ps");
    let api = Api::start(&engine);
    let id = api
        .docker_ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "-l",
            "tier=front",
            "localhost/busybox",
            "sh",
            "-c",
            "echo started; while true; do sleep 0.1; done",
        ])
        .trim()
        .to_owned();
    assert_eq!(id.len(), 64, "{id}");
    // The same record for both front ends.
    let docker_ps = api.docker_ok(&["ps", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Labels}}"]);
    assert_eq!(docker_ps.trim(), format!("{id} web localhost/busybox tier=front"));
    let cli_ps = engine.ok(&["ps", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Labels}}"]);
    assert_eq!(cli_ps, docker_ps);
    assert_eq!(api.docker_ok(&["ps", "-q", "--filter", "label=tier=back"]), "");
    assert_eq!(
        api.docker_ok(&["inspect", "-f", "{{.State.Status}} {{.Name}} {{.Config.Labels.tier}}", "web"]),
        "running /web front\n"
    );
    assert_eq!(
        api.docker_ok(&["inspect", "-f", "{{.State.Pid}}", "web"]),
        engine.ok(&["inspect", "-f", "{{.State.Pid}}", "web"])
    );
    wait_for("the first log line", || api.docker_ok(&["logs", "web"]) == "started\n");
    let stats = api.docker_ok(&["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "web"]);
    let pids: u32 = stats.trim().strip_prefix("web ").and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(pids >= 1, "{stats:?}");
    // logs -f follows until the container ends.
    let mut follower = api.docker();
    follower.args(["logs", "-f", "web"]).stdout(std::process::Stdio::piped());
    let follower = follower.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    api.docker_ok(&["stop", "-t", "1", "web"]);
    let out = follower.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "started\n");
    assert!(out.status.success());
    assert_eq!(engine.ok(&["inspect", "-f", "{{.State.Status}}", "web"]), "exited\n");
    api.docker_ok(&["rm", "web"]);
    assert_eq!(engine.ok(&["ps", "-aq"]), "");
    let err = api.docker_run(&["inspect", "web"]);
    assert_eq!(err.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&err.stderr).contains("No such object: web"), "{err:?}");
    drop(api);
    clean(&engine);
}

#[test]
fn docker_exec_with_and_without_a_terminal_and_attach() {
    use std::io::Write;
    let engine = Engine::with_busybox(BIN, "api_exec");
    let api = Api::start(&engine);
    api.docker_ok(&["run", "-d", "--name", "box", "-e", "FROM_RUN=1", "localhost/busybox", "sleep", "60"]);
    assert_eq!(api.docker_ok(&["exec", "box", "sh", "-c", "echo $FROM_RUN $X",]), "1\n");
    assert_eq!(api.docker_ok(&["exec", "-e", "X=2", "-w", "/etc", "box", "sh", "-c", "echo $X $(pwd)"]), "2 /etc\n");
    let out = api.docker_run(&["exec", "box", "sh", "-c", "echo out; echo err >&2; exit 5"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    assert_eq!(out.status.code(), Some(5));
    let out = api.docker_run(&["exec", "box", "no-such-program"]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    // -i: our input reaches the process, its end too.
    let mut cat = api.docker();
    cat.args(["exec", "-i", "box", "sh", "-c", "tr a-z A-Z"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut cat = cat.spawn().unwrap();
    cat.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = cat.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO\n");
    // -it under a terminal: the process has one, of our size.
    let pty = lindocker_testkit::Pty::open(30, 100);
    let mut it = api.docker();
    it.args(["exec", "-it", "box", "sh"]);
    pty.attach(&mut it);
    let mut child = it.spawn().unwrap();
    let seen = read_pty(&pty);
    (&pty.master).write_all(b"echo size=$(stty size); exit 7\r").unwrap();
    let status = wait_child(&mut child);
    let out = seen_until(&seen, "size=30 100");
    assert!(out.contains("size=30 100"), "{out:?}\n{}", api.output());
    assert_eq!(status.code(), Some(7), "{out:?}");
    api.docker_ok(&["rm", "-f", "box"]);
    // attach: the output of a running container until it ends.
    api.docker_ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "localhost/busybox",
        "sh",
        "-c",
        "sleep 0.5; for i in 1 2 3; do echo tick $i; sleep 0.2; done",
    ]);
    let out = api.docker_run(&["attach", "ticker"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tick 1\ntick 2\ntick 3\n", "{out:?}");
    assert_eq!(out.status.code(), Some(0));
    api.docker_ok(&["rm", "ticker"]);
    drop(api);
    clean(&engine);
}

#[test]
fn docker_cp_both_ways() {
    let engine = Engine::with_busybox(BIN, "api_cp");
    let api = Api::start(&engine);
    let dir = engine.root.with_extension("cp");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("tree/sub")).unwrap();
    std::fs::write(dir.join("tree/sub/file"), "from the host\n").unwrap();
    std::fs::write(dir.join("single"), "one file\n").unwrap();
    api.docker_ok(&["run", "-d", "--name", "files", "localhost/busybox", "sleep", "60"]);
    api.docker_ok(&["cp", dir.join("tree").to_str().unwrap(), "files:/tmp/"]);
    api.docker_ok(&["cp", dir.join("single").to_str().unwrap(), "files:/tmp/renamed"]);
    assert_eq!(engine.ok(&["exec", "files", "cat", "/tmp/tree/sub/file", "/tmp/renamed"]), "from the host\none file\n");
    let diff = api.docker_ok(&["diff", "files"]);
    assert!(diff.lines().any(|l| l == "A /tmp/renamed"), "{diff}");
    let exported = api.docker_ok(&["export", "-o", dir.join("all.tar").to_str().unwrap(), "files"]);
    assert_eq!(exported, "");
    let listing = std::process::Command::new("tar").arg("-tf").arg(dir.join("all.tar")).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.lines().any(|l| l.trim_start_matches("./") == "tmp/renamed"), "{listing}");
    api.docker_ok(&["exec", "files", "sh", "-c", "mkdir /out && echo made inside > /out/f && ln -s f /out/link"]);
    api.docker_ok(&["cp", "files:/out", dir.join("back").to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(dir.join("back/f")).unwrap(), "made inside\n");
    assert_eq!(std::fs::read_link(dir.join("back/link")).unwrap(), std::path::Path::new("f"));
    api.docker_ok(&["cp", "files:/etc/hostname", dir.join("hostname").to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(dir.join("hostname")).unwrap(),
        engine.ok(&["exec", "files", "cat", "/etc/hostname"])
    );
    let missing = api.docker_run(&["cp", "files:/no/such", dir.join("x").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("Could not find the file /no/such"), "{missing:?}");
    // A stopped container too (its filesystem mounted for the copy, and not left so).
    api.docker_ok(&["stop", "-t", "0", "files"]);
    api.docker_ok(&["cp", "files:/tmp/renamed", dir.join("stopped").to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(dir.join("stopped")).unwrap(), "one file\n");
    api.docker_ok(&["rm", "files"]);
    std::fs::remove_dir_all(&dir).unwrap();
    drop(api);
    clean(&engine);
}

#[test]
fn docker_run_it_under_a_terminal() {
    use std::io::Write;
    let engine = Engine::with_busybox(BIN, "api_run_it");
    let api = Api::start(&engine);
    let pty = lindocker_testkit::Pty::open(33, 90);
    let mut it = api.docker();
    it.args(["run", "-it", "--rm", "--name", "tty", "localhost/busybox", "sh"]);
    pty.attach(&mut it);
    let mut child = it.spawn().unwrap();
    let seen = read_pty(&pty);
    let prompt = seen_until(&seen, "# ");
    assert!(prompt.contains("# "), "{prompt:?}\n{}", api.output());
    (&pty.master).write_all(b"echo answer=$((6*7)) size=$(stty size); exit 4\r").unwrap();
    let out = seen_until(&seen, "size=33 90");
    let status = wait_child(&mut child);
    assert!(out.contains("answer=42 size=33 90"), "{out:?}\n{}", api.output());
    assert_eq!(status.code(), Some(4), "{out:?}");
    wait_for("the --rm container to go", || engine.ok(&["ps", "-aq"]).is_empty());
    drop(api);
    clean(&engine);
}

#[test]
fn docker_run_d_p_publishes_the_port() {
    let host = lindocker_testkit::FakeHost::new("api_port");
    let engine = Engine::in_host(BIN, "api_port", &host);
    let api = Api::start(&engine);
    let www = engine.root.with_extension("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "through the API\n").unwrap();
    let volume = format!("{}:/www:ro", www.display());
    api.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "8080:80",
        "-v",
        &volume,
        "--dns",
        "127.0.0.1",
        "localhost/busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    assert_eq!(api.docker_ok(&["port", "web"]).trim(), "80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080");
    let ps = api.docker_ok(&["ps", "--format", "{{.Ports}}"]);
    assert!(ps.contains("0.0.0.0:8080->80/tcp"), "{ps}");
    let mut body = String::new();
    for _ in 0..50 {
        let out = host.run("timeout", &["5", "busybox", "wget", "-qO-", "http://127.0.0.1:8080/"]);
        body = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(body, "through the API\n");
    api.docker_ok(&["rm", "-f", "web"]);
    std::fs::remove_dir_all(&www).unwrap();
    drop(api);
    clean(&engine);
}

#[test]
fn docker_restart_pause_kill_rename_top_wait() {
    let engine = Engine::with_busybox(BIN, "api_lifecycle");
    let api = Api::start(&engine);
    api.docker_ok(&[
        "create",
        "--name",
        "life",
        "localhost/busybox",
        "sh",
        "-c",
        "trap 'exit 7' USR1; while true; do sleep 0.1; done",
    ]);
    assert_eq!(engine.ok(&["inspect", "-f", "{{.State.Status}}", "life"]), "created\n");
    api.docker_ok(&["start", "life"]);
    let pid = engine.ok(&["inspect", "-f", "{{.State.Pid}}", "life"]);
    api.docker_ok(&["restart", "-t", "1", "life"]);
    let pid2 = engine.ok(&["inspect", "-f", "{{.State.Pid}}", "life"]);
    assert_ne!(pid, pid2, "restart made no new process");
    api.docker_ok(&["pause", "life"]);
    assert_eq!(engine.ok(&["inspect", "-f", "{{.State.Status}}", "life"]), "paused\n");
    api.docker_ok(&["unpause", "life"]);
    let top = api.docker_ok(&["top", "life"]);
    assert!(top.lines().next().unwrap_or_default().contains("PID"), "{top}");
    assert!(top.contains("trap") || top.contains("sh -c"), "{top}");
    api.docker_ok(&["rename", "life", "renamed"]);
    assert_eq!(engine.ok(&["ps", "--format", "{{.Names}}"]), "renamed\n");
    let mut waiter = api.docker();
    waiter.args(["wait", "renamed"]).stdout(std::process::Stdio::piped());
    let waiter = waiter.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    api.docker_ok(&["kill", "-s", "USR1", "renamed"]);
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "7\n");
    let err = api.docker_run(&["kill", "renamed"]);
    assert_eq!(err.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&err.stderr).contains("is not running"), "{err:?}");
    api.docker_ok(&["rm", "renamed"]);
    drop(api);
    clean(&engine);
}

/// A cgroup file of container `id` (v1 under the controller, else v2's unified tree).
fn cgroup_file(engine: &Engine, id: &str, controller: &str, v1: &str, v2: &str) -> String {
    let one = format!("/sys/fs/cgroup/{controller}{}/{id}/{v1}", engine.cgroup_parent);
    let two = format!("/sys/fs/cgroup{}/{id}/{v2}", engine.cgroup_parent);
    std::fs::read_to_string(&one).or_else(|_| std::fs::read_to_string(&two)).unwrap_or_else(|e| panic!("{one}: {e}"))
}

/// `docker update` changes the limits the kernel holds for a running container.
#[test]
fn docker_update_changes_the_kernels_limits() {
    let engine = Engine::with_busybox(BIN, "api_update");
    let api = Api::start(&engine);
    let id = api.docker_ok(&["run", "-d", "--name", "upd", "localhost/busybox", "sleep", "1000"]).trim().to_owned();
    assert_eq!(id.len(), 64, "{id}");
    api.docker_ok(&["update", "--memory", "64m", "--pids-limit", "50", "upd"]);
    assert_eq!(cgroup_file(&engine, &id, "memory", "memory.limit_in_bytes", "memory.max").trim(), "67108864");
    assert_eq!(cgroup_file(&engine, &id, "pids", "pids.max", "pids.max").trim(), "50");
    let limits = api.docker_ok(&["inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}", "upd"]);
    assert_eq!(limits.trim(), "67108864 50");
    // A bad value is Docker's error, and changes nothing.
    let out = api.docker_run(&["update", "--cpu-quota", "10", "upd"]);
    assert!(!out.status.success());
    assert_eq!(cgroup_file(&engine, &id, "pids", "pids.max", "pids.max").trim(), "50");
    api.docker_ok(&["rm", "-f", "upd"]);
    clean(&engine);
}

/// The effective capabilities of a process `docker exec ARGS` starts in container `name`.
fn exec_caps(api: &Api, args: &[&str]) -> u64 {
    let mut all = vec!["exec"];
    all.extend(args);
    all.extend(["grep", "CapEff", "/proc/self/status"]);
    let out = api.docker_ok(&all);
    u64::from_str_radix(out.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

/// `docker exec --privileged` has every capability (CAP_SYS_ADMIN, bit 21, which the
/// container's own processes lack); `docker exec -d` runs on after the CLI returns.
#[test]
fn docker_exec_privileged_and_detached() {
    let engine = Engine::with_busybox(BIN, "api_exec_priv");
    let api = Api::start(&engine);
    api.docker_ok(&["run", "-d", "--name", "pbox", "localhost/busybox", "sleep", "60"]);
    assert_eq!(exec_caps(&api, &["pbox"]) >> 21 & 1, 0);
    let privileged = exec_caps(&api, &["--privileged", "pbox"]);
    assert_eq!(privileged >> 21 & 1, 1, "{privileged:x}");
    let host = std::fs::read_to_string("/proc/self/status").unwrap();
    let bounding = host.lines().find_map(|l| l.strip_prefix("CapBnd:")).unwrap().trim();
    assert_eq!(privileged, u64::from_str_radix(bounding, 16).unwrap());
    api.docker_ok(&["exec", "-d", "pbox", "sh", "-c", "sleep 0.3; echo done > /tmp/detached"]);
    wait_for("the detached exec's file", || {
        api.docker_run(&["exec", "pbox", "cat", "/tmp/detached"]).stdout == b"done\n"
    });
    api.docker_ok(&["rm", "-f", "pbox"]);
    drop(api);
    clean(&engine);
}

/// A namespace link of this process (`pid:[4026531836]`), to compare with a container's.
fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}")).unwrap().to_string_lossy().into_owned()
}

/// The value of `key=` on its own line of `out`.
fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines().find_map(|l| l.strip_prefix(key).and_then(|l| l.strip_prefix('='))).unwrap_or_else(|| {
        panic!("no {key}= in {out:?}");
    })
}

#[test]
fn docker_run_host_namespaces_devices_groups_oom_dns_search_and_mac() {
    let engine = Engine::with_busybox(BIN, "api_hostcfg");
    let api = Api::start(&engine);
    let script = "echo comm=$(cat /proc/1/comm); echo pid=$(readlink /proc/self/ns/pid); \
        echo ipc=$(readlink /proc/self/ns/ipc); echo uts=$(readlink /proc/self/ns/uts); echo host=$(hostname); \
        test -c /dev/xnull && echo dev=char; echo groups=$(id -G); echo oom=$(cat /proc/self/oom_score_adj); \
        echo search=$(grep '^search' /etc/resolv.conf); echo mac=$(cat /sys/class/net/eth0/address)";
    let out = api.docker_run(&[
        "run",
        "--rm",
        "--pid",
        "host",
        "--ipc",
        "host",
        "--uts",
        "host",
        "--device",
        "/dev/null:/dev/xnull:r",
        "--group-add",
        "1234",
        "--oom-score-adj",
        "300",
        "--dns-search",
        "example.test",
        "--mac-address",
        "02:42:ac:11:00:99",
        "localhost/busybox",
        "sh",
        "-c",
        script,
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}\n{}\n{}", String::from_utf8_lossy(&out.stderr), api.output());
    // The host's namespaces: its PID 1, its host name.
    assert_eq!(field(&text, "comm"), std::fs::read_to_string("/proc/1/comm").unwrap().trim());
    assert_eq!(field(&text, "pid"), host_ns("pid"));
    assert_eq!(field(&text, "ipc"), host_ns("ipc"));
    assert_eq!(field(&text, "uts"), host_ns("uts"));
    assert_eq!(field(&text, "host"), std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim());
    assert_eq!(field(&text, "dev"), "char");
    assert!(field(&text, "groups").split(' ').any(|g| g == "1234"), "{text}");
    assert_eq!(field(&text, "oom"), "300");
    assert_eq!(field(&text, "search"), "search example.test");
    assert_eq!(field(&text, "mac"), "02:42:ac:11:00:99");
    drop(api);
    clean(&engine);
}

#[test]
fn docker_run_pid_and_ipc_container_join_the_other_containers_namespaces() {
    let engine = Engine::with_busybox(BIN, "api_pidjoin");
    let api = Api::start(&engine);
    api.docker_ok(&["run", "-d", "--name", "other", "--ipc", "shareable", "localhost/busybox", "sleep", "1000"]);
    let pid = api.docker_ok(&["inspect", "-f", "{{.State.Pid}}", "other"]).trim().to_owned();
    let other_ns =
        |kind: &str| std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap().to_string_lossy().into_owned();
    assert_ne!(other_ns("ipc"), host_ns("ipc"));
    let out = api.docker_run(&[
        "run",
        "--rm",
        "--pid",
        "container:other",
        "--ipc",
        "container:other",
        "localhost/busybox",
        "sh",
        "-c",
        "echo comm=$(cat /proc/1/comm); echo pid=$(readlink /proc/self/ns/pid); echo ipc=$(readlink /proc/self/ns/ipc)",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}\n{}\n{}", String::from_utf8_lossy(&out.stderr), api.output());
    assert_eq!(field(&text, "comm"), "sleep");
    assert_eq!(field(&text, "pid"), other_ns("pid"));
    assert_eq!(field(&text, "ipc"), other_ns("ipc"));
    // A container that does not exist is Docker's 404, and nothing is made.
    let out = api.docker_run(&["run", "--rm", "--pid", "container:nobody", "localhost/busybox", "true"]);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(api.docker_ok(&["ps", "-aq"]).lines().count(), 1);
    api.docker_ok(&["rm", "-f", "other"]);
    drop(api);
    clean(&engine);
}

/// A container whose process died before its shim could record it (the shim stopped
/// here): `kill` is Docker's 409 "is not running", not a 500 from the runtime; the CLI
/// says the same. Once the shim runs again it records the exit.
#[test]
fn kill_of_a_container_that_just_died_is_a_conflict() {
    let engine = Engine::with_busybox(BIN, "api_killrace");
    let api = Api::start(&engine);
    engine.ok(&["run", "-d", "--name", "brief", "localhost/busybox", "sleep", "1000"]);
    let pid = engine.ok(&["inspect", "-f", "{{.State.Pid}}", "brief"]).trim().to_owned();
    let shims = engine.shims();
    assert_eq!(shims.len(), 1);
    let signal = |sig: &str, pid: &str| {
        assert!(std::process::Command::new("kill").args([sig, pid]).status().unwrap().success(), "kill {sig} {pid}")
    };
    signal("-STOP", &shims[0].to_string());
    signal("-KILL", &pid);
    wait_for("the process to die", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
    });
    let reply = api.request("POST", "/containers/brief/kill", b"");
    let (status, text) = (reply.status, reply.text());
    let cli = engine.run(&["kill", "brief"]);
    signal("-CONT", &shims[0].to_string());
    assert_eq!(status, 409, "{text}");
    assert!(text.contains("is not running"), "{text}");
    assert_eq!(cli.status.code(), Some(1), "{cli:?}");
    assert!(String::from_utf8_lossy(&cli.stderr).contains("is not running"), "{cli:?}");
    wait_for("the shim to record the exit", || {
        engine.ok(&["inspect", "-f", "{{.State.Running}}", "brief"]).trim() == "false"
    });
    engine.ok(&["rm", "brief"]);
    clean(&engine);
}
