//! cgroup limits, written to the kernel's files and enforced by it. The same tests run
//! on this v1/hybrid host and, by scripts/test-cgroup-v2.sh, in a cgroup-v2-only VM.

use std::path::PathBuf;

use lindocker_cgroups::Hierarchy;
use lindocker_testkit::{Bundle, Runtime, cgroup_dirs, leftovers};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker-runtime");

fn unified() -> bool {
    Hierarchy::detect().unwrap().is_unified()
}

/// The host path of `file` in the container's cgroup (`controller` picks the v1 hierarchy).
fn cg_file(b: &Bundle, controller: &str, file: &str) -> PathBuf {
    let path = b.config["linux"]["cgroupsPath"].as_str().unwrap().to_string();
    let h = Hierarchy::detect().unwrap();
    match h.v1_mount(controller) {
        Some(m) => m.join(path.trim_start_matches('/')).join(file),
        None => cgroup_dirs(&path)[0].join(file),
    }
}

fn read(p: &PathBuf) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).trim().to_string()
}

#[test]
fn limits_reach_the_kernel_files() {
    let rt = Runtime::new(BIN, "cglimits");
    let mut b = Bundle::new("cglimits", &["sleep", "1000"]);
    b.config["linux"]["resources"] = json!({
        "memory": {"limit": 67108864, "reservation": 33554432},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 42},
        "devices": [{"allow": false, "access": "rwm"}],
    });
    b.write();
    rt.ok(&["create", "--bundle", b.dir.to_str().unwrap(), "lim"]);
    let pid = rt.state("lim")["pid"].as_i64().unwrap();
    if unified() {
        assert_eq!(read(&cg_file(&b, "memory", "memory.max")), "67108864");
        assert_eq!(read(&cg_file(&b, "memory", "memory.low")), "33554432");
        assert_eq!(read(&cg_file(&b, "cpu", "cpu.weight")), "20");
        assert_eq!(read(&cg_file(&b, "cpu", "cpu.max")), "50000 100000");
        assert_eq!(read(&cg_file(&b, "cpuset", "cpuset.cpus")), "0");
    } else {
        assert_eq!(read(&cg_file(&b, "memory", "memory.limit_in_bytes")), "67108864");
        assert_eq!(read(&cg_file(&b, "memory", "memory.soft_limit_in_bytes")), "33554432");
        assert_eq!(read(&cg_file(&b, "cpu", "cpu.shares")), "512");
        assert_eq!(read(&cg_file(&b, "cpu", "cpu.cfs_quota_us")), "50000");
        assert_eq!(read(&cg_file(&b, "cpu", "cpu.cfs_period_us")), "100000");
        assert_eq!(read(&cg_file(&b, "cpuset", "cpuset.cpus")), "0");
        // deny-all plus the default devices every container needs.
        let list = read(&cg_file(&b, "devices", "devices.list"));
        assert!(list.contains("c 1:3 rwm") && list.contains("c 136:* rwm") && !list.contains("a *:*"), "{list}");
    }
    assert_eq!(read(&cg_file(&b, "pids", "pids.max")), "42");
    let procs = read(&cg_file(&b, "pids", "cgroup.procs"));
    assert_eq!(procs, pid.to_string());
    rt.ok(&["delete", "lim"]);
    for dir in cgroup_dirs(b.config["linux"]["cgroupsPath"].as_str().unwrap()) {
        assert!(!dir.exists(), "{} left after delete", dir.display());
    }
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// The block device under `/`, as `major:minor`, for io limits.
fn root_device() -> String {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines().find(|l| l.split(' ').nth(4) == Some("/")).unwrap().split(' ').nth(2).unwrap().to_string()
}

