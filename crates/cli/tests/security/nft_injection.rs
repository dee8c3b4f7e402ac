//! nftables injection from an image: `run -P` publishes the ports an image's config
//! exposes, and an `ExposedPorts` key is the image author's text. One like
//! `80/tcp dport 9 accept\n}\n}\ntable inet x {...` must never reach nft: it is refused
//! with a clear error (exit 125) and nothing is made.

use lindocker_testkit::{Engine, FakeHost, image};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// Closes our chain and table, opens a table of the attacker's with a rule of its own,
/// and comments out the rest of the line, so that the old renderer's script stays valid.
const EVIL: &str = "80/tcp dport 9 accept\n}\n}\ntable inet x {\nchain c {\ntcp dport 1 accept #";

/// Loads busybox with `config` as `name` (an OCI layout archive, as `docker load` takes).
fn load(engine: &Engine, config: Value, name: &str) -> std::process::Output {
    let dir = engine.root.with_extension(format!("layout-{}", name.replace([':', '/', '.'], "-")));
    let tar = image::busybox_layer(&engine.root);
    let desc = image::image(&dir, &[(tar.clone(), tar)], config, "amd64");
    image::finish_layout(&dir, name, vec![desc]);
    let archive = dir.with_extension("tar");
    let out = std::process::Command::new("tar").arg("-C").arg(&dir).arg("-cf").arg(&archive).arg(".").output().unwrap();
    assert!(out.status.success(), "tar: {}", String::from_utf8_lossy(&out.stderr));
    let out = engine.run(&["load", "-i", archive.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&archive);
    out
}

#[test]
fn an_exposed_port_key_cannot_inject_nft_rules() {
    let host = FakeHost::new("nftinject");
    let engine = Engine::in_host(BIN, "nftinject", &host);

    // A clean image: -P publishes its ports (and the sctp one, which lindocker does not
    // publish, is left alone rather than refused).
    let out = load(
        &engine,
        json!({ "Cmd": ["sleep", "100"], "ExposedPorts": { "80/tcp": {}, "53/udp": {}, "7/sctp": {} } }),
        "example.com/clean:1",
    );
    assert!(out.status.success(), "load: {}", String::from_utf8_lossy(&out.stderr));
    engine.ok(&["run", "-d", "--name", "clean", "-P", "example.com/clean:1"]);
    let ports = engine.ok(&["port", "clean"]);
    assert!(ports.contains("80/tcp -> 0.0.0.0:") && ports.contains("53/udp -> 0.0.0.0:"), "{ports}");
    engine.ok(&["rm", "-f", "clean"]);

    let out = load(&engine, json!({ "Cmd": ["sleep", "100"], "ExposedPorts": { EVIL: {} } }), "example.com/evil:1");
    if out.status.success() {
        // Accepted into the store (its config is well-formed JSON): `run -P` must refuse it.
        let err = engine.fails(&["run", "-d", "--name", "evil", "-P", "example.com/evil:1"], 125);
        assert!(err.contains("ExposedPorts"), "the error must name the bad key's place: {err}");
        assert_eq!(engine.ok(&["ps", "-aq"]), "", "a refused run leaves no container");
        // Without -P the image's ports are not used; it runs.
        engine.ok(&["run", "--rm", "example.com/evil:1", "true"]);
    } else {
        // Refused at load, with a clear error: fine too.
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("ExposedPorts"), "{err}");
    }
    let ruleset = host.ruleset();
    assert!(!ruleset.contains("table inet x"), "an image created an nft table:\n{ruleset}");
    assert!(!ruleset.contains("dport 9 accept") && !ruleset.contains("dport 1 accept"), "{ruleset}");
}
