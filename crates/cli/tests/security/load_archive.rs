//! An archive given to `load` is hostile: its members may be symlinks (to `/dev/zero`,
//! a FIFO, a host file) where a layer, a config or `manifest.json` should be. `load`
//! must take regular files inside the archive only, never hang, and never store a
//! symlink as a blob that `save` would later follow.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use lindocker_testkit::image::{self, Entry};
use lindocker_testkit::{Engine, temp_dir};
use serde_json::json;

use super::volume_copy_up::host_arch;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// Runs `load -i archive` with a deadline: returns its exit code, or fails the test
/// (after killing it) if it hangs.
fn load_within(engine: &Engine, archive: &Path, limit: Duration) -> i32 {
    let mut child = engine
        .cmd()
        .args(["load", "-i", archive.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("load of {} hangs", archive.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `docker save` archive (manifest.json, config, layer) whose layer member is a
/// symlink to `target`, for a config whose diff id is `diff_id`.
fn docker_archive_with_symlinked_layer(dir: &Path, target: &Path, diff_id: &str) -> std::path::PathBuf {
    let config = json!({
        "architecture": host_arch(), "os": "linux", "config": { "Cmd": ["/bin/true"] },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
    });
    let config = serde_json::to_vec(&config).unwrap();
    let manifest = json!([{ "Config": "config.json", "RepoTags": ["localhost/evil:1"], "Layers": ["layer.tar"] }]);
    let archive = dir.join("docker.tar");
    let mut b = tar::Builder::new(fs::File::create(&archive).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    };
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    add("config.json", &config);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "layer.tar", target).unwrap();
    b.into_inner().unwrap();
    archive
}

#[test]
fn a_layer_member_that_is_a_symlink_to_a_host_file_is_refused() {
    let engine = Engine::new(BIN, "load-symlink");
    let scratch = temp_dir("load-symlink-scratch");
    // A tar on the host whose diff id the attacker knows (any public layer would do).
    let host_layer = image::layer(&[Entry::File("hostfile".into(), b"from the host\n".to_vec(), 0o644)]);
    let host_file = scratch.join("host-layer.tar");
    fs::write(&host_file, &host_layer).unwrap();
    let archive = docker_archive_with_symlinked_layer(&scratch, &host_file, &image::digest(&host_layer));
    let code = load_within(&engine, &archive, Duration::from_secs(30));
    let mut symlinks = Vec::new();
    for entry in fs::read_dir(engine.root.join("image/blobs/sha256")).into_iter().flatten().flatten() {
        if entry.file_type().unwrap().is_symlink() {
            symlinks.push(entry.path());
        }
    }
    assert!(symlinks.is_empty(), "symlinks stored as blobs: {symlinks:?}");
    assert_ne!(code, 0, "load took a layer from outside the archive");
    assert_eq!(fs::read(&host_file).unwrap(), host_layer, "the host file is untouched");
    fs::remove_dir_all(&scratch).unwrap();
}

#[test]
fn members_that_are_symlinks_to_endless_files_do_not_hang_load() {
    let engine = Engine::new(BIN, "load-endless");
    let scratch = temp_dir("load-endless-scratch");
    let fifo = scratch.join("fifo");
    rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, rustix::fs::Mode::from_raw_mode(0o600), 0)
        .unwrap();
    let diff_id = image::digest(b"");
    for target in [Path::new("/dev/zero"), fifo.as_path()] {
        let archive = docker_archive_with_symlinked_layer(&scratch, target, &diff_id);
        let code = load_within(&engine, &archive, Duration::from_secs(30));
        assert_ne!(code, 0, "{}", target.display());
    }
    // manifest.json itself a symlink to a FIFO.
    let archive = scratch.join("manifest-fifo.tar");
    let mut b = tar::Builder::new(fs::File::create(&archive).unwrap());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "manifest.json", &fifo).unwrap();
    b.into_inner().unwrap();
    assert_ne!(load_within(&engine, &archive, Duration::from_secs(30)), 0);
    fs::remove_dir_all(&scratch).unwrap();
}
