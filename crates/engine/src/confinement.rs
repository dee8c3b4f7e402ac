//! Docker's default confinement as data: its capability set, and its default seccomp
//! profile converted from Docker's file format to an OCI `linux.seccomp`.
//!
//! The profile is Docker's own default, `seccomp-default.json`: moby's
//! `profiles/seccomp/default.json` (github.com/moby/profiles/seccomp v0.2.3, as vendored
//! by moby/moby at b985e2313a86; Apache-2.0), unmodified and built into the binary so an
//! install needs no other file. It refuses, among others, `keyctl`, `add_key` and
//! `request_key` (the kernel's keyrings are not namespaced: a container's root would reach
//! the host root's keys), which the containers/common profile used before allowed. This
//! module applies Docker's rules (`includes`/`excludes` by capability, architecture and
//! kernel version) for this host and the container's capabilities.

use serde_json::{Value, json};

/// Docker's default profile (moby's `profiles/seccomp/default.json`).
const PROFILE: &str = include_str!("seccomp-default.json");

/// The capabilities Docker gives a container by default.
pub const DOCKER_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// `process.capabilities` with Docker's set.
pub fn docker_capabilities() -> Value {
    json!({"bounding": DOCKER_CAPS, "effective": DOCKER_CAPS, "permitted": DOCKER_CAPS})
}

fn kernel_at_least(release: &str, min: &str) -> bool {
    let parse = |s: &str| -> Vec<u32> { s.split(['.', '-']).take(2).filter_map(|p| p.parse().ok()).collect() };
    parse(release) >= parse(min)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_string)).collect()
}

/// Converts a Docker-format profile to `linux.seccomp` for an x86_64 host running
/// kernel `release`, for a container with capabilities `caps`.
pub fn convert(profile: &Value, caps: &[&str], release: &str) -> Value {
    let arches: Vec<String> = profile["archMap"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["architecture"] == "SCMP_ARCH_X86_64")
        .flat_map(|m| {
            std::iter::once(m["architecture"].as_str().unwrap_or_default().to_string())
                .chain(strings(&m["subArchitectures"]))
        })
        .collect();
    let has_cap = |c: &String| caps.contains(&c.as_str());
    let ours = |a: &String| a == "amd64" || a == "x86_64";
    let syscalls: Vec<Value> = profile["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| {
            let inc = &s["includes"];
            let exc = &s["excludes"];
            let inc_arches = strings(&inc["arches"]);
            (inc_arches.is_empty() || inc_arches.iter().any(ours))
                && strings(&inc["caps"]).iter().all(has_cap)
                && inc["minKernel"].as_str().is_none_or(|k| kernel_at_least(release, k))
                && !strings(&exc["arches"]).iter().any(ours)
                && !strings(&exc["caps"]).iter().any(has_cap)
        })
        .map(|s| {
            let mut rule = json!({"names": s["names"], "action": s["action"]});
            if let Some(args) = s["args"].as_array().filter(|a| !a.is_empty()) {
                rule["args"] = json!(
                    args.iter()
                        .map(|a| {
                            let mut arg = json!({"index": a["index"], "value": a["value"], "op": a["op"]});
                            if a["valueTwo"].as_u64().is_some_and(|v| v != 0) {
                                arg["valueTwo"] = a["valueTwo"].clone();
                            }
                            arg
                        })
                        .collect::<Vec<_>>()
                );
            }
            if let Some(e) = s["errnoRet"].as_u64() {
                rule["errnoRet"] = json!(e);
            }
            rule
        })
        .collect();
    let mut out = json!({"defaultAction": profile["defaultAction"], "architectures": arches, "syscalls": syscalls});
    if let Some(e) = profile["defaultErrnoRet"].as_u64() {
        out["defaultErrnoRet"] = json!(e);
    }
    out
}

/// Docker's default `linux.seccomp` for this host and a container with Docker's
/// default capabilities.
pub fn docker_seccomp() -> Value {
    docker_seccomp_for(DOCKER_CAPS)
}

/// Docker's default `linux.seccomp` for this host and a container with `caps`.
pub fn docker_seccomp_for(caps: &[&str]) -> Value {
    let profile: Value = serde_json::from_str(PROFILE).expect("the built-in profile is JSON");
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    convert(&profile, caps, release.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_follow_caps_arches_and_kernel() {
        let profile = json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": []}],
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
            {"names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm"]}},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_KILL"]}},
            {"names": ["new"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "9.0"}},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}
        ]});
        let out = convert(&profile, &["CAP_KILL"], "6.1.0-13-amd64");
        assert_eq!(out["architectures"], json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]));
        let names: Vec<&str> =
            out["syscalls"].as_array().unwrap().iter().map(|s| s["names"][0].as_str().unwrap()).collect();
        assert_eq!(names, vec!["read", "arch_prctl", "personality"]);
        assert_eq!(out["syscalls"][2]["args"], json!([{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]));
        assert_eq!(out["defaultErrnoRet"], 1);
        assert!(kernel_at_least("6.18.44-fc", "5.8"));
        assert!(!kernel_at_least("4.19.0", "5.8"));
    }

    /// Docker's profile gives a default container no way to the kernel's keyrings (they
    /// are not namespaced): no rule allows them, and the default action is EPERM.
    #[test]
    fn the_builtin_profile_refuses_the_keyring_calls() {
        let out = docker_seccomp_for(DOCKER_CAPS);
        assert_eq!(out["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(out["defaultErrnoRet"], 1);
        for rule in out["syscalls"].as_array().unwrap() {
            for name in ["keyctl", "add_key", "request_key"] {
                assert!(
                    rule["action"] != "SCMP_ACT_ALLOW" || !strings(&rule["names"]).iter().any(|n| n == name),
                    "{name} is allowed by {rule}"
                );
            }
        }
    }
}
