//! Kubernetes through containerd's CRI: containerd 1.6 (Debian's, its CRI plugin) runs
//! privately inside a fake host, and a CRI client does what the kubelet does for two pods
//! -- sandbox (pause image, own network namespace on a CNI bridge), image pull from a
//! loopback registry, container create/start, exec, status, logs, resource update, stop,
//! remove -- with the runtime handler `lindocker` (the runc v2 shim driving this
//! lindocker-runtime) and, for comparison, `runc`. The same assertions hold for both, and
//! nothing is left behind.
//!
//! Twice: with the cgroupfs driver (here), and with `SystemdCgroup = true` (Kubernetes'
//! default on systemd hosts: the shim runs the runtime with `--systemd-cgroup`, each
//! container is a `cri-containerd-<id>.scope` in its pod's slice), which needs systemd as
//! init: scripts/test-systemd.sh runs those in its VM; elsewhere they say they are skipped.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use lindocker_testkit::cri::{Cri, api, container_config, pod_config};
use lindocker_testkit::{CgroupDriver, Containerd, cgroup_dirs, containerd_available};

const RUNTIME: &str = env!("CARGO_BIN_EXE_lindocker-runtime");

const MIB: i64 = 1024 * 1024;

/// One pod with one running container.
struct Pod {
    id: String,
    ip: String,
    container: String,
}

/// Fails with the containerd log's tail.
macro_rules! ok {
    ($cd:expr, $what:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => panic!("{} failed: {e:?}\n{}", $what, $cd.log_tail()),
        }
    };
}

/// A pod `name` whose container `args` runs with a 64 MiB memory limit.
fn start_pod(cd: &Containerd, cri: &Cri, handler: &str, name: &str, args: &[&str]) -> Pod {
    let config = pod_config(name, &cd.pod_cgroup_parent(name), &cd.log_dir(name));
    let req = api::RunPodSandboxRequest { config: Some(config.clone()), runtime_handler: handler.into() };
    let id =
        ok!(cd, "RunPodSandbox", cri.call("RunPodSandbox", cri.runtime.clone().run_pod_sandbox(req))).pod_sandbox_id;
    let status = ok!(
        cd,
        "PodSandboxStatus",
        cri.call(
            "PodSandboxStatus",
            cri.runtime
                .clone()
                .pod_sandbox_status(api::PodSandboxStatusRequest { pod_sandbox_id: id.clone(), verbose: false })
        )
    )
    .status
    .unwrap();
    assert_eq!(status.state, api::PodSandboxState::SandboxReady as i32, "{status:?}");
    assert_eq!(status.runtime_handler, handler);
    let ip = status.network.expect("a pod IP").ip;
    assert!(ip.starts_with("10.88.77."), "the pod's IP is on the CNI bridge's subnet: {ip}");

    let req = api::CreateContainerRequest {
        pod_sandbox_id: id.clone(),
        config: Some(container_config("main", &cd.image, args, "main.log", 64 * MIB)),
        sandbox_config: Some(config),
    };
    let container =
        ok!(cd, "CreateContainer", cri.call("CreateContainer", cri.runtime.clone().create_container(req))).container_id;
    let req = api::StartContainerRequest { container_id: container.clone() };
    ok!(cd, "StartContainer", cri.call("StartContainer", cri.runtime.clone().start_container(req)));
    Pod { id, ip, container }
}

fn exec(cd: &Containerd, cri: &Cri, container: &str, cmd: &[&str]) -> api::ExecSyncResponse {
    let req = api::ExecSyncRequest {
        container_id: container.into(),
        cmd: cmd.iter().map(|c| c.to_string()).collect(),
        timeout: 20,
    };
    ok!(cd, format!("ExecSync {cmd:?}"), cri.call("ExecSync", cri.runtime.clone().exec_sync(req)))
}

fn container_status(cd: &Containerd, cri: &Cri, container: &str) -> api::ContainerStatus {
    let req = api::ContainerStatusRequest { container_id: container.into(), verbose: false };
    ok!(cd, "ContainerStatus", cri.call("ContainerStatus", cri.runtime.clone().container_status(req))).status.unwrap()
}

