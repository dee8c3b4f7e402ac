//! Docker parity: namespaces (`--pid`, `--ipc`, `--uts`, `--userns`), resource limits
//! (`--oom-*`, `--memory-reservation`, `--cpu-quota/period`, `--cpu-rt-*`, `--blkio-*`,
//! `--device-*-bps/iops`), `--dns-search/--dns-option`, `--expose`, `--label-file`,
//! `--platform`, and `update`'s resource flags. Each is checked where a user would look:
//! inside the container, or in the value the kernel holds in the container's cgroup.

use std::fs;
use std::time::{Duration, Instant};

use lindocker_testkit::Engine;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");
const IMAGE: &str = "localhost/busybox";

fn inspect(engine: &Engine, name: &str) -> Value {
    let out: Value = serde_json::from_str(&engine.ok(&["inspect", name])).unwrap();
    out[0].clone()
}

/// Nothing left behind. A `run` refused for its flags has already spawned its shim
/// (spawned first, to overlap its start-up), which exits by itself when the CLI's end of
/// its socket closes: it is given a moment to go.
fn clean(engine: &Engine) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = engine.leftovers();
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left = engine.leftovers();
    }
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A file of the container's cgroup as the kernel shows it (v1 controller directory, or
/// the v2 unified one).
fn cgroup_file(engine: &Engine, name: &str, controller: &str, file: &str) -> String {
    let id = inspect(engine, name)["Id"].as_str().unwrap().to_owned();
    let v1 = format!("/sys/fs/cgroup/{controller}{}/{id}/{file}", engine.cgroup_parent);
    let v2 = format!("/sys/fs/cgroup{}/{id}/{file}", engine.cgroup_parent);
    fs::read_to_string(&v1).or_else(|_| fs::read_to_string(&v2)).unwrap_or_else(|e| panic!("{v1}: {e}"))
}

