//! The reference registry (Debian's `docker-registry`) on a free loopback port, with
//! filesystem storage in a temp dir, optionally behind htpasswd basic auth.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running registry; stopped (by its pid) and removed when dropped.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Its directory: config, storage (`data/`), log.
    pub dir: PathBuf,
    /// The network namespace it listens in (`None`: the test's own).
    netns: Option<PathBuf>,
}

/// A free loopback port (bound, then released for the caller to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

impl Registry {
    /// Starts a registry; with `user`, only that user (password `password`) may use it.
    pub fn start(name: &str, user: Option<(&str, &str)>) -> Registry {
        Registry::start_in(name, user, None)
    }

    /// Like [`Registry::start`], listening on the loopback of `host` (a daemon in the fake
    /// host pulls from it); pushes then run inside `host` too.
    pub fn start_in(name: &str, user: Option<(&str, &str)>, host: Option<&crate::FakeHost>) -> Registry {
        let dir = crate::temp_dir(&format!("{name}-registry"));
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        if let Some((user, password)) = user {
            let out =
                Command::new("htpasswd").args(["-Bbn", user, password]).output().expect("htpasswd (apache2-utils)");
            assert!(out.status.success());
            std::fs::write(dir.join("htpasswd"), out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                dir.join("htpasswd").display()
            ));
        }
        std::fs::write(dir.join("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.join("log")).unwrap();
        let mut cmd = match host {
            Some(host) => host.command("docker-registry"),
            None => Command::new("docker-registry"),
        };
        let child = cmd
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry (the README's install command installs it)");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let netns = host.map(|h| h.path.clone());
        while !listening(&addr, netns.as_deref()) {
            assert!(Instant::now() < deadline, "registry did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Registry { child, addr, dir, netns }
    }

    /// Pushes the OCI layout at `layout` (tag `tag` in it) as `repo:tag` with skopeo.
    pub fn push(&self, layout: &Path, repo: &str, tag: &str) {
        self.push_as(layout, repo, tag, None);
    }

    /// Like [`Registry::push`], with credentials.
    pub fn push_as(&self, layout: &Path, repo: &str, tag: &str, creds: Option<&str>) {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}", ns.display())).args(["--", "skopeo"]);
                c
            }
            None => Command::new("skopeo"),
        };
        cmd.args(["copy", "--quiet", "--all", "--dest-tls-verify=false"]);
        if let Some(creds) = creds {
            cmd.args(["--dest-creds", creds]);
        }
        let out = cmd
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{repo}:{tag}", self.addr))
            .output()
            .expect("skopeo (the README's install command installs it)");
        assert!(out.status.success(), "skopeo copy failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The file the registry keeps blob `digest` in (tests corrupt it).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir.join("data/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }
}

/// Whether something accepts TCP connections on `addr`, in network namespace `netns`
/// (entered by a thread of its own, which ends with the check).
fn listening(addr: &str, netns: Option<&Path>) -> bool {
    let Some(netns) = netns else { return TcpStream::connect(addr).is_ok() };
    std::thread::scope(|s| {
        s.spawn(|| {
            let Ok(ns) = std::fs::File::open(netns) else { return false };
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&ns),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("setns into the fake host");
            TcpStream::connect(addr).is_ok()
        })
        .join()
        .unwrap()
    })
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
