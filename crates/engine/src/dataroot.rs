//! Who may enter the data root. It holds what containers and images made (setuid
//! binaries among them), records and configs with environment secrets, and logs: only
//! root may reach any of it, as Docker closes `/var/lib/docker` (0710, its stores 0710
//! or 0700). The modes are set on every open, so an install made before (everything
//! 0755) is closed by its next command; that costs one `stat` per directory.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::EngineError;

/// The root and its stores, with the mode each must have. Without search permission for
/// others on the root nothing below it is reachable; the stores are closed as well so
/// that a root someone opened again (or a store bind-mounted elsewhere) stays closed.
/// The root, `containers` and `volumes` let their group pass: root's, until a
/// `--user-ns` container needs its runtime (the namespace's root, an unprivileged host
/// id) to reach its root filesystem and volumes ([`admit_group`]), as Docker's
/// userns-remap makes the remapped root the group of `/var/lib/docker`.
const MODES: &[(&str, u32)] =
    &[("", 0o710), ("containers", 0o710), ("image", 0o700), ("layers", 0o700), ("volumes", 0o710)];

/// The directories [`admit_group`] hands to a group.
const PASSABLE: &[&str] = &["", "containers", "volumes"];

/// Creates the data root and its stores if missing and gives them their modes.
pub fn close(root: &Path) -> Result<(), EngineError> {
    for (sub, mode) in MODES {
        let dir = root.join(sub);
        std::fs::create_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
        let meta = std::fs::metadata(&dir).map_err(|e| EngineError::io(&dir, e))?;
        if meta.permissions().mode() & 0o7777 != *mode {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(*mode))
                .map_err(|e| EngineError::io(&dir, e))?;
        }
    }
    Ok(())
}

/// Lets group `gid` (the host gid of `--user-ns` containers' root) pass through the
/// root, `containers` and `volumes` on the way to a container's files.
pub fn admit_group(root: &Path, gid: u32) -> Result<(), EngineError> {
    use std::os::unix::fs::MetadataExt;
    for sub in PASSABLE {
        let dir = root.join(sub);
        let meta = std::fs::metadata(&dir).map_err(|e| EngineError::io(&dir, e))?;
        if meta.gid() != gid {
            std::os::unix::fs::chown(&dir, None, Some(gid)).map_err(|e| EngineError::io(&dir, e))?;
        }
    }
    Ok(())
}
