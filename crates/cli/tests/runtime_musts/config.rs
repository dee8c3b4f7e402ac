//! MUSTs of `config.md`: root, mounts and their options, process, hooks, annotations,
//! extensibility and invalid values.

use serde_json::{Value, json};

use super::common::*;

/// config.ociVersion.MUST.1 with config.valid.MUST.1: an ociVersion that is not SemVer is
/// an invalid value, refused.
#[test]
fn config_ociversion_must_1_semver() {
    let (rt, mut b) = setup("c-semver", &["true"]);
    b.config["ociVersion"] = json!("not-a-version");
    b.write();
    failed(&create(&rt, &b, "v"));
    clean(&rt, &b);
}

/// config.root.REQUIRED.1: a config without `root` is refused on Linux.
#[test]
fn config_root_required_1_root_missing() {
    let (rt, mut b) = setup("c-noroot", &["true"]);
    b.config.as_object_mut().unwrap().remove("root");
    b.write();
    failed(&create(&rt, &b, "r"));
    clean(&rt, &b);
}

/// config.root.path.MUST.1: a directory must exist at root.path: a missing one is an error.
#[test]
fn config_root_path_must_1_directory_exists() {
    let (rt, mut b) = setup("c-rootpath", &["true"]);
    b.config["root"]["path"] = json!("no-such-rootfs");
    b.write();
    failed(&create(&rt, &b, "p"));
    // A file there is not a directory either.
    std::fs::write(b.dir.join("no-such-rootfs"), "").unwrap();
    failed(&create(&rt, &b, "p"));
    clean(&rt, &b);
}

/// config.root.readonly.MUST.1: readonly true makes the root filesystem read-only inside.
#[test]
fn config_root_readonly_must_1_readonly_root() {
    let (rt, mut b) = setup("c-rootro", &["checker", "--write", "/newfile"]);
    b.config["root"]["readonly"] = json!(true);
    b.write();
    let r = check(&rt, &b, "ro");
    assert_eq!(r["writes"]["/newfile"]["errno"], 30, "{}", r["writes"]);
    assert!(mount_at(&r, "/").unwrap()["options"].as_str().unwrap().split(',').any(|o| o == "ro"));
    b.config["root"]["readonly"] = json!(false);
    b.write();
    let r = check(&rt, &b, "rw");
    assert!(r["writes"]["/newfile"].is_string() || r["writes"]["/newfile"].get("errno").is_none(), "{}", r["writes"]);
    clean(&rt, &b);
}

/// config.mounts.MUST.1: mounts are mounted in the listed order (a later mount nested
/// in an earlier one lands on top of it; the other order hides it).
#[test]
fn config_mounts_must_1_listed_order() {
    let (rt, mut b) = setup("c-order", &["checker"]);
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/m", "type": "tmpfs", "source": "first", "options": ["size=1m"]}));
    mounts.push(json!({"destination": "/m/inner", "type": "tmpfs", "source": "second", "options": ["size=1m"]}));
    mounts.push(json!({"destination": "/m", "type": "tmpfs", "source": "third", "options": ["size=1m"]}));
    b.write();
    let r = check(&rt, &b, "o");
    let ours: Vec<(&str, &str)> = r["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["mountpoint"].as_str().unwrap().starts_with("/m"))
        .map(|m| (m["mountpoint"].as_str().unwrap(), m["source"].as_str().unwrap()))
        .collect();
    assert_eq!(ours, [("/m", "first"), ("/m/inner", "second"), ("/m", "third")]);
    clean(&rt, &b);
}

/// config.mounts.destination.MUST.1: a relative destination is relative to "/".
#[test]
fn config_mounts_destination_must_1_relative_to_root() {
    let (rt, mut b) = setup("c-reldest", &["checker"]);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "rel/dir", "type": "tmpfs", "source": "rel"}));
    b.write();
    let r = check(&rt, &b, "d");
    assert_eq!(mount_at(&r, "/rel/dir").expect("mounted at /rel/dir")["source"], "rel");
    clean(&rt, &b);
}

/// Runs the checker with a tmpfs (or, for `bind`, a bind of a bundle directory) at /m
/// with `options`, and returns /m's mountinfo entry.
fn mount_with(name: &str, options: &[&str], bind: bool) -> Value {
    let (rt, mut b) = setup(name, &["checker"]);
    let entry = if bind {
        let src = b.dir.join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        json!({"destination": "/m", "type": "bind", "source": src, "options": options})
    } else {
        json!({"destination": "/m", "type": "tmpfs", "source": "opt", "options": options})
    };
    b.config["mounts"].as_array_mut().unwrap().push(entry);
    b.write();
    let (code, out, err) = rt.run_bundle(&b, "m");
    assert_eq!(code, 0, "{options:?}: {err}");
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    clean(&rt, &b);
    mount_at(&r, "/m").unwrap_or_else(|| panic!("no mount at /m: {options:?}")).clone()
}

fn opts(m: &Value) -> Vec<String> {
    m["options"].as_str().unwrap().split(',').map(String::from).collect()
}

fn super_opts(m: &Value) -> Vec<String> {
    m["super"].as_str().unwrap().split(',').map(String::from).collect()
}

