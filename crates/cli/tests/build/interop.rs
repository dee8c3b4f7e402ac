//! A built image outside lindocker: `save`d, loaded by podman, run there, its steps in
//! podman's `history`.

use lindocker_testkit::{Engine, Podman};

use crate::{BIN, build_ok, context, p};

#[test]
fn a_built_image_saved_loads_and_runs_in_podman() {
    let engine = Engine::with_busybox(BIN, "build_podman");
    let dir = context(
        &engine,
        "podman",
        &[
            (
                "Dockerfile",
                "FROM localhost/busybox\nCOPY msg.txt /msg.txt\nRUN echo made by RUN > /run.txt\nCMD [\"cat\", \"/msg.txt\", \"/run.txt\"]\n",
            ),
            ("msg.txt", "from the context\n"),
        ],
    );
    build_ok(&engine, &["--network", "none", "-t", "localhost/built:1", p(&dir)]);
    let archive = engine.root.join("built.tar");
    engine.ok(&["save", "-o", p(&archive), "localhost/built:1"]);

    let podman = Podman::new("build_podman");
    podman.ok(&["load", "-q", "-i", p(&archive)]);
    let ran = podman.ok(&["run", "--rm", "--network", "none", "localhost/built:1"]);
    assert_eq!(ran, "from the context\nmade by RUN\n");
    let history = podman.ok(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", "localhost/built:1"]);
    assert!(history.contains("RUN /bin/sh -c echo made by RUN > /run.txt # buildkit"), "{history}");
    assert!(history.contains("COPY msg.txt /msg.txt # buildkit"), "{history}");
}
