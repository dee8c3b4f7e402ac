//! Docker parity: the README's examples work as written.
//!
//! The shell blocks of README.md's "Use" section are read at test time and run, command by
//! command (`;` separates commands, `cd DIR && ...` moves to DIR), with the binaries of
//! this build (or `$LINDOCKER_BIN`'s directory) first in PATH, in a fake host of their own, under a data root and state
//! directory at least as long as the defaults. Substituted, and only these:
//! `registry.example:5000` becomes a registry on the fake host's loopback (holding
//! `team/app:1`), `IMAGE` that image, and `lindocker-runtime` gets `--root` in a temp
//! dir (a wrapper first in PATH). `exec -it` runs under a pty, `logs -f` must still be
//! following after a while.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use lindocker_testkit::image;

use crate::tty_cp::{DeepEngine, under_pty};

/// The ```sh blocks of the README's "Use" section, each a list of lines.
fn use_blocks(readme: &str) -> Vec<Vec<String>> {
    let section = readme.split("\n## Use\n").nth(1).expect("README has a '## Use' section");
    let section = section.split("\n## ").next().unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in section.lines() {
        match (&mut current, line.trim()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(block), _) => block.push(line.to_owned()),
            (None, _) => {}
        }
    }
    blocks
}

/// A line split into its commands: `;` separates them, a trailing `# comment` goes.
fn commands(line: &str) -> Vec<String> {
    let line = match line.find("  #") {
        Some(i) => &line[..i],
        None => line,
    };
    line.split(" ; ").map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect()
}

/// A registry (Debian's `docker-registry`) listening on the fake host's loopback.
struct HostRegistry {
    child: std::process::Child,
    addr: String,
}

impl HostRegistry {
    fn start(netns: &Path, dir: &Path) -> HostRegistry {
        let port = 5000;
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        std::fs::write(dir.join("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new("nsenter")
            .arg(format!("--net={}", netns.display()))
            .args(["--", "docker-registry", "serve"])
            .arg(dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let up = Command::new("nsenter")
                .arg(format!("--net={}", netns.display()))
                .args(["--", "ss", "-Hltn", &format!("sport = :{port}")])
                .output()
                .is_ok_and(|o| !o.stdout.is_empty());
            if up {
                break;
            }
            assert!(Instant::now() < deadline, "the registry did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        HostRegistry { child, addr }
    }
}

impl Drop for HostRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Deletes the runtime's example containers however the test ends.
struct RuntimeCleanup {
    bin: PathBuf,
    root: PathBuf,
}

impl Drop for RuntimeCleanup {
    fn drop(&mut self) {
        for id in ["demo", "c1"] {
            let _ = Command::new(&self.bin).arg("--root").arg(&self.root).args(["delete", "--force", id]).output();
        }
    }
}

/// Where commands run and what they see.
struct Shell<'a> {
    engine: &'a DeepEngine,
    path: String,
    cwd: PathBuf,
    runtime_root: PathBuf,
}

impl Shell<'_> {
    /// `sh -c CMD` in the fake host, in the current directory (a single command exec'd,
    /// so that a timeout reaches it).
    fn command(&self, cmd: &str) -> Command {
        let script = if cmd.contains("&&") { cmd.to_owned() } else { format!("exec {cmd}") };
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.engine.netns.as_ref().unwrap().display()))
            .args(["--", "sh", "-c", &script])
            .current_dir(&self.cwd)
            .env("PATH", &self.path)
            .env("LINDOCKER_ROOT", &self.engine.root)
            .env("LINDOCKER_STATE", &self.engine.state)
            .env("LINDOCKER_CGROUP_PARENT", &self.engine.cgroup_parent)
            .env("LINDOCKER_CONFIG", self.engine.root.join("config"))
            .env("README_RUNTIME_ROOT", &self.runtime_root)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, cmd: &str) -> Output {
        lindocker_testkit::output_via_files(self.command(cmd), &self.cwd.join(".readme-out"))
    }

