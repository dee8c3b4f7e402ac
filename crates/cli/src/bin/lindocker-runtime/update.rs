//! `update`'s input: a `linux.resources` document, or runc's flags turned into one.

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use crate::args::UpdateArgs;

/// The resources `update` asks for.
pub fn resources(a: &UpdateArgs) -> Result<oci_spec::runtime::LinuxResources> {
    let mut doc = match &a.resources {
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("read resources from stdin")?
            } else {
                std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?
            };
            serde_json::from_str::<Value>(&text).context("resources: not JSON")?
        }
        None => json!({}),
    };
    let Some(obj) = doc.as_object_mut() else { bail!("resources: expected a JSON object") };
    let mut set = |section: &str, key: &str, value: Value| {
        let entry = obj.entry(section).or_insert_with(|| Value::Object(Map::new()));
        entry[key] = value;
    };
    if let Some(m) = &a.memory {
        set("memory", "limit", json!(bytes(m)?));
    }
    if let Some(m) = &a.memory_reservation {
        set("memory", "reservation", json!(bytes(m)?));
    }
    if let Some(m) = &a.memory_swap {
        set("memory", "swap", json!(bytes(m)?));
    }
    if let Some(v) = a.cpu_shares {
        set("cpu", "shares", json!(v));
    }
    if let Some(v) = a.cpu_quota {
        set("cpu", "quota", json!(v));
    }
    if let Some(v) = a.cpu_period {
        set("cpu", "period", json!(v));
    }
    if let Some(v) = &a.cpuset_cpus {
        set("cpu", "cpus", json!(v));
    }
    if let Some(v) = &a.cpuset_mems {
        set("cpu", "mems", json!(v));
    }
    if let Some(v) = a.pids_limit {
        set("pids", "limit", json!(v));
    }
    if let Some(v) = a.blkio_weight {
        set("blockIO", "weight", json!(v));
    }
    serde_json::from_value(doc).context("resources: not a linux.resources document")
}

/// "100", "64k", "256m", "1g", "-1".
fn bytes(text: &str) -> Result<i64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: i64 = num.parse().with_context(|| format!("{text:?} is not a size (bytes, or with k/m/g)"))?;
    Ok(if n < 0 { -1 } else { n * mult })
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn sizes() {
        assert_eq!(bytes("100").unwrap(), 100);
        assert_eq!(bytes("64k").unwrap(), 65536);
        assert_eq!(bytes("256M").unwrap(), 268435456);
        assert_eq!(bytes("1g").unwrap(), 1 << 30);
        assert_eq!(bytes("-1").unwrap(), -1);
        assert!(bytes("lots").is_err());
    }
}
