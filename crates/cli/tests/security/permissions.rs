//! The data root holds containers' files (setuid binaries a container or an image made),
//! records and configs (environment secrets) and logs. No local user but root may reach
//! them: the root and its stores are closed to others, as Docker closes
//! `/var/lib/docker`, and an install made before is closed at the next command.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use lindocker_testkit::Engine;
use lindocker_testkit::image::Entry;
use serde_json::json;

use super::volume_copy_up::load_image;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// What user `nobody` gets trying to `stat` and read `path`: `None` if it could.
fn as_nobody(path: &Path) -> Option<String> {
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--", "stat", "-L", "--"])
        .arg(path)
        .output()
        .unwrap();
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

fn paths(engine: &Engine, id: &str) -> Vec<PathBuf> {
    let c = engine.root.join("containers").join(id);
    let layer = fs::read_dir(engine.root.join("layers"))
        .unwrap()
        .flatten()
        .find(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .unwrap()
        .path();
    vec![
        c.join("record.json"),
        c.join("bundle/config.json"),
        c.join("upper"),
        layer.join("diff/suid"),
        engine.root.join("volumes/named/_data/file"),
        engine.root.join("image/blobs/sha256"),
    ]
}

fn all_closed(engine: &Engine, id: &str) {
    for path in paths(engine, id) {
        assert!(path.exists(), "{} exists for root", path.display());
        match as_nobody(&path) {
            None => panic!("user nobody reaches {}", path.display()),
            Some(err) => assert!(err.contains("Permission denied"), "{}: {err}", path.display()),
        }
    }
}

#[test]
fn other_users_reach_nothing_under_the_data_root() {
    let engine = Engine::new(BIN, "perms");
    let entries = [
        Entry::File("suid".into(), b"#!/bin/sh\n".to_vec(), 0o4755),
        Entry::Dir("data/"),
        Entry::File("data/file".into(), b"volume content\n".to_vec(), 0o644),
    ];
    assert!(load_image(&engine, &entries, json!({ "Cmd": ["/suid"], "Env": ["TOKEN=secret"] }), "localhost/perms:1"));
    let id = engine.ok(&["create", "--network", "none", "-v", "named:/data", "localhost/perms:1"]).trim().to_owned();
    all_closed(&engine, &id);
    // Records and configs hold environment secrets: root's alone, even where a
    // directory above is opened.
    for file in ["record.json", "bundle/config.json"] {
        let mode = fs::metadata(engine.root.join("containers").join(&id).join(file)).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{file} has mode {mode:o}");
    }

    // An install from before: everything open to all. The next command closes it.
    for dir in ["", "containers", "image", "layers", "volumes"] {
        fs::set_permissions(engine.root.join(dir), fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert!(as_nobody(&engine.root.join("containers").join(&id).join("record.json")).is_none());
    engine.ok(&["ps", "-a"]);
    all_closed(&engine, &id);

    // A --user-ns container lets its namespace's root group through; others stay out.
    engine.ok(&["create", "--network", "none", "--user-ns", "localhost/perms:1"]);
    all_closed(&engine, &id);
}

/// The credentials file is written through a new file of mode 0600 from the start:
/// never world-readable for a moment, and never through a symlink someone left where
/// its temporary file goes.
#[test]
fn credentials_are_written_to_a_new_private_file() {
    let engine = Engine::new(BIN, "perms-creds");
    let config = engine.root.join("config");
    fs::create_dir_all(&config).unwrap();
    let auth = json!({ "auths": { "localhost:5999": { "auth": "dXNlcjpwYXNz" }, "other:1": { "auth": "eDp5" } } });
    fs::write(config.join("config.json"), serde_json::to_vec(&auth).unwrap()).unwrap();
    let victim = engine.root.join("victim");
    fs::write(&victim, "host file\n").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&victim, config.join("config.tmp")).unwrap();
    let _ = engine.run(&["logout", "localhost:5999"]);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "host file\n", "written through the symlink");
    assert_eq!(fs::metadata(&victim).unwrap().permissions().mode() & 0o777, 0o644);
    let file = config.join("config.json");
    assert_eq!(fs::symlink_metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let text = fs::read_to_string(&file).unwrap();
    assert!(!text.contains("localhost:5999") && text.contains("other:1"), "{text}");
}
