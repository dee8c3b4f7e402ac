//! The command line itself: spec, features, version, logging, bad input.

use lindocker_testkit::{Bundle, Runtime, leftovers, temp_dir};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker-runtime");

#[test]
fn spec_writes_a_default_config_once() {
    let rt = Runtime::new(BIN, "spec");
    let dir = temp_dir("specdir");
    rt.ok(&["spec", "--bundle", dir.to_str().unwrap()]);
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["root"]["path"], "rootfs");
    assert_eq!(config["process"]["args"][0], "sh");
    let out = rt.run(&["spec", "--bundle", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn features_and_version() {
    let rt = Runtime::new(BIN, "features");
    let f: serde_json::Value = serde_json::from_str(&rt.ok(&["features"])).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert!(f["linux"]["namespaces"].as_array().unwrap().contains(&"time".into()));
    assert!(f["hooks"].as_array().unwrap().contains(&"createRuntime".into()));
    assert!(rt.ok(&["--version"]).starts_with("lindocker-runtime version "));
}

/// containerd reads errors from `--log` in runc's JSON form.
#[test]
fn errors_land_in_the_json_log() {
    let rt = Runtime::new(BIN, "jsonlog");
    let log = rt.root.join("../jsonlog.log");
    let out = rt.run(&["--log", log.to_str().unwrap(), "--log-format", "json", "state", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert_eq!(line["msg"], "container \"nope\" does not exist");
    assert!(line["time"].as_str().unwrap().contains('T'));
    // Global options also work after the subcommand, and --systemd-cgroup is accepted.
    let out = rt.run(&["state", "nope", "--log-format", "json", "--log", log.to_str().unwrap(), "--systemd-cgroup"]);
    assert_eq!(out.status.code(), Some(1));
    std::fs::remove_file(log).unwrap();
}

fn expect_failure(rt: &Runtime, b: &Bundle, id: &str, needle: &str) {
    let out = rt.run(&["create", "--bundle", b.dir.to_str().unwrap(), id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new(), "after {needle}");
}

#[test]
fn bad_configs_are_named_and_leave_nothing() {
    let rt = Runtime::new(BIN, "badcfg");
    let mut b = Bundle::new("badcfg", &["true"]);
    std::fs::write(b.dir.join("config.json"), "{ not json").unwrap();
    expect_failure(&rt, &b, "x", "config.json: (document)");

    let good = b.config.clone();
    b.config.as_object_mut().unwrap().remove("process");
    b.write();
    expect_failure(&rt, &b, "x", "process: missing");

    b.config = good.clone();
    b.config["linux"]["namespaces"][1]["type"] = "bogus".into();
    b.write();
    expect_failure(&rt, &b, "x", "linux.namespaces[1].type: unknown variant `bogus`");

    b.config = good.clone();
    b.config["process"]["capabilities"]["bounding"][0] = "CAP_BOGUS".into();
    b.write();
    expect_failure(&rt, &b, "x", "process.capabilities.bounding");

    b.config = good.clone();
    b.config["mounts"][0]["type"] = "bogusfs".into();
    b.write();
    expect_failure(&rt, &b, "x", "mounts[0].type: unknown file system type \"bogusfs\"");

    b.config = good.clone();
    b.config["linux"]["devices"] = serde_json::json!([{"path": "/dev/x", "type": "x", "major": 1, "minor": 3}]);
    b.write();
    expect_failure(&rt, &b, "x", "linux.devices[0].type");

    b.config = good.clone();
    b.config["ociVersion"] = "2.0.0".into();
    b.write();
    expect_failure(&rt, &b, "x", "ociVersion: \"2.0.0\" is not a 1.x version");

    // Any 1.x is fine, newer than ours too.
    b.config = good.clone();
    b.config["ociVersion"] = "1.9.0".into();
    b.write();
    assert_eq!(rt.run_bundle(&b, "newer").0, 0);

    b.config = good.clone();
    b.config["process"]["args"] = serde_json::json!(["no-such-program"]);
    b.write();
    expect_failure(&rt, &b, "x", "exec: \"no-such-program\": executable file not found in $PATH");

    b.config = good.clone();
    b.config["process"]["args"] = serde_json::json!(["/etc/passwd"]);
    b.write();
    expect_failure(&rt, &b, "x", "permission denied");

    b.config = good;
    b.config["mounts"].as_array_mut().unwrap().push(serde_json::json!(
        {"destination": "/mnt", "type": "bind", "source": "/no/such/dir", "options": ["rbind"]}));
    b.write();
    expect_failure(&rt, &b, "x", "bind mount source /no/such/dir: no such file or directory");
}

#[test]
fn bad_ids_and_bundles() {
    let rt = Runtime::new(BIN, "badids");
    let b = Bundle::new("badids", &["sleep", "100"]);
    for id in ["a/b", "..", ".", "../escape"] {
        expect_failure(&rt, &b, id, "invalid container id");
    }
    let out = rt.run(&["create", "--bundle", "/no/such/bundle", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bundle /no/such/bundle: no such directory"));
    rt.ok(&["create", "--bundle", b.dir.to_str().unwrap(), "dup"]);
    let out = rt.run(&["create", "--bundle", b.dir.to_str().unwrap(), "dup"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("container \"dup\" already exists"));
    rt.ok(&["delete", "dup"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// A failing step inside the init is reported as one line naming the step.
#[test]
fn init_errors_name_the_step() {
    let rt = Runtime::new(BIN, "initerr");
    let mut b = Bundle::new("initerr", &["true"]);
    b.config["process"]["rlimits"] =
        serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 1u64 << 40, "hard": 1u64 << 40}]);
    b.write();
    expect_failure(&rt, &b, "x", "setrlimit RLIMIT_NOFILE");
}
