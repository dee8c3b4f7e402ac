//! Docker parity: the remaining run flags of docs/docker-parity.md: `--annotation`,
//! `--domainname`, `--cgroup-parent`, `--cgroupns`, `--cpuset-mems`,
//! `--memory-swappiness`, `--link` and `-q`/`--quiet`.

use std::path::Path;

use lindocker_testkit::Registry;
use lindocker_testkit::image;
use lindocker_testkit::{Engine, cgroup_dirs};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");
const RUNTIME: &str = env!("CARGO_BIN_EXE_lindocker-runtime");
const BUSYBOX: &str = "localhost/busybox";

fn clean(engine: &Engine) {
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Each bad value is refused with exit 125 before anything is made.
fn refused(engine: &Engine, cases: &[&[&str]]) {
    let before = engine.ok(&["ps", "-a", "-q", "--no-trunc"]);
    for args in cases {
        let mut full = vec!["run", "--rm", "--network", "none"];
        full.extend_from_slice(args);
        full.extend_from_slice(&[BUSYBOX, "true"]);
        let err = engine.fails(&full, 125);
        assert!(!err.trim().is_empty(), "{args:?}: no message");
        let mut create = vec!["create"];
        create.extend_from_slice(args);
        create.push(BUSYBOX);
        engine.fails(&create, 125);
    }
    assert_eq!(engine.ok(&["ps", "-a", "-q", "--no-trunc"]), before, "a refused flag made a container");
    if before.is_empty() {
        clean(engine);
    }
}

fn inspect(engine: &Engine, name: &str) -> Value {
    let out = engine.ok(&["inspect", name]);
    serde_json::from_str::<Value>(&out).unwrap()[0].clone()
}

/// `--annotation` lands in the OCI spec: the runtime's own state (what `runc state`
/// prints) lists it, and inspect shows it as HostConfig.Annotations.
#[test]
fn annotations_reach_the_runtime() {
    let engine = Engine::with_busybox(BIN, "x-annot");
    let id = engine.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--annotation",
        "com.example.team=web",
        "--annotation",
        "org.example.empty=",
        BUSYBOX,
        "sleep",
        "100",
    ]);
    let id = id.trim();
    let want = json!({ "com.example.team": "web", "org.example.empty": "" });
    assert_eq!(inspect(&engine, id)["HostConfig"]["Annotations"], want);
    let out = std::process::Command::new(RUNTIME)
        .arg("--root")
        .arg(engine.state.join("runtime/lindocker-runtime"))
        .args(["state", id])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let state: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(state["annotations"]["com.example.team"], "web", "{state}");
    assert_eq!(state["annotations"]["org.example.empty"], "", "{state}");
    engine.ok(&["rm", "-f", id]);
    refused(&engine, &[&["--annotation", "=value"], &["--annotation", "a b=c"], &["--annotation", ""]]);
}

/// `--domainname` is the UTS namespace's NIS domain name.
#[test]
fn domainname_is_the_uts_domainname() {
    let engine = Engine::with_busybox(BIN, "x-domain");
    let out = engine.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--domainname",
        "example.org",
        BUSYBOX,
        "sh",
        "-c",
        "cat /proc/sys/kernel/domainname; domainname 2>/dev/null || true",
    ]);
    assert!(out.starts_with("example.org\n"), "{out}");
    let id = engine.ok(&["create", "--network", "none", "--domainname", "corp.example", BUSYBOX]);
    assert_eq!(inspect(&engine, id.trim())["Config"]["Domainname"], "corp.example");
    engine.ok(&["rm", id.trim()]);
    refused(&engine, &[&["--domainname", "bad name"], &["--domainname", "a\nb"], &["--domainname", &"x".repeat(65)]]);
}

/// The container's cgroup in each hierarchy (v1) or the one (v2) exists.
fn cgroup_exists(path: &str) -> bool {
    let dirs = cgroup_dirs(path);
    !dirs.is_empty() && dirs.iter().all(|d| d.is_dir())
}

/// Removes the (empty) cgroups a test's parents left, deepest first.
fn remove_cgroups(paths: &[&str]) {
    for path in paths {
        for dir in cgroup_dirs(path) {
            let _ = std::fs::remove_dir(&dir);
            assert!(!dir.exists(), "{} left", dir.display());
        }
    }
}

