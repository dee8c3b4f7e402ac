//! The layer unpacker: any bytes (plain, gzip or zstd tar) unpack into the layer
//! directory or fail, never a panic, and nothing beside the layer changes: a sentinel
//! tree sits next to it, where `../outside/...` and absolute symlinks in a seed point.
#![no_main]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lindocker_storage::unpack::unpack_layer;

fn parent() -> &'static PathBuf {
    static PARENT: OnceLock<PathBuf> = OnceLock::new();
    PARENT.get_or_init(|| {
        // A fixed path, so that seeds can aim absolute symlinks at the sentinel.
        let parent = PathBuf::from("/tmp/lindocker-fuzz-unpack");
        let _ = std::fs::remove_dir_all(&parent);
        std::fs::create_dir_all(parent.join("outside/dir")).expect("sentinel dir");
        std::fs::write(parent.join("outside/victim"), "sentinel").expect("sentinel");
        parent
    })
}

/// The sentinel tree, as (name, mode, nlink, size, mtime, ctime).
fn state(parent: &Path) -> Vec<(String, u32, u64, u64, i64, i64)> {
    let mut out = Vec::new();
    for name in ["", "outside", "outside/victim", "outside/dir"] {
        let meta = std::fs::symlink_metadata(parent.join(name)).expect("sentinel");
        out.push((name.to_owned(), meta.mode(), meta.nlink(), meta.size(), meta.mtime(), meta.ctime()));
    }
    for dir in ["outside", "outside/dir"] {
        let entries = std::fs::read_dir(parent.join(dir)).expect("sentinel dir").count() as u64;
        out.push((format!("{dir} entries"), 0, entries, 0, 0, 0));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let parent = parent();
    let layer = parent.join("layer");
    let _ = std::fs::remove_dir_all(&layer);
    std::fs::create_dir(&layer).expect("layer dir");
    let before = state(parent);
    let _ = unpack_layer(data, &layer);
    let after = state(parent);
    assert_eq!(before, after, "the sentinel beside the layer changed");
    assert_eq!(std::fs::read(parent.join("outside/victim")).expect("victim"), b"sentinel");
    std::fs::remove_dir_all(&layer).expect("remove layer");
});
