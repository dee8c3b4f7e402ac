//! `-u NAME` reads the container's `/etc/passwd` and `/etc/group` inside its root and
//! fails closed (issue 12, item 9): a passwd that is a symlink to a host file must not
//! be read on the host, a FIFO must not hang the CLI, and an entry whose uid does not
//! parse must not become root.

use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

use lindocker_testkit::{Engine, temp_dir};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// Runs `args` with a deadline; returns (exit code, stdout, stderr), or panics if the
/// command hangs (after killing it, by its pid).
fn run_within(engine: &Engine, args: &[&str], limit: Duration) -> (i32, String, String) {
    let scratch = temp_dir("passwd-run");
    let (out, err) = (scratch.join("out"), scratch.join("err"));
    let mut cmd = engine.cmd();
    cmd.args(args)
        .stdout(Stdio::from(fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(fs::File::create(&err).unwrap()));
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("lindocker {args:?} still hangs after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let result = (status.code().unwrap_or(-1), fs::read_to_string(&out).unwrap(), fs::read_to_string(&err).unwrap());
    fs::remove_dir_all(&scratch).unwrap();
    result
}

#[test]
fn user_lookup_stays_inside_the_container_and_fails_closed() {
    let engine = Engine::with_busybox(BIN, "passwd");
    let host = temp_dir("passwd-host");
    let user = format!("hostonly{}", std::process::id());
    let host_passwd = host.join("passwd");
    fs::write(&host_passwd, format!("{user}:x:4242:4242::/:/bin/sh\n")).unwrap();
    let limit = Duration::from_secs(15);

    engine.ok(&["run", "-d", "--name", "usr", "localhost/busybox", "sleep", "1000"]);
    // /etc/passwd a symlink to a host file that names a user: exec -u that user fails
    // and nothing runs as its uid.
    engine.ok(&["exec", "usr", "ln", "-sf", host_passwd.to_str().unwrap(), "/etc/passwd"]);
    let (code, out, err) = run_within(&engine, &["exec", "-u", &user, "usr", "id", "-u"], limit);
    assert_eq!((code, out.as_str()), (126, ""), "exec -u ran as the host file's user: {err}");
    assert!(err.contains(&format!("unable to find user {user}: no matching entries in passwd file")), "{err}");
    // The same image config through `run -u`: commit the container and run its image.
    engine.ok(&["commit", "usr", "localhost/symlinked-passwd"]);
    let (code, out, err) =
        run_within(&engine, &["run", "--rm", "-u", &user, "localhost/symlinked-passwd", "id", "-u"], limit);
    assert_eq!((code, out.as_str()), (125, ""), "run -u ran as the host file's user: {err}");
    assert!(err.contains("unable to find user"), "{err}");

    // An entry whose uid does not parse: an error, not root.
    engine.ok(&["exec", "usr", "sh", "-c", "rm /etc/passwd && echo 'bad:x:notanumber:0::/:/bin/sh' > /etc/passwd"]);
    let (code, out, err) = run_within(&engine, &["exec", "-u", "bad", "usr", "id", "-u"], limit);
    assert_eq!((code, out.as_str()), (126, ""), "exec -u bad ran: {err}");
    assert!(err.contains("invalid uid \"notanumber\""), "{err}");
    // Same in /etc/group.
    engine.ok(&["exec", "usr", "sh", "-c", "echo 'g:x:nogid:' >> /etc/group"]);
    let (code, out, err) = run_within(&engine, &["exec", "-u", "0:g", "usr", "id", "-g"], limit);
    assert_eq!((code, out.as_str()), (126, ""), "exec -u 0:g ran: {err}");
    assert!(err.contains("invalid gid \"nogid\""), "{err}");

    // A FIFO: an error at once, not a CLI that waits for a writer forever.
    engine.ok(&["exec", "usr", "sh", "-c", "rm /etc/passwd && mkfifo /etc/passwd"]);
    let started = Instant::now();
    let (code, out, err) = run_within(&engine, &["exec", "-u", "someone", "usr", "id", "-u"], limit);
    assert_eq!((code, out.as_str()), (126, ""), "{err}");
    assert!(err.contains("/etc/passwd") && err.contains("not a regular file"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));

    engine.ok(&["rm", "-f", "usr"]);
    engine.ok(&["rmi", "localhost/symlinked-passwd"]);
    fs::remove_dir_all(&host).unwrap();
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `exec -u` reads the running container's own `/etc`, with what is mounted over it.
#[test]
fn exec_user_comes_from_the_containers_view() {
    let engine = Engine::with_busybox(BIN, "passwd-view");
    engine.ok(&["run", "-d", "--name", "view", "-v", "etcvol:/etc", "localhost/busybox", "sleep", "1000"]);
    engine.ok(&["exec", "view", "sh", "-c", "echo 'voluser:x:777:777::/:/bin/sh' >> /etc/passwd"]);
    assert_eq!(engine.ok(&["exec", "-u", "voluser", "view", "id", "-u"]), "777\n");
    engine.ok(&["rm", "-f", "-v", "view"]);
    engine.ok(&["volume", "rm", "etcvol"]);
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}
