//! Docker's predefined networks besides `bridge`: `host` (the host's own stack) and
//! `none` (loopback only). They are no stored networks: `--network host|none` names them,
//! `network ls` lists them, `network inspect` shows them, `network rm` refuses them.

use crate::Engine;

/// A predefined network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Predefined {
    /// `host` or `none`.
    pub name: &'static str,
    /// 64 hex digits, the same on every host (sha256 of `lindocker predefined network NAME`).
    pub id: &'static str,
    /// Docker's driver name: `host`, `null`.
    pub driver: &'static str,
}

/// `host` and `none`.
pub const PREDEFINED: [Predefined; 2] = [
    Predefined { name: "host", id: "7318718f1972dda843f79c980e2a85a4bef753fb74d1eb593598a903e8b3d12c", driver: "host" },
    Predefined { name: "none", id: "445202a5dae05c49c473ea85cec5d190a2e0ed3211fe6d0a1361d710a4c93629", driver: "null" },
];

/// The predefined network `name` names: its name, or its id or a prefix of it (at
/// least one digit, as Docker takes id prefixes).
pub fn find(name: &str) -> Option<Predefined> {
    PREDEFINED.iter().copied().find(|p| {
        p.name == name || (!name.is_empty() && name.bytes().all(|b| b.is_ascii_hexdigit()) && p.id.starts_with(name))
    })
}

impl Engine {
    /// The predefined network `name` names here, resolved as Docker resolves a network
    /// reference: an exact name first, then a full id, then an id prefix. A user network
    /// named `7` (or whose id is or starts with `name`) wins over `host`'s id prefix.
    pub fn find_predefined(&self, name: &str) -> Option<Predefined> {
        let found = find(name)?;
        if found.name == name || found.id == name {
            return Some(found);
        }
        let users = self.networks.list().unwrap_or_default();
        if users.iter().any(|n| n.name == name || n.id.starts_with(name)) {
            return None;
        }
        Some(found)
    }

    /// Ids and names of the containers that use predefined network `name`.
    pub fn predefined_members(&self, name: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .records
            .all()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.network.mode == name)
            .map(|r| (r.id, r.name))
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_name_and_id_prefix() {
        assert_eq!(find("host").map(|p| p.driver), Some("host"));
        assert_eq!(find("none").map(|p| p.driver), Some("null"));
        assert_eq!(find("445202a5").map(|p| p.name), Some("none"));
        assert_eq!(find("bridge"), None);
        assert_eq!(find(""), None);
    }
}
