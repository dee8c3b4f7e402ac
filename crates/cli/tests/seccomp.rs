//! seccomp: rules with errno and argument conditions, unknown names skipped with a
//! warning, notifications to a listener, the filter kept by exec, bad profiles refused.

use std::io::IoSliceMut;
use std::os::unix::net::UnixListener;

use lindocker_testkit::{Bundle, Runtime, leftovers};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker-runtime");
const ENOSYS: i64 = 38;

fn block_mkdir(errno: u32) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat", "no_such_syscall_xyz"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno}],
    })
}

#[test]
fn errno_rules_warnings_and_exec() {
    let rt = Runtime::new(BIN, "scerrno");
    let mut b = Bundle::new("scerrno", &["checker", "--mkdir", "/tmp/d"]);
    b.config["linux"]["seccomp"] = block_mkdir(ENOSYS as u32);
    b.write();
    let (code, out, err) = rt.run_bundle(&b, "s1");
    assert_eq!(code, 0, "code {code}: {err} {out}");
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["seccomp"], "2");
    assert_eq!(r["writes"]["mkdir:/tmp/d"]["errno"], ENOSYS);
    assert!(err.contains("level=warning") && err.contains("no_such_syscall_xyz") && err.contains("skipped"), "{err}");
    // The filter flags are accepted and the filter still holds.
    b.config["linux"]["seccomp"]["flags"] =
        json!(["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]);
    b.write();
    let r = rt.check(&b, "flags");
    assert_eq!(r["writes"]["mkdir:/tmp/d"]["errno"], ENOSYS);
    // Without no_new_privs, as a non-root user: the filter is loaded while the runtime
    // still has CAP_SYS_ADMIN, and holds all the same.
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.write();
    let r = rt.check(&b, "s2");
    assert_eq!(r["seccomp"], "2");
    assert_eq!(r["no_new_privs"], "0");
    assert_eq!(r["writes"]["mkdir:/tmp/d"]["errno"], ENOSYS);
    // exec'd processes get the container's filter.
    b.set_args(&["sleep", "1000"]);
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "s3"]);
    let r: Value = serde_json::from_str(rt.ok(&["exec", "s3", "checker", "--mkdir", "/tmp/e"]).trim()).unwrap();
    assert_eq!(r["writes"]["mkdir:/tmp/e"]["errno"], ENOSYS);
    rt.ok(&["delete", "--force", "s3"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// chmod 777 is refused, chmod 755 is not: a condition on the mode argument.
#[test]
fn argument_conditions() {
    let rt = Runtime::new(BIN, "scargs");
    let script = "touch /tmp/f; chmod 755 /tmp/f && echo ok755; chmod 777 /tmp/f 2>/dev/null || echo denied777";
    let mut b = Bundle::new("scargs", &["sh", "-c", script]);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 2, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}]}
        ],
    });
    b.write();
    let (code, out, err) = rt.run_bundle(&b, "a1");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "ok755\ndenied777\n");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// SCMP_ACT_NOTIFY: the listener receives the notification descriptor with the
/// container process state; when it closes it, the notified syscall fails with ENOSYS.
#[test]
fn notifications_reach_the_listener() {
    let rt = Runtime::new(BIN, "scnotify");
    let mut b = Bundle::new("scnotify", &["checker", "--mkdir", "/tmp/n"]);
    let sock = b.dir.join("listener.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "hello-listener",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
    });
    b.write();
    let receiver = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut payload = vec![0u8; 65536];
        let msg = rustix::net::recvmsg(&conn, &mut [IoSliceMut::new(&mut payload)], &mut control, RecvFlags::empty())
            .unwrap();
        let len = msg.bytes;
        let fd = control.drain().find_map(|m| match m {
            RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
            _ => None,
        });
        // Closing the descriptor (dropping it) answers every notification with ENOSYS.
        (fd.is_some(), serde_json::from_slice::<Value>(&payload[..len]).unwrap())
    });
    let (code, out, err) = rt.run_bundle(&b, "n1");
    let (got_fd, state) = receiver.join().unwrap();
    assert!(got_fd);
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "hello-listener");
    assert_eq!(state["state"]["id"], "n1");
    assert!(state["pid"].as_i64().unwrap() > 1);
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["writes"]["mkdir:/tmp/n"]["errno"], ENOSYS);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

