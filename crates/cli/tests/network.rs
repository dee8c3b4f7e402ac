//! Networks end to end, every test inside throw-away network namespaces that play the
//! host (and a second host wired to it): names, published ports (TCP and UDP, from the
//! host's loopback, from another host, from containers), isolation, internal networks,
//! none/host/container modes, IPAM under load, bad input, and teardown.

use std::time::Duration;

use lindocker_testkit::{Engine, FakeHost, temp_dir};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

fn ip_of(engine: &Engine, name: &str) -> String {
    let out: Value = serde_json::from_str(&engine.ok(&["inspect", name])).unwrap();
    out[0]["NetworkSettings"]["IPAddress"].as_str().unwrap().to_owned()
}

/// The body at `url`, fetched from inside `host`. A failed try is told on stderr with
/// what the host looked like then, and tried again (up to three times): CI once saw one
/// fetch fail where every rerun passed, and the next such failure must say why.
fn wget(host: &FakeHost, url: &str) -> Option<String> {
    for attempt in 1..=3 {
        let out = host.run("timeout", &["5", "busybox", "wget", "-qO-", url]);
        if out.status.success() {
            return Some(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let addresses = host.run("ip", &["-br", "addr"]);
        eprintln!(
            "wget {url} in {} failed (try {attempt}, {}): {}\naddresses:\n{}ruleset:\n{}",
            host.name,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&addresses.stdout),
            host.ruleset()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    None
}

fn web(engine: &Engine, name: &str, args: &[&str]) -> std::path::PathBuf {
    let www = temp_dir(&format!("{name}-www"));
    std::fs::write(www.join("index.html"), format!("hello from {name}\n")).unwrap();
    let volume = format!("{}:/www:ro", www.display());
    // Names not in /etc/hosts go to this resolver: loopback, so a lookup of a removed
    // container fails at once and no query leaves the fake host.
    let mut all = vec!["run", "-d", "--name", name, "--dns", "127.0.0.1", "-v", &volume];
    all.extend_from_slice(args);
    all.extend(["localhost/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]);
    engine.ok(&all);
    www
}

/// Waits for the links of `host` to be `before` again (the kernel deletes a namespace's
/// links in the background once it is gone), then insists.
fn links_return_to(host: &FakeHost, before: &str) {
    for _ in 0..100 {
        if host.links() == before {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(host.links(), before, "links left behind");
}

/// After the last network is gone: no link, rule, netns bind, mount, cgroup or process.
fn nothing_left(host: &FakeHost, engine: &Engine, links_before: &str) {
    links_return_to(host, links_before);
    assert!(!host.ruleset().contains("lindocker"), "nft rules left behind:\n{}", host.ruleset());
    assert_eq!(std::fs::read_dir(engine.state.join("netns")).map(|d| d.count()).unwrap_or(0), 0, "netns binds left");
    let left = engine.leftovers();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn names_ports_isolation_and_teardown() {
    let host = FakeHost::new("names");
    let other_host = FakeHost::new("names2");
    host.wire(&other_host, "192.168.213.1/24", "192.168.213.2/24");
    let engine = Engine::in_host(BIN, "names", &host);
    let links_before = host.links();

    engine.ok(&["network", "create", "--subnet", "10.89.0.0/24", "front"]);
    engine.ok(&["network", "create", "back"]);
    let www = web(&engine, "web", &["--network", "front", "--network-alias", "site", "-p", "8080:80"]);
    let web_ip = ip_of(&engine, "web");
    assert!(web_ip.starts_with("10.89.0."), "{web_ip}");

    // By name and alias, from a container on the same network (ping and wget).
    let out = engine.ok(&[
        "run",
        "--rm",
        "--network",
        "front",
        "localhost/busybox",
        "sh",
        "-c",
        "wget -qO- http://web/ && wget -qO- http://site/ && ping -c1 -W2 web >/dev/null && echo pinged",
    ]);
    assert_eq!(out, "hello from web\nhello from web\npinged\n");
    // A container started later is found; a removed one is not.
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "late",
        "--network",
        "front",
        "--dns",
        "127.0.0.1",
        "localhost/busybox",
        "sleep",
        "1000",
    ]);
    engine.ok(&["exec", "web", "ping", "-c1", "-W2", "late"]);
    // Joined to a second network while it runs, then taken off it again.
    engine.ok(&["network", "connect", "--alias", "second", "back", "late"]);
    let addr = engine.ok(&["exec", "late", "sh", "-c", "ip -o -4 addr show eth1 | awk '{print $4}'"]);
    assert!(!addr.trim().is_empty() && !addr.starts_with("10.89."), "eth1 on back: {addr:?}");
    engine.ok(&["run", "--rm", "--network", "back", "localhost/busybox", "ping", "-c1", "-W2", "second"]);
    engine.ok(&["network", "disconnect", "back", "late"]);
    assert!(!engine.run(&["exec", "late", "ip", "link", "show", "eth1"]).status.success(), "eth1 is gone");
    engine.ok(&["rm", "-f", "late"]);
    assert!(
        !engine.run(&["exec", "web", "ping", "-c1", "-W1", "late"]).status.success(),
        "a removed container's name is gone"
    );

    // The published port: from the host's loopback, its other address, another host,
    // and a container (hairpin through the gateway).
    assert_eq!(wget(&host, "http://127.0.0.1:8080/").as_deref(), Some("hello from web\n"));
    assert_eq!(wget(&host, "http://192.168.213.1:8080/").as_deref(), Some("hello from web\n"));
    assert_eq!(wget(&other_host, "http://192.168.213.1:8080/").as_deref(), Some("hello from web\n"));
    let out = engine.ok(&[
        "run",
        "--rm",
        "--network",
        "front",
        "localhost/busybox",
        "wget",
        "-qO-",
        "http://10.89.0.1:8080/",
    ]);
    assert_eq!(out, "hello from web\n");
    assert!(engine.ok(&["port", "web"]).contains("80/tcp -> 0.0.0.0:8080"));
    assert!(engine.ok(&["ps"]).contains("0.0.0.0:8080->80/tcp"));

    // Isolation: from another network the web container is out of reach, and its name unknown.
    // (--init: a PID 1 ignores the SIGTERM that `timeout` sends.)
    let out = engine.run(&[
        "run",
        "--rm",
        "--init",
        "--network",
        "back",
        "localhost/busybox",
        "timeout",
        "3",
        "wget",
        "-qO-",
        &format!("http://{web_ip}/"),
    ]);
    assert!(!out.status.success(), "a container on another network reached web");
    // A container on a non-internal network reaches the other host (masquerade).
    engine.ok(&["run", "--rm", "--network", "back", "localhost/busybox", "ping", "-c1", "-W2", "192.168.213.2"]);

    // A port already published is refused before the container starts, nothing made.
    let err = engine.fails(&["run", "-d", "--name", "clash", "-p", "8080:80", "localhost/busybox", "sleep", "10"], 125);
    assert!(err.contains("already allocated"), "{err}");
    let err = engine.fails(&["run", "--rm", "-p", "80:80:80:80", "localhost/busybox", "true"], 125);
    assert!(err.contains("-p"), "{err}");

    engine.ok(&["rm", "-f", "web", "clash"]);
    let err = engine.fails(&["network", "rm", "nosuch"], 1);
    assert!(err.contains("not found"), "{err}");
    engine.ok(&["network", "rm", "front", "back"]);
    engine.ok(&["network", "rm", "bridge"]);
    nothing_left(&host, &engine, &links_before);
    std::fs::remove_dir_all(&www).unwrap();
}

#[test]
fn internal_none_host_and_container_modes() {
    let host = FakeHost::new("modes");
    let other_host = FakeHost::new("modes2");
    host.wire(&other_host, "192.168.214.1/24", "192.168.214.2/24");
    let engine = Engine::in_host(BIN, "modes", &host);
    engine.ok(&["network", "create", "--internal", "vault"]);
    engine.ok(&["run", "-d", "--name", "safe", "--network", "vault", "localhost/busybox", "sleep", "1000"]);
    // Inside an internal network: peers yes, the way out no.
    engine.ok(&["run", "--rm", "--network", "vault", "localhost/busybox", "ping", "-c1", "-W2", "safe"]);
    let out =
        engine.run(&["run", "--rm", "--network", "vault", "localhost/busybox", "ping", "-c1", "-W2", "192.168.214.2"]);
    assert!(!out.status.success(), "an internal network let traffic out");

    let links = engine.ok(&["run", "--rm", "--network", "none", "localhost/busybox", "sh", "-c", "ls /sys/class/net"]);
    assert_eq!(links.split_whitespace().collect::<Vec<_>>(), vec!["lo"]);
    let links = engine.ok(&["run", "--rm", "--network", "host", "localhost/busybox", "ls", "/sys/class/net"]);
    assert!(links.contains("ld-"), "host mode sees the fake host's links: {links}");
    let joined = engine.ok(&[
        "run",
        "--rm",
        "--network",
        "container:safe",
        "localhost/busybox",
        "sh",
        "-c",
        "ip -o -4 addr show eth0 | awk '{print $4}'",
    ]);
    assert_eq!(joined.trim().split('/').next().unwrap(), ip_of(&engine, "safe"));

    // UDP publishing.
    engine.ok(&["network", "create", "udpnet"]);
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "udp",
        "--network",
        "udpnet",
        "-p",
        "127.0.0.1:5353:53/udp",
        "localhost/busybox",
        "checker",
        "--udp-recv",
        "53",
    ]);
    let checker = lindocker_testkit::checker_path();
    let mut got = String::new();
    // UDP is not retried by anyone: send until the receiver has one (it exits then).
    for _ in 0..50 {
        host.command(checker.to_str().unwrap()).args(["--udp-send", "127.0.0.1:5353", "datagram"]).status().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        got = engine.ok(&["logs", "udp"]);
        if got.contains("datagram") {
            break;
        }
    }
    assert!(got.contains("datagram"), "the datagram did not arrive: {got:?}");
    engine.ok(&["rm", "-f", "safe", "udp"]);
    engine.ok(&["network", "rm", "vault", "udpnet"]);
    let left = engine.leftovers();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn bad_network_input_changes_nothing() {
    let host = FakeHost::new("badnet");
    let engine = Engine::in_host(BIN, "badnet", &host);
    engine.ok(&["network", "create", "--subnet", "10.90.0.0/24", "taken"]);
    let listing = engine.ok(&["network", "ls"]);
    let links = host.links();
    for (args, needle) in [
        (vec!["network", "create", "--subnet", "10.90.0.128/25", "overlap"], "overlaps"),
        (vec!["network", "create", "--subnet", "10.91.0.0/24", "--gateway", "10.92.0.1", "gw"], "gateway"),
        (vec!["network", "create", "taken"], "already exists"),
        (vec!["network", "create", "--subnet", "nonsense", "x"], "--subnet"),
    ] {
        let err = engine.fails(&args, 1);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    for (args, needle) in [
        (vec!["run", "--rm", "--network", "missing", "localhost/busybox", "true"], "not found"),
        (vec!["run", "--rm", "--network", "taken", "--ip", "10.77.0.5", "localhost/busybox", "true"], "10.77.0.5"),
        (vec!["run", "--rm", "-p", "http", "localhost/busybox", "true"], "-p"),
    ] {
        let err = engine.fails(&args, 125);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "first",
        "--network",
        "taken",
        "--ip",
        "10.90.0.9",
        "localhost/busybox",
        "sleep",
        "100",
    ]);
    let err =
        engine.fails(&["run", "--rm", "--network", "taken", "--ip", "10.90.0.9", "localhost/busybox", "true"], 125);
    assert!(err.contains("already in use"), "{err}");
    let err = engine.fails(&["network", "rm", "taken"], 1);
    assert!(err.contains("active endpoints"), "{err}");
    engine.ok(&["rm", "-f", "first"]);
    assert_eq!(engine.ok(&["ps", "-aq"]), "", "failed runs leave no container");
    assert_eq!(engine.ok(&["network", "ls"]), listing);
    links_return_to(&host, &links);
    engine.ok(&["network", "rm", "taken"]);
}

#[test]
fn a_full_subnet_and_parallel_allocation() {
    let host = FakeHost::new("ipam");
    let engine = Engine::in_host(BIN, "ipam", &host);
    engine.ok(&["network", "create", "--subnet", "10.93.0.0/30", "tiny"]);
    engine.ok(&["run", "-d", "--name", "only", "--network", "tiny", "localhost/busybox", "sleep", "100"]);
    let err = engine.fails(&["run", "--rm", "--network", "tiny", "localhost/busybox", "true"], 125);
    assert!(err.contains("full"), "{err}");
    engine.ok(&["rm", "-f", "only"]);
    engine.ok(&["network", "rm", "tiny"]);

    // 100 containers started in parallel on one network get 100 distinct addresses.
    engine.ok(&["network", "create", "--subnet", "10.94.0.0/24", "crowd"]);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let cmds: Vec<std::process::Command> = (0..25)
                .map(|i| {
                    let mut c = engine.cmd();
                    c.args([
                        "run",
                        "-d",
                        "--name",
                        &format!("c{t}-{i}"),
                        "--network",
                        "crowd",
                        "localhost/busybox",
                        "sleep",
                        "1000",
                    ])
                    .stdout(std::process::Stdio::null());
                    c
                })
                .collect();
            std::thread::spawn(move || {
                cmds.into_iter().map(|mut c| c.status().unwrap().success()).filter(|ok| *ok).count()
            })
        })
        .collect();
    let started: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(started, 100);
    let (network, _): (Value, ()) = (serde_json::from_str(&engine.ok(&["network", "inspect", "crowd"])).unwrap(), ());
    let containers = network[0]["Containers"].as_object().unwrap();
    let mut ips: Vec<&str> = containers.values().map(|c| c["IPv4Address"].as_str().unwrap()).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 100);
    let ids: Vec<String> = engine.ok(&["ps", "-q"]).lines().map(str::to_owned).collect();
    let mut rm = vec!["rm", "-f"];
    rm.extend(ids.iter().map(String::as_str));
    engine.ok(&rm);
    engine.ok(&["network", "rm", "crowd"]);
    let left = engine.leftovers();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn ipv6_networks_names_ports_and_masquerade() {
    let host = FakeHost::new("v6");
    let other_host = FakeHost::new("v6b");
    host.wire(&other_host, "fd99::1/64", "fd99::2/64");
    let engine = Engine::in_host(BIN, "v6", &host);
    let links_before = host.links();

    let err = engine.fails(&["network", "create", "--subnet", "fd00:90::/64", "nov6"], 1);
    assert!(err.contains("--ipv6"), "{err}");
    engine.ok(&["network", "create", "--ipv6", "--subnet", "10.90.0.0/24", "--subnet", "fd00:90::/64", "six"]);
    let err = engine.fails(&["network", "create", "--ipv6", "--subnet", "fd00:90::/64", "again"], 1);
    assert!(err.contains("overlaps"), "{err}");
    assert!(!engine.ok(&["network", "ls"]).contains("nov6") && !engine.ok(&["network", "ls"]).contains("again"));

    let www = web(&engine, "web6", &["--network", "six", "--ip6", "fd00:90::80", "-p", "8080:80"]);
    let info: Value = serde_json::from_str(&engine.ok(&["inspect", "web6"])).unwrap();
    assert_eq!(info[0]["NetworkSettings"]["Networks"]["six"]["GlobalIPv6Address"], "fd00:90::80");
    // By name (its IPv6 address is in /etc/hosts) and by address, from a container.
    let out = engine.ok(&[
        "run",
        "--rm",
        "--network",
        "six",
        "--dns",
        "127.0.0.1",
        "localhost/busybox",
        "sh",
        "-c",
        "ping6 -c1 -W2 web6 >/dev/null && echo pinged; wget -qO- http://[fd00:90::80]/",
    ]);
    assert_eq!(out, "pinged\nhello from web6\n");
    // The published port over IPv6: from the host's own address and from another host.
    assert_eq!(wget(&host, "http://[fd99::1]:8080/").as_deref(), Some("hello from web6\n"));
    assert_eq!(wget(&other_host, "http://[fd99::1]:8080/").as_deref(), Some("hello from web6\n"));
    // Out through masquerade to the other host, which has no route to the container.
    engine.ok(&["run", "--rm", "--network", "six", "localhost/busybox", "ping6", "-c1", "-W2", "fd99::2"]);

    // Without --subnet, a unique local /64 is picked.
    engine.ok(&["network", "create", "--ipv6", "auto6"]);
    let auto: Value = serde_json::from_str(&engine.ok(&["network", "inspect", "auto6"])).unwrap();
    let subnet6 = auto[0]["IPAM"]["Config"][1]["Subnet"].as_str().unwrap().to_owned();
    assert!(subnet6.starts_with("fd") && subnet6.ends_with("::/64"), "{subnet6}");
    // --ip6 on a network without IPv6 is refused, nothing made.
    let err = engine.fails(&["run", "--rm", "--name", "noip6", "--ip6", "fd00::5", "localhost/busybox", "true"], 125);
    assert!(err.contains("IPv6"), "{err}");
    engine.fails(&["inspect", "noip6"], 1);

    engine.ok(&["rm", "-f", "web6"]);
    engine.ok(&["network", "rm", "six", "auto6", "bridge"]);
    nothing_left(&host, &engine, &links_before);
    std::fs::remove_dir_all(&www).unwrap();
}

/// Whether a fetch of `url` from inside `host` fails (one try).
fn refused(host: &FakeHost, url: &str) -> bool {
    !host.run("timeout", &["3", "busybox", "wget", "-qO-", url]).status.success()
}

/// `lindocker-dnsq ARGS` in the network namespace at `netns` (a fake host's, or a
/// container's `/proc/PID/ns/net`).
fn dnsq_at(netns: &str, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new("nsenter");
    c.arg(format!("--net={netns}")).arg("--").arg(lindocker_testkit::dnsq_path()).args(args);
    c.stdin(std::process::Stdio::null());
    c
}

/// The pids of processes listening on `port` in `host` (`ss -p`).
fn listeners(host: &FakeHost, port: u16) -> Vec<i32> {
    let out = host.run("ss", &["-Hlntup"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .filter(|l| l.split_whitespace().nth(4).is_some_and(|local| local.ends_with(&format!(":{port}"))))
        .flat_map(|l| l.split("pid=").skip(1).filter_map(|p| p.split(',').next()?.parse().ok()).collect::<Vec<_>>())
        .collect()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn ports_on_ipv6_loopback_and_addresses_through_the_proxy() {
    let host = FakeHost::new("px6");
    let other_host = FakeHost::new("px6b");
    host.wire(&other_host, "fd97::1/64", "fd97::2/64");
    let engine = Engine::in_host(BIN, "px6", &host);
    let links_before = host.links();
    engine.ok(&["network", "create", "--subnet", "10.97.0.0/24", "four"]);
    engine.ok(&["network", "create", "--ipv6", "--subnet", "10.98.0.0/24", "--subnet", "fd00:98::/64", "six"]);
    let www4 =
        web(&engine, "w4", &["--network", "four", "-p", "8080:80", "-p", "[::1]:8081:80", "-p", "127.0.0.1:8082:80"]);
    let www6 = web(&engine, "w6", &["--network", "six", "-p", "9080:80", "-p", "[::]:9081:80"]);
    let hello4 = Some("hello from w4\n");
    let hello6 = Some("hello from w6\n");

    // `-p 8080:80` is every address, IPv4 and IPv6, loopback too, as Docker's; to a
    // container without IPv6 through the proxy.
    assert_eq!(wget(&host, "http://127.0.0.1:8080/").as_deref(), hello4);
    assert_eq!(wget(&host, "http://[::1]:8080/").as_deref(), hello4);
    assert_eq!(wget(&host, "http://[fd97::1]:8080/").as_deref(), hello4);
    assert_eq!(wget(&other_host, "http://[fd97::1]:8080/").as_deref(), hello4);
    // `[::1]:` is IPv6 loopback only; `127.0.0.1:` IPv4 loopback only.
    assert_eq!(wget(&host, "http://[::1]:8081/").as_deref(), hello4);
    assert!(refused(&host, "http://127.0.0.1:8081/"), "[::1]:8081 answered on 127.0.0.1");
    assert_eq!(wget(&host, "http://127.0.0.1:8082/").as_deref(), hello4);
    assert!(refused(&host, "http://[::1]:8082/"), "127.0.0.1:8082 answered on ::1");
    // A container with IPv6: ::1 through the proxy, the host's addresses through nft.
    assert_eq!(wget(&host, "http://[::1]:9080/").as_deref(), hello6);
    assert_eq!(wget(&host, "http://127.0.0.1:9080/").as_deref(), hello6);
    assert_eq!(wget(&host, "http://[fd97::1]:9080/").as_deref(), hello6);
    assert_eq!(wget(&other_host, "http://[fd97::1]:9080/").as_deref(), hello6);
    assert_eq!(wget(&host, "http://[::1]:9081/").as_deref(), hello6);
    assert!(refused(&host, "http://127.0.0.1:9081/"), "[::]:9081 answered on 127.0.0.1");
    // Listed as Docker lists them: `0.0.0.0` with its IPv6 side `[::]`, every binding of
    // a port kept.
    let port = engine.ok(&["port", "w4"]);
    let mut lines: Vec<&str> = port.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        ["80/tcp -> 0.0.0.0:8080", "80/tcp -> 127.0.0.1:8082", "80/tcp -> [::1]:8081", "80/tcp -> [::]:8080"],
        "{port}"
    );
    assert_eq!(engine.ok(&["port", "w4", "80"]).lines().count(), 4);
    assert!(engine.ok(&["ps"]).contains("0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"));
    let info: Value = serde_json::from_str(&engine.ok(&["inspect", "w4"])).unwrap();
    let mut bindings: Vec<String> = info[0]["NetworkSettings"]["Ports"]["80/tcp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| format!("{} {}", b["HostIp"].as_str().unwrap(), b["HostPort"].as_str().unwrap()))
        .collect();
    bindings.sort();
    assert_eq!(bindings, ["0.0.0.0 8080", "127.0.0.1 8082", ":: 8080", "::1 8081"]);

    // UDP, both ways: a DNS server in the container's namespace answers through the proxy.
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "u4",
        "--network",
        "four",
        "-p",
        "5353:53/udp",
        "localhost/busybox",
        "sleep",
        "1000",
    ]);
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "u6",
        "--network",
        "six",
        "-p",
        "[::1]:5354:53/udp",
        "localhost/busybox",
        "sleep",
        "1000",
    ]);
    let netns_of = |name: &str| {
        let info: Value = serde_json::from_str(&engine.ok(&["inspect", name])).unwrap();
        let pid = info[0]["State"]["Pid"].as_i64().unwrap();
        let nets = &info[0]["NetworkSettings"]["Networks"];
        let ip = nets.as_object().unwrap().values().next().unwrap();
        let v6 = ip["GlobalIPv6Address"].as_str().unwrap_or_default().to_owned();
        (format!("/proc/{pid}/ns/net"), if v6.is_empty() { ip["IPAddress"].as_str().unwrap().to_owned() } else { v6 })
    };
    let host_ns = host.path.display().to_string();
    for (name, published) in [("u4", "[::1]:5353"), ("u6", "[::1]:5354")] {
        let (ns, addr) = netns_of(name);
        let mut server = dnsq_at(&ns, &["serve", &addr]).spawn().unwrap();
        let mut answer = String::new();
        for _ in 0..20 {
            let out = dnsq_at(&host_ns, &["query", published, "example.test"]).output().unwrap();
            answer = String::from_utf8_lossy(&out.stdout).into_owned();
            if answer.contains("192.0.2.7") {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        server.kill().unwrap();
        server.wait().unwrap();
        assert!(answer.contains("192.0.2.7"), "{name}: no answer through {published}: {answer:?}");
    }

    // A port taken on ::1 by the host is refused clearly, before anything is made.
    let mut squatter = host
        .command("python3")
        .args(["-c", "import socket,time\ns=socket.socket(socket.AF_INET6)\ns.bind(('::1',8090))\ns.listen()\nprint('up',flush=True)\ntime.sleep(60)"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(squatter.stdout.take().unwrap()), &mut line).unwrap();
    let err = engine.fails(&["run", "-d", "--name", "clash", "-p", "8090:80", "localhost/busybox", "sleep", "10"], 125);
    assert!(err.contains("8090") && err.contains("already allocated"), "{err}");
    let err = engine
        .fails(&["run", "-d", "--name", "clash6", "-p", "[::1]:8090:80", "localhost/busybox", "sleep", "10"], 125);
    assert!(err.contains("[::1]:8090") && err.contains("already allocated"), "{err}");
    squatter.kill().unwrap();
    squatter.wait().unwrap();
    assert_eq!(listeners(&host, 8090), Vec::<i32>::new(), "a listener of the refused container");

    // The proxy is the shim's child and dies with it, even by SIGKILL.
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "killed",
        "--network",
        "four",
        "-p",
        "8085:80",
        "localhost/busybox",
        "sleep",
        "1000",
    ]);
    let proxies = listeners(&host, 8085);
    assert_eq!(proxies.len(), 1, "one proxy on [::]:8085");
    let status = std::fs::read_to_string(format!("/proc/{}/status", proxies[0])).unwrap();
    let shim: i32 = status.lines().find_map(|l| l.strip_prefix("PPid:")).unwrap().trim().parse().unwrap();
    assert!(engine.shims().contains(&shim), "the proxy's parent {shim} is the container's shim");
    // Confined: no capability, no_new_privs, a seccomp filter.
    for l in ["CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2"] {
        assert!(status.lines().any(|s| s == l), "{l} in\n{status}");
    }
    rustix::process::kill_process(rustix::process::Pid::from_raw(shim).unwrap(), rustix::process::Signal::KILL)
        .unwrap();
    wait_until("the proxy to die with its shim", || !std::path::Path::new(&format!("/proc/{}", proxies[0])).exists());
    assert_eq!(listeners(&host, 8085), Vec::<i32>::new());

    // Stopped, nothing listens for it; started again, the proxy is back.
    engine.ok(&["stop", "-t", "0", "w6"]);
    assert_eq!(listeners(&host, 9080), Vec::<i32>::new(), "a listener of a stopped container");
    engine.ok(&["start", "w6"]);
    assert_eq!(wget(&host, "http://[::1]:9080/").as_deref(), hello6);

    // After rm nothing listens.
    engine.ok(&["rm", "-f", "w4", "w6", "u4", "u6", "killed"]);
    let out = host.run("ss", &["-Hlntup"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "listeners left");
    engine.ok(&["network", "rm", "four", "six", "bridge"]);
    nothing_left(&host, &engine, &links_before);
    std::fs::remove_dir_all(&www4).unwrap();
    std::fs::remove_dir_all(&www6).unwrap();
}
