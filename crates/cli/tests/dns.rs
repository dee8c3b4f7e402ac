//! The embedded DNS server of user networks, end to end in throw-away network namespaces
//! (fake hosts): names, aliases, host names and short ids by DNS from real containers
//! (busybox nslookup), round robin, PTR, AAAA, isolation between networks, a stopped or
//! restarted peer, forwarding (UDP, TCP, EDNS) to an upstream server the test runs in
//! another namespace, none from an internal network, a load of 200 questions a second,
//! and the server's life: started by the first attach, restarted if killed, gone after
//! the last container.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lindocker_testkit::{Engine, FakeHost, dnsq_path};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

fn inspect(engine: &Engine, name: &str) -> Value {
    let out: Value = serde_json::from_str(&engine.ok(&["inspect", name])).unwrap();
    out[0].clone()
}

fn ip_on(engine: &Engine, name: &str, network: &str) -> String {
    inspect(engine, name)["NetworkSettings"]["Networks"][network]["IPAddress"].as_str().unwrap().to_owned()
}

/// The addresses (or PTR names) busybox `nslookup` prints for `name`, asked from inside
/// `container` (`extra`: a `-type=` and/or a server). Empty when the lookup fails.
fn lookup(engine: &Engine, container: &str, name: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["exec", container, "timeout", "5", "nslookup"];
    let (opts, server): (Vec<&str>, Vec<&str>) = extra.iter().partition(|a| a.starts_with('-'));
    args.extend(opts);
    args.push(name);
    args.extend(server);
    let out = engine.run(&args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("nslookup {extra:?} {name} in {container}:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    let mut answers = Vec::new();
    let mut in_answers = false;
    for line in text.lines() {
        if line.starts_with("Name:") {
            in_answers = true;
        } else if in_answers && let Some(a) = line.strip_prefix("Address:") {
            answers.push(a.trim().to_owned());
        }
        if let Some((_, n)) = line.split_once("name = ") {
            answers.push(n.trim().to_owned());
        }
    }
    answers
}

/// The distinct addresses `getent ARGS` prints in a container on `network` running the
/// host's glibc `getent` (its libraries mounted read-only) with `hosts: dns` alone in its
/// nsswitch.conf, so only the DNS server can answer. Empty when the name is not found.
fn getent(engine: &Engine, network: &str, args: &[&str]) -> Vec<String> {
    let nsswitch = engine.state.join("nsswitch.conf");
    std::fs::write(&nsswitch, "hosts: dns\n").unwrap();
    let ldd = Command::new("ldd").arg("/usr/bin/getent").output().unwrap();
    assert!(ldd.status.success(), "ldd /usr/bin/getent");
    let mut dirs: Vec<String> = String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(|lib| std::path::Path::new(lib).parent().unwrap().to_str().unwrap().to_owned())
        .collect();
    dirs.sort();
    dirs.dedup();
    let mut run: Vec<String> = ["run", "--rm", "--network", network, "--dns", "127.0.0.1"].map(String::from).into();
    for dir in &dirs {
        run.extend(["-v".into(), format!("{dir}:{dir}:ro")]);
    }
    run.extend(["-v".into(), "/usr/bin/getent:/usr/bin/getent:ro".into()]);
    run.extend(["-v".into(), format!("{}:/etc/nsswitch.conf:ro", nsswitch.display())]);
    run.extend(["localhost/busybox", "/usr/bin/getent"].map(String::from));
    run.extend(args.iter().map(|a| a.to_string()));
    let out = engine.run(&run.iter().map(String::as_str).collect::<Vec<_>>());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("getent {args:?} on {network}: {:?}\n{text}{}", out.status, String::from_utf8_lossy(&out.stderr));
    let mut found: Vec<String> = text.lines().filter_map(|l| l.split_whitespace().next()).map(String::from).collect();
    found.dedup();
    found
}

fn sleeper(engine: &Engine, name: &str, args: &[&str]) {
    let mut all = vec!["run", "-d", "--name", name];
    all.extend_from_slice(args);
    all.extend(["localhost/busybox", "sleep", "1000"]);
    engine.ok(&all);
}

/// `lindocker-dnsq ARGS` inside container `name`'s network namespace.
fn dnsq_in(engine: &Engine, name: &str, args: &[&str]) -> std::process::Output {
    let pid = inspect(engine, name)["State"]["Pid"].as_i64().unwrap();
    Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .arg("--")
        .arg(dnsq_path())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn names_aliases_ids_isolation_and_the_servers_life() {
    let host = FakeHost::new("dnsnames");
    let engine = Engine::in_host(BIN, "dnsnames", &host);
    engine.ok(&["network", "create", "--subnet", "10.91.0.0/24", "neta"]);
    engine.ok(&["network", "create", "--subnet", "10.92.0.0/24", "--ipv6", "--subnet", "fd00:92::/64", "netb"]);
    assert!(engine.dns_servers().is_empty(), "no server before a container is attached");

    // Names not ours go to a loopback resolver: nothing leaves the fake host.
    let dns = ["--dns", "127.0.0.1"];
    sleeper(&engine, "db", &["--network", "neta", "--network-alias", "store", "--hostname", "dbhost", dns[0], dns[1]]);
    sleeper(&engine, "db2", &["--network", "neta", "--network-alias", "store", dns[0], dns[1]]);
    sleeper(&engine, "client", &["--network", "neta", dns[0], dns[1]]);
    assert_eq!(engine.dns_servers().len(), 1, "one server for the data root");
    // Confined: CAP_NET_BIND_SERVICE only (bit 10), no_new_privs, a seccomp filter.
    let status = std::fs::read_to_string(format!("/proc/{}/status", engine.dns_servers()[0])).unwrap();
    for line in ["CapEff:\t0000000000000400", "CapBnd:\t0000000000000400", "NoNewPrivs:\t1", "Seccomp:\t2"] {
        assert!(status.lines().any(|l| l == line), "{line} in\n{status}");
    }
    let db_ip = ip_on(&engine, "db", "neta");
    let db2_ip = ip_on(&engine, "db2", "neta");
    let db_id = inspect(&engine, "db")["Id"].as_str().unwrap()[..12].to_owned();

    // The container's resolv.conf points at the gateway and keeps its search and options;
    // its /etc/hosts has its own names only.
    let resolv = engine.ok(&[
        "run",
        "--rm",
        "--network",
        "neta",
        "--dns-search",
        "example.test",
        "--dns-option",
        "ndots:0",
        "localhost/busybox",
        "cat",
        "/etc/resolv.conf",
    ]);
    assert!(resolv.contains("nameserver 10.91.0.1\n") && !resolv.contains("127.0.0.1"), "{resolv}");
    assert!(resolv.contains("search example.test\n") && resolv.contains("options ndots:0\n"), "{resolv}");
    let hosts = engine.ok(&["exec", "client", "cat", "/etc/hosts"]);
    assert!(!hosts.contains(&db_ip) && !hosts.contains(&db2_ip), "peers are not in /etc/hosts: {hosts}");

    // By name, alias (both holders, in turns), host name, short id; PTR.
    assert_eq!(lookup(&engine, "client", "db", &[]), vec![db_ip.clone()]);
    assert_eq!(lookup(&engine, "client", "dbhost", &[]), vec![db_ip.clone()]);
    assert_eq!(lookup(&engine, "client", &db_id, &[]), vec![db_ip.clone()]);
    let first = lookup(&engine, "client", "store", &[]);
    let mut both = first.clone();
    both.sort();
    let mut want = vec![db_ip.clone(), db2_ip.clone()];
    want.sort();
    assert_eq!(both, want, "an alias held by two containers");
    let second = lookup(&engine, "client", "store", &[]);
    assert_ne!(first[0], second[0], "round robin: {first:?} then {second:?}");
    let ptr = lookup(&engine, "client", &db_ip, &[]);
    assert!(ptr.iter().any(|n| n.starts_with("db")), "PTR of {db_ip}: {ptr:?}");

    // glibc's resolver, with `dns` alone in nsswitch.conf, finds peers too.
    assert_eq!(getent(&engine, "neta", &["ahostsv4", "db"]), [db_ip.as_str()]);
    let mut held = getent(&engine, "neta", &["ahostsv4", "store"]);
    held.sort();
    assert_eq!(held, want, "an alias held by two containers, through glibc");
    assert!(getent(&engine, "neta", &["hosts", "nosuchpeer"]).is_empty());

    // IPv6: AAAA, and the server listens on the gateway's IPv6 address too.
    sleeper(&engine, "six", &["--network", "netb", dns[0], dns[1]]);
    sleeper(&engine, "six2", &["--network", "netb", dns[0], dns[1]]);
    let six_ip6 = inspect(&engine, "six")["NetworkSettings"]["Networks"]["netb"]["GlobalIPv6Address"]
        .as_str()
        .unwrap()
        .to_owned();
    let aaaa = lookup(&engine, "six2", "six", &["-type=AAAA", "fd00:92::1"]);
    assert_eq!(aaaa, [six_ip6], "AAAA over the IPv6 listener");

    // Isolation: neither network sees the other's names.
    assert!(lookup(&engine, "six2", "db", &[]).is_empty(), "netb resolves a name on neta");
    assert!(lookup(&engine, "client", "six", &[]).is_empty(), "neta resolves a name on netb");
    // Nor through the other network's listener.
    assert!(lookup(&engine, "six2", "db", &["10.91.0.1"]).is_empty(), "neta's listener answers netb");

    // A stopped container's name is gone at once; restarted at a new address, it is found
    // there at once.
    engine.ok(&["stop", "-t", "0", "db"]);
    assert!(lookup(&engine, "client", "db", &[]).is_empty(), "a stopped container's name");
    assert_eq!(lookup(&engine, "client", "store", &[]), vec![db2_ip.clone()]);
    sleeper(&engine, "squatter", &["--network", "neta", "--ip", &db_ip, dns[0], dns[1]]);
    engine.ok(&["start", "db"]);
    let new_ip = ip_on(&engine, "db", "neta");
    assert_ne!(new_ip, db_ip);
    assert_eq!(lookup(&engine, "client", "db", &[]), [new_ip]);

    // A killed server is started again by the next attach.
    let pid = engine.dns_servers()[0];
    assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
    wait_for("the killed server to go", || engine.dns_servers().is_empty());
    sleeper(&engine, "late", &["--network", "neta", dns[0], dns[1]]);
    assert_eq!(engine.dns_servers().len(), 1, "restarted");
    assert_eq!(lookup(&engine, "client", "late", &[]), [ip_on(&engine, "late", "neta")]);

    // Gone after the last container leaves; nothing left behind.
    engine.ok(&["rm", "-f", "db", "db2", "client", "six", "six2", "squatter"]);
    assert_eq!(engine.dns_servers().len(), 1, "a container is left");
    engine.ok(&["rm", "-f", "late"]);
    assert!(engine.dns_servers().is_empty(), "the server outlived the last container");
    engine.ok(&["network", "rm", "neta", "netb"]);
    let left = engine.leftovers();
    assert!(left.is_empty(), "{left:?}");
}

/// The upstream server in `host` at `addr`, until dropped.
struct Upstream(Child);

impl Upstream {
    fn start(host: &FakeHost, addr: &str) -> Upstream {
        use std::io::BufRead;
        let mut child =
            host.command(dnsq_path().to_str().unwrap()).args(["serve", addr]).stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        Upstream(child)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn forwarding_internal_networks_and_load() {
    let host = FakeHost::new("dnsfwd");
    let upstream_host = FakeHost::new("dnsup");
    host.wire(&upstream_host, "192.168.214.1/24", "192.168.214.2/24");
    let _upstream = Upstream::start(&upstream_host, "192.168.214.2");
    let engine = Engine::in_host(BIN, "dnsfwd", &host);
    engine.ok(&["network", "create", "--subnet", "10.93.0.0/24", "outer"]);
    engine.ok(&["network", "create", "--subnet", "10.94.0.0/24", "--internal", "inner"]);
    sleeper(&engine, "cli1", &["--network", "outer", "--dns", "192.168.214.2"]);
    sleeper(&engine, "peer", &["--network", "outer", "--dns", "192.168.214.2"]);

    // Forwarded over UDP (busybox), and over TCP with EDNS (dnsq from c's namespace).
    let mut forwarded = lookup(&engine, "cli1", "example.test", &[]);
    forwarded.sort();
    assert_eq!(forwarded, ["192.0.2.7", "2001:db8::7"]);
    let out = dnsq_in(&engine, "cli1", &["query", "--tcp", "10.93.0.1", "example.test"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "192.0.2.7\nedns\n", "{out:?}");
    let out = dnsq_in(&engine, "cli1", &["query", "10.93.0.1", "example.test"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "192.0.2.7\nedns\n", "{out:?}");
    // A server that refuses, then one that answers: the second one's answer.
    sleeper(&engine, "two", &["--network", "outer", "--dns", "127.0.0.1", "--dns", "192.168.214.2"]);
    let out = dnsq_in(&engine, "two", &["query", "10.93.0.1", "example.test"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "192.0.2.7\nedns\n", "{out:?}");
    // Local names over TCP too.
    let out = dnsq_in(&engine, "cli1", &["query", "--tcp", "10.93.0.1", "peer"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{}\nedns\n", ip_on(&engine, "peer", "outer")));

    // An internal network resolves its own names and forwards nothing.
    sleeper(&engine, "int1", &["--network", "inner", "--dns", "192.168.214.2"]);
    sleeper(&engine, "int2", &["--network", "inner", "--dns", "192.168.214.2"]);
    assert_eq!(lookup(&engine, "int1", "int2", &[]), [ip_on(&engine, "int2", "inner")]);
    assert!(lookup(&engine, "int1", "example.test", &[]).is_empty(), "an internal network forwarded");

    // 200 questions a second for 10 s, none lost.
    let out = dnsq_in(&engine, "cli1", &["load", "10.93.0.1", "peer", "200", "10"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("sent 2000 answered 2000 "), "{text} {}", String::from_utf8_lossy(&out.stderr));

    engine.ok(&["rm", "-f", "cli1", "two", "peer", "int1", "int2"]);
    assert!(engine.dns_servers().is_empty(), "the server outlived the last container");
    engine.ok(&["network", "rm", "outer", "inner"]);
    let left = engine.leftovers();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_network_without_dns() {
    let host = FakeHost::new("dnslate");
    let engine = Engine::in_host(BIN, "dnslate", &host);
    // Podman's --disable-dns: no server, the host's (or --dns) resolvers, own names only.
    engine.ok(&["network", "create", "--disable-dns", "--subnet", "10.95.0.0/24", "quiet"]);
    engine.ok(&["network", "create", "--subnet", "10.96.0.0/24", "loud"]);
    let options = |name: &str| {
        let out: Value = serde_json::from_str(&engine.ok(&["network", "inspect", name])).unwrap();
        out[0]["Options"]["dns_enabled"].clone()
    };
    assert_eq!(options("quiet"), "false");
    assert_eq!(options("loud"), "true");
    let dns = ["--dns", "127.0.0.1", "--dns-search", "example.test", "--dns-option", "ndots:0"];
    let mut args = vec!["--network", "quiet", "--hostname", "qhost"];
    args.extend(dns);
    sleeper(&engine, "q1", &args);
    sleeper(&engine, "q2", &["--network", "quiet", dns[0], dns[1]]);
    assert!(engine.dns_servers().is_empty(), "a server for a network made with --disable-dns");
    let resolv = engine.ok(&["exec", "q1", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 127.0.0.1\n") && !resolv.contains("10.95.0.1"), "{resolv}");
    assert!(resolv.contains("search example.test\n") && resolv.contains("options ndots:0\n"), "{resolv}");
    let hosts = engine.ok(&["exec", "q1", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&format!("{}\tqhost\n", ip_on(&engine, "q1", "quiet"))), "{hosts}");
    // Nothing answers on its gateway.
    let out = dnsq_in(&engine, "q1", &["query", "10.95.0.1", "q2"]);
    assert!(!out.status.success(), "an answer on a network without DNS: {out:?}");

    engine.ok(&["rm", "-f", "q1", "q2"]);
    engine.ok(&["network", "rm", "quiet", "loud"]);
    let left = engine.leftovers();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn connecting_later_points_at_the_server() {
    let host = FakeHost::new("dnsconn");
    let engine = Engine::in_host(BIN, "dnsconn", &host);
    engine.ok(&["network", "create", "--subnet", "10.96.0.0/24", "loud"]);
    let dns = ["--dns", "127.0.0.1", "--dns-search", "example.test", "--dns-option", "ndots:0"];
    // A container of the default bridge (the host's or --dns resolvers) connected later to
    // a user network is pointed at that network's server, its search and options kept,
    // as Docker does; disconnected, it has its resolvers back.
    sleeper(&engine, "peer", &["--network", "loud", dns[0], dns[1]]);
    let mut args = vec!["--network", "bridge"];
    args.extend(dns);
    sleeper(&engine, "later", &args);
    let resolv = engine.ok(&["exec", "later", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 127.0.0.1\n"), "{resolv}");
    engine.ok(&["network", "connect", "loud", "later"]);
    let resolv = engine.ok(&["exec", "later", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 10.96.0.1\n") && !resolv.contains("127.0.0.1"), "{resolv}");
    assert!(resolv.contains("search example.test\n") && resolv.contains("options ndots:0\n"), "{resolv}");
    let peer_ip = ip_on(&engine, "peer", "loud");
    // (dnsq: busybox nslookup asks for peer.example.test only, with that search line.)
    let out = dnsq_in(&engine, "later", &["query", "10.96.0.1", "peer"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{peer_ip}\nedns\n"), "{out:?}");
    engine.ok(&["network", "disconnect", "loud", "later"]);
    let resolv = engine.ok(&["exec", "later", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 127.0.0.1\n") && !resolv.contains("10.96.0.1"), "{resolv}");
    // Connected while stopped: the server's at its next start.
    engine.ok(&[
        "create",
        "--name",
        "made",
        "--network",
        "bridge",
        dns[0],
        dns[1],
        "localhost/busybox",
        "sleep",
        "1000",
    ]);
    engine.ok(&["network", "connect", "loud", "made"]);
    engine.ok(&["start", "made"]);
    let resolv = engine.ok(&["exec", "made", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 10.96.0.1\n"), "{resolv}");
    assert_eq!(lookup(&engine, "made", "peer", &[]), [peer_ip]);

    engine.ok(&["rm", "-f", "peer", "later", "made"]);
    assert!(engine.dns_servers().is_empty(), "the server outlived the last container");
    engine.ok(&["network", "rm", "loud", "bridge"]);
    let left = engine.leftovers();
    assert!(left.is_empty(), "{left:?}");
}

/// A container the shim restarts (`--restart always`) is attached again by the shim,
/// which starts the server if it is not running, and is served at once.
#[test]
fn a_restart_by_the_shim_starts_the_server() {
    let host = FakeHost::new("dnsrst");
    let engine = Engine::in_host(BIN, "dnsrst", &host);
    engine.ok(&["network", "create", "--subnet", "10.94.0.0/24", "loop"]);
    sleeper(&engine, "client", &["--network", "loop", "--dns", "127.0.0.1"]);
    sleeper(&engine, "flap", &["--network", "loop", "--dns", "127.0.0.1", "--restart", "always"]);
    let first_pid = inspect(&engine, "flap")["State"]["Pid"].as_i64().unwrap();

    let server = engine.dns_servers()[0];
    assert!(Command::new("kill").args(["-9", &server.to_string()]).status().unwrap().success());
    wait_for("the killed server to go", || engine.dns_servers().is_empty());
    assert!(lookup(&engine, "client", "flap", &[]).is_empty(), "no server, no answer");

    // The container's process dies; the shim restarts it, and its attach the server.
    assert!(Command::new("kill").args(["-9", &first_pid.to_string()]).status().unwrap().success());
    wait_for("the shim to restart flap", || {
        let state = &inspect(&engine, "flap")["State"];
        state["Running"] == true && state["Pid"].as_i64() != Some(first_pid)
    });
    assert_eq!(engine.dns_servers().len(), 1, "the shim's attach started the server");
    assert_eq!(lookup(&engine, "client", "flap", &[]), [ip_on(&engine, "flap", "loop")]);

    engine.ok(&["rm", "-f", "client", "flap"]);
    assert!(engine.dns_servers().is_empty());
    engine.ok(&["network", "rm", "loop"]);
    let left = engine.leftovers();
    assert!(left.is_empty(), "{left:?}");
}
