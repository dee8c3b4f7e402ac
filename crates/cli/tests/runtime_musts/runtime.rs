//! MUSTs of `runtime.md`: the state, the lifecycle and the operations.

use serde_json::json;

use super::common::*;

/// runtime.ops.MUST.1: the entity that created a container can use every operation on it.
#[test]
fn runtime_ops_must_1_all_operations_on_the_same_container() {
    let (rt, b) = setup("r-ops", &["sleep", "1000"]);
    assert!(create(&rt, &b, "ops").status.success());
    assert_eq!(status(&rt, "ops"), "created");
    rt.ok(&["start", "ops"]);
    assert_eq!(status(&rt, "ops"), "running");
    rt.ok(&["kill", "ops", "KILL"]);
    wait_for("stopped", || status(&rt, "ops") == "stopped");
    rt.ok(&["delete", "ops"]);
    clean(&rt, &b);
}

/// runtime.state.REQUIRED.1-4 and runtime.state.pid.REQUIRED.1: ociVersion, id, status,
/// bundle (absolute) are in the state, pid while created or running.
#[test]
fn runtime_state_required_1_fields_of_the_state() {
    let (rt, b) = setup("r-state", &["sleep", "1000"]);
    assert!(create(&rt, &b, "st").status.success());
    let s = rt.state("st");
    assert!(s["ociVersion"].as_str().unwrap().starts_with("1."), "{s}");
    assert_eq!(s["id"], "st");
    assert_eq!(s["status"], "created");
    assert_eq!(s["bundle"], b.dir.to_str().unwrap());
    assert!(s["bundle"].as_str().unwrap().starts_with('/'));
    let pid = s["pid"].as_i64().unwrap();
    assert!(pid > 0 && !dead(pid));
    rt.ok(&["start", "st"]);
    let s = rt.state("st");
    assert_eq!(s["status"], "running");
    assert_eq!(s["pid"].as_i64().unwrap(), pid);
    rt.ok(&["delete", "--force", "st"]);
    clean(&rt, &b);
}

/// runtime.state.id.MUST.1: the id is unique across all containers of the host (the
/// runtime's scope): a second create with the same id is refused.
#[test]
fn runtime_state_id_must_1_unique() {
    let (rt, b) = setup("r-uniq", &["sleep", "1000"]);
    assert!(create(&rt, &b, "same").status.success());
    let pid = rt.state("same")["pid"].as_i64().unwrap();
    failed(&create(&rt, &b, "same"));
    // The first one is untouched.
    let s = rt.state("same");
    assert_eq!((s["status"].as_str().unwrap(), s["pid"].as_i64().unwrap()), ("created", pid));
    rt.ok(&["delete", "--force", "same"]);
    clean(&rt, &b);
}

/// runtime.state.status.MUST.1: status is one of the spec's states through the lifecycle
/// (a runtime's extra states must be new states, which lindocker has none of).
#[test]
fn runtime_state_status_must_1_only_spec_states() {
    let (rt, b) = setup("r-status", &["true"]);
    assert!(create(&rt, &b, "s").status.success());
    let mut seen = vec![status(&rt, "s")];
    rt.ok(&["start", "s"]);
    wait_for("stopped", || {
        let st = status(&rt, "s");
        seen.push(st.clone());
        st == "stopped"
    });
    for st in &seen {
        assert!(["creating", "created", "running", "stopped"].contains(&st.as_str()), "{st}");
    }
    rt.ok(&["delete", "s"]);
    clean(&rt, &b);
}

