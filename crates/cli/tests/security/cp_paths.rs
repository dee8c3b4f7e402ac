//! `cp` resolves every container path inside the container's root (issue 12, item 1).
//!
//! A container plants symlinks toward host paths (`/d/link` -> a host directory,
//! `/d/flink` -> a host file, `/d/sec` -> a host secret), relative ones that climb with
//! `..`, and device nodes; the admin then copies files in and out, while the container
//! runs and after it stopped. The host's directory, file and secret must stay as they
//! were, and nothing copied out may carry the secret.

use std::fs;
use std::path::{Path, PathBuf};

use lindocker_testkit::{Engine, temp_dir};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

fn secret() -> String {
    format!("TOPSECRET-{}\n", std::process::id())
}

/// The host side: a directory, a file and a secret the container points at, and what the
/// admin copies in.
fn host(name: &str) -> PathBuf {
    let h = temp_dir(name);
    fs::create_dir_all(h.join("dir/sub")).unwrap();
    fs::write(h.join("file"), "host file\n").unwrap();
    fs::write(h.join("secret"), secret()).unwrap();
    fs::write(h.join("f"), "from host\n").unwrap();
    fs::create_dir_all(h.join("in/nested")).unwrap();
    fs::write(h.join("in/payload"), "payload\n").unwrap();
    fs::write(h.join("in/nested/deep"), "deep\n").unwrap();
    fs::create_dir(h.join("out")).unwrap();
    h
}

fn assert_host_untouched(h: &Path, when: &str) {
    let names: Vec<String> =
        fs::read_dir(h.join("dir")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["sub"], "{when}: something was written into the host directory");
    assert!(fs::read_dir(h.join("dir/sub")).unwrap().next().is_none(), "{when}: written into the host's dir/sub");
    assert_eq!(fs::read_to_string(h.join("file")).unwrap(), "host file\n", "{when}: the host file was overwritten");
    assert_eq!(fs::read_to_string(h.join("secret")).unwrap(), secret(), "{when}: the host secret changed");
}