fn is_v1(controller: &str) -> bool {
    std::path::Path::new(&format!("/sys/fs/cgroup/{controller}")).is_dir()
        && !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

fn ns_of(pid: &str, kind: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap().display().to_string()
}

fn pid_of(engine: &Engine, name: &str) -> String {
    inspect(engine, name)["State"]["Pid"].to_string()
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pid_namespace_host_and_container() {
    let engine = Engine::with_busybox(BIN, "nsres-pid");
    // --pid host: the host's process list, this test among it.
    let me = std::process::id();
    let out =
        engine.ok(&["run", "--rm", "--pid", "host", IMAGE, "sh", "-c", &format!("test -d /proc/{me} && echo seen")]);
    assert_eq!(out, "seen\n");
    assert_eq!(
        engine.ok(&["run", "--rm", IMAGE, "sh", "-c", &format!("test -d /proc/{me} || echo hidden")]),
        "hidden\n"
    );
    // --pid container:X: X's processes (its sleep is pid 1 there), and X's namespace.
    engine.ok(&["run", "-d", "--name", "donor", IMAGE, "sleep", "1000"]);
    let out = engine.ok(&["run", "--rm", "--pid", "container:donor", IMAGE, "cat", "/proc/1/cmdline"]);
    assert_eq!(out, "sleep\u{0}1000\u{0}", "{out:?}");
    engine.ok(&["run", "-d", "--name", "joiner", "--pid", "container:donor", IMAGE, "sleep", "1000"]);
    assert_eq!(ns_of(&pid_of(&engine, "joiner"), "pid"), ns_of(&pid_of(&engine, "donor"), "pid"));
    let donor_id = inspect(&engine, "donor")["Id"].as_str().unwrap().to_owned();
    assert_eq!(inspect(&engine, "joiner")["HostConfig"]["PidMode"], format!("container:{donor_id}"));
    assert_eq!(inspect(&engine, "donor")["HostConfig"]["PidMode"], "");
    // Removing the donor ends its pid namespace: the kernel kills the joiner's processes.
    engine.ok(&["rm", "-f", "donor"]);
    wait_for("the joiner to end", || inspect(&engine, "joiner")["State"]["Status"] == "exited");
    // A stopped container has no namespace to join; bad modes are refused.
    engine.ok(&["create", "--name", "idle", IMAGE, "true"]);
    let err = engine.fails(&["run", "--rm", "--pid", "container:idle", IMAGE, "true"], 125);
    assert!(err.contains("not running"), "{err}");
    let err = engine.fails(&["run", "--rm", "--pid", "container:nosuch", IMAGE, "true"], 125);
    assert!(err.contains("nosuch"), "{err}");
    let err = engine.fails(&["run", "--rm", "--pid", "private", IMAGE, "true"], 125);
    assert!(err.contains("--pid"), "{err}");
    engine.ok(&["rm", "-f", "joiner", "idle"]);
    clean(&engine);
}

#[test]
fn ipc_modes() {
    let engine = Engine::with_busybox(BIN, "nsres-ipc");
    let host_ipc = ns_of("self", "ipc");
    let inner = |args: &[&str]| {
        let mut all = vec!["run", "--rm"];
        all.extend_from_slice(args);
        all.extend_from_slice(&[IMAGE, "readlink", "/proc/self/ns/ipc"]);
        engine.ok(&all).trim().to_owned()
    };
    assert_ne!(inner(&[]), host_ipc);
    assert_ne!(inner(&["--ipc", "private"]), host_ipc);
    assert_eq!(inner(&["--ipc", "host"]), host_ipc);
    // shareable: another container may join it, and sees its SysV objects.
    engine.ok(&["run", "-d", "--name", "shared", "--ipc", "shareable", IMAGE, "sleep", "1000"]);
    let shared_ipc = ns_of(&pid_of(&engine, "shared"), "ipc");
    assert_eq!(inner(&["--ipc", "container:shared"]), shared_ipc);
    assert_eq!(inspect(&engine, "shared")["HostConfig"]["IpcMode"], "shareable");
    // ... and its /dev/shm.
    engine.ok(&["exec", "shared", "sh", "-c", "echo from-shared > /dev/shm/note"]);
    assert_eq!(
        engine.ok(&["run", "--rm", "--ipc", "container:shared", IMAGE, "cat", "/dev/shm/note"]),
        "from-shared\n"
    );
    let err = engine.fails(&["run", "--rm", IMAGE, "cat", "/dev/shm/note"], 1);
    assert!(err.contains("No such file"), "{err}");
    // private (the default) may not be joined, as in Docker.
    engine.ok(&["run", "-d", "--name", "private", IMAGE, "sleep", "1000"]);
    let err = engine.fails(&["run", "--rm", "--ipc", "container:private", IMAGE, "true"], 125);
    assert!(err.contains("shareable"), "{err}");
    // host: the host's namespace and /dev/shm, also for a container joining such a one.
    let host_shm = std::os::unix::fs::MetadataExt::dev(&fs::metadata("/dev/shm").unwrap()).to_string();
    let shm_dev = |args: &[&str]| {
        let mut all = vec!["run", "--rm"];
        all.extend_from_slice(args);
        all.extend_from_slice(&[IMAGE, "stat", "-c", "%d", "/dev/shm"]);
        engine.ok(&all).trim().to_owned()
    };
    assert_eq!(shm_dev(&["--ipc", "host"]), host_shm);
    assert_ne!(shm_dev(&[]), host_shm);
    engine.ok(&["run", "-d", "--name", "hostipc", "--ipc", "host", IMAGE, "sleep", "1000"]);
    assert_eq!(inner(&["--ipc", "container:hostipc"]), host_ipc);
    assert_eq!(shm_dev(&["--ipc", "container:hostipc"]), host_shm);
    engine.ok(&["rm", "-f", "hostipc"]);
    // none: its own namespace and no /dev/shm.
    let mounts = engine.ok(&["run", "--rm", "--ipc", "none", IMAGE, "cat", "/proc/self/mounts"]);
    assert!(!mounts.contains(" /dev/shm "), "{mounts}");
    assert!(engine.ok(&["run", "--rm", IMAGE, "cat", "/proc/self/mounts"]).contains(" /dev/shm "));
    let err = engine.fails(&["run", "--rm", "--ipc", "bogus", IMAGE, "true"], 125);
    assert!(err.contains("--ipc"), "{err}");
    engine.ok(&["rm", "-f", "shared", "private"]);
    clean(&engine);
}

#[test]
fn uts_and_userns_host() {
    let engine = Engine::with_busybox(BIN, "nsres-uts");
    let host_name = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(engine.ok(&["run", "--rm", "--uts", "host", IMAGE, "hostname"]), host_name);
    assert_eq!(
        engine.ok(&["run", "--rm", "--uts", "host", IMAGE, "readlink", "/proc/self/ns/uts"]).trim(),
        ns_of("self", "uts")
    );
    let err = engine.fails(&["run", "--rm", "--uts", "host", "-h", "other", IMAGE, "true"], 125);
    assert!(err.contains("hostname"), "{err}");
    let err = engine.fails(&["run", "--rm", "--uts", "private", IMAGE, "true"], 125);
    assert!(err.contains("--uts"), "{err}");
    // --userns host: no user namespace, the host's full id range.
    let map = engine.ok(&["run", "--rm", "--userns", "host", IMAGE, "cat", "/proc/self/uid_map"]);
    assert_eq!(map.split_whitespace().collect::<Vec<_>>(), ["0", "0", "4294967295"]);
    let err = engine.fails(&["run", "--rm", "--userns", "host", "--user-ns", IMAGE, "true"], 125);
    assert!(err.contains("--userns"), "{err}");
    let err = engine.fails(&["run", "--rm", "--user-ns", "--pid", "host", IMAGE, "true"], 125);
    assert!(err.contains("--user-ns"), "{err}");
    let err = engine.fails(&["run", "--rm", "--userns", "remap", IMAGE, "true"], 125);
    assert!(err.contains("--userns"), "{err}");
    engine.ok(&["create", "--name", "upd", "--userns", "host", "--uts", "host", IMAGE, "true"]);
    let info = inspect(&engine, "upd");
    assert_eq!(info["HostConfig"]["UsernsMode"], "host");
    assert_eq!(info["HostConfig"]["UTSMode"], "host");
    engine.ok(&["rm", "upd"]);
    clean(&engine);
}

#[test]
fn memory_reservation_and_oom_settings() {
    let engine = Engine::with_busybox(BIN, "nsres-mem");
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "mem",
        "-m",
        "64m",
        "--memory-reservation",
        "32m",
        "--oom-kill-disable",
        "--oom-score-adj",
        "500",
        IMAGE,
        "sleep",
        "1000",
    ]);
    if is_v1("memory") {
        assert_eq!(cgroup_file(&engine, "mem", "memory", "memory.soft_limit_in_bytes").trim(), "33554432");
        let oom = cgroup_file(&engine, "mem", "memory", "memory.oom_control");
        assert!(oom.contains("oom_kill_disable 1"), "{oom}");
    } else {
        assert_eq!(cgroup_file(&engine, "mem", "memory", "memory.low").trim(), "33554432");
    }
    let pid = pid_of(&engine, "mem");
    assert_eq!(fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap().trim(), "500");
    assert_eq!(engine.ok(&["exec", "mem", "cat", "/proc/1/oom_score_adj"]), "500\n");
    let h = &inspect(&engine, "mem")["HostConfig"];
    assert_eq!(h["MemoryReservation"], 33554432);
    // Docker drops it on cgroup v2 (no such control there), with a warning.
    assert_eq!(h["OomKillDisable"], is_v1("memory"));
    assert_eq!(h["OomScoreAdj"], 500);
    engine.ok(&["rm", "-f", "mem"]);
    for (bad, what) in [
        (vec!["--oom-score-adj", "1001"], "--oom-score-adj"),
        (vec!["--oom-score-adj", "-1001"], "--oom-score-adj"),
        (vec!["-m", "32m", "--memory-reservation", "64m"], "reservation"),
        (vec!["--memory-reservation", "lots"], "--memory-reservation"),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(bad);
        args.extend([IMAGE, "true"]);
        let err = engine.fails(&args, 125);
        assert!(err.contains(what), "{args:?}: {err}");
    }
    clean(&engine);
}

