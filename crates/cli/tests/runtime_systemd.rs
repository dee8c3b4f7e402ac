//! The systemd cgroup driver (`lindocker-runtime --systemd-cgroup`, containerd's
//! `SystemdCgroup = true`): the container's cgroup is a transient scope systemd made, with
//! the limits as unit properties and in the kernel's files; update, pause, kill and
//! delete find it; bad names are refused with nothing made.
//!
//! Most tests need systemd as the host's init (`/run/systemd/system`): they run in the VM
//! of scripts/test-systemd.sh and say they are skipped elsewhere. The refusals without
//! systemd run everywhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use lindocker_testkit::{Bundle, Runtime, cgroup_dirs, leftovers};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker-runtime");

/// Whether systemd is this host's init; if not, says the test is skipped.
fn systemd_host(test: &str) -> bool {
    let yes = Path::new("/run/systemd/system").is_dir();
    if !yes {
        eprintln!("{test}: skipped: systemd is not this host's init (scripts/test-systemd.sh runs it in a VM)");
    }
    yes
}

/// A container id (64 hex, as the engine and containerd make them), unique per test.
fn id(n: u32) -> String {
    format!("{:08x}{n:08x}{}", std::process::id(), "c".repeat(48))
}

/// `systemctl show UNIT -p PROP --value`.
fn unit_property(unit: &str, prop: &str) -> String {
    let out = Command::new("systemctl").args(["show", unit, "-p", prop, "--value"]).output().expect("systemctl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).trim().to_string()
}

/// The unit's cgroup directory on this (cgroup v2) host.
fn scope_dir(cgroup: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup").join(cgroup.trim_start_matches('/'))
}

/// Stops the test's slices (systemd keeps a slice until told), best effort.
fn stop_slices() {
    let _ = Command::new("systemctl").args(["stop", "lindocker-test.slice", "lindocker.slice"]).output();
}

fn wait_stopped(rt: &Runtime, id: &str) {
    for _ in 0..500 {
        if rt.state(id)["status"] == "stopped" {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("{id} did not stop");
}

#[test]
fn a_scope_in_the_slice_holds_the_container_with_its_limits_until_delete() {
    if !systemd_host("a_scope_in_the_slice_holds_the_container_with_its_limits_until_delete") {
        return;
    }
    let rt = Runtime::new(BIN, "sdscope");
    let id = id(1);
    let mut b = Bundle::new("sdscope", &["sleep", "1000"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("lindocker-test.slice:lindocker:{id}"));
    b.config["linux"]["resources"] = json!({
        "memory": {"limit": 67108864},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000},
        "pids": {"limit": 42},
    });
    b.write();
    let unit = format!("lindocker-{id}.scope");
    let cgroup = format!("/lindocker.slice/lindocker-test.slice/{unit}");
    let dir = scope_dir(&cgroup);
    rt.ok(&["--systemd-cgroup", "create", "--bundle", b.dir.to_str().unwrap(), &id]);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();

    // systemd's view: an active scope in the slice, delegated, with the limits.
    assert_eq!(unit_property(&unit, "ActiveState"), "active");
    assert_eq!(unit_property(&unit, "Slice"), "lindocker-test.slice");
    assert_eq!(unit_property(&unit, "ControlGroup"), cgroup);
    assert_eq!(unit_property(&unit, "Delegate"), "yes");
    assert_eq!(unit_property(&unit, "MemoryMax"), "67108864");
    assert_eq!(unit_property(&unit, "TasksMax"), "42");
    assert_eq!(unit_property(&unit, "CPUQuotaPerSecUSec"), "500ms");
    // The kernel's: the container's init is in the scope's cgroup, limited.
    assert_eq!(read(&PathBuf::from(format!("/proc/{pid}/cgroup"))), format!("0::{cgroup}"));
    assert_eq!(read(&dir.join("cgroup.procs")), pid.to_string());
    assert_eq!(read(&dir.join("memory.max")), "67108864");
    assert_eq!(read(&dir.join("pids.max")), "42");
    assert_eq!(read(&dir.join("cpu.max")), "50000 100000");
    assert_eq!(read(&dir.join("cpu.weight")), "20");

    rt.ok(&["--systemd-cgroup", "start", &id]);
    // From inside: the container's own cgroup (its namespace's root) has the limits, and
    // an exec'd process joins it.
    let inside = rt.ok(&["exec", &id, "cat", "/proc/self/cgroup", "/sys/fs/cgroup/pids.max"]);
    assert_eq!(inside.split_whitespace().collect::<Vec<_>>(), ["0::/", "42"], "{inside}");

    // update: the unit's property and the file.
    rt.ok(&["--systemd-cgroup", "update", "--memory", "134217728", "--pids-limit", "50", &id]);
    assert_eq!(unit_property(&unit, "MemoryMax"), "134217728");
    assert_eq!(unit_property(&unit, "TasksMax"), "50");
    assert_eq!(read(&dir.join("memory.max")), "134217728");
    assert_eq!(read(&dir.join("pids.max")), "50");

    // pause/resume and kill --all find the unit's cgroup.
    rt.ok(&["--systemd-cgroup", "pause", &id]);
    assert_eq!(rt.state(&id)["status"], "paused");
    assert_eq!(read(&dir.join("cgroup.freeze")), "1");
    rt.ok(&["--systemd-cgroup", "resume", &id]);
    rt.ok(&["--systemd-cgroup", "kill", "--all", &id, "KILL"]);
    wait_stopped(&rt, &id);

    rt.ok(&["--systemd-cgroup", "delete", &id]);
    assert_eq!(unit_property(&unit, "LoadState"), "not-found");
    assert!(!dir.exists(), "{} left after delete", dir.display());
    assert_eq!(leftovers(&cgroup, &b.dir, &rt.root), Vec::<String>::new());
    stop_slices();
}

#[test]
fn delete_force_of_a_running_container_stops_its_unit() {
    if !systemd_host("delete_force_of_a_running_container_stops_its_unit") {
        return;
    }
    let rt = Runtime::new(BIN, "sdforce");
    let id = id(2);
    let mut b = Bundle::new("sdforce", &["sleep", "1000"]);
    // No cgroupsPath: runc's default, a scope named after the container in system.slice.
    b.config["linux"].as_object_mut().unwrap().remove("cgroupsPath");
    // A time namespace makes the runtime fork the init from an intermediate process: the
    // init must be born in the scope all the same.
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "time"}));
    b.write();
    let unit = format!("lindocker-{id}.scope");
    rt.ok(&["--systemd-cgroup", "run", "--detach", "--bundle", b.dir.to_str().unwrap(), &id]);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(read(&PathBuf::from(format!("/proc/{pid}/cgroup"))), format!("0::/system.slice/{unit}"));
    assert_eq!(unit_property(&unit, "ActiveState"), "active");
    rt.ok(&["--systemd-cgroup", "delete", "--force", &id]);
    assert_eq!(unit_property(&unit, "LoadState"), "not-found");
    assert!(!scope_dir(&format!("/system.slice/{unit}")).exists());
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "the container's init survived delete --force");
}

