//! Values from the command line and from image archives are typed and validated where
//! they enter (issue 12, item 10): a newline in `--add-host` or `--hostname` must not add
//! lines to a container's `/etc/hosts`, `-e =B` and bad `--env-file` lines are refused
//! (exit 125, nothing created), and an image config with wrong JSON types is refused at
//! `load`, with nothing stored.

use std::fs;

use lindocker_testkit::image::{self, Entry};
use lindocker_testkit::{Engine, temp_dir};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

#[test]
fn hosts_and_env_values_are_validated() {
    let engine = Engine::with_busybox(BIN, "input");
    // A valid --add-host still lands in /etc/hosts.
    let hosts =
        engine.ok(&["run", "--rm", "--add-host", "good.example:10.1.2.3", "localhost/busybox", "cat", "/etc/hosts"]);
    assert!(hosts.lines().any(|l| l == "10.1.2.3\tgood.example"), "{hosts}");

    for (flag, value) in [
        ("--add-host", "evil\n6.6.6.6 injected:10.1.2.3"),
        ("--add-host", "evil:10.1.2.3\n6.6.6.6 injected"),
        ("--add-host", "evil:host-gateway"),
        ("--hostname", "evil\n6.6.6.6 injected"),
        ("-e", "=B"),
    ] {
        let out = engine.run(&["run", "--rm", flag, value, "localhost/busybox", "cat", "/etc/hosts"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stdout.contains("injected"), "{flag} {value:?} injected a line into /etc/hosts:\n{stdout}");
        assert_eq!(out.status.code(), Some(125), "{flag} {value:?} was accepted:\n{stdout}{stderr}");
        if flag == "-e" {
            assert!(stderr.contains("invalid environment variable: =B"), "{stderr}");
        } else {
            assert!(stderr.contains(flag), "{stderr}");
        }
    }

    let dir = temp_dir("input-env");
    for (i, bad) in ["=B\n", "A B=c\n", "A=b\0c\n"].iter().enumerate() {
        let file = dir.join(format!("env{i}"));
        fs::write(&file, format!("OK=1\n{bad}")).unwrap();
        let err = engine.fails(&["run", "--rm", "--env-file", file.to_str().unwrap(), "localhost/busybox", "env"], 125);
        assert!(err.contains("--env-file") && err.contains("line 2"), "{bad:?}: {err}");
    }
    let file = dir.join("good");
    fs::write(&file, "# a comment\n\n  GOOD=yes\n").unwrap();
    let env =
        engine.ok(&["run", "--rm", "--env-file", file.to_str().unwrap(), "-e", "X=1=2", "localhost/busybox", "env"]);
    assert!(env.lines().any(|l| l == "GOOD=yes") && env.lines().any(|l| l == "X=1=2"), "{env}");

    // exec too.
    engine.ok(&["run", "-d", "--name", "inp", "localhost/busybox", "sleep", "1000"]);
    let err = engine.fails(&["exec", "-e", "=B", "inp", "true"], 125);
    assert!(err.contains("invalid environment variable: =B"), "{err}");
    engine.ok(&["rm", "-f", "inp"]);
    assert_eq!(engine.ok(&["ps", "-a", "-q"]), "", "a refused run created a container");
    fs::remove_dir_all(&dir).unwrap();
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_loaded_config_with_wrong_types_is_refused_and_nothing_is_stored() {
    let engine = Engine::new(BIN, "input-load");
    let scratch = temp_dir("input-load-layout");
    let tar = image::layer(&[Entry::File("hello".into(), b"hi\n".to_vec(), 0o644)]);
    let before_images = engine.ok(&["images", "-q"]);
    let before = engine.store_listing();
    for (i, config) in [json!({ "Cmd": "sh" }), json!({ "Env": "A=b" }), json!({ "User": 0 }), json!({ "Env": ["=B"] })]
        .into_iter()
        .enumerate()
    {
        let layout = scratch.join(format!("layout{i}"));
        fs::create_dir_all(&layout).unwrap();
        let desc = image::image(&layout, &[(tar.clone(), tar.clone())], config.clone(), "amd64");
        image::finish_layout(&layout, "localhost/badconfig:1", vec![desc]);
        let archive = scratch.join(format!("bad{i}.tar"));
        let mut b = tar::Builder::new(fs::File::create(&archive).unwrap());
        b.append_dir_all(".", &layout).unwrap();
        b.finish().unwrap();
        drop(b);
        let err = engine.fails(&["load", "-i", archive.to_str().unwrap()], 1);
        assert!(err.contains("image config: config."), "{config}: {err}");
        assert_eq!(engine.ok(&["images", "-q"]), before_images, "{config}: an image was added");
        assert_eq!(engine.store_listing(), before, "{config}: the store changed");
    }
    fs::remove_dir_all(&scratch).unwrap();
}

/// Network aliases go into the `/etc/hosts` of every container on the network: a newline
/// in one must not add lines there.
#[test]
fn network_aliases_are_host_names() {
    let engine = Engine::with_busybox(BIN, "input-alias");
    engine.ok(&["network", "create", "aliasnet"]);
    let bad = "ok\n6.6.6.6 injected";
    let out = engine.run(&[
        "run",
        "-d",
        "--name",
        "aliased",
        "--network",
        "aliasnet",
        "--network-alias",
        bad,
        "localhost/busybox",
        "sleep",
        "1000",
    ]);
    let hosts = engine.ok(&["run", "--rm", "--network", "aliasnet", "localhost/busybox", "cat", "/etc/hosts"]);
    assert!(!hosts.contains("injected"), "an alias injected a line into a peer's /etc/hosts:\n{hosts}");
    assert_eq!(out.status.code(), Some(125), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--network-alias"));
    engine.ok(&["network", "create", "othernet"]);
    engine.ok(&["create", "--name", "later", "--network", "aliasnet", "localhost/busybox", "true"]);
    let out = engine.run(&["network", "connect", "--alias", bad, "othernet", "later"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--alias"));
    engine.ok(&["rm", "-f", "later"]);
    let _ = engine.run(&["rm", "-f", "aliased"]);
    engine.ok(&["network", "rm", "aliasnet", "othernet"]);
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `run` with a bad flag starts nothing, not even for a moment: the flags are checked
/// before the shim is spawned (a shim that came up and left again could still be seen by
/// a leak check, or write into a data root being removed).
#[test]
fn a_run_with_a_bad_flag_spawns_no_shim() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let engine = Engine::with_busybox(BIN, "badrun");
    let done = AtomicBool::new(false);
    let seen = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut seen = Vec::new();
            while !done.load(Ordering::Relaxed) {
                seen.extend(engine.shims());
            }
            seen
        });
        for (flag, value) in [
            ("--device-cgroup-rule", "c 1:3 rwx"),
            ("--sysctl", "kernel.core_pattern=|/x"),
            ("--dns-option", "ndots:1\nnameserver 6.6.6.6"),
            ("--platform", "not/a/platform/at/all"),
            ("--health-interval", "-1s"),
        ] {
            for _ in 0..4 {
                let out = engine.run(&["run", "--rm", flag, value, "localhost/busybox", "true"]);
                assert_eq!(out.status.code(), Some(125), "{flag} {value:?}: {out:?}");
            }
        }
        done.store(true, Ordering::Relaxed);
        watcher.join().unwrap()
    });
    assert!(seen.is_empty(), "shims seen while bad runs were refused: {seen:?}");
    assert!(engine.ok(&["ps", "-a", "-q"]).is_empty());
}