#[test]
fn cpu_quota_period_and_realtime() {
    let engine = Engine::with_busybox(BIN, "nsres-cpu");
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "quota",
        "--cpu-quota",
        "50000",
        "--cpu-period",
        "200000",
        IMAGE,
        "sleep",
        "1000",
    ]);
    if is_v1("cpu") {
        assert_eq!(cgroup_file(&engine, "quota", "cpu", "cpu.cfs_quota_us").trim(), "50000");
        assert_eq!(cgroup_file(&engine, "quota", "cpu", "cpu.cfs_period_us").trim(), "200000");
    } else {
        assert_eq!(cgroup_file(&engine, "quota", "cpu", "cpu.max").trim(), "50000 200000");
    }
    let h = &inspect(&engine, "quota")["HostConfig"];
    assert_eq!((h["CpuQuota"].as_i64(), h["CpuPeriod"].as_i64()), (Some(50000), Some(200000)));
    for (bad, what) in [
        (vec!["--cpu-quota", "500"], "--cpu-quota"),
        (vec!["--cpu-period", "500"], "--cpu-period"),
        (vec!["--cpu-period", "2000000"], "--cpu-period"),
        (vec!["--cpus", "1", "--cpu-quota", "50000"], "--cpus"),
        (vec!["--cpu-rt-runtime", "20000", "--cpu-rt-period", "10000"], "--cpu-rt-runtime"),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(bad);
        args.extend([IMAGE, "true"]);
        let err = engine.fails(&args, 125);
        assert!(err.contains(what), "{args:?}: {err}");
    }
    // Realtime: where the kernel has RT group scheduling (v1 cpu.rt_runtime_us), the
    // container's cgroup holds the budget; elsewhere a clear refusal.
    let rt = [
        "run",
        "-d",
        "--name",
        "rt",
        "--cpu-rt-period",
        "1000000",
        "--cpu-rt-runtime",
        "10000",
        IMAGE,
        "sleep",
        "1000",
    ];
    if is_v1("cpu") && std::path::Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() {
        engine.ok(&rt);
        assert_eq!(cgroup_file(&engine, "rt", "cpu", "cpu.rt_runtime_us").trim(), "10000");
        assert_eq!(cgroup_file(&engine, "rt", "cpu", "cpu.rt_period_us").trim(), "1000000");
        assert_eq!(inspect(&engine, "rt")["HostConfig"]["CpuRealtimeRuntime"], 10000);
        // A second one beside it, on a shorter period: the parent's budget grows for both.
        engine.ok(&[
            "run",
            "-d",
            "--name",
            "rt2",
            "--cpu-rt-period",
            "500000",
            "--cpu-rt-runtime",
            "20000",
            IMAGE,
            "sleep",
            "1000",
        ]);
        assert_eq!(cgroup_file(&engine, "rt2", "cpu", "cpu.rt_runtime_us").trim(), "20000");
        assert_eq!(cgroup_file(&engine, "rt2", "cpu", "cpu.rt_period_us").trim(), "500000");
        engine.ok(&["rm", "-f", "rt", "rt2"]);
    } else {
        let err = engine.fails(&rt, 125);
        assert!(err.contains("realtime"), "{err}");
    }
    engine.ok(&["rm", "-f", "quota"]);
    clean(&engine);
}