/// `--cgroup-parent` puts the container's cgroup under the given one: an absolute path
/// from the hierarchy's root, a relative one under the engine's parent. `--cgroupns host`
/// shows the container the host's view of its cgroup; `private` (the default) its own.
#[test]
fn cgroup_parent_and_cgroupns() {
    let engine = Engine::with_busybox(BIN, "x-cgparent");
    let absolute = format!("/lindocker-test-{}-x-own-parent", std::process::id());
    let id = engine.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--cgroup-parent",
        &absolute,
        "--cgroupns",
        "host",
        BUSYBOX,
        "sleep",
        "100",
    ]);
    let id = id.trim().to_owned();
    let path = format!("{absolute}/{id}");
    assert!(cgroup_exists(&path), "no cgroup {path}");
    assert!(!cgroup_exists(&format!("{}/{id}", engine.cgroup_parent)), "the container is under the engine's parent");
    let seen = engine.ok(&["exec", &id, "cat", "/proc/self/cgroup"]);
    assert!(seen.lines().any(|l| l.ends_with(&format!(":{path}"))), "host cgroupns shows the full path: {seen}");
    let pid = inspect(&engine, &id)["State"]["Pid"].as_i64().unwrap();
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/cgroup")).unwrap();
    assert_eq!(ns(&pid.to_string()), ns("self"), "--cgroupns host shares ours");
    assert_eq!(inspect(&engine, &id)["HostConfig"]["CgroupParent"], absolute.as_str());
    assert_eq!(inspect(&engine, &id)["HostConfig"]["CgroupnsMode"], "host");

    let relative = "x-team/web";
    let other = engine.ok(&["run", "-d", "--network", "none", "--cgroup-parent", relative, BUSYBOX, "sleep", "100"]);
    let other = other.trim().to_owned();
    let nested = format!("{}/{relative}/{other}", engine.cgroup_parent);
    assert!(cgroup_exists(&nested), "no cgroup {nested}");
    let seen = engine.ok(&["exec", &other, "cat", "/proc/self/cgroup"]);
    assert!(seen.lines().all(|l| l.ends_with(":/")), "a private cgroupns shows the container its root: {seen}");
    let pid = inspect(&engine, &other)["State"]["Pid"].as_i64().unwrap();
    assert_ne!(ns(&pid.to_string()), ns("self"));
    assert_eq!(inspect(&engine, &other)["HostConfig"]["CgroupnsMode"], "private");

    engine.ok(&["rm", "-f", &id, &other]);
    assert!(!cgroup_exists(&path) && !cgroup_exists(&nested), "the containers' cgroups stay after rm");
    remove_cgroups(&[
        &absolute,
        &format!("{}/x-team/web", engine.cgroup_parent),
        &format!("{}/x-team", engine.cgroup_parent),
    ]);
    refused(
        &engine,
        &[
            &["--cgroup-parent", "../escape"],
            &["--cgroup-parent", "/a/../../b"],
            &["--cgroup-parent", "a/./b"],
            &["--cgroup-parent", ""],
            &["--cgroup-parent", "/"],
            &["--cgroup-parent", "a\nb"],
            &["--cgroup-parent", "a b"],
            &["--cgroupns", "shared"],
        ],
    );
    assert!(!Path::new("/sys/fs/cgroup/memory/escape").exists() && !Path::new("/sys/fs/cgroup/escape").exists());
}

/// `--cpuset-mems` and `--memory-swappiness` are written into the container's cgroup
/// (swappiness on cgroup v1 only: on v2 there is no such file, and Docker warns and
/// drops it).
#[test]
fn cpuset_mems_and_swappiness() {
    let engine = Engine::with_busybox(BIN, "x-mems");
    let v1 = Path::new("/sys/fs/cgroup/memory").is_dir();
    let out = engine.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--cpuset-mems",
        "0",
        "--memory-swappiness",
        "17",
        BUSYBOX,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/cpuset/cpuset.mems /sys/fs/cgroup/cpuset.mems 2>/dev/null; cat /sys/fs/cgroup/memory/memory.swappiness 2>/dev/null; true",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    if v1 {
        assert_eq!(stdout, "0\n17\n", "{stderr}");
        assert!(!stderr.contains("swappiness"), "{stderr}");
    } else {
        assert_eq!(stdout, "0\n");
        assert!(stderr.contains("Memory swappiness discarded"), "{stderr}");
    }
    let id = engine.ok(&["create", "--cpuset-mems", "0", "--memory-swappiness", "0", BUSYBOX]);
    let host = &inspect(&engine, id.trim())["HostConfig"];
    assert_eq!(host["CpusetMems"], "0");
    assert_eq!(host["MemorySwappiness"], if v1 { json!(0) } else { Value::Null });
    engine.ok(&["rm", id.trim()]);
    refused(
        &engine,
        &[
            &["--cpuset-mems", "4096"],
            &["--cpuset-mems", "0-x"],
            &["--cpuset-mems", "1-0"],
            &["--memory-swappiness", "101"],
            &["--memory-swappiness", "-2"],
            &["--memory-swappiness", "lots"],
        ],
    );
}

