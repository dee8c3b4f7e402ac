//! The root file system: read-only root, mounts and their options, devices, masked and
//! read-only paths, sysctls, pivot and no-pivot, symlinks that try to escape.

use lindocker_testkit::{Bundle, Runtime, leftovers};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker-runtime");
const EROFS: i64 = 30;
const EACCES: i64 = 13;

fn mount<'a>(r: &'a Value, point: &str) -> &'a Value {
    r["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["mountpoint"] == point)
        .unwrap_or_else(|| panic!("no mount on {point}"))
}

#[test]
fn readonly_root_binds_and_tmpfs_options() {
    let rt = Runtime::new(BIN, "fsmounts");
    let mut b = Bundle::new(
        "fsmounts",
        &["checker", "--write", "/x", "--write", "/ro/f", "--write", "/rw/f", "--write", "/scratch/f"],
    );
    let (ro, rw) = (b.dir.join("ro"), b.dir.join("rw"));
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::create_dir_all(&rw).unwrap();
    b.config["root"]["readonly"] = json!(true);
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": "/ro", "type": "bind", "source": ro, "options": ["rbind", "ro", "nosuid", "nodev"]}),
    );
    mounts.push(json!({"destination": "/rw", "type": "none", "source": rw, "options": ["bind", "rw", "noexec"]}));
    mounts.push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m", "mode=1777"]}));
    b.write();
    let r = rt.check(&b, "m1");
    assert_eq!(r["writes"]["/x"]["errno"], EROFS);
    assert_eq!(r["writes"]["/ro/f"]["errno"], EROFS);
    assert_eq!(r["writes"]["/rw/f"], "ok");
    assert_eq!(r["writes"]["/scratch/f"], "ok");
    assert_eq!(std::fs::read_to_string(rw.join("f")).unwrap(), "checker");
    let ro_opts = mount(&r, "/ro")["options"].as_str().unwrap();
    assert!(ro_opts.starts_with("ro,") && ro_opts.contains("nosuid") && ro_opts.contains("nodev"), "{ro_opts}");
    assert!(mount(&r, "/rw")["options"].as_str().unwrap().contains("noexec"));
    let scratch = mount(&r, "/scratch");
    assert_eq!(scratch["fstype"], "tmpfs");
    assert!(scratch["options"].as_str().unwrap().contains("nosuid"));
    assert!(scratch["super"].as_str().unwrap().contains("size=1024k"), "{scratch}");
    assert!(mount(&r, "/")["options"].as_str().unwrap().starts_with("ro"));
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

#[test]
fn devices_and_dev_symlinks() {
    let rt = Runtime::new(BIN, "fsdev");
    let mut b = Bundle::new("fsdev", &["checker"]);
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 7, "gid": 8}]);
    b.write();
    let r = rt.check(&b, "d1");
    let d = &r["devices"];
    for (name, major, minor) in
        [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]
    {
        assert_eq!(
            (d[name]["type"].as_str(), d[name]["major"].as_i64(), d[name]["minor"].as_i64()),
            (Some("c"), Some(major), Some(minor)),
            "{name}"
        );
        assert_eq!(d[name]["mode"], 0o666, "{name}");
    }
    assert_eq!(d["mynull"]["mode"], 0o640);
    assert_eq!((d["mynull"]["uid"].as_i64(), d["mynull"]["gid"].as_i64()), (Some(7), Some(8)));
    assert_eq!(d["ptmx"]["target"], "pts/ptmx");
    assert_eq!(d["fd"]["target"], "/proc/self/fd");
    assert_eq!(d["stdin"]["target"], "/proc/self/fd/0");
    assert_eq!(d["stderr"]["target"], "/proc/self/fd/2");
    for p in ["/dev/pts", "/dev/shm", "/dev/mqueue", "/proc", "/sys"] {
        mount(&r, p);
    }
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

