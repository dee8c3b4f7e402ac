//! `load`: any bytes as an image archive load or fail, never a panic, and nothing beside
//! the data root changes (a sentinel tree sits next to it, where `../outside` and
//! absolute symlinks in a seed point).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lindocker_image::{Store, archive};

struct Place {
    parent: PathBuf,
    store: Store,
}

fn place() -> &'static Place {
    static PLACE: OnceLock<Place> = OnceLock::new();
    PLACE.get_or_init(|| {
        let parent = std::env::temp_dir().join(format!("lindocker-fuzz-load-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&parent);
        std::fs::create_dir_all(parent.join("outside/l0")).expect("sentinel dir");
        std::fs::write(parent.join("outside/victim"), "sentinel").expect("sentinel");
        std::fs::write(parent.join("outside/l0/layer.tar"), "sentinel").expect("sentinel");
        let store = Store::open(&parent.join("root")).expect("store");
        Place { parent, store }
    })
}

fn check_sentinel(parent: &std::path::Path) {
    for file in ["outside/victim", "outside/l0/layer.tar"] {
        let path = parent.join(file);
        assert_eq!(std::fs::read(&path).expect("sentinel is still there"), b"sentinel", "{}", path.display());
        let meta = std::fs::symlink_metadata(&path).expect("sentinel");
        assert!(meta.is_file());
        assert_eq!(std::os::unix::fs::MetadataExt::nlink(&meta), 1, "{} was linked", path.display());
    }
    let names: Vec<_> = std::fs::read_dir(parent).expect("parent").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(names.len(), 2, "something appeared beside the data root: {names:?}");
}

fuzz_target!(|data: &[u8]| {
    let place = place();
    let _ = archive::load(&place.store, data);
    check_sentinel(&place.parent);
});
