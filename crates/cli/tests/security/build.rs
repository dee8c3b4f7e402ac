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