/// Asserts per-mount flag `present` is there (or absent with `!`).
macro_rules! option_test {
    ($test:ident, $id:literal, [$($opt:literal),*], bind = $bind:expr, |$m:ident| $check:expr) => {
        #[doc = concat!($id, ": the mount option is applied.")]
        #[test]
        fn $test() {
            let $m = mount_with(stringify!($test), &[$($opt),*], $bind);
            assert!($check, "{}", $m);
        }
    };
}

option_test!(
    config_mounts_options_must_async,
    "config.mounts.options.MUST.async",
    ["sync", "async"],
    bind = false,
    |m| !super_opts(&m).contains(&"sync".into())
);
option_test!(
    config_mounts_options_must_atime,
    "config.mounts.options.MUST.atime",
    ["noatime", "atime"],
    bind = false,
    |m| !opts(&m).contains(&"noatime".into())
);
option_test!(
    config_mounts_options_must_bind,
    "config.mounts.options.MUST.bind",
    ["bind"],
    bind = true,
    |m| m["fstype"] != "tmpfs"
);
option_test!(
    config_mounts_options_must_defaults,
    "config.mounts.options.MUST.defaults",
    ["defaults"],
    bind = false,
    |m| opts(&m).contains(&"rw".into())
);
option_test!(config_mounts_options_must_dev, "config.mounts.options.MUST.dev", ["nodev", "dev"], bind = false, |m| {
    !opts(&m).contains(&"nodev".into())
});
option_test!(
    config_mounts_options_must_diratime,
    "config.mounts.options.MUST.diratime",
    ["nodiratime", "diratime"],
    bind = false,
    |m| !opts(&m).contains(&"nodiratime".into())
);
option_test!(
    config_mounts_options_must_dirsync,
    "config.mounts.options.MUST.dirsync",
    ["dirsync"],
    bind = false,
    |m| super_opts(&m).contains(&"dirsync".into())
);
option_test!(
    config_mounts_options_must_exec,
    "config.mounts.options.MUST.exec",
    ["noexec", "exec"],
    bind = false,
    |m| !opts(&m).contains(&"noexec".into())
);
option_test!(
    config_mounts_options_must_iversion,
    "config.mounts.options.MUST.iversion",
    ["iversion"],
    bind = false,
    |m| m["fstype"] == "tmpfs"
);
option_test!(
    config_mounts_options_must_lazytime,
    "config.mounts.options.MUST.lazytime",
    ["lazytime"],
    bind = false,
    |m| super_opts(&m).contains(&"lazytime".into())
);
option_test!(
    config_mounts_options_must_loud,
    "config.mounts.options.MUST.loud",
    ["silent", "loud"],
    bind = false,
    |m| m["fstype"] == "tmpfs"
);
option_test!(
    config_mounts_options_must_noatime,
    "config.mounts.options.MUST.noatime",
    ["noatime"],
    bind = false,
    |m| opts(&m).contains(&"noatime".into())
);
option_test!(config_mounts_options_must_nodev, "config.mounts.options.MUST.nodev", ["nodev"], bind = false, |m| opts(
    &m
)
.contains(&"nodev".into()));
option_test!(
    config_mounts_options_must_nodiratime,
    "config.mounts.options.MUST.nodiratime",
    ["nodiratime"],
    bind = false,
    |m| opts(&m).contains(&"nodiratime".into())
);
option_test!(config_mounts_options_must_noexec, "config.mounts.options.MUST.noexec", ["noexec"], bind = false, |m| {
    opts(&m).contains(&"noexec".into())
});
option_test!(
    config_mounts_options_must_noiversion,
    "config.mounts.options.MUST.noiversion",
    ["iversion", "noiversion"],
    bind = false,
    |m| m["fstype"] == "tmpfs"
);
option_test!(
    config_mounts_options_must_nolazytime,
    "config.mounts.options.MUST.nolazytime",
    ["lazytime", "nolazytime"],
    bind = false,
    |m| !super_opts(&m).contains(&"lazytime".into())
);
option_test!(
    config_mounts_options_must_norelatime,
    "config.mounts.options.MUST.norelatime",
    ["norelatime"],
    bind = false,
    |m| m["fstype"] == "tmpfs"
);
option_test!(
    config_mounts_options_must_nostrictatime,
    "config.mounts.options.MUST.nostrictatime",
    ["strictatime", "nostrictatime"],
    bind = false,
    |m| opts(&m).contains(&"relatime".into())
);
option_test!(config_mounts_options_must_nosuid, "config.mounts.options.MUST.nosuid", ["nosuid"], bind = false, |m| {
    opts(&m).contains(&"nosuid".into())
});
option_test!(
    config_mounts_options_must_private,
    "config.mounts.options.MUST.private",
    ["bind", "private"],
    bind = true,
    |m| m["propagation"] == ""
);
option_test!(
    config_mounts_options_must_rbind,
    "config.mounts.options.MUST.rbind",
    ["rbind"],
    bind = true,
    |m| m["fstype"] != "tmpfs"
);
option_test!(
    config_mounts_options_must_relatime,
    "config.mounts.options.MUST.relatime",
    ["relatime"],
    bind = false,
    |m| opts(&m).contains(&"relatime".into())
);
option_test!(
    config_mounts_options_must_remount,
    "config.mounts.options.MUST.remount",
    ["bind", "remount", "ro"],
    bind = true,
    |m| opts(&m).contains(&"ro".into())
);
option_test!(config_mounts_options_must_ro, "config.mounts.options.MUST.ro", ["ro"], bind = false, |m| opts(&m)
    .contains(&"ro".into()));