/// runtime.state.schema.MUST.1: the state adheres to state-schema.json: required
/// ociVersion, id, status, bundle; pid an integer; annotations a string map.
#[test]
fn runtime_state_schema_must_1_state_schema() {
    let (rt, mut b) = setup("r-schema", &["sleep", "1000"]);
    b.config["annotations"] = json!({"org.example.key": "value"});
    b.write();
    assert!(create(&rt, &b, "sc").status.success());
    let s = rt.state("sc");
    for key in ["ociVersion", "id", "status", "bundle"] {
        assert!(s[key].is_string(), "{key}: {s}");
    }
    assert!(s["pid"].is_i64());
    let version = s["ociVersion"].as_str().unwrap();
    assert_eq!(version.split('.').count(), 3, "not SemVer: {version}");
    if let Some(a) = s.get("annotations") {
        assert_eq!(a["org.example.key"], "value");
        assert!(a.as_object().unwrap().values().all(|v| v.is_string()));
    }
    rt.ok(&["delete", "--force", "sc"]);
    clean(&rt, &b);
}

/// runtime.lifecycle.create.MUST.1: the environment is made as config.json says.
#[test]
fn runtime_lifecycle_create_must_1_environment_from_config() {
    let (rt, mut b) = setup("r-env", &["checker"]);
    b.config["hostname"] = json!("from-config");
    b.write();
    let r = check(&rt, &b, "e");
    assert_eq!(r["hostname"], "from-config");
    clean(&rt, &b);
}

/// runtime.lifecycle.create.MUST.2: what cannot be made is an error.
#[test]
fn runtime_lifecycle_create_must_2_error_when_unable() {
    let (rt, mut b) = setup("r-unable", &["true"]);
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/nope", "type": "bind", "source": "/nonexistent/source", "options": ["rbind"]}));
    b.write();
    failed(&create(&rt, &b, "u"));
    assert!(rt.run(&["state", "u"]).status.code() != Some(0));
    clean(&rt, &b);
}

/// runtime.lifecycle.create.MUST.3: resources are made at create, the program does not run.
#[test]
fn runtime_lifecycle_create_must_3_program_not_run_at_create() {
    let (rt, mut b) = setup("r-notrun", &["sh", "-c", "touch /out/ran"]);
    let out = b.share_dir("out", "/out");
    b.write();
    assert!(create(&rt, &b, "n").status.success());
    let pid = rt.state("n")["pid"].as_i64().unwrap();
    // Made: the namespaces of the container exist already.
    assert_ne!(
        std::fs::read_link(format!("/proc/{pid}/ns/uts")).unwrap(),
        std::fs::read_link("/proc/self/ns/uts").unwrap()
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!out.join("ran").exists());
    rt.ok(&["start", "n"]);
    wait_for("the program", || out.join("ran").exists());
    rt.ok(&["delete", "--force", "n"]);
    clean(&rt, &b);
}

/// runtime.lifecycle.create.MUST.4: changes to config.json after create do not affect
/// the container.
#[test]
fn runtime_lifecycle_create_must_4_later_config_changes_ignored() {
    let (rt, mut b) = setup("r-later", &["checker"]);
    b.config["process"]["env"].as_array_mut().unwrap().push(json!("WHEN=create"));
    b.write();
    let tmp = b.dir.join("out.json");
    let mut cmd = rt.cmd();
    cmd.args(["create", "--bundle", b.dir.to_str().unwrap(), "l"]);
    cmd.stdout(std::fs::File::create(&tmp).unwrap());
    assert!(cmd.status().unwrap().success());
    b.config["process"]["env"] = json!(["WHEN=later"]);
    b.config["process"]["args"] = json!(["false"]);
    b.write();
    rt.ok(&["start", "l"]);
    wait_for("stopped", || status(&rt, "l") == "stopped");
    let r: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&tmp).unwrap().trim()).unwrap();
    assert_eq!(r["env"]["WHEN"], "create");
    rt.ok(&["delete", "l"]);
    clean(&rt, &b);
}

fn hook_failure_stops(kind: &str, name: &str) {
    let (rt, mut b) = setup(name, &["sleep", "1000"]);
    b.config["hooks"] = json!({ kind: [{"path": "/bin/false"}] });
    b.write();
    let out = create(&rt, &b, "h");
    let out = if kind == "startContainer" {
        assert!(out.status.success(), "{}", stderr(&out));
        rt.run(&["start", "h"])
    } else {
        out
    };
    failed(&out);
    // Stopped and destroyed (step 12): no process, no cgroup, no mounts left.
    if let Some(0) = rt.run(&["state", "h"]).status.code() {
        assert_eq!(status(&rt, "h"), "stopped");
        rt.ok(&["delete", "h"]);
    }
    clean(&rt, &b);
}

