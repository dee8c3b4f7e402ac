//! A hostile image's `VOLUME` must not copy host files into the volume. The copy-up of
//! an image's content into a fresh volume reads the container's root filesystem: a
//! symlink there (`data -> /host/dir`) or a target with `..` in it must resolve inside
//! that root, never on the host.

use std::fs;
use std::path::{Path, PathBuf};

use lindocker_testkit::image::{self, Entry};
use lindocker_testkit::{Engine, temp_dir};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// Loads an image of one layer with `entries` and the image config `config` as `tag`
/// (through `load` of an OCI layout archive, as a downloaded image would come).
/// Returns whether `load` accepted it.
pub(crate) fn load_image(engine: &Engine, entries: &[Entry], config: Value, tag: &str) -> bool {
    let scratch = engine.root.join(format!("scratch-{tag}"));
    let layout = scratch.join("layout");
    let tar = image::layer(entries);
    let desc = image::image(&layout, &[(tar.clone(), tar)], config, host_arch());
    image::finish_layout(&layout, tag, vec![desc]);
    let archive = scratch.join("image.tar");
    let mut b = tar::Builder::new(fs::File::create(&archive).unwrap());
    b.append_dir_all(".", &layout).unwrap();
    b.into_inner().unwrap();
    let out = engine.run(&["load", "-i", archive.to_str().unwrap()]);
    fs::remove_dir_all(&scratch).unwrap();
    out.status.success()
}

pub(crate) fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub(crate) fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A host directory holding a secret file.
fn host_secret(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    fs::write(dir.join("secret"), "host secret\n").unwrap();
    dir
}

/// Every file under every volume of `engine`, relative to the volumes directory.
fn volume_files(engine: &Engine) -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(base).unwrap().display().to_string());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&path, base, out);
            }
        }
    }
    let mut out = Vec::new();
    let base = engine.root.join("volumes");
    walk(&base, &base, &mut out);
    out
}

fn no_secret_in_volumes(engine: &Engine) {
    let files = volume_files(engine);
    assert!(!files.iter().any(|f| f.ends_with("/secret")), "a host file was copied into a volume: {files:?}");
}

#[test]
fn an_image_volume_through_a_symlink_stays_inside_the_root() {
    let engine = Engine::new(BIN, "vol-symlink");
    let secret = host_secret("vol-symlink-host");
    let entries = [
        Entry::Symlink("data", leak(secret.display().to_string())),
        Entry::Dir("real/"),
        Entry::File("real/inside".into(), b"from the image\n".to_vec(), 0o644),
        Entry::Symlink("link", "/real"),
    ];
    let config = json!({ "Cmd": ["/bin/true"], "Volumes": { "/data": {} } });
    assert!(load_image(&engine, &entries, config, "localhost/vol:symlink"));
    engine.ok(&["create", "--network", "none", "localhost/vol:symlink"]);
    no_secret_in_volumes(&engine);

    // The admin's own `-v name:/data` on that image: the same.
    engine.ok(&["create", "--network", "none", "-v", "named:/data", "localhost/vol:symlink"]);
    no_secret_in_volumes(&engine);

    // A symlink that stays inside the image is followed there, as Docker does.
    engine.ok(&["create", "--network", "none", "-v", "inroot:/link", "localhost/vol:symlink"]);
    let files = volume_files(&engine);
    assert!(files.iter().any(|f| f == "inroot/_data/inside"), "{files:?}");
    no_secret_in_volumes(&engine);
    fs::remove_dir_all(&secret).unwrap();
}

#[test]
fn an_image_volume_with_dot_dot_is_refused() {
    let engine = Engine::new(BIN, "vol-dotdot");
    let secret = host_secret("vol-dotdot-host");
    let target = format!("/../../../../../../../..{}", secret.display());
    let config = json!({ "Cmd": ["/bin/true"], "Volumes": { target: {} } });
    let loaded = load_image(&engine, &[Entry::Dir("etc/")], config, "localhost/vol:dotdot");
    if loaded {
        let err = engine.fails(&["create", "--network", "none", "localhost/vol:dotdot"], 125);
        assert!(err.to_lowercase().contains("volume"), "{err}");
    }
    no_secret_in_volumes(&engine);
    assert_eq!(engine.ok(&["ps", "-a", "-q"]), "", "nothing was created");
    fs::remove_dir_all(&secret).unwrap();
}
