//! containerd 1.6 (Debian's) with its CRI plugin, as a kubelet's node runs it, but private:
//! its root, state, socket, CNI config and IPAM data in a temp dir, the whole daemon (and
//! so its shims, pod network namespaces' bridge and pod traffic) inside a [`FakeHost`].
//! Two runtime handlers: `lindocker` (the runc v2 shim driving lindocker-runtime) and
//! `runc`, each with a runtime state root of its own. The pause image and a workload image
//! (busybox) come from a loopback [`Registry`] inside the fake host. The runtimes make
//! cgroups through the file system, or (on a systemd host, [`CgroupDriver::Systemd`]) as
//! transient units of systemd's (`SystemdCgroup = true`, Kubernetes' default there).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::{FakeHost, Registry, image};

/// Where Debian's containernetworking-plugins installs the CNI plugins.
pub const CNI_BIN_DIR: &str = "/usr/lib/cni";

/// The pod subnet of the bridge network (private, inside the fake host only).
pub const POD_SUBNET: &str = "10.88.77.0/24";

/// How the handlers' runtimes make cgroups (the runc v2 shim's `SystemdCgroup` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupDriver {
    /// Directories under a cgroupfs parent (`/lindocker-cri-test-...`).
    Cgroupfs,
    /// `SystemdCgroup = true`: the shim runs the runtime with `--systemd-cgroup`, pods'
    /// cgroup parents are slices (as the kubelet's systemd driver names them) and
    /// containerd gives each container `slice:cri-containerd:<id>`. Needs systemd as init.
    Systemd,
}

/// A running private containerd; stopped by pid, its mounts and directory removed on drop.
pub struct Containerd {
    /// Its directory: `root/`, `state/`, `runtime/<handler>/`, `cni/`, `logs/`, the config.
    pub dir: PathBuf,
    /// The CRI (and containerd) socket.
    pub socket: PathBuf,
    /// The workload image (busybox, `CMD ["sh"]`) in the registry.
    pub image: String,
    /// The CNI network's name.
    pub network: String,
    /// The cgroup parent for its pods (`/lindocker-cri-test-<pid>-<name>`), removed on drop;
    /// with systemd a slice (`ldcri_<pid>_<name>.slice`), stopped on drop.
    pub cgroup_parent: String,
    /// How the runtimes make cgroups.
    pub driver: CgroupDriver,
    lindocker_runtime: PathBuf,
    child: Option<Child>,
    registry: Option<Registry>,
    /// The fake host (dropped last: after containerd, the registry).
    pub host: FakeHost,
}

/// Whether containerd and the CNI plugins are installed (`scripts/install.sh` installs them).
pub fn containerd_available() -> bool {
    which("containerd") && which("containerd-shim-runc-v2") && Path::new(CNI_BIN_DIR).join("bridge").exists()
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// Whether this process holds CAP_SYS_RESOURCE (containerd's CRI gives the pause container
/// `oom_score_adj -998`, which only a holder may set).
fn has_sys_resource() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 24) != 0)
}

/// The OCI runtime binary each handler's shim runs.
pub fn handler_binary(handler: &str, lindocker_runtime: &Path) -> PathBuf {
    match handler {
        "lindocker" => lindocker_runtime.to_path_buf(),
        _ => PathBuf::from("runc"),
    }
}

impl Containerd {
    /// Starts containerd for test `name` with handler `lindocker` running
    /// `lindocker_runtime`, and `runc`; waits until its CRI answers on the socket.
    pub fn start(name: &str, lindocker_runtime: &Path) -> Containerd {
        Containerd::start_with(name, lindocker_runtime, CgroupDriver::Cgroupfs)
    }