/// runtime.lifecycle.prestart.MUST.1: prestart hooks are run (see config_hooks_* for
/// when) and .MUST.2: a failing one is an error and the container is stopped.
#[test]
fn runtime_lifecycle_prestart_must_2_failure_is_an_error() {
    hook_failure_stops("prestart", "r-prefail");
}

/// runtime.lifecycle.createRuntime.MUST.2.
#[test]
fn runtime_lifecycle_createruntime_must_2_failure_is_an_error() {
    hook_failure_stops("createRuntime", "r-crfail");
}

/// runtime.lifecycle.createContainer.MUST.2.
#[test]
fn runtime_lifecycle_createcontainer_must_2_failure_is_an_error() {
    hook_failure_stops("createContainer", "r-ccfail");
}

/// runtime.lifecycle.startContainer.MUST.2.
#[test]
fn runtime_lifecycle_startcontainer_must_2_failure_is_an_error() {
    hook_failure_stops("startContainer", "r-scfail");
}

/// runtime.lifecycle.hooks.MUST.1: every kind of hook is invoked, each once, in
/// lifecycle order (steps 3, 4, 5, 7, 9, 13).
#[test]
fn runtime_lifecycle_hooks_must_1_all_invoked_in_order() {
    let (rt, mut b) = setup("r-hooks", &["true"]);
    let out = b.share_dir("out", "/out");
    let log = out.join("log");
    let hook = |what: &str, inside: bool| {
        let file = if inside { "/out/log".to_string() } else { log.display().to_string() };
        json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {what} >> {file}")]})
    };
    b.config["hooks"] = json!({
        "prestart": [hook("prestart", false)],
        "createRuntime": [hook("createRuntime", false)],
        "createContainer": [hook("createContainer", false)],
        "startContainer": [hook("startContainer", true)],
        "poststart": [hook("poststart", false)],
        "poststop": [hook("poststop", false)],
    });
    b.write();
    assert!(create(&rt, &b, "h").status.success());
    rt.ok(&["start", "h"]);
    wait_for("stopped", || status(&rt, "h") == "stopped");
    rt.ok(&["delete", "h"]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
    );
    clean(&rt, &b);
}

/// runtime.lifecycle.program.MUST.1 (step 8) and runtime.start.MUST.3: start runs the
/// user-specified program as `process` says.
#[test]
fn runtime_start_must_3_runs_the_program() {
    let (rt, mut b) = setup("r-program", &["checker", "--exit", "7"]);
    b.config["process"]["env"].as_array_mut().unwrap().push(json!("P=1"));
    b.write();
    let (code, out, _) = rt.run_bundle(&b, "p");
    assert_eq!(code, 7);
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["env"]["P"], "1");
    clean(&rt, &b);
}

fn failing_post_hook_warns(kind: &str, name: &str) {
    let (rt, mut b) = setup(name, &["true"]);
    let out = b.share_dir("out", "/out");
    let after = json!({"path": "/bin/sh", "args": ["sh", "-c", format!("touch {}/after", out.display())]});
    b.config["hooks"] = json!({ kind: [{"path": "/bin/false"}, after] });
    b.write();
    assert!(create(&rt, &b, "w").status.success());
    let start = rt.run(&["start", "w"]);
    assert!(start.status.success(), "{}", stderr(&start));
    wait_for("stopped", || status(&rt, "w") == "stopped");
    let del = rt.run(&["delete", "w"]);
    assert!(del.status.success(), "{}", stderr(&del));
    let warned = stderr(&start) + &stderr(&del);
    assert!(warned.to_lowercase().contains("warn"), "no warning: {warned}");
    // The remaining hooks ran.
    assert!(out.join("after").exists());
    clean(&rt, &b);
}

