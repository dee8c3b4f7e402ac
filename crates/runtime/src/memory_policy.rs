//! `linux.memoryPolicy`: the NUMA policy of the container's processes, applied with
//! `set_mempolicy(2)` before exec, as runc does.

use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType as F, MemoryPolicyModeType as M};

/// The highest node number accepted (the kernel's largest `MAX_NUMNODES` is 1024).
const MAX_NODES: usize = 1024;

/// Every mode, as the spec names it, with its `MPOL_*` number.
pub const MODES: &[(&str, i32)] = &[
    ("MPOL_DEFAULT", 0),
    ("MPOL_PREFERRED", 1),
    ("MPOL_BIND", 2),
    ("MPOL_INTERLEAVE", 3),
    ("MPOL_LOCAL", 4),
    ("MPOL_PREFERRED_MANY", 5),
    ("MPOL_WEIGHTED_INTERLEAVE", 6),
];

/// Every flag, as the spec names it, with its `MPOL_F_*` bit.
pub const FLAGS: &[(&str, i32)] =
    &[("MPOL_F_NUMA_BALANCING", 1 << 13), ("MPOL_F_RELATIVE_NODES", 1 << 14), ("MPOL_F_STATIC_NODES", 1 << 15)];

/// A checked policy: `mode | flags` and the node mask for `set_mempolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The mode with its flags or-ed in.
    pub mode: i32,
    /// Bit N of word N/64 is node N.
    pub nodes: Vec<u64>,
}

/// Checks `p`; the error names the field (under `linux.memoryPolicy`) and says why.
pub fn check(p: &LinuxMemoryPolicy) -> Result<Policy, (&'static str, String)> {
    let name = |m: M| serde_json::to_value(m).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let mode = MODES.iter().find(|(n, _)| *n == name(p.mode())).map(|(_, v)| *v).ok_or(("mode", "unknown".into()))?;
    let mut flags = 0;
    for f in p.flags().iter().flatten() {
        let n = match f {
            F::MpolFNumaBalancing => "MPOL_F_NUMA_BALANCING",
            F::MpolFRelativeNodes => "MPOL_F_RELATIVE_NODES",
            F::MpolFStaticNodes => "MPOL_F_STATIC_NODES",
        };
        flags |= FLAGS.iter().find(|(k, _)| *k == n).map(|(_, v)| *v).unwrap_or(0);
    }
    let nodes = parse_nodes(p.nodes().as_deref().unwrap_or("")).map_err(|e| ("nodes", e))?;
    let empty = nodes.iter().all(|w| *w == 0);
    match p.mode() {
        M::MpolDefault | M::MpolLocal if !empty => {
            return Err(("nodes", format!("{} takes no nodes", name(p.mode()))));
        }
        M::MpolBind | M::MpolInterleave | M::MpolWeightedInterleave | M::MpolPreferredMany if empty => {
            return Err(("nodes", format!("{} needs at least one node", name(p.mode()))));
        }
        _ => {}
    }
    Ok(Policy { mode: mode | flags, nodes })
}

/// "0-3,7" -> a bit mask; empty text is no node.
fn parse_nodes(text: &str) -> Result<Vec<u64>, String> {
    let mut mask = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |s: &str| {
            s.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n < MAX_NODES)
                .ok_or_else(|| format!("{part:?} is not a node or a range of nodes below {MAX_NODES}"))
        };
        let (low, high) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(part)?, num(part)?),
        };
        if low > high {
            return Err(format!("{part:?}: the range runs backwards"));
        }
        for n in low..=high {
            if mask.len() <= n / 64 {
                mask.resize(n / 64 + 1, 0);
            }
            mask[n / 64] |= 1 << (n % 64);
        }
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Result<Policy, (&'static str, String)> {
        check(&serde_json::from_str(json).unwrap())
    }

    #[test]
    fn modes_flags_and_nodes() {
        let p = policy(r#"{"mode":"MPOL_BIND","nodes":"0-2,65","flags":["MPOL_F_STATIC_NODES"]}"#).unwrap();
        assert_eq!(p.mode, 2 | 1 << 15);
        assert_eq!(p.nodes, vec![0b111, 0b10]);
        assert_eq!(policy(r#"{"mode":"MPOL_DEFAULT"}"#).unwrap(), Policy { mode: 0, nodes: vec![] });
        assert_eq!(policy(r#"{"mode":"MPOL_LOCAL","nodes":"1"}"#).unwrap_err().0, "nodes");
        assert_eq!(policy(r#"{"mode":"MPOL_BIND"}"#).unwrap_err().0, "nodes");
        for bad in ["x", "1-", "3-1", "5000", "-1"] {
            let e = policy(&format!(r#"{{"mode":"MPOL_BIND","nodes":"{bad}"}}"#)).unwrap_err();
            assert_eq!(e.0, "nodes", "{bad}");
        }
    }
}
