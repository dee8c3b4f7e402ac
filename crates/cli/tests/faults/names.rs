//! Issue 12, item 12: names stranded by a full disk or a killed CLI. A `create` that
//! fails at any point (here: ENOSPC at every step of it, on a data root on a small tmpfs)
//! leaves the name free; what a killed `run -d` left (a container directory with only
//! `record.json.tmp`, maybe a mount, and the name claimed) is cleared by `rm -f NAME`,
//! by `container prune`, or by the next `create`/`run` that wants the name.

use std::fs;
use std::path::Path;
use std::process::Command;

use lindocker_testkit::{Engine, image, temp_dir};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// What is under `containers/` besides the names directory and lock files.
fn container_dirs(engine: &Engine) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(engine.root.join("containers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "names" && !n.ends_with(".lock"))
        .collect();
    out.sort();
    out
}

fn names(engine: &Engine) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(engine.root.join("containers/names"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// Fills the file system of `dir` until a write fails with ENOSPC, keeping the last
/// `pages` 4 KiB pages as separate files (returned) so they can be freed one by one.
fn fill(dir: &Path, pages: usize) -> Vec<std::path::PathBuf> {
    use std::io::Write as _;
    let big = dir.join("filler");
    let mut file = fs::File::create(&big).unwrap();
    let chunk = vec![0xa5u8; 64 * 1024];
    loop {
        match file.write(&chunk) {
            Ok(n) if n == chunk.len() => {}
            Ok(_) => continue,
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "filling: {e}");
                break;
            }
        }
    }
    let len = file.metadata().unwrap().len();
    file.set_len(len.saturating_sub((pages as u64 + 4) * 4096)).unwrap();
    drop(file);
    let mut small = Vec::new();
    loop {
        let path = dir.join(format!("page{}", small.len()));
        if fs::write(&path, [1u8; 4096]).is_err() {
            let _ = fs::remove_file(&path);
            break;
        }
        small.push(path);
    }
    small
}

#[test]
fn a_create_that_fails_on_a_full_disk_leaves_the_name_free() {
    let engine = Engine::new(BIN, "enospc");
    let scratch = temp_dir("enospc-scratch");
    let tar = scratch.join("busybox.tar");
    let layer = image::busybox_layer(&scratch);
    fs::write(&tar, &layer).unwrap();
    // Room for the image (its blob and its unpacked layer; the checker in it makes its
    // size depend on the build) and a little more, which `fill` then takes.
    let size = 2 * (layer.len() >> 20) + 8;
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}m,mode=0711"), "ld-enospc"])
        .arg(&engine.root)
        .output()
        .unwrap();
    assert!(out.status.success(), "mount tmpfs: {}", String::from_utf8_lossy(&out.stderr));
    engine.ok(&["import", "-c", r#"CMD ["sh"]"#, tar.to_str().unwrap(), "localhost/busybox"]);
    fs::remove_dir_all(&scratch).unwrap();
    engine.ok(&["ps", "-a"]);

    let create = ["create", "--network", "none", "--name", "full", "localhost/busybox", "true"];
    let mut pages = fill(&engine.root, 48);
    let mut successes = 0;
    let mut failures = 0;
    // Free one page at a time: ENOSPC hits each step of `create` in turn.
    while successes < 2 {
        let out = engine.run(&create);
        if out.status.success() {
            successes += 1;
            engine.ok(&["rm", "-f", "full"]);
        } else {
            failures += 1;
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(125), "{err}");
            assert!(!err.contains("Conflict") && !err.contains("already in use"), "the name was stranded: {err}");
            assert_eq!(names(&engine), Vec::<String>::new(), "a failed create left a name ({err})");
            assert_eq!(container_dirs(&engine), Vec::<String>::new(), "a failed create left a directory ({err})");
            let busy = fs::read_dir(&engine.state)
                .unwrap()
                .flatten()
                .filter(|e| e.path().extension() == Some("busy".as_ref()));
            assert_eq!(busy.count(), 0, "a failed create left its busy lock ({err})");
        }
        let Some(page) = pages.pop() else { break };
        fs::remove_file(page).unwrap();
    }
    assert!(failures >= 2, "the disk was not full enough to fail a create ({failures} failures)");
    assert_eq!(successes, 2, "create never succeeded once space was freed");
    for page in pages {
        fs::remove_file(page).unwrap();
    }
    fs::remove_file(engine.root.join("filler")).unwrap();
    engine.ok(&["create", "--network", "none", "--name", "full", "localhost/busybox", "true"]);
    engine.ok(&["rm", "-f", "full"]);
    assert_eq!(names(&engine), Vec::<String>::new());
    let mut left = engine.leftovers();
    left.retain(|l| !l.contains(" ld-enospc ")); // the data root's own tmpfs
    assert!(left.is_empty(), "{left:?}");
}

/// What a `run -d` killed while writing its record left, as the code before this fix
/// laid it out (name file first, then the directory, then `record.json.tmp`), with
/// its root file system still mounted.
fn plant_wreck(engine: &Engine, name: &str, n: u8) -> String {
    let id = format!("{:02x}", n).repeat(32);
    let dir = engine.root.join("containers").join(&id);
    fs::create_dir_all(dir.join("merged")).unwrap();
    fs::write(dir.join("record.json.tmp"), br#"{"Id":"#).unwrap();
    fs::write(engine.root.join("containers/names").join(name), &id).unwrap();
    let out = Command::new("mount").args(["-t", "tmpfs", "ld-wreck"]).arg(dir.join("merged")).output().unwrap();
    assert!(out.status.success());
    id
}

#[test]
fn what_a_killed_run_left_is_cleared_by_rm_prune_and_reuse() {
    let engine = Engine::with_busybox(BIN, "wreck");
    engine.ok(&["ps", "-a"]);
    let a = plant_wreck(&engine, "wreck-a", 0xa1);
    let b = plant_wreck(&engine, "wreck-b", 0xb2);
    let c = plant_wreck(&engine, "wreck-c", 0xc3);

    // `rm -f NAME` of the wreck works, and takes its directory and mount.
    let out = engine.ok(&["rm", "-f", "wreck-a"]);
    assert_eq!(out.trim(), "wreck-a");
    assert!(!engine.root.join("containers").join(&a).exists(), "rm -f left the wreck's directory");
    engine.ok(&["run", "--rm", "--network", "none", "--name", "wreck-a", "localhost/busybox", "true"]);

    // A new container may take the name at once.
    engine.ok(&["run", "-d", "--network", "none", "--name", "wreck-b", "localhost/busybox", "sleep", "1000"]);
    assert!(!engine.root.join("containers").join(&b).exists(), "reclaiming the name left the wreck's directory");
    engine.ok(&["rm", "-f", "wreck-b"]);

    // `container prune` clears the rest.
    let pruned = engine.ok(&["container", "prune", "-f"]);
    assert!(pruned.contains(&c), "{pruned}");
    assert!(!engine.root.join("containers").join(&c).exists());
    assert_eq!(names(&engine), Vec::<String>::new());
    assert_eq!(container_dirs(&engine), Vec::<String>::new());

    // So does `ps`, which reads every container directory anyway; the name stays
    // claimable.
    let d = plant_wreck(&engine, "wreck-d", 0xd4);
    assert!(!engine.ok(&["ps", "-a"]).contains("wreck"), "a container without a record is none");
    assert!(!engine.root.join("containers").join(&d).exists(), "ps left the wreck's directory");
    engine.ok(&["create", "--network", "none", "--name", "wreck-d", "localhost/busybox", "true"]);
    engine.ok(&["rm", "wreck-d"]);
    engine.ok(&["create", "--network", "none", "--name", "wreck-c", "localhost/busybox", "true"]);
    engine.ok(&["rm", "wreck-c"]);
    let left = engine.leftovers();
    assert!(left.is_empty(), "{left:?}");
}
