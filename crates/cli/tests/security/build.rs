//! A hostile base image against the terminal of whoever builds on it: its `ONBUILD`
//! triggers (text from the image's config) become steps of the build, named in the
//! progress log and quoted in its errors. Terminal escapes in them must reach the
//! terminal escaped, as every other text from an image does (`docs/SECURITY.md`).

use lindocker_testkit::Engine;
use lindocker_testkit::image::{self, Entry};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

#[test]
fn onbuild_triggers_with_terminal_escapes_are_shown_escaped() {
    let engine = Engine::new(BIN, "build-escapes");
    let tar = engine.root.join("layer.tar");
    std::fs::write(&tar, image::layer(&[Entry::File("f".into(), b"x".to_vec(), 0o644)])).unwrap();
    engine.ok(&["import", tar.to_str().unwrap(), "localhost/base"]);

    // The hostile image: a trigger whose text sets the terminal's title and clears it.
    let evil = engine.root.join("evil");
    std::fs::create_dir(&evil).unwrap();
    std::fs::write(
        evil.join("Dockerfile"),
        "FROM localhost/base\nONBUILD COPY [\"missing\u{1b}]0;pwned\u{7}\u{1b}[2J\", \"/x\"]\n",
    )
    .unwrap();
    engine.ok(&["build", "-q", "-t", "localhost/evil", evil.to_str().unwrap()]);

    // The victim's own Dockerfile is harmless.
    let victim = engine.root.join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("Dockerfile"), "FROM localhost/evil\n").unwrap();
    for progress in ["plain", "tty"] {
        let out = engine.run(&["build", "--progress", progress, victim.to_str().unwrap()]);
        // The tty view's own line rewriting aside.
        let err = String::from_utf8_lossy(&out.stderr).replace("\r\u{1b}[K", "");
        assert_eq!(out.status.code(), Some(1), "{progress}: {err}");
        assert!(err.contains("missing"), "{progress}: the trigger's step is shown: {err}");
        assert!(
            !err.contains('\u{1b}') && !err.contains('\u{7}'),
            "{progress}: raw escapes reach the terminal: {err:?}"
        );
    }
}

/// A context (a cloned repository, say) whose Dockerfile is a symlink to a host file
/// outside it, built with `-f ctx/Dockerfile ctx` as scripts do: the symlink is resolved
/// inside the context, as BuildKit resolves it, so the host file is never read as a
/// Dockerfile (whose parse errors would quote it).
#[test]
fn a_dockerfile_symlinked_out_of_the_context_is_not_read_through_f() {
    let engine = Engine::new(BIN, "build-dockerfile-link");
    let secret = engine.root.join("host-secret");
    std::fs::write(&secret, "TOPSECRET-LINE of a host file\n").unwrap();
    let ctx = engine.root.join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::os::unix::fs::symlink(&secret, ctx.join("Dockerfile")).unwrap();
    let out = engine.run(&[
        "build",
        "--progress",
        "plain",
        "-f",
        ctx.join("Dockerfile").to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(!err.contains("TOPSECRET"), "the host file was read as the Dockerfile: {err}");

    // A Dockerfile in a subdirectory of the context, named through a symlink inside it,
    // is still found.
    let tar = engine.root.join("layer.tar");
    std::fs::write(&tar, image::layer(&[Entry::File("f".into(), b"x".to_vec(), 0o644)])).unwrap();
    engine.ok(&["import", tar.to_str().unwrap(), "localhost/base"]);
    std::fs::create_dir(ctx.join("sub")).unwrap();
    std::fs::write(ctx.join("sub/real.Dockerfile"), "FROM localhost/base\nLABEL ok=yes\n").unwrap();
    std::os::unix::fs::symlink("real.Dockerfile", ctx.join("sub/link")).unwrap();
    engine.ok(&["build", "-q", "-t", "fine", "-f", ctx.join("sub/link").to_str().unwrap(), ctx.to_str().unwrap()]);
    assert_eq!(engine.ok(&["image", "inspect", "-f", "{{.Config.Labels.ok}}", "fine"]).trim(), "yes");
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// An API client that starts a build and stops reading: a step's output (here 300 MB of
/// lines) must not pile up in the service's memory, and the build goes on to its end.
#[test]
fn a_stalled_build_client_does_not_grow_the_service() {
    use std::io::Write;
    let engine = Engine::with_busybox(BIN, "build-stalled");
    let mut api = lindocker_testkit::Api::start(&engine);
    let pid = api.child().id();
    let dockerfile = "FROM localhost/busybox\nRUN yes 0123456789012345678901234567890123456789012345678901234567890123456789 | head -c 300000000\n";
    let context = image::layer(&[Entry::File("Dockerfile".into(), dockerfile.as_bytes().to_vec(), 0o644)]);
    let before = vm_hwm_kib(pid);

    let mut client = api.connect();
    let head = format!(
        "POST /build?networkmode=none&t=stalled:1 HTTP/1.1\r\nHost: lindocker\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        context.len()
    );
    client.write_all(head.as_bytes()).unwrap();
    client.write_all(&context).unwrap();
    // The client reads nothing from here on; the build must still end.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        if engine.run(&["image", "inspect", "stalled:1"]).status.success() {
            break;
        }
        let grown = vm_hwm_kib(pid).saturating_sub(before);
        assert!(grown < 48 << 10, "the service grew by {grown} KiB for a client that reads nothing");
        assert!(std::time::Instant::now() < deadline, "the build did not end: {}", api.output());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let grown = vm_hwm_kib(pid).saturating_sub(before);
    assert!(grown < 48 << 10, "the service grew by {grown} KiB for a client that reads nothing");
    drop(client);
}

/// `RUN --network=host` puts the step in the host's network namespace (its loopback
/// services, an API on tcp://127.0.0.1 among them). BuildKit grants it only with the
/// `network.host` entitlement the user asks for (`--allow network.host`, which buildx
/// adds for `--network host`); a Dockerfile, or a base image's ONBUILD trigger, cannot
/// take it alone.
#[test]
fn run_network_host_needs_the_users_network_host() {
    let engine = Engine::with_busybox(BIN, "build-nethost");
    let evil = engine.root.join("evil");
    std::fs::create_dir(&evil).unwrap();
    std::fs::write(evil.join("Dockerfile"), "FROM localhost/busybox\nONBUILD RUN --network=host echo REACHED-HOST\n")
        .unwrap();
    engine.ok(&["build", "-q", "-t", "localhost/evil", evil.to_str().unwrap()]);
    let victim = engine.root.join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("Dockerfile"), "FROM localhost/evil\n").unwrap();

    let out = engine.run(&["build", "--progress", "plain", victim.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("REACHED-HOST"), "the trigger ran in the host's network: {err}");
    assert!(err.contains("network.host"), "{err}");
    assert_eq!(engine.ok(&["ps", "-aq"]).trim(), "", "no container is left");

    // The user's own `--network host` grants it.
    let out = engine.run(&["build", "--progress", "plain", "--network", "host", victim.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("REACHED-HOST"), "{err}");
}
