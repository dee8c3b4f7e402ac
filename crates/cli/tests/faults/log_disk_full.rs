//! A data root on a small file system filled up: by a container's logs, by an import, by
//! a container's writes. The shims stay small, `stop`, `kill` and `rm -f` still work,
//! nothing is stranded, and once space is freed the image store runs containers again.
//!
//! The root is a small ext4 on a loop device (without a journal, as this machine's `/`:
//! freed blocks count as free at once), made and removed by the test.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lindocker_testkit::{Engine, FakeHost};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// A line of 100 bytes, printed as fast as a shell loop can.
const TALK: &str = "sleep 1; while :; do echo 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456; done";

/// An engine whose data root is a loop-mounted ext4 with about `mib` MiB free once the
/// busybox test image (whose size depends on the build: it carries the checker) is
/// imported.
struct SmallDisk {
    engine: Engine,
    _mount: Unmount,
    _host: FakeHost,
}

/// Unmounts our file system (the engine's drop has usually done it already; the loop
/// device goes with it, `mount -o loop` sets it to clear itself) and removes its image.
struct Unmount {
    root: PathBuf,
    image_dir: PathBuf,
}

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.root, rustix::mount::UnmountFlags::DETACH);
        let _ = std::fs::remove_dir_all(&self.image_dir);
    }
}