/// runtime.lifecycle.poststart.MUST.2: a failing poststart hook is a warning; the rest go on.
#[test]
fn runtime_lifecycle_poststart_must_2_failure_is_a_warning() {
    failing_post_hook_warns("poststart", "r-psfail");
}

/// runtime.lifecycle.poststop.MUST.2: a failing poststop hook is a warning; the rest go on.
#[test]
fn runtime_lifecycle_poststop_must_2_failure_is_a_warning() {
    failing_post_hook_warns("poststop", "r-ppfail");
}

/// runtime.lifecycle.destroy.MUST.1 and runtime.delete.MUST.3: delete undoes create:
/// cgroups, mounts, state and processes are gone.
#[test]
fn runtime_delete_must_3_resources_deleted() {
    let (rt, b) = setup("r-destroy", &["sleep", "1000"]);
    assert!(create(&rt, &b, "d").status.success());
    let pid = rt.state("d")["pid"].as_i64().unwrap();
    rt.ok(&["start", "d"]);
    rt.ok(&["kill", "d", "KILL"]);
    wait_for("stopped", || status(&rt, "d") == "stopped");
    rt.ok(&["delete", "d"]);
    assert!(dead(pid));
    assert!(rt.run(&["state", "d"]).status.code() != Some(0));
    clean(&rt, &b);
}

/// runtime.delete.MUST.4: what the container did not create (a bind-mounted host
/// directory, a joined namespace's holder) is not deleted.
#[test]
fn runtime_delete_must_4_foreign_resources_kept() {
    let (rt, mut b) = setup("r-foreign", &["sh", "-c", "touch /out/file"]);
    let out = b.share_dir("out", "/out");
    b.write();
    let (code, _, err) = rt.run_bundle(&b, "f");
    assert_eq!(code, 0, "{err}");
    assert!(out.join("file").exists());
    assert!(b.rootfs().join("bin/sh").exists());
    clean(&rt, &b);
}

/// runtime.errors.MUST.1: an error leaves the environment as if the operation were
/// never attempted (a failed create leaves no state, cgroup or mount).
#[test]
fn runtime_errors_must_1_error_changes_nothing() {
    let (rt, mut b) = setup("r-noharm", &["true"]);
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_BANANA", "soft": 1, "hard": 1}]);
    b.write();
    failed(&create(&rt, &b, "x"));
    assert!(rt.run(&["state", "x"]).status.code() != Some(0));
    assert_eq!(rt.ok(&["list", "--quiet"]).trim(), "");
    clean(&rt, &b);
}

/// runtime.warnings.MUST.1: after a warning the operation goes on (poststart warning,
/// and still the container runs to its end).
#[test]
fn runtime_warnings_must_1_flow_continues() {
    let (rt, mut b) = setup("r-warn", &["sh", "-c", "echo done > /out/done"]);
    let out = b.share_dir("out", "/out");
    b.config["hooks"] = json!({"poststart": [{"path": "/bin/false"}]});
    b.write();
    let (code, _, err) = rt.run_bundle(&b, "w");
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(out.join("done")).unwrap(), "done\n");
    clean(&rt, &b);
}

/// runtime.operations.MUST.1: the operations state, create, start, kill, delete exist.
#[test]
fn runtime_operations_must_1_supported() {
    let rt = lindocker_testkit::Runtime::new(BIN, "r-opsup");
    for op in ["state", "create", "start", "kill", "delete"] {
        let out = rt.run(&[op, "--help"]);
        assert!(out.status.success(), "{op}: {}", stderr(&out));
    }
}

/// runtime.state.MUST.1-3: state without an id, and of an unknown id, is an error; of a
/// container, its state (see runtime_state_required_1).
#[test]
fn runtime_state_must_1_errors() {
    let rt = lindocker_testkit::Runtime::new(BIN, "r-stateerr");
    failed(&rt.run(&["state"]));
    let out = rt.run(&["state", "nosuchcontainer"]);
    assert!(failed(&out).contains("does not exist"));
}

