//! `exec`: another process in a running container, in all its namespaces and its cgroup.

use lindocker_testkit::{Bundle, Pty, Runtime, cgroup_dirs, leftovers};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker-runtime");

fn init_ns(pid: i64, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap().to_string_lossy().into_owned()
}

#[test]
fn exec_joins_the_container() {
    let rt = Runtime::new(BIN, "exec");
    let mut b = Bundle::new("exec", &["sleep", "1000"]);
    b.config["hostname"] = json!("exec-box");
    b.config["process"]["env"] = json!(["PATH=/bin", "FROM_SPEC=1"]);
    b.write();
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "x"]);
    let init = rt.state("x")["pid"].as_i64().unwrap();
    let out = rt.ok(&["exec", "--env", "EXTRA=2", "--cwd", "/tmp", "x", "checker"]);
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    for ns in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        assert_eq!(r["namespaces"][ns], init_ns(init, ns), "{ns} not joined");
    }
    assert_eq!(r["hostname"], "exec-box");
    assert_eq!(r["env"]["FROM_SPEC"], "1");
    assert_eq!(r["env"]["EXTRA"], "2");
    assert_eq!(r["cwd"], "/tmp");
    assert_ne!(r["pid"], 1);
    // No descriptor of the runtime follows the process in (CVE-2024-21626).
    for (fd, target) in r["fds"].as_object().unwrap() {
        assert!(fd.parse::<i32>().unwrap() <= 2 || target.as_str().unwrap().ends_with("/fd"), "fd {fd} -> {target}");
    }
    assert!(r["cgroup"].as_str().unwrap().lines().all(|l| l.ends_with(":/")), "{}", r["cgroup"]);
    // Exit codes pass through; the user can be changed; capabilities added.
    assert_eq!(rt.run(&["exec", "x", "sh", "-c", "exit 5"]).status.code(), Some(5));
    let id = rt.ok(&["exec", "--user", "1000:1001", "-g", "7", "x", "id"]);
    assert!(id.starts_with("uid=1000 gid=1001 groups=7"), "{id}");
    let r: Value =
        serde_json::from_str(rt.ok(&["exec", "--user", "1000", "--cap", "CAP_NET_RAW", "x", "checker"]).trim())
            .unwrap();
    assert_eq!(r["caps"]["effective"], "0000000000002000");
    // A detached exec with a pid file: the process is in the container's cgroup.
    let pid_file = b.dir.join("exec.pid");
    rt.ok(&["exec", "--detach", "--pid-file", pid_file.to_str().unwrap(), "x", "sleep", "1000"]);
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let procs = std::fs::read_to_string(
        cgroup_dirs(b.config["linux"]["cgroupsPath"].as_str().unwrap())[0].join("cgroup.procs"),
    )
    .unwrap();
    assert!(procs.lines().any(|p| p == pid), "{pid} not in {procs}");
    // --process: the whole process from a file.
    let process = b.dir.join("process.json");
    std::fs::write(&process, json!({"args": ["sh", "-c", "echo $ONLY; exit 7"], "env": ["PATH=/bin", "ONLY=file"], "cwd": "/", "user": {"uid": 0, "gid": 0}}).to_string()).unwrap();
    let out = rt.run(&["exec", "--process", process.to_str().unwrap(), "x"]);
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "file\n");
    // Bad input: unknown program, unknown capability; nothing is left running.
    let out = rt.run(&["exec", "x", "no-such-program"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("executable file not found"), "{out:?}");
    let out = rt.run(&["exec", "--cap", "CAP_BOGUS", "x", "true"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown capability"), "{out:?}");
    rt.ok(&["delete", "--force", "x"]);
    let out = rt.run(&["exec", "x", "true"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

#[test]
fn exec_in_a_user_namespace() {
    let rt = Runtime::new(BIN, "execuser");
    let mut b = Bundle::new("execuser", &["sleep", "1000"]);
    b.user_namespace(100000);
    b.write();
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "ux"]);
    let init = rt.state("ux")["pid"].as_i64().unwrap();
    let r: Value = serde_json::from_str(rt.ok(&["exec", "ux", "checker"]).trim()).unwrap();
    assert_eq!(r["namespaces"]["user"], init_ns(init, "user"));
    assert_eq!(r["uid"], "0\t0\t0\t0");
    rt.ok(&["delete", "--force", "ux"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// `exec -t` without --console-socket relays our terminal to a new pty in the container.
#[test]
fn exec_with_a_terminal() {
    let rt = Runtime::new(BIN, "exectty");
    let b = Bundle::new("exectty", &["sleep", "1000"]);
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "t"]);
    let pty = Pty::open(24, 80);
    let mut cmd = rt.cmd();
    cmd.args(["exec", "-t", "t", "sh", "-c", "tty; echo exec-tty-ok; exit 4"]);
    pty.attach(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let reader = pty.read_until("exec-tty-ok");
    assert_eq!(child.wait().unwrap().code(), Some(4));
    let out = reader.join().unwrap();
    assert!(out.contains("/dev/pts/") && out.contains("exec-tty-ok"), "{out:?}");
    rt.ok(&["delete", "--force", "t"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// CVE-2019-5736: a process in the container must not reach the host's runtime binary
/// through /proc/PID/exe of the runtime's own processes: the created init (waiting for
/// start, pid 1 inside) and an exec's process during its setup.
#[test]
fn the_runtime_binary_is_out_of_reach() {
    let rt = Runtime::new(BIN, "cve");
    let b = Bundle::new("cve", &["sleep", "1000"]);
    rt.ok(&["create", "--bundle", b.dir.to_str().unwrap(), "c"]);
    let init = rt.state("c")["pid"].as_i64().unwrap();
    // Sanity: pid 1 of the container is the runtime, not yet the user's program.
    assert!(std::fs::read_link(format!("/proc/{init}/exe")).unwrap().ends_with("lindocker-runtime"));
    let r: Value = serde_json::from_str(rt.ok(&["exec", "c", "checker", "--open", "/proc/1/exe"]).trim()).unwrap();
    for key in ["open-write:/proc/1/exe", "open-path:/proc/1/exe"] {
        assert!(r["writes"][key]["errno"].is_number(), "{key}: {}", r["writes"][key]);
    }
    rt.ok(&["delete", "c"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}