    /// Runs one README command and checks it did what the README says.
    fn check(&mut self, cmd: &str) -> String {
        if let Some(rest) = cmd.strip_prefix("cd ") {
            let (dir, then) = rest.split_once(" && ").unwrap_or((rest, ""));
            self.cwd = self.cwd.join(dir.trim());
            return if then.is_empty() { String::new() } else { self.check(then) };
        }
        if cmd.contains(" exec -it ") {
            let (status, out) = under_pty(
                self.command(cmd),
                Some((b"echo README-$((6*7)); exit\r", Duration::from_millis(1500))),
                Duration::from_secs(60),
            );
            assert_eq!(status.and_then(|s| s.code()), Some(0), "{cmd}:\n{out}");
            assert!(out.contains("README-42"), "{cmd}: the shell did not answer:\n{out}");
            return out;
        }
        if cmd.contains(" logs -f ") {
            let files = self.cwd.join(".readme-logs");
            let mut child =
                self.command(cmd).stdout(std::fs::File::create(&files).unwrap()).stderr(Stdio::null()).spawn().unwrap();
            std::thread::sleep(Duration::from_secs(2));
            let still = child.try_wait().unwrap();
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(&files);
            assert!(still.is_none(), "{cmd}: stopped following ({still:?})");
            return String::new();
        }
        let out = self.run(cmd);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "README command `{cmd}` failed ({}):\nstdout: {stdout}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

#[test]
fn the_readme_examples_work_as_written() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    let readme = readme.replace("\r\n", "\n");
    let blocks = use_blocks(&readme);
    assert_eq!(blocks.len(), 2, "the Use section has the engine's and the runtime's examples: {blocks:?}");

    // The runtime's examples run without a cgroupsPath: their cgroups go under the
    // runtime's default parent, which this test removes again if it made it.
    let default_parent = Path::new("/sys/fs/cgroup/pids/lindocker");
    let had_default_parent = default_parent.exists();
    let engine = DeepEngine::new("readme");
    let work = lindocker_testkit::temp_dir("readme-work");
    // The image the README pulls, in a registry on the fake host.
    let registry_dir = lindocker_testkit::temp_dir("readme-registry");
    let registry = HostRegistry::start(engine.netns.as_ref().unwrap(), &registry_dir);
    let layout = registry_dir.join("layout");
    std::fs::create_dir_all(&layout).unwrap();
    let layer = image::busybox_layer(&registry_dir);
    let desc = image::image(&layout, &[(layer.clone(), layer)], serde_json::json!({ "Cmd": ["sh"] }), "amd64");
    image::finish_layout(&layout, "1", vec![desc]);
    let pushed = Command::new("nsenter")
        .arg(format!("--net={}", engine.netns.as_ref().unwrap().display()))
        .args(["--", "skopeo", "copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:1", layout.display()))
        .arg(format!("docker://{}/team/app:1", registry.addr))
        .output()
        .expect("skopeo");
    assert!(pushed.status.success(), "skopeo: {}", String::from_utf8_lossy(&pushed.stderr));
    let pulled = format!("{}/team/app:1", registry.addr);

    // `lindocker-runtime` with its own --root, the binaries of this build first in PATH.
    let bin_dir = engine.bin.parent().unwrap();
    let wrappers = work.join("wrappers");
    std::fs::create_dir(&wrappers).unwrap();
    let runtime = wrappers.join("lindocker-runtime");
    std::fs::write(
        &runtime,
        format!(
            "#!/bin/sh\nexec {} --root \"$README_RUNTIME_ROOT\" \"$@\"\n",
            bin_dir.join("lindocker-runtime").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}:{}", wrappers.display(), bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let runtime_root = work.join("runtime-root");
    std::fs::create_dir(&runtime_root).unwrap();
    let _runtime_cleanup = RuntimeCleanup { bin: bin_dir.join("lindocker-runtime"), root: runtime_root.clone() };

    // The engine's examples.
    let engine_dir = work.join("engine");
    std::fs::create_dir(&engine_dir).unwrap();
    let mut shell =
        Shell { engine: &engine, path: path.clone(), cwd: engine_dir.clone(), runtime_root: runtime_root.clone() };
    let mut seen = Vec::new();
    for line in &blocks[0] {
        let line = line.replace("registry.example:5000", &registry.addr).replace(" IMAGE", &format!(" {pulled}"));
        for cmd in commands(&line) {
            let out = shell.check(&cmd);
            seen.push((cmd, out));
        }
    }
    let said = |prefix: &str| {
        seen.iter()
            .find(|(c, _)| c.starts_with(prefix))
            .map(|(_, o)| o.clone())
            .unwrap_or_else(|| panic!("the README no longer runs `{prefix}`"))
    };
    assert_eq!(said("lindocker run --rm localhost/busybox echo hello"), "hello\n");
    assert!(said("lindocker ps").contains("web"), "ps lists web");
    assert!(said("lindocker images").contains("team/app"), "images lists the pulled image");
    let saved = engine_dir.join("a.tar");
    assert!(std::fs::metadata(&saved).is_ok_and(|m| m.len() > 0), "save -o a.tar wrote nothing");

    // The runtime's examples.
    let runtime_dir = work.join("runtime");
    std::fs::create_dir(&runtime_dir).unwrap();
    let mut shell = Shell { engine: &engine, path, cwd: runtime_dir.clone(), runtime_root: runtime_root.clone() };
    let mut seen = Vec::new();
    for line in &blocks[1] {
        for cmd in commands(line) {
            let out = shell.check(&cmd);
            seen.push((cmd, out));
        }
    }
    let state = seen.iter().find(|(c, _)| c.contains("lindocker-runtime state c1")).expect("state c1").1.clone();
    let state: serde_json::Value = serde_json::from_str(&state).expect("state prints JSON");
    assert_eq!((&state["id"], &state["status"]), (&serde_json::json!("c1"), &serde_json::json!("running")));
    assert!(seen.iter().any(|(c, o)| c.contains("lindocker-runtime list") && o.contains("c1")), "list shows c1");
    // Nothing left: the runtime's containers deleted, the engine's stopped.
    for id in ["demo", "c1"] {
        assert!(!runtime_root.join(id).exists(), "runtime container {id} left behind");
    }

    let _ = engine.run(&["rm", "-f", "web"]);
    let _ = engine.run(&["network", "rm", "app"]);
    drop(registry);
    std::fs::remove_dir_all(&registry_dir).unwrap();
    std::fs::remove_dir_all(&work).unwrap();
    if !had_default_parent {
        for controller in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let _ = std::fs::remove_dir(controller.path().join("lindocker"));
        }
        let _ = std::fs::remove_dir("/sys/fs/cgroup/unified/lindocker");
    }
    assert_eq!(engine.leftovers(), Vec::<String>::new());
}
