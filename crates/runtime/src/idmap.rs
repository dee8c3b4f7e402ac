//! Id-mapped bind mounts (`idmap`/`ridmap`, mount `uidMappings`/`gidMappings`).
//!
//! Making a mount id-mapped needs CAP_SYS_ADMIN in the user namespace of the file
//! system (the host's), which the container's init lacks once it is in its own user
//! namespace. So the runtime makes them before the clone, as detached mounts
//! (`open_tree` + `mount_setattr`), and the init moves each onto its destination inside
//! the rootfs instead of binding the source (as runc does).

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxIdMapping, Spec};
use rustix::mount::OpenTreeFlags;

use crate::error::Context;
use crate::init::mount_options;
use crate::{Error, Result};

/// The mappings of mount `m` of `spec`, if it is id-mapped: its own, or else the
/// container's user namespace's.
pub fn mappings<'a>(
    spec: &'a Spec,
    m: &'a oci_spec::runtime::Mount,
) -> Option<(&'a [LinuxIdMapping], &'a [LinuxIdMapping])> {
    let own = (m.uid_mappings().as_deref().unwrap_or_default(), m.gid_mappings().as_deref().unwrap_or_default());
    let options = mount_options::parse(m.options().as_deref().unwrap_or_default());
    if !own.0.is_empty() || !own.1.is_empty() {
        return Some(own);
    }
    options.idmap?;
    let linux = spec.linux().as_ref()?;
    Some((linux.uid_mappings().as_deref().unwrap_or_default(), linux.gid_mappings().as_deref().unwrap_or_default()))
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect()
}

/// The detached, id-mapped mounts of `spec`'s id-mapped bind mounts, by mount index.
pub fn prepare(spec: &Spec, bundle: &Path) -> Result<Vec<(usize, OwnedFd)>> {
    let mut out = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let Some((uids, gids)) = mappings(spec, m) else { continue };
        let options = mount_options::parse(m.options().as_deref().unwrap_or_default());
        let source =
            m.source().as_ref().ok_or_else(|| Error::Init(format!("mounts[{i}]: a bind mount needs a source")))?;
        let source = if source.is_absolute() { source.clone() } else { bundle.join(source) };
        let what = || format!("id-mapped mount of {} on {}", source.display(), m.destination().display());
        let userns = lindocker_sys::user_namespace(&map_text(uids), &map_text(gids)).context(what)?;
        let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
        if options.flags & libc::MS_REC != 0 {
            flags |= OpenTreeFlags::AT_RECURSIVE;
        }
        let tree = rustix::mount::open_tree(rustix::fs::CWD, &source, flags).context(what)?;
        lindocker_sys::idmap_mount_tree(tree.as_fd(), userns.as_fd(), options.idmap == Some(true)).context(what)?;
        out.push((i, tree));
    }
    Ok(out)
}
