//! The `lindocker` binary with a private data root and credentials file.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// `lindocker` with its own data root, state directory, cgroup parent and credentials
/// file; when dropped, its containers' processes are killed (by pid) and everything
/// removed.
pub struct Engine {
    /// Path of `lindocker`.
    pub bin: PathBuf,
    /// The data root.
    pub root: PathBuf,
    /// The state directory (runtime state, shim sockets).
    pub state: PathBuf,
    /// The cgroup parent of its containers.
    pub cgroup_parent: String,
    /// The network namespace it runs in (a fake host), if not ours.
    pub netns: Option<PathBuf>,
    /// The fake host it owns, so that its bridges and rules never touch this machine's.
    host: Option<crate::FakeHost>,
}

impl Engine {
    /// `bin` (or `$LINDOCKER_BIN`) with a fresh data root named after the test.
    pub fn new(bin: &str, name: &str) -> Engine {
        let bin = std::env::var_os("LINDOCKER_BIN").map_or_else(|| bin.into(), PathBuf::from);
        Engine {
            bin,
            root: crate::temp_dir(&format!("{name}-engine")),
            state: crate::temp_dir(&format!("{name}-st")),
            cgroup_parent: format!("/lindocker-test-{}-{name}", std::process::id()),
            netns: None,
            host: None,
        }
    }

    /// Like [`Engine::with_busybox`], running inside the fake host `host`.
    pub fn in_host(bin: &str, name: &str, host: &crate::FakeHost) -> Engine {
        let mut engine = Engine::new(bin, name);
        engine.netns = Some(host.path.clone());
        let tar = engine.root.join("busybox.tar");
        std::fs::write(&tar, crate::image::busybox_layer(&engine.root)).unwrap();
        engine.ok(&["import", "-c", r#"CMD ["sh"]"#, tar.to_str().unwrap(), "localhost/busybox"]);
        std::fs::remove_file(&tar).unwrap();
        engine
    }

    /// Like [`Engine::new`], with `localhost/busybox` imported (busybox-static, the
    /// checker at /bin/checker), running in a fake host of its own: containers get the
    /// default bridge network, whose bridge and nftables rules must not land on this
    /// machine.
    pub fn with_busybox(bin: &str, name: &str) -> Engine {
        let mut engine = Engine::new(bin, name);
        let host = crate::FakeHost::new(name);
        engine.netns = Some(host.path.clone());
        engine.host = Some(host);
        let tar = engine.root.join("busybox.tar");
        std::fs::write(&tar, crate::image::busybox_layer(&engine.root)).unwrap();
        engine.ok(&["import", "-c", r#"CMD ["sh"]"#, tar.to_str().unwrap(), "localhost/busybox"]);
        std::fs::remove_file(&tar).unwrap();
        engine
    }

    /// A command with the root, state, cgroup parent and config set.
    pub fn cmd(&self) -> Command {
        let mut c = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}", ns.display())).arg("--").arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        c.arg("--root")
            .arg(&self.root)
            .env("LINDOCKER_STATE", &self.state)
            .env("LINDOCKER_CGROUP_PARENT", &self.cgroup_parent)
            .env("LINDOCKER_CONFIG", self.root.join("config"))
            .stdin(Stdio::null());
        c
    }

    /// What containers left behind: cgroups and processes under our parent, mounts
    /// under the root, shim processes, sockets. Empty means clean.
    pub fn leftovers(&self) -> Vec<String> {
        let mut out = crate::leftovers(&self.cgroup_parent, &self.root, &self.state.join("runtime/lindocker-runtime"));
        for pid in self.shims() {
            out.push(format!("shim process {pid}"));
        }
        for pid in self.dns_servers() {
            out.push(format!("dns server process {pid}"));
        }
        for entry in std::fs::read_dir(&self.state).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".sock") || name.ends_with(".tty") {
                out.push(format!("socket {name}"));
            }
        }
        out
    }

    /// Pids of live `lindocker-dns` servers of this engine's root.
    pub fn dns_servers(&self) -> Vec<i32> {
        let root = self.root.display().to_string();
        live_processes(b"lindocker-dns", |args| args.contains(&root.as_bytes()))
    }

    /// Pids of live shims serving this engine's root.
    pub fn shims(&self) -> Vec<i32> {
        let root = self.root.display().to_string();
        live_processes(b"lindocker-shim", |args| args.get(1) == Some(&root.as_bytes()))
    }

    /// Runs `lindocker args`, capturing output (through files: a container may inherit
    /// and hold them).
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.cmd();
        cmd.args(args);
        crate::output_via_files(cmd, &self.root)
    }