    /// [`Containerd::start`] with the cgroup driver `driver`. `$LINDOCKER_RUNTIME_BIN`
    /// replaces `lindocker_runtime` (where the tests run away from the build, in a VM).
    pub fn start_with(name: &str, lindocker_runtime: &Path, driver: CgroupDriver) -> Containerd {
        let lindocker_runtime =
            std::env::var_os("LINDOCKER_RUNTIME_BIN").map_or_else(|| lindocker_runtime.to_path_buf(), PathBuf::from);
        // The shim runs it from the bundle's directory: an absolute path.
        let lindocker_runtime = &std::fs::canonicalize(&lindocker_runtime)
            .unwrap_or_else(|e| panic!("{}: {e}", lindocker_runtime.display()));
        let host = FakeHost::new(name);
        let dir = crate::temp_dir(&format!("{name}-containerd"));
        // Until containerd runs (and `Containerd`'s drop cleans up), nothing is mounted.
        let mut until_started = RemoveOnDrop(Some(dir.clone()));
        // A short socket path: unix socket paths have a 108-byte limit.
        let socket = dir.join("c.sock");
        let network = format!("ld-{}-{name}", std::process::id());
        for d in ["root", "state", "runtime/lindocker", "runtime/runc", "cni/net.d", "cni/ipam", "logs"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let registry = Registry::start_in(name, None, Some(&host));
        let (pause, image) = push_images(&registry, &dir);

        std::fs::write(
            dir.join("cni/net.d/10-bridge.conflist"),
            serde_json::to_vec_pretty(&json!({
                "cniVersion": "1.0.0",
                "name": network,
                "plugins": [{
                    "type": "bridge",
                    "bridge": "cni-ld0",
                    "isGateway": true,
                    // No masquerade: pods talk to each other and the fake host only, and no
                    // iptables rule is made even inside the fake host.
                    "ipMasq": false,
                    "hairpinMode": true,
                    "ipam": {
                        "type": "host-local",
                        "dataDir": dir.join("cni/ipam"),
                        "ranges": [[{ "subnet": POD_SUBNET }]],
                        "routes": [{ "dst": "0.0.0.0/0" }],
                    },
                }],
            }))
            .unwrap(),
        )
        .unwrap();

        let runtime = |handler: &str| {
            format!(
                r#"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{handler}]
          runtime_type = "io.containerd.runc.v2"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{handler}.options]
            BinaryName = "{}"
            Root = "{}"
            SystemdCgroup = {}
"#,
                handler_binary(handler, lindocker_runtime).display(),
                dir.join("runtime").join(handler).display(),
                driver == CgroupDriver::Systemd,
            )
        };
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
# What a CRI node does not need here (and what would write outside the temp dir).
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.internal.v1.opt",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "{pause}"
    # Root here lacks CAP_SYS_RESOURCE: then no runtime may lower oom_score_adj (-998 for
    # the pause container), so containerd is told to keep it at its own (runc fails too).
    restrict_oom_score_adj = {restrict}
    netns_mounts_under_state_dir = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    disable_apparmor = true
    tolerate_missing_hugetlb_controller = true
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "{cni_bin}"
      conf_dir = "{cni_conf}"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      snapshotter = "overlayfs"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
{lindocker}{runc}
    [plugins."io.containerd.grpc.v1.cri".registry]
      [plugins."io.containerd.grpc.v1.cri".registry.mirrors]
        [plugins."io.containerd.grpc.v1.cri".registry.mirrors."{registry}"]
          endpoint = ["http://{registry}"]
"#,
            root = dir.join("root").display(),
            state = dir.join("state").display(),
            socket = socket.display(),
            restrict = !has_sys_resource(),
            cni_bin = CNI_BIN_DIR,
            cni_conf = dir.join("cni/net.d").display(),
            lindocker = runtime("lindocker"),
            runc = runtime("runc"),
            registry = registry.addr,
        );
        std::fs::write(dir.join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.join("containerd.log")).unwrap();
        let child = host
            .command("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start containerd");
        until_started.0 = None;
        let mut cd = Containerd {
            dir,
            socket,
            image,
            network,
            cgroup_parent: match driver {
                CgroupDriver::Cgroupfs => format!("/lindocker-cri-test-{}-{name}", std::process::id()),
                // '-' nests slices: none in the base name.
                CgroupDriver::Systemd => format!("ldcri_{}_{}.slice", std::process::id(), name.replace('-', "_")),
            },
            driver,
            lindocker_runtime: lindocker_runtime.to_path_buf(),
            child: Some(child),
            registry: Some(registry),
            host,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cd.log().contains("containerd successfully booted") {
            assert!(
                !cd.log().contains("failed to load plugin io.containerd.grpc.v1.cri"),
                "no CRI:\n{}",
                cd.log_tail()
            );
            if let Some(status) = cd.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("containerd exited ({status}):\n{}", cd.log_tail());
            }
            assert!(Instant::now() < deadline, "containerd did not start in 20 s:\n{}", cd.log_tail());
            std::thread::sleep(Duration::from_millis(50));
        }
        cd
    }

    /// The containerd log.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.join("containerd.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// The last lines of the containerd log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        format!("--- containerd log (tail) ---\n{}", lines[lines.len().saturating_sub(40)..].join("\n"))
    }

    /// The runtime state directory handler `handler`'s shim gives its runtime (`--root`).
    pub fn runtime_root(&self, handler: &str) -> PathBuf {
        self.dir.join("runtime").join(handler).join("k8s.io")
    }

    /// The cgroup parent a pod `pod` is given (its sandbox config's `cgroup_parent`): the
    /// common one, or with systemd a slice of the pod's own in it, as the kubelet's
    /// `kubepods-besteffort-pod<uid>.slice` (the kubelet stops it when the pod is gone,
    /// [`Containerd::stop_pod_slice`]).
    pub fn pod_cgroup_parent(&self, pod: &str) -> String {
        match self.driver {
            CgroupDriver::Cgroupfs => self.cgroup_parent.clone(),
            CgroupDriver::Systemd => format!(
                "{}-pod{}.slice",
                self.cgroup_parent.trim_end_matches(".slice"),
                pod.replace(|c: char| !c.is_ascii_alphanumeric(), "")
            ),
        }
    }

    /// The cgroup (path in the hierarchy) of [`Containerd::pod_cgroup_parent`].
    pub fn pod_cgroup_path(&self, pod: &str) -> String {
        cgroup_path(&self.pod_cgroup_parent(pod))
    }

    /// The cgroup (path in the hierarchy) of `cgroup_parent`.
    pub fn cgroup_path(&self) -> String {
        cgroup_path(&self.cgroup_parent)
    }

    /// With systemd, stops pod `pod`'s slice as the kubelet does once the pod is removed
    /// (systemd keeps a slice until told); nothing with cgroupfs.
    pub fn stop_pod_slice(&self, pod: &str) {
        if self.driver == CgroupDriver::Systemd {
            systemctl_stop(&self.pod_cgroup_parent(pod));
        }
    }

    /// A pod log directory (made).
    pub fn log_dir(&self, pod: &str) -> PathBuf {
        let d = self.dir.join("logs").join(pod);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// What pods left: containers' and pods' cgroups under `cgroup_parent` and processes
    /// in them, mounts under the directory, runtime state of both handlers, shims,
    /// network namespaces, CNI cache entries and IP allocations. Empty means clean.
    pub fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
        for handler in ["lindocker", "runc"] {
            out.extend(crate::leftovers(&self.cgroup_path(), &self.dir, &self.runtime_root(handler)));
        }
        out.sort();
        out.dedup();
        for shim in self.shims() {
            out.push(format!("shim process {}", shim.pid));
        }
        let netns = self.dir.join("state/io.containerd.grpc.v1.cri/netns");
        for e in std::fs::read_dir(netns).into_iter().flatten().flatten() {
            out.push(format!("network namespace {}", e.path().display()));
        }
        for e in std::fs::read_dir("/var/lib/cni/results").into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(&format!("{}-", self.network)) {
                out.push(format!("CNI cache {}", e.path().display()));
            }
        }
        let ipam = self.dir.join("cni/ipam").join(&self.network);
        for e in std::fs::read_dir(ipam).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.parse::<std::net::IpAddr>().is_ok() {
                out.push(format!("IP allocation {name}"));
            }
        }
        out
    }

    /// This containerd's shims (their command line names its socket).
    fn shims(&self) -> Vec<Shim> {
        let address = self.socket.to_string_lossy().into_owned();
        let mut out = Vec::new();
        for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else { continue };
            let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
            let args: Vec<String> = String::from_utf8_lossy(&cmdline).split('\0').map(str::to_owned).collect();
            if !args[0].ends_with("containerd-shim-runc-v2") || !args.contains(&address) {
                continue;
            }
            let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
            let (Some(namespace), Some(id)) = (flag("-namespace"), flag("-id")) else { continue };
            // containerd 1.6's shim socket: /run/containerd/s/<sha256 of address/ns/id>.
            let hash = image::digest(format!("{address}/{namespace}/{id}").as_bytes());
            let socket = PathBuf::from("/run/containerd/s").join(hash.trim_start_matches("sha256:"));
            out.push(Shim { pid, socket });
        }
        out
    }

    /// Stops containerd (SIGTERM, SIGKILL after 10 s), then any shim it left.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = rustix::process::Pid::from_child(&child);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for shim in self.shims() {
            if let Some(pid) = rustix::process::Pid::from_raw(shim.pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            let _ = std::fs::remove_file(&shim.socket);
        }
    }

    /// After a failed test: containers the runtimes still have (their processes killed,
    /// cgroups removed by `delete --force`), then the pods' cgroup parent, and CNI's cache
    /// entries for this network (on the host: containerd 1.6 cannot move CNI's cache dir).
    fn remove_pods(&self) {
        for handler in ["lindocker", "runc"] {
            let root = self.runtime_root(handler);
            for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                if id.starts_with("cache:") {
                    continue;
                }
                let _ = Command::new(handler_binary(handler, &self.lindocker_runtime))
                    .arg("--root")
                    .arg(&root)
                    .args(["delete", "--force", &id])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        if self.driver == CgroupDriver::Systemd {
            // Stops the pods' slices and any scope left in them (killing what they hold).
            systemctl_stop(&self.cgroup_parent);
        }
        for dir in crate::cgroup_dirs(&self.cgroup_path()) {
            let mut dirs: Vec<PathBuf> = walk_dirs(&dir);
            dirs.sort_unstable_by_key(|d| std::cmp::Reverse(d.components().count()));
            for d in dirs {
                let _ = std::fs::remove_dir(d);
            }
        }
        for e in std::fs::read_dir("/var/lib/cni/results").into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(&format!("{}-", self.network)) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// A cgroup parent's path in the hierarchy: a slice's expanded (`a-b.slice` is
/// `/a.slice/a-b.slice`), a cgroupfs path as it is.
fn cgroup_path(parent: &str) -> String {
    if parent.ends_with(".slice") {
        lindocker_cgroups::systemd::expand_slice(parent).unwrap_or_else(|e| panic!("{e}"))
    } else {
        parent.to_string()
    }
}

/// `systemctl stop UNIT`, best effort.
fn systemctl_stop(unit: &str) {
    let _ = Command::new("systemctl").args(["stop", unit]).stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// Removes a directory (with nothing mounted below) when dropped, unless emptied.
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// One shim process and the socket it listens on.
struct Shim {
    pid: i32,
    socket: PathBuf,
}

/// `dir` and every directory below it.
fn walk_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk_dirs(&e.path()));
        }
    }
    out
}

