//! A minimal root filesystem from Debian's busybox-static, plus the checker.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

/// Where busybox-static installs its binary (`$LINDOCKER_BUSYBOX` overrides it).
fn busybox() -> String {
    std::env::var("LINDOCKER_BUSYBOX").unwrap_or_else(|_| "/bin/busybox".into())
}

/// Fills `dir` with busybox (every applet linked in /bin), /etc/passwd and group, the
/// usual empty mount points, and `/bin/checker`.
pub fn busybox_rootfs(dir: &Path) {
    let busybox = busybox();
    assert!(
        Path::new(&busybox).exists(),
        "{busybox} is missing: install busybox-static (the README's install command does)"
    );
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "root", "home", "var", "run"] {
        fs::create_dir_all(dir.join(d)).expect("mkdir");
    }
    fs::copy(&busybox, dir.join("bin/busybox")).expect("copy busybox");
    let list = Command::new(&busybox).arg("--list").output().expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = symlink("busybox", dir.join("bin").join(applet));
        }
    }
    fs::copy(crate::checker_path(), dir.join("bin/checker")).expect("copy checker");
    fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        .expect("passwd");
    fs::write(dir.join("etc/group"), "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n").expect("group");
}