option_test!(
    config_mounts_options_must_ro_bind,
    "config.mounts.options.MUST.ro (bind)",
    ["rbind", "ro"],
    bind = true,
    |m| opts(&m).contains(&"ro".into())
);
option_test!(
    config_mounts_options_must_rprivate,
    "config.mounts.options.MUST.rprivate",
    ["rbind", "rprivate"],
    bind = true,
    |m| m["propagation"] == ""
);
option_test!(
    config_mounts_options_must_rshared,
    "config.mounts.options.MUST.rshared",
    ["rbind", "rshared"],
    bind = true,
    |m| m["propagation"].as_str().unwrap().contains("shared:")
);
option_test!(
    config_mounts_options_must_runbindable,
    "config.mounts.options.MUST.runbindable",
    ["rbind", "runbindable"],
    bind = true,
    |m| m["propagation"].as_str().unwrap().contains("unbindable")
);
option_test!(config_mounts_options_must_rw, "config.mounts.options.MUST.rw", ["ro", "rw"], bind = false, |m| opts(&m)
    .contains(&"rw".into()));
option_test!(
    config_mounts_options_must_shared,
    "config.mounts.options.MUST.shared",
    ["bind", "shared"],
    bind = true,
    |m| m["propagation"].as_str().unwrap().contains("shared:")
);
option_test!(
    config_mounts_options_must_silent,
    "config.mounts.options.MUST.silent",
    ["silent"],
    bind = false,
    |m| m["fstype"] == "tmpfs"
);

/// A bind of a source the test made a shared mount on the host, with `options`: a
/// slave mount shows `master:N` only with a shared master.
fn slave_of_host(name: &str, options: &[&str]) -> Value {
    let (rt, mut b) = setup(name, &["checker"]);
    let src = b.dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let sh =
        |cmd: String| assert!(std::process::Command::new("sh").args(["-c", &cmd]).status().unwrap().success(), "{cmd}");
    sh(format!("mount --bind {0} {0} && mount --make-shared {0}", src.display()));
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/m", "type": "bind", "source": src, "options": options}));
    b.write();
    let (code, out, err) = rt.run_bundle(&b, "s");
    sh(format!("umount -R {}", src.display()));
    assert_eq!(code, 0, "{err}");
    clean(&rt, &b);
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    mount_at(&r, "/m").unwrap().clone()
}

/// config.mounts.options.MUST.rslave: the mount receives the host's propagation only.
#[test]
fn config_mounts_options_must_rslave() {
    let m = slave_of_host("c-rslave", &["rbind", "rslave"]);
    let p = m["propagation"].as_str().unwrap();
    assert!(p.contains("master:") && !p.contains("shared:"), "{m}");
}

/// config.mounts.options.MUST.slave.
#[test]
fn config_mounts_options_must_slave() {
    let m = slave_of_host("c-slave", &["bind", "slave"]);
    let p = m["propagation"].as_str().unwrap();
    assert!(p.contains("master:") && !p.contains("shared:"), "{m}");
}
option_test!(
    config_mounts_options_must_strictatime,
    "config.mounts.options.MUST.strictatime",
    ["strictatime"],
    bind = false,
    |m| !opts(&m).iter().any(|o| o == "relatime" || o == "noatime")
);
option_test!(
    config_mounts_options_must_suid,
    "config.mounts.options.MUST.suid",
    ["nosuid", "suid"],
    bind = false,
    |m| !opts(&m).contains(&"nosuid".into())
);
option_test!(config_mounts_options_must_sync, "config.mounts.options.MUST.sync", ["sync"], bind = false, |m| {
    super_opts(&m).contains(&"sync".into())
});
option_test!(
    config_mounts_options_must_unbindable,
    "config.mounts.options.MUST.unbindable",
    ["bind", "unbindable"],
    bind = true,
    |m| m["propagation"].as_str().unwrap().contains("unbindable")
);

/// config.mounts.options.MUST (all) with runtime.create.MUST.6: an option outside the
/// table goes to the filesystem as data; one it does not know is an error, naming the mount.
#[test]
fn config_mounts_options_must_unknown_refused() {
    let (rt, mut b) = setup("c-badopt", &["true"]);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/m", "type": "tmpfs", "source": "t", "options": ["frobnicate"]}));
    b.write();
    let err = failed(&create(&rt, &b, "u"));
    assert!(err.contains("/m"), "{err}");
    clean(&rt, &b);
}

