//! `lindocker build` (issue 15): Dockerfiles built from `localhost/busybox`, offline, as a
//! Docker user builds them; what the user sees (the progress log, the exit code, what the
//! built image does when run, `history`) and what is left on the host.

mod build {
    pub mod errors;
    pub mod interop;
    pub mod main_flow;
    pub mod options;
}

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use lindocker_testkit::Engine;

pub const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// A context directory with `files` (path, content) under the engine's temp root.
pub fn context(engine: &Engine, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = engine
        .root
        .parent()
        .unwrap()
        .join(format!("{}-ctx-{name}", engine.root.file_name().unwrap().to_string_lossy()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (path, content) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

/// Runs `lindocker args` with `input` on stdin.
pub fn with_stdin(engine: &Engine, args: &[&str], input: &[u8]) -> Output {
    let mut cmd = engine.cmd();
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// `lindocker build --progress plain ARGS`: its stderr (the log), insisting on success.
pub fn build_ok(engine: &Engine, args: &[&str]) -> String {
    let mut all = vec!["build", "--progress", "plain"];
    all.extend_from_slice(args);
    let out = engine.run(&all);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "lindocker {all:?} failed:\n{log}");
    log
}

/// The steps of a plain log: (name, cached) for each `[...] INSTRUCTION` vertex.
pub fn steps(log: &str) -> Vec<(String, bool)> {
    let mut names: Vec<(usize, String)> = Vec::new();
    let mut cached = std::collections::HashSet::new();
    for line in log.lines() {
        let Some(rest) = line.strip_prefix('#') else { continue };
        let Some((n, text)) = rest.split_once(' ') else { continue };
        let Ok(n) = n.parse::<usize>() else { continue };
        if text == "CACHED" {
            cached.insert(n);
        } else if text.starts_with('[') && !text.starts_with("[internal]") && !names.iter().any(|(m, _)| *m == n) {
            names.push((n, text.to_owned()));
        }
    }
    names.into_iter().map(|(n, name)| (name, cached.contains(&n))).collect()
}

/// Asserts that nothing of a build's containers is left: no record, mount, cgroup,
/// shim, socket, network namespace, scratch directory.
pub fn nothing_left(engine: &Engine) {
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_eq!(engine.ok(&["ps", "-aq"]).trim(), "", "a build container is left");
    let netns: Vec<_> = std::fs::read_dir(engine.state.join("netns")).into_iter().flatten().flatten().collect();
    assert!(netns.is_empty(), "network namespaces left: {netns:?}");
    let tmp: Vec<_> = std::fs::read_dir(engine.root.join("image/tmp")).into_iter().flatten().flatten().collect();
    assert!(tmp.is_empty(), "scratch left: {tmp:?}");
    let containers: Vec<_> = std::fs::read_dir(engine.root.join("containers"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().len() == 64)
        .collect();
    assert!(containers.is_empty(), "container directories left: {containers:?}");
}

/// Path helper for contexts.
pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}
