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