/// No regular file under `out` holds the secret (symlinks are looked at, not followed).
fn assert_no_secret(out: &Path, when: &str) {
    for entry in fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            assert_no_secret(&path, when);
        } else if meta.is_file() {
            let data = fs::read(&path).unwrap();
            assert!(
                !String::from_utf8_lossy(&data).contains(secret().trim()),
                "{when}: {} holds the host's secret",
                path.display()
            );
        }
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every attack of the issue against container `c`, in both directions.
fn attacks(engine: &Engine, c: &str, h: &Path, when: &str) {
    let f = h.join("f");
    let hrel = h.strip_prefix("/").unwrap().display().to_string();
    // Into the container: the last component a symlink to a host dir or file, an
    // intermediate symlink, `..` past the root, a relative symlink climbing out.
    for dest in [
        "/d/link".to_owned(),
        "/d/link/".to_owned(),
        "/d/flink".to_owned(),
        "/d/link/sub/file".to_owned(),
        format!("/d/up/{hrel}/dir/"),
        format!("/d/up/{hrel}/file"),
        format!("/../../../../{hrel}/dir/x"),
        format!("/../../../../{hrel}/file"),
    ] {
        engine.run(&["cp", s(&f), &format!("{c}:{dest}")]);
        engine.run(&["cp", s(&h.join("in")), &format!("{c}:{dest}")]);
        engine.run(&["cp", &format!("{}/.", s(&h.join("in"))), &format!("{c}:{dest}")]);
        assert_host_untouched(h, &format!("{when}: cp into {dest}"));
    }
    // Out of the container.
    let out = h.join("out").join(when);
    fs::create_dir(&out).unwrap();
    for (i, src) in [
        "/d/sec".to_owned(),
        "/d/link/".to_owned(),
        "/d/link/.".to_owned(),
        "/d".to_owned(),
        "/d/.".to_owned(),
        format!("/d/up/{hrel}/secret"),
        format!("/../../../{hrel}/secret"),
    ]
    .iter()
    .enumerate()
    {
        engine.run(&["cp", &format!("{c}:{src}"), s(&out.join(format!("plain{i}")))]);
        engine.run(&["cp", "-L", &format!("{c}:{src}"), s(&out.join(format!("follow{i}")))]);
        engine.run(&["cp", &format!("{c}:{src}"), s(&out)]);
        assert_no_secret(&out, &format!("{when}: cp out of {src}"));
        assert_host_untouched(h, &format!("{when}: cp out of {src}"));
    }
    // A symlink comes out as the symlink it is (as `docker cp` copies it).
    let sec = out.join("plain0");
    assert!(fs::symlink_metadata(&sec).unwrap().file_type().is_symlink(), "{when}: /d/sec was not copied as a symlink");
    assert_eq!(fs::read_link(&sec).unwrap(), h.join("secret"));
    // `-L` follows it inside the container's root, where there is no such file.
    let err = engine.fails(&["cp", "-L", &format!("{c}:/d/sec"), s(&out.join("again"))], 1);
    assert!(err.contains("Could not find the file /d/sec"), "{when}: {err}");

    // A device node is neither written through nor recreated on the host.
    let err = engine.fails(&["cp", s(&f), &format!("{c}:/d/null")], 1);
    assert!(err.contains("not a directory or a regular file"), "{when}: {err}");
    engine.ok(&["cp", &format!("{c}:/d/null"), s(&out.join("null"))]);
    assert!(fs::symlink_metadata(out.join("null")).is_err(), "{when}: a device node was made on the host");

    // What is inside the root still works: an intermediate symlink to a directory of the
    // container, a dangling symlink whose target is made inside the root (as Docker does).
    engine.ok(&["cp", s(&f), &format!("{c}:/d/inlink/sub/")]);
    engine.ok(&["cp", &format!("{c}:/d/real/sub/f"), s(&out.join("back"))]);
    assert_eq!(fs::read_to_string(out.join("back")).unwrap(), "from host\n");
    engine.ok(&["cp", "-L", &format!("{c}:/d/inlink"), s(&out.join("followed"))]);
    assert_eq!(fs::read_to_string(out.join("followed/sub/f")).unwrap(), "from host\n");
    engine.ok(&["cp", s(&f), &format!("{c}:/d/dangle")]);
    engine.ok(&["cp", &format!("{c}:/d/real/{when}"), s(&out.join("dangled"))]);
    assert_eq!(fs::read_to_string(out.join("dangled")).unwrap(), "from host\n");
}

