//! `cp - CONTAINER:DIR` reads a client's tar: a header that makes the tar reader take its
//! body into memory (a GNU long name, a PAX header) must not take the engine's memory.
//! The CLI runs under an address-space limit; a stream with a 1.5 GiB long name must end
//! with a clean error, not an abort.

use std::io::Write;
use std::process::{Command, Stdio};

use lindocker_testkit::Engine;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// A GNU header of type `kind` whose body is `size` bytes.
fn header(kind: u8, size: u64) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_path("x").unwrap();
    h.set_size(size);
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_cksum();
    h.as_bytes().to_vec()
}

/// Runs `lindocker cp - box:/tmp` under a 1 GiB address-space limit with `head` followed
/// by `body` bytes of `b'a'` on its stdin; its exit code and stderr.
fn cp_in(engine: &Engine, head: Vec<u8>, body: u64) -> (Option<i32>, String) {
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--as={}", 1u64 << 30)).arg("--").arg(&engine.bin).arg("--root").arg(&engine.root);
    cmd.env("LINDOCKER_STATE", &engine.state)
        .env("LINDOCKER_CGROUP_PARENT", &engine.cgroup_parent)
        .env("LINDOCKER_CONFIG", engine.root.join("config"))
        .args(["cp", "-", "box:/tmp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        if stdin.write_all(&head).is_err() {
            return;
        }
        let chunk = vec![b'a'; 1 << 20];
        let mut left = body;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            if stdin.write_all(&chunk[..n]).is_err() {
                return; // the reader gave up: fine
            }
            left -= n as u64;
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn huge_metadata_headers_end_with_a_clean_error() {
    let engine = Engine::with_busybox(BIN, "cptarin");
    engine.ok(&["create", "--name", "box", "localhost/busybox", "true"]);
    for kind in [b'L', b'x'] {
        let size = 3u64 << 29; // 1.5 GiB
        let (code, stderr) = cp_in(&engine, header(kind, size), size);
        assert!(!stderr.contains("out of memory"), "'{}' header: the tar reader ran out of memory", char::from(kind));
        assert_eq!(code, Some(1), "'{}' header: {stderr}", char::from(kind));
        assert!(stderr.contains("refusing"), "'{}' header: {stderr}", char::from(kind));
    }
    // An ordinary tar still goes in under the same limit.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_data(&mut h, "n".repeat(200), &b"abc"[..]).unwrap();
    let (code, stderr) = cp_in(&engine, b.into_inner().unwrap(), 0);
    assert_eq!(code, Some(0), "{stderr}");
}
