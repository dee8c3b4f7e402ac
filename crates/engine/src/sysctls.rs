//! `--sysctl NAME=VALUE`: only sysctls the kernel keeps per namespace, as Docker's CLI
//! allows them (IPC ones, `fs.mqueue.*`, `net.*`). Whether the container has the
//! namespace they need is the runtime's check (it sees the final namespaces).

// The IPC-namespaced sysctls Docker allows by name are the runtime's list.
use lindocker_runtime::spec::IPC_SYSCTLS as IPC;

use crate::EngineError;

/// Parses and checks `--sysctl NAME=VALUE`: a name of dot-separated parts of letters,
/// digits, `_` and `-` (nothing that could leave `/proc/sys`), on Docker's list; a
/// value without control characters.
pub fn parse_sysctl(value: &str) -> Result<(String, String), EngineError> {
    let refused = || EngineError::Invalid(format!("sysctl '{value}' is not allowed"));
    let (name, val) = value.split_once('=').ok_or_else(refused)?;
    let well_formed = name
        .split('.')
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    if !well_formed || val.chars().any(char::is_control) {
        return Err(refused());
    }
    let allowed = IPC.contains(&name)
        || (name.starts_with("fs.mqueue.") && name.len() > "fs.mqueue.".len())
        || (name.starts_with("net.") && name.len() > "net.".len());
    if !allowed {
        return Err(refused());
    }
    Ok((name.into(), val.into()))
}

/// Whether sysctl `name` belongs to the IPC namespace (it must then not be set where the
/// container shares the host's).
pub fn is_ipc(name: &str) -> bool {
    IPC.contains(&name) || name.starts_with("fs.mqueue.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_namespaced_sysctls() {
        assert_eq!(parse_sysctl("net.ipv4.ip_forward=1").unwrap(), ("net.ipv4.ip_forward".into(), "1".into()));
        assert_eq!(parse_sysctl("kernel.sem=250 32000 32 128").unwrap().1, "250 32000 32 128");
        assert!(parse_sysctl("fs.mqueue.msg_max=20").is_ok());
        assert!(parse_sysctl("net.ipv4.conf.eth-0.forwarding=1").is_ok());
        for bad in [
            "kernel.panic=1",
            "net.ipv4.ip_forward",
            "net/../../kernel/panic=1",
            "net.ipv4..x=1",
            "net.=1",
            "net.a=1\nkernel.panic=1",
            "kernel.shmmax.=1",
            "vm.swappiness=1",
            "fs.mqueue.=1",
            "net.ipv4.ip_forward/../../x=1",
        ] {
            assert!(parse_sysctl(bad).is_err(), "{bad:?}");
        }
    }
}
