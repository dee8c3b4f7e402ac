//! `--target`, `--build-arg`, `.dockerignore`, `-f -`, a tar context on stdin, `-q`,
//! `--network none`.

use lindocker_testkit::Engine;

use crate::{BIN, build_ok, context, nothing_left, p, with_stdin};

const STAGES: &str = "
ARG BASE=localhost/busybox
FROM $BASE AS first
ARG WHO=nobody
RUN echo \"first for $WHO\" > /who

FROM $BASE AS second
RUN echo second > /who
";

#[test]
fn target_picks_a_stage_and_build_args_reach_it() {
    let engine = Engine::with_busybox(BIN, "build-target");
    let ctx = context(&engine, "target", &[("Dockerfile", STAGES)]);
    let log = build_ok(
        &engine,
        &["--target", "first", "--build-arg", "WHO=me", "--build-arg", "UNUSED=1", "-t", "t:first", p(&ctx)],
    );
    assert!(log.contains("[Warning] One or more build-args [UNUSED] were not consumed"), "{log}");
    assert!(!log.contains("echo second"), "the other stage is not built:\n{log}");
    assert_eq!(engine.ok(&["run", "--rm", "t:first", "cat", "/who"]), "first for me\n");
    // The build argument is not kept in the image's config.
    let env = engine.ok(&["image", "inspect", "-f", "{{json .Config.Env}}", "t:first"]);
    assert!(!env.contains("WHO"), "{env}");
    build_ok(&engine, &["-t", "t:last", "--label", "team=build", p(&ctx)]);
    assert_eq!(engine.ok(&["run", "--rm", "t:last", "cat", "/who"]), "second\n");
    let labels = engine.ok(&["image", "inspect", "-f", "{{json .Config.Labels}}", "t:last"]);
    assert!(labels.contains(r#""team":"build""#), "{labels}");
    // The cache's layers are not kept from a prune: its entries are then misses, and the
    // next build runs the steps again.
    let layers = || std::fs::read_dir(engine.root.join("layers")).unwrap().count();
    let before = layers();
    engine.ok(&["rmi", "t:first", "t:last"]);
    engine.ok(&["image", "prune", "-f"]);
    assert!(layers() < before, "the built layers were collected");
    let log = build_ok(&engine, &["-t", "t:again", p(&ctx)]);
    let run = crate::steps(&log).into_iter().find(|(n, _)| n.contains("RUN echo second")).unwrap();
    assert!(!run.1, "the RUN ran again after the prune:\n{log}");
    assert_eq!(engine.ok(&["run", "--rm", "t:again", "cat", "/who"]), "second\n");
    nothing_left(&engine);
}

#[test]
fn dockerignore_dockerfile_on_stdin_and_a_tar_context() {
    let engine = Engine::with_busybox(BIN, "build-stdin");
    let ctx = context(
        &engine,
        "ignore",
        &[(".dockerignore", "secret.txt\n*.log\n"), ("secret.txt", "s3cret"), ("a.log", "x"), ("keep.txt", "kept")],
    );
    let dockerfile = "FROM localhost/busybox\nCOPY . /ctx/\n";
    let out =
        with_stdin(&engine, &["build", "--progress", "plain", "-f", "-", "-t", "ign", p(&ctx)], dockerfile.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listing = engine.ok(&["run", "--rm", "ign", "ls", "/ctx"]);
    assert!(listing.contains("keep.txt"), "{listing}");
    assert!(!listing.contains("secret.txt") && !listing.contains("a.log"), "ignored files were copied: {listing}");

    // Context `-`: a tar on stdin, its Dockerfile inside.
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in [("Dockerfile", "FROM localhost/busybox\nCOPY hello.txt /\n"), ("hello.txt", "from a tar\n")] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, name, data.as_bytes()).unwrap();
    }
    let tar = tar.into_inner().unwrap();
    let out = with_stdin(&engine, &["build", "-q", "-t", "fromtar", "-"], &tar);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // -q: only the id on stdout.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.trim().starts_with("sha256:") && stdout.trim().len() == 71, "{stdout:?}");
    assert_eq!(stdout.lines().count(), 1);
    assert_eq!(engine.ok(&["run", "--rm", "fromtar", "cat", "/hello.txt"]), "from a tar\n");
    nothing_left(&engine);
}

#[test]
fn network_none_has_no_network_and_the_default_has_one() {
    let engine = Engine::with_busybox(BIN, "build-net");
    let ctx = context(&engine, "net", &[("Dockerfile", "FROM localhost/busybox\nRUN ls /sys/class/net > /nets\n")]);
    build_ok(&engine, &["--network", "none", "-t", "none", p(&ctx)]);
    assert_eq!(engine.ok(&["run", "--rm", "--network", "none", "none", "cat", "/nets"]), "lo\n");
    build_ok(&engine, &["-t", "bridged", p(&ctx)]);
    let nets = engine.ok(&["run", "--rm", "--network", "none", "bridged", "cat", "/nets"]);
    assert!(nets.contains("eth0"), "{nets}");
    nothing_left(&engine);
}

#[test]
fn heredocs_run_as_buildkit_runs_them_and_onbuild_triggers_fire_in_the_child() {
    let engine = Engine::with_busybox(BIN, "build-heredoc");
    let base = "FROM localhost/busybox
ONBUILD RUN echo triggered > /trig
ENV WHO=world
RUN <<EOF
echo one > /one
echo two >> /one
EOF
RUN cat <<EOF > /two
hello $WHO
EOF
RUN <<EOF
#!/bin/sh
echo script > /three
EOF
";
    let ctx = context(&engine, "heredoc", &[("Dockerfile", base)]);
    build_ok(&engine, &["-t", "base:1", p(&ctx)]);
    assert_eq!(
        engine.ok(&["run", "--rm", "base:1", "cat", "/one", "/two", "/three"]),
        "one\ntwo\nhello world\nscript\n"
    );
    assert!(engine.run(&["run", "--rm", "base:1", "test", "-e", "/trig"]).status.code() == Some(1));
    let child = context(&engine, "child", &[("Dockerfile", "FROM base:1\nRUN cat /trig\n")]);
    let log = build_ok(&engine, &["-t", "child:1", p(&child)]);
    assert!(log.contains(" triggered"), "the trigger ran first:\n{log}");
    assert_eq!(engine.ok(&["run", "--rm", "child:1", "cat", "/trig"]), "triggered\n");
    // Triggers are not inherited by grandchildren.
    let onbuild = engine.ok(&["image", "inspect", "-f", "{{json .Config.OnBuild}}", "child:1"]);
    assert!(!onbuild.contains("triggered"), "{onbuild}");
    nothing_left(&engine);
}
