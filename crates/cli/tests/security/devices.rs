//! Device access: a container has Docker's default capabilities, CAP_MKNOD among them, so
//! it can make a node for any device; only the cgroup's device rules keep it from using
//! one. Under the default rules ("deny all" plus the devices every container has) it
//! must not reach the host's disk, from its init or an exec'd process, and the allowed
//! devices must keep working. The v1 devices controller holds this on a v1 host; on a
//! cgroup v2 host only the eBPF device program does: scripts/test-cgroup-v2.sh runs these
//! tests in the v2-only VM too.

use std::io::{Read, Seek, SeekFrom};

use lindocker_testkit::docker_profile::DOCKER_CAPS;
use lindocker_testkit::{Bundle, Runtime, leftovers};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker-runtime");

/// The block device under the host's `/` (what an attacker wants): (major, minor, node).
fn host_disk() -> (u32, u32, String) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = info.lines().find(|l| l.split(' ').nth(4) == Some("/")).expect("/ in mountinfo");
    let mut dev = root.split(' ').nth(2).unwrap().to_string();
    if dev.starts_with("0:") {
        // Not a block device (overlay, tmpfs): any disk the host has will do.
        dev = std::fs::read_dir("/sys/dev/block")
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|d| std::fs::read_to_string(format!("/sys/dev/block/{d}/size")).is_ok_and(|s| s.trim() != "0"))
            .expect("a block device with data");
    }
    let uevent = std::fs::read_to_string(format!("/sys/dev/block/{dev}/uevent")).unwrap();
    let name = uevent.lines().find_map(|l| l.strip_prefix("DEVNAME=")).expect("DEVNAME").to_string();
    let (major, minor) = dev.split_once(':').unwrap();
    (major.parse().unwrap(), minor.parse().unwrap(), format!("/dev/{name}"))
}

/// Bytes 1024..1536 of the disk as `od -An -tx1` prints them, read on the host; `None`
/// when the host itself may not read it (a sandboxed test host: then neither may the
/// container, whatever its rules).
fn host_disk_block(node: &str) -> Option<Vec<String>> {
    let mut f = match std::fs::File::open(node) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return None,
        Err(e) => panic!("{node}: {e}"),
    };
    f.seek(SeekFrom::Start(1024)).unwrap();
    let mut buf = [0u8; 512];
    f.read_exact(&mut buf).unwrap();
    Some(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A bundle of Docker's default kind: every capability Docker gives, the runtime's
/// default rules (deny all devices), `args` as the process.
fn docker_like(name: &str, args: &[&str]) -> Bundle {
    let mut b = Bundle::new(name, args);
    b.config["process"]["capabilities"] =
        json!({"bounding": DOCKER_CAPS, "effective": DOCKER_CAPS, "permitted": DOCKER_CAPS});
    assert_eq!(b.config["linux"]["resources"]["devices"], json!([{"allow": false, "access": "rwm"}]));
    b.write();
    b
}

/// Each step of the script prints `NAME ok` or `NAME fail: ERROR` (its output goes to a
/// file, not /dev/null, which may be denied too).
const STEPS: &str = r#"
t() { name=$1; shift; if "$@" 2>/tmp/err >/tmp/out; then echo "$name ok"; else echo "$name fail: $(cat /tmp/err)"; fi; }
"#;

/// The attack: make a node for the host's disk and read it.
fn attack(major: u32, minor: u32) -> String {
    format!(
        "{STEPS} t mknod mknod /dev/x b {major} {minor}
         t read dd if=/dev/x of=/dev/null bs=512 count=1
         rm -f /dev/x
         "
    )
}

fn lines(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.contains(" ok") || l.contains(" fail")).collect()
}

fn step<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("no step {name} in:\n{out}"))
}

/// Both steps refused by the device rules (EPERM), not failing for another reason.
fn assert_denied(out: &str, who: &str) {
    let mknod = step(out, "mknod");
    assert!(mknod.contains("fail") && mknod.contains("Operation not permitted"), "{who}: {mknod}\n{out}");
    assert!(step(out, "read").contains("fail"), "{who} read the host's disk:\n{out}");
}