/// The block device under `/`, as `/dev/NAME` and `MAJ:MIN` (a whole disk: throttles
/// apply to disks).
fn root_disk() -> Option<(String, String)> {
    for entry in fs::read_dir("/sys/block").ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("loop") || name.starts_with("zram") || name.starts_with("ram") {
            continue;
        }
        let dev = fs::read_to_string(entry.path().join("dev")).ok()?;
        if std::path::Path::new(&format!("/dev/{name}")).exists() {
            return Some((format!("/dev/{name}"), dev.trim().to_owned()));
        }
    }
    None
}

#[test]
fn blkio_weight_and_throttles() {
    let engine = Engine::with_busybox(BIN, "nsres-blkio");
    let (disk, majmin) = root_disk().expect("a block device");
    let rbps = format!("{disk}:1mb");
    let wiops = format!("{disk}:100");
    let riops = format!("{disk}:200");
    let wbps = format!("{disk}:2097152");
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "blk",
        "--blkio-weight",
        "300",
        "--device-read-bps",
        &rbps,
        "--device-write-bps",
        &wbps,
        "--device-read-iops",
        &riops,
        "--device-write-iops",
        &wiops,
        IMAGE,
        "sleep",
        "1000",
    ]);
    if is_v1("blkio") {
        let read = |f: &str| cgroup_file(&engine, "blk", "blkio", f);
        assert_eq!(read("blkio.throttle.read_bps_device").trim(), format!("{majmin} 1048576"));
        assert_eq!(read("blkio.throttle.write_bps_device").trim(), format!("{majmin} 2097152"));
        assert_eq!(read("blkio.throttle.read_iops_device").trim(), format!("{majmin} 200"));
        assert_eq!(read("blkio.throttle.write_iops_device").trim(), format!("{majmin} 100"));
        let weight = fs::read_to_string(format!(
            "/sys/fs/cgroup/blkio{}/{}/blkio.weight",
            engine.cgroup_parent,
            inspect(&engine, "blk")["Id"].as_str().unwrap()
        ))
        .unwrap_or_else(|_| read("blkio.bfq.weight"));
        assert!(weight.split_whitespace().any(|w| w == "300"), "{weight}");
    } else {
        let max = cgroup_file(&engine, "blk", "io", "io.max");
        assert!(max.contains(&format!("{majmin} rbps=1048576 wbps=2097152 riops=200 wiops=100")), "{max}");
    }
    let h = &inspect(&engine, "blk")["HostConfig"];
    assert_eq!(h["BlkioWeight"], 300);
    assert_eq!(h["BlkioDeviceReadBps"][0]["Path"], disk.as_str());
    assert_eq!(h["BlkioDeviceReadBps"][0]["Rate"], 1048576);
    assert_eq!(h["BlkioDeviceWriteIOps"][0]["Rate"], 100);
    engine.ok(&["rm", "-f", "blk"]);
    let weight_device = format!("{disk}:200");
    let out = engine.run(&["run", "--rm", "--blkio-weight-device", &weight_device, IMAGE, "true"]);
    // The per-device weight needs the BFQ scheduler on that disk: applied, or refused
    // with the kernel's reason, never ignored.
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{err}");
        assert!(err.contains("weight_device") || err.contains("io.weight") || err.contains("bfq"), "{err}");
    }
    for (bad, what) in [
        (vec!["--blkio-weight", "5"], "--blkio-weight"),
        (vec!["--blkio-weight", "1001"], "--blkio-weight"),
        (vec!["--device-read-bps", "/etc/passwd:1mb"], "--device-read-bps"),
        (vec!["--device-read-bps", disk.as_str()], "--device-read-bps"),
        (vec!["--device-write-iops", "/dev/nosuch:10"], "--device-write-iops"),
        (vec!["--blkio-weight-device", "/dev/null:100"], "--blkio-weight-device"),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(bad);
        args.extend([IMAGE, "true"]);
        let err = engine.fails(&args, 125);
        assert!(err.contains(what), "{args:?}: {err}");
    }
    clean(&engine);
}

