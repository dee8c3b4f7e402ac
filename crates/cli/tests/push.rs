//! `push`: images built here (imported busybox, a committed container) go to Debian's
//! docker-registry on loopback, behind the testkit proxy that logs every request; skopeo
//! and podman read what arrived; pushing again sends no blob; another repository mounts;
//! auth, a dropped upload, `-a`, and what cannot be pushed.

use std::process::Command;
use std::sync::atomic::Ordering;

use lindocker_testkit::{Engine, Proxy, ProxyMode, Registry, temp_dir};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

fn inspect(engine: &Engine, name: &str) -> Value {
    let out: Value = serde_json::from_str(&engine.ok(&["image", "inspect", name])).unwrap();
    out[0].clone()
}

fn skopeo(args: &[&str]) -> std::process::Output {
    Command::new("skopeo").args(args).output().expect("skopeo (the README's install command installs it)")
}

fn skopeo_json(args: &[&str]) -> Value {
    let out = skopeo(args);
    assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An engine with `localhost/busybox` imported, in this network namespace (the registry
/// listens on its loopback; containers run with `--network none`).
fn engine(name: &str) -> Engine {
    let engine = Engine::new(BIN, name);
    let tar = engine.root.join("busybox.tar");
    std::fs::write(&tar, lindocker_testkit::image::busybox_layer(&engine.root)).unwrap();
    engine.ok(&["import", "-c", r#"CMD ["sh"]"#, tar.to_str().unwrap(), "localhost/busybox"]);
    std::fs::remove_file(&tar).unwrap();
    engine
}

/// `localhost/busybox` plus a committed layer (`/hello`), named `name`.
fn committed(engine: &Engine, name: &str) {
    engine.ok(&["run", "--name", "maker", "--network", "none", "localhost/busybox", "sh", "-c", "echo hi > /hello"]);
    engine.ok(&["commit", "maker", name]);
    engine.ok(&["rm", "maker"]);
}

/// Blob uploads the proxy forwarded (upload sessions, chunks, monolithic PUTs).
fn uploads(proxy: &Proxy) -> usize {
    proxy.requests_with("/blobs/uploads").len()
}

#[test]
fn push_inspect_push_again_pull_back_and_run() {
    let registry = Registry::start("push", None);
    let proxy = Proxy::start(&registry.addr, ProxyMode::default());
    let engine = engine("push");
    let name = format!("{}/test/busybox:1", proxy.addr);
    committed(&engine, &name);
    let id = inspect(&engine, &name)["Id"].as_str().unwrap().to_owned();

    let out = engine.ok(&["push", &name]);
    assert!(out.contains(&format!("The push refers to repository [{}/test/busybox]", proxy.addr)), "{out}");
    assert_eq!(out.matches(": Pushed").count(), 2, "two layers: {out}");
    let last = out.lines().last().unwrap();
    assert!(last.starts_with("1: digest: sha256:") && last.contains(" size: "), "{out}");
    let digest = last.split_whitespace().nth(2).unwrap().to_owned();
    let repo_digest = format!("{}/test/busybox@{digest}", proxy.addr);
    assert!(inspect(&engine, &name)["RepoDigests"].as_array().unwrap().iter().any(|d| d == &repo_digest));

    // What arrived, as skopeo reads it: our manifest, gzip layers, our config.
    let remote = format!("docker://{}/test/busybox:1", registry.addr);
    let info = skopeo_json(&["inspect", "--tls-verify=false", &remote]);
    assert_eq!(info["Digest"], digest.as_str());
    assert_eq!(info["Layers"].as_array().unwrap().len(), 2);
    let raw = skopeo_json(&["inspect", "--raw", "--tls-verify=false", &remote]);
    assert_eq!(raw["config"]["digest"], id.as_str());
    for layer in raw["layers"].as_array().unwrap() {
        assert!(layer["mediaType"].as_str().unwrap().ends_with("gzip"), "{raw}");
    }

    // Again: every blob is there; nothing is uploaded, the digest is the same.
    let before = uploads(&proxy);
    let again = engine.ok(&["push", &name]);
    assert_eq!(again.matches(": Layer already exists").count(), 2, "{again}");
    assert_eq!(uploads(&proxy), before, "a second push uploads nothing: {:?}", proxy.requests_with("/blobs/"));
    assert!(again.ends_with(&format!("1: digest: {digest} size: {}\n", last.rsplit(' ').next().unwrap())), "{again}");

    // Back from the registry: the same image under the same digest, and it runs.
    engine.ok(&["rmi", &name]);
    assert!(engine.root.join("image/blobmeta").read_dir().unwrap().count() > 0, "pushes remember blobs");
    engine.ok(&["image", "prune", "-a"]);
    // The gzip blobs made for the push, and what was known about them, went with the images.
    let left = |dir: &str| engine.root.join(dir).read_dir().unwrap().count();
    assert_eq!((left("image/blobs/sha256"), left("image/blobmeta")), (0, 0));
    engine.ok(&["pull", &name]);
    let pulled = inspect(&engine, &name);
    assert_eq!(pulled["Id"], id.as_str());
    assert!(pulled["RepoDigests"].as_array().unwrap().iter().any(|d| d == &repo_digest), "{pulled}");
    assert_eq!(engine.ok(&["run", "--rm", "--network", "none", &name, "cat", "/hello"]), "hi\n");
}

#[test]
fn another_repository_mounts_instead_of_uploading() {
    let registry = Registry::start("mount", None);
    let proxy = Proxy::start(&registry.addr, ProxyMode::default());
    let engine = engine("mount");
    let a = format!("{}/test/a:1", proxy.addr);
    let b = format!("{}/test/b:1", proxy.addr);
    engine.ok(&["tag", "localhost/busybox", &a]);
    engine.ok(&["push", &a]);
    engine.ok(&["tag", "localhost/busybox", &b]);
    let patches = proxy.requests_with("PATCH").len() + proxy.requests_with("PUT /v2/test/b/blobs").len();
    let out = engine.ok(&["push", &b]);
    assert!(out.contains(": Mounted from test/a"), "{out}");
    assert!(!proxy.requests_with("/v2/test/b/blobs/uploads/?mount=sha256").is_empty(), "{:?}", proxy.requests_with(""));
    assert_eq!(proxy.requests_with("PATCH").len() + proxy.requests_with("PUT /v2/test/b/blobs").len(), patches);
    skopeo_json(&["inspect", "--tls-verify=false", &format!("docker://{}/test/b:1", registry.addr)]);
}

#[test]
fn a_registry_with_auth_wants_a_login_and_gets_no_half_push() {
    let registry = Registry::start("pushauth", Some(("alice", "s3cret")));
    let engine = engine("pushauth");
    let name = format!("{}/test/private:1", registry.addr);
    engine.ok(&["tag", "localhost/busybox", &name]);
    let err = engine.fails(&["push", &name], 1);
    assert!(err.contains("unauthorized") && err.contains(&format!("lindocker login {}", registry.addr)), "{err}");
    let remote = format!("docker://{}/test/private:1", registry.addr);
    assert!(!skopeo(&["inspect", "--tls-verify=false", "--creds", "alice:s3cret", &remote]).status.success());
    engine.ok(&["login", "-u", "alice", "-p", "s3cret", &registry.addr]);
    engine.ok(&["push", &name]);
    skopeo_json(&["inspect", "--tls-verify=false", "--creds", "alice:s3cret", &remote]);
}

#[test]
fn a_dropped_upload_is_resumed_or_restarted() {
    let registry = Registry::start("pushflaky", None);
    let proxy =
        Proxy::start(&registry.addr, ProxyMode { cut_first_upload_after: Some(100_000), ..ProxyMode::default() });
    let engine = engine("pushflaky");
    // A layer of 12 MiB that does not compress: chunked (PATCH) uploads.
    let dir = temp_dir("pushflaky-data");
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let data: Vec<u8> = (0..12u32 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, "big", &data[..]).unwrap();
    std::fs::write(dir.join("big.tar"), tar.into_inner().unwrap()).unwrap();
    let name = format!("{}/test/big:1", proxy.addr);
    engine.ok(&["import", dir.join("big.tar").to_str().unwrap(), &name]);
    let out = engine.ok(&["push", &name]);
    assert_eq!(proxy.cuts.load(Ordering::Relaxed), 1, "the proxy cut one upload");
    assert!(out.contains("Retrying"), "{out}");
    assert!(!proxy.requests_with("PATCH ").is_empty(), "a large blob goes in PATCH chunks");
    let info = skopeo_json(&["inspect", "--tls-verify=false", &format!("docker://{}/test/big:1", registry.addr)]);
    assert_eq!(info["Layers"].as_array().unwrap().len(), 1);
    let id = inspect(&engine, &name)["Id"].clone();
    engine.ok(&["rmi", &name]);
    engine.ok(&["pull", "-q", &name]);
    assert_eq!(inspect(&engine, &name)["Id"], id);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn all_tags_quiet_and_what_cannot_be_pushed() {
    let registry = Registry::start("pushall", None);
    let engine = engine("pushall");
    let repo = format!("{}/test/tags", registry.addr);
    engine.ok(&["tag", "localhost/busybox", &format!("{repo}:1")]);
    engine.ok(&["tag", "localhost/busybox", &format!("{repo}:2")]);
    let out = engine.ok(&["image", "push", "-a", "-q", &repo]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    for line in &lines {
        assert!(line.starts_with(&format!("{repo}@sha256:")) && line.len() == repo.len() + 72, "{out}");
    }
    let tags = skopeo_json(&["list-tags", "--tls-verify=false", &format!("docker://{repo}")]);
    let mut tags: Vec<&str> = tags["Tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    tags.sort();
    assert_eq!(tags, ["1", "2"]);

    let err = engine.fails(&["push", &format!("{repo}@sha256:{}", "a".repeat(64))], 1);
    assert!(err.contains("digest"), "{err}");
    let err = engine.fails(&["push", &format!("{repo}:nope")], 1);
    assert!(err.contains("No such image"), "{err}");
    let err = engine.fails(&["push", "-a", &format!("{repo}:1")], 1);
    assert!(err.contains("--all-tags"), "{err}");
    // An image is for one platform; another is refused before anything is sent.
    let host = if cfg!(target_arch = "x86_64") { "linux/amd64" } else { "linux/arm64" };
    let err = engine.fails(&["push", "--platform", "linux/s390x", &format!("{repo}:1")], 1);
    assert!(err.contains("linux/s390x") && err.contains(host), "{err}");
    engine.ok(&["push", "-q", "--platform", host, &format!("{repo}:1")]);
    // A registry nobody listens on.
    let err = engine.fails(&["push", "127.0.0.1:1/test/x:1"], 1);
    assert!(err.contains("No such image"), "{err}");
    engine.ok(&["tag", "localhost/busybox", "127.0.0.1:1/test/x:1"]);
    let err = engine.fails(&["push", "127.0.0.1:1/test/x:1"], 1);
    assert!(err.contains("127.0.0.1:1"), "{err}");
}

#[test]
fn podman_pulls_and_runs_a_pushed_image() {
    let registry = Registry::start("pushpodman", None);
    let engine = engine("pushpodman");
    let name = format!("{}/test/forpodman:1", registry.addr);
    committed(&engine, &name);
    engine.ok(&["push", "-q", &name]);

    let podman = lindocker_testkit::Podman::new("pushpodman");
    let pulled = podman.run(&["pull", "--tls-verify=false", "-q", &name]);
    assert!(pulled.status.success(), "podman pull: {}", String::from_utf8_lossy(&pulled.stderr));
    let ran = podman.run(&["run", "--rm", "--network", "none", &name, "cat", "/hello"]);
    assert!(ran.status.success(), "podman run: {}", String::from_utf8_lossy(&ran.stderr));
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "hi\n");
}

#[test]
fn token_auth_through_the_bearer_challenge() {
    let registry = Registry::start("pushtoken", None);
    let proxy = Proxy::start(&registry.addr, ProxyMode { bearer: Some("bob:pw".into()), ..ProxyMode::default() });
    let engine = engine("pushtoken");
    let name = format!("{}/test/tok:1", proxy.addr);
    engine.ok(&["tag", "localhost/busybox", &name]);
    let err = engine.fails(&["push", &name], 1);
    assert!(err.contains(&format!("lindocker login {}", proxy.addr)), "{err}");
    assert!(proxy.requests_with("PUT").is_empty(), "nothing was sent: {:?}", proxy.requests_with(""));
    engine.ok(&["login", "-u", "bob", "-p", "pw", &proxy.addr]);
    let before = proxy.tokens.load(Ordering::Relaxed);
    engine.ok(&["push", &name]);
    assert!(proxy.tokens.load(Ordering::Relaxed) > before, "the push got a token");
    skopeo_json(&["inspect", "--tls-verify=false", &format!("docker://{}/test/tok:1", registry.addr)]);
}
