//! Cross-site requests from a web page to the API on TCP: no DNS rebinding is needed to
//! send one. A page at attacker.example can POST to `http://127.0.0.1:2375/...` itself
//! (a "simple" request, no preflight: no body, or `text/plain`, or a form); the browser
//! sends `Host: 127.0.0.1:2375`, which the rebinding check lets through. A JSON body must
//! be `application/json` (a preflight the API never answers), but the requests without
//! a body need none: `/volumes/prune` (data gone), `/containers/NAME/kill`,
//! `/images/create?fromImage=` (a pull), `/build?remote=URL` (the page's commands run in
//! a build). The page cannot read the answers and needs none. A browser marks every such
//! request with `Origin` or `Sec-Fetch-*`; no API client sends them: refused on TCP.

use lindocker_testkit::{Engine, FakeHost, Service};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// A process of the test's, killed (by its pid) when the test ends, passed or not.
/// Sends one request per `[name, request line, host, extra headers]` to
/// tcp://ADDR:2375, without a body, and prints `NAME STATUS BODY` for each.
const SCRIPT: &str = r#"
import json, socket, sys, time
addr = sys.argv[1]
for case in json.loads(sys.argv[2]):
    name, line, host, headers = case
    for attempt in range(200):
        try:
            s = socket.create_connection((addr, 2375), timeout=10)
            break
        except OSError:
            time.sleep(0.05)
    extra = b"".join(h.encode() + b"\r\n" for h in headers)
    s.sendall(line.encode() + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\n" + extra +
              b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    reply = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        reply += chunk
    print(name, reply.split(b" ")[1].decode(), reply.split(b"\r\n\r\n", 1)[1].decode().strip())
"#;

#[test]
fn a_web_page_cannot_drive_the_api_on_tcp() {
    let host = FakeHost::new("api_csrf");
    let engine = Engine::in_host(BIN, "api_csrf", &host);
    let _loopback = Service::start(&engine, "tcp://127.0.0.1:2375");
    engine.ok(&["volume", "create", "data"]);
    engine.ok(&["run", "-d", "--name", "victim", "localhost/busybox", "sleep", "1000"]);
    let fetch = [
        "Origin: http://attacker.example",
        "Sec-Fetch-Site: cross-site",
        "Sec-Fetch-Mode: no-cors",
        "Sec-Fetch-Dest: empty",
    ];
    let cases = serde_json::json!([
        // fetch(url, {method: "POST", mode: "no-cors"}) from attacker.example.
        ["prune", "POST /volumes/prune?filters=%7B%22all%22%3A%5B%22true%22%5D%7D", "127.0.0.1:2375", fetch],
        ["kill", "POST /containers/victim/kill", "localhost:2375", ["Origin: https://attacker.example"]],
        // A form in a sandboxed frame: `Origin: null`.
        [
            "form",
            "POST /containers/victim/kill",
            "127.0.0.1:2375",
            ["Content-Type: application/x-www-form-urlencoded", "Origin: null"]
        ],
        // A browser that sends Sec-Fetch-* but no Origin.
        [
            "navigate",
            "POST /containers/victim/kill",
            "[::1]:2375",
            ["Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate"]
        ],
    ]);
    let out = host.run("python3", &["-c", SCRIPT, "127.0.0.1", &cases.to_string()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for line in text.lines() {
        assert_eq!(line.split(' ').nth(1), Some("403"), "a browser's request was served: {text}");
    }
    assert_eq!(text.lines().count(), 4, "{text}");
    assert_eq!(engine.ok(&["volume", "ls", "-q"]).trim(), "data", "the page pruned the volumes");
    assert_eq!(engine.ok(&["inspect", "-f", "{{.State.Running}}", "victim"]).trim(), "true", "the page killed it");

    // What an API client sends is served.
    let cases = serde_json::json!([[
        "client",
        "POST /containers/victim/kill",
        "127.0.0.1:2375",
        ["User-Agent: Docker-Client/27.0.0"]
    ]]);
    let out = host.run("python3", &["-c", SCRIPT, "127.0.0.1", &cases.to_string()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.starts_with("client 204"), "{text}{}", String::from_utf8_lossy(&out.stderr));
    engine.ok(&["rm", "-f", "victim"]);
    engine.ok(&["volume", "rm", "data"]);
}
