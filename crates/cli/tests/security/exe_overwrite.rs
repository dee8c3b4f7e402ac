//! CVE-2019-5736, through `exec` and through a container's own init: a container writes
//! `#!/proc/self/exe` into /bin/evil; when the runtime's process execs it, the kernel
//! loads /proc/self/exe of that process, the runtime's own binary, inside the container
//! and dumpable. A watcher in the container (the checker's `--exe-attack`) opens its
//! /proc/PID/exe and reopens it for writing once it is no longer busy, to replace the
//! host's runtime. Every binary here is a copy in a temp dir, so a successful attack
//! damages nothing: the test asserts the watcher reached the file, no write open
//! succeeded, and the copies are unchanged.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lindocker_testkit::{Bundle, Engine, Runtime, leftovers};
use serde_json::{Value, json};

const LINDOCKER: &str = env!("CARGO_BIN_EXE_lindocker");
const EVIL: &str = "/bin/evil";
/// The attack's script, and the watcher, started in the container.
const SETUP: &str = "printf '#!/proc/self/exe\\n' > /bin/evil && chmod 755 /bin/evil && \
                     exec checker --exe-attack 10 /bin/evil /shared > /shared/report.json";

/// Copies of lindocker, lindocker-shim and lindocker-runtime in a temp dir of their own.
struct Copies {
    dir: PathBuf,
    /// (copy, length, mtime, first 64 KiB) of each binary.
    before: Vec<(PathBuf, u64, i64, Vec<u8>)>,
}

impl Copies {
    fn install(name: &str) -> Copies {
        let dir = lindocker_testkit::temp_dir(&format!("{name}-bin"));
        // The binaries under test: ours, or those `$LINDOCKER_BIN` names (as for `Engine`).
        let bin = std::env::var_os("LINDOCKER_BIN").map_or_else(|| PathBuf::from(LINDOCKER), PathBuf::from);
        let from = bin.parent().unwrap();
        let mut before = Vec::new();
        for bin in ["lindocker", "lindocker-shim", "lindocker-runtime"] {
            let copy = dir.join(bin);
            std::fs::copy(from.join(bin), &copy).unwrap();
            before.push(Copies::fingerprint(&copy));
        }
        Copies { dir, before }
    }

    fn fingerprint(path: &Path) -> (PathBuf, u64, i64, Vec<u8>) {
        let m = std::fs::metadata(path).unwrap();
        let mut head = vec![0u8; 65536];
        let n = std::fs::File::open(path).unwrap().read(&mut head).unwrap();
        head.truncate(n);
        (path.to_path_buf(), m.len(), m.mtime_nsec() + m.mtime() * 1_000_000_000, head)
    }

    fn path(&self, bin: &str) -> String {
        self.dir.join(bin).to_str().unwrap().to_owned()
    }

    fn assert_unchanged(&self) {
        for (path, len, mtime, head) in &self.before {
            let now = Copies::fingerprint(path);
            assert!(now.1 == *len && now.2 == *mtime && now.3 == *head, "{} was written to", path.display());
        }
    }
}

