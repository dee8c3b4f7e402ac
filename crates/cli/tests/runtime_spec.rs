//! Departures from the runtime spec found by conformance testing (issue 17), each run
//! as an OCI bundle through `lindocker-runtime` and checked from inside the container
//! or by the command's exit code and output, against what runc does.

use std::path::Path;
use std::time::{Duration, Instant};

use lindocker_testkit::{Bundle, Runtime, leftovers};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker-runtime");

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A process that is gone or a zombie.
fn dead(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z"))
}

/// Item 1: a profile written before `close_range` existed denies it (EPERM); without
/// no_new_privs the filter is loaded before the descriptors are marked close-on-exec.
#[test]
fn seccomp_profile_denying_close_range() {
    let rt = Runtime::new(BIN, "noclrange");
    let mut b = Bundle::new("noclrange", &["checker"]);
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    });
    b.write();
    let r = rt.check(&b, "c1");
    assert_eq!(r["seccomp"], "2");
    // exec'd processes get the same filter, and start too.
    b.set_args(&["sleep", "1000"]);
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "c2"]);
    let r: Value = serde_json::from_str(rt.ok(&["exec", "c2", "checker"]).trim()).unwrap();
    assert_eq!(r["seccomp"], "2");
    // Nothing but stdio and the checker's own listing of /proc/self/fd.
    let fds: Vec<&String> = r["fds"].as_object().unwrap().keys().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{r}");
    rt.ok(&["delete", "--force", "c2"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Item 2: a namespace type that is not listed is the runtime's own: here the mount
/// namespace (the container is only chrooted into its rootfs, as runc does).
#[test]
fn no_mount_namespace_inherits_the_runtimes() {
    let rt = Runtime::new(BIN, "nomntns");
    let mut b = Bundle::new("nomntns", &["sleep", "1000"]);
    b.config["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "mount");
    b.config["mounts"] = json!([]);
    b.config["linux"].as_object_mut().unwrap().remove("maskedPaths");
    b.config["linux"].as_object_mut().unwrap().remove("readonlyPaths");
    b.write();
    // Other tests on this machine mount and unmount: look only below the bundle.
    let ours = || {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        info.lines().filter(|l| l.contains(b.dir.to_str().unwrap())).count()
    };
    rt.ok(&["create", "--bundle", b.dir.to_str().unwrap(), "m1"]);
    let pid = rt.state("m1")["pid"].as_i64().unwrap();
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/mnt")).unwrap();
    assert_eq!(ns(&pid.to_string()), ns("self"));
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/root")).unwrap(), b.rootfs());
    rt.ok(&["start", "m1"]);
    // Nothing was mounted in the runtime's (here the test's) mount namespace.
    assert_eq!(ours(), 0);
    rt.ok(&["delete", "--force", "m1"]);
    // What needs a mount namespace is refused, naming the field.
    b.config["linux"]["maskedPaths"] = json!(["/proc/kcore"]);
    b.write();
    let out = rt.run(&["create", "--bundle", b.dir.to_str().unwrap(), "m2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("linux.maskedPaths"), "{}", stderr(&out));
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Item 3: `hostname` with a uts namespace joined by path is set in that namespace.
#[test]
fn hostname_in_a_joined_uts_namespace() {
    let rt = Runtime::new(BIN, "utsjoin");
    let first = Bundle::new("utsjoin", &["sleep", "1000"]);
    rt.ok(&["run", "-d", "--bundle", first.dir.to_str().unwrap(), "first"]);
    let pid = rt.state("first")["pid"].as_i64().unwrap();
    let mut second = Bundle::new("utsjoin2", &["checker"]);
    second.config["hostname"] = json!("joined-host");
    for n in second.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if n["type"] == "uts" {
            n["path"] = json!(format!("/proc/{pid}/ns/uts"));
        }
    }
    second.write();
    let r = rt.check(&second, "second");
    assert_eq!(r["hostname"], "joined-host");
    assert_eq!(rt.ok(&["exec", "first", "hostname"]).trim(), "joined-host");
    rt.ok(&["delete", "--force", "first"]);
    // The runtime's own uts namespace (the host's here) is not renamed.
    for n in second.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if n["type"] == "uts" {
            n["path"] = json!("/proc/self/ns/uts");
        }
    }
    second.write();
    let out = rt.run(&["create", "--bundle", second.dir.to_str().unwrap(), "third"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("hostname"), "{}", stderr(&out));
    assert_eq!(leftovers(&first.cgroup_parent, &first.dir, &rt.root), Vec::<String>::new());
    assert_eq!(leftovers(&second.cgroup_parent, &second.dir, &rt.root), Vec::<String>::new());
}

/// Item 4: `linux.personality` applies to exec'd processes too.
#[test]
fn exec_gets_the_personality() {
    let rt = Runtime::new(BIN, "persona");
    let mut b = Bundle::new("persona", &["sleep", "1000"]);
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    b.write();
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "p1"]);
    let pid = rt.state("p1")["pid"].as_i64().unwrap();
    assert_eq!(std::fs::read_to_string(format!("/proc/{pid}/personality")).unwrap().trim(), "00000008");
    assert_eq!(rt.ok(&["exec", "p1", "cat", "/proc/self/personality"]).trim(), "00000008");
    rt.ok(&["delete", "--force", "p1"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Item 5: `nosymfollow` and `rnosymfollow` are applied; an option of the spec that is
/// not implemented is refused, naming it.
#[test]
fn nosymfollow_mount_options() {
    let rt = Runtime::new(BIN, "nosymf");
    let script = "ln -s /etc/passwd /nsf/l && ln -s /etc/passwd /rnsf/l && cat /nsf/l; a=$?; cat /rnsf/l; b=$?; \
                  echo $a $b";
    let mut b = Bundle::new("nosymf", &["sh", "-c", script]);
    let host = b.share_dir("rnsf", "/rnsf");
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.last_mut().unwrap()["options"] = json!(["rbind", "rnosymfollow"]);
    mounts.push(
        json!({"destination": "/nsf", "type": "tmpfs", "source": "tmpfs", "options": ["nosymfollow", "defaults"]}),
    );
    b.write();
    let (code, out, err) = rt.run_bundle(&b, "s1");
    assert_eq!(code, 0, "{err}");
    // Both reads of a symlink fail (ELOOP); the links themselves were made.
    assert_eq!(out.trim(), "1 1", "{err}");
    assert!(host.join("l").is_symlink());
    b.config["mounts"].as_array_mut().unwrap().last_mut().unwrap()["options"] = json!(["tmpcopyup"]);
    b.write();
    let out = rt.run(&["create", "--bundle", b.dir.to_str().unwrap(), "s2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("tmpcopyup"), "{}", stderr(&out));
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Item 6: a time namespace beside a user namespace whose root is not the host's root.
#[test]
fn time_namespace_in_a_user_namespace() {
    let rt = Runtime::new(BIN, "timeuser");
    let mut b = Bundle::new("timeuser", &["checker"]);
    b.user_namespace(100000);
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "time"}));
    b.config["linux"]["timeOffsets"] = json!({"boottime": {"secs": 1000000, "nanosecs": 0}});
    b.write();
    let r = rt.check(&b, "t1");
    let uptime: f64 = r["uptime"].as_str().unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(uptime > 1_000_000.0, "uptime {uptime}");
    assert_eq!(r["uid_map"].as_str().unwrap().split_whitespace().collect::<Vec<_>>(), vec!["0", "100000", "65536"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Item 7: a hook run in the container without `env` gets the process's environment,
/// as runc's do.
#[test]
fn container_hooks_without_env_get_the_process_env() {
    let rt = Runtime::new(BIN, "hookenv");
    let mut b = Bundle::new("hookenv", &["true"]);
    let out = b.share_dir("out", "/out");
    b.config["process"]["env"].as_array_mut().unwrap().push(json!("FROM_PROCESS=yes"));
    b.config["hooks"] = json!({
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "env > /out/start.env"]}],
        "createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", format!("env > {}/create.env", out.display())]}],
    });
    b.write();
    let (code, _, err) = rt.run_bundle(&b, "h1");
    assert_eq!(code, 0, "{err}");
    for file in ["start.env", "create.env"] {
        let env = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(env.lines().any(|l| l == "FROM_PROCESS=yes"), "{file}: {env}");
    }
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Item 8: `rootfsPropagation: unbindable`.
#[test]
fn rootfs_propagation_unbindable() {
    let rt = Runtime::new(BIN, "unbind");
    let mut b = Bundle::new("unbind", &["checker"]);
    b.config["linux"]["rootfsPropagation"] = json!("unbindable");
    b.write();
    let r = rt.check(&b, "u1");
    let root = r["mounts"].as_array().unwrap().iter().find(|m| m["mountpoint"] == "/").cloned().unwrap();
    assert!(root["propagation"].as_str().unwrap().contains("unbindable"), "{root}");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Item 10: failed commands say `error`, as runc's do (tools match on the word).
#[test]
fn errors_carry_the_word_error() {
    let rt = Runtime::new(BIN, "errword");
    let out = rt.run(&["state", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("error") && stderr(&out).contains("does not exist"), "{}", stderr(&out));
    let b = Bundle::new("errword", &["sleep", "1000"]);
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "e1"]);
    let out = rt.run(&["delete", "e1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("error"), "{}", stderr(&out));
    rt.ok(&["kill", "e1", "KILL"]);
    wait_for("stopped", || rt.state("e1")["status"] == "stopped");
    let out = rt.run(&["kill", "e1", "TERM"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("error"), "{}", stderr(&out));
    rt.ok(&["delete", "e1"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Item 11: containerd's shim cleans up a stopped container with `kill --all ID 9`: it
/// signals what is left in the cgroup and exits 0; a plain kill says `container not
/// running`, the text go-runc and the shim match.
#[test]
fn kill_of_a_stopped_container() {
    let rt = Runtime::new(BIN, "killstopped");
    // No pid namespace of its own: the init's child outlives it, left in the cgroup.
    let mut b = Bundle::new("killstopped", &["sh", "-c", "sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > /out/pid"]);
    b.share_dir("out", "/out");
    b.config["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "pid");
    b.write();
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "k1"]);
    wait_for("stopped", || rt.state("k1")["status"] == "stopped");
    wait_for("the pid file", || std::fs::read_to_string(b.dir.join("out/pid")).is_ok_and(|p| p.ends_with('\n')));
    // Its pid in our pid namespace: the container shares ours.
    let left: i64 = std::fs::read_to_string(b.dir.join("out/pid")).unwrap().trim().parse().unwrap();
    assert!(!dead(left));
    let out = rt.run(&["kill", "k1", "9"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("container not running"), "{}", stderr(&out));
    assert!(!dead(left));
    rt.ok(&["kill", "--all", "k1", "9"]);
    wait_for("the left-over process to die", || dead(left));
    rt.ok(&["delete", "k1"]);
    assert!(!Path::new(&rt.root.join("k1")).exists());
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Item 12: `runc spec`'s capabilities: ambient ones listed, inheritable empty. The
/// ambient raise fails without the inheritable bit, quietly, as in runc.
#[test]
fn runc_spec_ambient_capabilities() {
    let rt = Runtime::new(BIN, "ambient");
    let mut b = Bundle::new("ambient", &["checker"]);
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    b.config["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps, "inheritable": []});
    b.write();
    let r = rt.check(&b, "a1");
    assert_eq!(r["caps"]["ambient"], "0000000000000000");
    assert_eq!(r["caps"]["effective"], "0000000020000420");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Item 9: `linux.memoryPolicy` is applied with set_mempolicy (the checker's mappings
/// show the task's policy), to exec'd processes too; bad nodes are refused.
#[test]
fn memory_policy_is_applied() {
    let rt = Runtime::new(BIN, "mempolicy");
    let mut b = Bundle::new("mempolicy", &["checker", "--read", "/proc/self/numa_maps"]);
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]});
    b.write();
    let r = rt.check(&b, "mp1");
    let maps = r["reads"]["/proc/self/numa_maps"].as_str().unwrap().to_string();
    assert!(maps.lines().any(|l| l.split(' ').nth(1) == Some("bind=static:0")), "{maps}");
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"});
    b.set_args(&["sleep", "1000"]);
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "mp2"]);
    let maps = rt.ok(&["exec", "mp2", "cat", "/proc/self/numa_maps"]);
    assert!(maps.lines().any(|l| l.split(' ').nth(1) == Some("interleave:0")), "{maps}");
    rt.ok(&["delete", "--force", "mp2"]);
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0-x"});
    b.write();
    let out = rt.run(&["create", "--bundle", b.dir.to_str().unwrap(), "mp3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("linux.memoryPolicy.nodes"), "{}", stderr(&out));
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Item 9: `memory.kernelTCP` is written where the kernel has it (cgroup v1's
/// memory.kmem.tcp.limit_in_bytes) and refused, naming it, where it does not.
#[test]
fn memory_kernel_tcp() {
    let rt = Runtime::new(BIN, "kerneltcp");
    let file = "/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes";
    let mut b = Bundle::new("kerneltcp", &["checker", "--read", file]);
    b.config["linux"]["resources"]["memory"] = json!({"kernelTCP": 16777216});
    b.write();
    if Path::new(file).exists() {
        let r = rt.check(&b, "kt1");
        assert_eq!(r["reads"][file], "16777216\n");
    } else {
        let (code, _, err) = rt.run_bundle(&b, "kt1");
        assert_eq!(code, 1);
        assert!(err.contains("kernelTCP") || err.contains("kmem.tcp"), "{err}");
    }
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Item 9: what is not implemented is refused with the field's name, never ignored, and
/// `features` says so.
#[test]
fn unimplemented_fields_are_refused_and_not_advertised() {
    let rt = Runtime::new(BIN, "refused");
    let mut b = Bundle::new("refused", &["true"]);
    let refuse = |b: &Bundle, field: &str| {
        let out = rt.run(&["create", "--bundle", b.dir.to_str().unwrap(), "r1"]);
        assert_eq!(out.status.code(), Some(1), "{field}");
        assert!(stderr(&out).contains(field), "{field}: {}", stderr(&out));
    };
    // A device can only move into a network namespace of the container's own.
    b.config["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "network");
    b.config["linux"]["netDevices"] = json!({"eth7": {"name": "eth0"}});
    b.write();
    refuse(&b, "linux.netDevices");
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "network"}));
    b.config["linux"]["netDevices"] = json!({"eth7": {"name": "bad/name"}});
    b.write();
    refuse(&b, "linux.netDevices");
    b.config["linux"].as_object_mut().unwrap().remove("netDevices");
    // Only bind mounts can be id-mapped.
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}));
    b.write();
    refuse(&b, "mounts[");
    let f: Value = serde_json::from_str(&rt.ok(&["features"])).unwrap();
    assert_eq!(f["linux"]["netDevices"]["enabled"], true);
    assert_eq!(f["linux"]["mountExtensions"]["idmap"]["enabled"], true);
    let modes = f["linux"]["memoryPolicy"]["modes"].as_array().unwrap();
    assert!(modes.contains(&json!("MPOL_BIND")) && modes.contains(&json!("MPOL_INTERLEAVE")), "{f}");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Item 9: id-mapped bind mounts: with the container's user namespace mappings (`idmap`
/// without mappings of its own) its root owns what the host's root owns and writes
/// files as the host's root; with the mount's own `uidMappings`/`gidMappings`, without
/// a user namespace, the host's root's files appear as the mapped id.
#[test]
fn idmapped_bind_mounts() {
    let rt = Runtime::new(BIN, "idmapped");
    // /home exists in the rootfs: in the user namespace the runtime cannot make it.
    let mut b = Bundle::new("idmapped", &["sh", "-c", "stat -c %u:%g /home/f; touch /home/new && echo wrote"]);
    let host = b.share_dir("idm", "/home");
    std::fs::write(host.join("f"), "x").unwrap();
    b.config["mounts"].as_array_mut().unwrap().last_mut().unwrap()["options"] = json!(["rbind", "idmap"]);
    b.user_namespace(100000);
    b.write();
    let (code, out, err) = rt.run_bundle(&b, "i1");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "0:0\nwrote\n", "{err}");
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(host.join("new")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0));

    let mut b = Bundle::new("idmapped2", &["stat", "-c", "%u:%g", "/idm/f"]);
    let host = b.share_dir("idm", "/idm");
    std::fs::write(host.join("f"), "x").unwrap();
    let m = b.config["mounts"].as_array_mut().unwrap().last_mut().unwrap();
    m["options"] = json!(["rbind", "ridmap"]);
    m["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 10}]);
    m["gidMappings"] = json!([{"containerID": 0, "hostID": 2000, "size": 10}]);
    b.write();
    let (code, out, err) = rt.run_bundle(&b, "i2");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "1000:2000\n", "{err}");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Item 9: `linux.netDevices` moves a host interface into the container (renamed, with
/// its address, up) and back out when the container is deleted. The "host" is a
/// throw-away network namespace with a veth pair.
#[test]
fn net_devices_move_in_and_back() {
    let host = lindocker_testkit::FakeHost::new("netdev");
    // A veth pair (this kernel has no dummy links): one end moves, the other stays.
    host.ip(&["link", "add", "ldnd0", "type", "veth", "peer", "name", "ldnd1"]);
    host.ip(&["addr", "add", "10.231.7.1/24", "dev", "ldnd0"]);
    let rt = Runtime::new(BIN, "netdev");
    let mut b = Bundle::new("netdev", &["sleep", "1000"]);
    b.config["linux"]["netDevices"] = json!({"ldnd0": {"name": "inside0"}});
    b.write();
    let in_host = |args: &[&str]| {
        let mut cmd = host.command(rt.bin.to_str().unwrap());
        cmd.arg("--root").arg(&rt.root).args(args);
        lindocker_testkit::output_via_files(cmd, &rt.root)
    };
    let out = in_host(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "n1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let has = |name: &str| host.links().lines().any(|l| l.split('@').next() == Some(name));
    assert!(!has("ldnd0"), "{}", host.links());
    let out = in_host(&["exec", "n1", "ip", "-4", "-o", "addr", "show", "inside0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("10.231.7.1/24"), "{text} {}", stderr(&out));
    let out = in_host(&["exec", "n1", "cat", "/sys/class/net/inside0/flags"]);
    let flags = u32::from_str_radix(String::from_utf8_lossy(&out.stdout).trim().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "inside0 is not up");
    let out = in_host(&["delete", "--force", "n1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(has("ldnd0"), "{}", host.links());
    host.ip(&["link", "del", "ldnd0"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}
