//! Two data roots (`--root`) on one host: each has its own nftables table and default
//! bridge, so neither one's rules wipe the other's published ports; a host port one
//! publishes is refused to the other; the default subnets differ, and a subnet the other
//! took while a bridge was gone is refused; removing one's networks leaves the other's
//! rules.

use lindocker_testkit::{Engine, FakeHost, temp_dir};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

fn wget(host: &FakeHost, url: &str) -> Option<String> {
    for _ in 0..30 {
        let out = host.run("timeout", &["5", "busybox", "wget", "-qO-", url]);
        if out.status.success() {
            return Some(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    None
}

/// httpd serving "hello from `name`" on port 80, published on `port`.
fn web(engine: &Engine, name: &str, port: u16) -> std::path::PathBuf {
    let www = temp_dir(&format!("{name}-www"));
    std::fs::write(www.join("index.html"), format!("hello from {name}\n")).unwrap();
    let volume = format!("{}:/www:ro", www.display());
    let publish = format!("{port}:80");
    engine.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "-p",
        &publish,
        "-v",
        &volume,
        "localhost/busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    www
}

fn default_network(engine: &Engine) -> (String, String) {
    let info: Value = serde_json::from_str(&engine.ok(&["network", "inspect", "bridge"])).unwrap();
    let bridge = info[0]["Options"]["com.docker.network.bridge.name"].as_str().unwrap().to_owned();
    let subnet = info[0]["IPAM"]["Config"][0]["Subnet"].as_str().unwrap().to_owned();
    (bridge, subnet)
}

#[test]
fn two_data_roots_keep_their_own_rules() {
    let host = FakeHost::new("tworoots");
    let a = Engine::in_host(BIN, "roota", &host);
    let b = Engine::in_host(BIN, "rootb", &host);
    let www_a = web(&a, "web-a", 8081);
    let www_b = web(&b, "web-b", 8082);
    assert_eq!(wget(&host, "http://127.0.0.1:8082/").as_deref(), Some("hello from web-b\n"));
    assert_eq!(wget(&host, "http://127.0.0.1:8081/").as_deref(), Some("hello from web-a\n"), "b's rules wiped a's");

    // Two default networks: two bridges, two subnets.
    let (bridge_a, subnet_a) = default_network(&a);
    let (bridge_b, subnet_b) = default_network(&b);
    assert_ne!(subnet_a, subnet_b, "both roots handed out the same default subnet");
    assert_ne!(bridge_a, bridge_b, "both roots use one bridge");
    assert!(bridge_a.len() <= 15 && bridge_b.len() <= 15, "{bridge_a} {bridge_b}");

    // A host port one root publishes is taken for the other.
    let err = b.fails(&["run", "-d", "--name", "steal", "-p", "8081:80", "localhost/busybox", "sleep", "100"], 125);
    assert!(err.contains("already allocated"), "{err}");
    assert_eq!(wget(&host, "http://127.0.0.1:8081/").as_deref(), Some("hello from web-a\n"));

    // A subnet another root took while this root's bridge was gone (a reboot takes every
    // bridge; networks.json stays) is refused with a clear error, not shared.
    a.ok(&["network", "create", "--subnet", "10.77.0.0/24", "mine"]);
    let info: Value = serde_json::from_str(&a.ok(&["network", "inspect", "mine"])).unwrap();
    let bridge = info[0]["Options"]["com.docker.network.bridge.name"].as_str().unwrap().to_owned();
    host.ip(&["link", "del", &bridge]);
    b.ok(&["network", "create", "--subnet", "10.77.0.0/24", "theirs"]);
    let err = a.fails(&["run", "--rm", "--network", "mine", "localhost/busybox", "true"], 125);
    assert!(err.contains("10.77.0.0/24") && err.contains("in use on this host"), "{err}");
    b.ok(&["run", "--rm", "--network", "theirs", "localhost/busybox", "true"]);
    a.ok(&["network", "rm", "mine"]);
    b.ok(&["network", "rm", "theirs"]);

    // Removing one root's containers and networks leaves the other's rules.
    a.ok(&["rm", "-f", "web-a"]);
    a.ok(&["network", "rm", "bridge"]);
    assert_eq!(wget(&host, "http://127.0.0.1:8082/").as_deref(), Some("hello from web-b\n"));
    b.ok(&["rm", "-f", "web-b"]);
    b.ok(&["network", "rm", "bridge"]);
    let ruleset = host.ruleset();
    assert!(!ruleset.contains("lindocker"), "rules left behind:\n{ruleset}");
    std::fs::remove_dir_all(&www_a).unwrap();
    std::fs::remove_dir_all(&www_b).unwrap();
}
