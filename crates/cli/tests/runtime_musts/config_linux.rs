//! MUSTs of `config-linux.md`: namespaces, id mappings, devices, cgroups, seccomp,
//! intelRdt.

use std::os::unix::net::UnixListener;

use serde_json::{Value, json};

use super::common::*;

fn ns(link: &str) -> String {
    std::fs::read_link(link).unwrap().to_string_lossy().into_owned()
}

fn set_ns_path(b: &mut lindocker_testkit::Bundle, kind: &str, path: &str) {
    let list = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    list.retain(|n| n["type"] != kind);
    list.push(json!({"type": kind, "path": path}));
}

/// config-linux.namespaces.path.MUST.1: a path that is not absolute is refused.
#[test]
fn config_linux_namespaces_path_must_1_absolute() {
    let (rt, mut b) = setup("l-nsrel", &["true"]);
    set_ns_path(&mut b, "network", "proc/self/ns/net");
    b.write();
    failed(&create(&rt, &b, "n"));
    clean(&rt, &b);
}

/// config-linux.namespaces.path.MUST.2: the process is placed in the namespace at path.
#[test]
fn config_linux_namespaces_path_must_2_joined() {
    let (rt, first) = setup("l-nsjoin", &["sleep", "1000"]);
    assert!(create(&rt, &first, "first").status.success());
    let pid = rt.state("first")["pid"].as_i64().unwrap();
    let mut b = lindocker_testkit::Bundle::new("l-nsjoin2", &["checker"]);
    for kind in ["network", "ipc", "uts"] {
        let file = if kind == "network" { "net" } else { kind };
        set_ns_path(&mut b, kind, &format!("/proc/{pid}/ns/{file}"));
    }
    b.write();
    let r = check(&rt, &b, "second");
    for file in ["net", "ipc", "uts"] {
        assert_eq!(r["namespaces"][file], ns(&format!("/proc/{pid}/ns/{file}")), "{file}");
    }
    rt.ok(&["delete", "--force", "first"]);
    clean(&rt, &first);
    clean(&rt, &b);
}

/// config-linux.namespaces.path.MUST.3: a path of another namespace type is an error.
#[test]
fn config_linux_namespaces_path_must_3_wrong_type() {
    let (rt, mut b) = setup("l-nstype", &["true"]);
    set_ns_path(&mut b, "network", "/proc/self/ns/uts");
    b.write();
    failed(&create(&rt, &b, "n"));
    // Not a namespace at all.
    set_ns_path(&mut b, "network", "/etc/hostname");
    b.write();
    failed(&create(&rt, &b, "n"));
    clean(&rt, &b);
}

/// config-linux.namespaces.path.MUST.4: without path, a new namespace of each type.
#[test]
fn config_linux_namespaces_path_must_4_new_namespace() {
    let (rt, mut b) = setup("l-nsnew", &["checker"]);
    b.user_namespace(100000);
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "time"}));
    b.write();
    let r = check(&rt, &b, "n");
    for file in ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] {
        assert_ne!(r["namespaces"][file], ns(&format!("/proc/self/ns/{file}")), "{file}");
    }
    clean(&rt, &b);
}

/// config-linux.namespaces.MUST.5: a type not listed is inherited from the runtime.
#[test]
fn config_linux_namespaces_must_5_unlisted_inherited() {
    let (rt, mut b) = setup("l-nsinherit", &["checker"]);
    b.config["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "pid"}]);
    // A hostname needs a uts namespace of its own.
    b.config.as_object_mut().unwrap().remove("hostname");
    b.write();
    let r = check(&rt, &b, "n");
    for file in ["cgroup", "ipc", "net", "uts", "user", "time"] {
        assert_eq!(r["namespaces"][file], ns(&format!("/proc/self/ns/{file}")), "{file}");
    }
    clean(&rt, &b);
}

/// config-linux.namespaces.MUST.6: a type listed twice is an error.
#[test]
fn config_linux_namespaces_must_6_duplicates() {
    let (rt, mut b) = setup("l-nsdup", &["true"]);
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "network"}));
    b.write();
    failed(&create(&rt, &b, "n"));
    clean(&rt, &b);
}

