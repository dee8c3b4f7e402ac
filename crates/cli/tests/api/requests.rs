//! Hand-written requests: version negotiation, Docker's error shape and status codes,
//! bad and hostile requests, clients that stall or vanish.

use lindocker_testkit::{Api, Engine};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

#[test]
fn ping_answers_get_and_head_with_dockerds_headers() {
    let engine = Engine::new(BIN, "api_ping");
    let api = Api::start(&engine);
    for path in ["/_ping", "/v1.41/_ping", "/v1.50/_ping"] {
        let reply = api.request("GET", path, b"");
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
        assert_eq!(reply.text(), "OK", "{path}");
        assert_eq!(reply.header("api-version"), Some("1.50"), "{path}: {reply:?}");
        assert_eq!(reply.header("docker-experimental"), Some("false"));
        assert_eq!(reply.header("ostype"), Some("linux"));
        assert_eq!(reply.header("builder-version"), Some("1"));
    }
    let head = api.request("HEAD", "/_ping", b"");
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("api-version"), Some("1.50"));
}

#[test]
fn versions_outside_the_range_get_dockerds_400() {
    let engine = Engine::new(BIN, "api_versions");
    let api = Api::start(&engine);
    let old = api.request("GET", "/v1.40/version", b"");
    assert_eq!(old.status, 400, "{old:?}");
    assert_eq!(
        old.json()["message"],
        "client version 1.40 is too old. Minimum supported API version is 1.41, please upgrade your client to a newer version"
    );
    let new = api.request("GET", "/v1.51/containers/json", b"");
    assert_eq!(new.status, 400, "{new:?}");
    assert_eq!(new.json()["message"], "client version 1.51 is too new. Maximum supported API version is 1.50");
    assert_eq!(new.header("content-type"), Some("application/json"));
    // With or without the prefix, the same answer.
    for path in ["/version", "/v1.41/version", "/v1.44/version"] {
        let reply = api.request("GET", path, b"");
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
        let v = reply.json();
        assert_eq!(v["ApiVersion"], "1.50", "{v}");
        assert_eq!(v["MinAPIVersion"], "1.41", "{v}");
        assert_eq!(v["Os"], "linux");
    }
    let info = api.request("GET", "/v1.50/info", b"");
    assert_eq!(info.status, 200, "{info:?}");
    assert_eq!(info.json()["DockerRootDir"], engine.root.display().to_string());
    assert_eq!(info.json()["Containers"], 0);
    let missing = api.request("GET", "/v1.50/no/such/thing", b"");
    assert_eq!(missing.status, 404, "{missing:?}");
    assert_eq!(missing.json()["message"], "page not found");
}