impl SmallDisk {
    fn new(name: &str, mib: u32) -> SmallDisk {
        let host = FakeHost::new(name);
        let mut engine = Engine::new(BIN, name);
        let scratch = lindocker_testkit::temp_dir(&format!("{name}-scratch"));
        let tar = scratch.join("busybox.tar");
        let layer = lindocker_testkit::image::busybox_layer(&scratch);
        std::fs::write(&tar, &layer).unwrap();
        // The image takes its size twice (the blob and the unpacked layer); ext4's own
        // metadata takes a few MiB.
        let size = mib as u64 + 2 * (layer.len() as u64 >> 20) + 6;
        let image_dir = lindocker_testkit::temp_dir(&format!("{name}-disk"));
        let image = image_dir.join("disk.ext4");
        std::fs::File::create(&image).unwrap().set_len(size << 20).unwrap();
        let mkfs = Command::new("mkfs.ext4")
            .args(["-q", "-F", "-m", "0", "-O", "^has_journal"])
            .arg(&image)
            .output()
            .expect("mkfs.ext4 (e2fsprogs)");
        assert!(mkfs.status.success(), "mkfs.ext4: {}", String::from_utf8_lossy(&mkfs.stderr));
        let status = Command::new("mount").args(["-o", "loop"]).arg(&image).arg(&engine.root).status().unwrap();
        assert!(status.success(), "mount -o loop");
        let mount = Unmount { root: engine.root.clone(), image_dir };
        engine.netns = Some(host.path.clone());
        engine.ok(&["import", "-c", r#"CMD ["sh"]"#, tar.to_str().unwrap(), "localhost/busybox"]);
        std::fs::remove_dir_all(&scratch).unwrap();
        SmallDisk { engine, _mount: mount, _host: host }
    }

    fn free_bytes(&self) -> u64 {
        let st = rustix::fs::statvfs(&self.engine.root).unwrap();
        st.f_bavail * st.f_frsize
    }

    fn wait_full(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.free_bytes() > 64 * 1024 {
            assert!(Instant::now() < deadline, "the disk never filled up ({} bytes free)", self.free_bytes());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `lindocker args` with a deadline; returns (exit code, stderr).
    fn run_within(&self, args: &[&str], limit: Duration) -> (Option<i32>, String) {
        let mut cmd = self.engine.cmd();
        cmd.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                return (status.code(), err);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("lindocker {args:?} did not finish within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn vm_rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn clean(engine: &Engine) {
    // Our own tmpfs under the root is not the engine's.
    let root = engine.root.display().to_string();
    let mut left = engine.leftovers();
    left.retain(|l| !(l.starts_with("mount ") && l.split(' ').nth(5) == Some(root.as_str())));
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn runs_again(engine: &Engine) {
    assert_eq!(engine.ok(&["run", "--rm", "localhost/busybox", "echo", "still runs"]), "still runs\n");
}

#[test]
fn logs_filling_the_disk_leave_shims_small_and_containers_stoppable() {
    let disk = SmallDisk::new("logfull", 32);
    let engine = &disk.engine;
    for name in ["talk-a", "talk-b", "talk-c"] {
        engine.ok(&["run", "-d", "--name", name, "localhost/busybox", "sh", "-c", TALK]);
    }
    disk.wait_full();
    // Full for a while, with three containers still talking: no shim hoards what it
    // cannot write.
    let shims = engine.shims();
    assert_eq!(shims.len(), 3, "{shims:?}");
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        for &pid in &shims {
            let rss = vm_rss_kib(pid);
            assert!(rss < 16 * 1024, "shim {pid} holds {rss} KiB on a full disk");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let limit = Duration::from_secs(20);
    let (code, err) = disk.run_within(&["stop", "-t", "1", "talk-a"], limit);
    assert_eq!(code, Some(0), "stop on a full disk: {err}");
    let (code, err) = disk.run_within(&["kill", "talk-b"], limit);
    assert_eq!(code, Some(0), "kill on a full disk: {err}");
    let (code, err) = disk.run_within(&["rm", "-f", "talk-c"], limit);
    assert_eq!(code, Some(0), "rm -f on a full disk: {err}");
    let deadline = Instant::now() + limit;
    while !engine.shims().is_empty() {
        assert!(Instant::now() < deadline, "shims still running: {:?}", engine.shims());
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, err) = disk.run_within(&["rm", "-f", "talk-a", "talk-b"], limit);
    assert_eq!(code, Some(0), "rm of the stopped ones: {err}");
    assert_eq!(engine.ok(&["ps", "-a", "-q"]), "");
    clean(engine);
    runs_again(engine);
    clean(engine);
}

#[test]
fn an_import_or_a_container_filling_the_disk_strands_nothing() {
    let disk = SmallDisk::new("fsfull", 24);
    let engine = &disk.engine;
    let images_before = engine.ok(&["images", "-q"]);
    let store_before = engine.store_listing();
    let free_before = disk.free_bytes();
    // An import bigger than the disk: refused, no partial image or layer kept.
    let scratch = lindocker_testkit::temp_dir("fsfull-import");
    let big = scratch.join("big.tar");
    {
        let file = std::fs::File::create(&big).unwrap();
        let mut tar = tar::Builder::new(file);
        let data = vec![0x5au8; 40 << 20];
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "big", data.as_slice()).unwrap();
        tar.finish().unwrap();
    }
    let out = engine.run(&["import", big.to_str().unwrap(), "localhost/big"]);
    std::fs::remove_dir_all(&scratch).unwrap();
    assert_ne!(out.status.code(), Some(0), "an import larger than the disk succeeded");
    assert_eq!(engine.ok(&["images", "-q"]), images_before);
    assert_eq!(engine.store_listing(), store_before, "the failed import left files in the store");
    let free_after = disk.free_bytes();
    assert!(
        free_after + (256 << 10) >= free_before,
        "the failed import left data: {free_before} -> {free_after} bytes free"
    );
    runs_again(engine);

    // A container writing until the disk is full: it fails, it is removable, and the
    // space comes back.
    // (Its output captured here, not in files under the full root as `Engine::run` does.)
    let out = engine
        .cmd()
        .args([
            "run",
            "--name",
            "filler",
            "localhost/busybox",
            "sh",
            "-c",
            "sleep 0.5; dd if=/dev/zero of=/big bs=1M 2>/dev/null; echo dd ended",
        ])
        .output()
        .unwrap();
    // Its output is relayed; its end can be recorded, or it is said that it could not.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "dd ended\n", "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() || err.contains("No space left on device"), "{out:?}");
    assert!(disk.free_bytes() < 1 << 20, "{} bytes free", disk.free_bytes());
    let (code, err) = disk.run_within(&["rm", "-f", "filler"], Duration::from_secs(20));
    assert_eq!(code, Some(0), "rm -f on a full disk: {err}");
    assert_eq!(engine.ok(&["ps", "-a", "-q"]), "");
    clean(engine);
    runs_again(engine);
    assert_eq!(engine.store_listing(), store_before);
    clean(engine);
}