/// config-linux.idmappings.REQUIRED.1: containerID, hostID and size of each mapping are
/// the user namespace's uid_map and gid_map.
#[test]
fn config_linux_idmappings_required_1_maps_applied() {
    let (rt, mut b) = setup("l-idmap", &["checker"]);
    b.user_namespace(100000);
    b.config["linux"]["gidMappings"] = json!([
        {"containerID": 0, "hostID": 200000, "size": 1000},
        {"containerID": 1000, "hostID": 300000, "size": 10},
    ]);
    b.write();
    let r = check(&rt, &b, "i");
    let lines = |v: &Value| -> Vec<Vec<String>> {
        v.as_str().unwrap().lines().map(|l| l.split_whitespace().map(String::from).collect()).collect()
    };
    assert_eq!(lines(&r["uid_map"]), [["0", "100000", "65536"]]);
    assert_eq!(lines(&r["gid_map"]), [["0", "200000", "1000"], ["1000", "300000", "10"]]);
    clean(&rt, &b);
}

/// config-linux.devices.MUST.1: listed devices are available, with their type, numbers,
/// mode and owner.
#[test]
fn config_linux_devices_must_1_available() {
    let (rt, mut b) = setup("l-devs", &["checker"]);
    b.config["linux"]["devices"] = json!([
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 12, "gid": 34},
        {"path": "/dev/myfifo", "type": "p"},
    ]);
    b.config["linux"]["resources"]["devices"]
        .as_array_mut()
        .unwrap()
        .push(json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}));
    b.write();
    let r = check(&rt, &b, "d");
    let d = &r["devices"]["mynull"];
    assert_eq!((d["type"].as_str(), d["major"].as_u64(), d["minor"].as_u64()), (Some("c"), Some(1), Some(3)), "{d}");
    assert_eq!((d["mode"].as_u64(), d["uid"].as_u64(), d["gid"].as_u64()), (Some(0o640), Some(12), Some(34)), "{d}");
    assert_eq!(r["devices"]["myfifo"]["type"], "p");
    clean(&rt, &b);
}

/// config-linux.devices.path.MUST.1: a file at path that is not the requested device is
/// an error.
#[test]
fn config_linux_devices_path_must_1_mismatch_is_an_error() {
    let (rt, mut b) = setup("l-devclash", &["true"]);
    std::fs::write(b.rootfs().join("clash"), "a regular file").unwrap();
    b.config["linux"]["devices"] = json!([{"path": "/clash", "type": "c", "major": 1, "minor": 3}]);
    b.write();
    failed(&create(&rt, &b, "d"));
    assert_eq!(std::fs::read_to_string(b.rootfs().join("clash")).unwrap(), "a regular file");
    clean(&rt, &b);
}

/// config-linux.devices.default.MUST.1: /dev/null, zero, full, random, urandom, tty and
/// ptmx (a link or bind of pts/ptmx) are there without being listed.
#[test]
fn config_linux_devices_default_must_1_supplied() {
    let (rt, b) = setup("l-defdevs", &["checker"]);
    let r = check(&rt, &b, "d");
    for (name, major, minor) in
        [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]
    {
        let d = &r["devices"][name];
        assert_eq!(
            (d["type"].as_str(), d["major"].as_u64(), d["minor"].as_u64()),
            (Some("c"), Some(major), Some(minor)),
            "{name}: {d}"
        );
    }
    let ptmx = &r["devices"]["ptmx"];
    let linked = ptmx["type"] == "l" && ptmx["target"].as_str().is_some_and(|t| t.ends_with("pts/ptmx"));
    let bound = ptmx["type"] == "c" && ptmx["major"] == 5 && ptmx["minor"] == 2;
    assert!(linked || bound, "{ptmx}");
    assert!(r["devices"].get("console").is_none(), "no console without a terminal");
    clean(&rt, &b);
}

