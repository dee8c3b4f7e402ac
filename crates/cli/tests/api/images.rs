//! Images through the API: pull, images, tag, rmi, save | load, history, prune; and
//! `docker events` showing what another command does.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use lindocker_testkit::image;
use lindocker_testkit::{Api, Engine, Registry};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// Pushes busybox (one gzip layer, `CMD sh`, a label) to `registry` as `test/bb:v1`;
/// returns the name to pull.
pub fn push_busybox(registry: &Registry, scratch: &Path) -> String {
    push_busybox_as(registry, scratch, None)
}

/// [`push_busybox`] to a registry that wants `creds` (`user:password`).
fn push_busybox_as(registry: &Registry, scratch: &Path, creds: Option<&str>) -> String {
    let tar = image::busybox_layer(scratch);
    let gz = image::gzip(&tar);
    let layout = scratch.join("layout");
    let desc = image::image(&layout, &[(gz, tar)], json!({ "Cmd": ["sh"], "Labels": { "tier": "test" } }), "amd64");
    image::finish_layout(&layout, "v1", vec![desc]);
    registry.push_as(&layout, "test/bb", "v1", creds);
    format!("{}/test/bb:v1", registry.addr)
}

/// The blobs and layers in the store.
fn content(engine: &Engine) -> Vec<String> {
    engine.store_listing().into_iter().filter(|p| p.contains("sha256/") || p.starts_with("layers/")).collect()
}

fn image_ids(engine: &Engine) -> String {
    engine.ok(&["images", "-q", "--no-trunc"])
}