#[test]
fn bad_profiles_are_refused() {
    let rt = Runtime::new(BIN, "scbad");
    let mut b = Bundle::new("scbad", &["true"]);
    let cases = [
        (json!({"defaultAction": "SCMP_ACT_NOPE"}), "linux.seccomp.defaultAction"),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}),
            "linux.seccomp.architectures[0]",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[0].args[0].index",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.listenerPath",
        ),
    ];
    for (profile, field) in cases {
        b.config["linux"]["seccomp"] = profile;
        b.write();
        let out = rt.run(&["create", "--bundle", b.dir.to_str().unwrap(), "bad"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{field}: {err}");
        assert!(err.contains(field), "expected {field} in: {err}");
        assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
    }
}

/// Docker's default profile and capability set: everyday tools work; mount, unshare
/// and reboot are refused.
#[test]
fn docker_default_profile() {
    use lindocker_testkit::docker_profile::{docker_capabilities, docker_seccomp};
    let rt = Runtime::new(BIN, "scdocker");
    // A throw-away network namespace with loopback up, for a local web server.
    let netns = format!("lindocker-test-{}", std::process::id());
    let ip =
        |args: &[&str]| assert!(std::process::Command::new("ip").args(args).status().unwrap().success(), "ip {args:?}");
    ip(&["netns", "add", &netns]);
    struct Netns(String);
    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _netns = Netns(netns.clone());
    ip(&["-n", &netns, "link", "set", "lo", "up"]);
    let script = "ls / >/dev/null && ps >/dev/null && cat /etc/passwd >/dev/null && echo tools-ok; \
                  httpd -p 127.0.0.1:8080 -h /etc && wget -q -O - http://127.0.0.1:8080/group | head -1; \
                  mount -t tmpfs none /mnt 2>/dev/null && echo mount-ok || echo mount-denied; \
                  unshare -m true 2>/dev/null && echo unshare-ok || echo unshare-denied; \
                  reboot -f 2>/dev/null; echo reboot-denied";
    let mut b = Bundle::new("scdocker", &["sh", "-c", script]);
    b.config["process"]["capabilities"] = docker_capabilities();
    b.config["linux"]["seccomp"] = docker_seccomp();
    for ns in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "network" {
            ns["path"] = json!(format!("/run/netns/{netns}"));
        }
    }
    b.write();
    let (code, out, err) = rt.run_bundle(&b, "d1");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "tools-ok\nroot:x:0:\nmount-denied\nunshare-denied\nreboot-denied\n");
    b.set_args(&["checker"]);
    let r = rt.check(&b, "d2");
    assert_eq!(r["seccomp"], "2");
    assert_eq!(r["caps"]["bounding"], "00000000a80425fb");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// A syscall newer than every one the profile names (here `statmount`, Linux 6.8, which
/// Debian's libseccomp 2.5.4 does not know, so Docker's profile cannot allow it) fails
/// with ENOSYS, which programs fall back from (util-linux's findmnt), not the default
/// EPERM, which they report: as runc's -ENOSYS stub does. Older syscalls the profile does not allow keep EPERM, and a
/// permissive default or an ENOSYS default gets no stub.
#[test]
fn syscalls_newer_than_the_profile_get_enosys() {
    use lindocker_testkit::docker_profile::{docker_capabilities, docker_seccomp};
    const STATMOUNT: &str = "457";
    const ACCT: &str = "163"; // known to every libseccomp, not in Docker's profile without CAP_SYS_PACCT
    const EPERM: i64 = 1;
    let rt = Runtime::new(BIN, "scenosys");
    let mut b = Bundle::new("scenosys", &["checker", "--syscall", STATMOUNT, "--syscall", ACCT, "--syscall", "1000"]);
    b.config["process"]["capabilities"] = docker_capabilities();
    b.config["linux"]["seccomp"] = docker_seccomp();
    b.write();
    let r = rt.check(&b, "e1");
    assert_eq!(r["seccomp"], "2");
    let errno = |r: &Value, nr: &str| r["writes"][format!("syscall:{nr}")]["errno"].as_i64();
    if libseccomp_knows("statmount") {
        eprintln!("this libseccomp knows statmount: Docker's profile allows it");
    } else {
        assert_eq!(errno(&r, STATMOUNT), Some(ENOSYS), "{r}");
    }
    assert_eq!(errno(&r, ACCT), Some(EPERM), "{r}");
    assert_eq!(errno(&r, "1000"), Some(ENOSYS), "{r}");

    // A default that allows: no stub, the kernel answers statmount (a bad address).
    b.config["linux"]["seccomp"] = block_mkdir(1);
    b.write();
    let r = rt.check(&b, "e2");
    assert_ne!(errno(&r, STATMOUNT), Some(ENOSYS), "{r}");
    assert_ne!(errno(&r, STATMOUNT), Some(EPERM), "{r}");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Whether this machine's libseccomp resolves `name` (the runtime links the same one).
fn libseccomp_knows(name: &str) -> bool {
    libseccomp::ScmpSyscall::from_name(name).is_ok()
}

/// A profile is compiled once per runtime root; another profile gets its own entry, and
/// a cached program enforces the same rules.
#[test]
fn compiled_programs_are_cached() {
    let rt = Runtime::new(BIN, "sccache");
    let mut b = Bundle::new("sccache", &["checker", "--mkdir", "/tmp/c"]);
    b.config["linux"]["seccomp"] = block_mkdir(ENOSYS as u32);
    b.write();
    let cache = rt.root.join("cache:seccomp");
    let programs = || {
        std::fs::read_dir(&cache)
            .map_or(0, |d| d.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "bpf")).count())
    };
    assert_eq!(programs(), 0);
    rt.check(&b, "c1");
    assert_eq!(programs(), 1);
    let r = rt.check(&b, "c2");
    assert_eq!(programs(), 1);
    assert_eq!(r["writes"]["mkdir:/tmp/c"]["errno"], ENOSYS);
    b.config["linux"]["seccomp"] = block_mkdir(1);
    b.write();
    let r = rt.check(&b, "c3");
    assert_eq!(programs(), 2);
    assert_eq!(r["writes"]["mkdir:/tmp/c"]["errno"], 1);
    // `list` does not mistake the cache for a container.
    assert_eq!(rt.ok(&["list", "-q"]).trim(), "");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}
