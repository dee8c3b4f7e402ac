//! `config.json`: any bytes load as a bundle or fail with an error, never a panic; a spec
//! that parses prints back to the same spec.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lindocker_runtime::spec::{Bundle, parse};

/// One bundle directory for the whole run (its rootfs is `/` via the config, or absent).
fn bundle() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("lindocker-fuzz-spec-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("rootfs")).expect("bundle dir");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = parse(Path::new("config.json"), data) else { return };
    let text = serde_json::to_vec(&spec).expect("a spec serializes");
    let again = parse(Path::new("config.json"), &text).expect("a spec parses back");
    assert_eq!(again, spec);
    let dir = bundle();
    std::fs::write(dir.join("config.json"), data).expect("write config.json");
    let _ = Bundle::load(dir);
});
