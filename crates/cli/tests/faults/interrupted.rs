//! kill -9 of the CLI at random points of `run -d`, `run --rm`, `create`, `rm`, `load`,
//! `commit` and `pull` (24 tries each; the seed is printed, `LINDOCKER_FAULT_SEED`
//! replays it). After each kill: `ps -a` works and has settled what the kill left (no
//! container that is not running holds a mount or a network namespace), `rm -f NAME`
//! works (or finds nothing), and the name can be used again at once. At the end: no
//! mount, cgroup, network namespace, veth, nftables rule, shim or container process is
//! left, and the image store still runs containers. Also issue 12 item 13: a `--rm`
//! container whose shim was killed is removed, and a `--restart always` one started
//! again, by the next command.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use lindocker_testkit::{Engine, FakeHost, Registry, image};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");
const TRIES: usize = 24;

/// xorshift64*: enough randomness for kill times, replayable from the seed.
struct Rng(u64);

impl Rng {
    fn new(what: &str) -> Rng {
        let seed = std::env::var("LINDOCKER_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
        eprintln!("{what}: LINDOCKER_FAULT_SEED={seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// Runs `lindocker args` and SIGKILLs it after a random 0..`max_ms` ms (if it has not
/// ended by then).
fn kill_at_random(engine: &Engine, rng: &mut Rng, max_ms: u64, args: &[&str]) {
    let mut child = engine.cmd().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_micros(rng.below(max_ms * 1000)));
    let _ = child.kill();
    child.wait().unwrap();
}

fn mounted(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let path = path.display().to_string();
    info.lines().any(|l| l.split(' ').nth(4) == Some(path.as_str()))
}

/// `ps -a` works, and what it lists as not running holds no mount and no network (a
/// start the shim is still making is given two seconds to end).
fn ps_settles(engine: &Engine, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match unsettled(engine, what) {
            None => return,
            Some(problem) if Instant::now() > deadline => panic!("{problem}"),
            Some(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn unsettled(engine: &Engine, what: &str) -> Option<String> {
    let out = engine.run(&["ps", "-a", "--no-trunc", "--format", "json"]);
    assert!(out.status.success(), "{what}: ps -a failed: {}", String::from_utf8_lossy(&out.stderr));
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let c: Value = serde_json::from_str(line).unwrap();
        let state = c["State"].as_str().unwrap();
        if matches!(state, "running" | "paused" | "restarting") {
            continue;
        }
        let short = c["ID"].as_str().unwrap();
        let dir = std::fs::read_dir(engine.root.join("containers"))
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with(short))
            .map(|e| e.path());
        let Some(dir) = dir else { continue };
        let id = dir.file_name().unwrap().to_string_lossy().into_owned();
        let record = std::fs::read_to_string(dir.join("state.json"))
            .or_else(|_| std::fs::read_to_string(dir.join("record.json")))
            .unwrap_or_default();
        if mounted(&dir.join("merged")) {
            return Some(format!("{what}: {state} container {} still has its root mounted: {record}", c["Names"]));
        }
        if engine.state.join("netns").join(&id).exists() {
            return Some(format!("{what}: {state} container {} still has its network namespace: {record}", c["Names"]));
        }
    }
    None
}

/// `rm -f NAME` removes it or finds nothing.
fn rm_f(engine: &Engine, name: &str, what: &str) {
    let out = engine.run(&["rm", "-f", name]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() || err.contains("No such container"), "{what}: rm -f {name}: {err}");
}

/// The name is free and usable.
fn reusable(engine: &Engine, name: &str, network: &str, what: &str) {
    let out = engine.run(&["run", "--rm", "--network", network, "--name", name, "localhost/busybox", "true"]);
    assert!(out.status.success(), "{what}: the name {name} is not usable: {}", String::from_utf8_lossy(&out.stderr));
}

/// The fake host's links without containers' veths (the kernel deletes those in the
/// background once their namespace is gone).
fn bridge_links(host: &FakeHost) -> String {
    host.links().lines().filter(|l| !l.contains('@')).collect::<Vec<_>>().join("\n")
}

fn links_return_to(host: &FakeHost, before: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while host.links() != before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(host.links(), before, "links left behind");
}

/// Nothing of any container is left, and the store still runs containers.
fn nothing_left(engine: &Engine, network: &str) {
    let ids = engine.ok(&["ps", "-aq"]);
    for id in ids.lines() {
        engine.ok(&["rm", "-f", id]);
    }
    engine.ok(&["container", "prune", "-f"]);
    let dirs: Vec<String> = std::fs::read_dir(engine.root.join("containers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "names" && !n.ends_with(".lock"))
        .collect();
    assert_eq!(dirs, Vec::<String>::new(), "container directories left");
    assert_eq!(std::fs::read_dir(engine.root.join("containers/names")).unwrap().count(), 0, "names left");
    assert_eq!(std::fs::read_dir(engine.state.join("netns")).map(|d| d.count()).unwrap_or(0), 0, "netns left");
    let left = engine.leftovers();
    assert!(left.is_empty(), "{left:?}");
    let locks: Vec<String> = std::fs::read_dir(&engine.state)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".busy"))
        .collect();
    assert_eq!(locks, Vec::<String>::new(), "busy locks of removed containers left");
    let out = engine.run(&["run", "--rm", "--network", network, "localhost/busybox", "true"]);
    assert!(out.status.success(), "the store no longer runs containers: {}", String::from_utf8_lossy(&out.stderr));
    for image in engine.ok(&["images", "-q"]).lines() {
        let out = engine.run(&["run", "--rm", "--network", network, image, "true"]);
        assert!(out.status.success(), "image {image} does not run: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn killed_container_commands_strand_nothing() {
    let host = FakeHost::new("kill9");
    let engine = Engine::in_host(BIN, "kill9", &host);
    // The baseline: the default bridge and its rules exist once a container has run.
    engine.ok(&["run", "--rm", "localhost/busybox", "true"]);
    let links = bridge_links(&host);
    let rules = host.ruleset();
    let mut rng = Rng::new("killed_container_commands_strand_nothing");
    let ops: [(&str, u64); 4] = [("run-d", 150), ("run-rm", 150), ("create", 60), ("rm", 200)];
    for (op, max_ms) in ops {
        for i in 0..TRIES {
            let name = format!("{op}{i}");
            let what = format!("{op} try {i}");
            match op {
                "run-d" => kill_at_random(
                    &engine,
                    &mut rng,
                    max_ms,
                    &["run", "-d", "--name", &name, "localhost/busybox", "sleep", "1000"],
                ),
                "run-rm" => kill_at_random(
                    &engine,
                    &mut rng,
                    max_ms,
                    &["run", "--rm", "--name", &name, "localhost/busybox", "sleep", "1000"],
                ),
                "create" => {
                    kill_at_random(&engine, &mut rng, max_ms, &["create", "--name", &name, "localhost/busybox", "true"])
                }
                _ => {
                    engine.ok(&["run", "-d", "--name", &name, "localhost/busybox", "sleep", "1000"]);
                    kill_at_random(&engine, &mut rng, max_ms, &["rm", "-f", &name]);
                }
            }
            ps_settles(&engine, &what);
            rm_f(&engine, &name, &what);
            reusable(&engine, &name, "bridge", &what);
        }
    }
    nothing_left(&engine, "bridge");
    links_return_to(&host, &links);
    assert_eq!(host.ruleset(), rules, "nftables rules left behind");
}

#[test]
fn killed_image_commands_keep_the_store_usable() {
    let engine = Engine::with_busybox(BIN, "kill9img");
    let mut rng = Rng::new("killed_image_commands_keep_the_store_usable");
    // An image to load: a commit of a change, saved, then removed.
    engine.ok(&["run", "--network", "none", "--name", "src", "localhost/busybox", "sh", "-c", "echo x > /x"]);
    engine.ok(&["commit", "src", "localhost/extra"]);
    let tar = engine.root.with_extension("extra.tar");
    engine.ok(&["save", "-o", tar.to_str().unwrap(), "localhost/extra"]);
    engine.ok(&["rmi", "localhost/extra"]);
    for i in 0..TRIES {
        let what = format!("load try {i}");
        kill_at_random(&engine, &mut rng, 60, &["load", "-i", tar.to_str().unwrap()]);
        engine.ok(&["images"]);
        reusable(&engine, &format!("load{i}"), "none", &what);
        let _ = engine.run(&["rmi", "localhost/extra"]);
        engine.ok(&["image", "prune", "-f"]);
    }
    let _ = std::fs::remove_file(&tar);
    for i in 0..TRIES {
        let what = format!("commit try {i}");
        let image = format!("localhost/commit:{i}");
        kill_at_random(&engine, &mut rng, 60, &["commit", "src", &image]);
        engine.ok(&["images"]);
        ps_settles(&engine, &what);
        reusable(&engine, &format!("commit{i}"), "none", &what);
        let _ = engine.run(&["rmi", &image]);
    }
    // `commit` freezes a running container while it packs: a kill must not leave it frozen.
    // (16 MiB in its layer, so that packing it, frozen, takes a while.)
    let script = "dd if=/dev/urandom of=/big bs=1M count=16 2>/dev/null; touch /ready; sleep 1000";
    engine.ok(&["run", "-d", "--network", "none", "--name", "live", "localhost/busybox", "sh", "-c", script]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !engine.run(&["exec", "live", "test", "-e", "/ready"]).status.success() {
        assert!(Instant::now() < deadline, "the container did not write its file");
        std::thread::sleep(Duration::from_millis(50));
    }
    for i in 0..TRIES {
        let what = format!("commit of a running container try {i}");
        let image = format!("localhost/live:{i}");
        kill_at_random(&engine, &mut rng, 300, &["commit", "live", &image]);
        ps_settles(&engine, &what);
        let status = engine.ok(&["inspect", "--format", "{{.State.Status}}", "live"]);
        assert_eq!(status.trim(), "running", "{what}: the container was left {status}");
        let _ = engine.run(&["rmi", &image]);
    }
    engine.ok(&["rm", "-f", "src", "live"]);
    engine.ok(&["image", "prune", "-f"]);
    nothing_left(&engine, "none");
}

#[test]
fn killed_pulls_keep_the_store_usable() {
    // The registry listens on this host's loopback: the engine runs here too, and its
    // containers use no network.
    let registry = Registry::start("kill9pull", None);
    let engine = Engine::new(BIN, "kill9pull");
    let scratch = engine.root.with_extension("layout");
    let tar = image::busybox_layer(&engine.root);
    let layout = scratch.join("layout");
    let desc = image::image(&layout, &[(image::gzip(&tar), tar)], json!({ "Cmd": ["sh"] }), "amd64");
    image::finish_layout(&layout, "t", vec![desc]);
    registry.push(&layout, "test/bb", "t");
    let _ = std::fs::remove_dir_all(&scratch);
    let name = format!("{}/test/bb:t", registry.addr);
    let mut rng = Rng::new("killed_pulls_keep_the_store_usable");
    for i in 0..TRIES {
        kill_at_random(&engine, &mut rng, 150, &["pull", "-q", &name]);
        engine.ok(&["images"]);
        engine.ok(&["image", "prune", "-f"]);
        if engine.ok(&["images", "-q"]).trim().is_empty() {
            continue;
        }
        let out = engine.run(&["run", "--rm", "--network", "none", &name, "true"]);
        assert!(out.status.success(), "pull try {i}: {}", String::from_utf8_lossy(&out.stderr));
        engine.ok(&["rmi", &name]);
    }
    engine.ok(&["pull", "-q", &name]);
    engine.ok(&["tag", &name, "localhost/busybox"]);
    nothing_left(&engine, "none");
    let _ = engine.ok(&["image", "prune", "-a", "-f"]);
}

/// Item 13: a shim killed under a `--rm` container and under a `--restart always` one;
/// the next command removes the first and starts the second again.
#[test]
fn containers_whose_shim_was_killed_are_settled_by_the_next_command() {
    let host = FakeHost::new("shimkill");
    let engine = Engine::in_host(BIN, "shimkill", &host);
    engine.ok(&["run", "--rm", "localhost/busybox", "true"]);
    let links = bridge_links(&host);
    engine.ok(&["run", "-d", "--rm", "--name", "gone", "localhost/busybox", "sleep", "1000"]);
    engine.ok(&["run", "-d", "--restart", "always", "--name", "back", "localhost/busybox", "sleep", "1000"]);
    let shims = engine.shims();
    assert_eq!(shims.len(), 2);
    for pid in shims {
        let pid = rustix::process::Pid::from_raw(pid).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !engine.shims().is_empty() {
        assert!(Instant::now() < deadline, "shims did not die");
        std::thread::sleep(Duration::from_millis(20));
    }
    let ps = engine.ok(&["ps", "-a"]);
    assert!(!ps.contains("gone"), "the --rm container whose shim died is still there:\n{ps}");
    let why = || engine.run(&["inspect", "-f", "{{.State.Error}}", "back"]);
    assert!(
        ps.lines().any(|l| l.contains(" Up ") && l.ends_with("back")),
        "--restart always did not restart:\n{ps}\n{:?}",
        why()
    );
    assert_eq!(engine.shims().len(), 1, "the restarted container has a shim");
    engine.ok(&["rm", "-f", "back"]);
    nothing_left(&engine, "bridge");
    links_return_to(&host, &links);
}
