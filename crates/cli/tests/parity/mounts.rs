//! Docker parity: mounts (`--mount`, relative `-v`, `--volumes-from`), devices
//! (`--device`, `--device-cgroup-rule`), `--shm-size`, `--sysctl`, `--group-add` and
//! `--cidfile`, each checked from inside the container or on the host's kernel.

use std::fs;
use std::path::Path;

use lindocker_testkit::{Engine, output_via_files, temp_dir};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");
const BUSYBOX: &str = "localhost/busybox";

fn inspect(engine: &Engine, name: &str) -> Value {
    let out: Value = serde_json::from_str(&engine.ok(&["inspect", name])).unwrap();
    out[0].clone()
}

/// `lindocker args` run from the directory `cwd`.
fn run_in(engine: &Engine, cwd: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = engine.cmd();
    cmd.current_dir(cwd).args(args);
    output_via_files(cmd, &engine.root)
}

fn clean(engine: &Engine) {
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The line of the container's /proc/mounts for `target`.
fn mount_line(engine: &Engine, args: &[&str], target: &str) -> String {
    let mut all = vec!["run", "--rm"];
    all.extend_from_slice(args);
    all.extend_from_slice(&[BUSYBOX, "grep", target, "/proc/mounts"]);
    engine.ok(&all)
}

/// A tmpfs mounted at a host path for the life of the value.
struct Submount(std::path::PathBuf);

impl Submount {
    fn new(at: &Path) -> Submount {
        let ok = std::process::Command::new("mount").args(["-t", "tmpfs", "tmpfs"]).arg(at).status().unwrap();
        assert!(ok.success());
        Submount(at.to_owned())
    }
}

impl Drop for Submount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn mount_flag_binds_volumes_and_tmpfs_as_docker() {
    let engine = Engine::with_busybox(BIN, "pmount");
    let host = temp_dir("pmount-host");
    fs::write(host.join("f"), "from host\n").unwrap();
    // A source with a comma needs CSV quoting, as with Docker.
    let comma = host.join("a,b");
    fs::create_dir(&comma).unwrap();
    fs::write(comma.join("g"), "quoted\n").unwrap();
    let src = host.to_str().unwrap();

    // bind, read-only: readable, not writable.
    let bind = format!("type=bind,source={src},target=/b,readonly");
    let out = engine.run(&["run", "--rm", "--mount", &bind, BUSYBOX, "sh", "-c", "cat /b/f; touch /b/x"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from host\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"), "{out:?}");
    assert!(!host.join("x").exists());
    // src/dst spellings, ro=false, consistency accepted and ignored; writes reach the host.
    let bind = format!("type=bind,src={src},dst=/b,ro=false,consistency=delegated,bind-propagation=rprivate");
    engine.ok(&["run", "--rm", "--mount", &bind, BUSYBOX, "touch", "/b/written"]);
    assert!(host.join("written").exists());
    let quoted = format!("type=bind,\"source={}\",destination=/c", comma.display());
    assert_eq!(engine.ok(&["run", "--rm", "--mount", &quoted, BUSYBOX, "cat", "/c/g"]), "quoted\n");

    // Recursive by default: a mount under the source comes along, not with
    // bind-recursive=disabled (or the older bind-nonrecursive).
    {
        let sub = host.join("sub");
        fs::create_dir(&sub).unwrap();
        let _mounted = Submount::new(&sub);
        fs::write(sub.join("inner"), "submount\n").unwrap();
        let rec = format!("type=bind,src={src},dst=/b");
        assert_eq!(engine.ok(&["run", "--rm", "--mount", &rec, BUSYBOX, "cat", "/b/sub/inner"]), "submount\n");
        for flat in [format!("{rec},bind-recursive=disabled"), format!("{rec},bind-nonrecursive")] {
            let out = engine.run(&["run", "--rm", "--mount", &flat, BUSYBOX, "ls", "-A", "/b/sub"]);
            assert!(out.status.success() && out.stdout.is_empty(), "{flat}: {out:?}");
        }
    }
    fs::remove_dir(host.join("sub")).unwrap();

    // bind-propagation: the container's mount is private by default; rshared needs a
    // shared source mount (Docker refuses it otherwise).
    let info = |p: &str| {
        let bind = format!("type=bind,src={src},dst=/b,bind-propagation={p}");
        engine.run(&["run", "--rm", "--mount", &bind, BUSYBOX, "grep", " /b ", "/proc/self/mountinfo"])
    };
    let private = String::from_utf8_lossy(&info("rprivate").stdout).into_owned();
    assert!(private.contains(" /b ") && !private.contains("shared:") && !private.contains("master:"), "{private}");
    let ours = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let source_mount = ours
        .lines()
        .filter(|l| host.starts_with(l.split(' ').nth(4).unwrap()))
        .max_by_key(|l| l.split(' ').nth(4).unwrap().len())
        .unwrap()
        .to_owned();
    let shared = info("rshared");
    if source_mount.contains(" shared:") {
        assert!(String::from_utf8_lossy(&shared.stdout).contains("shared:"), "{shared:?}");
    } else {
        assert_eq!(shared.status.code(), Some(125), "{shared:?}");
        assert!(String::from_utf8_lossy(&shared.stderr).contains("but it is not a shared mount"), "{shared:?}");
    }

    // volume (the default type): filled by one container, read-only in the next.
    engine.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=pvol,target=/v",
        BUSYBOX,
        "sh",
        "-c",
        "echo kept > /v/k",
    ]);
    let out =
        engine.run(&["run", "--rm", "--mount", "src=pvol,dst=/v,ro", BUSYBOX, "sh", "-c", "cat /v/k; touch /v/y"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "kept\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"), "{out:?}");
    engine.ok(&["run", "--rm", "--mount", "src=plabel,dst=/v,volume-label=team=web", BUSYBOX, "true"]);
    let labels: Value = serde_json::from_str(&engine.ok(&["volume", "inspect", "plabel"])).unwrap();
    assert_eq!(labels[0]["Labels"]["team"], "web", "{labels}");
    // volume-opt: the local driver's bind and tmpfs volumes (quoted: `o` has commas).
    let opts = format!("src=pbindvol,dst=/v,volume-opt=type=none,volume-opt=o=bind,volume-opt=device={src}");
    assert_eq!(engine.ok(&["run", "--rm", "--mount", &opts, BUSYBOX, "cat", "/v/f"]), "from host\n");
    let shown: Value = serde_json::from_str(&engine.ok(&["volume", "inspect", "pbindvol"])).unwrap();
    assert_eq!(shown[0]["Options"]["device"], src, "{shown}");
    let opts = "src=ptmpvol,dst=/v,volume-opt=type=tmpfs,volume-opt=device=tmpfs,\"volume-opt=o=size=1m,mode=700\"";
    let line = mount_line(&engine, &["--mount", opts], " /v ");
    assert!(line.contains("tmpfs /v tmpfs") && line.contains("size=1024k") && line.contains("mode=700"), "{line}");
    for opts in ["src=pbad,dst=/v,volume-opt=type=nfs,volume-opt=device=:/x", "src=pbad,dst=/v,volume-opt=foo=bar"] {
        let err = engine.fails(&["run", "--rm", "--mount", opts, BUSYBOX, "true"], 125);
        assert!(err.contains("volume-opt"), "{err}");
    }
    // volume-nocopy: a new volume over a directory of the image stays empty.
    let ls = engine.ok(&[
        "run",
        "--rm",
        "--mount",
        "source=pnocopy,target=/etc,volume-nocopy",
        BUSYBOX,
        "/bin/ls",
        "-A",
        "/etc",
    ]);
    assert_eq!(ls, "", "volume-nocopy copied the image's /etc");
    let ls = engine.ok(&["run", "--rm", "--mount", "source=pcopy,target=/etc", BUSYBOX, "/bin/ls", "/etc"]);
    assert!(ls.contains("passwd"), "{ls}");

    // tmpfs with size and mode.
    let line = mount_line(&engine, &["--mount", "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=0700"], " /t ");
    assert!(line.contains("tmpfs /t tmpfs") && line.contains("size=1024k") && line.contains("mode=700"), "{line}");

    // Errors as Docker's, exit 125, nothing made.
    let before = engine.ok(&["ps", "-aq"]);
    for (mount, message) in [
        ("type=bind,src=/no/such/dir,dst=/b", "bind source path does not exist: /no/such/dir"),
        ("type=bind,source=/tmp", "target is required"),
        ("type=volume,target=/v,tmpfs-size=1m", "cannot mix 'tmpfs-*' options with mount type 'volume'"),
        ("type=tmpfs,target=/t,bind-propagation=shared", "cannot mix 'bind-*' options with mount type 'tmpfs'"),
        ("type=bind,src=/tmp,dst=/b,volume-nocopy", "cannot mix 'volume-*' options with mount type 'bind'"),
        ("type=tmpfs,src=/tmp,dst=/t", "Source must not be specified"),
        ("type=bind,src=/tmp,dst=/b,bogus=1", "unexpected key 'bogus' in 'bogus=1'"),
        ("type=bind,src=/tmp,dst=/b,nonsense", "invalid field 'nonsense' must be a key=value pair"),
        ("type=bind,src=/tmp,dst=/b,bind-propagation=sideways", "invalid propagation mode: sideways"),
        ("type=bind,src=/tmp,dst=/b,ro=maybe", "invalid value for ro: maybe"),
        ("type=tmpfs,dst=/t,tmpfs-mode=999", "invalid value for tmpfs-mode: 999"),
        ("type=tmpfs,dst=/t,tmpfs-size=lots", "invalid value for tmpfs-size: lots"),
        ("type=floppy,dst=/t", "mount type"),
        ("type=bind,src=/tmp,dst=relative", "must be absolute"),
        ("type=bind,src=/tmp,dst=/x/../../etc", ".."),
        ("type=volume,src=../evil,dst=/v", "volume name"),
        ("type=bind,\"src=/tmp,dst=/b", "parse error"),
    ] {
        let err = engine.fails(&["run", "--rm", "--mount", mount, BUSYBOX, "true"], 125);
        assert!(err.contains(message), "--mount {mount}: {err}");
    }
    let err = engine.fails(&["run", "--rm", "-v", "/tmp:/b", "--mount", "type=tmpfs,dst=/b", BUSYBOX, "true"], 125);
    assert!(err.contains("Duplicate mount point: /b"), "{err}");
    assert_eq!(engine.ok(&["ps", "-aq"]), before);

    // inspect: HostConfig.Mounts as Docker names them.
    let bind = format!("type=bind,src={src},dst=/b,ro,bind-propagation=private");
    engine.ok(&["create", "--name", "shown", "--mount", &bind, "--mount", "type=tmpfs,dst=/t,tmpfs-size=2m", BUSYBOX]);
    let info = inspect(&engine, "shown");
    let mounts = info["HostConfig"]["Mounts"].as_array().unwrap();
    assert_eq!(mounts[0]["Type"], "bind");
    assert_eq!(mounts[0]["Source"], src);
    assert_eq!(mounts[0]["Target"], "/b");
    assert_eq!(mounts[0]["ReadOnly"], true);
    assert_eq!(mounts[0]["BindOptions"]["Propagation"], "private");
    assert_eq!(mounts[1]["Type"], "tmpfs");
    assert_eq!(mounts[1]["TmpfsOptions"]["SizeBytes"], 2 << 20);
    assert!(
        info["Mounts"].as_array().unwrap().iter().any(|m| m["Destination"] == "/b" && m["Propagation"] == "private")
    );
    engine.ok(&["rm", "shown"]);
    engine.ok(&["volume", "rm", "pvol", "pnocopy", "pcopy", "plabel", "pbindvol", "ptmpvol"]);
    clean(&engine);
    fs::remove_dir_all(&host).unwrap();
}

#[test]
fn relative_volume_paths_resolve_against_the_cwd() {
    let engine = Engine::with_busybox(BIN, "prel");
    let base = temp_dir("prel-cwd");
    let cwd = base.join("work");
    fs::create_dir_all(cwd.join("data")).unwrap();
    fs::write(cwd.join("data/f"), "rel\n").unwrap();
    fs::write(base.join("up"), "parent\n").unwrap();
    for (flag, spec, path) in [
        ("-v", "./data:/x", "/x/f"),
        ("-v", ".:/x:ro", "/x/data/f"),
        ("-v", "..:/x", "/x/up"),
        ("-v", "../work/data:/x", "/x/f"),
        ("--mount", "type=bind,src=./data,dst=/x", "/x/f"),
        ("--mount", "type=bind,src=.,dst=/x", "/x/data/f"),
    ] {
        let out = run_in(&engine, &cwd, &["run", "--rm", flag, spec, BUSYBOX, "cat", path]);
        assert!(out.status.success(), "{flag} {spec}: {}", String::from_utf8_lossy(&out.stderr));
        let expected = if path == "/x/up" { "parent\n" } else { "rel\n" };
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{flag} {spec}");
    }
    // The record keeps the absolute path.
    let out = run_in(&engine, &cwd, &["create", "--name", "relc", "-v", "./data:/x", BUSYBOX]);
    assert!(out.status.success());
    let binds = &inspect(&engine, "relc")["HostConfig"]["Binds"];
    assert_eq!(binds[0], format!("{}:/x", cwd.join("data").display()));
    engine.ok(&["rm", "relc"]);
    // A path that is neither absolute nor starts with '.' is still no volume name.
    let out = run_in(&engine, &cwd, &["run", "--rm", "-v", "data/f:/x", BUSYBOX, "true"]);
    assert_eq!(out.status.code(), Some(125));
    clean(&engine);
    fs::remove_dir_all(&base).unwrap();
}

#[test]
fn volumes_from_shares_mounts_with_their_modes() {
    let engine = Engine::with_busybox(BIN, "pvfrom");
    let host = temp_dir("pvfrom-host");
    fs::write(host.join("h"), "host file\n").unwrap();
    let bind = format!("{}:/h", host.display());
    engine.ok(&[
        "run",
        "--name",
        "source",
        "-v",
        "shared:/data",
        "-v",
        &bind,
        "-v",
        "/anon",
        BUSYBOX,
        "sh",
        "-c",
        "echo one > /data/f; echo two > /anon/g",
    ]);
    let out = engine.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "source",
        BUSYBOX,
        "sh",
        "-c",
        "cat /data/f /anon/g /h/h; echo more >> /data/f",
    ]);
    assert_eq!(out, "one\ntwo\nhost file\n");
    let out =
        engine.run(&["run", "--rm", "--volumes-from", "source:ro", BUSYBOX, "sh", "-c", "cat /data/f; touch /data/x"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\nmore\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"), "{out:?}");
    // rw on a read-only source makes it writable, as Docker does.
    engine.ok(&["create", "--name", "rosource", "-v", "shared:/data:ro", BUSYBOX]);
    engine.ok(&["run", "--rm", "--volumes-from", "rosource:rw", BUSYBOX, "touch", "/data/rw"]);
    let out = engine.run(&["run", "--rm", "--volumes-from", "rosource", BUSYBOX, "touch", "/data/ro"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"), "{out:?}");
    // An explicit -v on the same target wins.
    let out = engine.ok(&["run", "--rm", "--volumes-from", "source", "-v", "other:/data", BUSYBOX, "ls", "/data"]);
    assert_eq!(out, "");
    engine.ok(&["create", "--name", "borrower", "--volumes-from", "source:ro", BUSYBOX]);
    assert_eq!(inspect(&engine, "borrower")["HostConfig"]["VolumesFrom"], serde_json::json!(["source:ro"]));
    // The borrower's rm -v leaves the source's anonymous volume alone.
    engine.ok(&["rm", "-v", "borrower"]);
    assert_eq!(engine.ok(&["run", "--rm", "--volumes-from", "source", BUSYBOX, "cat", "/anon/g"]), "two\n");
    for bad in ["nosuchcontainer", "source:xx", "source:ro:rw"] {
        engine.fails(&["run", "--rm", "--volumes-from", bad, BUSYBOX, "true"], 125);
    }
    engine.ok(&["rm", "-v", "source", "rosource"]);
    engine.ok(&["volume", "rm", "shared", "other"]);
    clean(&engine);
    fs::remove_dir_all(&host).unwrap();
}

/// The host's device cgroup (v1) of container `id`.
fn devices_list(engine: &Engine, id: &str) -> String {
    let path = format!("/sys/fs/cgroup/devices{}/{id}/devices.list", engine.cgroup_parent);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn devices_and_device_cgroup_rules_are_enforced() {
    if !Path::new("/sys/fs/cgroup/devices").exists() || !Path::new("/dev/fuse").exists() {
        eprintln!("skipped: needs the v1 devices controller and /dev/fuse");
        return;
    }
    let engine = Engine::with_busybox(BIN, "pdev");
    // /dev/fuse: not among runc's default device rules (/dev/net/tun is).
    // --device with read permission only: the node is there, reads open, writes do not.
    let script = "ls -l /dev/mytun; (exec 3</dev/mytun) && echo read-ok; (exec 4>/dev/mytun) || echo write-denied";
    let out = engine.run(&["run", "--rm", "--device", "/dev/fuse:/dev/mytun:r", BUSYBOX, "sh", "-c", script]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("crw") && stdout.contains("10, 229"), "{stdout}");
    assert!(stdout.contains("read-ok\n") && stdout.ends_with("write-denied\n"), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"), "{out:?}");
    // Same path in the container by default, rwm by default.
    let out =
        engine.ok(&["run", "--rm", "--device", "/dev/fuse", BUSYBOX, "sh", "-c", "exec 4>/dev/fuse && echo write-ok"]);
    assert_eq!(out, "write-ok\n");
    // The kernel's rule, on the host.
    let id = engine.ok(&[
        "run",
        "-d",
        "--device",
        "/dev/fuse:/dev/t:r",
        "--device-cgroup-rule",
        "c 10:237 rm",
        BUSYBOX,
        "sleep",
        "60",
    ]);
    let list = devices_list(&engine, id.trim());
    // r as asked, and m for the runtime to make the node.
    assert!(list.lines().any(|l| l == "c 10:229 rm"), "{list}");
    assert!(list.lines().any(|l| l == "c 10:237 rm"), "{list}");
    engine.ok(&["rm", "-f", id.trim()]);

    // --device-cgroup-rule: a node the container makes itself opens only if a rule allows.
    let script =
        "mknod /dev/own c 10 229 || exit 9; (exec 3</dev/own) && echo read-ok; (exec 4>/dev/own) || echo write-denied";
    // (Without a rule even mknod is refused: lindocker's default rules, unlike runc's,
    // allow no `m`.)
    let out = engine.run(&["run", "--rm", BUSYBOX, "sh", "-c", script]);
    assert_eq!(out.status.code(), Some(9), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"), "{out:?}");
    let out = engine.run(&["run", "--rm", "--device-cgroup-rule", "c 10:229 rm", BUSYBOX, "sh", "-c", script]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "read-ok\nwrite-denied\n", "{out:?}");
    let out = engine.run(&["run", "--rm", "--device-cgroup-rule", "c 10:* rwm", BUSYBOX, "sh", "-c", script]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "read-ok\n", "{out:?}");

    engine.ok(&[
        "create",
        "--name",
        "shown",
        "--device",
        "/dev/fuse:/dev/t:r",
        "--device-cgroup-rule",
        "c 10:229 r",
        BUSYBOX,
    ]);
    let host_config = &inspect(&engine, "shown")["HostConfig"];
    assert_eq!(
        host_config["Devices"],
        serde_json::json!([{ "PathOnHost": "/dev/fuse", "PathInContainer": "/dev/t", "CgroupPermissions": "r" }])
    );
    assert_eq!(host_config["DeviceCgroupRules"], serde_json::json!(["c 10:229 r"]));
    engine.ok(&["rm", "shown"]);

    // Hostile or malformed values: exit 125, nothing made.
    let before = engine.ok(&["ps", "-aq"]);
    for rule in [
        "c 10:200 r\na *:* rwm",
        "c 10:200 rwx",
        "x 10:200 r",
        "c 10:200",
        "c -1:200 r",
        "c 10:200 rr",
        "c 10:200 r ",
        "c 99999999999:1 r",
        "c 1:3 ",
    ] {
        let err = engine.fails(&["run", "--rm", "--device-cgroup-rule", rule, BUSYBOX, "true"], 125);
        assert!(err.contains("device-cgroup-rule"), "{rule:?}: {err}");
    }
    for (device, message) in [
        ("/dev/no-such-device", "error gathering device information"),
        ("/etc/passwd", "not a device node"),
        ("/dev/fuse:/dev/t:rwz", "bad mode specified: rwz"),
        ("/dev/fuse:relative", "bad format for path"),
        ("/dev/fuse:/dev/../etc/x", "bad format for path"),
        ("relative/tun", "bad format for path"),
    ] {
        let err = engine.fails(&["run", "--rm", "--device", device, BUSYBOX, "true"], 125);
        assert!(err.contains(message), "--device {device}: {err}");
    }
    assert_eq!(engine.ok(&["ps", "-aq"]), before);
    clean(&engine);
}

#[test]
fn shm_size_sysctls_and_group_add() {
    let engine = Engine::with_busybox(BIN, "pkern");
    // --shm-size: the size of the container's /dev/shm tmpfs.
    assert!(mount_line(&engine, &[], " /dev/shm ").contains("size=65536k"));
    let line = mount_line(&engine, &["--shm-size", "128m"], " /dev/shm ");
    assert!(line.contains("size=131072k"), "{line}");
    for bad in ["0", "-1", "lots"] {
        engine.fails(&["run", "--rm", "--shm-size", bad, BUSYBOX, "true"], 125);
    }

    // --sysctl: written in the container's own namespaces, never the host's.
    let host_shmmax = fs::read_to_string("/proc/sys/kernel/shmmax").unwrap();
    let out = engine.ok(&[
        "run",
        "--rm",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--sysctl",
        "kernel.shmmax=123456789",
        "--sysctl",
        "fs.mqueue.msg_max=20",
        BUSYBOX,
        "cat",
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/kernel/shmmax",
        "/proc/sys/fs/mqueue/msg_max",
    ]);
    assert_eq!(out, "1\n123456789\n20\n");
    assert_eq!(fs::read_to_string("/proc/sys/kernel/shmmax").unwrap(), host_shmmax);
    for (sysctl, message) in [
        ("kernel.panic=1", "sysctl 'kernel.panic=1' is not allowed"),
        ("vm.swappiness=1", "not allowed"),
        ("net.ipv4.ip_forward", "not allowed"),
        ("net/../../kernel/panic=1", "not allowed"),
        ("net.ipv4..ip_forward=1", "not allowed"),
    ] {
        let err = engine.fails(&["run", "--rm", "--sysctl", sysctl, BUSYBOX, "true"], 125);
        assert!(err.contains(message), "--sysctl {sysctl}: {err}");
    }
    // net.* needs the container's own network namespace.
    let err =
        engine.fails(&["run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", BUSYBOX, "true"], 125);
    assert!(err.contains("host network namespace"), "{err}");
    engine.ok(&[
        "create",
        "--name",
        "shown",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--shm-size",
        "1g",
        "--group-add",
        "tty",
        BUSYBOX,
    ]);
    let host_config = &inspect(&engine, "shown")["HostConfig"];
    assert_eq!(host_config["Sysctls"], serde_json::json!({ "net.ipv4.ip_forward": "1" }));
    assert_eq!(host_config["ShmSize"], 1 << 30);
    assert_eq!(host_config["GroupAdd"], serde_json::json!(["tty"]));
    engine.ok(&["rm", "shown"]);
    let plain = engine.ok(&["create", BUSYBOX]);
    assert_eq!(inspect(&engine, plain.trim())["HostConfig"]["ShmSize"], 64 << 20);
    engine.ok(&["rm", plain.trim()]);

    // --group-add: numbers, and names from the container's /etc/group (not the host's).
    let out = engine.ok(&["run", "--rm", "--group-add", "tty", "--group-add", "4242", BUSYBOX, "id", "-G"]);
    assert_eq!(out, "0 5 4242\n");
    let out =
        engine.ok(&["run", "--rm", "-u", "nobody", "--group-add", "nogroup", "--group-add", "7", BUSYBOX, "id", "-G"]);
    assert_eq!(out, "65534 7\n");
    engine.ok(&["run", "-d", "--name", "grouped", "--group-add", "tty", BUSYBOX, "sleep", "60"]);
    assert_eq!(engine.ok(&["exec", "grouped", "id", "-G"]), "0 5\n");
    engine.ok(&["rm", "-f", "grouped"]);
    for group in ["audio", "nosuchgroup", "a:b"] {
        let err = engine.fails(&["run", "--rm", "--group-add", group, BUSYBOX, "true"], 125);
        assert!(err.contains("nable to find group"), "--group-add {group}: {err}");
    }
    clean(&engine);
}

#[test]
fn cidfile_is_written_once_and_never_overwritten() {
    let engine = Engine::with_busybox(BIN, "pcid");
    let dir = temp_dir("pcid-files");
    let cidfile = dir.join("cid");
    let path = cidfile.to_str().unwrap();
    engine.ok(&["run", "--rm", "--cidfile", path, BUSYBOX, "true"]);
    let id = fs::read_to_string(&cidfile).unwrap();
    assert_eq!(id.len(), 64, "{id:?}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    // Refused when it exists: no container made, the file untouched.
    let err = engine.fails(&["run", "--rm", "--cidfile", path, BUSYBOX, "true"], 125);
    assert!(err.contains("Container ID file found, make sure the other container isn't running or delete"), "{err}");
    assert_eq!(fs::read_to_string(&cidfile).unwrap(), id);
    assert_eq!(engine.ok(&["ps", "-aq"]), "");
    // create writes it too; a failed create leaves none.
    let second = dir.join("second");
    let created = engine.ok(&["create", "--cidfile", second.to_str().unwrap(), BUSYBOX]);
    assert_eq!(fs::read_to_string(&second).unwrap(), created.trim());
    let third = dir.join("third");
    engine.fails(
        &["run", "--rm", "--cidfile", third.to_str().unwrap(), "--pull", "never", "localhost/nothere", "true"],
        125,
    );
    assert!(!third.exists());
    engine.ok(&["rm", created.trim()]);
    clean(&engine);
    fs::remove_dir_all(&dir).unwrap();
}

/// A sysctl is written where the kernel keeps it, never where the container's tree
/// points: here a directory mounted over /proc/sys/net/ipv4 holds a symlink named
/// `ip_forward` (content a container could have planted in a volume).
#[test]
fn sysctls_are_not_redirected_by_the_containers_tree() {
    let engine = Engine::with_busybox(BIN, "psysredir");
    let trap = temp_dir("psysredir-trap");
    std::os::unix::fs::symlink("/tmp/redirected", trap.join("ip_forward")).unwrap();
    let bind = format!("{}:/proc/sys/net/ipv4", trap.display());
    let out = engine.run(&[
        "run",
        "-d",
        "--name",
        "sysredir",
        "-v",
        &bind,
        "--sysctl",
        "net.ipv4.ip_forward=1",
        BUSYBOX,
        "sleep",
        "60",
    ]);
    assert!(out.status.success(), "{out:?}");
    // Set in the container's network namespace, and nothing written through the link.
    let pid = inspect(&engine, "sysredir")["State"]["Pid"].as_i64().unwrap();
    let netns = format!("--net=/proc/{pid}/ns/net");
    let value = std::process::Command::new("nsenter")
        .args([netns.as_str(), "cat", "/proc/sys/net/ipv4/ip_forward"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&value.stdout), "1\n", "{value:?}");
    let planted = engine.run(&["exec", "sysredir", "cat", "/tmp/redirected"]);
    assert!(!planted.status.success(), "the sysctl went through the container's symlink");
    engine.ok(&["rm", "-f", "sysredir"]);
    assert!(!trap.join("redirected").exists());
    clean(&engine);
    fs::remove_dir_all(&trap).unwrap();
}