#[test]
fn docker_pull_images_tag_history_rmi() {
    let registry = Registry::start("api_pull", None);
    let engine = Engine::new(BIN, "api_pull");
    let name = push_busybox(&registry, &engine.root);
    let api = Api::start(&engine);

    let out = api.docker_ok(&["pull", &name]);
    assert!(out.contains("v1: Pulling from test/bb"), "{out}");
    assert!(out.contains("Pull complete"), "{out}");
    assert!(out.contains("Digest: sha256:"), "{out}");
    assert!(out.contains(&format!("Status: Downloaded newer image for {name}")), "{out}");
    // The CLI sees the image the service pulled.
    let id = engine.ok(&["image", "inspect", "-f", "{{.Id}}", &name]).trim().to_owned();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");

    let listed = api.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert!(listed.contains(&format!("{name} {}", &id[7..19])), "{listed}");
    let digests = api.docker_ok(&["images", "--digests", "--format", "{{.Digest}}"]);
    assert!(digests.trim().starts_with("sha256:"), "{digests}");

    api.docker_ok(&["tag", &name, "localhost/mine:1"]);
    let inspect: Value = serde_json::from_str(&api.docker_ok(&["image", "inspect", "localhost/mine:1"])).unwrap();
    assert_eq!(inspect[0]["Id"], id);
    assert_eq!(inspect[0]["Config"]["Labels"]["tier"], "test");
    let tags = inspect[0]["RepoTags"].as_array().unwrap();
    assert!(tags.contains(&json!("localhost/mine:1")) && tags.contains(&json!(name)), "{tags:?}");
    // The test image's config has no history entries: an empty list, not an error.
    let history = api.docker_ok(&["history", "--no-trunc", "--format", "{{.ID}}", "localhost/mine:1"]);
    assert_eq!(history.trim(), "", "{history}");
    let reply = api.request("GET", "/v1.44/images/localhost/mine:1/history", b"");
    assert_eq!((reply.status, reply.json()), (200, json!([])), "{reply:?}");
    let reply = api.request("GET", "/v1.44/images/localhost/nosuch:1/history", b"");
    assert_eq!(reply.status, 404, "{reply:?}");
    assert!(reply.json()["message"].as_str().unwrap().contains("No such image"), "{reply:?}");

    // Removing by id with two names needs -f; by name untags only.
    let refused = api.docker_run(&["rmi", &id]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("must be forced"), "{refused:?}");
    let out = api.docker_ok(&["rmi", "localhost/mine:1"]);
    assert_eq!(out.trim(), "Untagged: localhost/mine:1");
    assert!(image_ids(&engine).contains(&id));

    let missing = api.docker_run(&["rmi", "localhost/nosuch:1"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such image"), "{missing:?}");
    let missing = api.docker_run(&["image", "inspect", "localhost/nosuch:1"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such image"), "{missing:?}");

    // A container's image stays unless forced.
    engine.ok(&["create", "--name", "user", &name]);
    let used = api.docker_run(&["rmi", &name]);
    assert!(String::from_utf8_lossy(&used.stderr).contains("being used by a container"), "{used:?}");
    engine.ok(&["rm", "user"]);
    let out = api.docker_ok(&["rmi", &name]);
    assert!(out.contains(&format!("Untagged: {name}")) && out.contains(&format!("Deleted: {id}")), "{out}");
    assert_eq!(image_ids(&engine).trim(), "");
    assert_eq!(content(&engine), Vec::<String>::new(), "no layer or blob left");

    // The stream itself, as dockerd writes it: one JSON object per line.
    let reply =
        api.request("POST", &format!("/v1.44/images/create?fromImage={}&tag=v1", name.trim_end_matches(":v1")), b"");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let lines: Vec<Value> = reply.text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0], json!({ "status": "Pulling from test/bb", "id": "v1" }), "{lines:?}");
    let downloading = lines.iter().find(|l| l["status"] == "Downloading").expect("a Downloading line");
    assert!(
        downloading["progressDetail"]["current"].as_u64().unwrap()
            <= downloading["progressDetail"]["total"].as_u64().unwrap()
    );
    assert_eq!(downloading["id"].as_str().unwrap().len(), 12, "{downloading}");
    assert!(lines.iter().any(|l| l["status"].as_str().is_some_and(|s| s.starts_with("Digest: sha256:"))), "{lines:?}");
    assert_eq!(lines.last().unwrap()["status"], format!("Status: Downloaded newer image for {name}"));
    let reply =
        api.request("POST", &format!("/v1.44/images/create?fromImage={}/test/absent&tag=v1", registry.addr), b"");
    let last: Value = serde_json::from_str(reply.text().lines().last().unwrap()).unwrap();
    assert_eq!(last["errorDetail"]["message"], last["error"], "{last}");
    assert!(last["error"].as_str().unwrap().contains("manifest unknown"), "{last}");
    api.docker_ok(&["rmi", &name]);

    // A pull that fails ends the stream with Docker's error line: the CLI says why.
    let bad = api.docker_run(&["pull", &format!("{}/test/absent:v1", registry.addr)]);
    assert!(!bad.status.success(), "{bad:?}");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("manifest unknown"), "{err}");
}

#[test]
fn docker_save_pipe_load_and_prune() {
    let registry = Registry::start("api_save", None);
    let engine = Engine::new(BIN, "api_save");
    let name = push_busybox(&registry, &engine.root);
    let api = Api::start(&engine);
    api.docker_ok(&["pull", "-q", &name]);
    let id = engine.ok(&["image", "inspect", "-f", "{{.Id}}", &name]).trim().to_owned();

    let archive = engine.root.join("saved.tar");
    let out = api.docker_run(&["save", "-o", archive.to_str().unwrap(), &name]);
    assert!(out.status.success(), "{out:?}");
    // The archive is Docker's: manifest.json names the image.
    let listing = std::process::Command::new("tar").arg("-tf").arg(&archive).output().unwrap();
    assert!(String::from_utf8_lossy(&listing.stdout).contains("manifest.json"), "{listing:?}");

    api.docker_ok(&["rmi", &name]);
    assert_eq!(image_ids(&engine).trim(), "");
    let out = api.docker_ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(out.trim(), format!("Loaded image: {name}"));
    assert_eq!(image_ids(&engine).trim(), id);
    // docker save X | docker load, through a real pipe (the image is there: load names
    // it again).
    api.docker_ok(&["rmi", "-f", &name]);
    engine.ok(&["load", "-i", archive.to_str().unwrap()]);
    let mut save = api.docker();
    save.args(["save", &name]).stdout(Stdio::piped());
    let mut save = save.spawn().unwrap();
    let mut load = api.docker();
    load.args(["load"]).stdin(save.stdout.take().unwrap()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let loaded = load.spawn().unwrap().wait_with_output().unwrap();
    assert!(save.wait().unwrap().success());
    assert!(loaded.status.success(), "{loaded:?}\n{}", api.output());
    assert_eq!(String::from_utf8_lossy(&loaded.stdout).trim(), format!("Loaded image: {name}"));
    assert_eq!(image_ids(&engine).trim(), id);

    // Prune: a dangling image goes, a tagged one stays unless -a.
    api.docker_ok(&["tag", &name, "localhost/keep:1"]);
    api.docker_ok(&["rmi", &name]);
    let out = api.docker_ok(&["image", "prune", "-f"]);
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert_eq!(image_ids(&engine).trim(), id);
    let out = api.docker_ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains(&format!("deleted: {id}")), "{out}");
    assert_eq!(image_ids(&engine).trim(), "");

    // A load of garbage is an error and changes nothing.
    let junk = engine.root.join("junk.tar");
    std::fs::write(&junk, b"not an archive at all").unwrap();
    let bad = api.docker_run(&["load", "-i", junk.to_str().unwrap()]);
    assert!(!bad.status.success(), "{bad:?}");
    assert_eq!(content(&engine), Vec::<String>::new());
}

#[test]
fn docker_events_shows_what_another_command_does() {
    let engine = Engine::with_busybox(BIN, "api_events");
    let api = Api::start(&engine);
    let mut events = api.docker();
    events
        .args(["events", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut events = events.spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = events.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The follower starts at the journal's end: give it a moment, then act.
    std::thread::sleep(Duration::from_millis(700));
    engine.ok(&["tag", "localhost/busybox", "localhost/other:2"]);
    engine.ok(&["volume", "create", "evvol"]);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline && !seen.iter().any(|l: &String| l.starts_with("volume create")) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(line);
        }
    }
    let _ = events.kill();
    let _ = events.wait();
    let _ = reader.join();
    assert!(seen.contains(&"image tag localhost/other:2".to_owned()), "{seen:?}\n{}", api.output());
    assert!(seen.iter().any(|l| l.starts_with("volume create")), "{seen:?}");

    // Stored events by time and filter, ending at --until (the docker CLI sends a
    // duration as whole unix seconds: what happened this second is after `--until 0s`).
    std::thread::sleep(Duration::from_millis(1100));
    let out = api.docker_ok(&["events", "--since", "1m", "--until", "0s", "--filter", "type=volume"]);
    let journal = std::fs::read_to_string(engine.root.join("events/journal")).unwrap_or_default();
    assert!(out.contains("volume create evvol"), "{out}\njournal: {journal}");
    assert!(!out.contains("image tag"), "{out}");
    let bad = api.docker_run(&["events", "--since", "1m", "--until", "0s", "--filter", "colour=red"]);
    assert!(!bad.status.success(), "{bad:?}");
}

#[test]
fn docker_login_checks_credentials_with_the_registry() {
    let registry = Registry::start("api_auth", Some(("tester", "password")));
    let engine = Engine::new(BIN, "api_auth");
    let name = push_busybox_as(&registry, &engine.root, Some("tester:password"));
    let api = Api::start(&engine);
    // Not logged in: the registry refuses the pull.
    let refused = api.docker_run(&["pull", &name]);
    assert!(!refused.status.success(), "{refused:?}");
    let login = |password: &str| {
        let mut c = api.docker();
        c.args(["login", "-u", "tester", "--password-stdin", &registry.addr])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), format!("{password}\n").as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let wrong = login("wrong");
    assert!(!wrong.status.success(), "{wrong:?}");
    assert!(
        !api.config.join("config.json").exists()
            || !std::fs::read_to_string(api.config.join("config.json")).unwrap().contains(&registry.addr)
    );
    let reply = api.request(
        "POST",
        "/v1.44/auth",
        format!(r#"{{"username":"tester","password":"wrong","serveraddress":"{}"}}"#, registry.addr).as_bytes(),
    );
    assert_eq!(reply.status, 401, "{reply:?}");
    assert!(reply.json()["message"].is_string());
    let right = login("password");
    assert!(right.status.success(), "{right:?}\n{}", api.output());
    assert!(String::from_utf8_lossy(&right.stdout).contains("Login Succeeded"), "{right:?}");
    // The docker CLI sends the credentials it stored with the pull (X-Registry-Auth).
    let out = api.docker_ok(&["pull", &name]);
    assert!(out.contains("Downloaded newer image"), "{out}");
    // The client keeps the credentials; the service stored none of its own.
    assert!(
        !engine.root.join("config").exists()
            || !std::fs::read_to_string(engine.root.join("config")).unwrap_or_default().contains("tester")
    );
}

#[test]
fn docker_run_pulls_a_missing_image_first() {
    let registry = Registry::start("api_runpull", None);
    let engine = Engine::new(BIN, "api_runpull");
    let name = push_busybox(&registry, &engine.root);
    let api = Api::start(&engine);
    // No network (the engine runs in this host's namespace here): nothing but the pull
    // and the container.
    let out = api.docker_run(&["run", "--rm", "--network", "none", &name, "echo", "pulled and ran"]);
    assert!(out.status.success(), "{out:?}\n{}", api.output());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pulled and ran\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("Unable to find image '{name}' locally")), "{err}");
    assert!(err.contains("Downloaded newer image"), "{err}");
    assert_eq!(engine.ok(&["ps", "-a", "-q"]).trim(), "");
    assert_eq!(engine.leftovers(), Vec::<String>::new());
}