#[test]
fn masked_readonly_paths_and_sysctl() {
    let rt = Runtime::new(BIN, "fsmask");
    // A masked file this kernel has (kcore needs CONFIG_PROC_KCORE).
    let masked = ["/proc/kcore", "/proc/keys", "/proc/timer_list"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap();
    let mut b = Bundle::new(
        "fsmask",
        &[
            "checker",
            "--read",
            masked,
            "--read",
            "/proc/sys/net/ipv4/ip_forward",
            "--write",
            "/proc/sys/kernel/hostname",
        ],
    );
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    b.write();
    let r = rt.check(&b, "s1");
    assert_eq!(r["reads"][masked], "");
    assert_eq!(mount(&r, "/proc/acpi")["fstype"], "tmpfs");
    assert_eq!(r["reads"]["/proc/sys/net/ipv4/ip_forward"], "1\n");
    assert_eq!(r["writes"]["/proc/sys/kernel/hostname"]["errno"], EROFS);
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

#[test]
fn no_pivot_and_root_propagation() {
    let rt = Runtime::new(BIN, "fspivot");
    let mut b = Bundle::new("fspivot", &["checker"]);
    let out = rt.run(&["run", "--no-pivot", "--bundle", b.dir.to_str().unwrap(), "np"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r["devices"]["null"].is_object());
    b.config["linux"]["rootfsPropagation"] = json!("shared");
    b.write();
    let r = rt.check(&b, "shared");
    assert!(mount(&r, "/")["propagation"].as_str().unwrap().contains("shared:"), "{}", mount(&r, "/"));
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// `rro` makes a bind read-only down to its submounts; propagation options reach the
/// mount.
#[test]
fn recursive_attributes_and_propagation() {
    let rt = Runtime::new(BIN, "fsrec");
    let mut b = Bundle::new(
        "fsrec",
        &["checker", "--write", "/data/f", "--write", "/data/inner/f", "--write", "/plain/inner/f"],
    );
    let data = b.dir.join("data");
    std::fs::create_dir_all(data.join("inner")).unwrap();
    // A submount on the host side, inside the directory we bind.
    let inner = data.join("inner");
    let status = std::process::Command::new("mount").args(["-t", "tmpfs", "tmpfs"]).arg(&inner).status().unwrap();
    assert!(status.success());
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts
        .push(json!({"destination": "/data", "type": "bind", "source": data, "options": ["rbind", "rro", "rprivate"]}));
    mounts
        .push(json!({"destination": "/plain", "type": "bind", "source": data, "options": ["rbind", "ro", "rshared"]}));
    b.write();
    let r = rt.check(&b, "rec");
    let _ = std::process::Command::new("umount").arg(&inner).status();
    assert_eq!(r["writes"]["/data/f"]["errno"], EROFS);
    assert_eq!(r["writes"]["/data/inner/f"]["errno"], EROFS, "rro did not reach the submount");
    // Plain ro is not recursive: the submount stays writable.
    assert_eq!(r["writes"]["/plain/inner/f"], "ok");
    assert_eq!(mount(&r, "/data")["propagation"], "");
    assert!(mount(&r, "/plain")["propagation"].as_str().unwrap().contains("shared:"), "{}", mount(&r, "/plain"));
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}

/// A symlink in the rootfs pointing at / or ../.. cannot move a mount onto the host.
#[test]
fn symlinks_in_the_rootfs_stay_inside() {
    let rt = Runtime::new(BIN, "fsescape");
    let mut b = Bundle::new("fsescape", &["checker"]);
    std::os::unix::fs::symlink("/", b.rootfs().join("escape")).unwrap();
    std::os::unix::fs::symlink("../../../..", b.rootfs().join("up")).unwrap();
    let name = format!("lindocker-escape-{}", std::process::id());
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": format!("/escape/{name}"), "type": "tmpfs", "source": "tmpfs"}));
    mounts.push(json!({"destination": format!("/up/{name}-2"), "type": "tmpfs", "source": "tmpfs"}));
    b.write();
    let r = rt.check(&b, "esc");
    assert!(!std::path::Path::new(&format!("/{name}")).exists());
    assert!(!std::path::Path::new(&format!("/{name}-2")).exists());
    assert!(b.rootfs().join(&name).is_dir());
    mount(&r, &format!("/{name}"));
    mount(&r, &format!("/{name}-2"));
    let _ = EACCES;
    assert_eq!(leftovers(&b.cgroup_parent, &b.dir, &rt.root), Vec::<String>::new());
}
