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
