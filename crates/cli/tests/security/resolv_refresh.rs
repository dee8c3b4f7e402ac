//! `network connect` and `disconnect` rewrite a running container's /etc/resolv.conf,
//! which the container can write (a bind mount of the engine's file, as in Docker). A
//! container that makes it huge must not make the engine (a long-lived API service, or
//! the CLI) read it all into memory.

use lindocker_testkit::{Engine, FakeHost};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// Runs `engine ARGS` through python, which prints the child's peak RSS (KiB) last.
fn peak_rss_of(engine: &Engine, args: &[&str]) -> (bool, u64) {
    let cmd = engine.cmd();
    let mut wrapped = std::process::Command::new("python3");
    let script = "import resource, subprocess, sys\n\
                  r = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL)\n\
                  print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)";
    wrapped.arg("-c").arg(script).arg(cmd.get_program()).args(cmd.get_args()).args(args);
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            wrapped.env(k, v);
        }
    }
    let out = wrapped.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let last = text.lines().last().unwrap_or_default().to_owned();
    let (code, rss) = last.split_once(' ').unwrap_or_else(|| panic!("{text} {}", String::from_utf8_lossy(&out.stderr)));
    (code == "0", rss.parse().unwrap())
}

#[test]
fn a_huge_resolv_conf_is_not_read_into_the_engine_on_connect() {
    let host = FakeHost::new("resolvbig");
    let engine = Engine::in_host(BIN, "resolvbig", &host);
    engine.ok(&["network", "create", "--subnet", "10.96.0.0/24", "served"]);
    // 256 MiB written into its own resolv.conf by the container.
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "big",
        "localhost/busybox",
        "sh",
        "-c",
        "head -c 268435456 /dev/zero > /etc/resolv.conf && touch /written; sleep 1000",
    ]);
    let mut written = false;
    for _ in 0..200 {
        if engine.run(&["exec", "big", "test", "-f", "/written"]).status.success() {
            written = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(written, "the container did not write its resolv.conf");
    let (ok, rss_kib) = peak_rss_of(&engine, &["network", "connect", "served", "big"]);
    assert!(ok, "network connect failed");
    assert!(rss_kib < 100 * 1024, "network connect peaked at {} MiB", rss_kib / 1024);
    // The file is the engine's again: the server of the network it joined.
    let resolv = engine.ok(&["exec", "big", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 10.96.0.1"), "{resolv}");
    engine.ok(&["rm", "-f", "big"]);
    engine.ok(&["network", "rm", "served"]);
}
