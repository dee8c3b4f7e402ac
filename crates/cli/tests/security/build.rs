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
