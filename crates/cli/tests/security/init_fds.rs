//! No host descriptor reaches a container (CVE-2024-21626 class).
//!
//! Under a state directory deeper than a socket address holds, the shim reaches a `-t`
//! container's console socket through an `O_PATH` descriptor of that directory. If such
//! a descriptor (or any other of the host's) is still open in the container's init when
//! it changes to the process's cwd or looks up its program, `/proc/self/fd/N` names a
//! host directory: a `WORKDIR` or a program path through it lands on the host.
//! The image picks the cwd and the program, so each is tried for every small N.

use lindocker_testkit::Engine;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// The highest descriptor number tried.
const MAX_FD: u32 = 32;

/// An engine whose state directory is deep enough that `<state>/<id12>.tty` does not fit
/// in a socket address, with a secret file and a script on the host.
fn deep_engine(name: &str) -> (Engine, String) {
    let mut engine = Engine::with_busybox(BIN, name);
    let deep = engine.root.join("s".repeat(60)).join("t".repeat(60));
    std::fs::create_dir_all(&deep).unwrap();
    engine.state = deep;
    let secret = format!("HOSTSECRET-{}", std::process::id());
    std::fs::write(engine.root.join("secret"), format!("{secret}\n")).unwrap();
    std::fs::write(engine.root.join("escape.sh"), "#!/bin/echo ESCAPED-TO-HOST\n").unwrap();
    std::fs::set_permissions(engine.root.join("escape.sh"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    (engine, secret)
}

/// From a host directory anywhere, up to the host's `/`.
fn ups() -> String {
    "../".repeat(40)
}

/// Runs a detached `-t` container with `args`, waits for it, returns its logs.
fn logs_of(engine: &Engine, name: &str, args: &[&str]) -> String {
    let mut full = vec!["run", "-d", "-t", "--name", name];
    full.extend_from_slice(args);
    let out = engine.run(&full);
    if !out.status.success() {
        // The cwd or program does not exist in the container: refused, nothing ran.
        return String::from_utf8_lossy(&out.stderr).into_owned();
    }
    let _ = engine.run(&["wait", name]);
    let logs = engine.run(&["logs", name]);
    let _ = engine.run(&["rm", "-f", name]);
    String::from_utf8_lossy(&logs.stdout).into_owned() + &String::from_utf8_lossy(&logs.stderr)
}

#[test]
fn a_workdir_through_proc_self_fd_stays_inside_the_container() {
    let (engine, secret) = deep_engine("fdcwd");
    let target = format!("{}{}", ups(), engine.root.join("secret").display());
    let script = format!("readlink /proc/self/cwd; cat {target}; echo DONE");
    for n in 3..MAX_FD {
        let cwd = format!("/proc/self/fd/{n}");
        let out = logs_of(&engine, &format!("w{n}"), &["-w", &cwd, "localhost/busybox", "sh", "-c", &script]);
        assert!(!out.contains(&secret), "-w {cwd}: the container read the host's secret:\n{out}");
        assert!(!out.contains(&*engine.root.to_string_lossy()), "-w {cwd}: the cwd is on the host:\n{out}");
    }
    // The same cwd from the image.
    for n in 3..MAX_FD {
        let cwd = format!("/proc/self/fd/{n}");
        let tag = format!("localhost/wd{n}");
        let tar = engine.root.join("wd.tar");
        std::fs::write(&tar, lindocker_testkit::image::busybox_layer(&engine.root)).unwrap();
        engine.ok(&["import", "-c", &format!("WORKDIR {cwd}"), tar.to_str().unwrap(), &tag]);
        let out = logs_of(&engine, &format!("i{n}"), &[&tag, "sh", "-c", &script]);
        assert!(!out.contains(&secret), "WORKDIR {cwd}: the container read the host's secret:\n{out}");
        assert!(!out.contains(&*engine.root.to_string_lossy()), "WORKDIR {cwd}: the cwd is on the host:\n{out}");
    }
}

#[test]
fn a_program_through_proc_self_fd_is_never_the_hosts() {
    let (engine, _) = deep_engine("fdexe");
    for n in 3..MAX_FD {
        let program = format!("/proc/self/fd/{n}/{}{}", ups(), engine.root.join("escape.sh").display());
        let out = logs_of(&engine, &format!("p{n}"), &["localhost/busybox", &program]);
        assert!(!out.contains("ESCAPED-TO-HOST"), "{program}: a host program ran in the container:\n{out}");
    }
}