/// runtime.create.MUST.1: create without an id, or without a bundle (the working
/// directory has no config.json), is an error.
#[test]
fn runtime_create_must_1_id_and_bundle_required() {
    let (rt, b) = setup("r-createargs", &["true"]);
    failed(&rt.run(&["create", "--bundle", b.dir.to_str().unwrap()]));
    let empty = lindocker_testkit::temp_dir("r-createargs-empty");
    let mut cmd = rt.cmd();
    cmd.current_dir(&empty).args(["create", "c"]);
    let out = lindocker_testkit::output_via_files(cmd, &rt.root);
    failed(&out);
    assert!(rt.run(&["state", "c"]).status.code() != Some(0));
    let _ = std::fs::remove_dir_all(empty);
    clean(&rt, &b);
}

/// runtime.create.MUST.2: an id that is not valid is refused and nothing is created.
#[test]
fn runtime_create_must_2_invalid_id() {
    let (rt, b) = setup("r-badid", &["true"]);
    for id in ["../escape", "a/b", ".."] {
        failed(&create(&rt, &b, id));
    }
    assert_eq!(rt.ok(&["list", "--quiet"]).trim(), "");
    clean(&rt, &b);
}

/// runtime.create.MUST.4: all properties but process are applied at create; process.args
/// is not (runtime.create.MUST.5).
#[test]
fn runtime_create_must_4_properties_applied_at_create() {
    let (rt, mut b) = setup("r-applied", &["sleep", "1000"]);
    b.config["hostname"] = json!("at-create");
    b.config["linux"]["sysctl"] = json!({"kernel.shmmni": "1234"});
    b.write();
    assert!(create(&rt, &b, "a").status.success());
    let pid = rt.state("a")["pid"].as_i64().unwrap();
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(!cmdline.contains("sleep"), "{cmdline}");
    // Seen by entering the created container's namespaces with an exec.
    assert_eq!(rt.ok(&["exec", "a", "hostname"]).trim(), "at-create");
    assert_eq!(rt.ok(&["exec", "a", "cat", "/proc/sys/kernel/shmmni"]).trim(), "1234");
    rt.ok(&["delete", "--force", "a"]);
    clean(&rt, &b);
}

/// runtime.create.MUST.6: a property that cannot be applied is an error and no
/// container is created.
#[test]
fn runtime_create_must_6_unappliable_property() {
    let (rt, mut b) = setup("r-unappl", &["true"]);
    b.config["linux"]["sysctl"] = json!({"kernel.no_such_sysctl": "1"});
    b.write();
    failed(&create(&rt, &b, "u"));
    assert_eq!(rt.ok(&["list", "--quiet"]).trim(), "");
    clean(&rt, &b);
}

/// runtime.start.MUST.1: start without an id is an error.
#[test]
fn runtime_start_must_1_id_required() {
    let rt = lindocker_testkit::Runtime::new(BIN, "r-startid");
    failed(&rt.run(&["start"]));
}

/// runtime.start.MUST.2: start of a container that is not created (running, stopped)
/// changes nothing and is an error.
#[test]
fn runtime_start_must_2_not_created() {
    let (rt, b) = setup("r-startnc", &["sleep", "1000"]);
    assert!(create(&rt, &b, "s").status.success());
    rt.ok(&["start", "s"]);
    let pid = rt.state("s")["pid"].as_i64().unwrap();
    failed(&rt.run(&["start", "s"]));
    assert_eq!(status(&rt, "s"), "running");
    assert_eq!(rt.state("s")["pid"].as_i64().unwrap(), pid);
    rt.ok(&["kill", "s", "KILL"]);
    wait_for("stopped", || status(&rt, "s") == "stopped");
    failed(&rt.run(&["start", "s"]));
    assert_eq!(status(&rt, "s"), "stopped");
    rt.ok(&["delete", "s"]);
    clean(&rt, &b);
}

