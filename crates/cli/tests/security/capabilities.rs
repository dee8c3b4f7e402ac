//! A config.json that says nothing about capabilities gives none (as runc and crun do),
//! not the runtime's own full set: absent `process.capabilities`, or any absent list in
//! it, is an empty set. The checker reads the sets from /proc/self/status.

use lindocker_testkit::{Bundle, Runtime, leftovers};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker-runtime");
const NONE: &str = "0000000000000000";

fn assert_no_caps(r: &Value, what: &str) {
    for set in ["bounding", "effective", "permitted", "inheritable", "ambient"] {
        assert_eq!(r["caps"][set], NONE, "{what}: {set} set is not empty: {}", r["caps"]);
    }
}

/// Without `process.capabilities` the container's root has no capability at all.
#[test]
fn absent_capabilities_mean_none() {
    let rt = Runtime::new(BIN, "caps-absent");
    let mut b = Bundle::new("caps-absent", &["checker"]);
    b.config["process"].as_object_mut().unwrap().remove("capabilities");
    b.write();
    let r = rt.check(&b, "caps-absent");
    assert_eq!(r["uid"], "0\t0\t0\t0");
    assert_no_caps(&r, "no process.capabilities");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Lists that are missing are empty, even when others are given.
#[test]
fn absent_lists_mean_empty() {
    let rt = Runtime::new(BIN, "caps-lists");
    let mut b = Bundle::new("caps-lists", &["checker"]);
    // Only effective and permitted: no bounding, so nothing survives the exec of a
    // root process (its permitted set is recomputed from the bounding set).
    b.config["process"]["capabilities"] = json!({"effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]});
    b.write();
    let r = rt.check(&b, "caps-lists");
    assert_no_caps(&r, "capabilities without bounding");
    // An empty object: every set empty.
    b.config["process"]["capabilities"] = json!({});
    b.write();
    let r = rt.check(&b, "caps-empty");
    assert_no_caps(&r, "capabilities {}");
    // Bounding alone: the bounding set, nothing in the others for a non-root user.
    b.config["process"]["capabilities"] = json!({"bounding": ["CAP_KILL"]});
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.write();
    let r = rt.check(&b, "caps-bounding");
    assert_eq!(r["caps"]["bounding"], "0000000000000020");
    for set in ["effective", "permitted", "inheritable", "ambient"] {
        assert_eq!(r["caps"][set], NONE, "bounding only: {set}: {}", r["caps"]);
    }
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// `exec` of a process.json without capabilities gets the container's (here: none, as
/// its config has none), never the runtime's.
#[test]
fn exec_without_capabilities_gets_none() {
    let rt = Runtime::new(BIN, "caps-exec");
    let mut b = Bundle::new("caps-exec", &["sleep", "30"]);
    b.config["process"].as_object_mut().unwrap().remove("capabilities");
    b.write();
    rt.ok(&["run", "--detach", "--bundle", b.dir.to_str().unwrap(), "caps-exec"]);
    let process = json!({"args": ["checker"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]});
    let path = b.dir.join("process.json");
    std::fs::write(&path, process.to_string()).unwrap();
    let out = rt.run(&["exec", "--process", path.to_str().unwrap(), "caps-exec"]);
    let r: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("exec: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_no_caps(&r, "exec --process without capabilities");
    // The command-line form takes the container's process, which has none either.
    let out = rt.run(&["exec", "caps-exec", "checker"]);
    let r: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("exec: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_no_caps(&r, "exec with the container's process");
    rt.ok(&["delete", "--force", "caps-exec"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}
