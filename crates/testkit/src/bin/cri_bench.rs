//! Pod start through containerd's CRI, lindocker-runtime vs runc, in one containerd (the
//! testkit's private one, in a fake host): per round and handler, the time of
//! RunPodSandbox + CreateContainer + StartContainer (what a kubelet waits for before a pod
//! runs), then the teardown (StopContainer, RemoveContainer, StopPodSandbox,
//! RemovePodSandbox) timed apart. Handlers alternate round by round. Prints one line per
//! handler and measure: median and p90 in ms, and lindocker's ratio to runc.
//!
//! Usage: lindocker-cri-bench LINDOCKER_RUNTIME [ROUNDS]   (as root; bench/cri.sh runs it)

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lindocker_testkit::Containerd;
use lindocker_testkit::cri::{Cri, api, container_config, pod_config};

const HANDLERS: [&str; 2] = ["lindocker", "runc"];

fn must<T>(cd: &Containerd, what: &str, r: Result<T, tonic::Status>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e:?}\n{}", cd.log_tail()))
}

/// One pod with one container: (start, teardown) durations.
fn pod(cd: &Containerd, cri: &Cri, handler: &str, n: usize) -> (Duration, Duration) {
    let name = format!("bench-{handler}-{n}");
    let config = pod_config(&name, &cd.cgroup_parent, &cd.log_dir(&name));
    let container = container_config("main", &cd.image, &["sleep", "600"], "main.log", 64 << 20);
    let mut rt = cri.runtime.clone();

    let t = Instant::now();
    let req = api::RunPodSandboxRequest { config: Some(config.clone()), runtime_handler: handler.into() };
    let id = must(cd, "RunPodSandbox", cri.call("RunPodSandbox", rt.run_pod_sandbox(req))).pod_sandbox_id;
    let req = api::CreateContainerRequest {
        pod_sandbox_id: id.clone(),
        config: Some(container),
        sandbox_config: Some(config),
    };
    let cid = must(cd, "CreateContainer", cri.call("CreateContainer", rt.create_container(req))).container_id;
    let req = api::StartContainerRequest { container_id: cid.clone() };
    must(cd, "StartContainer", cri.call("StartContainer", rt.start_container(req)));
    let start = t.elapsed();

    let t = Instant::now();
    let req = api::StopContainerRequest { container_id: cid.clone(), timeout: 0 };
    must(cd, "StopContainer", cri.call("StopContainer", rt.stop_container(req)));
    let req = api::RemoveContainerRequest { container_id: cid };
    must(cd, "RemoveContainer", cri.call("RemoveContainer", rt.remove_container(req)));
    let req = api::StopPodSandboxRequest { pod_sandbox_id: id.clone() };
    must(cd, "StopPodSandbox", cri.call("StopPodSandbox", rt.stop_pod_sandbox(req)));
    let req = api::RemovePodSandboxRequest { pod_sandbox_id: id };
    must(cd, "RemovePodSandbox", cri.call("RemovePodSandbox", rt.remove_pod_sandbox(req)));
    (start, t.elapsed())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (median, p90) in ms.
fn summary(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let at = |q: f64| ms(v[((v.len() - 1) as f64 * q).round() as usize]);
    (at(0.5), at(0.9))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let runtime = PathBuf::from(args.next().expect("usage: lindocker-cri-bench LINDOCKER_RUNTIME [ROUNDS]"));
    let rounds: usize = args.next().map(|r| r.parse().expect("ROUNDS: a number")).unwrap_or(20);
    assert!(rounds > 0, "ROUNDS: at least 1");
    assert!(
        lindocker_testkit::containerd_available(),
        "containerd or the CNI plugins are missing (scripts/install.sh)"
    );
    let cd = Containerd::start("cri-bench", &runtime);
    let cri = Cri::connect(&cd.socket);
    let req = api::PullImageRequest {
        image: Some(api::ImageSpec { image: cd.image.clone(), ..Default::default() }),
        ..Default::default()
    };
    must(&cd, "PullImage", cri.call("PullImage", cri.images.clone().pull_image(req)));
    // Warm-up: the pause image pulled, caches filled, one pod per handler.
    for handler in HANDLERS {
        pod(&cd, &cri, handler, 0);
    }
    let mut starts: Vec<Vec<Duration>> = vec![Vec::new(); HANDLERS.len()];
    let mut stops: Vec<Vec<Duration>> = vec![Vec::new(); HANDLERS.len()];
    for n in 1..=rounds {
        // Alternate which handler goes first, so neither always follows the other.
        let order: Vec<usize> = if n % 2 == 0 { vec![0, 1] } else { vec![1, 0] };
        for i in order {
            let (start, stop) = pod(&cd, &cri, HANDLERS[i], n);
            starts[i].push(start);
            stops[i].push(stop);
        }
    }
    let left = cd.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
    println!(
        "pod start (RunPodSandbox+CreateContainer+StartContainer) and teardown through containerd's CRI, {rounds} rounds"
    );
    println!("{:<28} {:>10} {:>10}", "", "median ms", "p90 ms");
    let mut medians = Vec::new();
    for (what, all) in [("start", &starts), ("teardown", &stops)] {
        for (i, handler) in HANDLERS.iter().enumerate() {
            let (median, p90) = summary(all[i].clone());
            println!("{:<28} {median:>10.1} {p90:>10.1}", format!("{what} {handler}"));
            medians.push(median);
        }
    }
    println!("ratio lindocker/runc: start {:.2}, teardown {:.2}", medians[0] / medians[1], medians[2] / medians[3]);
}