/// Pushes the pause image (busybox sleeping) and the workload image (busybox, `sh`) to
/// `registry`; returns their references.
fn push_images(registry: &Registry, dir: &Path) -> (String, String) {
    let layout = dir.join("layout");
    let tar = image::busybox_layer(dir);
    let gz = image::gzip(&tar);
    let env = json!(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
    let pause = image::image(
        &layout,
        &[(gz.clone(), tar.clone())],
        json!({ "Entrypoint": ["/bin/sleep", "2147483647"], "Env": env }),
        "amd64",
    );
    image::finish_layout(&layout, "pause", vec![pause]);
    registry.push(&layout, "test/pause", "pause");
    let busybox = image::image(&layout, &[(gz, tar)], json!({ "Cmd": ["sh"], "Env": env }), "amd64");
    image::finish_layout(&layout, "busybox", vec![busybox]);
    registry.push(&layout, "test/busybox", "busybox");
    std::fs::remove_dir_all(&layout).unwrap();
    (format!("{}/test/pause:pause", registry.addr), format!("{}/test/busybox:busybox", registry.addr))
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.stop();
        self.remove_pods();
        drop(self.registry.take());
        // Whatever containerd left mounted (snapshots, shm, netns): deepest first, detached.
        let dir = self.dir.to_string_lossy().into_owned();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<&str> =
            mounts.lines().filter_map(|l| l.split(' ').nth(4)).filter(|m| m.starts_with(&dir)).collect();
        points.sort_unstable_by_key(|m| std::cmp::Reverse(m.len()));
        for m in points {
            let _ = Command::new("umount").args(["-R", "-l", m]).stderr(Stdio::null()).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
