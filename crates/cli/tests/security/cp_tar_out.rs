//! `cp CONTAINER:PATH -` follows the same policy as copying to a host directory: what a
//! container planted never becomes a device node, a set-id program or a kernel file in
//! the tar the admin extracts, and a tree built to exhaust the walk ends it cleanly.

use std::io::Read;

use lindocker_testkit::Engine;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// (path, entry type, mode) of every entry of a tar.
fn entries(tar: &[u8]) -> Vec<(String, tar::EntryType, u32)> {
    let mut archive = tar::Archive::new(tar);
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let (kind, mode) = (entry.header().entry_type(), entry.header().mode().unwrap());
        let _ = entry.read_to_end(&mut Vec::new());
        out.push((path, kind, mode));
    }
    out
}

#[test]
fn a_tar_from_a_container_has_no_devices_set_id_bits_or_kernel_files() {
    let engine = Engine::with_busybox(BIN, "cptar");
    let setup = "mkdir -p /data/sub && mknod /data/null c 1 3 && mkfifo /data/fifo && \
                 cp /bin/busybox /data/suid && chmod 6755 /data/suid && echo hi > /data/sub/f && \
                 echo ready && exec sleep 1000";
    engine.ok(&["run", "-d", "--name", "box", "localhost/busybox", "sh", "-c", setup]);
    for _ in 0..100 {
        if String::from_utf8_lossy(&engine.run(&["logs", "box"]).stdout).contains("ready") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = engine.run(&["cp", "box:/data", "-"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = entries(&out.stdout);
    assert!(list.iter().any(|(p, _, _)| p == "data/sub/f"), "{list:?}");
    for (path, kind, mode) in &list {
        assert!(
            matches!(kind, tar::EntryType::Regular | tar::EntryType::Directory | tar::EntryType::Symlink),
            "{path}: a {kind:?} entry in the tar"
        );
        assert_eq!(mode & 0o6000, 0, "{path}: set-id bits {mode:o} kept");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("null") && stderr.contains("fifo"), "skipped nodes are reported: {stderr}");

    // The whole running container: its /proc and /sys are the kernel's, not its files.
    let out = engine.run(&["cp", "box:/", "-"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = entries(&out.stdout);
    assert!(list.iter().any(|(p, _, _)| p.ends_with("bin/busybox")), "the tar has the container's files");
    for (path, _, _) in &list {
        let path = path.trim_start_matches("./");
        for pseudo in ["proc/", "sys/"] {
            assert!(!path.starts_with(pseudo) || path == pseudo, "{path}: a kernel file in the tar");
        }
    }
}

#[test]
fn a_tree_deeper_than_the_limit_ends_the_tar_cleanly() {
    let engine = Engine::with_busybox(BIN, "cpdeep");
    let setup = "cd / && mkdir deep && cd deep && for i in $(seq 500); do mkdir d && cd d; done && echo done";
    engine.ok(&["run", "--name", "box", "localhost/busybox", "sh", "-c", setup]);
    let out = engine.run(&["cp", "box:/deep", "-"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("deep"), "the error names the limit: {stderr}");
}
