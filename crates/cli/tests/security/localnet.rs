//! CVE-2020-8558 class: a bridge has `route_localnet=1` (so that ports published on
//! 127.0.0.1 can be DNATed to a container), which also lets a frame sent to the gateway's
//! MAC with an IP destination of 127.0.0.1 reach the host's loopback services. A default
//! container has CAP_NET_RAW and can craft exactly that frame. The host must drop what
//! comes from a bridge to 127.0.0.0/8 unless one of our published ports DNATed it.

use lindocker_testkit::{Engine, FakeHost, temp_dir};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

fn wget(host: &FakeHost, url: &str) -> Option<String> {
    let out = host.run("timeout", &["5", "busybox", "wget", "-qO-", url]);
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A process of the test's, killed (by its pid) when the test ends, passed or not.
struct Service(std::process::Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_container_cannot_reach_the_hosts_loopback_services() {
    let host = FakeHost::new("localnet");
    let engine = Engine::in_host(BIN, "localnet", &host);
    // A service of the (fake) host bound to 127.0.0.1 only.
    let www = temp_dir("localnet-www");
    std::fs::write(www.join("index.html"), "host secret\n").unwrap();
    let _service = Service(
        host.command("busybox")
            .args(["httpd", "-f", "-p", "127.0.0.1:4444", "-h", www.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut up = false;
    for _ in 0..50 {
        if wget(&host, "http://127.0.0.1:4444/").as_deref() == Some("host secret\n") {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(up, "the host's loopback service did not come up");

    // A port published on 127.0.0.1 keeps working from the host (it is DNATed).
    let volume = format!("{}:/www:ro", www.display());
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "127.0.0.1:8080:80",
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
    let mut published = None;
    for _ in 0..50 {
        published = wget(&host, "http://127.0.0.1:8080/");
        if published.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(published.as_deref(), Some("host secret\n"), "a port published on 127.0.0.1 must keep working");

    // The probe works: a SYN to the web container's own address, routed through the
    // gateway, is answered.
    let info: Value = serde_json::from_str(&engine.ok(&["inspect", "web"])).unwrap();
    let web_ip = info[0]["NetworkSettings"]["IPAddress"].as_str().unwrap().to_owned();
    let probe = |target: &str| -> Value {
        // 192.0.2.1 (TEST-NET, beyond the gateway) only selects the route: the frame goes
        // to the gateway's MAC, and the packet's destination is `target`.
        let out = engine.ok(&["run", "--rm", "localhost/busybox", "checker", "--syn", "192.0.2.1", target]);
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    assert_eq!(probe(&format!("{web_ip}:80"))["answer"], "synack", "the probe itself must work");

    // The attack, from a default container (Docker's capabilities: CAP_NET_RAW): a SYN to
    // the host's 127.0.0.1:4444. No answer may come back.
    let report = probe("127.0.0.1:4444");
    assert_eq!(report["answer"], "none", "a container reached the host's 127.0.0.1:4444: {report}");
    // Nor may it reach a port published on 127.0.0.1 only: that one is the host's alone
    // (Docker drops such traffic from other interfaces before NAT).
    let report = probe("127.0.0.1:8080");
    assert_eq!(report["answer"], "none", "a container reached a port published on 127.0.0.1: {report}");

    engine.ok(&["rm", "-f", "web"]);

    // A reboot takes the bridge and the table; the bridge comes back with the next
    // container (with route_localnet), and so must the guard.
    let ruleset = host.ruleset();
    let table = ruleset.lines().find_map(|l| l.strip_prefix("table inet ")).unwrap().trim_end_matches(" {").to_owned();
    let info: Value = serde_json::from_str(&engine.ok(&["network", "inspect", "bridge"])).unwrap();
    let bridge = info[0]["Options"]["com.docker.network.bridge.name"].as_str().unwrap().to_owned();
    let out = host.run("nft", &["delete", "table", "inet", &table]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    host.ip(&["link", "del", &bridge]);
    let report = probe("127.0.0.1:4444");
    assert_eq!(report["answer"], "none", "after a reboot, a container reached the host's 127.0.0.1:4444: {report}");
    std::fs::remove_dir_all(&www).unwrap();
}
