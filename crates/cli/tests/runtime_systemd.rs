//! The systemd cgroup driver (`lindocker-runtime --systemd-cgroup`, containerd's
//! `SystemdCgroup = true`): the container's cgroup is a transient scope systemd made, with
//! the limits as unit properties and in the kernel's files; update, pause, kill and
//! delete find it; bad names are refused with nothing made.
//!
//! Most tests need systemd as the host's init (`/run/systemd/system`): they run in the VMs
//! of scripts/test-systemd.sh (cgroup v2 only, then systemd's hybrid layout: v1
//! controllers and cgroup2 at /sys/fs/cgroup/unified) and say they are skipped elsewhere.
//! Each finds the layout itself (the host's cgroup mounts) and reads the files of that
//! layout. The refusals without systemd run everywhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use lindocker_cgroups::Hierarchy;
use lindocker_testkit::{Bundle, Runtime, cgroup_dirs, cgroup_file, leftovers};
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

/// Whether the host has only cgroup v2 (else v1 controllers, maybe beside cgroup2).
fn unified() -> bool {
    Hierarchy::detect().unwrap().is_unified()
}

/// The unit's cgroup directories that exist, in any hierarchy.
fn existing_dirs(cgroup: &str) -> Vec<PathBuf> {
    cgroup_dirs(cgroup).into_iter().filter(|d| d.exists()).collect()
}

/// Process `pid` is in `cgroup` in every hierarchy of the host (the one cgroup2 line, or
/// one line per v1 hierarchy plus the hybrid cgroup2 one), and each of these directories
/// lists it.
fn assert_in_every_hierarchy(pid: i64, cgroup: &str) {
    let lines = read(&PathBuf::from(format!("/proc/{pid}/cgroup")));
    let dirs = cgroup_dirs(cgroup);
    assert_eq!(lines.lines().count(), dirs.len(), "{lines}\nvs {dirs:?}");
    for line in lines.lines() {
        assert!(line.ends_with(&format!(":{cgroup}")), "{pid} is not in {cgroup}: {line}");
    }
    for dir in dirs {
        let procs = read(&dir.join("cgroup.procs"));
        assert!(procs.lines().any(|p| p == pid.to_string()), "{pid} not in {}: {procs}", dir.display());
    }
}