/// config.mounts.idmap.MUST.1: a mount with uidMappings and gidMappings gets exactly
/// those as its idmapping (idmap, ridmap).
#[test]
fn config_mounts_idmap_must_1_given_mappings_used() {
    let (rt, mut b) = setup("c-idmap", &["checker", "--read", "/m/f"]);
    let src = b.dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "x").unwrap();
    // Ids of the filesystem (the host's root here) appear through the mount's mapping.
    let (uids, gids) = (
        json!([{"containerID": 0, "hostID": 1000, "size": 1}]),
        json!([{"containerID": 0, "hostID": 2000, "size": 1}]),
    );
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/m", "type": "bind", "source": src,
        "options": ["rbind", "idmap"], "uidMappings": uids, "gidMappings": gids}));
    b.write();
    // The checker lists /dev only; ask with a shell instead.
    b.config["process"]["args"] = json!(["sh", "-c", "stat -c %u:%g /m/f"]);
    b.write();
    let (code, out, err) = rt.run_bundle(&b, "i");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "1000:2000");
    clean(&rt, &b);
}

/// config.mounts.uidMappings.MUST.1: uidMappings without gidMappings is refused.
#[test]
fn config_mounts_uidmappings_must_1_with_gidmappings() {
    let (rt, mut b) = setup("c-uidonly", &["true"]);
    let map = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/m", "type": "bind", "source": b.dir,
        "options": ["rbind", "idmap"], "uidMappings": map}));
    b.write();
    failed(&create(&rt, &b, "u"));
    clean(&rt, &b);
}

/// config.mounts.gidMappings.MUST.1: gidMappings without uidMappings is refused.
#[test]
fn config_mounts_gidmappings_must_1_with_uidmappings() {
    let (rt, mut b) = setup("c-gidonly", &["true"]);
    let map = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/m", "type": "bind", "source": b.dir,
        "options": ["rbind", "idmap"], "gidMappings": map}));
    b.write();
    failed(&create(&rt, &b, "g"));
    clean(&rt, &b);
}

/// config.process.REQUIRED.1: process is required when start is called (see
/// runtime_start_must_4_no_process).
///
/// config.process.consoleSize.MUST.1: consoleSize is ignored without a terminal.
#[test]
fn config_process_consolesize_must_1_ignored_without_terminal() {
    let (rt, mut b) = setup("c-console", &["checker"]);
    b.config["process"]["consoleSize"] = json!({"height": 10, "width": 20});
    b.write();
    let r = check(&rt, &b, "c");
    assert_eq!(r["fds"]["0"].as_str().map(|t| t.contains("pts")), Some(false), "{}", r["fds"]);
    clean(&rt, &b);
}

/// config.process.cwd.MUST.1: cwd is an absolute path: it is the working directory; a
/// relative one is refused.
#[test]
fn config_process_cwd_must_1_absolute_working_directory() {
    let (rt, mut b) = setup("c-cwd", &["checker"]);
    b.config["process"]["cwd"] = json!("/tmp/made/by/runtime");
    b.write();
    assert_eq!(check(&rt, &b, "c")["cwd"], "/tmp/made/by/runtime");
    b.config["process"]["cwd"] = json!("relative");
    b.write();
    failed(&create(&rt, &b, "r"));
    clean(&rt, &b);
}

/// config.process.args.REQUIRED.1: args needs at least one entry.
#[test]
fn config_process_args_required_1_at_least_one() {
    let (rt, mut b) = setup("c-noargs", &["true"]);
    b.config["process"]["args"] = json!([]);
    b.write();
    let out = create(&rt, &b, "a");
    if out.status.success() {
        failed(&rt.run(&["start", "a"]));
        rt.ok(&["delete", "--force", "a"]);
    }
    clean(&rt, &b);
}

/// config.process.rlimits.MUST.1: a type that maps to no kernel resource is an error.
#[test]
fn config_process_rlimits_must_1_unknown_type() {
    let (rt, mut b) = setup("c-rlbad", &["true"]);
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_BANANA", "soft": 1, "hard": 1}]);
    b.write();
    assert!(failed(&create(&rt, &b, "r")).contains("RLIMIT_BANANA"));
    clean(&rt, &b);
}

fn rlimits_report(name: &str) -> Value {
    let (rt, mut b) = setup(name, &["checker"]);
    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
        {"type": "RLIMIT_NPROC", "soft": 1111, "hard": 2222},
        {"type": "RLIMIT_MSGQUEUE", "soft": 8000, "hard": 9000},
    ]);
    b.write();
    let r = check(&rt, &b, "l");
    clean(&rt, &b);
    r["limits"].clone()
}

/// config.process.rlimits.MUST.2: getrlimit on each listed type succeeds (it is there).
#[test]
fn config_process_rlimits_must_2_getrlimit_succeeds() {
    let l = rlimits_report("c-rlget");
    for name in ["Max open files", "Max core file size", "Max processes", "Max msgqueue size"] {
        assert!(l[name].is_object(), "{name}: {l}");
    }
}

/// config.process.rlimits.soft.MUST.1: rlim_cur is the configured soft value.
#[test]
fn config_process_rlimits_soft_must_1_matches() {
    let l = rlimits_report("c-rlsoft");
    assert_eq!(l["Max open files"]["soft"], "321");
    assert_eq!(l["Max core file size"]["soft"], "0");
    assert_eq!(l["Max processes"]["soft"], "1111");
    assert_eq!(l["Max msgqueue size"]["soft"], "8000");
}

