//! `docker build` (the classic builder, as the docker CLI without buildx and
//! docker-compose 1.x use it) through `POST /build`.

use std::fs;
use std::process::Output;

use lindocker_testkit::{Api, Engine};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

const DOCKERFILE: &str = r#"FROM localhost/busybox
ARG GREETING=hello
COPY msg.txt /msg.txt
RUN echo "$GREETING from RUN" > /run.txt
LABEL tier=built
CMD ["cat", "/msg.txt", "/run.txt"]
"#;

fn docker_build(api: &Api, args: &[&str]) -> Output {
    let mut c = api.docker();
    c.env("DOCKER_BUILDKIT", "0").arg("build").args(args);
    lindocker_testkit::output_via_files(c, &api.config.join("build"))
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn docker_build_builds_tags_and_fails_cleanly() {
    let engine = Engine::with_busybox(BIN, "api_build");
    let api = Api::start(&engine);
    let context = engine.root.join("context");
    fs::create_dir_all(&context).unwrap();
    fs::write(context.join("Dockerfile"), DOCKERFILE).unwrap();
    fs::write(context.join("msg.txt"), "from the context\n").unwrap();
    let dir = context.to_str().unwrap();

    let out = docker_build(&api, &["--network", "none", "-t", "built:1", "--build-arg", "GREETING=hi", dir]);
    let shown = text(&out);
    assert!(out.status.success(), "docker build failed:\n{shown}\nservice: {}", api.output());
    assert!(shown.contains("Successfully built "), "{shown}");
    assert!(shown.contains("Successfully tagged built:1"), "{shown}");

    // The image is the engine's: the CLI runs it and sees what the Dockerfile made.
    assert_eq!(engine.ok(&["run", "--rm", "--network", "none", "built:1"]), "from the context\nhi from RUN\n");
    let label = engine.ok(&["image", "inspect", "-f", "{{.Config.Labels.tier}}", "built:1"]);
    assert_eq!(label.trim(), "built");

    // -q prints only the id, which is the image's.
    let out = docker_build(&api, &["-q", "--network", "none", "--build-arg", "GREETING=hi", dir]);
    assert!(out.status.success(), "{}", text(&out));
    let id = engine.ok(&["image", "inspect", "-f", "{{.Id}}", "built:1"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id.trim());

    // A failing RUN: the client exits non-zero with the step's error, no tag, no container.
    fs::write(context.join("Dockerfile"), "FROM localhost/busybox\nRUN echo about to fail; exit 3\n").unwrap();
    let out = docker_build(&api, &["--network", "none", "-t", "broken:1", dir]);
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("exit code: 3"), "{shown}");
    assert!(engine.run(&["image", "inspect", "broken:1"]).status.code() != Some(0));
    assert_eq!(engine.ok(&["ps", "-aq"]).trim(), "");

    // A remote context is refused: the service fetches nothing a client names.
    let out = docker_build(&api, &["http://127.0.0.1:1/context.tar"]);
    assert!(!out.status.success(), "{}", text(&out));
}
