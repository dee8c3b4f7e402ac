//! `--user-ns`: the container's root is an unprivileged id range of the host.
//!
//! Every `--user-ns` container maps container ids 0..size to host ids host..host+size, as
//! Docker's `userns-remap` does: the range of user `lindocker` in /etc/subuid and
//! /etc/subgid, else 100000..165535. Its image layers and read-write layer are mounted
//! through id-mapped mounts of that range (`ContainerFs::mount_idmapped`), so nothing on
//! disk is chowned and `commit`, `export` and `diff` see root's files as before.

use std::os::fd::OwnedFd;

use crate::EngineError;

/// The default range, as Docker's `dockremap` user usually gets.
const DEFAULT: IdRange = IdRange { host: 100_000, size: 65_536 };

/// A range of host ids starting at `host`, `size` long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// First host id (container id 0).
    pub host: u32,
    /// How many ids.
    pub size: u32,
}

impl IdRange {
    /// The line of a uid_map/gid_map, and of an OCI `uidMappings` entry.
    pub fn map_line(&self) -> String {
        format!("0 {} {}\n", self.host, self.size)
    }
}

/// The first range of `user` in a subordinate-id file's text (`name:start:count`).
fn range_of(text: &str, user: &str) -> Option<IdRange> {
    text.lines().find_map(|line| {
        let mut parts = line.trim().split(':');
        if parts.next()? != user {
            return None;
        }
        let host = parts.next()?.parse().ok()?;
        let size = parts.next()?.parse().ok()?;
        Some(IdRange { host, size })
    })
}

/// The uid and gid ranges `--user-ns` containers get.
pub fn ranges() -> (IdRange, IdRange) {
    let read =
        |path: &str| std::fs::read_to_string(path).ok().and_then(|t| range_of(&t, "lindocker")).filter(|r| r.size > 0);
    (read("/etc/subuid").unwrap_or(DEFAULT), read("/etc/subgid").unwrap_or(DEFAULT))
}

/// Where the id-mapped layers put the host's root: an id no image uses. The overlay is
/// made by the host's root, and writes its own work files as that root; an id-mapped
/// mount refuses a writer whose id it cannot map back (EOVERFLOW), and the overlay would
/// come up read-only. Those work files land on disk owned by this id.
const HOST_ROOT_AS: u32 = 1 << 31;

/// A user namespace with those ranges, for the id-mapped mounts of the layers.
pub fn namespace() -> Result<OwnedFd, EngineError> {
    let (uids, gids) = ranges();
    let with_root = |r: IdRange| format!("{}{HOST_ROOT_AS} 0 1\n", r.map_line());
    lindocker_sys::user_namespace(&with_root(uids), &with_root(gids))
        .map_err(|e| EngineError::Invalid(format!("--user-ns: cannot make a user namespace: {e}")))
}

/// Gives a volume's top directory, if the host's root owns it, to the containers' root
/// (as Docker's `userns-remap` keeps volumes): what the image put in it was copied
/// through the id-mapped view, so it is the containers' already.
pub fn hand_over(dir: &std::path::Path) -> Result<(), EngineError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).map_err(|e| EngineError::io(dir, e))?;
    if meta.uid() == 0 {
        let (uids, gids) = ranges();
        std::os::unix::fs::chown(dir, Some(uids.host), Some(gids.host)).map_err(|e| EngineError::io(dir, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subordinate_ranges_are_read_by_user() {
        let text = "root:100000:65536\nlindocker:200000:65536\n";
        assert_eq!(range_of(text, "lindocker"), Some(IdRange { host: 200_000, size: 65_536 }));
        assert_eq!(range_of(text, "nobody"), None);
        assert_eq!(range_of("lindocker:x:1\n", "lindocker"), None);
        assert_eq!(DEFAULT.map_line(), "0 100000 65536\n");
    }
}