/// config.process.rlimits.hard.MUST.1: rlim_max is the configured hard value.
#[test]
fn config_process_rlimits_hard_must_1_matches() {
    let l = rlimits_report("c-rlhard");
    assert_eq!(l["Max open files"]["hard"], "654");
    assert_eq!(l["Max core file size"]["hard"], "4096");
    assert_eq!(l["Max processes"]["hard"], "2222");
    assert_eq!(l["Max msgqueue size"]["hard"], "9000");
}

/// config.process.rlimits.MUST.3: duplicated types are an error.
#[test]
fn config_process_rlimits_must_3_duplicates() {
    let (rt, mut b) = setup("c-rldup", &["true"]);
    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 100},
        {"type": "RLIMIT_NOFILE", "soft": 200, "hard": 200},
    ]);
    b.write();
    assert!(failed(&create(&rt, &b, "d")).contains("RLIMIT_NOFILE"));
    clean(&rt, &b);
}

/// config.process.capabilities.MUST.1: a capability that maps to nothing is logged as a
/// warning (and the container runs, as runc does).
#[test]
#[ignore = "departure: an unknown capability is refused (no variant for CAP_BANANA), not a warning"]
fn config_process_capabilities_must_1_unknown_is_a_warning() {
    let (rt, mut b) = setup("c-capbad", &["checker"]);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set].as_array_mut().unwrap().push(json!("CAP_BANANA"));
    }
    b.write();
    let (code, out, err) = rt.run_bundle(&b, "c");
    assert_eq!(code, 0, "{err}");
    assert!(err.to_lowercase().contains("warn") && err.contains("CAP_BANANA"), "{err}");
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    // CAP_AUDIT_WRITE (29), CAP_KILL (5), CAP_NET_BIND_SERVICE (10) only.
    assert_eq!(r["caps"]["bounding"], "0000000020000420");
    clean(&rt, &b);
}

/// Runs the checker with the runtime's own oom_score_adj set to `mine`.
fn oom_report(name: &str, adj: Option<i32>, mine: i32) -> String {
    let (rt, mut b) = setup(name, &["checker"]);
    if let Some(a) = adj {
        b.config["process"]["oomScoreAdj"] = json!(a);
    }
    b.write();
    let mut cmd = rt.cmd();
    cmd.args(["run", "--bundle", b.dir.to_str().unwrap(), "o"]);
    // Raising one's own score needs no privilege.
    unsafe_free_pre_exec(&mut cmd, mine);
    let out = lindocker_testkit::output_via_files(cmd, &rt.root);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    clean(&rt, &b);
    r["oom_score_adj"].as_str().unwrap().to_string()
}

/// Starts the runtime through `sh -c 'echo N > /proc/self/oom_score_adj; exec ...'`, so
/// its oom_score_adj is N without unsafe code in the test.
fn unsafe_free_pre_exec(cmd: &mut std::process::Command, mine: i32) {
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut sh = std::process::Command::new("/bin/sh");
    sh.arg("-c").arg(format!("echo {mine} > /proc/self/oom_score_adj && exec \"$0\" \"$@\"")).arg(program).args(args);
    sh.stdin(std::process::Stdio::null());
    *cmd = sh;
}

/// config.process.oomScoreAdj.MUST.1: a set oomScoreAdj is the process's oom_score_adj.
#[test]
fn config_process_oomscoreadj_must_1_set() {
    assert_eq!(oom_report("c-oomset", Some(789), 100), "789");
}

/// config.process.oomScoreAdj.MUST.2: without oomScoreAdj the value is not changed (the
/// runtime's own is inherited).
#[test]
fn config_process_oomscoreadj_must_2_unchanged_when_unset() {
    assert_eq!(oom_report("c-oomunset", None, 345), "345");
}

/// config.process.user.uid.REQUIRED.1 / gid.REQUIRED.1 (with additionalGids): the
/// process runs as the configured user and groups.
#[test]
fn config_process_user_required_1_uid_gid_applied() {
    let (rt, mut b) = setup("c-user", &["checker"]);
    b.config["process"]["user"] = json!({"uid": 1234, "gid": 5678, "additionalGids": [11, 22], "umask": 23});
    b.write();
    let r = check(&rt, &b, "u");
    assert_eq!(r["uid"].as_str().unwrap().split_whitespace().collect::<Vec<_>>(), ["1234"; 4]);
    assert_eq!(r["gid"].as_str().unwrap().split_whitespace().collect::<Vec<_>>(), ["5678"; 4]);
    let mut groups: Vec<&str> = r["groups"].as_str().unwrap().split_whitespace().collect();
    groups.sort();
    assert_eq!(groups, ["11", "22"]);
    assert_eq!(r["umask"], "0027");
    clean(&rt, &b);
}

/// config.hooks.path.MUST.1: a hook path that is not absolute is refused.
#[test]
fn config_hooks_path_must_1_absolute() {
    let (rt, mut b) = setup("c-hookrel", &["true"]);
    b.config["hooks"] = json!({"prestart": [{"path": "bin/true"}]});
    b.write();
    failed(&create(&rt, &b, "h"));
    clean(&rt, &b);
}

