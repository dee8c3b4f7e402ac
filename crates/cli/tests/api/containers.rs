//! Containers and exec through the API: the docker CLI's run, ps, logs, exec, attach,
//! stop, rm, inspect, cp.

use std::time::{Duration, Instant};

use lindocker_testkit::{Api, Engine};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn clean(engine: &Engine) {
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn docker_version_talks_to_the_service() {
    let engine = Engine::new(BIN, "api_version");
    let api = Api::start(&engine);
    let out = api.docker_ok(&["version", "--format", "{{.Server.APIVersion}} {{.Server.Os}} {{.Client.APIVersion}}"]);
    assert_eq!(out.trim(), "1.50 linux 1.50");
}

#[test]
fn docker_run_rm_prints_the_output_and_returns_the_exit_code() {
    let engine = Engine::with_busybox(BIN, "api_run");
    let api = Api::start(&engine);
    let out = api.docker_run(&["run", "--rm", "localhost/busybox", "echo", "hi"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hi\n",
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        api.output()
    );
    assert_eq!(out.status.code(), Some(0));
    let out = api.docker_run(&["run", "--rm", "localhost/busybox", "sh", "-c", "echo oops >&2; exit 3"]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    assert_eq!(out.status.code(), Some(3));
    // --rm: nothing is left, for the CLI either.
    assert_eq!(engine.ok(&["ps", "-aq"]), "");
    let out = api.docker_run(&["run", "--rm", "localhost/busybox", "no-such-command"]);
    assert_eq!(out.status.code(), Some(127), "{}", String::from_utf8_lossy(&out.stderr));
    drop(api);
    clean(&engine);
}

#[test]
fn docker_run_d_ps_logs_inspect_stop_rm_are_the_clis_containers() {
    let engine = Engine::with_busybox(BIN, "api_ps");
    let api = Api::start(&engine);
    let id = api
        .docker_ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "-l",
            "tier=front",
            "localhost/busybox",
            "sh",
            "-c",
            "echo started; while true; do sleep 0.1; done",
        ])
        .trim()
        .to_owned();
    assert_eq!(id.len(), 64, "{id}");
    // The same record for both front ends.
    let docker_ps = api.docker_ok(&["ps", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Labels}}"]);
    assert_eq!(docker_ps.trim(), format!("{id} web localhost/busybox tier=front"));
    let cli_ps = engine.ok(&["ps", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Labels}}"]);
    assert_eq!(cli_ps, docker_ps);
    assert_eq!(api.docker_ok(&["ps", "-q", "--filter", "label=tier=back"]), "");
    assert_eq!(
        api.docker_ok(&["inspect", "-f", "{{.State.Status}} {{.Name}} {{.Config.Labels.tier}}", "web"]),
        "running /web front\n"
    );
    assert_eq!(
        api.docker_ok(&["inspect", "-f", "{{.State.Pid}}", "web"]),
        engine.ok(&["inspect", "-f", "{{.State.Pid}}", "web"])
    );
    wait_for("the first log line", || api.docker_ok(&["logs", "web"]) == "started\n");
    // logs -f follows until the container ends.
    let mut follower = api.docker();
    follower.args(["logs", "-f", "web"]).stdout(std::process::Stdio::piped());
    let follower = follower.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    api.docker_ok(&["stop", "-t", "1", "web"]);
    let out = follower.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "started\n");
    assert!(out.status.success());
    assert_eq!(engine.ok(&["inspect", "-f", "{{.State.Status}}", "web"]), "exited\n");
    api.docker_ok(&["rm", "web"]);
    assert_eq!(engine.ok(&["ps", "-aq"]), "");
    let err = api.docker_run(&["inspect", "web"]);
    assert_eq!(err.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&err.stderr).contains("No such object: web"), "{err:?}");
    drop(api);
    clean(&engine);
}
