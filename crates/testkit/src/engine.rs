//! The `lindocker` binary with a private data root and credentials file.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `lindocker` with its own `--root` (and `LINDOCKER_CONFIG`), removed when dropped.
pub struct Engine {
    /// Path of `lindocker`.
    pub bin: PathBuf,
    /// The data root.
    pub root: PathBuf,
}

impl Engine {
    /// `bin` (or `$LINDOCKER_BIN`) with a fresh data root named after the test.
    pub fn new(bin: &str, name: &str) -> Engine {
        let bin = std::env::var_os("LINDOCKER_BIN").map_or_else(|| bin.into(), PathBuf::from);
        Engine { bin, root: crate::temp_dir(&format!("{name}-engine")) }
    }

    /// A command with the root and config set, ready for more arguments.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).env("LINDOCKER_CONFIG", self.root.join("config")).stdin(Stdio::null());
        c
    }

    /// Runs `lindocker args`, capturing output (through files: a container may inherit
    /// and hold them).
    pub fn run(&self, args: &[&str]) -> Output {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let out_path = self.root.with_extension(format!("out{n}"));
        let err_path = self.root.with_extension(format!("err{n}"));
        let out = std::fs::File::create(&out_path).unwrap();
        let err = std::fs::File::create(&err_path).unwrap();
        let status = self.cmd().args(args).stdout(out).stderr(err).status().expect("run lindocker");
        let output =
            Output { status, stdout: std::fs::read(&out_path).unwrap(), stderr: std::fs::read(&err_path).unwrap() };
        let _ = std::fs::remove_file(out_path);
        let _ = std::fs::remove_file(err_path);
        output
    }

    /// Runs `args` and insists on success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "lindocker {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
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

impl Drop for Engine {
    fn drop(&mut self) {
        // Overlay mounts under the root would make removal fail; unmount them first.
        if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
            let root = self.root.display().to_string();
            let mut points: Vec<&str> =
                info.lines().filter_map(|l| l.split(' ').nth(4)).filter(|p| p.starts_with(&root)).collect();
            points.sort_by_key(|p| std::cmp::Reverse(p.len()));
            for point in points {
                let _ = rustix::mount::unmount(point, rustix::mount::UnmountFlags::DETACH);
            }
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