/// config-linux.devices.default.MUST.1 (/dev/console): with a terminal, the pty is
/// bind-mounted on /dev/console.
#[test]
fn config_linux_devices_default_must_1_console_with_terminal() {
    let (rt, mut b) = setup("l-console", &["sh", "-c", "stat -c '%t:%T' /dev/console $(tty); echo done"]);
    b.config["process"]["terminal"] = json!(true);
    b.write();
    let sock = b.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || receive_fd(&listener));
    rt.ok(&["create", "--bundle", b.dir.to_str().unwrap(), "--console-socket", sock.to_str().unwrap(), "t"]);
    let (master, _, _) = receiver.join().unwrap();
    rt.ok(&["start", "t"]);
    let mut out = String::new();
    let mut f = std::fs::File::from(master);
    let mut buf = [0u8; 1024];
    while !out.contains("done") {
        match std::io::Read::read(&mut f, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    let nums: Vec<&str> = out.lines().map(str::trim).filter(|l| l.contains(':')).collect();
    assert_eq!(nums.len(), 2, "{out:?}");
    assert_eq!(nums[0], nums[1], "/dev/console is not the pty: {out:?}");
    assert!(nums[0].starts_with("88:"), "{out:?}"); // 136 = 0x88: unix98 pty slaves
    rt.ok(&["delete", "--force", "t"]);
    clean(&rt, &b);
}

/// config-linux.cgroups.MUST.1: a cgroup check that fails is an error: create in a
/// cgroup that another container's processes are in.
#[test]
fn config_linux_cgroups_must_1_unfit_cgroup_is_an_error() {
    let (rt, b) = setup("l-cgbusy", &["sleep", "1000"]);
    assert!(create(&rt, &b, "one").status.success());
    let out = create(&rt, &b, "two");
    let refused = !out.status.success();
    if !refused {
        rt.ok(&["delete", "--force", "two"]);
    }
    rt.ok(&["delete", "--force", "one"]);
    clean(&rt, &b);
    assert!(refused, "create into a non-empty cgroup succeeded");
}

/// config-linux.cgroupsPath.MUST.1: an absolute cgroupsPath is relative to the cgroup
/// mount point: the process is in MOUNT/PATH of each controller.
#[test]
fn config_linux_cgroupspath_must_1_absolute_under_mountpoint() {
    let (rt, b) = setup("l-cgabs", &["sleep", "1000"]);
    assert!(create(&rt, &b, "c").status.success());
    let pid = rt.state("c")["pid"].as_i64().unwrap().to_string();
    let path = b.config["linux"]["cgroupsPath"].as_str().unwrap();
    let dirs = lindocker_testkit::cgroup_dirs(path);
    assert!(!dirs.is_empty());
    for d in &dirs {
        assert!(d.starts_with("/sys/fs/cgroup") && d.ends_with(path.trim_start_matches('/')), "{}", d.display());
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(procs.lines().any(|l| l == pid), "{}: {procs}", d.display());
    }
    rt.ok(&["delete", "--force", "c"]);
    clean(&rt, &b);
}

/// config-linux.cgroupsPath.MUST.2: the same cgroupsPath is the same place each time.
#[test]
fn config_linux_cgroupspath_must_2_consistent() {
    let (rt, b) = setup("l-cgsame", &["sh", "-c", "cat /proc/self/cgroup"]);
    let mut b = b;
    b.config["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "cgroup");
    b.write();
    let (c1, o1, e1) = rt.run_bundle(&b, "a");
    let (c2, o2, e2) = rt.run_bundle(&b, "b");
    assert_eq!((c1, c2), (0, 0), "{e1}{e2}");
    assert_eq!(o1, o2);
    assert!(o1.contains(b.config["linux"]["cgroupsPath"].as_str().unwrap()), "{o1}");
    clean(&rt, &b);
}

/// config-linux.cgroupsPath.MUST.3: a cgroupsPath the runtime considers invalid (one
/// leaving the hierarchy) is an error.
#[test]
fn config_linux_cgroupspath_must_3_invalid_is_an_error() {
    let (rt, mut b) = setup("l-cgbad", &["true"]);
    b.config["linux"]["cgroupsPath"] = json!("/../../escape");
    b.write();
    failed(&create(&rt, &b, "c"));
    clean(&rt, &b);
}

fn mknod_with(name: &str, rules: Value) -> String {
    let (rt, mut b) = setup(name, &["sh", "-c", "mknod /tmp/dev c 42 42 && echo made || echo refused"]);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set].as_array_mut().unwrap().push(json!("CAP_MKNOD"));
    }
    b.config["linux"]["resources"]["devices"].as_array_mut().unwrap().extend(rules.as_array().unwrap().iter().cloned());
    b.write();
    let (code, out, err) = rt.run_bundle(&b, "m");
    assert_eq!(code, 0, "{err}");
    clean(&rt, &b);
    out.trim().to_string()
}

