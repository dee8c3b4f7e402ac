//! Whole tools against the API: docker-compose (Debian's 1.29) bringing up a project, the
//! Python SDK (Debian's python3-docker). Both are installed by scripts/install.sh; a
//! missing one fails the test, saying what to install.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use lindocker_testkit::{Api, Engine, Registry};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// The Python that has Debian's `python3-docker` (not a pyenv shim's).
const PYTHON: &str = "/usr/bin/python3";

fn need(program: &str, package: &str) {
    assert!(
        Path::new(program).is_file()
            || std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file())),
        "{program} is missing: install the Debian package {package} (scripts/install.sh does)"
    );
}

fn output(mut cmd: Command, what: &str, api: &Api) -> Output {
    cmd.stdin(Stdio::null());
    lindocker_testkit::output_via_files(cmd, &api.config.join(what))
}

fn check(out: &Output, what: &str, api: &Api) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}\nservice: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        api.output()
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The body at `url`, fetched from inside the engine's fake host, tried for a while (the
/// service may still be starting).
fn fetch_in_host(engine: &Engine, url: &str) -> Option<String> {
    let netns = engine.netns.as_ref().expect("the engine runs in a fake host");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let out = Command::new("nsenter")
            .arg(format!("--net={}", netns.display()))
            .args(["--", "timeout", "5", "busybox", "wget", "-qO-", url])
            .output()
            .unwrap();
        if out.status.success() {
            return Some(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    None
}

const COMPOSE_FILE: &str = r#"version: "3.7"
services:
  db:
    image: localhost/busybox
    environment:
      - GREETING=stored by db
    volumes:
      - dbdata:/data
    command: ["sh", "-c", "echo db-ready; echo \"$$GREETING\" > /data/f; exec httpd -f -p 5432 -h /data"]
  web:
    image: localhost/busybox
    depends_on:
      - db
    ports:
      - "18080:80"
    environment:
      DB_HOST: db
    command:
      - sh
      - -c
      - |
        mkdir -p /www
        for i in $$(seq 100); do wget -q -O /www/index.html http://$$DB_HOST:5432/f && break; sleep 0.2; done
        echo "web-got $$(cat /www/index.html)"
        exec httpd -f -p 80 -h /www
volumes:
  dbdata:
"#;

#[test]
fn compose_up_ps_logs_down_leaves_nothing() {
    need("docker-compose", "docker-compose");
    let engine = Engine::with_busybox(BIN, "api_compose");
    let api = Api::start(&engine);
    let dir = engine.root.with_extension("project");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("docker-compose.yml"), COMPOSE_FILE).unwrap();
    let compose = |args: &[&str]| {
        let mut c = Command::new("docker-compose");
        c.current_dir(&dir)
            .args(["--ansi", "never", "-p", "proj"])
            .args(args)
            .env("DOCKER_HOST", &api.host)
            .env("DOCKER_CONFIG", &api.config)
            .env_remove("COMPOSE_API_VERSION")
            .env_remove("DOCKER_CONTEXT");
        let out = output(c, "compose", &api);
        check(&out, &format!("docker-compose {args:?}"), &api)
    };

    let up = compose(&["up", "-d"]);
    assert!(up.contains("proj_db_1") && up.contains("proj_web_1"), "{up}");
    // web reached db by its service name, and serves what it got on the published port.
    assert_eq!(
        fetch_in_host(&engine, "http://127.0.0.1:18080/").as_deref(),
        Some("stored by db\n"),
        "{}",
        api.output()
    );
    // A second `up` finds everything as it wants it.
    let again = compose(&["up", "-d"]);
    assert!(again.contains("proj_db_1 is up-to-date") && again.contains("proj_web_1 is up-to-date"), "{again}");
    let ps = compose(&["ps"]);
    for name in ["proj_db_1", "proj_web_1"] {
        assert!(ps.lines().any(|l| l.starts_with(name) && l.contains("Up")), "{name}: {ps}");
    }
    assert!(ps.contains("18080->80/tcp"), "{ps}");
    let logs = compose(&["logs", "--no-color"]);
    assert!(logs.contains("db-ready"), "{logs}");
    assert!(logs.contains("web-got stored by db"), "{logs}");
    // The same containers, network and volume as the CLI sees.
    let names = engine.ok(&["ps", "--format", "{{.Names}}"]);
    assert!(names.contains("proj_db_1") && names.contains("proj_web_1"), "{names}");
    assert!(engine.ok(&["network", "ls", "--format", "{{.Name}}"]).contains("proj_default"));
    let volume = engine.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "proj_dbdata"]);
    assert_eq!(std::fs::read_to_string(Path::new(volume.trim()).join("f")).unwrap(), "stored by db\n");

    compose(&["down", "-v"]);
    assert_eq!(engine.ok(&["ps", "-a", "-q"]).trim(), "");
    assert_eq!(engine.ok(&["volume", "ls", "-q"]).trim(), "");
    assert!(!engine.ok(&["network", "ls", "--format", "{{.Name}}"]).contains("proj_default"));
    assert_eq!(engine.leftovers(), Vec::<String>::new());
}

