//! Prints Docker's default confinement for this host as a JSON object with
//! `capabilities` (for `process.capabilities`) and `seccomp` (for `linux.seccomp`), for
//! scripts such as bench/runtime.sh.

fn main() {
    let out = serde_json::json!({
        "capabilities": lindocker_testkit::docker_profile::docker_capabilities(),
        "seccomp": lindocker_testkit::docker_profile::docker_seccomp(),
    });
    println!("{out}");
}