#[test]
fn memory_knobs_io_throttle_and_relative_path() {
    let rt = Runtime::new(BIN, "cgknobs");
    let mut b = Bundle::new("cgknobs", &["sleep", "1000"]);
    let dev = root_device();
    let (major, minor) = dev.split_once(':').unwrap();
    let (major, minor): (i64, i64) = (major.parse().unwrap(), minor.parse().unwrap());
    let mut memory = json!({"limit": 67108864});
    if !unified() {
        memory["swappiness"] = json!(10);
        memory["disableOOMKiller"] = json!(true);
    }
    let memsw = std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists();
    if unified() || memsw {
        memory["swap"] = json!(134217728);
    }
    b.config["linux"]["resources"] = json!({
        "memory": memory,
        "blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}]},
    });
    // Relative: under each hierarchy's root, like an absolute one.
    let relative = format!("{}/rel", b.cgroup_parent.trim_start_matches('/'));
    b.config["linux"]["cgroupsPath"] = json!(relative);
    b.write();
    rt.ok(&["create", "--bundle", b.dir.to_str().unwrap(), "knobs"]);
    if unified() {
        assert_eq!(read(&cg_file(&b, "memory", "memory.swap.max")), "67108864");
        let io = read(&cg_file(&b, "io", "io.max"));
        assert!(io.contains(&format!("{dev} rbps=1048576")), "{io}");
    } else {
        assert_eq!(read(&cg_file(&b, "memory", "memory.swappiness")), "10");
        let oom = read(&cg_file(&b, "memory", "memory.oom_control"));
        assert!(oom.contains("oom_kill_disable 1"), "{oom}");
        if memsw {
            assert_eq!(read(&cg_file(&b, "memory", "memory.memsw.limit_in_bytes")), "134217728");
        }
        let io = read(&cg_file(&b, "blkio", "blkio.throttle.read_bps_device"));
        assert_eq!(io, format!("{dev} 1048576"));
    }
    rt.ok(&["delete", "knobs"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// `run --blkio-weight --device-read-bps --device-write-bps --device-read-iops
/// --device-write-iops`: every throttle on the root disk, and the weight in whichever file
/// the kernel has (v2: io.weight, or io.bfq.weight on blkio's scale without io.cost; v1:
/// blkio.weight or blkio.bfq.weight).
#[test]
fn block_io_weight_and_every_throttle() {
    let rt = Runtime::new(BIN, "cgblkio");
    let mut b = Bundle::new("cgblkio", &["sleep", "1000"]);
    let dev = root_device();
    let (major, minor) = dev.split_once(':').unwrap();
    let (major, minor): (i64, i64) = (major.parse().unwrap(), minor.parse().unwrap());
    let rate = |r: u64| json!([{"major": major, "minor": minor, "rate": r}]);
    b.config["linux"]["resources"] = json!({
        "blockIO": {
            "weight": 300,
            "throttleReadBpsDevice": rate(1048576),
            "throttleWriteBpsDevice": rate(2097152),
            "throttleReadIOPSDevice": rate(200),
            "throttleWriteIOPSDevice": rate(100),
        },
    });
    b.write();
    rt.ok(&["create", "--bundle", b.dir.to_str().unwrap(), "blkio"]);
    if unified() {
        let io = read(&cg_file(&b, "io", "io.max"));
        assert!(io.contains(&format!("{dev} rbps=1048576 wbps=2097152 riops=200 wiops=100")), "{io}");
        let weight = cg_file(&b, "io", "io.weight");
        if weight.exists() {
            assert_eq!(read(&weight), "default 2930");
        } else {
            assert_eq!(read(&cg_file(&b, "io", "io.bfq.weight")), "default 300");
        }
    } else {
        let file = |f: &str| read(&cg_file(&b, "blkio", f));
        assert_eq!(file("blkio.throttle.read_bps_device"), format!("{dev} 1048576"));
        assert_eq!(file("blkio.throttle.write_bps_device"), format!("{dev} 2097152"));
        assert_eq!(file("blkio.throttle.read_iops_device"), format!("{dev} 200"));
        assert_eq!(file("blkio.throttle.write_iops_device"), format!("{dev} 100"));
        let weight = cg_file(&b, "blkio", "blkio.weight");
        let weight = if weight.exists() { read(&weight) } else { file("blkio.bfq.weight") };
        assert!(weight.split_whitespace().any(|w| w == "300"), "{weight}");
    }
    rt.ok(&["delete", "blkio"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// A process that goes over the memory limit is killed by the kernel's OOM killer.
#[test]
fn memory_limit_is_enforced() {
    let rt = Runtime::new(BIN, "cgoom");
    // dd allocates its 64M buffer and fills it: over a 16M limit.
    let mut b = Bundle::new("cgoom", &["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]);
    let mut resources = json!({"memory": {"limit": 16777216}});
    if !unified() && std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
        resources["memory"]["swap"] = json!(16777216);
    }
    b.config["linux"]["resources"] = resources;
    b.write();
    let out = rt.run(&["run", "--keep", "--bundle", b.dir.to_str().unwrap(), "oom"]);
    assert_eq!(out.status.code(), Some(137), "{}", String::from_utf8_lossy(&out.stderr));
    if unified() {
        let events = read(&cg_file(&b, "memory", "memory.events"));
        assert!(events.lines().any(|l| l.starts_with("oom_kill ") && l != "oom_kill 0"), "{events}");
    } else {
        let ctl = read(&cg_file(&b, "memory", "memory.oom_control"));
        assert!(ctl.lines().any(|l| l.starts_with("oom_kill ") && l != "oom_kill 0"), "{ctl}");
    }
    rt.ok(&["delete", "oom"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// pids.max holds: forks beyond it fail inside the container.
#[test]
fn pids_limit_is_enforced() {
    let rt = Runtime::new(BIN, "cgpids");
    let mut b = Bundle::new("cgpids", &["sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait"]);
    b.config["linux"]["resources"] = json!({"pids": {"limit": 4}});
    b.write();
    let (code, _, err) = rt.run_bundle(&b, "pids");
    assert_ne!(code, 0);
    assert!(err.contains("can't fork"), "forks beyond pids.max succeeded: {err:?}");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// Inside, with a cgroup namespace, the container sees its own cgroup as the root.
#[test]
fn cgroup_namespace_and_mount() {
    let rt = Runtime::new(BIN, "cgns");
    let b = Bundle::new(
        "cgns",
        &["checker", "--read", "/sys/fs/cgroup/pids/pids.max", "--read", "/sys/fs/cgroup/pids.max"],
    );
    let mut b = b;
    b.config["linux"]["resources"] = json!({"pids": {"limit": 9}});
    b.write();
    let report = rt.check(&b, "cgns");
    let cgroup = report["cgroup"].as_str().unwrap();
    assert!(cgroup.lines().all(|l| l.ends_with(":/")), "{cgroup}");
    let file = if unified() { "/sys/fs/cgroup/pids.max" } else { "/sys/fs/cgroup/pids/pids.max" };
    assert_eq!(report["reads"][file], "9\n");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// A limit this host cannot enforce is an error that names it, and leaves nothing.
#[test]
fn unsupported_limits_are_refused() {
    let rt = Runtime::new(BIN, "cgbad");
    let mut b = Bundle::new("cgbad", &["true"]);
    b.config["linux"]["resources"] = if unified() {
        json!({"memory": {"disableOOMKiller": true}})
    } else {
        json!({"unified": {"memory.high": "1000"}})
    };
    b.write();
    let out = rt.run(&["create", "--bundle", b.dir.to_str().unwrap(), "bad"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("linux.resources."), "{out:?}");
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// hugetlb where the host gives it to us (the v2 VM); where it does not (this hybrid host
/// keeps hugetlb in an undelegated cgroup2 root), a clear error.
#[test]
fn hugetlb_limits_where_present() {
    let rt = Runtime::new(BIN, "cghuge");
    let mut b = Bundle::new("cghuge", &["sleep", "1000"]);
    b.config["linux"]["resources"] = json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]});
    b.write();
    let out = rt.run(&["create", "--bundle", b.dir.to_str().unwrap(), "huge"]);
    let h = Hierarchy::detect().unwrap();
    let root = match &h {
        Hierarchy::Unified { mountpoint } => Some(mountpoint.clone()),
        Hierarchy::Legacy { unified, .. } => h.v1_mount("hugetlb").map(|p| p.to_path_buf()).or(unified.clone()),
    };
    let delegated = root.as_ref().is_some_and(|r| {
        h.v1_mount("hugetlb").is_some()
            || std::fs::read_to_string(r.join("cgroup.subtree_control")).is_ok_and(|c| c.contains("hugetlb"))
    });
    if delegated {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let file = if unified() { "hugetlb.2MB.max" } else { "hugetlb.2MB.limit_in_bytes" };
        assert_eq!(read(&cg_file(&b, "hugetlb", file)), "4194304");
        rt.ok(&["delete", "huge"]);
    } else {
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("hugetlb"), "{err}");
    }
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

fn counter(path: &std::path::Path) -> u64 {
    std::fs::read_to_string(path).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// pause freezes every process (the counter stops), resume thaws them; the state says so.
#[test]
fn pause_and_resume() {
    let rt = Runtime::new(BIN, "cgpause");
    let mut b =
        Bundle::new("cgpause", &["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /out/n; sleep 0.01; done"]);
    let out = b.share_dir("out", "/out");
    b.write();
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "p"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while counter(&out.join("n")) == 0 {
        assert!(std::time::Instant::now() < deadline, "the container never counted");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let err = String::from_utf8_lossy(&rt.run(&["resume", "p"]).stderr).into_owned();
    assert!(err.contains("cannot resume"), "{err}");
    rt.ok(&["pause", "p"]);
    assert_eq!(rt.state("p")["status"], "paused");
    let frozen = counter(&out.join("n"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(counter(&out.join("n")), frozen, "a paused container went on counting");
    rt.ok(&["resume", "p"]);
    assert_eq!(rt.state("p")["status"], "running");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while counter(&out.join("n")) <= frozen {
        assert!(std::time::Instant::now() < deadline, "a resumed container did not count");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // A paused container can be killed and deleted.
    rt.ok(&["pause", "p"]);
    rt.ok(&["delete", "--force", "p"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

#[test]
fn ps_lists_the_containers_processes() {
    let rt = Runtime::new(BIN, "cgps");
    let b = Bundle::new("cgps", &["sh", "-c", "sleep 1000 & sleep 1001 & wait"]);
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "ps1"]);
    let init = rt.state("ps1")["pid"].as_i64().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let pids = loop {
        let pids: Vec<i64> = serde_json::from_str(&rt.ok(&["ps", "--format", "json", "ps1"])).unwrap();
        if pids.len() == 3 || std::time::Instant::now() > deadline {
            break pids;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(pids.len(), 3, "{pids:?}");
    assert!(pids.contains(&init));
    let table = rt.ok(&["ps", "ps1"]);
    assert!(table.lines().next().unwrap().contains("PID"));
    assert!(table.contains("sleep 1000") && table.contains("sleep 1001"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");
    rt.ok(&["delete", "--force", "ps1"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// update changes limits of a live container, from flags or from a resources file.
#[test]
fn update_live_limits() {
    let rt = Runtime::new(BIN, "cgupdate");
    let b = Bundle::new("cgupdate", &["sleep", "1000"]);
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "u"]);
    rt.ok(&["update", "--memory", "100m", "--pids-limit", "20", "--cpu-quota", "20000", "--cpu-period", "100000", "u"]);
    if unified() {
        assert_eq!(read(&cg_file(&b, "memory", "memory.max")), "104857600");
        assert_eq!(read(&cg_file(&b, "cpu", "cpu.max")), "20000 100000");
    } else {
        assert_eq!(read(&cg_file(&b, "memory", "memory.limit_in_bytes")), "104857600");
        assert_eq!(read(&cg_file(&b, "cpu", "cpu.cfs_quota_us")), "20000");
    }
    assert_eq!(read(&cg_file(&b, "pids", "pids.max")), "20");
    let file = b.dir.join("resources.json");
    std::fs::write(&file, r#"{"pids": {"limit": 33}}"#).unwrap();
    rt.ok(&["update", "--resources", file.to_str().unwrap(), "u"]);
    assert_eq!(read(&cg_file(&b, "pids", "pids.max")), "33");
    let out = rt.run(&["update", "--memory", "lots", "u"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(read(&cg_file(&b, "pids", "pids.max")), "33");
    rt.ok(&["delete", "--force", "u"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// update takes the whole `linux.resources` as containerd's shim sends it (with the spec's
/// "deny all" device rule) and changes the limits, not the device rules: the devices every
/// container has (`/dev/null`) stay usable, as with runc.
#[test]
fn update_with_the_whole_resources_keeps_the_default_devices() {
    let rt = Runtime::new(BIN, "cgupdev");
    let mut b = Bundle::new("cgupdev", &["sleep", "1000"]);
    let deny_all = json!([{"allow": false, "access": "rwm"}]);
    b.config["linux"]["resources"] = json!({"devices": deny_all, "pids": {"limit": 40}});
    b.write();
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "d"]);
    let null = ["exec", "d", "sh", "-c", "echo x > /dev/null && head -c1 /dev/zero | wc -c"];
    assert_eq!(rt.ok(&null).trim(), "1");
    let file = b.dir.join("resources.json");
    std::fs::write(&file, json!({"devices": deny_all, "pids": {"limit": 30}}).to_string()).unwrap();
    rt.ok(&["update", "--resources", file.to_str().unwrap(), "d"]);
    assert_eq!(read(&cg_file(&b, "pids", "pids.max")), "30");
    assert_eq!(rt.ok(&null).trim(), "1");
    rt.ok(&["delete", "--force", "d"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// update raises and lowers memory and memory+swap together (as containerd's CRI does,
/// swap equal to the limit): on v1 the kernel keeps limit <= memsw at every write, so the
/// order of the two writes depends on the direction (as runc orders them).
#[test]
fn update_raises_and_lowers_memory_with_swap() {
    let rt = Runtime::new(BIN, "cgmemsw");
    let mut b = Bundle::new("cgmemsw", &["sleep", "1000"]);
    let mib = 1024 * 1024;
    b.config["linux"]["resources"] = json!({"memory": {"limit": 64 * mib, "swap": 64 * mib}});
    b.write();
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "m"]);
    let file = b.dir.join("resources.json");
    for size in [96 * mib, 32 * mib, -1] {
        std::fs::write(&file, json!({"memory": {"limit": size, "swap": size}}).to_string()).unwrap();
        rt.ok(&["update", "--resources", file.to_str().unwrap(), "m"]);
        if !unified() {
            let want = if size == -1 { "9223372036854771712".to_string() } else { size.to_string() };
            assert_eq!(read(&cg_file(&b, "memory", "memory.limit_in_bytes")), want);
            let memsw = cg_file(&b, "memory", "memory.memsw.limit_in_bytes");
            if memsw.exists() {
                assert_eq!(read(&memsw), want);
            }
        }
    }
    rt.ok(&["delete", "--force", "m"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// events --stats reports what the kernel counts; the stream reports OOM kills.
#[test]
fn events_stats_and_oom() {
    let rt = Runtime::new(BIN, "cgevents");
    // dd goes over the limit once the test says so (after the stream has started).
    let script = "while [ ! -e /out/go ]; do sleep 0.05; done; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 1000";
    let mut b = Bundle::new("cgevents", &["sh", "-c", script]);
    let out = b.share_dir("out", "/out");
    b.config["linux"]["resources"] = json!({"memory": {"limit": 33554432}, "pids": {"limit": 10}});
    b.write();
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "ev"]);
    let one: serde_json::Value = serde_json::from_str(rt.ok(&["events", "--stats", "ev"]).trim()).unwrap();
    assert_eq!(one["type"], "stats");
    assert_eq!(one["id"], "ev");
    let data = &one["data"];
    assert_eq!(data["pids"]["limit"], 10);
    assert!(data["pids"]["current"].as_u64().unwrap() >= 2, "{data}");
    assert_eq!(data["memory"]["usage"]["limit"], 33554432);
    assert!(data["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{data}");
    assert!(data["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "{data}");
    // The stream: stats every 100ms, and the OOM kill of dd in the middle.
    let mut child =
        rt.cmd().args(["events", "--interval", "100ms", "ev"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let (mut stats, mut oom) = (0, false);
    while let Some(Ok(line)) = lines.next() {
        let e: serde_json::Value = serde_json::from_str(&line).unwrap();
        match e["type"].as_str() {
            Some("stats") => {
                stats += 1;
                if stats == 1 {
                    std::fs::write(out.join("go"), "").unwrap();
                }
            }
            Some("oom") => oom = true,
            other => panic!("unexpected event {other:?}"),
        }
        if oom && stats >= 2 || stats > 300 {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(oom, "no oom event after {stats} stats events");
    rt.ok(&["delete", "--force", "ev"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}