#[test]
fn docker_import_makes_an_image_from_a_tar() {
    let engine = Engine::new(BIN, "api_import");
    let api = Api::start(&engine);
    let tar = engine.root.join("rootfs.tar");
    std::fs::write(&tar, image::busybox_layer(&engine.root)).unwrap();
    let path = tar.to_str().unwrap();
    let out = api.docker_ok(&[
        "import",
        "--change",
        r#"CMD ["sh"]"#,
        "--message",
        "through the API",
        path,
        "localhost/imported:1",
    ]);
    let id = out.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{out}");
    let info: Value = serde_json::from_str(&engine.ok(&["image", "inspect", "localhost/imported:1"])).unwrap();
    assert_eq!(info[0]["Id"], id);
    assert_eq!(info[0]["Config"]["Cmd"], json!(["sh"]));
    // A change the engine cannot apply stores nothing.
    let before = content(&engine);
    let bad = api.docker_run(&["import", "--change", "FROBNICATE x", path, "localhost/bad:1"]);
    assert!(!bad.status.success(), "{bad:?}");
    assert_eq!(content(&engine), before);
    // A URL is not fetched by the service.
    let reply = api.request("POST", "/v1.44/images/create?fromSrc=http%3A%2F%2F127.0.0.1%3A1%2Fx.tar", b"");
    assert_eq!(reply.status, 501, "{reply:?}");
}