#[test]
fn cp_never_leaves_the_container_root() {
    let engine = Engine::with_busybox(BIN, "cp-paths");
    let h = host("cp-paths-host");
    engine.ok(&["run", "-d", "--name", "cpc", "localhost/busybox", "sleep", "1000"]);
    let plant = format!(
        "mkdir -p /d/real/sub && ln -s {h}/dir /d/link && ln -s {h}/file /d/flink && ln -s {h}/secret /d/sec \
         && ln -s ../../../../../../../.. /d/up && ln -s /d/real /d/inlink && mknod /d/null c 1 3 \
         && ln -s real/running /d/dangle",
        h = h.display()
    );
    engine.ok(&["exec", "cpc", "sh", "-c", &plant]);
    attacks(&engine, "cpc", &h, "running");
    // The planted links are still there, untouched.
    assert_eq!(
        engine.ok(&["exec", "cpc", "sh", "-c", "readlink /d/flink && readlink /d/link"]),
        format!("{0}/file\n{0}/dir\n", h.display())
    );
    engine.ok(&["exec", "cpc", "sh", "-c", "rm /d/dangle && ln -s real/stopped /d/dangle"]);
    engine.ok(&["stop", "-t", "0", "cpc"]);
    // Stopped: the same links, resolved in the container's merged filesystem.
    attacks(&engine, "cpc", &h, "stopped");
    engine.ok(&["rm", "-f", "cpc"]);
    fs::remove_dir_all(&h).unwrap();
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn cp_copies_trees_both_ways() {
    let engine = Engine::with_busybox(BIN, "cp-trees");
    let h = host("cp-trees-host");
    engine.ok(&["create", "--name", "cpt", "localhost/busybox", "true"]);
    // A tree in, with its contents form and over an existing file.
    engine.ok(&["cp", s(&h.join("in")), "cpt:/"]);
    engine.ok(&["cp", &format!("{}/.", s(&h.join("in"))), "cpt:/etc/"]);
    engine.ok(&["cp", s(&h.join("f")), "cpt:/in/payload"]);
    // And out again.
    let out = h.join("out");
    engine.ok(&["cp", "cpt:/in", s(&out)]);
    assert_eq!(fs::read_to_string(out.join("in/payload")).unwrap(), "from host\n");
    assert_eq!(fs::read_to_string(out.join("in/nested/deep")).unwrap(), "deep\n");
    engine.ok(&["cp", "cpt:/etc/.", s(&out.join("etc"))]);
    assert_eq!(fs::read_to_string(out.join("etc/nested/deep")).unwrap(), "deep\n");
    assert!(out.join("etc/passwd").is_file());
    // Docker's refusals.
    let err = engine.fails(&["cp", s(&h.join("in")), "cpt:/etc/passwd"], 1);
    assert!(err.contains("cannot copy a directory to a file"), "{err}");
    let err = engine.fails(&["cp", "cpt:/nothing", s(&out)], 1);
    assert!(err.contains("Could not find the file /nothing in container cpt"), "{err}");
    engine.ok(&["rm", "cpt"]);
    fs::remove_dir_all(&h).unwrap();
}

/// A new volume is filled with what the image has at its mount point: an image whose
/// `/data` is a symlink to a host directory must not get that directory's files.
#[test]
fn a_volume_is_filled_from_inside_the_image_only() {
    let engine = Engine::with_busybox(BIN, "cp-volume");
    let h = host("cp-volume-host");
    engine.ok(&["run", "--name", "mkevil", "localhost/busybox", "ln", "-s", s(&h), "/data"]);
    engine.ok(&["commit", "mkevil", "localhost/evil-volume"]);
    engine.ok(&["rm", "mkevil"]);
    let out = engine.run(&["run", "--rm", "-v", "evilvol:/data", "localhost/evil-volume", "cat", "/data/secret"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains(secret().trim()),
        "the container read the host's secret through its volume:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_str(&engine.ok(&["volume", "inspect", "evilvol"])).unwrap();
    let data = Path::new(info[0]["Mountpoint"].as_str().unwrap());
    assert!(!data.join("secret").exists(), "the host's secret was copied into the volume");
    assert_host_untouched(&h, "volume");
    engine.ok(&["volume", "rm", "evilvol"]);
    engine.ok(&["rmi", "localhost/evil-volume"]);
    fs::remove_dir_all(&h).unwrap();
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `export` of a running container walks its tree through descriptors: a directory the
/// container swaps for a symlink to a host directory while the export runs (it watches
/// the export open its first file) must not bring the host's files into the tar.
#[test]
fn export_does_not_follow_a_directory_swapped_while_it_runs() {
    let engine = Engine::with_busybox(BIN, "cp-export");
    let h = host("cp-export-host");
    fs::write(h.join("zsecret"), secret()).unwrap();
    // The host directory has the names the container's has, so that a walk led there
    // goes on to the secret.
    for i in 10000..=14000 {
        fs::write(h.join(format!("a{i}")), "").unwrap();
    }
    engine.ok(&["run", "-d", "--name", "swapper", "localhost/busybox", "sleep", "1000"]);
    let plant = "mkdir /r && cd /r && for i in $(seq 10000 14000); do : > a$i; done && echo decoy > zsecret";
    engine.ok(&["exec", "swapper", "sh", "-c", plant]);
    engine.ok(&["exec", "-d", "swapper", "checker", "--swap-on-open", "/r/a10000", "/r", s(&h)]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let tar = h.join("out/export.tar");
    engine.ok(&["export", "-o", s(&tar), "swapper"]);
    // The container did swap its directory during the export.
    assert_eq!(engine.ok(&["exec", "swapper", "readlink", "/r"]).trim(), s(&h));
    let mut archive = tar::Archive::new(fs::File::open(&tar).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        assert!(
            !String::from_utf8_lossy(&data).contains(secret().trim()),
            "the export carries the host's secret as {path}"
        );
    }
    engine.ok(&["rm", "-f", "swapper"]);
    fs::remove_dir_all(&h).unwrap();
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}