#[test]
fn dns_search_and_options_in_resolv_conf() {
    let engine = Engine::with_busybox(BIN, "nsres-dns");
    let conf = engine.ok(&[
        "run",
        "--rm",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.com",
        "--dns-search",
        "corp.local",
        "--dns-option",
        "ndots:2",
        "--dns-option",
        "timeout:3",
        IMAGE,
        "cat",
        "/etc/resolv.conf",
    ]);
    let lines: Vec<&str> = conf.lines().collect();
    assert!(lines.contains(&"nameserver 192.0.2.53"), "{conf}");
    assert!(lines.contains(&"search example.com corp.local"), "{conf}");
    assert!(lines.contains(&"options ndots:2 timeout:3"), "{conf}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("search")).count(), 1, "{conf}");
    engine.ok(&["create", "--name", "dns", "--dns-search", "a.example", "--dns-option", "rotate", IMAGE, "true"]);
    let h = &inspect(&engine, "dns")["HostConfig"];
    assert_eq!(h["DnsSearch"], serde_json::json!(["a.example"]));
    assert_eq!(h["DnsOptions"], serde_json::json!(["rotate"]));
    engine.ok(&["rm", "dns"]);
    // No line of anyone's choosing reaches the file.
    for (flag, value) in [
        ("--dns-search", "a.com\nnameserver 6.6.6.6"),
        ("--dns-search", "a b"),
        ("--dns-option", "ndots:1\nnameserver 6.6.6.6"),
        ("--dns-option", "nd ots"),
        ("--dns-option", ""),
    ] {
        let err = engine.fails(&["run", "--rm", flag, value, IMAGE, "true"], 125);
        assert!(err.contains(flag), "{value:?}: {err}");
    }
    assert_eq!(engine.ok(&["ps", "-aq"]), "");
    clean(&engine);
}

#[test]
fn expose_and_publish_all() {
    let engine = Engine::with_busybox(BIN, "nsres-expose");
    engine.ok(&["create", "--name", "exp", "--expose", "8080", "--expose", "9000-9001/udp", IMAGE, "true"]);
    let exposed = inspect(&engine, "exp")["Config"]["ExposedPorts"].clone();
    let mut keys: Vec<&String> = exposed.as_object().expect("ExposedPorts").keys().collect();
    keys.sort();
    assert_eq!(keys, ["8080/tcp", "9000/udp", "9001/udp"]);
    engine.ok(&["rm", "exp"]);
    engine.ok(&["run", "-d", "--name", "pub", "-P", "--expose", "8080", IMAGE, "sleep", "1000"]);
    let ports = engine.ok(&["port", "pub"]);
    let line = ports.lines().find(|l| l.starts_with("8080/tcp -> 0.0.0.0:")).unwrap_or_else(|| panic!("{ports}"));
    let host_port: u16 = line.rsplit(':').next().unwrap().parse().unwrap();
    assert!(host_port > 0);
    engine.ok(&["rm", "-f", "pub"]);
    for bad in ["http", "80/sctp-ish", "0", "9001-9000", "70000"] {
        let err = engine.fails(&["run", "--rm", "--expose", bad, IMAGE, "true"], 125);
        assert!(err.contains("--expose"), "{bad}: {err}");
    }
    clean(&engine);
}

#[test]
fn label_file() {
    let engine = Engine::with_busybox(BIN, "nsres-labels");
    let file = engine.root.join("labels");
    fs::write(&file, "# team labels\na=1\n\nb=two words\nc\n").unwrap();
    let file = file.to_str().unwrap();
    engine.ok(&["create", "--name", "lab", "--label-file", file, "--label", "a=override", IMAGE, "true"]);
    let labels = inspect(&engine, "lab")["Config"]["Labels"].clone();
    assert_eq!(labels["a"], "override");
    assert_eq!(labels["b"], "two words");
    assert_eq!(labels["c"], "");
    engine.ok(&["rm", "lab"]);
    let err = engine.fails(&["create", "--label-file", "/no/such/labels", IMAGE, "true"], 125);
    assert!(err.contains("--label-file"), "{err}");
    assert_eq!(engine.ok(&["ps", "-aq"]), "");
    clean(&engine);
}

#[test]
fn platform() {
    let engine = Engine::with_busybox(BIN, "nsres-platform");
    assert_eq!(engine.ok(&["run", "--rm", "--platform", "linux/amd64", IMAGE, "echo", "ok"]), "ok\n");
    let err = engine.fails(&["run", "--rm", "--platform", "linux/arm64", IMAGE, "true"], 125);
    assert!(err.contains("linux/arm64") && err.contains("platform"), "{err}");
    let err =
        engine.fails(&["run", "--rm", "--platform", "linux/arm64", "--pull", "never", "localhost/absent", "true"], 125);
    assert!(err.contains("No such image"), "{err}");
    let err = engine.fails(&["run", "--rm", "--platform", "bogus", IMAGE, "true"], 125);
    assert!(err.contains("platform"), "{err}");
    assert_eq!(engine.ok(&["ps", "-aq"]), "");
    clean(&engine);
}

#[test]
fn update_resource_flags() {
    let engine = Engine::with_busybox(BIN, "nsres-update");
    engine.ok(&["run", "-d", "--name", "upd", "-m", "64m", IMAGE, "sleep", "1000"]);
    engine.ok(&[
        "update",
        "--cpu-quota",
        "30000",
        "--cpu-period",
        "100000",
        "--memory-reservation",
        "20m",
        "--blkio-weight",
        "400",
        "upd",
    ]);
    if is_v1("cpu") {
        assert_eq!(cgroup_file(&engine, "upd", "cpu", "cpu.cfs_quota_us").trim(), "30000");
        assert_eq!(cgroup_file(&engine, "upd", "memory", "memory.soft_limit_in_bytes").trim(), "20971520");
    } else {
        assert_eq!(cgroup_file(&engine, "upd", "cpu", "cpu.max").trim(), "30000 100000");
        assert_eq!(cgroup_file(&engine, "upd", "memory", "memory.low").trim(), "20971520");
    }
    let h = &inspect(&engine, "upd")["HostConfig"];
    assert_eq!(h["CpuQuota"], 30000);
    assert_eq!(h["MemoryReservation"], 20971520);
    assert_eq!(h["BlkioWeight"], 400);
    // The new limits outlive a restart.
    engine.ok(&["restart", "-t", "0", "upd"]);
    if is_v1("cpu") {
        assert_eq!(cgroup_file(&engine, "upd", "cpu", "cpu.cfs_quota_us").trim(), "30000");
        assert_eq!(cgroup_file(&engine, "upd", "memory", "memory.soft_limit_in_bytes").trim(), "20971520");
    } else {
        assert_eq!(cgroup_file(&engine, "upd", "cpu", "cpu.max").trim(), "30000 100000");
    }
    let err = engine.fails(&["update", "--cpu-quota", "10", "upd"], 125);
    assert!(err.contains("--cpu-quota"), "{err}");
    engine.ok(&["rm", "-f", "upd"]);
    clean(&engine);
}
