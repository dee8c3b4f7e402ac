//! A hostile registry against the host's disk and memory: a blob that goes on past the
//! size its descriptor gives. The digest would only be checked at the end, after the
//! disk filled; the pull must stop at the descriptor's size.

use std::fs::OpenOptions;
use std::io::Write;

use lindocker_testkit::image::{self, Entry};
use lindocker_testkit::{Engine, Registry};
use serde_json::json;

use super::volume_copy_up::host_arch;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

#[test]
fn a_blob_longer_than_its_descriptor_is_cut_off() {
    let registry = Registry::start("oversize", None);
    let engine = Engine::new(BIN, "oversize");
    let layout = engine.root.join("layout");
    // Compressed already, so the registry keeps this very blob.
    let tar = image::layer(&[Entry::File("f".into(), b"small".to_vec(), 0o644)]);
    let layer = image::gzip(&tar);
    let desc = image::image(&layout, &[(layer.clone(), tar)], json!({ "Cmd": ["sh"] }), host_arch());
    image::finish_layout(&layout, "t", vec![desc]);
    registry.push(&layout, "test/oversize", "t");
    std::fs::remove_dir_all(&layout).unwrap();

    // The registry now sends 64 MiB more than the manifest says the layer holds.
    let mut blob = OpenOptions::new().append(true).open(registry.blob_file(&image::digest(&layer))).unwrap();
    let junk = vec![0u8; 1 << 20];
    for _ in 0..64 {
        blob.write_all(&junk).unwrap();
    }
    drop(blob);

    engine.ok(&["images"]);
    let before = engine.store_listing();
    let out = engine.run(&["pull", &format!("{}/test/oversize:t", registry.addr)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "pulled a layer longer than its descriptor");
    assert!(err.contains("more than its descriptor"), "{err}");
    assert_eq!(engine.store_listing(), before, "a refused layer leaves nothing");
}
