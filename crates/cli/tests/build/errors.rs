//! Builds that fail: the message, the exit code, and nothing left or changed.

use lindocker_testkit::Engine;

use crate::{BIN, context, nothing_left, p};

fn fails(engine: &Engine, args: &[&str], code: i32) -> String {
    let mut all = vec!["build", "--progress", "plain"];
    all.extend_from_slice(args);
    engine.fails(&all, code)
}

#[test]
fn a_failing_run_reports_its_exit_code_and_leaves_nothing() {
    let engine = Engine::with_busybox(BIN, "build-fail");
    let ctx = context(
        &engine,
        "fail",
        &[("Dockerfile", "FROM localhost/busybox\nRUN echo first line && echo last words && exit 3\n")],
    );
    let images = engine.ok(&["images", "-q"]);
    let before = engine.store_listing();
    let err = fails(&engine, &["-t", "broken:1", p(&ctx)], 1);
    assert!(
        err.contains(r#"ERROR: process "/bin/sh -c echo first line && echo last words && exit 3" did not complete successfully: exit code: 3"#),
        "{err}"
    );
    assert!(err.contains("ERROR: failed to solve: process"), "{err}");
    // Its last output lines are shown again under the failure.
    let summary = err.split("------").nth(1).unwrap_or_default();
    assert!(summary.contains("last words"), "{err}");
    // -t only on success; no image, container, mount, cgroup, network namespace left.
    assert_eq!(engine.ok(&["images", "-q"]), images);
    assert!(engine.run(&["image", "inspect", "broken:1"]).status.code() != Some(0));
    assert_eq!(engine.store_listing(), before, "no blob or layer of the failed step is left");
    nothing_left(&engine);
}

#[test]
fn bad_input_is_a_clear_error_and_changes_nothing() {
    let engine = Engine::with_busybox(BIN, "build-errors");
    let before = engine.store_listing();
    let empty = context(&engine, "empty", &[("x", "")]);
    let err = fails(&engine, &[p(&empty)], 1);
    assert!(err.contains("failed to read dockerfile: open Dockerfile: no such file or directory"), "{err}");

    let bad = context(&engine, "bad", &[("Dockerfile", "FROM localhost/busybox\nNOSUCH thing\n")]);
    let err = fails(&engine, &[p(&bad)], 1);
    assert!(err.contains("line 2"), "the parse error names its line: {err}");

    let ok = context(&engine, "ok", &[("Dockerfile", "FROM localhost/busybox AS one\nCOPY missing.txt /\n")]);
    let err = fails(&engine, &["--target", "nosuch", p(&ok)], 1);
    assert!(err.contains(r#"target stage "nosuch" could not be found"#), "{err}");
    let err = fails(&engine, &[p(&ok)], 1);
    assert!(err.contains("missing.txt"), "COPY of a missing file names it: {err}");

    let err = fails(&engine, &["--build-arg", "=x", p(&ok)], 125);
    assert!(err.contains("--build-arg"), "{err}");
    let err = fails(&engine, &["--progress", "fancy", p(&ok)], 125);
    assert!(err.contains("--progress"), "{err}");

    let missing = context(&engine, "missing", &[("Dockerfile", "FROM localhost:1/nosuch/image\nRUN true\n")]);
    let err = fails(&engine, &[p(&missing)], 1);
    assert!(err.contains("localhost:1/nosuch/image"), "{err}");

    assert_eq!(engine.store_listing(), before, "a failed build changed the image store");
    nothing_left(&engine);
}

#[test]
fn the_container_of_a_killed_build_is_removed_by_the_next_build() {
    let engine = Engine::with_busybox(BIN, "build-killed");
    let ctx = context(&engine, "killed", &[("Dockerfile", "FROM localhost/busybox\nRUN sleep 2\n")]);
    let mut cmd = engine.cmd();
    cmd.args(["build", "--progress", "plain", p(&ctx)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while engine.ok(&["ps", "-q"]).trim().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the RUN never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The step's command runs to its end without its build; its container stays.
    while !engine.ok(&["ps", "-q"]).trim().is_empty() {
        assert!(std::time::Instant::now() < deadline + std::time::Duration::from_secs(10), "the RUN never ended");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(engine.ok(&["ps", "-aq"]).lines().count(), 1);
    // Its shim lets go of it a moment after the exit (it gives up on its dead client).
    while !engine.shims().is_empty() {
        assert!(std::time::Instant::now() < deadline + std::time::Duration::from_secs(20), "the shim never ended");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let next = context(&engine, "next", &[("Dockerfile", "FROM localhost/busybox\nRUN true\n")]);
    crate::build_ok(&engine, &[p(&next)]);
    nothing_left(&engine);
}