/// Polls `f` until it returns `Some`, for at most `limit`.
fn wait_for<T>(cd: &Containerd, what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}\n{}", cd.log_tail());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `systemctl show UNIT -p PROP --value`.
fn unit_property(unit: &str, prop: &str) -> String {
    let out = Command::new("systemctl").args(["show", unit, "-p", prop, "--value"]).output().expect("systemctl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The systemd scope of container (or sandbox) `id`, as containerd names it.
fn scope(id: &str) -> String {
    format!("cri-containerd-{id}.scope")
}

/// The kubelet's pod flow with runtime handler `handler`, the runtimes making cgroups with
/// `driver`.
fn pod_flow(handler: &str, driver: CgroupDriver) {
    if !containerd_available() {
        eprintln!("SKIPPED: containerd, containerd-shim-runc-v2 or the CNI plugins (/usr/lib/cni) are not installed");
        return;
    }
    let systemd = driver == CgroupDriver::Systemd;
    if systemd && !Path::new("/run/systemd/system").is_dir() {
        eprintln!("SKIPPED: systemd is not this host's init (scripts/test-systemd.sh runs this in a VM)");
        return;
    }
    if handler == "runc" && !Command::new("runc").arg("--version").output().is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: runc is not installed");
        return;
    }
    let name = if systemd { format!("crisd-{handler}") } else { format!("cri-{handler}") };
    let mut cd = Containerd::start_with(&name, Path::new(RUNTIME), driver);
    let cri = Cri::connect(&cd.socket);

    let version = ok!(
        cd,
        "Version",
        cri.call("Version", cri.runtime.clone().version(api::VersionRequest { version: "v1".into() }))
    );
    assert_eq!(version.runtime_name, "containerd", "{version:?}");

    let req = api::PullImageRequest {
        image: Some(api::ImageSpec { image: cd.image.clone(), ..Default::default() }),
        ..Default::default()
    };
    let image_ref = ok!(cd, "PullImage", cri.call("PullImage", cri.images.clone().pull_image(req))).image_ref;
    assert!(image_ref.starts_with("sha256:"), "{image_ref}");

    // Pod a serves a page (busybox httpd) and, on SIGTERM, exits 7; pod b fetches it.
    let server = "mkdir -p /www && echo page-of-$(hostname) > /www/index.html && echo started on $(hostname) && \
                  echo to-stderr >&2 && httpd -f -p 8080 -h /www & trap 'kill $!; exit 7' TERM; wait";
    let a = start_pod(&cd, &cri, handler, "pod-a", &["sh", "-c", server]);
    let b = start_pod(&cd, &cri, handler, "pod-b", &["sleep", "600"]);
    assert_ne!(a.ip, b.ip);

    let status = container_status(&cd, &cri, &a.container);
    assert_eq!(status.state, api::ContainerState::ContainerRunning as i32, "{status:?}");
    // The handler's runtime runs them: its state root has the pods' containers, the
    // other runtime's has none.
    let other = if handler == "runc" { "lindocker" } else { "runc" };
    let states = |h: &str| -> Vec<String> {
        std::fs::read_dir(cd.runtime_root(h))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with("cache:"))
            .collect()
    };
    let mine = states(handler);
    for id in [&a.id, &a.container, &b.id, &b.container] {
        assert!(mine.contains(id), "{handler}'s state root lacks {id}: {mine:?}");
    }
    assert!(states(other).is_empty(), "{other} ran something: {:?}", states(other));
    if systemd {
        // Each sandbox and container is a scope systemd made in its pod's slice, holding
        // its processes.
        for (pod, name) in [(&a, "pod-a"), (&b, "pod-b")] {
            for id in [&pod.id, &pod.container] {
                let unit = scope(id);
                assert_eq!(unit_property(&unit, "ActiveState"), "active", "{unit}");
                assert_eq!(unit_property(&unit, "Slice"), cd.pod_cgroup_parent(name), "{unit}");
                let cgroup = format!("{}/{unit}", cd.pod_cgroup_path(name));
                assert_eq!(unit_property(&unit, "ControlGroup"), cgroup, "{unit}");
                let procs = std::fs::read_to_string(format!("/sys/fs/cgroup{cgroup}/cgroup.procs")).unwrap();
                assert!(!procs.trim().is_empty(), "no process in {cgroup}");
            }
        }
    }

    // ExecSync: stdout, stderr and the exit code come back apart.
    let out = exec(&cd, &cri, &a.container, &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!((out.stdout.as_slice(), out.stderr.as_slice(), out.exit_code), (&b"out\n"[..], &b"err\n"[..], 3));

    // Pod b reaches pod a over the bridge. (busybox 1.35's `wget -T` crashes: `timeout`.)
    let mut last = None;
    let page = wait_for(&cd, "pod b fetches pod a's page", Duration::from_secs(10), || {
        if let Some(out) = &last {
            eprintln!("pod b's wget: {out:?}");
        }
        let out = exec(
            &cd,
            &cri,
            &b.container,
            &["timeout", "3", "wget", "-q", "-O", "-", &format!("http://{}:8080/", a.ip)],
        );
        let page = (out.exit_code == 0).then(|| out.stdout.clone());
        last = Some(out);
        page
    });
    assert_eq!(String::from_utf8_lossy(&page), "page-of-pod-a\n");
    let out = exec(&cd, &cri, &b.container, &["ip", "-4", "-o", "addr", "show", "eth0"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("inet {}/24", b.ip)), "{out:?}");

    // The log file where CRI says, in the CRI log format.
    let log_path = cd.log_dir("pod-a").join("main.log");
    assert_eq!(status.log_path, log_path.to_string_lossy());
    let log = wait_for(&cd, "the container's log file", Duration::from_secs(10), || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        log.contains("to-stderr").then_some(log)
    });
    let lines: Vec<(&str, &str, &str)> = log
        .lines()
        .map(|l| {
            let mut f = l.splitn(4, ' ');
            let (time, stream, tag, msg) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
            assert!(time.contains('T') && time.ends_with('Z'), "an RFC 3339 time: {l}");
            assert_eq!(tag, "F", "{l}");
            (stream, tag, msg)
        })
        .collect();
    assert!(lines.contains(&("stdout", "F", "started on pod-a")), "{log}");
    assert!(lines.contains(&("stderr", "F", "to-stderr")), "{log}");

    // Memory limit at create, then UpdateContainerResources, seen inside and on the host.
    // (cgroup v1's file, or v2's in the container's cgroup namespace)
    let limit_inside = |c: &str| {
        let cat = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max";
        let out = exec(&cd, &cri, c, &["sh", "-c", cat]);
        assert_eq!(out.exit_code, 0, "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(limit_inside(&a.container), (64 * MIB).to_string());
    let req = api::UpdateContainerResourcesRequest {
        container_id: a.container.clone(),
        linux: Some(api::LinuxContainerResources {
            memory_limit_in_bytes: 96 * MIB,
            cpu_shares: 256,
            ..Default::default()
        }),
        ..Default::default()
    };
    ok!(
        cd,
        "UpdateContainerResources",
        cri.call("UpdateContainerResources", cri.runtime.clone().update_container_resources(req))
    );
    assert_eq!(limit_inside(&a.container), (96 * MIB).to_string());
    let cgroup = if systemd {
        format!("{}/{}", cd.pod_cgroup_path("pod-a"), scope(&a.container))
    } else {
        format!("{}/{}", cd.cgroup_path(), a.container)
    };
    let host_dirs = cgroup_dirs(&cgroup);
    let read = |file: &str| {
        let dir = host_dirs.iter().find(|d| d.join(file).exists()).unwrap_or_else(|| panic!("no {file} in {cgroup}"));
        std::fs::read_to_string(dir.join(file)).unwrap().trim().to_owned()
    };
    if host_dirs.iter().any(|d| d.join("memory.max").exists()) {
        // cgroup v2: cpu.shares 256 is cpu.weight 10 (runc's conversion).
        assert_eq!(read("memory.max"), (96 * MIB).to_string());
        assert_eq!(read("cpu.weight"), "10");
    } else {
        assert_eq!(read("memory.limit_in_bytes"), (96 * MIB).to_string());
        assert_eq!(read("cpu.shares"), "256");
    }
    if systemd {
        // systemd knows the new limit too (else its next change to the unit would undo it).
        let unit = scope(&a.container);
        assert_eq!(unit_property(&unit, "MemoryMax"), (96 * MIB).to_string(), "{unit}");
    }

    // Stop: SIGTERM reaches the container's process; its exit code is reported.
    for pod in [&a, &b] {
        let req = api::StopContainerRequest { container_id: pod.container.clone(), timeout: 5 };
        ok!(cd, "StopContainer", cri.call("StopContainer", cri.runtime.clone().stop_container(req)));
    }
    let status = container_status(&cd, &cri, &a.container);
    assert_eq!((status.state, status.exit_code), (api::ContainerState::ContainerExited as i32, 7), "{status:?}");
    let status = container_status(&cd, &cri, &b.container);
    assert_eq!(status.state, api::ContainerState::ContainerExited as i32, "{status:?}");

    for pod in [&a, &b] {
        let req = api::RemoveContainerRequest { container_id: pod.container.clone() };
        ok!(cd, "RemoveContainer", cri.call("RemoveContainer", cri.runtime.clone().remove_container(req)));
        let req = api::StopPodSandboxRequest { pod_sandbox_id: pod.id.clone() };
        ok!(cd, "StopPodSandbox", cri.call("StopPodSandbox", cri.runtime.clone().stop_pod_sandbox(req)));
        let req = api::RemovePodSandboxRequest { pod_sandbox_id: pod.id.clone() };
        ok!(cd, "RemovePodSandbox", cri.call("RemovePodSandbox", cri.runtime.clone().remove_pod_sandbox(req)));
    }
    if systemd {
        // No scope is left (loaded or not), then the kubelet's part: the pods' slices.
        for id in [&a.id, &a.container, &b.id, &b.container] {
            let unit = scope(id);
            wait_for(&cd, &format!("{unit} gone"), Duration::from_secs(10), || {
                (unit_property(&unit, "LoadState") == "not-found").then_some(())
            });
        }
        cd.stop_pod_slice("pod-a");
        cd.stop_pod_slice("pod-b");
    }
    let listed = ok!(
        cd,
        "ListPodSandbox",
        cri.call("ListPodSandbox", cri.runtime.clone().list_pod_sandbox(api::ListPodSandboxRequest::default()))
    );
    assert!(listed.items.is_empty(), "{listed:?}");

    // Nothing left: no runtime state, mounts, cgroups, processes, netns, IPs, shims.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = cd.leftovers();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "left behind: {left:#?}\n{}", cd.log_tail());
        std::thread::sleep(Duration::from_millis(100));
    }
    // containerd saw no error, and the shims' cleanup (`delete --force` after the
    // container is gone) was not refused for a missing container. (That cleanup sometimes
    // races containerd's own delete and warns with an empty exit 255, with runc too.)
    let log = cd.log();
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("level=error") || (l.contains("failed to remove") && l.contains("does not exist")))
        .collect();
    assert!(bad.is_empty(), "containerd's log:\n{}\n{}", bad.join("\n"), cd.log_tail());
    drop(cri);
    cd.stop();
    let left = cd.leftovers();
    assert!(left.is_empty(), "after containerd stopped: {left:?}");
}

#[test]
fn a_pod_through_containerds_cri_with_lindocker_runtime() {
    pod_flow("lindocker", CgroupDriver::Cgroupfs);
}

#[test]
fn the_same_pod_through_containerds_cri_with_runc() {
    pod_flow("runc", CgroupDriver::Cgroupfs);
}

#[test]
fn pod_flow_under_systemd_cgroups_with_lindocker_runtime() {
    pod_flow("lindocker", CgroupDriver::Systemd);
}

#[test]
fn pod_flow_under_systemd_cgroups_with_runc() {
    pod_flow("runc", CgroupDriver::Systemd);
}
