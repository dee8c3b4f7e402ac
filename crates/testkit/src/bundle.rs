//! OCI bundles for tests and the runtime binary that runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

/// The checker binary, built beside the test binaries (`cargo build --workspace`).
pub fn checker_path() -> PathBuf {
    if let Some(p) = std::env::var_os("LINDOCKER_CHECKER") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/<triple>/<profile>/deps/test-HASH -> target/<triple>/<profile>/
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let checker = dir.join("lindocker-checker");
    assert!(checker.exists(), "{} is missing: run `cargo build --workspace --bins` first", checker.display());
    checker
}

/// `lindocker-dnsq` (a DNS client, load generator and upstream server), built beside
/// the test binaries like the checker.
pub fn dnsq_path() -> PathBuf {
    checker_path().with_file_name("lindocker-dnsq")
}

/// A bundle in a temp dir: a busybox rootfs and a config.json the test edits.
pub struct Bundle {
    /// The bundle directory.
    pub dir: PathBuf,
    /// The config, written by [`Bundle::write`].
    pub config: Value,
    /// This bundle's private cgroup parent (absolute cgroup path).
    pub cgroup_parent: String,
}

impl Bundle {
    /// A bundle named `name` whose process runs `args`; no terminal, the default
    /// namespaces, mounts, masked/readonly paths of `lindocker-runtime spec`, and a
    /// cgroupsPath under a parent of its own.
    pub fn new(name: &str, args: &[&str]) -> Bundle {
        let dir = crate::temp_dir(name);
        crate::busybox_rootfs(&dir.join("rootfs"));
        let mut config: Value = serde_json::from_str(DEFAULT).expect("default spec");
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        config["root"]["readonly"] = json!(false);
        let cgroup_parent = format!("/lindocker-test-{}-{name}", std::process::id());
        config["linux"]["cgroupsPath"] = json!(format!("{cgroup_parent}/{name}"));
        let b = Bundle { dir, config, cgroup_parent };
        b.write();
        b
    }

    /// Writes `config` to `config.json`.
    pub fn write(&self) {
        std::fs::write(self.dir.join("config.json"), serde_json::to_vec_pretty(&self.config).unwrap()).unwrap();
    }

    /// Sets the process args and writes the config.
    pub fn set_args(&mut self, args: &[&str]) {
        self.config["process"]["args"] = json!(args);
        self.write();
    }

    /// Binds a new host directory `BUNDLE/NAME` on `dest` inside the container (a place
    /// where container and test see the same files) and returns its host path. The
    /// caller writes the config.
    pub fn share_dir(&mut self, name: &str, dest: &str) -> PathBuf {
        let host = self.dir.join(name);
        std::fs::create_dir_all(&host).unwrap();
        self.config["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": dest, "type": "bind", "source": host, "options": ["rbind"]}));
        host
    }

    /// Gives the container a user namespace whose root is `host_id` outside (65536 ids).
    /// The caller writes the config.
    pub fn user_namespace(&mut self, host_id: u32) {
        let map = json!([{"containerID": 0, "hostID": host_id, "size": 65536}]);
        self.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        self.config["linux"]["uidMappings"] = map.clone();
        self.config["linux"]["gidMappings"] = map;
    }

    /// The rootfs path.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        // A failed test may leave its containers running: kill what is in our own
        // cgroup parent (by pid, processes this test started), then remove it.
        for parent in crate::cgroup_dirs(&self.cgroup_parent) {
            for child in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
                if child.path().is_dir() {
                    let procs = std::fs::read_to_string(child.path().join("cgroup.procs")).unwrap_or_default();
                    for pid in
                        procs.lines().filter_map(|l| l.trim().parse().ok()).filter_map(rustix::process::Pid::from_raw)
                    {
                        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    let _ = std::fs::remove_dir(child.path());
                }
            }
            let _ = std::fs::remove_dir(parent);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The runtime binary with a private `--root`.
pub struct Runtime {
    /// Path of `lindocker-runtime`.
    pub bin: PathBuf,
    /// The `--root` state directory.
    pub root: PathBuf,
}

impl Runtime {
    /// `bin` (or `$LINDOCKER_RUNTIME_BIN`, where the tests run away from the build, as
    /// in the cgroup v2 VM) with a fresh state root named after the test.
    pub fn new(bin: &str, name: &str) -> Runtime {
        let bin = std::env::var_os("LINDOCKER_RUNTIME_BIN").map_or_else(|| bin.into(), PathBuf::from);
        Runtime { bin, root: crate::temp_dir(&format!("{name}-state")) }
    }

    /// A command with `--root` set, ready for more arguments.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).stdin(Stdio::null());
        c
    }

    /// Runs the runtime with `args`, capturing output.
    ///
    /// Output goes through files, not pipes: a created container inherits the runtime's
    /// stdio and keeps it open until it exits, so waiting for a pipe's end would hang.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.cmd();
        cmd.args(args);
        crate::output_via_files(cmd, &self.root)
    }

    /// Runs `args` and insists on success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        crate::stdout_of_success(&self.run(args), &format!("lindocker-runtime {args:?}"))
    }

    /// `run` of the bundle: exit code, stdout and stderr.
    pub fn run_bundle(&self, bundle: &Bundle, id: &str) -> (i32, String, String) {
        let out = self.run(&["run", "--bundle", bundle.dir.to_str().unwrap(), id]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs the bundle (whose process must be the checker) and parses its report.
    pub fn check(&self, bundle: &Bundle, id: &str) -> Value {
        let (code, out, err) = self.run_bundle(bundle, id);
        assert_eq!(code, 0, "checker failed: {err}\n{out}");
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("checker output is not JSON ({e}): {out}\n{err}"))
    }

    /// The OCI state of `id`.
    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).expect("state JSON")
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// `lindocker-runtime spec`'s document, kept in step by a test.
const DEFAULT: &str = include_str!("../../runtime/src/default_spec.json");