/// Runs `script` with the SDK against the service; `args` are `sys.argv[1:]`.
fn python(api: &Api, script: &str, args: &[&str]) -> String {
    need(PYTHON, "python3");
    let probe = Command::new(PYTHON).args(["-c", "import docker"]).output().unwrap();
    assert!(probe.status.success(), "the Python SDK is missing: install the Debian package python3-docker");
    let mut c = Command::new(PYTHON);
    c.arg("-c").arg(script).args(args).env("DOCKER_HOST", &api.host).env("DOCKER_CONFIG", &api.config);
    let out = output(c, "python", api);
    check(&out, "the SDK script", api)
}

#[test]
fn python_sdk_pulls_and_lists_images() {
    let registry = Registry::start("api_sdk_images", None);
    let engine = Engine::new(BIN, "api_sdk_images");
    let name = crate::images::push_busybox(&registry, &engine.root);
    let api = Api::start(&engine);
    let (repo, tag) = name.rsplit_once(':').unwrap();
    let out = python(
        &api,
        r#"
import sys, docker
client = docker.from_env()
repo, tag = sys.argv[1], sys.argv[2]
image = client.images.pull(repo, tag=tag)
print("pulled", image.id, image.tags)
assert repo + ":" + tag in image.tags, image.tags
listed = [t for i in client.images.list() for t in i.tags]
assert repo + ":" + tag in listed, listed
assert client.images.get(repo + ":" + tag).id == image.id
try:
    client.images.get("localhost/nosuch:1")
    raise SystemExit("found an image that does not exist")
except docker.errors.ImageNotFound:
    print("not found, as expected")
"#,
        &[repo, tag],
    );
    assert!(out.contains("not found, as expected"), "{out}");
    let id = engine.ok(&["image", "inspect", "-f", "{{.Id}}", &name]);
    assert!(out.contains(id.trim()), "{out}");
}

#[test]
fn python_sdk_runs_containers_and_makes_networks_and_volumes() {
    let engine = Engine::with_busybox(BIN, "api_sdk_run");
    let api = Api::start(&engine);
    let out = python(
        &api,
        r#"
import docker
client = docker.from_env()
out = client.containers.run("localhost/busybox", ["echo", "hello from the sdk"], remove=True)
assert out == b"hello from the sdk\n", out
net = client.networks.create("sdknet", driver="bridge", labels={"made": "sdk"})
vol = client.volumes.create("sdkvol", labels={"made": "sdk"})
assert vol.attrs["Mountpoint"], vol.attrs
c = client.containers.run("localhost/busybox", ["sh", "-c", "echo started; sleep 60"], detach=True,
                          name="sdk1", network="sdknet", volumes={"sdkvol": {"bind": "/v", "mode": "rw"}})
assert "sdk1" in [x.name for x in client.containers.list()]
for _ in range(100):
    if b"started" in c.logs():
        break
    import time; time.sleep(0.1)
assert c.logs() == b"started\n", c.logs()
code, output = c.exec_run(["sh", "-c", "echo via exec > /v/f; cat /v/f"])
assert (code, output) == (0, b"via exec\n"), (code, output)
net.reload()
assert c.id in net.attrs["Containers"], net.attrs
c.remove(force=True)
assert "sdk1" not in [x.name for x in client.containers.list(all=True)]
net.remove()
vol.remove()
print("sdk done")
"#,
        &[],
    );
    assert!(out.contains("sdk done"), "{out}");
    assert_eq!(engine.ok(&["ps", "-a", "-q"]).trim(), "");
    assert_eq!(engine.ok(&["volume", "ls", "-q"]).trim(), "");
    assert_eq!(engine.leftovers(), Vec::<String>::new());
}