/// Stops the test's slices (systemd keeps a slice until told), best effort. On cgroup v1
/// the slices' directories in the hierarchies systemd does not manage (freezer, cpuset,
/// ...) were made by the runtime (as runc makes them) and stay: removed here, when empty.
fn stop_slices() {
    let _ = Command::new("systemctl").args(["stop", "lindocker-test.slice", "lindocker.slice"]).output();
    for slice in ["/lindocker.slice/lindocker-test.slice", "/lindocker.slice/lindocker-other.slice", "/lindocker.slice"]
    {
        for dir in cgroup_dirs(slice) {
            let _ = std::fs::remove_dir(dir);
        }
    }
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
    let file = |controller: &str, name: &str| read(&cgroup_file(&cgroup, controller, name));
    rt.ok(&["--systemd-cgroup", "create", "--bundle", b.dir.to_str().unwrap(), &id]);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();

    // systemd's view: an active scope in the slice, delegated, with the limits (v1 knows
    // a memory limit as MemoryLimit, v2 as MemoryMax).
    let memory = if unified() { "MemoryMax" } else { "MemoryLimit" };
    assert_eq!(unit_property(&unit, "ActiveState"), "active");
    assert_eq!(unit_property(&unit, "Slice"), "lindocker-test.slice");
    assert_eq!(unit_property(&unit, "ControlGroup"), cgroup);
    assert_eq!(unit_property(&unit, "Delegate"), "yes");
    assert_eq!(unit_property(&unit, memory), "67108864");
    assert_eq!(unit_property(&unit, "TasksMax"), "42");
    assert_eq!(unit_property(&unit, "CPUQuotaPerSecUSec"), "500ms");
    // The kernel's: the container's init is in the scope's cgroup in every hierarchy
    // (on v1 also those systemd does not manage: freezer, cpuset, ...), limited.
    assert_in_every_hierarchy(pid, &cgroup);
    assert_eq!(file("pids", "pids.max"), "42");
    if unified() {
        assert_eq!(file("memory", "memory.max"), "67108864");
        assert_eq!(file("cpu", "cpu.max"), "50000 100000");
        assert_eq!(file("cpu", "cpu.weight"), "20");
    } else {
        assert_eq!(file("memory", "memory.limit_in_bytes"), "67108864");
        assert_eq!(file("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(file("cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(file("cpu", "cpu.shares"), "512");
    }

    rt.ok(&["--systemd-cgroup", "start", &id]);
    // From inside: the container's own cgroup (its namespace's root, in every
    // hierarchy) has the limits, and an exec'd process joins it.
    let pids_max = if unified() { "/sys/fs/cgroup/pids.max" } else { "/sys/fs/cgroup/pids/pids.max" };
    let inside = rt.ok(&["exec", &id, "cat", "/proc/self/cgroup", pids_max]);
    let (limit, lines) = inside.trim().lines().collect::<Vec<_>>().split_last().map(|(l, r)| (*l, r.to_vec())).unwrap();
    assert_eq!(limit, "42", "{inside}");
    assert_eq!(lines.len(), cgroup_dirs(&cgroup).len(), "{inside}");
    assert!(lines.iter().all(|l| l.ends_with(":/")), "{inside}");

    // update: the unit's property and the file.
    rt.ok(&["--systemd-cgroup", "update", "--memory", "134217728", "--pids-limit", "50", &id]);
    assert_eq!(unit_property(&unit, memory), "134217728");
    assert_eq!(unit_property(&unit, "TasksMax"), "50");
    let memory_file = if unified() { "memory.max" } else { "memory.limit_in_bytes" };
    assert_eq!(file("memory", memory_file), "134217728");
    assert_eq!(file("pids", "pids.max"), "50");

    // pause/resume and kill --all find the unit's cgroup.
    rt.ok(&["--systemd-cgroup", "pause", &id]);
    assert_eq!(rt.state(&id)["status"], "paused");
    if unified() {
        assert_eq!(file("freezer", "cgroup.freeze"), "1");
    } else {
        assert_eq!(file("freezer", "freezer.state"), "FROZEN");
    }
    rt.ok(&["--systemd-cgroup", "resume", &id]);
    assert_eq!(rt.state(&id)["status"], "running");
    rt.ok(&["--systemd-cgroup", "kill", "--all", &id, "KILL"]);
    wait_stopped(&rt, &id);

    // delete: no unit, no directory of the scope in any hierarchy.
    rt.ok(&["--systemd-cgroup", "delete", &id]);
    assert_eq!(unit_property(&unit, "LoadState"), "not-found");
    assert_eq!(existing_dirs(&cgroup), Vec::<PathBuf>::new(), "left after delete");
    assert_eq!(leftovers(&cgroup, &b.dir, &rt.root), Vec::<String>::new());
    stop_slices();
    assert_eq!(existing_dirs("/lindocker.slice"), Vec::<PathBuf>::new(), "slices left");
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
    let cgroup = format!("/system.slice/{unit}");
    assert_in_every_hierarchy(pid, &cgroup);
    assert_eq!(unit_property(&unit, "ActiveState"), "active");
    rt.ok(&["--systemd-cgroup", "delete", "--force", &id]);
    assert_eq!(unit_property(&unit, "LoadState"), "not-found");
    assert_eq!(existing_dirs(&cgroup), Vec::<PathBuf>::new(), "left after delete --force");
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
    assert_eq!(existing_dirs("/lindocker.slice"), Vec::<PathBuf>::new());
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
    assert_eq!(existing_dirs(&format!("/lindocker.slice/lindocker-test.slice/{unit}")), Vec::<PathBuf>::new());
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

/// The host's first disk (`/sys/block/*`, not a loop or RAM disk): its major and minor.
fn host_disk() -> (u32, u32) {
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !["loop", "ram", "zram", "nbd"].iter().any(|p| n.starts_with(p)))
        .collect();
    names.sort();
    let dev = read(&Path::new("/sys/block").join(names.first().expect("a disk")).join("dev"));
    let (major, minor) = dev.split_once(':').unwrap();
    (major.parse().unwrap(), minor.parse().unwrap())
}

/// systemd re-applies a unit's cgroup settings when it likes (`daemon-reload`, a property
/// set with `systemctl set-property`). The container's device rules (the spec's deny-all,
/// plus the devices every container has) must hold through that: on cgroup v1 systemd
/// writes `devices.allow a` to a unit whose devices controller it realizes with no device
/// policy, which would hand the container every device of the host. Checked from inside:
/// the host's disk cannot be opened, another disk node not made, /dev/null still works;
/// and the kernel's rules and limits stay the runtime's.
#[test]
fn device_rules_survive_systemd_reapplying_the_unit() {
    if !systemd_host("device_rules_survive_systemd_reapplying_the_unit") {
        return;
    }
    let rt = Runtime::new(BIN, "sddev");
    let id = id(8);
    let mut b = Bundle::new("sddev", &["sleep", "1000"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("lindocker-test.slice:lindocker:{id}"));
    // The default spec's rules: deny every device (the runtime adds the usual ones).
    assert_eq!(b.config["linux"]["resources"]["devices"], json!([{"allow": false, "access": "rwm"}]));
    // CAP_MKNOD, so that only the device rules stand between the container and mknod.
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set].as_array_mut().unwrap().push(json!("CAP_MKNOD"));
    }
    // The host's disk as a node in the container's /dev (as `--device` without access
    // makes it: the runtime allows making the node, not opening it), readable by anyone
    // as far as file modes go. Its neighbour is not allowed at all, not even mknod.
    let (major, minor) = host_disk();
    b.config["linux"]["devices"] = json!([{"path": "/dev/disk", "type": "b", "major": major, "minor": minor,
                                            "fileMode": 0o666, "uid": 0, "gid": 0}]);
    // Limits too: systemd re-applies its own values of them.
    b.config["linux"]["resources"]["memory"] = json!({"limit": 67108864});
    b.config["linux"]["resources"]["pids"] = json!({"limit": 42});
    b.write();
    let unit = format!("lindocker-{id}.scope");
    let cgroup = format!("/lindocker.slice/lindocker-test.slice/{unit}");
    rt.ok(&["--systemd-cgroup", "run", "--detach", "--bundle", b.dir.to_str().unwrap(), &id]);
    // Why the rules hold: systemd has no device policy for the unit, and Delegate= hands
    // over only cpu, cpuset, io, memory and pids, so systemd never realizes the devices
    // controller (v1) nor a device program (v2) for it: the runtime's rules are the only
    // ones, and systemd leaves them alone when it re-applies the unit.
    assert_eq!(unit_property(&unit, "DevicePolicy"), "auto");
    assert_eq!(unit_property(&unit, "DeviceAllow"), "");
    let delegated = unit_property(&unit, "DelegateControllers");
    assert!(delegated.contains("pids") && !delegated.contains("devices"), "{delegated}");
    let devices_list = (!unified()).then(|| cgroup_file(&cgroup, "devices", "devices.list"));
    let rules = devices_list.as_ref().map(|f| read(f));
    if let Some(rules) = &rules {
        assert!(!rules.contains("a *:*") && rules.contains(&format!("b {major}:{minor} m")), "{rules}");
    }
    let memory = if unified() { "memory.max" } else { "memory.limit_in_bytes" };
    let pids = std::cell::Cell::new("42");

    let confined = |when: &str| {
        let out =
            rt.ok(&["exec", &id, "checker", "--read", "/dev/disk", "--read", "/dev/null", "--write", "/dev/null"]);
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["reads"]["/dev/disk"]["errno"], 1, "{when}: the host's disk was opened: {report}");
        assert_eq!(report["reads"]["/dev/null"], "", "{when}: /dev/null: {report}");
        assert_eq!(report["writes"]["/dev/null"], "ok", "{when}: /dev/null: {report}");
        let out = rt.run(&["exec", &id, "mknod", "/dev/disk2", "b", &major.to_string(), &(minor + 1).to_string()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("Operation not permitted"), "{when}: mknod: {err}");
        // The kernel's rules and limits are the runtime's still.
        assert_eq!(devices_list.as_ref().map(|f| read(f)), rules, "{when}: devices.list changed");
        assert_eq!(read(&cgroup_file(&cgroup, "memory", memory)), "67108864", "{when}");
        assert_eq!(read(&cgroup_file(&cgroup, "pids", "pids.max")), pids.get(), "{when}");
    };
    confined("after create");
    let systemctl = |args: &[&str]| {
        let out = Command::new("systemctl").args(args).output().unwrap();
        assert!(out.status.success(), "systemctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    systemctl(&["daemon-reload"]);
    confined("after systemctl daemon-reload");
    systemctl(&["set-property", "--runtime", &unit, "CPUWeight=50"]);
    confined("after systemctl set-property CPUWeight=50");
    // After an update (which sets unit properties), and systemd re-applying them all.
    rt.ok(&["--systemd-cgroup", "update", "--pids-limit", "100", &id]);
    pids.set("100");
    systemctl(&["daemon-reload"]);
    confined("after update and daemon-reload");

    rt.ok(&["--systemd-cgroup", "delete", "--force", &id]);
    assert_eq!(unit_property(&unit, "LoadState"), "not-found");
    assert_eq!(existing_dirs(&cgroup), Vec::<PathBuf>::new());
    stop_slices();
}

/// A cgroupsPath whose name is a slice makes a transient slice (runc's rule); systemd
/// keeps no process of a slice, so the runtime moves the container's init in, in every
/// hierarchy, where it must stay: starting the slice makes systemd re-realize its
/// siblings' cgroups, and on cgroup v1 that moves the processes systemd counts as the
/// test's service (this process's) back to the service's cgroup in each controller.
/// Delete stops the slice, leaves no directory, and the name can be used again. Three
/// rounds, as systemd's re-realizing races with the runtime.
#[test]
fn a_slice_name_makes_a_slice_holding_the_container() {
    if !systemd_host("a_slice_name_makes_a_slice_holding_the_container") {
        return;
    }
    let rt = Runtime::new(BIN, "sdslice");
    let id = id(9);
    let mut b = Bundle::new("sdslice", &["sleep", "1000"]);
    b.config["linux"]["cgroupsPath"] = json!("lindocker-test.slice:ignored:lindocker-test-c1.slice");
    b.config["linux"]["resources"]["pids"] = json!({"limit": 42});
    b.write();
    let unit = "lindocker-test-c1.slice";
    let cgroup = "/lindocker.slice/lindocker-test.slice/lindocker-test-c1.slice";
    for round in 0..3 {
        rt.ok(&["--systemd-cgroup", "run", "--detach", "--bundle", b.dir.to_str().unwrap(), &id]);
        let pid = rt.state(&id)["pid"].as_i64().unwrap();
        assert_eq!(unit_property(unit, "ActiveState"), "active", "round {round}");
        assert_eq!(unit_property(unit, "ControlGroup"), cgroup, "round {round}");
        assert_in_every_hierarchy(pid, cgroup);
        assert_eq!(read(&cgroup_file(cgroup, "pids", "pids.max")), "42");
        rt.ok(&["--systemd-cgroup", "delete", "--force", &id]);
        assert_ne!(unit_property(unit, "ActiveState"), "active", "round {round}");
        assert_eq!(existing_dirs(cgroup), Vec::<PathBuf>::new(), "round {round}: left after delete --force");
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "the container's init survived delete --force");
    }
    stop_slices();
}
