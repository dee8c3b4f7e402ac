//! `--cpu-rt-runtime` needs realtime budget in every cgroup above the container. The
//! engine raises it only in levels of its cgroup parent that it made itself: a level an
//! admin made (say `system.slice`) is the admin's to grant, never written by lindocker.

use std::fs;
use std::path::Path;

use lindocker_testkit::Engine;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");
const BUSYBOX: &str = "localhost/busybox";
const CPU: &str = "/sys/fs/cgroup/cpu";

#[test]
fn realtime_budget_is_never_raised_in_a_cgroup_lindocker_did_not_make() {
    if !Path::new(CPU).join("cpu.rt_runtime_us").exists() {
        return; // no realtime group scheduling here (cgroup v2, or a kernel without it)
    }
    let mut engine = Engine::with_busybox(BIN, "rtbudget");
    // The admin's level, made by this test (not by lindocker), without budget.
    let admin_name = format!("lindocker-test-{}-rtadmin", std::process::id());
    let admin = Path::new(CPU).join(&admin_name);
    fs::create_dir(&admin).unwrap();
    let budget = || fs::read_to_string(admin.join("cpu.rt_runtime_us")).unwrap().trim().to_owned();
    assert_eq!(budget(), "0");
    engine.cgroup_parent = format!("/{admin_name}/lindocker");
    let rt = ["run", "--rm", "--cpu-rt-runtime", "10000", BUSYBOX, "true"];
    let refused = engine.run(&rt);
    let raised = budget();
    // Once the admin grants it, lindocker fills its own level below.
    fs::write(admin.join("cpu.rt_runtime_us"), "10000").unwrap();
    let granted = engine.run(&rt);
    let ours = fs::read_to_string(admin.join("lindocker/cpu.rt_runtime_us")).unwrap_or_default();
    drop(engine);
    // The engine made both levels in its other controllers' hierarchies too.
    for controller in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let level = controller.path().join(&admin_name);
        let _ = fs::remove_dir(level.join("lindocker"));
        let _ = fs::remove_dir(&level);
    }
    assert!(!admin.exists(), "the test's cgroup {} is left", admin.display());
    assert_eq!(raised, "0", "lindocker raised the budget of a cgroup it did not make");
    assert_eq!(refused.status.code(), Some(125), "{refused:?}");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains(&admin_name) && err.contains("cpu.rt_runtime_us"), "{err}");
    assert!(granted.status.success(), "{granted:?}");
    assert_eq!(ours.trim(), "10000");
}