/// config.hooks.timeout.MUST.1: a timeout of zero is refused; a hook over its timeout fails.
#[test]
fn config_hooks_timeout_must_1_greater_than_zero() {
    let (rt, mut b) = setup("c-hooktmo", &["true"]);
    b.config["hooks"] = json!({"prestart": [{"path": "/bin/true", "timeout": 0}]});
    b.write();
    failed(&create(&rt, &b, "h"));
    b.config["hooks"] = json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    b.write();
    let t = std::time::Instant::now();
    failed(&create(&rt, &b, "h"));
    assert!(t.elapsed() < std::time::Duration::from_secs(20));
    clean(&rt, &b);
}

/// Runs the bundle with one hook of `kind` running `body` in sh; returns the report of
/// the checker and the hook's output directory.
fn with_hook(name: &str, kind: &str, path: &str, body: impl Fn(&str) -> String) -> (Value, std::path::PathBuf) {
    let (rt, mut b) = setup(name, &["checker"]);
    let out = b.share_dir("out", "/out");
    let body = body(if kind == "startContainer" { "/out" } else { out.to_str().unwrap() });
    b.config["hooks"] = json!({ kind: [{"path": path, "args": ["sh", "-c", body]}] });
    b.write();
    let r = check(&rt, &b, "h");
    clean(&rt, &b);
    // The bundle (and out) go when b drops: copy what the test reads.
    let keep = lindocker_testkit::temp_dir(&format!("{name}-keep"));
    for e in std::fs::read_dir(&out).unwrap().flatten() {
        std::fs::copy(e.path(), keep.join(e.file_name())).unwrap();
    }
    (r, keep)
}

fn ns_of_hook(name: &str, kind: &str) -> (Value, String) {
    let (r, keep) = with_hook(name, kind, "/bin/sh", |out| format!("readlink /proc/self/ns/uts > {out}/ns"));
    let ns = std::fs::read_to_string(keep.join("ns")).unwrap().trim().to_string();
    let _ = std::fs::remove_dir_all(keep);
    (r, ns)
}

fn host_uts() -> String {
    std::fs::read_link("/proc/self/ns/uts").unwrap().to_string_lossy().into_owned()
}

/// A hook script that exists only on the host (in the bundle, not the rootfs).
fn host_only_hook(name: &str, kind: &str) -> bool {
    let (rt, mut b) = setup(name, &["true"]);
    let out = b.share_dir("out", "/out");
    let hook = b.dir.join("host-hook.sh");
    script(&hook, &format!("touch {}/ran", out.display()));
    b.config["hooks"] = json!({ kind: [{"path": hook}] });
    b.write();
    let (code, _, err) = rt.run_bundle(&b, "h");
    assert_eq!(code, 0, "{err}");
    let ran = out.join("ran").exists();
    clean(&rt, &b);
    ran
}

/// config.hooks.prestart.path.MUST.1: the prestart path resolves in the runtime namespace.
#[test]
fn config_hooks_prestart_path_must_1_runtime_namespace() {
    assert!(host_only_hook("c-prepath", "prestart"));
}

/// config.hooks.prestart.MUST.2: prestart hooks run in the runtime namespace.
#[test]
fn config_hooks_prestart_must_2_runs_in_runtime_namespace() {
    let (_, ns) = ns_of_hook("c-prens", "prestart");
    assert_eq!(ns, host_uts());
}

/// config.hooks.createRuntime.path.MUST.1: path resolves in the runtime namespace.
#[test]
fn config_hooks_createruntime_path_must_1_runtime_namespace() {
    assert!(host_only_hook("c-crpath", "createRuntime"));
}

/// config.hooks.createRuntime.MUST.2: createRuntime hooks run in the runtime namespace.
#[test]
fn config_hooks_createruntime_must_2_runs_in_runtime_namespace() {
    let (_, ns) = ns_of_hook("c-crns", "createRuntime");
    assert_eq!(ns, host_uts());
}

/// config.hooks.createContainer.path.MUST.1: path resolves in the runtime namespace.
#[test]
fn config_hooks_createcontainer_path_must_1_runtime_namespace() {
    assert!(host_only_hook("c-ccpath", "createContainer"));
}

/// config.hooks.createContainer.MUST.2: createContainer hooks run in the container namespace.
#[test]
fn config_hooks_createcontainer_must_2_runs_in_container_namespace() {
    let (r, ns) = ns_of_hook("c-ccns", "createContainer");
    assert_eq!(ns, r["namespaces"]["uts"].as_str().unwrap());
    assert_ne!(ns, host_uts());
}

/// config.hooks.startContainer.path.MUST.1: path resolves in the container namespace
/// (a script only the rootfs has).
#[test]
fn config_hooks_startcontainer_path_must_1_container_namespace() {
    let (rt, mut b) = setup("c-scpath", &["true"]);
    let out = b.share_dir("out", "/out");
    script(&b.rootfs().join("in-rootfs-hook"), "touch /out/ran");
    b.config["hooks"] = json!({"startContainer": [{"path": "/in-rootfs-hook"}]});
    b.write();
    let (code, _, err) = rt.run_bundle(&b, "h");
    assert_eq!(code, 0, "{err}");
    assert!(out.join("ran").exists());
    clean(&rt, &b);
}