    /// Runs `args` and insists on success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        crate::stdout_of_success(&self.run(args), &format!("lindocker {args:?}"))
    }

    /// Runs `args`, insists on failure with exit code `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "lindocker {args:?}: expected exit {code}:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Every file under the data root's image store and layers, for "nothing changed"
    /// checks (scratch space excluded).
    pub fn store_listing(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["image", "layers"] {
            list(&self.root.join(sub), &self.root, &mut out);
        }
        out.retain(|p| !p.contains("/tmp/") && !p.ends_with(".lock"));
        out.sort();
        out
    }
}

fn list(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        out.push(path.strip_prefix(base).unwrap().display().to_string());
        if entry.file_type().is_ok_and(|t| t.is_dir()) && !path.ends_with("diff") {
            list(&path, base, out);
        }
    }
}

impl Engine {
    /// A power cut: every shim and container process killed, every mount under the root
    /// and the state directory gone, the containers' cgroups too.
    pub fn power_off(&self) {
        for pid in self.shims() {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        for parent in crate::cgroup_dirs(&self.cgroup_parent) {
            for child in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
                if !child.file_type().is_ok_and(|t| t.is_dir()) {
                    continue; // a control file
                }
                let procs = std::fs::read_to_string(child.path().join("cgroup.procs")).unwrap_or_default();
                for pid in
                    procs.lines().filter_map(|l| l.trim().parse().ok()).filter_map(rustix::process::Pid::from_raw)
                {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
                // A paused container's processes die only once thawed (v1 freezer, v2).
                let _ = std::fs::write(child.path().join("freezer.state"), "THAWED");
                let _ = std::fs::write(child.path().join("cgroup.freeze"), "0");
                for _ in 0..50 {
                    if std::fs::remove_dir(child.path()).is_ok() || !child.path().exists() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
        }
        // Overlay mounts under the root would make removal fail; unmount them first.
        if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
            let root = self.root.display().to_string();
            let state = self.state.display().to_string();
            let mut points: Vec<&str> = info
                .lines()
                .filter_map(|l| l.split(' ').nth(4))
                .filter(|p| p.starts_with(&root) || p.starts_with(&state))
                .collect();
            points.sort_by_key(|p| std::cmp::Reverse(p.len()));
            for point in points {
                let _ = rustix::mount::unmount(point, rustix::mount::UnmountFlags::DETACH);
            }
        }
    }

    /// A reboot: [`Engine::power_off`], then the state directory emptied, as a boot
    /// empties `/run`.
    pub fn reboot(&self) {
        self.power_off();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if std::env::var_os("LINDOCKER_TEST_KEEP").is_some() {
            return; // for a post-mortem; the next run of the test starts afresh
        }
        // A failed test may leave containers running: their shims and processes are ours.
        self.power_off();
        for parent in crate::cgroup_dirs(&self.cgroup_parent) {
            let _ = std::fs::remove_dir(&parent);
        }
        let _ = std::fs::remove_dir_all(&self.root);
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// Pids of live (not zombie) processes whose program path ends in `program` and whose
/// arguments (`argv[0]` first) pass `wanted`.
fn live_processes(program: &[u8], wanted: impl Fn(&[&[u8]]) -> bool) -> Vec<i32> {
    let mut out = Vec::new();
    for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else { continue };
        let stat = std::fs::read_to_string(p.path().join("stat")).unwrap_or_default();
        if stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')) {
            continue;
        }
        let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        if args.first().is_some_and(|a| a.ends_with(program)) && wanted(&args) {
            out.push(pid);
        }
    }
    out
}
