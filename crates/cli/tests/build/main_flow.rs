//! The issue's multi-stage Dockerfile: built, run, rebuilt from the cache, rebuilt after
//! one copied file changed; the cache mount's content kept between builds.

use std::time::{Duration, Instant};

use lindocker_testkit::Engine;

use crate::{BIN, build_ok, context, nothing_left, p, steps};

const DOCKERFILE: &str = r#"# syntax=docker/dockerfile:1
ARG BASE=localhost/busybox
FROM $BASE AS build
ARG GREETING=hello
WORKDIR /src
COPY greeting.txt .
RUN --mount=type=cache,target=/cache \
    mktemp /cache/seen.XXXXXX >/dev/null && ls /cache | wc -l > /src/count && \
    echo "$GREETING $(cat greeting.txt) from build" > /src/out.txt && echo built it

FROM ${BASE}
RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd
COPY --from=build /src/out.txt /app/out.txt
COPY --from=build /src/count /app/count
WORKDIR /app
USER app
ENV MODE=prod
HEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD test -f /app/out.txt
ENTRYPOINT ["sh", "-c", "cat /app/out.txt; id -u; pwd; echo \"$MODE $0\""]
CMD ["default-arg"]
"#;

/// Whether the log shows the build stage's RUN printing (as output, not as its name).
fn ran(log: &str) -> bool {
    log.lines().any(|l| {
        let mut words = l.split(' ');
        words.next().is_some_and(|n| n.starts_with('#'))
            && words.next().is_some_and(|t| t.parse::<f64>().is_ok())
            && words.collect::<Vec<_>>() == ["built", "it"]
    })
}

fn iid(engine: &Engine, args: &[&str]) -> (String, String) {
    let file = engine.root.join(format!("iid-{}", args.len()));
    let _ = std::fs::remove_file(&file);
    let mut all = vec!["--iidfile", p(&file)];
    all.extend_from_slice(args);
    let log = build_ok(engine, &all);
    (std::fs::read_to_string(&file).unwrap(), log)
}

#[test]
fn a_multi_stage_build_runs_as_written_and_rebuilds_from_the_cache() {
    let engine = Engine::with_busybox(BIN, "build-main");
    let ctx = context(&engine, "main", &[("Dockerfile", DOCKERFILE), ("greeting.txt", "world\n")]);

    let (id, log) = iid(&engine, &["-t", "app:1", p(&ctx)]);
    assert!(id.starts_with("sha256:") && id.len() == 71, "iidfile: {id:?}");
    assert!(ran(&log), "the RUN's output is in the log:\n{log}");
    assert!(steps(&log).iter().all(|(_, cached)| !cached) || log.contains("FROM"), "{log}");
    nothing_left(&engine);

    // The image does what the Dockerfile says: ENTRYPOINT + CMD, USER, WORKDIR, ENV.
    let out = engine.ok(&["run", "--rm", "app:1"]);
    assert_eq!(out, "hello world from build\n1000\n/app\nprod default-arg\n");
    assert_eq!(engine.ok(&["run", "--rm", "app:1", "given"]).lines().last(), Some("prod given"));
    assert_eq!(engine.ok(&["run", "--rm", "--entrypoint", "cat", "app:1", "/app/count"]).trim(), "1");

    // HEALTHCHECK: the container becomes healthy.
    engine.ok(&["run", "-d", "--name", "hc1", "--entrypoint", "sleep", "app:1", "30"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = engine.ok(&["inspect", "-f", "{{.State.Health.Status}}", "hc1"]);
        if status.trim() == "healthy" {
            break;
        }
        assert!(Instant::now() < deadline, "never healthy: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    engine.ok(&["rm", "-f", "hc1"]);

    // history: a step each, CreatedBy as BuildKit writes it.
    let history = engine.ok(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", "app:1"]);
    for expected in [
        r#"CMD ["default-arg"]"#,
        r#"ENTRYPOINT ["sh" "-c" "cat /app/out.txt; id -u; pwd; echo \"$MODE $0\""]"#,
        "USER app",
        "WORKDIR /app",
        "ENV MODE=prod",
        "COPY --from=build /src/out.txt /app/out.txt # buildkit",
        "RUN /bin/sh -c echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd # buildkit",
    ] {
        assert!(history.lines().any(|l| l == expected), "history lacks {expected:?}:\n{history}");
    }
    // It saves as an archive docker and podman load.
    let saved = engine.root.join("app.tar");
    engine.ok(&["save", "-o", p(&saved), "app:1"]);
    assert!(std::fs::metadata(&saved).unwrap().len() > 1000);

    // Nothing changed: every step from the cache, the same image.
    let started = Instant::now();
    let (again, log) = iid(&engine, &["-t", "app:1", p(&ctx)]);
    let took = started.elapsed();
    assert_eq!(again, id, "a rebuild from the cache is the same image");
    let all = steps(&log);
    assert!(all.len() >= 7, "{log}");
    assert!(all.iter().all(|(_, cached)| *cached), "every step CACHED:\n{log}");
    assert!(!ran(&log), "nothing ran:\n{log}");
    eprintln!("no-op rebuild: {took:?}");

    // One copied file changes: its COPY and what follows run again, what comes before not.
    std::fs::write(ctx.join("greeting.txt"), "there\n").unwrap();
    let (changed, log) = iid(&engine, &["-t", "app:1", p(&ctx)]);
    assert_ne!(changed, id);
    let all = steps(&log);
    let cached = |prefix: &str| {
        all.iter().find(|(n, _)| n.contains(prefix)).unwrap_or_else(|| panic!("no step {prefix}:\n{log}")).1
    };
    assert!(cached("FROM"), "{log}");
    assert!(cached("RUN echo 'app:x"), "the final stage's first RUN does not depend on the file:\n{log}");
    assert!(!cached("COPY greeting.txt"), "{log}");
    assert!(!cached("RUN --mount=type=cache"), "{log}");
    assert!(!cached("COPY --from=build /src/out.txt"), "{log}");
    assert!(ran(&log), "{log}");
    assert_eq!(engine.ok(&["run", "--rm", "app:1"]).lines().next(), Some("hello there from build"));
    // The cache mount kept the first build's file: two now.
    assert_eq!(engine.ok(&["run", "--rm", "--entrypoint", "cat", "app:1", "/app/count"]).trim(), "2");
    // --no-cache runs everything again.
    let log = build_ok(&engine, &["--no-cache", p(&ctx)]);
    assert!(steps(&log).iter().filter(|(n, _)| !n.contains("FROM")).all(|(_, cached)| !cached), "{log}");
    nothing_left(&engine);
}