#[test]
fn default_rules_keep_the_host_disk_out_of_reach() {
    let (major, minor, _) = host_disk();
    let rt = Runtime::new(BIN, "devdeny");
    let b = docker_like("devdeny", &["sh", "-c", &attack(major, minor)]);
    let (code, out, err) = rt.run_bundle(&b, "devdeny");
    assert_eq!(code, 0, "{out}\n{err}");
    assert_denied(&out, "the container's init");

    // An exec'd process joins the cgroup, so the same rules hold for it.
    let b = docker_like("devdenyx", &["sleep", "1000"]);
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "devdenyx"]);
    let out = rt.ok(&["exec", "devdenyx", "sh", "-c", &attack(major, minor)]);
    assert_denied(&out, "an exec'd process");
    rt.ok(&["delete", "--force", "devdenyx"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

#[test]
fn allowed_devices_still_work() {
    let (major, minor, node) = host_disk();
    let rt = Runtime::new(BIN, "devallow");
    let script = format!(
        "{STEPS} t zero head -c 16 /dev/zero
         t urandom head -c 16 /dev/urandom
         t random head -c 1 /dev/random
         t null sh -c 'echo hi > /dev/null'
         t full sh -c 'echo hi > /dev/full'
         t tty sh -c ': > /dev/tty'
         t ptmx sh -c ': < /dev/ptmx'
         t mknod mknod /dev/x b {major} {minor}
         echo block $(dd if=/dev/x bs=512 skip=2 count=1 2>/dev/null | od -An -tx1 -v)
         t write sh -c ': > /dev/x'
         t other mknod /dev/y b {major} {}
         t mem mknod /dev/mem c 1 1",
        minor + 1
    );
    let mut b = docker_like("devallow", &["sh", "-c", &script]);
    // One extra device: the disk, for reading (and making its node) only.
    b.config["linux"]["resources"]["devices"]
        .as_array_mut()
        .unwrap()
        .push(json!({"allow": true, "type": "b", "major": major, "minor": minor, "access": "rm"}));
    b.write();
    let (code, out, err) = rt.run_bundle(&b, "devallow");
    assert_eq!(code, 0, "{out}\n{err}");
    for ok in ["zero", "urandom", "random", "null", "mknod"] {
        assert!(step(&out, ok).ends_with(" ok"), "{}\n{out}", step(&out, ok));
    }
    // Opened, then the device itself answered: the rules let them through.
    assert!(step(&out, "full").contains("No space left on device"), "{out}");
    assert!(step(&out, "tty").contains("No such device or address"), "{out}");
    assert!(step(&out, "ptmx").ends_with(" ok"), "{out}");
    let block: Vec<String> =
        out.lines().find_map(|l| l.strip_prefix("block")).unwrap().split_whitespace().map(str::to_string).collect();
    match host_disk_block(&node) {
        Some(bytes) => assert_eq!(block, bytes, "the allowed read did not return the disk's bytes"),
        None => assert!(block.is_empty(), "the container read a disk its host may not read"),
    }
    // Only what the rule grants: no writing, no other device.
    for denied in ["write", "other", "mem"] {
        let s = step(&out, denied);
        assert!(s.contains("fail") && s.contains("Operation not permitted"), "{s}\n{out}");
    }
    assert_eq!(lines(&out).len(), 11, "{out}");
}

/// `update` keeps the device rules the container was created with, as runc's does:
/// containerd's shim sends the container's whole `linux.resources` (the spec's "deny
/// all", without the devices every container has) on every UpdateContainerResources.
/// So no list of rules, allowing, amending, empty or denying all, changes device access:
/// the host's disk stays out of reach and /dev/null stays usable. A malformed rule is
/// still refused.
#[test]
fn update_leaves_the_device_rules_alone() {
    let (major, minor, _) = host_disk();
    let rt = Runtime::new(BIN, "devupdate");
    let b = docker_like("devupdate", &["sleep", "1000"]);
    rt.ok(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), "devupd"]);
    let update = |devices: Value| {
        let file = b.dir.join("resources.json");
        std::fs::write(&file, json!({ "devices": devices, "pids": {"limit": 50} }).to_string()).unwrap();
        rt.ok(&["update", "--resources", file.to_str().unwrap(), "devupd"]);
    };
    let script = format!("{} t devnull sh -c 'echo hi > /dev/null'", attack(major, minor));
    for devices in [
        json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "b", "major": major, "minor": minor, "access": "rm"},
        ]),
        json!([{"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]),
        json!([]),
        json!([{"allow": false, "access": "rwm"}]),
        json!([{"allow": true, "access": "rwm"}]),
    ] {
        update(devices.clone());
        let out = rt.ok(&["exec", "devupd", "sh", "-c", &script]);
        assert_denied(&out, &format!("after update with {devices}"));
        assert!(step(&out, "devnull").ends_with(" ok"), "after update with {devices}:\n{out}");
    }

    let file = b.dir.join("bad.json");
    std::fs::write(&file, r#"{"devices":[{"allow":true,"type":"c","major":1,"minor":3,"access":"rwx"}]}"#).unwrap();
    let bad = rt.run(&["update", "--resources", file.to_str().unwrap(), "devupd"]);
    assert!(!bad.status.success());
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(msg.contains("devices[0].access"), "{msg}");

    rt.ok(&["delete", "--force", "devupd"]);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}