/// config-linux.devices-cgroup.MUST.1: device rules apply in the listed order (the last
/// matching rule wins).
#[test]
fn config_linux_resources_devices_must_1_listed_order() {
    let allow = json!({"allow": true, "type": "c", "major": 42, "minor": 42, "access": "m"});
    let deny = json!({"allow": false, "type": "c", "major": 42, "minor": 42, "access": "m"});
    assert_eq!(mknod_with("l-devorder1", json!([deny, allow])), "made");
    assert_eq!(mknod_with("l-devorder2", json!([allow, deny])), "refused");
}

/// config-linux.unified.MUST.3: unified naming a controller not present is an error (on
/// this cgroup v1 host, no v2 controller is).
#[test]
fn config_linux_unified_must_3_missing_controller() {
    let (rt, mut b) = setup("l-unified", &["true"]);
    b.config["linux"]["resources"]["unified"] = json!({"memory.max": "100000000"});
    b.write();
    let out = create(&rt, &b, "u");
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        // cgroup v2 (the VM): present, applied.
        assert!(out.status.success(), "{}", stderr(&out));
        rt.ok(&["delete", "--force", "u"]);
    } else {
        failed(&out);
    }
    b.config["linux"]["resources"]["unified"] = json!({"nosuchcontroller.max": "1"});
    b.write();
    failed(&create(&rt, &b, "u"));
    clean(&rt, &b);
}

/// config-linux.intelRdt.MUST.2: intelRdt without a mounted resctrl is an error.
#[test]
fn config_linux_intelrdt_must_2_no_resctrl_is_an_error() {
    let mounted = std::fs::read_to_string("/proc/self/mountinfo").unwrap().contains(" resctrl ");
    let (rt, mut b) = setup("l-rdt", &["true"]);
    b.config["linux"]["intelRdt"] = json!({"closID": "lindocker-test"});
    b.write();
    let out = create(&rt, &b, "r");
    if !mounted {
        failed(&out);
    } else if out.status.success() {
        rt.ok(&["delete", "--force", "r"]);
    }
    clean(&rt, &b);
}

/// config-linux.seccomp.defaultErrnoRet.MUST.1: errnoRet with an action that has no
/// errno is an error (default action and a rule's).
#[test]
fn config_linux_seccomp_errnoret_must_1_action_without_errno() {
    let (rt, mut b) = setup("l-seccompret", &["true"]);
    b.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64"]});
    b.write();
    failed(&create(&rt, &b, "s"));
    b.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]});
    b.write();
    failed(&create(&rt, &b, "s"));
    clean(&rt, &b);
}

fn notify_profile(listener: &std::path::Path) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "listenerPath": listener,
        "listenerMetadata": "meta", "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_NOTIFY"}]})
}

