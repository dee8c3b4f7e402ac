//! Issue 12, item 16: `rmi` and `image prune` racing `create`. A `create` resolves the
//! image, then writes the record that names its layers; a collection in between must
//! not take the layers (it used to read what is in use before taking the GC lock, and
//! `create` took no guard). `LINDOCKER_TEST_PAUSE_AT=create-after-resolve` (a test-only
//! sleep in `Engine::create`, see `lifecycle::test_pause`) holds the `create` at the
//! worst moment, so the race is lost every time on the old code; a burst of parallel
//! creates against a prune, without the pause, follows.

use std::process::Stdio;
use std::time::Duration;

use lindocker_testkit::Engine;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// A new image whose top layer (`/round` holding `round`) nothing else has.
fn victim(engine: &Engine, round: usize) -> String {
    let base = format!("base{round}");
    let script = format!("echo {round} > /round");
    engine.ok(&["run", "--network", "none", "--name", &base, "localhost/busybox", "sh", "-c", &script]);
    let image = format!("localhost/victim:{round}");
    engine.ok(&["commit", &base, &image]);
    engine.ok(&["rm", &base]);
    image
}

/// The container starts, and its own layer is there.
fn runs(engine: &Engine, name: &str, round: usize) {
    let out = engine.run(&["start", "-a", name]);
    assert!(
        out.status.success(),
        "{name} does not start after the collection: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), round.to_string());
}

#[test]
fn a_collection_racing_create_keeps_the_layers_it_uses() {
    let engine = Engine::with_busybox(BIN, "gcrace");
    // Keeps the base image in use, so `prune -a` takes only the victims.
    engine.ok(&["create", "--network", "none", "--name", "keeper", "localhost/busybox", "true"]);
    for round in 0..4 {
        let image = victim(&engine, round);
        let name = format!("c{round}");
        let create = engine
            .cmd()
            .args(["create", "--network", "none", "--name", &name, &image, "cat", "/round"])
            .env("LINDOCKER_TEST_PAUSE_AT", "create-after-resolve")
            .env("LINDOCKER_TEST_PAUSE_MS", "400")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150));
        // Either may refuse (the image is in use by then); neither may take its layers.
        if round % 2 == 0 {
            engine.run(&["rmi", &image]);
        } else {
            engine.run(&["image", "prune", "-a", "-f"]);
        }
        let out = create.wait_with_output().unwrap();
        assert!(out.status.success(), "create {name} failed: {}", String::from_utf8_lossy(&out.stderr));
        runs(&engine, &name, round);
        engine.ok(&["rm", &name]);
    }

    // Without the pause: creates of an image only referenced by id, in parallel with a
    // prune that finds the image unnamed.
    let image = victim(&engine, 9);
    let id = engine.ok(&["inspect", "--format", "{{.Id}}", &image]).trim().to_owned();
    engine.ok(&["tag", &image, "localhost/hold:9"]);
    engine.ok(&["rmi", &image]);
    let creates: Vec<_> = (0..6)
        .map(|i| {
            engine
                .cmd()
                .args(["create", "--network", "none", "--name", &format!("p{i}"), &id, "cat", "/round"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    // (Refused if a create has written its record by then.)
    engine.run(&["rmi", "localhost/hold:9"]);
    engine.run(&["image", "prune", "-a", "-f"]);
    for (i, mut create) in creates.into_iter().enumerate() {
        // A create that came after the image was gone fails cleanly; one that made its
        // container must be able to run it.
        if create.wait().unwrap().success() {
            runs(&engine, &format!("p{i}"), 9);
            engine.ok(&["rm", &format!("p{i}")]);
        }
    }
    engine.ok(&["rm", "keeper"]);
    let left = engine.leftovers();
    assert!(left.is_empty(), "{left:?}");
}