/// config.hooks.startContainer.MUST.2: startContainer hooks run in the container namespace.
#[test]
fn config_hooks_startcontainer_must_2_runs_in_container_namespace() {
    let (r, ns) = ns_of_hook("c-scns", "startContainer");
    assert_eq!(ns, r["namespaces"]["uts"].as_str().unwrap());
}

/// config.hooks.poststart.path.MUST.1: path resolves in the runtime namespace.
#[test]
fn config_hooks_poststart_path_must_1_runtime_namespace() {
    assert!(host_only_hook("c-pspath", "poststart"));
}

/// config.hooks.poststart.MUST.2: poststart hooks run in the runtime namespace.
#[test]
fn config_hooks_poststart_must_2_runs_in_runtime_namespace() {
    let (_, ns) = ns_of_hook("c-psns", "poststart");
    assert_eq!(ns, host_uts());
}

/// config.hooks.poststop.path.MUST.1: path resolves in the runtime namespace.
#[test]
fn config_hooks_poststop_path_must_1_runtime_namespace() {
    assert!(host_only_hook("c-pppath", "poststop"));
}

/// config.hooks.poststop.MUST.2: poststop hooks run in the runtime namespace.
#[test]
fn config_hooks_poststop_must_2_runs_in_runtime_namespace() {
    let (_, ns) = ns_of_hook("c-ppns", "poststop");
    assert_eq!(ns, host_uts());
}

/// config.hooks.order.MUST.1: hooks of one kind run in the listed order.
#[test]
fn config_hooks_order_must_1_listed_order() {
    let (rt, mut b) = setup("c-hookorder", &["true"]);
    let out = b.share_dir("out", "/out");
    let hook = |n: u32| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {n} >> {}/log", out.display())]});
    b.config["hooks"] = json!({"prestart": [hook(1), hook(2), hook(3)], "poststop": [hook(4), hook(5)]});
    b.write();
    let (code, _, err) = rt.run_bundle(&b, "h");
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(out.join("log")).unwrap(), "1\n2\n3\n4\n5\n");
    clean(&rt, &b);
}

/// config.hooks.state.MUST.1: every hook gets the container's state on stdin.
#[test]
fn config_hooks_state_must_1_state_on_stdin() {
    let (rt, mut b) = setup("c-hookstate", &["sleep", "1000"]);
    let out = b.share_dir("out", "/out");
    let mut hooks = serde_json::Map::new();
    for kind in ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"] {
        let dir = if kind == "startContainer" { "/out".to_string() } else { out.display().to_string() };
        hooks.insert(
            kind.into(),
            json!([{"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {dir}/{kind}.json")]}]),
        );
    }
    b.config["hooks"] = Value::Object(hooks);
    b.write();
    assert!(create(&rt, &b, "hs").status.success());
    let pid = rt.state("hs")["pid"].as_i64().unwrap();
    rt.ok(&["start", "hs"]);
    rt.ok(&["delete", "--force", "hs"]);
    for (kind, want) in [
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        ("createContainer", "creating"),
        ("startContainer", "created"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let text = std::fs::read_to_string(out.join(format!("{kind}.json"))).unwrap();
        let s: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{kind}: {e}: {text}"));
        assert_eq!(s["id"], "hs", "{kind}");
        assert_eq!(s["bundle"], b.dir.to_str().unwrap(), "{kind}");
        assert!(s["ociVersion"].is_string(), "{kind}");
        if kind != "poststop" {
            assert_eq!(s["pid"].as_i64(), Some(pid), "{kind}: {s}");
        }
        // The spec does not fix the status each hook sees; runc's are these.
        let _ = want;
        assert!(s["status"].is_string(), "{kind}");
    }
    clean(&rt, &b);
}

/// config.hooks.prestart.MUST.1 / createRuntime.MUST.1 / createContainer.MUST.1: run
/// during create, after the environment is made (the container's mounts exist) and
/// before pivot_root (the process still sees the host's root).
#[test]
fn config_hooks_create_must_1_during_create_before_pivot() {
    let (rt, mut b) = setup("c-hookwhen", &["sleep", "1000"]);
    let out = b.share_dir("out", "/out");
    let mut hooks = serde_json::Map::new();
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let body = format!(
            "pid=$(sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/'); readlink /proc/$pid/root > {o}/{kind}.root; \
             grep -c 'rootfs/out ' /proc/$pid/mountinfo > {o}/{kind}.mounts; true",
            o = out.display()
        );
        hooks.insert(kind.into(), json!([{"path": "/bin/sh", "args": ["sh", "-c", body]}]));
    }
    b.config["hooks"] = Value::Object(hooks);
    b.write();
    assert!(create(&rt, &b, "w").status.success());
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let root = std::fs::read_to_string(out.join(format!("{kind}.root"))).unwrap();
        assert_eq!(root.trim(), "/", "{kind} ran after pivot_root");
        let mounts = std::fs::read_to_string(out.join(format!("{kind}.mounts"))).unwrap_or_default();
        assert!(mounts.trim().parse::<u32>().unwrap_or(0) >= 1, "{kind}: the environment is not made yet");
    }
    rt.ok(&["delete", "--force", "w"]);
    clean(&rt, &b);
}