/// `--link NAME[:ALIAS]` on the default bridge: the linked container is in /etc/hosts by
/// its alias, its id and its name, and reachable by them.
#[test]
fn links_name_the_linked_container() {
    let engine = Engine::with_busybox(BIN, "x-links");
    let db = engine.ok(&["run", "-d", "--name", "db", "-e", "COLOUR=blue", "-p", "5432", BUSYBOX, "sleep", "100"]);
    let db = db.trim().to_owned();
    let ip = engine.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "db"]);
    let ip = ip.trim().to_owned();
    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip}");
    let out = engine.ok(&[
        "run",
        "--rm",
        "--link",
        "db:database",
        BUSYBOX,
        "sh",
        "-c",
        "cat /etc/hosts; ping -c1 -W2 database >/dev/null && ping -c1 -W2 db >/dev/null && echo pinged",
    ]);
    let line = format!("{ip}\tdatabase {} db", &db[..12]);
    assert!(out.lines().any(|l| l == line), "no {line:?} in {out}");
    assert!(out.ends_with("pinged\n"), "{out}");
    // Docker's link variables: the name, the linked container's ports and environment.
    let env = engine.ok(&["run", "--rm", "--name", "app", "--link", "db:database", BUSYBOX, "env"]);
    for var in [
        "DATABASE_NAME=/app/database".to_owned(),
        format!("DATABASE_PORT=tcp://{ip}:5432"),
        format!("DATABASE_PORT_5432_TCP=tcp://{ip}:5432"),
        format!("DATABASE_PORT_5432_TCP_ADDR={ip}"),
        "DATABASE_PORT_5432_TCP_PORT=5432".to_owned(),
        "DATABASE_PORT_5432_TCP_PROTO=tcp".to_owned(),
        "DATABASE_ENV_COLOUR=blue".to_owned(),
    ] {
        assert!(env.lines().any(|l| l == var), "no {var} in {env}");
    }
    assert!(!env.lines().any(|l| l.starts_with("DATABASE_ENV_PATH=")), "{env}");
    let out = engine.ok(&["run", "--rm", "--link", "db", BUSYBOX, "cat", "/etc/hosts"]);
    assert!(out.lines().any(|l| l == format!("{ip}\tdb {}", &db[..12])), "{out}");
    engine.ok(&["create", "--name", "web", "--link", "db:database", BUSYBOX]);
    assert_eq!(inspect(&engine, "web")["HostConfig"]["Links"], json!(["/db:/web/database"]));
    engine.ok(&["rm", "web"]);
    refused(
        &engine,
        &[
            &["--link", "nothere:x"],
            &["--link", "db:bad alias"],
            &["--link", "db:a\nb"],
            &["--link", "db:x:y"],
            &["--link", ""],
        ],
    );
    // Links need the default bridge.
    engine.fails(&["run", "--rm", "--network", "host", "--link", "db", BUSYBOX, "true"], 125);
    engine.ok(&["rm", "-f", "db"]);
    clean(&engine);
}

/// `-q` keeps `run`'s and `create`'s pull quiet: nothing on stderr but errors.
#[test]
fn quiet_pulls_say_nothing() {
    let registry = Registry::start("x-quiet", None);
    let engine = Engine::new(BIN, "x-quiet");
    let layout = engine.root.join("layout");
    let layer = image::busybox_layer(&engine.root);
    let desc = image::image(&layout, &[(image::gzip(&layer), layer)], json!({ "Cmd": ["sh"] }), "amd64");
    image::finish_layout(&layout, "v1", vec![desc]);
    registry.push(&layout, "test/quiet", "v1");
    let name = format!("{}/test/quiet:v1", registry.addr);

    let out = engine.run(&["run", "--rm", "-q", "--network", "none", &name, "echo", "hi"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "-q: no pull output");
    engine.ok(&["rmi", &name]);
    let out = engine.run(&["create", "--quiet", &name]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim().len(), 64);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    engine.ok(&["rm", String::from_utf8_lossy(&out.stdout).trim()]);
    engine.ok(&["rmi", &name]);
    // Without -q, Docker's line about the pull.
    let out = engine.run(&["run", "--rm", "--network", "none", &name, "true"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unable to find image"));
    // Errors still show.
    let err = engine.fails(&["run", "-q", "--rm", "--network", "none", "127.0.0.1:1/nothere:v1", "true"], 125);
    assert!(err.contains("127.0.0.1:1"), "{err}");
    clean(&engine);
}
