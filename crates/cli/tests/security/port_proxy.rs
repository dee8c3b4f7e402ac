//! The userland proxy of ports published on IPv6 (`lindocker-proxy`) listens in the
//! host's network namespace for any client and relays to a container: it must carry
//! nothing of the engine's or the shim's (descriptors, capabilities, root's user), and a flood of
//! connections must cost it a bounded number of descriptors and no busy loop.

use std::time::Duration;

use lindocker_testkit::{Engine, FakeHost, temp_dir};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// The pids of processes listening on TCP `port` in `host` (`ss -p`).
fn listeners(host: &FakeHost, port: u16) -> Vec<i32> {
    let out = host.run("ss", &["-Hlntp"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .filter(|l| l.split_whitespace().nth(3).is_some_and(|local| local.ends_with(&format!(":{port}"))))
        .flat_map(|l| l.split("pid=").skip(1).filter_map(|p| p.split(',').next()?.parse().ok()).collect::<Vec<_>>())
        .collect()
}

fn status_field(pid: i32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).unwrap_or_default().trim().to_owned()
}

/// Clock ticks of CPU the process has used (user + system).
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn open_fds(pid: i32) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().flatten() {
        let target = std::fs::read_link(e.path()).map(|t| t.display().to_string()).unwrap_or_default();
        out.push(format!("{} -> {target}", e.file_name().to_string_lossy()));
    }
    out
}

/// A web server in a container published on `[::1]:8080`, and the pid of its proxy.
fn published_web(host: &FakeHost, engine: &Engine, name: &str) -> (i32, std::path::PathBuf) {
    let www = temp_dir(&format!("{name}-www"));
    std::fs::write(www.join("index.html"), "hello\n").unwrap();
    let volume = format!("{}:/www:ro", www.display());
    engine.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "--dns",
        "127.0.0.1",
        "-v",
        &volume,
        "-p",
        "[::1]:8080:80",
        "localhost/busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    let proxies = listeners(host, 8080);
    assert_eq!(proxies.len(), 1, "one proxy on [::1]:8080: {proxies:?}");
    (proxies[0], www)
}

fn fetch(host: &FakeHost) -> bool {
    let out = host.run("timeout", &["5", "busybox", "wget", "-qO-", "http://[::1]:8080/"]);
    out.status.success() && out.stdout == b"hello\n"
}

#[test]
fn the_port_proxy_holds_no_inherited_descriptor_and_no_capability() {
    let host = FakeHost::new("pxfd");
    let engine = Engine::in_host(BIN, "pxfd", &host);
    let (proxy, www) = published_web(&host, &engine, "pxfd");
    assert!(fetch(&host), "the published port does not answer");
    // Its descriptors: stdio (the null device, the pipe it said "ready" on) and its one
    // listening socket; nothing of the shim's or the engine's.
    let fds = open_fds(proxy);
    let other: Vec<&String> = fds
        .iter()
        .filter(|f| {
            let (num, target) = f.split_once(" -> ").unwrap();
            !(num.parse::<i32>().unwrap() <= 2 || target.starts_with("socket:"))
        })
        .collect();
    assert!(other.is_empty(), "descriptors the proxy inherited: {other:?} (all: {fds:?})");
    // Once the fetch's relay has ended, its listener alone.
    let sockets = || open_fds(proxy).iter().filter(|f| f.contains("socket:")).count();
    for _ in 0..50 {
        if sockets() == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let ss = String::from_utf8_lossy(&host.run("ss", &["-Htanp"]).stdout).into_owned();
    assert_eq!(sockets(), 1, "an idle proxy holds sockets besides its listener: {:?}\n{ss}", open_fds(proxy));
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_field(proxy, set), "0000000000000000", "{set}");
    }
    // Not root either: uid 0 without capabilities still owns (and may write) root's
    // files; nobody owns none.
    assert_eq!(status_field(proxy, "Uid").split_whitespace().collect::<Vec<_>>(), ["65534"; 4], "Uid");
    assert_eq!(status_field(proxy, "Gid").split_whitespace().collect::<Vec<_>>(), ["65534"; 4], "Gid");
    assert_eq!(status_field(proxy, "Groups"), "", "Groups");
    assert_eq!(status_field(proxy, "NoNewPrivs"), "1");
    assert_eq!(status_field(proxy, "Seccomp"), "2");
    engine.ok(&["rm", "-f", "pxfd"]);
    std::fs::remove_dir_all(&www).unwrap();
}