#[test]
fn docker_push_sends_the_clients_credentials() {
    let registry = Registry::start("api_push", Some(("tester", "password")));
    let engine = Engine::new(BIN, "api_push");
    let tar = engine.root.join("busybox.tar");
    std::fs::write(&tar, image::busybox_layer(&engine.root)).unwrap();
    engine.ok(&["import", "-c", r#"CMD ["sh"]"#, tar.to_str().unwrap(), "localhost/busybox"]);
    let name = format!("{}/test/pushed:1", registry.addr);
    engine.ok(&["tag", "localhost/busybox", &name]);
    let api = Api::start(&engine);

    let refused = api.docker_run(&["push", &name]);
    assert!(!refused.status.success(), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unauthorized"), "{refused:?}");
    let mut c = api.docker();
    c.args(["login", "-u", "tester", "-p", "password", &registry.addr]);
    assert!(c.output().unwrap().status.success());
    let out = api.docker_ok(&["push", &name]);
    assert!(out.contains(": Pushed"), "{out}");
    let digest = engine.ok(&["image", "inspect", "-f", "{{index .RepoDigests 0}}", &name]);
    let digest = digest.trim().rsplit('@').next().unwrap().to_owned();
    assert!(out.contains(&format!("1: digest: {digest} size: ")), "{out}");
    let remote = format!("docker://{name}");
    let inspected = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--creds", "tester:password", &remote])
        .output()
        .unwrap();
    let inspected: Value = serde_json::from_slice(&inspected.stdout).unwrap();
    assert_eq!(inspected["Digest"], digest.as_str());
}

#[test]
fn docker_images_filters_reach_the_engines_filters() {
    let engine = Engine::new(BIN, "api_imgfilter");
    let tar = engine.root.join("rootfs.tar");
    std::fs::write(&tar, image::busybox_layer(&engine.root)).unwrap();
    let path = tar.to_str().unwrap();
    engine.ok(&["import", path, "localhost/base:1"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    engine.ok(&["import", "-m", "second", "-c", "LABEL tier=web", path, "app:1.0-glibc"]);
    engine.ok(&["tag", "app:1.0-glibc", "app:1.0-musl"]);
    let api = Api::start(&engine);
    let names = |filters: &[&str]| {
        let mut args = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        let mut lines: Vec<String> = api.docker_ok(&args).lines().map(str::to_owned).collect();
        lines.sort();
        lines.join(" ")
    };
    assert_eq!(names(&["reference=app:*libc"]), "app:1.0-glibc");
    assert_eq!(names(&["label=tier=web", "reference=*:*musl"]), "app:1.0-musl");
    assert_eq!(names(&["before=app:1.0-musl"]), "localhost/base:1");
    assert_eq!(names(&["since=localhost/base:1"]), "app:1.0-glibc app:1.0-musl");
    assert_eq!(names(&["until=2000-01-01"]), "");
    let bad = api.docker_run(&["images", "--filter", "bogus=1"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid filter 'bogus'"), "{bad:?}");
    let bad = api.docker_run(&["images", "--filter", "before=nosuch:1"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nosuch"), "{bad:?}");
}
