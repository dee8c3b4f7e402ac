//! Networks and volumes through the API: create, list, inspect, connect, remove, prune;
//! and `system df`.

use lindocker_testkit::{Api, Engine};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn docker_network_create_ls_inspect_connect_rm() {
    // Networks make bridges and nftables rules: the engine and its service run in a
    // fake host.
    let engine = Engine::with_busybox(BIN, "api_nets");
    let api = Api::start(&engine);
    let id = api.docker_ok(&["network", "create", "--subnet", "10.231.7.0/24", "--label", "team=a", "front"]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    let ls = api.docker_ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    for want in ["front bridge", "host host", "none null"] {
        assert!(ls.lines().any(|l| l == want), "{want}: {ls}");
    }
    let filtered = api.docker_ok(&["network", "ls", "-q", "--no-trunc", "--filter", "label=team=a"]);
    assert_eq!(filtered.trim(), id);
    let info = json(&api.docker_ok(&["network", "inspect", "front"]));
    assert_eq!(info[0]["Id"], id);
    assert_eq!(info[0]["IPAM"]["Config"][0]["Subnet"], "10.231.7.0/24");
    assert_eq!(info[0]["Labels"]["team"], "a");
    // The CLI sees the same network.
    assert_eq!(engine.ok(&["network", "inspect", "-f", "{{.Id}}", "front"]).trim(), id);

    // A container made by the CLI joins through the API.
    engine.ok(&["create", "--name", "member", "localhost/busybox", "sleep", "60"]);
    api.docker_ok(&["network", "connect", "--alias", "web", "front", "member"]);
    let nets = engine.ok(&["inspect", "-f", "{{json .HostConfig}}", "member"]);
    let _ = nets;
    engine.ok(&["start", "member"]);
    let info = json(&api.docker_ok(&["network", "inspect", "front"]));
    let members = info[0]["Containers"].as_object().unwrap();
    assert_eq!(members.len(), 1, "{info}");
    let member = members.values().next().unwrap();
    assert_eq!(member["Name"], "member");
    assert!(member["IPv4Address"].as_str().unwrap().starts_with("10.231.7."), "{member}");

    // In use: 409 with the containers; the predefined ones cannot go.
    let busy = api.docker_run(&["network", "rm", "front"]);
    assert!(!busy.status.success());
    assert!(String::from_utf8_lossy(&busy.stderr).contains("active endpoints"), "{busy:?}");
    let host = api.docker_run(&["network", "rm", "host"]);
    assert!(String::from_utf8_lossy(&host.stderr).contains("pre-defined network"), "{host:?}");
    let missing = api.docker_run(&["network", "inspect", "nosuchnet"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"), "{missing:?}");
    let taken = api.docker_run(&["network", "create", "front"]);
    assert!(String::from_utf8_lossy(&taken.stderr).contains("already exists"), "{taken:?}");

    api.docker_ok(&["network", "disconnect", "front", "member"]);
    engine.ok(&["rm", "-f", "member"]);
    api.docker_ok(&["network", "create", "spare"]);
    let pruned = api.docker_ok(&["network", "prune", "-f"]);
    assert!(pruned.contains("spare") && pruned.contains("front"), "{pruned}");
    let ls = api.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!ls.contains("front") && !ls.contains("spare"), "{ls}");
    assert_eq!(engine.leftovers(), Vec::<String>::new());
}

#[test]
fn docker_volume_create_ls_inspect_rm_prune_and_df() {
    let engine = Engine::with_busybox(BIN, "api_vols");
    let api = Api::start(&engine);
    assert_eq!(api.docker_ok(&["volume", "create", "--label", "k=v", "data"]).trim(), "data");
    // A name chosen by the engine; not anonymous (as Docker: prune leaves it).
    let unnamed = api.docker_ok(&["volume", "create"]);
    let unnamed = unnamed.trim().to_owned();
    assert_eq!(unnamed.len(), 64, "{unnamed}");
    // An anonymous one: a container's `-v /path`, left when the container goes.
    engine.ok(&["create", "--name", "anon", "-v", "/scratch", "localhost/busybox"]);
    let anonymous = engine.ok(&["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "anon"]).trim().to_owned();
    engine.ok(&["rm", "anon"]);
    let ls = api.docker_ok(&["volume", "ls", "-q"]);
    for want in ["data", unnamed.as_str(), anonymous.as_str()] {
        assert!(ls.lines().any(|l| l == want), "{want}: {ls}");
    }
    let labelled = api.docker_ok(&["volume", "ls", "-q", "--filter", "label=k=v"]);
    assert_eq!(labelled.trim(), "data");
    let info = json(&api.docker_ok(&["volume", "inspect", "data"]));
    assert_eq!(info[0]["Driver"], "local");
    assert_eq!(info[0]["Labels"]["k"], "v");
    let mountpoint = info[0]["Mountpoint"].as_str().unwrap().to_owned();
    assert!(std::path::Path::new(&mountpoint).is_dir(), "{mountpoint}");
    assert!(mountpoint.starts_with(engine.root.to_str().unwrap()), "{mountpoint}");
    let missing = api.docker_run(&["volume", "inspect", "nosuchvol"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).to_lowercase().contains("no such volume"), "{missing:?}");
    let bad = api.docker_run(&["volume", "create", "../escape"]);
    assert!(!bad.status.success(), "{bad:?}");

    // A container writes into it; the volume is in use until the container goes.
    engine.ok(&["run", "--name", "writer", "-v", "data:/data", "localhost/busybox", "sh", "-c", "echo hi > /data/f"]);
    assert_eq!(std::fs::read_to_string(format!("{mountpoint}/f")).unwrap(), "hi\n");
    let busy = api.docker_run(&["volume", "rm", "data"]);
    assert!(!busy.status.success());
    assert!(String::from_utf8_lossy(&busy.stderr).contains("volume is in use"), "{busy:?}");

    let df = api.docker_ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}}"]);
    for want in ["Images 1 1", "Containers 1 0", "Local Volumes 3 1"] {
        assert!(df.lines().any(|l| l == want), "{want}: {df}");
    }
    let verbose = api.docker_ok(&["system", "df", "-v"]);
    assert!(verbose.contains("writer") && verbose.contains("data"), "{verbose}");

    engine.ok(&["rm", "writer"]);
    // prune takes the anonymous volume only; -a the others no container uses.
    let pruned = api.docker_ok(&["volume", "prune", "-f"]);
    assert!(pruned.contains(&anonymous) && !pruned.contains(&unnamed), "{pruned}");
    assert!(!pruned.lines().any(|l| l == "data"), "{pruned}");
    assert_eq!(api.docker_ok(&["volume", "rm", "data"]).trim(), "data");
    assert!(!std::path::Path::new(&mountpoint).exists());
    let pruned = api.docker_ok(&["volume", "prune", "-a", "-f"]);
    assert!(pruned.contains(&unnamed), "{pruned}");
    assert_eq!(api.docker_ok(&["volume", "ls", "-q"]).trim(), "");
}

#[test]
fn bad_image_network_and_volume_requests_get_dockers_errors() {
    let engine = Engine::with_busybox(BIN, "api_bad_nv");
    let api = Api::start(&engine);
    let expect = |method: &str, path: &str, body: &[u8], status: u16, words: &str| {
        let reply = api.request(method, path, body);
        assert_eq!(reply.status, status, "{method} {path}: {reply:?}");
        assert_eq!(reply.header("content-type"), Some("application/json"), "{method} {path}");
        let message = reply.json()["message"].as_str().unwrap_or_default().to_owned();
        assert!(message.contains(words), "{method} {path}: {message:?} lacks {words:?}");
    };
    expect("GET", "/v1.44/networks?filters=notjson", b"", 400, "invalid filter");
    expect("GET", "/v1.44/networks?filters=%7B%22colour%22%3A%5B%22x%22%5D%7D", b"", 400, "colour");
    expect("GET", "/v1.44/volumes?filters=%7B%22dangling%22%3A%5B%22maybe%22%5D%7D", b"", 400, "dangling");
    expect("POST", "/v1.44/networks/create", br#"{"Name": 5}"#, 400, "Name");
    expect("POST", "/v1.44/networks/create", br#"{"Name": "n", "Driver": "overlay"}"#, 400, "bridge");
    expect("POST", "/v1.44/networks/create", br#"{"Name": "../n"}"#, 400, "../n");
    expect("POST", "/v1.44/networks/create", br#"{"Name": "host"}"#, 409, "already exists");
    expect(
        "POST",
        "/v1.44/networks/create",
        br#"{"Name": "n", "IPAM": {"Config": [{"Subnet": "10.0.0.0/99"}]}}"#,
        400,
        "subnet",
    );
    let huge = format!(r#"{{"Name": "n", "Labels": {{"k": "{}"}}}}"#, "x".repeat(2 << 20));
    expect("POST", "/v1.44/networks/create", huge.as_bytes(), 400, "body");
    expect("GET", "/v1.44/networks/nosuchnet", b"", 404, "nosuchnet");
    expect("DELETE", "/v1.44/networks/none", b"", 409, "pre-defined");
    expect("POST", "/v1.44/networks/nosuchnet/connect", br#"{"Container": "nosuch"}"#, 404, "nosuch");
    expect("DELETE", "/v1.44/volumes/nosuchvol", b"", 404, "nosuchvol");
    expect("POST", "/v1.44/volumes/create", br#"{"Name": "../escape"}"#, 400, "escape");
    expect("POST", "/v1.44/volumes/create", br#"{"Name": "v", "Driver": "nfs"}"#, 400, "local");
    expect("GET", "/v1.44/images/localhost/nosuch:1/json", b"", 404, "No such image");
    expect("POST", "/v1.44/images/create", b"", 400, "fromImage");
    expect("POST", "/v1.44/images/create?fromImage=UPPERCASE", b"", 400, "invalid reference");
    expect("POST", "/v1.44/images/localhost/busybox/tag", b"", 400, "repo");
    expect("POST", "/v1.44/images/localhost/busybox/tag?repo=Bad%20Name", b"", 400, "invalid reference");
    expect("DELETE", "/v1.44/images/localhost/nosuch:1", b"", 404, "No such image");
    expect("GET", "/v1.44/images/get?names=localhost/nosuch:1", b"", 404, "No such image");
    expect("POST", "/v1.44/images/prune?filters=%7B%22until%22%3A%5B%2210m%22%5D%7D", b"", 400, "until");
    expect("GET", "/v1.44/events?since=yesterday-ish", b"", 400, "since");
    expect("GET", "/v1.44/events?until=0&filters=%7B%22colour%22%3A%5B%22x%22%5D%7D", b"", 400, "colour");
    expect("POST", "/v1.44/auth", br#"{"password": "p"}"#, 400, "username");
    // Nothing was made by any of them.
    assert_eq!(engine.ok(&["volume", "ls", "-q"]).trim(), "");
    let networks = engine.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.lines().any(|l| l == "n"), "{networks}");
    assert_eq!(engine.ok(&["images", "-q"]).lines().count(), 1);

    // A follower whose client goes away does not hold the service: others are served.
    let mut follower = api.connect();
    std::io::Write::write_all(&mut follower, b"GET /v1.44/events HTTP/1.1\r\nHost: docker\r\n\r\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(follower);
    let reply = api.request("GET", "/v1.44/volumes", b"");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["Volumes"], serde_json::json!([]));
}

/// A user network's DNS server started by the API service (its attach is the first),
/// serving containers the docker CLI made by name and alias, and still serving them
/// after the service is gone.
#[test]
fn docker_containers_find_each_other_by_name() {
    let engine = Engine::with_busybox(BIN, "api_dns");
    let api = Api::start(&engine);
    api.docker_ok(&["network", "create", "--subnet", "10.231.9.0/24", "appnet"]);
    assert!(engine.dns_servers().is_empty());
    // Names not ours go to a loopback resolver: nothing leaves the fake host.
    for (name, alias) in [("db", "store"), ("client", "front")] {
        let args = ["--network", "appnet", "--network-alias", alias, "--dns", "127.0.0.1"];
        api.docker_ok(&[&["run", "-d", "--name", name][..], &args, &["localhost/busybox", "sleep", "1000"]].concat());
    }
    let servers = engine.dns_servers();
    assert_eq!(servers.len(), 1, "one server, started by the service");
    let db_ip = api.docker_ok(&["inspect", "-f", "{{.NetworkSettings.Networks.appnet.IPAddress}}", "db"]);
    let db_ip = db_ip.trim();
    assert!(db_ip.starts_with("10.231.9."), "{db_ip}");
    let found = |by: &str| {
        let out = engine.run(&["exec", "client", "timeout", "5", "nslookup", by]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.strip_prefix("Address:").is_some_and(|a| a.trim() == db_ip))
    };
    assert!(found("db") && found("store"), "by name and alias through the API's server");

    // The service goes; its server stays, serving (and is not a zombie of it).
    drop(api);
    assert_eq!(engine.dns_servers(), servers);
    assert!(found("db"), "after the service");
    engine.ok(&["rm", "-f", "db", "client"]);
    assert!(engine.dns_servers().is_empty(), "the server outlived the last container");
    engine.ok(&["network", "rm", "appnet"]);
    assert_eq!(engine.leftovers(), Vec::<String>::new());
}