/// runtime.start.MUST.4: start is an error when `process` was not set.
#[test]
fn runtime_start_must_4_no_process() {
    let (rt, mut b) = setup("r-noproc", &["true"]);
    b.config.as_object_mut().unwrap().remove("process");
    b.write();
    let out = create(&rt, &b, "np");
    if out.status.success() {
        failed(&rt.run(&["start", "np"]));
        rt.ok(&["delete", "--force", "np"]);
    } else {
        // Refused already at create, naming the field.
        assert!(failed(&out).contains("process"));
    }
    clean(&rt, &b);
}

/// runtime.kill.MUST.1: kill without an id is an error.
#[test]
fn runtime_kill_must_1_id_required() {
    let rt = lindocker_testkit::Runtime::new(BIN, "r-killid");
    failed(&rt.run(&["kill"]));
}

/// runtime.kill.MUST.2: kill of a stopped container changes nothing and is an error.
#[test]
fn runtime_kill_must_2_not_created_nor_running() {
    let (rt, b) = setup("r-killst", &["true"]);
    assert!(create(&rt, &b, "k").status.success());
    rt.ok(&["start", "k"]);
    wait_for("stopped", || status(&rt, "k") == "stopped");
    assert!(failed(&rt.run(&["kill", "k", "TERM"])).contains("container not running"));
    assert_eq!(status(&rt, "k"), "stopped");
    rt.ok(&["delete", "k"]);
    clean(&rt, &b);
}

/// runtime.kill.MUST.3: kill sends the given signal to the container process, created
/// or running.
#[test]
fn runtime_kill_must_3_signal_delivered() {
    let script = "trap 'echo got-usr1 > /out/sig; exit 0' USR1; while :; do sleep 0.1; done";
    let (rt, mut b) = setup("r-killsig", &["sh", "-c", script]);
    let out = b.share_dir("out", "/out");
    b.write();
    assert!(create(&rt, &b, "k").status.success());
    rt.ok(&["start", "k"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    rt.ok(&["kill", "k", "USR1"]);
    wait_for("the signal", || out.join("sig").exists());
    wait_for("stopped", || status(&rt, "k") == "stopped");
    // A created container gets it too.
    assert!(create(&rt, &b, "k2").status.success());
    let pid = rt.state("k2")["pid"].as_i64().unwrap();
    rt.ok(&["kill", "k2", "KILL"]);
    wait_for("killed", || dead(pid));
    rt.ok(&["delete", "k"]);
    rt.ok(&["delete", "--force", "k2"]);
    clean(&rt, &b);
}

/// runtime.delete.MUST.1: delete without an id is an error.
#[test]
fn runtime_delete_must_1_id_required() {
    let rt = lindocker_testkit::Runtime::new(BIN, "r-delid");
    failed(&rt.run(&["delete"]));
}

/// runtime.delete.MUST.2: delete of a container that is not stopped (created, running)
/// changes nothing and is an error.
#[test]
fn runtime_delete_must_2_not_stopped() {
    let (rt, b) = setup("r-delrun", &["sleep", "1000"]);
    assert!(create(&rt, &b, "d").status.success());
    rt.ok(&["start", "d"]);
    let pid = rt.state("d")["pid"].as_i64().unwrap();
    failed(&rt.run(&["delete", "d"]));
    assert_eq!(status(&rt, "d"), "running");
    assert!(!dead(pid));
    rt.ok(&["delete", "--force", "d"]);
    clean(&rt, &b);
}

/// runtime.delete.MUST.2, for a created container: the spec says an error; runc (and so
/// containerd's shim, which deletes a created container without --force after a failed
/// start) deletes it, and lindocker-runtime does as runc.
#[test]
#[ignore = "departure (as runc): delete of a created container deletes it"]
fn runtime_delete_must_2_not_stopped_created() {
    let (rt, b) = setup("r-delcreated", &["sleep", "1000"]);
    assert!(create(&rt, &b, "d").status.success());
    let out = rt.run(&["delete", "d"]);
    let ok = out.status.success();
    if ok {
        clean(&rt, &b);
    } else {
        assert_eq!(status(&rt, "d"), "created");
        rt.ok(&["delete", "--force", "d"]);
    }
    assert!(!ok, "delete of a created container succeeded");
}
