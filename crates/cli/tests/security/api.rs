//! The API service's own descriptors: the listening sockets systemd passes (from
//! descriptor 3, not close-on-exec) must not reach the shims the service starts, nor
//! their containers; the socket file itself.

use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use lindocker_testkit::Engine;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// The socket inodes `pid` holds open (`socket:[N]` links in /proc/PID/fd).
fn socket_inodes(pid: i32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|l| l.display().to_string())
        .filter(|l| l.starts_with("socket:"))
        .collect()
}

#[test]
fn a_socket_activated_service_after_a_reboot_leaks_its_listener_to_no_shim() {
    let engine = Engine::with_busybox(BIN, "sec_api_sd_fd");
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        "--network",
        "none",
        "localhost/busybox",
        "sleep",
        "1000",
    ]);
    engine.reboot();
    // systemd's hand-over: the listening socket as descriptor 3 (inherited, so not
    // close-on-exec), LISTEN_PID naming the service (a shell sets its own pid, then execs).
    let dir = engine.root.with_extension("sd");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let inode = std::fs::metadata(format!("/proc/self/fd/{}", listener.as_raw_fd())).unwrap().ino();
    // A second socket systemd passed (LISTEN_FDS=2), which the service does not serve.
    let second = std::os::unix::net::UnixListener::bind(dir.join("second.sock")).unwrap();
    let second_inode = std::fs::metadata(format!("/proc/self/fd/{}", second.as_raw_fd())).unwrap().ino();
    let wanted = [format!("socket:[{inode}]"), format!("socket:[{second_inode}]")];
    let cmd = engine.cmd();
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg(format!(
            "exec 3<&{} 4<&{}; export LISTEN_PID=$$ LISTEN_FDS=2; exec \"$0\" \"$@\"",
            listener.as_raw_fd(),
            second.as_raw_fd()
        ))
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .args(["system", "service", "--time", "1"]);
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    rustix::io::fcntl_setfd(&listener, rustix::io::FdFlags::empty()).unwrap();
    rustix::io::fcntl_setfd(&second, rustix::io::FdFlags::empty()).unwrap();
    let mut child = std::os::unix::process::CommandExt::process_group(&mut sh, 0).spawn().unwrap();
    drop((listener, second));
    // The service restarts `always` after the "reboot", then serves.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        use std::io::{Read, Write};
        let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
        s.write_all(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        if s.read_to_string(&mut out).is_ok() && out.contains("OK") {
            break;
        }
        assert!(Instant::now() < deadline, "no answer on the passed socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    let shims = engine.shims();
    assert_eq!(shims.len(), 1, "the `always` container is restarted by the service");
    for shim in &shims {
        let held = socket_inodes(*shim);
        assert!(
            !held.iter().any(|h| wanted.contains(h)),
            "shim {shim} holds a socket systemd passed {wanted:?}: {held:?}"
        );
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    engine.ok(&["rm", "-f", "always"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every process below `pids` (their descendants included).
fn with_descendants(pids: &[i32]) -> Vec<i32> {
    let mut all: Vec<i32> = pids.to_vec();
    loop {
        let mut added = false;
        for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else { continue };
            let stat = std::fs::read_to_string(p.path().join("stat")).unwrap_or_default();
            let ppid = stat.rsplit_once(") ").and_then(|(_, rest)| rest.split(' ').nth(1)?.parse::<i32>().ok());
            if ppid.is_some_and(|pp| all.contains(&pp)) && !all.contains(&pid) {
                all.push(pid);
                added = true;
            }
        }
        if !added {
            return all;
        }
    }
}

#[test]
fn no_descriptor_of_the_service_reaches_a_shim_a_container_or_an_exec() {
    use std::io::{Read, Write};
    let engine = Engine::with_busybox(BIN, "sec_api_fds");
    let mut api = lindocker_testkit::Api::start(&engine);
    let service = api.child().id() as i32;
    // Clients connected while the container starts and execs run.
    let mut idle = api.connect();
    idle.write_all(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n").unwrap();
    let made = api.request(
        "POST",
        "/containers/create?name=box",
        br#"{"Image":"localhost/busybox","Cmd":["sleep","1000"],"OpenStdin":true}"#,
    );
    assert_eq!(made.status, 201, "{made:?}");
    let mut attached = api.connect();
    attached
        .write_all(b"POST /containers/box/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: d\r\nUpgrade: tcp\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 512];
    let n = attached.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 101"), "{}", String::from_utf8_lossy(&buf[..n]));
    assert_eq!(api.request("POST", "/containers/box/start", b"").status, 204);
    for detach in [true, false] {
        let made = api.request("POST", "/containers/box/exec", br#"{"Cmd":["sleep","1000"],"AttachStdout":true}"#);
        assert_eq!(made.status, 201, "{made:?}");
        let id = made.json()["Id"].as_str().unwrap().to_owned();
        let mut s = api.connect();
        let body = format!(r#"{{"Detach":{detach}}}"#);
        let head = format!(
            "POST /exec/{id}/start HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        let n = s.read(&mut buf).unwrap();
        assert!(
            String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
        std::mem::forget(s);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let ours = socket_inodes(service);
    assert!(!ours.is_empty());
    let shims = engine.shims();
    assert_eq!(shims.len(), 1);
    let mut others = with_descendants(&shims);
    // The execs run the runtime as the service's children.
    others.extend(with_descendants(&[service]).into_iter().filter(|p| *p != service));
    assert!(others.len() >= 4, "shim, container, execs: {others:?}");
    for pid in others {
        let held = socket_inodes(pid);
        let shared: Vec<_> = held.iter().filter(|s| ours.contains(s)).collect();
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default().replace('\0', " ");
        assert!(shared.is_empty(), "{pid} ({cmdline}) holds the service's sockets {shared:?}");
    }
    drop((idle, attached));
    engine.ok(&["rm", "-f", "box"]);
}

#[test]
fn the_socket_is_never_open_to_others_not_even_before_its_chmod() {
    use std::os::unix::fs::PermissionsExt;
    // strace delays every chmod by a second: the moment between the socket's bind and
    // its chmod to 0660, a race otherwise, is wide open. Under umask 0 a socket bound
    // as is would be 0777 then: anyone on the host could connect (and be root).
    let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("strace").is_file()));
    assert!(found, "strace is not on PATH (install strace)");
    let engine = Engine::new(BIN, "sec_api_sock_mode");
    let dir = engine.root.with_extension("sock");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("docker.sock");
    let cmd = engine.cmd();
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg("umask 0; exec strace -f -qq -o /dev/null -e trace=chmod,fchmodat -e inject=chmod,fchmodat:delay_enter=1000000 \"$0\" \"$@\"")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .args(["system", "service", "--time", "0"])
        .arg(format!("unix://{}", path.display()));
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    let mut child = std::os::unix::process::CommandExt::process_group(&mut sh, 0).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            break meta.permissions().mode() & 0o777;
        }
        assert!(Instant::now() < deadline, "no socket after 60 s");
        assert!(child.try_wait().unwrap().is_none(), "the service ended");
        std::thread::sleep(Duration::from_millis(1));
    };
    rustix::process::kill_process_group(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(first & 0o007, 0, "the socket was {first:o} when it appeared");
}

#[test]
fn what_is_already_at_the_socket_path_is_neither_followed_nor_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let engine = Engine::new(BIN, "sec_api_sock_path");
    let dir = engine.root.with_extension("sockpath");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("precious");
    std::fs::write(&target, "keep").unwrap();
    let serve = |path: &std::path::Path| {
        let mut cmd = engine.cmd();
        cmd.args(["system", "service", "--time", "1"]).arg(format!("unix://{}", path.display()));
        cmd.output().unwrap()
    };
    // A symlink (to a file, to nothing), a file, a directory: refused, left as they are.
    std::os::unix::fs::symlink(&target, dir.join("link.sock")).unwrap();
    std::os::unix::fs::symlink(dir.join("nothing"), dir.join("dangling.sock")).unwrap();
    std::fs::write(dir.join("file.sock"), "data").unwrap();
    std::fs::create_dir(dir.join("dir.sock")).unwrap();
    for name in ["link.sock", "dangling.sock", "file.sock", "dir.sock"] {
        let out = serve(&dir.join(name));
        assert_eq!(out.status.code(), Some(125), "{name}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a socket"), "{name}: {out:?}");
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    assert!(std::fs::symlink_metadata(dir.join("link.sock")).unwrap().file_type().is_symlink());
    assert!(!dir.join("nothing").exists(), "the dangling link's target was not made");
    assert_eq!(std::fs::read_to_string(dir.join("file.sock")).unwrap(), "data");
    // A missing parent is made, not writable by others; the socket is 0660.
    let nested = dir.join("made/deeper/docker.sock");
    let mut cmd = engine.cmd();
    cmd.args(["system", "service", "--time", "1"]).arg(format!("unix://{}", nested.display()));
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !nested.exists() {
        assert!(Instant::now() < deadline, "no socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let parent_mode = std::fs::metadata(dir.join("made/deeper")).unwrap().permissions().mode() & 0o777;
    assert_eq!(parent_mode & 0o022, 0, "parent {parent_mode:o}");
    assert_eq!(std::fs::metadata(&nested).unwrap().permissions().mode() & 0o777, 0o660);
    assert!(child.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(&dir);
}