impl Drop for Copies {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A pipe whose buffer is already full: a process that writes to it blocks until the
/// test drains it, so the evil process stays alive as long as the test wants.
fn full_pipe() -> (OwnedFd, OwnedFd) {
    let (read, write) = rustix::pipe::pipe().unwrap();
    rustix::io::ioctl_fionbio(&write, true).unwrap();
    let chunk = [b'x'; 4096];
    while rustix::io::write(&write, &chunk).is_ok() {}
    // Back to blocking, for the process that inherits it.
    rustix::io::ioctl_fionbio(&write, false).unwrap();
    (read, write)
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` (which execs /bin/evil in the container) with its stderr on a full pipe,
/// waits for the watcher to find it, then lets it finish; returns the watcher's report.
fn attack(shared: &Path, mut cmd: Command) -> Value {
    wait_for("the watcher", Duration::from_secs(20), || shared.join("ready").exists());
    let (read, write) = full_pipe();
    let mut child: Child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::from(write)).spawn().unwrap();
    let found = Instant::now() + Duration::from_secs(20);
    while !shared.join("found").exists() && Instant::now() < found && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Drain the pipe: the evil process writes its complaint and exits.
    let drain = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = std::fs::File::from(read).read_to_end(&mut all);
    });
    let _ = child.wait();
    let report = shared.join("report.json");
    wait_for("the watcher's report", Duration::from_secs(40), || {
        std::fs::read(&report).is_ok_and(|r| r.ends_with(b"\n"))
    });
    drop(drain);
    let text = std::fs::read_to_string(&report).unwrap();
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("watcher report ({e}): {text}"))
}

/// The watcher reached the runtime's binary, and could not write it.
fn assert_held(r: &Value, copies: &Copies) {
    assert_eq!(r["open-path"], "ok", "the watcher never reached the runtime's process: {r}");
    assert_ne!(r["open-write"], "ok", "the runtime's binary was opened for writing from the container: {r}");
    assert!(r.get("write").is_none(), "{r}");
    copies.assert_unchanged();
}

/// `lindocker-runtime exec C /bin/evil`.
#[test]
fn runtime_exec_of_a_proc_self_exe_script() {
    let copies = Copies::install("exeow-rt");
    let rt = Runtime::new(&copies.path("lindocker-runtime"), "exeow-rt");
    let mut b = Bundle::new("exeow-rt", &["sh", "-c", SETUP]);
    let shared = b.share_dir("shared", "/shared");
    b.write();
    rt.ok(&["run", "--detach", "--bundle", b.dir.to_str().unwrap(), "exeow-rt"]);
    let mut cmd = rt.cmd();
    cmd.args(["exec", "exeow-rt", EVIL]);
    let r = attack(&shared, cmd);
    assert_held(&r, &copies);
    rt.ok(&["delete", "--force", "exeow-rt"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// A container init that execs /bin/evil, in the pid namespace of a container whose
/// watcher sees it: the init path of `lindocker-runtime run`.
#[test]
fn runtime_init_of_a_proc_self_exe_script() {
    let copies = Copies::install("exeow-init");
    let rt = Runtime::new(&copies.path("lindocker-runtime"), "exeow-init");
    let mut w = Bundle::new("exeow-init", &["sh", "-c", SETUP]);
    let shared = w.share_dir("shared", "/shared");
    w.write();
    rt.ok(&["run", "--detach", "--bundle", w.dir.to_str().unwrap(), "exeow-w"]);
    let watcher = rt.state("exeow-w")["pid"].as_i64().unwrap();
    wait_for("the watcher", Duration::from_secs(20), || shared.join("ready").exists());
    // The evil container: its program is /bin/evil, in the watcher's pid namespace.
    let mut e = Bundle::new("exeow-evil", &[EVIL]);
    std::fs::write(e.rootfs().join("bin/evil"), "#!/proc/self/exe\n").unwrap();
    let perms = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(e.rootfs().join("bin/evil"), perms).unwrap();
    for ns in e.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "pid" {
            ns["path"] = json!(format!("/proc/{watcher}/ns/pid"));
        }
    }
    e.write();
    let mut cmd = rt.cmd();
    cmd.args(["run", "--bundle", e.dir.to_str().unwrap(), "exeow-evil"]);
    let r = attack(&shared, cmd);
    assert_held(&r, &copies);
    let _ = rt.run(&["delete", "--force", "exeow-evil"]);
    rt.ok(&["delete", "--force", "exeow-w"]);
    assert_eq!(leftovers(&e.cgroup_parent, &e.dir, &rt.root), Vec::<String>::new());
    assert_eq!(leftovers(&w.cgroup_parent, &w.dir, &rt.root), Vec::<String>::new());
}

/// `lindocker exec C /bin/evil` through the engine; and the engine's own start path:
/// the shim calls the runtime's library in a fork, so a container's init runs the shim's
/// image until it execs, which must be sealed too.
#[test]
fn engine_exec_of_a_proc_self_exe_script_and_the_shims_image() {
    let copies = Copies::install("exeow-engine");
    let engine = Engine::with_busybox(&copies.path("lindocker"), "exeow-engine");
    // `lindocker exec` relays the process's output through pipes of its own, so the
    // evil process is not held up by our full pipe and may end before the watcher finds
    // it on a loaded machine: a few tries, each a new container and watcher; every try
    // must hold, and one must have reached the process.
    let mut reached = false;
    for attempt in 0..5 {
        let shared = lindocker_testkit::temp_dir(&format!("exeow-engine-shared-{attempt}"));
        let volume = format!("{}:/shared", shared.display());
        let name = format!("evilbox{attempt}");
        engine.ok(&["run", "-d", "--name", &name, "-v", &volume, "localhost/busybox", "sh", "-c", SETUP]);
        // The shim (whose fork becomes the init) runs from a sealed image: its program
        // cannot be opened for writing, even by the host's root, while it runs or after.
        let shims = engine.shims();
        assert!(!shims.is_empty(), "no shim");
        for pid in shims {
            let exe = format!("/proc/{pid}/exe");
            let err =
                std::fs::OpenOptions::new().write(true).open(&exe).expect_err("the shim's image opened for writing");
            assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{exe}: {err}");
        }
        let mut cmd = engine.cmd();
        cmd.args(["exec", &name, EVIL]);
        let r = attack(&shared, cmd);
        assert_ne!(r["open-write"], "ok", "the runtime's binary was opened for writing from the container: {r}");
        assert!(r.get("write").is_none(), "{r}");
        copies.assert_unchanged();
        engine.ok(&["rm", "-f", &name]);
        let _ = std::fs::remove_dir_all(&shared);
        if r["open-path"] == "ok" {
            reached = true;
            break;
        }
    }
    assert!(reached, "in five tries the watcher never reached the runtime's process");
    // The shim ends just after it reported the exit that `rm -f` waited for.
    wait_for("the shim to end", Duration::from_secs(10), || engine.shims().is_empty());
    copies.assert_unchanged();
    assert_eq!(engine.leftovers(), Vec::<String>::new());
}
