//! The process: args, env, cwd, user, umask, rlimits, oom score, capabilities,
//! no_new_privs, inherited descriptors, and the terminal via --console-socket.

use std::io::{IoSliceMut, Read};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;

use lindocker_testkit::{Bundle, Pty, Runtime, leftovers};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker-runtime");

#[test]
fn identity_limits_and_environment() {
    let rt = Runtime::new(BIN, "proc");
    let mut b = Bundle::new("proc", &["checker"]);
    let p = &mut b.config["process"];
    p["env"] = json!(["PATH=/bin", "GREETING=hello world"]);
    p["cwd"] = json!("/work/dir");
    p["user"] = json!({"uid": 1000, "gid": 1001, "additionalGids": [5, 100], "umask": 0o027});
    p["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024}, {"type": "RLIMIT_NPROC", "soft": 100, "hard": 200}]);
    p["oomScoreAdj"] = json!(500);
    p["noNewPrivileges"] = json!(true);
    p["capabilities"]["inheritable"] = json!(["CAP_KILL"]);
    p["capabilities"]["ambient"] = json!(["CAP_KILL"]);
    b.write();
    let r = rt.check(&b, "p1");
    assert_eq!(r["env"]["GREETING"], "hello world");
    // Exactly the spec's, plus HOME, which runc adds when the spec has none (uid 1000 has
    // no passwd entry: `/`).
    assert_eq!(r["env"]["HOME"], "/", "{}", r["env"]);
    assert_eq!(r["env"].as_object().unwrap().len(), 3, "{}", r["env"]);
    assert_eq!(r["cwd"], "/work/dir");
    assert_eq!(r["uid"], "1000\t1000\t1000\t1000");
    assert_eq!(r["gid"], "1001\t1001\t1001\t1001");
    assert_eq!(r["groups"], "5 100");
    assert_eq!(r["umask"], "0027");
    assert_eq!(r["limits"]["Max open files"], json!({"soft": "512", "hard": "1024"}));
    assert_eq!(r["limits"]["Max processes"], json!({"soft": "100", "hard": "200"}));
    assert_eq!(r["oom_score_adj"], "500");
    assert_eq!(r["no_new_privs"], "1");
    // Bounding: the default spec's AUDIT_WRITE, KILL, NET_BIND_SERVICE. After exec a
    // non-root user keeps only its ambient capabilities (KILL) in permitted/effective.
    assert_eq!(r["caps"]["bounding"], "0000000020000420");
    assert_eq!(r["caps"]["effective"], "0000000000000020");
    assert_eq!(r["caps"]["permitted"], "0000000000000020");
    assert_eq!(r["caps"]["ambient"], "0000000000000020");
    assert_eq!(r["caps"]["inheritable"], "0000000000000020");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// No descriptor of the runtime reaches the container, only 0-2 and --preserve-fds.
#[test]
fn inherited_descriptors() {
    let rt = Runtime::new(BIN, "fds");
    let b = Bundle::new("fds", &["checker"]);
    let extra = b.dir.join("extra");
    std::fs::write(&extra, "x").unwrap();
    // The shell opens fd 3 and 4 before exec'ing the runtime.
    let script = format!(
        "exec 3<{extra} 4<{extra}; exec {} --root {} run --preserve-fds 1 --bundle {} pf",
        rt.bin.display(),
        rt.root.display(),
        b.dir.display(),
        extra = extra.display()
    );
    let out = std::process::Command::new("sh").arg("-c").arg(script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fds = r["fds"].as_object().unwrap();
    assert_eq!(fds["3"], extra.to_str().unwrap());
    // fd 4 may exist only as the checker's own handle on /proc/self/fd.
    assert!(fds.get("4").is_none_or(|t| t.as_str().unwrap().ends_with("/fd")), "fd 4 leaked: {fds:?}");
    // 0-3, and the descriptor the checker used to list /proc/self/fd.
    assert!(fds.len() <= 5, "{fds:?}");
    let r = rt.check(&b, "nofds");
    let fds = r["fds"].as_object().unwrap();
    for (fd, target) in fds {
        let own_listing = target.as_str().unwrap().ends_with("/fd");
        assert!(fd.parse::<i32>().unwrap() <= 2 || own_listing, "fd {fd} -> {target} leaked");
    }
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

fn receive_fd(listener: &UnixListener) -> (OwnedFd, Vec<u8>) {
    let (conn, _) = listener.accept().unwrap();
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut name = [0u8; 256];
    let msg = rustix::net::recvmsg(&conn, &mut [IoSliceMut::new(&mut name)], &mut control, RecvFlags::empty()).unwrap();
    let len = msg.bytes;
    let fd = control
        .drain()
        .find_map(|m| match m {
            RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
            _ => None,
        })
        .expect("a descriptor");
    (fd, name[..len].to_vec())
}

/// terminal: true sends the pty master to --console-socket; the process's stdio is the
/// pty, with the asked size.
#[test]
fn terminal_through_the_console_socket() {
    let rt = Runtime::new(BIN, "tty");
    let mut b = Bundle::new("tty", &["sh", "-c", "tty; stty size; echo done"]);
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 33, "width": 101});
    b.write();
    let sock = b.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || receive_fd(&listener));
    rt.ok(&["create", "--bundle", b.dir.to_str().unwrap(), "--console-socket", sock.to_str().unwrap(), "t1"]);
    let (master, name) = receiver.join().unwrap();
    assert!(String::from_utf8_lossy(&name).contains("/dev/pts/"), "{name:?}");
    rt.ok(&["start", "t1"]);
    let mut out = String::new();
    let mut f = std::fs::File::from(master);
    let mut buf = [0u8; 1024];
    // Read until "done" (EIO once the slave side closes).
    while !out.contains("done") {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(out.contains("/dev/pts/0"), "{out:?}");
    assert!(out.contains("33 101"), "{out:?}");
    rt.ok(&["delete", "--force", "t1"]);
    // terminal without a console socket is refused up front, naming the fix.
    let out = rt.run(&["create", "--bundle", b.dir.to_str().unwrap(), "t2"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--console-socket"));
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// `run` of a terminal: true bundle without --console-socket relays our terminal, like
/// `runc run`: what we type reaches the container's shell, its output reaches us, and
/// its exit code comes back.
#[test]
fn run_relays_our_terminal() {
    use std::io::Write;
    let rt = Runtime::new(BIN, "relay");
    let mut b = Bundle::new("relay", &["sh"]);
    b.config["process"]["terminal"] = json!(true);
    b.write();
    let mut pty = Pty::open(40, 120);
    let mut cmd = rt.cmd();
    cmd.args(["run", "--bundle", b.dir.to_str().unwrap(), "relay"]);
    pty.attach(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    pty.master.write_all(b"stty size; echo relay-$((40+2)); exit 3\n").unwrap();
    let reader = pty.read_until("relay-42");
    let status = child.wait().unwrap();
    let out = reader.join().unwrap();
    assert!(out.contains("relay-42"), "{out:?}");
    assert!(out.contains("40 120"), "window size not passed on: {out:?}");
    assert_eq!(status.code(), Some(3));
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// linux.personality, process.ioPriority and process.scheduler reach the process.
#[test]
fn personality_io_priority_and_scheduler() {
    let rt = Runtime::new(BIN, "sched");
    let mut b = Bundle::new("sched", &["sh", "-c", "uname -m; ionice; cat /proc/self/stat"]);
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    b.write();
    let (code, out, err) = rt.run_bundle(&b, "s1");
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "i686", "{out}");
    assert!(lines[1].starts_with("idle"), "{out}");
    // /proc/PID/stat: field 19 is nice, field 41 the policy (3 = SCHED_BATCH).
    let stat = lines[2];
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    assert_eq!((fields[16], fields[38]), ("7", "3"), "{stat}");
    b.config["linux"]["personality"] = json!({"domain": "LINUX", "flags": ["NO_SUCH_FLAG"]});
    b.write();
    let out = rt.run(&["create", "--bundle", b.dir.to_str().unwrap(), "s2"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown flag \"NO_SUCH_FLAG\""), "{out:?}");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}
