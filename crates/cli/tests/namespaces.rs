//! Namespaces: new ones, joined ones, user namespaces with mappings, time offsets.

use lindocker_testkit::{Bundle, Runtime, leftovers};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker-runtime");

fn host_ns(ns: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap().to_string_lossy().into_owned()
}

#[test]
fn new_namespaces_hostname_domainname() {
    let rt = Runtime::new(BIN, "nsnew");
    let mut b = Bundle::new("nsnew", &["checker"]);
    b.config["hostname"] = json!("box1");
    b.config["domainname"] = json!("example.test");
    b.write();
    let r = rt.check(&b, "n1");
    for ns in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        assert_ne!(r["namespaces"][ns], host_ns(ns), "{ns} is the host's");
    }
    assert_eq!(r["namespaces"]["user"], host_ns("user"));
    assert_eq!(r["pid"], 1);
    assert_eq!(r["hostname"], "box1");
    assert_eq!(r["domainname"], "example.test");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// A second container joins the first one's network, ipc and uts namespaces by path.
#[test]
fn join_namespaces_by_path() {
    let rt = Runtime::new(BIN, "nsjoin");
    let first = Bundle::new("nsjoin", &["sleep", "1000"]);
    rt.ok(&["create", "--bundle", first.dir.to_str().unwrap(), "first"]);
    let pid = rt.state("first")["pid"].as_i64().unwrap();
    let mut second = Bundle::new("nsjoin2", &["checker"]);
    // The hostname belongs to the joined uts namespace.
    second.config.as_object_mut().unwrap().remove("hostname");
    let ns = second.config["linux"]["namespaces"].as_array_mut().unwrap();
    for n in ns.iter_mut() {
        let t = n["type"].as_str().unwrap().to_string();
        let file = match t.as_str() {
            "network" => "net",
            "ipc" => "ipc",
            "uts" => "uts",
            "pid" => "pid",
            _ => continue,
        };
        n["path"] = json!(format!("/proc/{pid}/ns/{file}"));
    }
    second.write();
    let r = rt.check(&second, "second");
    for ns in ["net", "ipc", "uts", "pid"] {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        assert_eq!(r["namespaces"][ns], theirs.to_string_lossy().as_ref(), "{ns} not joined");
    }
    // Joining the pid namespace: not its init, and the first container's init is pid 1.
    assert_ne!(r["pid"], 1);
    assert_ne!(r["namespaces"]["mnt"], host_ns("mnt"));
    rt.ok(&["delete", "first"]);
    assert_eq!(leftovers(&first.cgroup_parent, &first.dir, &rt.root), Vec::<String>::new());
    assert_eq!(leftovers(&second.cgroup_parent, &second.dir, &rt.root), Vec::<String>::new());
}

/// Root inside is uid 100000 outside.
#[test]
fn user_namespace_with_mappings() {
    let rt = Runtime::new(BIN, "nsuser");
    let mut b = Bundle::new("nsuser", &["sleep", "1000"]);
    b.user_namespace(100000);
    b.write();
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "u1"]);
    let pid = rt.state("u1")["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(uid.split_whitespace().collect::<Vec<_>>(), vec!["Uid:", "100000", "100000", "100000", "100000"]);
    rt.ok(&["delete", "--force", "u1"]);

    b.set_args(&["checker", "--write", "/tmp/x"]);
    let r = rt.check(&b, "u2");
    assert_eq!(r["uid"], "0\t0\t0\t0");
    assert_eq!(r["uid_map"].as_str().unwrap().split_whitespace().collect::<Vec<_>>(), vec!["0", "100000", "65536"]);
    assert_ne!(r["namespaces"]["user"], host_ns("user"));
    // /proc is this pid namespace's, /sys is mounted: both usable inside.
    assert_eq!(r["pid"], 1);
    assert!(r["mounts"].as_array().unwrap().iter().any(|m| m["mountpoint"] == "/sys"));
    // Devices are the host's nodes, bound (mknod is not allowed in a user namespace).
    assert_eq!(r["devices"]["null"]["major"], 1);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

#[test]
fn time_namespace_offsets() {
    let rt = Runtime::new(BIN, "nstime");
    let mut b = Bundle::new("nstime", &["checker"]);
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "time"}));
    b.config["linux"]["timeOffsets"] = json!({"boottime": {"secs": 1000000, "nanosecs": 0}});
    b.write();
    let r = rt.check(&b, "t1");
    let uptime: f64 = r["uptime"].as_str().unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(uptime > 1_000_000.0, "uptime {uptime}");
    assert_ne!(r["namespaces"]["time"], host_ns("time"));
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}