/// A client opens far more connections than the proxy relays, and holds them: the proxy
/// must neither spin on a failing accept (a full descriptor table) nor stop serving once
/// they are gone. The engine runs with the usual soft limit of 1024 descriptors.
#[test]
fn a_connection_flood_neither_spins_the_proxy_nor_breaks_it() {
    let host = FakeHost::new("pxflood");
    // As a service started by systemd (LimitNOFILE's soft 1024), for the processes the
    // engine starts from now: the shim and its proxy.
    let engine = Engine::in_host(BIN, "pxflood", &host);
    let (proxy, www) = {
        let old = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        let low = rustix::process::Rlimit { current: Some(1024), maximum: old.maximum };
        rustix::process::setrlimit(rustix::process::Resource::Nofile, low).unwrap();
        let r = published_web(&host, &engine, "pxflood");
        rustix::process::setrlimit(rustix::process::Resource::Nofile, old).unwrap();
        r
    };
    assert!(fetch(&host), "the published port does not answer");

    // 3000 connections, held open (python raises its own soft limit to its hard one).
    let script = r#"
import resource, socket, sys, time
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held = []
for i in range(3000):
    s = socket.socket(socket.AF_INET6)
    s.setblocking(False)
    s.connect_ex(('::1', 8080))
    held.append(s)
    if i % 200 == 0:
        time.sleep(0.05)
print('held', flush=True)
time.sleep(60)
"#;
    let mut flood = host.command("python3").args(["-c", script]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(flood.stdout.take().unwrap()), &mut line).unwrap();
    assert_eq!(line, "held\n");
    std::thread::sleep(Duration::from_secs(2));
    let (before, fds) = (cpu_ticks(proxy), open_fds(proxy).len());
    std::thread::sleep(Duration::from_secs(3));
    let spent = cpu_ticks(proxy) - before;
    let _ = flood.kill();
    let _ = flood.wait();
    // A proxy that spins burns all of one CPU: 300 ticks in 3 s.
    assert!(spent < 50, "the proxy used {spent} ticks of CPU in 3 s under a held flood ({fds} descriptors)");
    // Once the flood is gone, it serves again.
    let mut served = false;
    for _ in 0..20 {
        if fetch(&host) {
            served = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(served, "the proxy does not serve after the flood");
    engine.ok(&["rm", "-f", "pxflood"]);
    std::fs::remove_dir_all(&www).unwrap();
}

#[test]
fn spoofed_udp_sources_cannot_lock_a_client_out() {
    // Datagrams from many source ports (cheap to spoof) each open a UDP flow; with the
    // flow table full, a real client must still get through, not wait out the idle time.
    let host = FakeHost::new("pxudp");
    let engine = Engine::in_host(BIN, "pxudp", &host);
    engine.ok(&["run", "-d", "--name", "dns", "-p", "[::1]:5353:53/udp", "localhost/busybox", "sleep", "1000"]);
    let info: serde_json::Value = serde_json::from_str(&engine.ok(&["inspect", "dns"])).unwrap();
    let pid = info[0]["State"]["Pid"].as_i64().unwrap();
    let ip = info[0]["NetworkSettings"]["IPAddress"].as_str().unwrap().to_owned();
    let dnsq = |netns: &str| {
        let mut c = std::process::Command::new("nsenter");
        c.arg(format!("--net={netns}")).arg("--").arg(lindocker_testkit::dnsq_path());
        c
    };
    let mut server = dnsq(&format!("/proc/{pid}/ns/net")).args(["serve", &ip]).spawn().unwrap();
    let host_ns = host.path.display().to_string();
    // Three tries of 5 s at most each: well inside the flows' 30 s idle time.
    let answered = || {
        (0..3).any(|_| {
            let out = dnsq(&host_ns)
                .args(["query", "[::1]:5353", "example.test"])
                .stderr(std::process::Stdio::null())
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).contains("192.0.2.7")
        })
    };
    assert!(answered(), "no answer through the proxy at all");
    // 400 sources, each sending one datagram the server does not answer.
    let flood = "import socket\nfor i in range(400):\n    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n    s.sendto(b'x', ('::1', 5353))\n    s.close()\n";
    let out = host.run("python3", &["-c", flood]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(Duration::from_millis(300));
    let served = answered();
    // An evicted flow's thread ends: the threads stay within the table's bound.
    let out = host.run("ss", &["-Hlunp"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let proxy: i32 = text
        .lines()
        .find(|l| l.contains(":5353"))
        .and_then(|l| l.split("pid=").nth(1)?.split(',').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no proxy on udp 5353: {text}"));
    let threads: usize = status_field(proxy, "Threads").parse().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    engine.ok(&["rm", "-f", "dns"]);
    assert!(served, "a client is locked out while spoofed flows fill the table");
    assert!(threads <= 256 + 4, "{threads} threads after 400 sources");
}
