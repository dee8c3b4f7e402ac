//! Docker parity: health checks (`--health-*`, `--no-healthcheck`, the image's
//! `HEALTHCHECK`), run by the container's shim, daemonless; what `ps` and `inspect` show.

use std::time::{Duration, Instant};

use lindocker_testkit::Engine;
use lindocker_testkit::image;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

fn inspect(engine: &Engine, name: &str) -> Value {
    let out: Value = serde_json::from_str(&engine.ok(&["inspect", name])).unwrap();
    out[0].clone()
}

fn health(engine: &Engine, name: &str) -> Value {
    inspect(engine, name)["State"]["Health"].clone()
}

fn wait_for(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `ps` line of container `name`.
fn ps_line(engine: &Engine, args: &[&str], name: &str) -> Option<String> {
    let mut all = vec!["ps"];
    all.extend_from_slice(args);
    engine.ok(&all).lines().find(|l| l.ends_with(&format!(" {name}"))).map(str::to_owned)
}

fn clean(engine: &Engine) {
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Live processes in container `id`'s cgroup, seen from the host.
fn processes_in(engine: &Engine, id: &str) -> usize {
    let mark = format!("{}/{id}", engine.cgroup_parent);
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|p| p.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|p| {
            let stat = std::fs::read_to_string(p.path().join("stat")).unwrap_or_default();
            !stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z'))
        })
        .filter(|p| std::fs::read_to_string(p.path().join("cgroup")).is_ok_and(|cg| cg.contains(&mark)))
        .count()
}

fn log_len(h: &Value) -> usize {
    h["Log"].as_array().map_or(0, Vec::len)
}

#[test]
fn a_passing_check_shows_healthy_in_ps_and_inspect() {
    let e = Engine::with_busybox(BIN, "hc-ok");
    let cmd = "test -e /tmp/ready && echo ready";
    #[rustfmt::skip]
    e.ok(&["run", "-d", "--name", "web", "--network", "none", "--health-cmd", cmd, "--health-interval", "1s",
        "--health-retries", "100", "localhost/busybox", "sleep", "300"]);
    // No check has passed yet: starting, failures counted (no start period) but under
    // the retries.
    let line = ps_line(&e, &[], "web").expect("web runs");
    assert!(line.contains("Up ") && line.contains("(health: starting)"), "{line}");
    wait_for("a first failed check", 20, || health(&e, "web")["FailingStreak"].as_u64() >= Some(1));
    let h = health(&e, "web");
    assert_eq!(h["Status"], "starting", "{h}");
    assert_eq!(h["Log"][0]["ExitCode"], 1, "{h}");
    assert_eq!(h["Log"][0]["Output"], "", "{h}");

    e.ok(&["exec", "web", "touch", "/tmp/ready"]);
    wait_for("healthy", 20, || health(&e, "web")["Status"] == "healthy");
    let h = health(&e, "web");
    assert_eq!(h["FailingStreak"], 0, "{h}");
    let last = &h["Log"][log_len(&h) - 1];
    assert_eq!(last["ExitCode"], 0, "{h}");
    assert_eq!(last["Output"], "ready\n", "{h}");
    let (start, end) = (last["Start"].as_str().unwrap(), last["End"].as_str().unwrap());
    assert!(start.len() >= 20 && start.ends_with('Z') && end >= start, "{start} {end}");
    assert_eq!(
        inspect(&e, "web")["Config"]["Healthcheck"],
        json!({ "Test": ["CMD-SHELL", cmd], "Interval": 1_000_000_000, "Retries": 100 })
    );
    let line = ps_line(&e, &[], "web").unwrap();
    assert!(line.contains("Up ") && line.contains(" (healthy) "), "{line}");
    assert!(ps_line(&e, &["--filter", "health=healthy"], "web").is_some());
    assert!(ps_line(&e, &["--filter", "health=unhealthy"], "web").is_none());
    assert!(ps_line(&e, &["--filter", "health=none"], "web").is_none());
    let err = e.fails(&["ps", "--filter", "health=fine"], 1);
    assert!(err.contains("Unrecognised filter value for health: fine"), "{err}");
    // The change is journaled as Docker's event, once.
    let events = e.ok(&[
        "events",
        "--since",
        "0",
        "--until",
        "0s",
        "--filter",
        "event=health_status",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]);
    assert_eq!(events, "health_status: healthy web\n");

    e.ok(&["rm", "-f", "web"]);
    assert!(!e.root.join("containers").read_dir().unwrap().flatten().any(|d| d.file_name().len() == 64));
    clean(&e);
}

#[test]
fn a_failing_check_makes_it_unhealthy_and_it_keeps_running() {
    let e = Engine::with_busybox(BIN, "hc-bad");
    #[rustfmt::skip]
    e.ok(&["run", "-d", "--name", "bad", "--network", "none", "--health-cmd", "echo oops; exit 3",
        "--health-interval", "1s", "--health-retries", "2", "localhost/busybox", "sleep", "300"]);
    wait_for("unhealthy", 20, || health(&e, "bad")["Status"] == "unhealthy");
    let h = health(&e, "bad");
    assert!(h["FailingStreak"].as_u64() >= Some(2), "{h}");
    let last = &h["Log"][log_len(&h) - 1];
    assert_eq!((&last["ExitCode"], &last["Output"]), (&json!(3), &json!("oops\n")), "{h}");
    // Docker leaves an unhealthy container running.
    assert_eq!(inspect(&e, "bad")["State"]["Status"], "running");
    let line = ps_line(&e, &["--filter", "health=unhealthy"], "bad").expect("listed as unhealthy");
    assert!(line.contains("Up ") && line.contains("(unhealthy)"), "{line}");
    // Only the last five results are kept.
    wait_for("six failures", 30, || health(&e, "bad")["FailingStreak"].as_u64() >= Some(6));
    assert_eq!(log_len(&health(&e, "bad")), 5);
    // A start begins again at `starting`, the streak at 0; the results are kept.
    e.ok(&["restart", "-t", "1", "bad"]);
    let h = health(&e, "bad");
    assert_eq!((&h["Status"], &h["FailingStreak"], log_len(&h)), (&json!("starting"), &json!(0), 5), "{h}");
    wait_for("unhealthy again", 20, || health(&e, "bad")["Status"] == "unhealthy");
    e.ok(&["rm", "-f", "bad"]);
    clean(&e);
}

#[test]
fn failures_in_the_start_period_do_not_count() {
    let e = Engine::with_busybox(BIN, "hc-period");
    let run = Instant::now();
    #[rustfmt::skip]
    e.ok(&["run", "-d", "--name", "slow", "--network", "none", "--health-cmd", "false", "--health-interval", "1s",
        "--health-start-period", "8s", "--health-start-interval", "1s", "--health-retries", "1",
        "localhost/busybox", "sleep", "300"]);
    wait_for("two checks", 20, || log_len(&health(&e, "slow")) >= 2);
    let h = health(&e, "slow");
    assert!(run.elapsed() < Duration::from_secs(7), "too slow to observe the start period");
    assert_eq!((&h["Status"], &h["FailingStreak"]), (&json!("starting"), &json!(0)), "{h}");
    assert_eq!(h["Log"][1]["ExitCode"], 1);
    // After the period, the first failure is enough (retries 1).
    wait_for("unhealthy", 20, || health(&e, "slow")["Status"] == "unhealthy");
    assert!(run.elapsed() >= Duration::from_secs(8));
    assert_eq!(health(&e, "slow")["FailingStreak"], 1);
    e.ok(&["rm", "-f", "slow"]);
    clean(&e);
}

#[test]
fn a_check_past_its_timeout_is_killed_and_fails() {
    let e = Engine::with_busybox(BIN, "hc-timeout");
    #[rustfmt::skip]
    e.ok(&["run", "-d", "--name", "hang", "--network", "none", "--health-cmd", "echo started; sleep 30",
        "--health-timeout", "1s", "--health-interval", "1s", "--health-retries", "1",
        "localhost/busybox", "sleep", "300"]);
    wait_for("three checks", 30, || log_len(&health(&e, "hang")) >= 3);
    let h = health(&e, "hang");
    assert_eq!(h["Status"], "unhealthy", "{h}");
    assert_eq!(h["Log"][0]["ExitCode"], -1, "{h}");
    assert_eq!(h["Log"][0]["Output"], "Health check exceeded timeout (1s): started\n", "{h}");
    // Each timed-out check was killed: at most the one under way is left.
    let ps = e.ok(&["exec", "hang", "ps", "-o", "args"]);
    let checks = ps.lines().filter(|l| l.trim() == "sleep 30").count();
    assert!(checks <= 1, "{ps}");
    e.ok(&["rm", "-f", "hang"]);
    clean(&e);
}

#[test]
fn no_check_runs_on_after_the_container_stops() {
    let e = Engine::with_busybox(BIN, "hc-stop");
    #[rustfmt::skip]
    e.ok(&["run", "-d", "--name", "long", "--network", "none", "--health-cmd", "sleep 30",
        "--health-timeout", "60s", "--health-interval", "1s", "localhost/busybox", "sleep", "300"]);
    wait_for("a check under way", 20, || {
        e.ok(&["exec", "long", "ps", "-o", "args"]).lines().any(|l| l.trim() == "sleep 30")
    });
    e.ok(&["stop", "-t", "1", "long"]);
    // Nothing of the container runs: no check process, no cgroup, no shim, no socket.
    clean(&e);
    assert_eq!(inspect(&e, "long")["State"]["Status"], "exited");
    assert_eq!(health(&e, "long")["Status"], "starting", "the last state stays, as Docker's");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(log_len(&health(&e, "long")), 0, "no result recorded after the stop");
    e.ok(&["rm", "long"]);
    clean(&e);
}

/// An image with a `HEALTHCHECK`, as Docker stores it in the image config.
fn image_with_healthcheck(e: &Engine) {
    let layout = e.root.join("hc-layout");
    let tar = image::busybox_layer(&e.root);
    let config = json!({
        "Cmd": ["sleep", "300"],
        "Healthcheck": { "Test": ["CMD", "echo", "from-image"], "Interval": 1_000_000_000_i64, "Retries": 1 },
    });
    let desc = image::image(&layout, &[(tar.clone(), tar)], config, "amd64");
    image::finish_layout(&layout, "localhost/hc:1", vec![desc]);
    let archive = e.root.join("hc.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    b.append_dir_all(".", &layout).unwrap();
    b.finish().unwrap();
    drop(b);
    e.ok(&["load", "-i", archive.to_str().unwrap()]);
    std::fs::remove_dir_all(&layout).unwrap();
    std::fs::remove_file(&archive).unwrap();
}

#[test]
fn the_images_healthcheck_runs_and_flags_override_it() {
    let e = Engine::with_busybox(BIN, "hc-image");
    image_with_healthcheck(&e);
    e.ok(&["run", "-d", "--name", "img", "--network", "none", "localhost/hc:1"]);
    #[rustfmt::skip]
    e.ok(&["run", "-d", "--name", "flag", "--network", "none", "--health-cmd", "echo from-flag", "localhost/hc:1"]);
    e.ok(&["run", "-d", "--name", "off", "--network", "none", "--no-healthcheck", "localhost/hc:1"]);
    assert_eq!(
        inspect(&e, "img")["Config"]["Healthcheck"],
        json!({ "Test": ["CMD", "echo", "from-image"], "Interval": 1_000_000_000, "Retries": 1 })
    );
    // The flag replaces the test; the image's interval and retries stay (Docker's merge):
    // with the default 30 s interval the wait below would time out.
    assert_eq!(
        inspect(&e, "flag")["Config"]["Healthcheck"],
        json!({ "Test": ["CMD-SHELL", "echo from-flag"], "Interval": 1_000_000_000, "Retries": 1 })
    );
    // Docker merges the image's numbers even under NONE.
    assert_eq!(
        inspect(&e, "off")["Config"]["Healthcheck"],
        json!({ "Test": ["NONE"], "Interval": 1_000_000_000, "Retries": 1 })
    );
    for (name, output) in [("img", "from-image\n"), ("flag", "from-flag\n")] {
        wait_for(name, 20, || health(&e, name)["Status"] == "healthy");
        assert_eq!(health(&e, name)["Log"][0]["Output"], output);
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert!(health(&e, "off").is_null(), "no State.Health without a check");
    let line = ps_line(&e, &[], "off").unwrap();
    assert!(line.contains("Up ") && !line.contains('('), "{line}");
    assert!(ps_line(&e, &["--filter", "health=none"], "off").is_some());
    assert!(ps_line(&e, &["--filter", "health=none"], "img").is_none());
    assert!(ps_line(&e, &["--filter", "health=healthy"], "img").is_some());
    let image_config = |name: &str| -> Value {
        serde_json::from_str::<Value>(&e.ok(&["image", "inspect", name])).unwrap()[0]["Config"]["Healthcheck"].clone()
    };
    assert_eq!(image_config("localhost/hc:1"), inspect(&e, "img")["Config"]["Healthcheck"]);
    // `commit` keeps the container's check, as Docker's does.
    e.ok(&["commit", "flag", "localhost/committed"]);
    assert_eq!(image_config("localhost/committed"), inspect(&e, "flag")["Config"]["Healthcheck"]);
    e.ok(&["rm", "-f", "img", "flag", "off"]);
    e.ok(&["rmi", "localhost/committed"]);
    clean(&e);
}

#[test]
fn bad_health_flags_are_refused_and_nothing_is_made() {
    let e = Engine::with_busybox(BIN, "hc-flags");
    for (args, message) in [
        (&["--no-healthcheck", "--health-cmd", "true"][..], "--no-healthcheck conflicts with --health-* options"),
        (&["--health-interval", "-1s"][..], "--health-interval cannot be negative"),
        (&["--health-timeout", "-1s"][..], "--health-timeout cannot be negative"),
        (&["--health-retries", "-1"][..], "--health-retries cannot be negative"),
        (&["--health-start-period", "-2s"][..], "--health-start-period cannot be negative"),
        (&["--health-interval", "10us"][..], "Interval in Healthcheck cannot be less than 1ms"),
        (&["--health-interval", "soon"][..], "time: invalid duration \"soon\""),
    ] {
        let mut all = vec!["run", "-d", "--name", "refused"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["localhost/busybox", "true"]);
        let err = e.fails(&all, 125);
        assert!(err.contains(message), "{args:?}: {err}");
        assert_eq!(e.ok(&["ps", "-aq"]), "", "{args:?} made a container");
    }
    clean(&e);
}

#[test]
fn a_check_runs_under_another_runtime_too() {
    let e = Engine::with_busybox(BIN, "hc-runc");
    #[rustfmt::skip]
    e.ok(&["run", "-d", "--name", "other", "--network", "none", "--runtime", "runc", "--health-cmd",
        "echo via $(cat /proc/1/comm)", "--health-interval", "1s", "localhost/busybox", "sleep", "300"]);
    wait_for("healthy under runc", 20, || health(&e, "other")["Status"] == "healthy");
    assert_eq!(health(&e, "other")["Log"][0]["Output"], "via sleep\n", "the check ran in the container");
    e.ok(&["rm", "-f", "other"]);
    clean(&e);
}

#[test]
fn a_checks_output_is_cut_at_4096_bytes() {
    let e = Engine::with_busybox(BIN, "hc-loud");
    #[rustfmt::skip]
    e.ok(&["run", "-d", "--name", "loud", "--network", "none", "--health-cmd", "yes x | head -c 100000",
        "--health-interval", "1s", "localhost/busybox", "sleep", "300"]);
    #[rustfmt::skip]
    e.ok(&["run", "-d", "--name", "endless", "--network", "none", "--health-cmd", "yes y",
        "--health-timeout", "1s", "--health-interval", "1s", "localhost/busybox", "sleep", "300"]);
    wait_for("loud healthy", 20, || health(&e, "loud")["Status"] == "healthy");
    assert_eq!(health(&e, "loud")["Log"][0]["Output"], format!("{}...", "x\n".repeat(2048)));
    wait_for("an endless check ended", 20, || log_len(&health(&e, "endless")) >= 1);
    let first = health(&e, "endless")["Log"][0].clone();
    assert_eq!(first["ExitCode"], -1);
    assert_eq!(first["Output"], format!("Health check exceeded timeout (1s): {}...", "y\n".repeat(2048)));
    e.ok(&["rm", "-f", "loud", "endless"]);
    clean(&e);
}

#[test]
fn a_check_that_cannot_start_fails_with_the_runtimes_message() {
    let e = Engine::with_busybox(BIN, "hc-missing");
    // `import --change` takes a HEALTHCHECK as `commit --change` does.
    let tar = e.root.join("bb.tar");
    std::fs::write(&tar, image::busybox_layer(&e.root)).unwrap();
    #[rustfmt::skip]
    e.ok(&["import", "-c", r#"CMD ["sleep", "300"]"#, "-c", r#"HEALTHCHECK --interval=1s --retries=2 CMD ["/no/such"]"#,
        tar.to_str().unwrap(), "localhost/missing"]);
    std::fs::remove_file(&tar).unwrap();
    let id = e.ok(&["run", "-d", "--name", "missing", "--network", "none", "localhost/missing"]).trim().to_owned();
    assert_eq!(
        inspect(&e, "missing")["Config"]["Healthcheck"],
        json!({ "Test": ["CMD", "/no/such"], "Interval": 1_000_000_000, "Retries": 2 })
    );
    wait_for("unhealthy", 20, || health(&e, "missing")["Status"] == "unhealthy");
    let h = health(&e, "missing");
    assert_eq!(h["Log"][0]["ExitCode"], -1, "{h}");
    assert!(h["Log"][0]["Output"].as_str().unwrap().contains("/no/such"), "{h}");
    // Failing checks leave nothing behind in the container's directory.
    let dir = e.root.join("containers").join(&id);
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().flatten().map(|d| d.file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.starts_with("health.") && n != "health.json"), "{names:?}");
    let log = std::fs::read_to_string(dir.join("runtime.log")).unwrap_or_default();
    assert!(!log.contains("/no/such"), "checks do not fill the runtime's log: {log}");
    e.ok(&["rm", "-f", "missing"]);
    clean(&e);
}

#[test]
fn a_paused_container_is_not_checked() {
    let e = Engine::with_busybox(BIN, "hc-pause");
    #[rustfmt::skip]
    e.ok(&["run", "-d", "--name", "frozen", "--network", "none", "--health-cmd", "echo ok",
        "--health-interval", "1s", "localhost/busybox", "sleep", "300"]);
    let last_end = |h: &Value| h["Log"][log_len(h) - 1]["End"].as_str().unwrap_or_default().to_owned();
    wait_for("five checks", 30, || log_len(&health(&e, "frozen")) == 5);
    e.ok(&["pause", "frozen"]);
    let before = last_end(&health(&e, "frozen"));
    let line = ps_line(&e, &[], "frozen").unwrap();
    assert!(line.contains("(Paused)") && !line.contains("healthy"), "{line}");
    std::thread::sleep(Duration::from_secs(4));
    let h = health(&e, "frozen");
    // At most a check that had ended as it froze came in since; none started.
    let since = h["Log"].as_array().unwrap().iter().filter(|r| r["End"].as_str().unwrap() > before.as_str()).count();
    assert!(since <= 1, "{h}");
    assert_eq!(h["Status"], "healthy");
    // No check was started into the frozen container: its init is all it holds.
    let id = inspect(&e, "frozen")["Id"].as_str().unwrap().to_owned();
    assert_eq!(processes_in(&e, &id), 1);
    let paused_end = last_end(&h);
    e.ok(&["unpause", "frozen"]);
    wait_for("checks again", 20, || last_end(&health(&e, "frozen")) > paused_end);
    e.ok(&["rm", "-f", "frozen"]);
    clean(&e);
}