#[test]
fn errors_have_dockers_shape_and_status() {
    let engine = Engine::with_busybox(BIN, "api_errors");
    let api = Api::start(&engine);
    let missing = api.request("GET", "/v1.45/containers/nosuch/json", b"");
    assert_eq!(missing.status, 404, "{missing:?}");
    assert_eq!(missing.json()["message"], "No such container: nosuch");
    assert_eq!(api.request("POST", "/containers/nosuch/start", b"").status, 404);
    assert_eq!(api.request("DELETE", "/containers/nosuch", b"").status, 404);
    // Bad JSON, wrong types, bad values: 400, nothing made.
    for body in [
        &b"{not json"[..],
        br#"{"Image":"localhost/busybox","Cmd":"true","HostConfig":{"Memory":"a lot"}}"#,
        br#"{"Image":"localhost/busybox","HostConfig":{"RestartPolicy":{"Name":"sometimes"}}}"#,
        br#"{"Image":"localhost/busybox","HostConfig":{"PortBindings":{"99999/tcp":[]}}}"#,
        br#"{"Image":"localhost/busybox","Env":["A\u0000=b"]}"#,
    ] {
        let reply = api.request("POST", "/containers/create", body);
        assert_eq!(reply.status, 400, "{}: {reply:?}", String::from_utf8_lossy(body));
        assert!(reply.json()["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let bad_name = api.request("POST", "/containers/create?name=a/b", br#"{"Image":"localhost/busybox"}"#);
    assert_eq!(bad_name.status, 400, "{bad_name:?}");
    let no_image = api.request("POST", "/containers/create", br#"{"Image":"localhost/nosuch"}"#);
    assert_eq!(no_image.status, 404, "{no_image:?}");
    assert_eq!(engine.ok(&["ps", "-aq"]), "");
    // A body over the limit is refused, not read whole.
    let huge = format!(r#"{{"Image":"localhost/busybox","Labels":{{"a":"{}"}}}}"#, "x".repeat(2 << 20));
    let reply = api.request("POST", "/containers/create", huge.as_bytes());
    assert_eq!(reply.status, 400, "{}", reply.text());
    // Conflicts: a name in use, removing a running container.
    let made =
        api.request("POST", "/containers/create?name=one", br#"{"Image":"localhost/busybox","Cmd":["sleep","30"]}"#);
    assert_eq!(made.status, 201, "{made:?}");
    let id = made.json()["Id"].as_str().unwrap().to_owned();
    // A reference is a name or an id, never a path: the engine's names are file names
    // (a file naming a real container's id, planted outside the names directory).
    std::fs::write(engine.root.join("planted"), &id).unwrap();
    for path in ["/containers/..%2F..%2Fplanted/json", "/containers/%2E%2E/json", "/containers/a%00b/json"] {
        let reply = api.request("GET", path, b"");
        assert_eq!(reply.status, 404, "{path}: {reply:?}");
        assert!(reply.json()["message"].as_str().unwrap().starts_with("No such container"), "{reply:?}");
    }
    std::fs::remove_file(engine.root.join("planted")).unwrap();
    let again = api.request("POST", "/containers/create?name=one", br#"{"Image":"localhost/busybox"}"#);
    assert_eq!(again.status, 409, "{again:?}");
    assert!(again.json()["message"].as_str().unwrap().contains("is already in use"));
    assert_eq!(api.request("POST", &format!("/containers/{id}/start"), b"").status, 204);
    assert_eq!(api.request("POST", "/containers/one/start", b"").status, 304);
    let busy = api.request("DELETE", "/containers/one", b"");
    assert_eq!(busy.status, 409, "{busy:?}");
    let bad_signal = api.request("POST", "/containers/one/kill?signal=NOPE", b"");
    assert_eq!(bad_signal.status, 400, "{bad_signal:?}");
    assert_eq!(api.request("DELETE", "/containers/one?force=1", b"").status, 204);
    let gone = api.request("POST", "/containers/one/kill", b"");
    assert_eq!(gone.status, 404, "{gone:?}");
    drop(api);
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Threads of a process.
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn a_stalled_or_vanished_follower_blocks_nobody_and_ends() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let engine = Engine::with_busybox(BIN, "api_follow");
    let mut api = Api::start(&engine);
    let pid = api.child().id();
    let made = api.request(
        "POST",
        "/containers/create?name=chatty",
        br#"{"Image":"localhost/busybox","Cmd":["sh","-c","while true; do echo line-of-output-to-fill-buffers; done"]}"#,
    );
    assert_eq!(made.status, 201, "{made:?}");
    assert_eq!(api.request("POST", "/containers/chatty/start", b"").status, 204);
    let baseline = threads(pid);
    // A follower that never reads: its socket fills, its producer waits.
    let mut stalled = api.connect();
    stalled.write_all(b"GET /v1.50/containers/chatty/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: d\r\n\r\n").unwrap();
    // A follower that reads a little, then vanishes mid-stream.
    let mut vanishing = api.connect();
    vanishing.write_all(b"GET /containers/chatty/logs?follow=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\n\r\n").unwrap();
    let mut buf = [0u8; 4096];
    let n = vanishing.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    drop(vanishing);
    std::thread::sleep(Duration::from_secs(1));
    // Others are served meanwhile, promptly.
    for _ in 0..5 {
        let t = Instant::now();
        let reply = api.request("GET", "/_ping", b"");
        assert_eq!(reply.status, 200);
        let list = api.request("GET", "/containers/json", b"");
        assert_eq!(list.json()[0]["Names"][0], "/chatty");
        let tail = api.request("GET", "/containers/chatty/logs?stdout=1&tail=2", b"");
        assert_eq!(tail.status, 200);
        // Two multiplexed frames: stream 1, the line.
        assert_eq!(tail.body[0], 1, "{:?}", tail.text());
        assert!(tail.text().contains("line-of-output-to-fill-buffers\n"));
        assert!(t.elapsed() < Duration::from_secs(2), "a request took {:?}", t.elapsed());
    }
    drop(stalled);
    // Both followers' producers end (the blocking pool lets idle threads go after 5 s).
    let deadline = Instant::now() + Duration::from_secs(20);
    while threads(pid) > baseline + 1 {
        assert!(Instant::now() < deadline, "followers left running: {} threads, {baseline} before", threads(pid));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(api.request("DELETE", "/containers/chatty?force=true", b"").status, 204);
    drop(api);
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn the_service_exits_when_idle_and_serves_a_socket_passed_by_systemd() {
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};
    let engine = Engine::new(BIN, "api_idle");
    let mut api = Api::start_with(&engine, &["--time", "1"]);
    // A connection held open keeps it.
    let held = api.connect();
    std::thread::sleep(Duration::from_millis(2000));
    assert!(api.child().try_wait().unwrap().is_none(), "exited with a connection open");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = api.child().try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running 10 s after its last connection closed");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    // Socket activation: the listening socket is descriptor 3, LISTEN_PID names the
    // service. (A shell in between sets LISTEN_PID to its own pid, then execs.)
    let dir = engine.root.with_extension("sd");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
    let cmd = engine.cmd();
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg(format!("exec 3<&{fd}; export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" \"$@\""))
        .arg(program)
        .args(args)
        .args(["system", "service", "--time", "1"]);
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    let started = Instant::now();
    // The child gets the listener by inheritance (its close-on-exec cleared).
    let listener_fd = listener;
    rustix::io::fcntl_setfd(&listener_fd, rustix::io::FdFlags::empty()).unwrap();
    let mut child = sh.process_group(0).spawn().unwrap();
    drop(listener_fd);
    let reply = {
        let mut attempt = 0;
        loop {
            let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
            use std::io::{Read, Write};
            s.write_all(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n").unwrap();
            let mut out = String::new();
            if s.read_to_string(&mut out).is_ok() && out.contains("OK") {
                break out;
            }
            attempt += 1;
            assert!(attempt < 100, "no answer on the passed socket");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    eprintln!("start-on-connect: first /_ping answered {:?} after spawning", started.elapsed());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The payloads of a multiplexed stream, by stream number.
fn demux(mut body: &[u8]) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    while body.len() >= 8 {
        let len = u32::from_be_bytes([body[4], body[5], body[6], body[7]]) as usize;
        out.push((body[0], String::from_utf8_lossy(&body[8..8 + len]).into_owned()));
        body = &body[8 + len..];
    }
    out
}

#[test]
fn attach_without_an_upgrade_replays_the_log_then_streams() {
    let engine = Engine::with_busybox(BIN, "api_attach_plain");
    let api = Api::start(&engine);
    let made = api.request(
        "POST",
        "/containers/create?name=talker",
        br#"{"Image":"localhost/busybox","Cmd":["sh","-c","echo early; echo warn >&2; sleep 1; echo late"]}"#,
    );
    assert_eq!(made.status, 201, "{made:?}");
    assert_eq!(api.request("POST", "/containers/talker/start", b"").status, 204);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !api.request("GET", "/containers/talker/logs?stdout=1", b"").text().contains("early") {
        assert!(std::time::Instant::now() < deadline, "no early line");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // docker-py's plain POST: the past output, then the live one, until the end.
    let reply = api.request("POST", "/containers/talker/attach?logs=1&stream=1&stdout=1&stderr=1", b"");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/vnd.docker.multiplexed-stream"));
    let frames = demux(&reply.body);
    assert_eq!(
        frames,
        [(1, "early\n".to_owned()), (2, "warn\n".to_owned()), (1, "late\n".to_owned())],
        "{:?}",
        reply.text()
    );
    // logs only (stream=0), stdout only.
    let reply = api.request("POST", "/containers/talker/attach?logs=1&stdout=1", b"");
    assert_eq!(demux(&reply.body), [(1, "early\n".to_owned()), (1, "late\n".to_owned())]);
    let waited = api.request("POST", "/containers/talker/wait", b"");
    assert_eq!(waited.json()["StatusCode"], 0);
    assert_eq!(api.request("DELETE", "/containers/talker", b"").status, 204);
    drop(api);
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_waiter_that_vanishes_leaves_no_thread_behind() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let engine = Engine::with_busybox(BIN, "api_wait_gone");
    let mut api = Api::start(&engine);
    let pid = api.child().id();
    let made = api.request(
        "POST",
        "/containers/create?name=sleeper",
        br#"{"Image":"localhost/busybox","Cmd":["sleep","1000"]}"#,
    );
    assert_eq!(made.status, 201, "{made:?}");
    assert_eq!(api.request("POST", "/containers/sleeper/start", b"").status, 204);
    // Let the blocking pool settle after the start.
    std::thread::sleep(Duration::from_secs(6));
    let baseline = threads(pid);
    // Clients that ask to wait for a container that runs for long, then go away (as
    // `docker run` does when its user presses ^C): each waiter must end with its client,
    // not hold a thread (of a pool of 512 that every request needs) until the exit.
    for condition in ["not-running", "next-exit", "removed"] {
        for _ in 0..8 {
            let mut s = api.connect();
            let request = format!(
                "POST /containers/sleeper/wait?condition={condition} HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n"
            );
            s.write_all(request.as_bytes()).unwrap();
            let mut buf = [0u8; 512];
            let n = s.read(&mut buf).unwrap();
            assert!(
                String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
                "{}",
                String::from_utf8_lossy(&buf[..n])
            );
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while threads(pid) > baseline + 2 {
        assert!(Instant::now() < deadline, "waiters left running: {} threads, {baseline} before", threads(pid));
        std::thread::sleep(Duration::from_millis(200));
    }
    // A waiter that stays still hears the exit.
    let kill = api.request("POST", "/containers/sleeper/kill", b"");
    assert_eq!(kill.status, 204, "{kill:?}");
    let waited = api.request("POST", "/containers/sleeper/wait", b"");
    assert_eq!(waited.json()["StatusCode"], 137, "{waited:?}");
    assert_eq!(api.request("DELETE", "/containers/sleeper", b"").status, 204);
    drop(api);
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn an_attached_client_that_vanishes_lets_the_service_go_idle() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let engine = Engine::with_busybox(BIN, "api_attach_gone");
    let mut api = Api::start_with(&engine, &["--time", "1"]);
    // A silent running container, and one created, never started.
    for (name, start) in [("quiet", true), ("unstarted", false)] {
        let body = br#"{"Image":"localhost/busybox","Cmd":["sleep","1000"]}"#;
        let made = api.request("POST", &format!("/containers/create?name={name}"), body);
        assert_eq!(made.status, 201, "{made:?}");
        if start {
            assert_eq!(api.request("POST", &format!("/containers/{name}/start"), b"").status, 204);
        }
    }
    // docker-py's attach (no upgrade) to each, then the client goes: nothing of it may
    // stay behind, polling for a start or waiting for output that never comes, keeping
    // the socket-activated service from ever going idle.
    // And the docker CLI's (upgraded, hijacked) attach to the running one.
    for (name, upgrade) in [("quiet", false), ("unstarted", false), ("quiet", true)] {
        let mut s = api.connect();
        let extra = if upgrade { "Upgrade: tcp\r\nConnection: Upgrade\r\n" } else { "" };
        let request = format!(
            "POST /containers/{name}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        s.write_all(request.as_bytes()).unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap();
        let status = if upgrade { "HTTP/1.1 101" } else { "HTTP/1.1 200" };
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with(status), "{}", String::from_utf8_lossy(&buf[..n]));
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = api.child().try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the service still runs 15 s after its clients went away");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    engine.ok(&["rm", "-f", "quiet", "unstarted"]);
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_volume_name_with_dot_dot_reaches_nothing_outside_the_volumes() {
    let engine = Engine::new(BIN, "api_volume_dotdot");
    let api = Api::start(&engine);
    let made = api.request("POST", "/volumes/create", br#"{"Name":"real"}"#);
    assert_eq!(made.status, 201, "{made:?}");
    // A directory outside the volumes that looks like one (a volume.json in it).
    let victim = engine.root.join("victim");
    std::fs::create_dir_all(victim.join("_data")).unwrap();
    std::fs::copy(engine.root.join("volumes/real/volume.json"), victim.join("volume.json")).unwrap();
    std::fs::write(victim.join("_data/precious"), "keep").unwrap();
    for path in ["/volumes/..%2Fvictim", "/volumes/..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2Fetc"] {
        let inspect = api.request("GET", path, b"");
        assert_eq!(inspect.status, 404, "{path}: {inspect:?}");
        let removed = api.request("DELETE", path, b"");
        assert_eq!(removed.status, 404, "{path}: {removed:?}");
        assert!(removed.json()["message"].as_str().unwrap().to_lowercase().contains("no such volume"), "{removed:?}");
    }
    assert_eq!(std::fs::read_to_string(victim.join("_data/precious")).unwrap(), "keep");
    assert_eq!(api.request("DELETE", "/volumes/real", b"").status, 204);
    std::fs::remove_dir_all(&victim).unwrap();
}

#[test]
fn hundreds_of_followers_starve_no_other_request() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let engine = Engine::with_busybox(BIN, "api_many_followers");
    let api = Api::start(&engine);
    let made = api.request(
        "POST",
        "/containers/create?name=quiet",
        br#"{"Image":"localhost/busybox","Cmd":["sleep","1000"]}"#,
    );
    assert_eq!(made.status, 201, "{made:?}");
    assert_eq!(api.request("POST", "/containers/quiet/start", b"").status, 204);
    // docker-compose's `logs -f` and `stats` on a big project, many SDK clients:
    // more live streams than the service has blocking threads (512).
    let mut followers = Vec::new();
    for i in 0..600 {
        let mut s = api.connect();
        let path = match i % 3 {
            0 => "GET /containers/quiet/logs?follow=1&stdout=1",
            1 => "GET /containers/quiet/stats",
            _ => "POST /containers/quiet/wait",
        };
        s.write_all(format!("{path} HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n").as_bytes()).unwrap();
        followers.push(s);
    }
    for s in &mut followers {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        assert!(
            String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    // Another client's short requests are answered meanwhile, promptly.
    for _ in 0..3 {
        let t = Instant::now();
        let mut s = api.connect();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /containers/json HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let reply = String::from_utf8_lossy(&out);
        assert!(reply.starts_with("HTTP/1.1 200") && reply.contains("/quiet"), "after {:?}: {reply:?}", t.elapsed());
        assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
    }
    drop(followers);
    assert_eq!(api.request("DELETE", "/containers/quiet?force=true", b"").status, 204);
    drop(api);
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_json_body_sent_as_a_browser_form_is_refused_as_dockerd_refuses_it() {
    // A web page may send a "simple" cross-origin POST (text/plain, form encodings, no
    // preflight) to a service on tcp://127.0.0.1: were its JSON read, the page could
    // create and start a privileged container. dockerd reads a JSON body only when it
    // says application/json.
    let engine = Engine::with_busybox(BIN, "api_csrf");
    let api = Api::start(&engine);
    let create = br#"{"Image":"localhost/busybox","Cmd":["true"],"HostConfig":{"Privileged":true}}"#;
    for ct in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
        let reply = api.try_request("POST", "/containers/create?name=csrf", &[("Content-Type", ct)], create).unwrap();
        assert_eq!(reply.status, 400, "{ct}: {reply:?}");
        let message = reply.json()["message"].as_str().unwrap_or_default().to_owned();
        assert!(message.contains("application/json"), "{ct}: {message}");
        let reply = api.try_request("POST", "/volumes/create", &[("Content-Type", ct)], br#"{"Name":"csrf"}"#).unwrap();
        assert_eq!(reply.status, 400, "{ct}: {reply:?}");
    }
    assert_eq!(engine.ok(&["ps", "-aq"]), "", "no container made");
    assert_eq!(api.request("GET", "/volumes", b"").json()["Volumes"].as_array().map_or(0, Vec::len), 0);
    // With its type (parameters allowed), or no body at all, it is served.
    let reply = api
        .try_request(
            "POST",
            "/containers/create?name=ok",
            &[("Content-Type", "application/json; charset=utf-8")],
            create,
        )
        .unwrap();
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(api.request("DELETE", "/containers/ok", b"").status, 204);
}

/// A request: method, path, headers, body.
type Case = (&'static str, String, Vec<(&'static str, String)>, Vec<u8>);

#[test]
fn hostile_requests_get_a_4xx_and_the_service_goes_on() {
    use std::io::{Read, Write};
    let engine = Engine::new(BIN, "api_hostile");
    let api = Api::start(&engine);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut cases: Vec<Case> = vec![
        ("POST", "/containers/create".into(), vec![], deep.clone().into_bytes()),
        ("POST", "/containers/create".into(), vec![], format!(r#"{{"Image":"x","Labels":{deep}}}"#).into_bytes()),
        ("POST", "/containers/create".into(), vec![], br#"{"Image":["x"]}"#.to_vec()),
        ("POST", "/networks/create".into(), vec![], br#"{"Name":"../../x"}"#.to_vec()),
        ("POST", "/volumes/create".into(), vec![], br#"{"Name":"../x"}"#.to_vec()),
        ("GET", "/containers/json?filters=%7B%22status%22%3A5%7D".into(), vec![], vec![]),
        ("GET", "/containers/json?filters=%5B%5D".into(), vec![], vec![]),
        ("GET", "/images/json?filters=not-json".into(), vec![], vec![]),
        ("GET", "/containers/json?all=maybe".into(), vec![], vec![]),
        ("GET", "/containers/json?limit=-1x".into(), vec![], vec![]),
        (
            "POST",
            "/images/create?fromImage=localhost%2Fnosuch&tag=x".into(),
            vec![("X-Registry-Auth", "%%%not base64%%%".into())],
            vec![],
        ),
        ("POST", "/exec/..%2F..%2Fetc/start".into(), vec![], br#"{}"#.to_vec()),
        ("POST", "/exec/nosuch/resize?h=99999999&w=1".into(), vec![], vec![]),
        ("GET", "/v1.999999999999/_ping".into(), vec![], vec![]),
        ("GET", "/v99.1/version".into(), vec![], vec![]),
        ("GET", "/containers/%zz/json".into(), vec![], vec![]),
    ];
    cases.push(("GET", "/_ping".into(), vec![("X-Big", "a".repeat(1 << 20))], vec![]));
    for (method, path, headers, body) in &cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = api.try_request(method, path, &headers, body);
        if let Ok(reply) = &reply {
            // A 200 stream for the pull (its error inside), else an error status.
            if path.starts_with("/images/create") && reply.status == 200 {
                assert!(reply.text().contains("error"), "{path}: {reply:?}");
            } else {
                assert!((400..500).contains(&reply.status) || reply.status == 431, "{method} {path}: {reply:?}");
            }
        }
        assert_eq!(api.request("GET", "/_ping", b"").status, 200, "after {method} {path}");
    }
    // Not HTTP at all, a request line without end, bad chunked encoding.
    for raw in [
        &b"\x00\x01\x02garbage\r\n\r\n"[..],
        b"POST /volumes/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nzz\r\n",
        b"POST /containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
    ] {
        let mut s = api.connect();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        s.write_all(raw).unwrap();
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out);
        assert!(!text.starts_with("HTTP/1.1 2"), "{raw:?}: {text}");
        assert_eq!(api.request("GET", "/_ping", b"").status, 200);
    }
    assert_eq!(engine.ok(&["ps", "-aq"]), "");
    drop(api);
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_rebound_host_name_is_refused_on_loopback_tcp() {
    // DNS rebinding: a web page at attacker.example makes its name resolve to 127.0.0.1
    // and then talks to tcp://127.0.0.1:2375 as a same-origin site, with a JSON body and
    // no preflight. Its requests carry `Host: attacker.example:2375`; a client of a
    // loopback address names an IP address or localhost.
    let host = lindocker_testkit::FakeHost::new("api_rebind");
    let engine = Engine::in_host(BIN, "api_rebind", &host);
    let _service = lindocker_testkit::Service::start(&engine, "tcp://127.0.0.1:2375");
    // One request per Host header; prints the status code of each, or "refused".
    let script = r#"
import socket, sys, time
body = b'{"Image":"localhost/busybox","Cmd":["true"],"HostConfig":{"Privileged":true}}'
for host in sys.argv[1:]:
    for attempt in range(200):
        try:
            s = socket.create_connection(("127.0.0.1", 2375), timeout=10)
            break
        except OSError:
            time.sleep(0.05)
    s.sendall(b"POST /containers/create HTTP/1.1\r\nHost: " + host.encode() +
              b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() +
              b"\r\nConnection: close\r\n\r\n" + body)
    reply = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        reply += chunk
    print(host, reply.split(b" ")[1].decode(), reply.split(b"\r\n\r\n", 1)[1].decode().strip())
"#;
    let hosts = ["attacker.example:2375", "attacker.example", "127.0.0.1.nip.io:2375", "localhost.attacker.example"];
    let out = host.run("python3", &[&["-c", script], &hosts[..]].concat());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for line in text.lines() {
        assert!(line.split(' ').nth(1) == Some("403") && line.contains("Host"), "{line}");
    }
    assert_eq!(text.lines().count(), hosts.len(), "{text}");
    assert_eq!(engine.ok(&["ps", "-aq"]), "", "no container made");
    // What clients of a loopback address send is served.
    let hosts = ["127.0.0.1:2375", "localhost:2375", "localhost", "[::1]:2375"];
    let out = host.run("python3", &[&["-c", script], &hosts[..]].concat());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    for line in text.lines() {
        assert_eq!(line.split(' ').nth(1), Some("201"), "{line}");
    }
    assert_eq!(text.lines().count(), hosts.len(), "{text}");
    // The docker CLI names the address it was given.
    let out = host.command("docker").args(["-H", "tcp://127.0.0.1:2375", "ps", "-aq"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), hosts.len());
    for id in engine.ok(&["ps", "-aq"]).lines() {
        engine.ok(&["rm", "-f", id]);
    }
}