/// config-linux.seccomp.listenerPath.MUST.1-3: the container process state goes over an
/// AF_UNIX stream socket, one per connection, with the descriptor as SCM_RIGHTS in the
/// first message, and the connection is closed after it.
#[test]
fn config_linux_seccomp_listenerpath_must_1_one_state_per_connection() {
    let (rt, mut b) = setup("l-notify", &["true"]);
    let sock = b.dir.join("notify.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    b.config["linux"]["seccomp"] = notify_profile(&sock);
    b.write();
    let receiver = std::thread::spawn(move || receive_fd(&listener));
    let out = create(&rt, &b, "n");
    assert!(out.status.success(), "{}", stderr(&out));
    let (fd, payload, closed) = receiver.join().unwrap();
    let state: Value = serde_json::from_slice(&payload).unwrap_or_else(|e| panic!("{e}: {payload:?}"));
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "meta");
    assert_eq!(state["state"]["id"], "n");
    assert_eq!(state["pid"], rt.state("n")["pid"]);
    assert!(state["ociVersion"].is_string());
    assert!(closed, "the connection stayed open or carried more");
    let link = std::fs::read_link(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd))).unwrap();
    assert!(link.to_string_lossy().contains("seccomp"), "{}", link.display());
    drop(fd);
    rt.ok(&["delete", "--force", "n"]);
    clean(&rt, &b);
}

/// config-linux.seccomp.listenerPath.MUST.4: a failed send (nobody listening) is an error.
#[test]
fn config_linux_seccomp_listenerpath_must_4_send_failure_is_an_error() {
    let (rt, mut b) = setup("l-notifyfail", &["true"]);
    b.config["linux"]["seccomp"] = notify_profile(&b.dir.join("nobody.sock"));
    b.write();
    failed(&create(&rt, &b, "n"));
    clean(&rt, &b);
}

/// Whether this machine's only hierarchy is cgroup v2 (the VM stage); the unified MUSTs
/// below are checked there (scripts/test-cgroup-v2.sh) and skipped on a v1 host.
fn cgroup_v2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// config-linux.unified.MUST.1: the controllers `unified` needs are enabled for the
/// container's cgroup (in its parent's subtree_control), and the value is set.
#[test]
fn config_linux_unified_must_1_controllers_enabled() {
    if !cgroup_v2() {
        eprintln!("skipped: cgroup v2 only (run in the VM stage)");
        return;
    }
    let (rt, mut b) = setup("l-unienable", &["sleep", "1000"]);
    b.config["linux"]["resources"]["unified"] = json!({"pids.max": "77"});
    b.write();
    let out = create(&rt, &b, "u");
    assert!(out.status.success(), "{}", stderr(&out));
    let path = b.config["linux"]["cgroupsPath"].as_str().unwrap().trim_start_matches('/').to_string();
    let dir = std::path::Path::new("/sys/fs/cgroup").join(&path);
    let parent = std::fs::read_to_string(dir.parent().unwrap().join("cgroup.subtree_control")).unwrap();
    assert!(parent.split_whitespace().any(|c| c == "pids"), "{parent}");
    assert_eq!(std::fs::read_to_string(dir.join("pids.max")).unwrap().trim(), "77");
    rt.ok(&["delete", "--force", "u"]);
    clean(&rt, &b);
}

/// config-linux.unified.MUST.2: a key the runtime has no field for is still written.
#[test]
fn config_linux_unified_must_2_unknown_keys_written() {
    if !cgroup_v2() {
        eprintln!("skipped: cgroup v2 only (run in the VM stage)");
        return;
    }
    let (rt, mut b) = setup("l-uniunknown", &["sleep", "1000"]);
    b.config["linux"]["resources"]["unified"] = json!({"memory.oom.group": "1", "memory.high": "300000000"});
    b.write();
    let out = create(&rt, &b, "u");
    assert!(out.status.success(), "{}", stderr(&out));
    let path = b.config["linux"]["cgroupsPath"].as_str().unwrap().trim_start_matches('/').to_string();
    let dir = std::path::Path::new("/sys/fs/cgroup").join(&path);
    assert_eq!(std::fs::read_to_string(dir.join("memory.oom.group")).unwrap().trim(), "1");
    assert_eq!(std::fs::read_to_string(dir.join("memory.high")).unwrap().trim(), "299999232");
    rt.ok(&["delete", "--force", "u"]);
    clean(&rt, &b);
}