#[test]
fn bad_names_are_refused_and_failed_creates_leave_no_unit() {
    if !systemd_host("bad_names_are_refused_and_failed_creates_leave_no_unit") {
        return;
    }
    let rt = Runtime::new(BIN, "sdbad");
    let id = id(3);
    let mut b = Bundle::new("sdbad", &["sleep", "1000"]);
    for (path, says) in [
        ("lindocker--test.slice:lindocker:x", "invalid slice name"),
        ("-lindocker.slice:lindocker:x", "invalid slice name"),
        ("lindocker-test.slice/x.slice:lindocker:x", "invalid slice name"),
        ("../lindocker.slice:lindocker:x", "invalid slice name"),
        ("lindocker:lindocker:x", "must end in \".slice\""),
        ("lindocker-test.slice:lindocker:../../x", "not allowed in a systemd unit name"),
        ("lindocker-test.slice:lin/docker:x", "not allowed in a systemd unit name"),
        ("lindocker-test.slice:lindocker", "slice:prefix:name"),
    ] {
        b.config["linux"]["cgroupsPath"] = json!(path);
        b.write();
        let out = rt.run(&["--systemd-cgroup", "create", "--bundle", b.dir.to_str().unwrap(), &id]);
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            let _ = rt.run(&["delete", "--force", &id]);
        }
        assert_eq!(out.status.code(), Some(1), "{path}: {err}");
        assert!(err.contains("error") && err.contains(says) && err.contains(path), "{path}: {err}");
        assert!(!rt.run(&["state", &id]).status.success(), "{path}: a container is left");
    }
    let units = Command::new("systemctl")
        .args(["list-units", "--all", "--plain", "--no-legend", "lindocker*"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&units.stdout).trim(), "", "units left behind");
    assert!(!Path::new("/sys/fs/cgroup/lindocker.slice").exists());
    let long = format!("lindocker-test.slice:lindocker:{}", "a".repeat(250));
    b.config["linux"]["cgroupsPath"] = json!(long);
    b.write();
    let out = rt.run(&["--systemd-cgroup", "create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("longer than 255"), "{out:?}");

    // A create that fails once the unit exists (the program is missing) leaves none.
    b.config["linux"]["cgroupsPath"] = json!(format!("lindocker-test.slice:lindocker:{id}"));
    b.config["process"]["args"] = json!(["/no/such/program"]);
    b.write();
    let unit = format!("lindocker-{id}.scope");
    let out = rt.run(&["--systemd-cgroup", "create", "--bundle", b.dir.to_str().unwrap(), &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("/no/such/program"), "{err}");
    assert_eq!(unit_property(&unit, "LoadState"), "not-found");
    assert!(!scope_dir(&format!("/lindocker.slice/lindocker-test.slice/{unit}")).exists());
    assert!(!rt.run(&["state", &id]).status.success());
    stop_slices();
}

/// The cgroupfs driver (no flag) is unchanged on a systemd host: the runtime's own
/// directories, no unit. (A guard: this passes on the code before the systemd driver.)
#[test]
fn without_the_flag_the_cgroupfs_driver_makes_no_unit() {
    let rt = Runtime::new(BIN, "sdnone");
    let id = id(4);
    let mut b = Bundle::new("sdnone", &["sleep", "1000"]);
    b.config["linux"]["resources"] = json!({"pids": {"limit": 42}});
    b.write();
    let path = b.config["linux"]["cgroupsPath"].as_str().unwrap().to_string();
    rt.ok(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let cg = read(&PathBuf::from(format!("/proc/{pid}/cgroup")));
    assert!(cg.lines().any(|l| l.ends_with(&path)), "{cg}");
    if Path::new("/run/systemd/system").is_dir() {
        assert_eq!(unit_property(&format!("lindocker-{id}.scope"), "LoadState"), "not-found");
    }
    rt.ok(&["delete", "--force", &id]);
    for dir in cgroup_dirs(&path) {
        assert!(!dir.exists(), "{} left after delete", dir.display());
    }
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// A systemd `slice:prefix:name` path without `--systemd-cgroup` is refused: it would
/// otherwise become a cgroupfs directory with colons in its name, out of systemd's sight.
#[test]
fn a_systemd_path_without_the_flag_is_refused() {
    let rt = Runtime::new(BIN, "sdnoflag");
    let id = id(5);
    let mut b = Bundle::new("sdnoflag", &["sleep", "1000"]);
    let path = format!("lindocker-test.slice:lindocker:{id}");
    b.config["linux"]["cgroupsPath"] = json!(path);
    b.write();
    let out = rt.run(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        let _ = rt.run(&["delete", "--force", &id]);
    }
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error") && err.contains("--systemd-cgroup") && err.contains(&path), "{err}");
    for dir in cgroup_dirs(&path) {
        assert!(!dir.exists(), "{} was created", dir.display());
    }
    assert!(!rt.run(&["state", &id]).status.success());
}

/// `--systemd-cgroup` where systemd is not the init: a clear error naming it, nothing
/// made (runc: "systemd not running on this host").
#[test]
fn the_flag_without_systemd_is_refused() {
    if Path::new("/run/systemd/system").is_dir() {
        eprintln!("the_flag_without_systemd_is_refused: skipped: systemd runs here");
        return;
    }
    let rt = Runtime::new(BIN, "sdmissing");
    let id = id(6);
    let mut b = Bundle::new("sdmissing", &["sleep", "1000"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("lindocker-test.slice:lindocker:{id}"));
    b.write();
    let out = rt.run(&["--systemd-cgroup", "create", "--bundle", b.dir.to_str().unwrap(), &id]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        let _ = rt.run(&["delete", "--force", &id]);
    }
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error") && err.contains("systemd is not running") && err.contains("/run/systemd/system"),
        "{err}"
    );
    assert!(!rt.run(&["state", &id]).status.success());
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// `features` says the systemd driver is there.
#[test]
fn features_report_the_systemd_driver() {
    let rt = Runtime::new(BIN, "sdfeatures");
    let f: serde_json::Value = serde_json::from_str(&rt.ok(&["features"])).unwrap();
    assert_eq!(f["linux"]["cgroup"]["systemd"], true, "{f}");
}

/// A cgroupsPath naming a unit that exists already and is not this container's (another
/// container's scope, under the same unit name in another slice; a slice holding other
/// units) makes create fail, and that unit is left running: the failed create must not
/// stop a unit it did not start (`StopUnit` on `system.slice` would stop the host's
/// services).
#[test]
fn a_unit_name_taken_by_another_unit_fails_create_and_leaves_that_unit_alone() {
    if !systemd_host("a_unit_name_taken_by_another_unit_fails_create_and_leaves_that_unit_alone") {
        return;
    }
    let rt = Runtime::new(BIN, "sdtaken");
    let (victim, attacker) = (id(5), id(6));
    let mut b = Bundle::new("sdtaken", &["sleep", "1000"]);
    b.config["linux"]["cgroupsPath"] = json!("lindocker-test.slice:lindocker:shared");
    b.write();
    rt.ok(&["--systemd-cgroup", "run", "--detach", "--bundle", b.dir.to_str().unwrap(), &victim]);
    let pid = rt.state(&victim)["pid"].as_i64().unwrap();
    let unit = "lindocker-shared.scope";
    assert_eq!(unit_property(unit, "ActiveState"), "active");
    for path in [
        // The same scope name in another slice: a different cgroup, the same unit.
        "lindocker-other.slice:lindocker:shared",
        // The slice the victim's scope is in.
        "system.slice:lindocker:lindocker-test.slice",
    ] {
        b.config["linux"]["cgroupsPath"] = json!(path);
        b.write();
        let out = rt.run(&["--systemd-cgroup", "create", "--bundle", b.dir.to_str().unwrap(), &attacker]);
        if out.status.success() {
            let _ = rt.run(&["--systemd-cgroup", "delete", "--force", &attacker]);
        }
        assert!(!out.status.success(), "{path}: create of a unit that exists succeeded");
        assert_eq!(unit_property(unit, "ActiveState"), "active", "{path}: the victim's scope was stopped");
        assert!(Path::new(&format!("/proc/{pid}")).exists(), "{path}: the victim's init was killed");
        assert_eq!(unit_property("lindocker-test.slice", "ActiveState"), "active", "{path}: its slice was stopped");
    }
    rt.ok(&["--systemd-cgroup", "delete", "--force", &victim]);
    assert_eq!(unit_property(unit, "LoadState"), "not-found");
    let _ = Command::new("systemctl").args(["stop", "lindocker-other.slice"]).output();
    stop_slices();
}

/// systemd puts a unit whose name starts with `_` or names a controller (`cpu.slice`) in
/// a `_`-prefixed directory; the runtime would write the container's device filter,
/// freeze and kill --all to the unprefixed one, where the container is not. Refused.
#[test]
fn a_name_systemd_escapes_is_refused_not_misplaced() {
    if !systemd_host("a_name_systemd_escapes_is_refused_not_misplaced") {
        return;
    }
    let rt = Runtime::new(BIN, "sdesc");
    let id = id(7);
    let mut b = Bundle::new("sdesc", &["sleep", "1000"]);
    for (path, dir) in [
        ("lindocker-test.slice:_lindocker:x", "/lindocker.slice/lindocker-test.slice/_lindocker-x.scope"),
        ("lindocker-test.slice:lindocker:cpu.slice", "/cpu.slice"),
    ] {
        b.config["linux"]["cgroupsPath"] = json!(path);
        b.write();
        let out = rt.run(&["--systemd-cgroup", "create", "--bundle", b.dir.to_str().unwrap(), &id]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        if out.status.success() {
            let pid = rt.state(&id)["pid"].as_i64().unwrap();
            let actual = read(&PathBuf::from(format!("/proc/{pid}/cgroup")));
            let _ = rt.run(&["--systemd-cgroup", "delete", "--force", &id]);
            stop_slices();
            panic!("{path}: created; its init is in {actual}, the runtime's files go to {dir}");
        }
        assert!(err.contains(path) && err.contains("escape"), "{path}: {err}");
        assert!(!rt.run(&["state", &id]).status.success(), "{path}: a container is left");
    }
    stop_slices();
}