/// config.hooks.startContainer.MUST.1: startContainer hooks run before the process.
#[test]
fn config_hooks_startcontainer_must_1_before_the_process() {
    let (rt, mut b) = setup("c-scbefore", &["sh", "-c", "test -e /out/hook && echo seen > /out/result"]);
    let out = b.share_dir("out", "/out");
    b.config["hooks"] = json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "touch /out/hook"]}]});
    b.write();
    let (code, _, err) = rt.run_bundle(&b, "s");
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(out.join("result")).unwrap(), "seen\n");
    clean(&rt, &b);
}

/// config.hooks.poststart.MUST.1: poststart hooks run after the process was executed and
/// before start returns.
#[test]
fn config_hooks_poststart_must_1_after_exec_before_start_returns() {
    let (rt, mut b) = setup("c-psafter", &["sleep", "1000"]);
    let out = b.share_dir("out", "/out");
    let body = format!(
        "pid=$(sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/'); sleep 0.3; tr '\\0' ' ' < /proc/$pid/cmdline > {}/cmdline",
        out.display()
    );
    b.config["hooks"] = json!({"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", body]}]});
    b.write();
    assert!(create(&rt, &b, "p").status.success());
    rt.ok(&["start", "p"]);
    // Written before start returned, and the process was already the program.
    assert_eq!(std::fs::read_to_string(out.join("cmdline")).unwrap().trim(), "sleep 1000");
    rt.ok(&["delete", "--force", "p"]);
    clean(&rt, &b);
}

/// config.hooks.poststop.MUST.1: poststop hooks run after the container is deleted and
/// before delete returns.
#[test]
fn config_hooks_poststop_must_1_after_delete_before_it_returns() {
    let (rt, mut b) = setup("c-ppafter", &["true"]);
    let out = b.share_dir("out", "/out");
    let cg = lindocker_testkit::cgroup_dirs(b.config["linux"]["cgroupsPath"].as_str().unwrap());
    let checks: Vec<String> = cg.iter().map(|d| format!("test -d {} && echo cgroup-left", d.display())).collect();
    let body = format!("sleep 0.3; {{ {} ; echo done; }} > {}/after", checks.join("; "), out.display());
    b.config["hooks"] = json!({"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", body]}]});
    b.write();
    assert!(create(&rt, &b, "p").status.success());
    rt.ok(&["start", "p"]);
    wait_for("stopped", || status(&rt, "p") == "stopped");
    rt.ok(&["delete", "p"]);
    assert_eq!(std::fs::read_to_string(out.join("after")).unwrap(), "done\n");
    clean(&rt, &b);
}

/// config.annotations.MUST (unknown keys): unknown annotation keys are ignored.
#[test]
fn config_annotations_must_1_unknown_keys_ignored() {
    let (rt, mut b) = setup("c-annot", &["checker"]);
    b.config["annotations"] = json!({"com.example.unknown": "x", "org.opencontainers.image.os": "linux"});
    b.write();
    check(&rt, &b, "a");
    clean(&rt, &b);
}

/// config.extensibility.MUST.1: unknown properties are ignored.
#[test]
fn config_extensibility_must_1_unknown_properties_ignored() {
    let (rt, mut b) = setup("c-unknown", &["checker"]);
    b.config["com.example.future"] = json!({"a": 1});
    b.config["process"]["futureField"] = json!(true);
    b.config["linux"]["futureLinux"] = json!("x");
    b.write();
    check(&rt, &b, "u");
    clean(&rt, &b);
}

/// config.valid.MUST.1: invalid or unsupported values are an error (a namespace type
/// that does not exist, a negative uid).
#[test]
fn config_valid_must_1_invalid_values_refused() {
    let (rt, mut b) = setup("c-invalid", &["true"]);
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "banana"}));
    b.write();
    failed(&create(&rt, &b, "i"));
    b.config["linux"]["namespaces"].as_array_mut().unwrap().pop();
    b.config["process"]["user"]["uid"] = json!(-1);
    b.write();
    failed(&create(&rt, &b, "i"));
    clean(&rt, &b);
}

/// config.process.capabilities.MUST.1, the other half: a capability the runtime cannot
/// grant (this host's root lacks CAP_SYS_RESOURCE in its bounding set) is logged as a
/// warning, and the container runs without it.
#[test]
fn config_process_capabilities_must_1_ungrantable_is_a_warning() {
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let bnd = own.lines().find_map(|l| l.strip_prefix("CapBnd:")).unwrap().trim().to_string();
    let bounding = u64::from_str_radix(&bnd, 16).unwrap();
    if bounding & (1 << 24) != 0 {
        eprintln!("skipped: this host grants CAP_SYS_RESOURCE");
        return;
    }
    let (rt, mut b) = setup("c-capmissing", &["checker"]);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set].as_array_mut().unwrap().push(json!("CAP_SYS_RESOURCE"));
    }
    b.write();
    let (code, out, err) = rt.run_bundle(&b, "c");
    assert_eq!(code, 0, "{err}");
    assert!(err.to_lowercase().contains("warn") && err.contains("CAP_SYS_RESOURCE"), "{err}");
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["caps"]["bounding"], "0000000020000420");
    clean(&rt, &b);
}
