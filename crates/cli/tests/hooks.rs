//! OCI hooks: each runs at its point with the state on stdin; a failing or slow hook
//! fails its step and is named.

use lindocker_testkit::{Bundle, Runtime, leftovers};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker-runtime");

fn hook(script: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script], "env": ["HOOKVAR=yes"]})
}

#[test]
fn every_hook_runs_with_the_state() {
    let rt = Runtime::new(BIN, "hooks");
    let mut b = Bundle::new("hooks", &["true"]);
    let out = b.share_dir("out", "/out");
    let o = out.display();
    b.config["hooks"] = json!({
        "prestart": [hook(&format!("cat > {o}/prestart.json"))],
        "createRuntime": [hook(&format!("cat > {o}/createRuntime.json; echo $HOOKVAR > {o}/env"))],
        "createContainer": [hook(&format!("cat > {o}/createContainer.json"))],
        // startContainer runs inside the container: its /bin/sh and /out.
        "startContainer": [hook("cat > /out/startContainer.json")],
        "poststart": [hook(&format!("cat > {o}/poststart.json"))],
        "poststop": [hook(&format!("cat > {o}/poststop.json"))],
    });
    b.write();
    assert_eq!(rt.run_bundle(&b, "h1").0, 0);
    for (name, status) in [
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        ("createContainer", "created"),
        ("startContainer", "created"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let text = std::fs::read_to_string(out.join(format!("{name}.json"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let state: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(state["id"], "h1", "{name}");
        assert_eq!(state["status"], status, "{name}");
        assert_eq!(state["bundle"], b.dir.to_str().unwrap(), "{name}");
    }
    assert_eq!(std::fs::read_to_string(out.join("env")).unwrap(), "yes\n");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

#[test]
fn failing_and_slow_hooks_fail_their_step() {
    let rt = Runtime::new(BIN, "hookfail");
    let mut b = Bundle::new("hookfail", &["true"]);
    b.config["hooks"] = json!({"createRuntime": [hook("true"), hook("exit 3")]});
    b.write();
    let out = rt.run(&["create", "--bundle", b.dir.to_str().unwrap(), "f1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("createRuntime hook #1 (/bin/sh): failed: exit status: 3"), "{err}");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());

    let mut slow = hook("sleep 10");
    slow["timeout"] = json!(1);
    b.config["hooks"] = json!({"createContainer": [slow]});
    b.write();
    let out = rt.run(&["create", "--bundle", b.dir.to_str().unwrap(), "f2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("createContainer hook #0 (/bin/sh): timed out after 1s"), "{err}");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}
