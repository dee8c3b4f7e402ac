//! The container's file system view: mounts under the rootfs, devices, `pivot_root`,
//! then read-only root, sysctls, masked and read-only paths.

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use lindocker_cgroups::{Hierarchy, Manager};
use lindocker_sys::mount as sys_mount;
use oci_spec::runtime::{Mount, Spec};
use rustix::fs::{Mode, OFlags};

use super::mount_options::{self, MountOptions};
use super::{Step, step};
use crate::paths::{fd_path, mkdir_all_in_root, open_in_root, touch_in_root};

/// What the mount steps need to know besides the spec.
pub struct Context<'a> {
    /// Absolute rootfs path on the host.
    pub rootfs: &'a Path,
    /// Bundle directory (relative bind sources are relative to it).
    pub bundle: &'a Path,
    /// The container runs in a user namespace (mknod and some flags are not allowed).
    pub in_user_ns: bool,
    /// The container has its own network namespace (sysfs may be mounted fresh).
    pub has_net_ns: bool,
    /// The container has a new cgroup namespace.
    pub new_cgroup_ns: bool,
    /// The container's cgroup, for `cgroup` mounts.
    pub cgroup: Option<&'a Manager>,
    /// Detached id-mapped mounts the runtime made, by index in `mounts`: moved onto their
    /// destination instead of binding the source.
    pub idmapped: &'a [(usize, OwnedFd)],
}

fn cstr(s: impl AsRef<std::ffi::OsStr>) -> CString {
    use std::os::unix::ffi::OsStrExt;
    CString::new(s.as_ref().as_bytes()).unwrap_or_default()
}

fn mount(src: Option<&str>, target: &str, fstype: Option<&str>, flags: u64, data: Option<&str>) -> std::io::Result<()> {
    let (src, target, fstype, data) = (src.map(cstr), cstr(target), fstype.map(cstr), data.map(cstr));
    sys_mount(src.as_deref(), &target, fstype.as_deref(), flags, data.as_deref())
}

/// Makes the rootfs a mount point of its own, private from the host's mounts.
pub fn prepare_root(spec: &Spec, ctx: &Context) -> Result<(), Step> {
    let root_propagation = root_propagation(spec);
    // Nothing we mount may propagate back to the host. Unbindable mounts cannot be the
    // source of a bind (the rootfs, the host's cgroups, volumes): until `finish` makes
    // the container's own root unbindable, they are private (unbindable implies that).
    let now = match root_propagation {
        Some(p) if p & libc::MS_UNBINDABLE != 0 => libc::MS_PRIVATE | libc::MS_REC,
        Some(p) => p,
        None => libc::MS_SLAVE | libc::MS_REC,
    };
    mount(None, "/", None, now, None).map_err(step("make / a slave mount"))?;
    let slave = root_propagation.is_some_and(|p| p & libc::MS_SLAVE != 0);
    make_parent_mount_private(ctx.rootfs, slave).map_err(step("make the rootfs's parent mount private"))?;
    let root = ctx.rootfs.to_string_lossy();
    mount(Some(&root), &root, None, libc::MS_BIND | libc::MS_REC, None)
        .map_err(step(format!("bind mount rootfs {root}")))
}

fn root_propagation(spec: &Spec) -> Option<u64> {
    let p = spec.linux().as_ref()?.rootfs_propagation().as_deref()?;
    mount_options::parse(&[p]).propagation.first().copied().map(|f| f | libc::MS_REC)
}

/// `pivot_root` fails when the new root's parent mount is shared, and binding the rootfs
/// fails when it is unbindable (`rootfsPropagation: unbindable` made every mount so):
/// make it private (a slave when the propagation asked for slaves), always, as runc does.
fn make_parent_mount_private(rootfs: &Path, slave: bool) -> std::io::Result<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mut best: Option<&str> = None;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(mp) = fields.get(4) else { continue };
        if rootfs.starts_with(mp) && best.is_none_or(|b| mp.len() >= b.len()) {
            best = Some(mp);
        }
    }
    match best {
        Some(mp) => mount(None, mp, None, if slave { libc::MS_SLAVE } else { libc::MS_PRIVATE }, None),
        None => Ok(()),
    }
}

/// Performs every mount of the spec, in order, inside the rootfs.
pub fn mount_all(spec: &Spec, ctx: &Context) -> Result<(), Step> {
    let root = rustix::fs::open(ctx.rootfs, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| step(format!("open rootfs {}", ctx.rootfs.display()))(e.into()))?;
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let idmapped = ctx.idmapped.iter().find(|(j, _)| *j == i).map(|(_, fd)| fd);
        mount_one(&root, m, idmapped, ctx)?;
    }
    Ok(())
}

fn mount_one(root: &OwnedFd, m: &Mount, idmapped: Option<&OwnedFd>, ctx: &Context) -> Result<(), Step> {
    let dest = m.destination();
    let typ = m.typ().as_deref().unwrap_or("none");
    let opts = mount_options::parse(m.options().as_deref().unwrap_or_default());
    let what = format!("mount {typ} on {}", dest.display());
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(root, dest, &opts, ctx).map_err(step(what));
    }
    if opts.is_bind() {
        let source = m.source().as_ref().ok_or_else(|| Step::new(format!("{what}: a bind mount needs a source")))?;
        let source = if source.is_absolute() { source.clone() } else { ctx.bundle.join(source) };
        let meta = std::fs::metadata(&source).map_err(step(format!("bind mount source {}", source.display())))?;
        let target = if meta.is_dir() { mkdir_all_in_root(root, dest, 0o755) } else { touch_in_root(root, dest) }
            .map_err(|e| step(format!("create mount point {}", dest.display()))(e.into()))?;
        match idmapped {
            Some(tree) => {
                use rustix::mount::MoveMountFlags as F;
                rustix::mount::move_mount(
                    tree,
                    "",
                    &target,
                    "",
                    F::MOVE_MOUNT_F_EMPTY_PATH | F::MOVE_MOUNT_T_EMPTY_PATH,
                )
                .map_err(|e| step(format!("{what} (id-mapped)"))(e.into()))?;
            }
            None => mount(
                Some(&source.to_string_lossy()),
                &fd_path(&target),
                None,
                opts.flags & (libc::MS_BIND | libc::MS_REC),
                None,
            )
            .map_err(step(&what))?,
        }
        let mounted = reopen(root, dest).map_err(step(&what))?;
        if opts.remount_flags() != 0 {
            remount_bind(&fd_path(&mounted), opts.remount_flags(), ctx.in_user_ns)
                .map_err(step(format!("remount {} with its options", dest.display())))?;
        }
        return finish_mount(root, dest, &opts).map_err(step(what));
    }
    let target = mkdir_all_in_root(root, dest, 0o755)
        .map_err(|e| step(format!("create mount point {}", dest.display()))(e.into()))?;
    let source = m.source().as_ref().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| typ.to_string());
    let data = opts.data.join(",");
    let data = (!data.is_empty()).then_some(data.as_str());
    let result = if typ == "sysfs" && ctx.in_user_ns && !ctx.has_net_ns {
        // A user namespace without its own network namespace may not mount sysfs.
        Err(std::io::Error::from_raw_os_error(libc::EPERM))
    } else {
        mount(Some(&source), &fd_path(&target), Some(typ), opts.flags, data)
    };
    match result {
        Err(e) if typ == "sysfs" && e.raw_os_error() == Some(libc::EPERM) && ctx.in_user_ns => {
            // As runc does: show the host's /sys, read-only as asked.
            mount(Some("/sys"), &fd_path(&target), None, libc::MS_BIND | libc::MS_REC, None).map_err(step(&what))?;
            let mounted = reopen(root, dest).map_err(step(&what))?;
            remount_bind(&fd_path(&mounted), opts.flags & !libc::MS_REMOUNT, true).map_err(step(&what))?;
        }
        other => other.map_err(step(&what))?,
    }
    finish_mount(root, dest, &opts).map_err(step(what))
}

/// After a mount, the descriptor we resolved points below it: open the destination again
/// to reach the new mount.
fn reopen(root: &OwnedFd, dest: &Path) -> std::io::Result<OwnedFd> {
    open_in_root(root, dest, OFlags::PATH).map_err(Into::into)
}

fn finish_mount(root: &OwnedFd, dest: &Path, opts: &MountOptions) -> std::io::Result<()> {
    if opts.propagation.is_empty() && opts.rec_set == 0 && opts.rec_clear == 0 {
        return Ok(());
    }
    let mounted = reopen(root, dest)?;
    let target = fd_path(&mounted);
    for p in &opts.propagation {
        mount(None, &target, None, *p, None)?;
    }
    if opts.rec_set != 0 || opts.rec_clear != 0 {
        lindocker_sys::mount_setattr_recursive(&cstr(&target), opts.rec_set, opts.rec_clear)?;
    }
    Ok(())
}

/// Applies flags to a bind mount. In a user namespace the kernel refuses to clear
/// `nosuid`/`nodev`/`noexec`/atime flags the source mount has ("locked"), so keep them.
fn remount_bind(target: &str, flags: u64, in_user_ns: bool) -> std::io::Result<()> {
    let locked = if in_user_ns { locked_flags(target)? } else { 0 };
    mount(None, target, None, libc::MS_BIND | libc::MS_REMOUNT | flags | locked, None)
}

fn locked_flags(target: &str) -> std::io::Result<u64> {
    use rustix::fs::StatVfsMountFlags as F;
    let st = rustix::fs::statvfs(target)?;
    let mut flags = 0;
    for (f, ms) in [
        (F::NOSUID, libc::MS_NOSUID),
        (F::NODEV, libc::MS_NODEV),
        (F::NOEXEC, libc::MS_NOEXEC),
        (F::NOATIME, libc::MS_NOATIME),
        (F::NODIRATIME, libc::MS_NODIRATIME),
        (F::RELATIME, libc::MS_RELATIME),
        (F::RDONLY, libc::MS_RDONLY),
    ] {
        if st.f_flag.contains(f) {
            flags |= ms;
        }
    }
    Ok(flags)
}

/// A `cgroup` mount shows the container its own cgroup: on v2 the cgroup2 file system
/// (rooted at the container's cgroup when it has a cgroup namespace, else a bind of its
/// directory); on v1 a tmpfs with each hierarchy's container directory bound inside.
fn mount_cgroup(root: &OwnedFd, dest: &Path, opts: &MountOptions, ctx: &Context) -> std::io::Result<()> {
    let target = mkdir_all_in_root(root, dest, 0o755)?;
    let flags = opts.flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
    let Some(cgroup) = ctx.cgroup else {
        return Err(std::io::Error::other("no cgroup to mount"));
    };
    match cgroup.hierarchy() {
        Hierarchy::Unified { .. } => {
            if ctx.new_cgroup_ns {
                mount(Some("cgroup2"), &fd_path(&target), Some("cgroup2"), flags, None)
            } else {
                drop(target);
                bind_dir(root, &cgroup.dirs()[0], dest, flags, ctx.in_user_ns)
            }
        }
        Hierarchy::Legacy { v1, unified } => {
            mount(Some("tmpfs"), &fd_path(&target), Some("tmpfs"), flags & !libc::MS_RDONLY, Some("mode=755"))?;
            let tmpfs = reopen(root, dest)?;
            let dirs = cgroup.dirs();
            let mut names: Vec<PathBuf> =
                v1.iter().map(|m| PathBuf::from(m.mountpoint.file_name().unwrap_or_default())).collect();
            if unified.is_some() {
                names.push("unified".into());
            }
            for (name, dir) in names.iter().zip(&dirs) {
                bind_dir(root, dir, &dest.join(name), flags, ctx.in_user_ns)?;
                // co-mounted controllers ("cpu,cpuacct") are also reachable by each name.
                let name = name.to_string_lossy();
                if name.contains(',') {
                    for alias in name.split(',') {
                        let _ = rustix::fs::symlinkat(name.as_ref(), &open_dir(&tmpfs)?, alias);
                    }
                }
            }
            if flags & libc::MS_RDONLY != 0 {
                remount_bind(&fd_path(&tmpfs), flags, ctx.in_user_ns)?;
            }
            Ok(())
        }
    }
}

fn open_dir(fd: &OwnedFd) -> std::io::Result<OwnedFd> {
    Ok(rustix::fs::openat(fd, ".", OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// Binds host directory `source` on `dest` inside the root, then applies `flags`.
fn bind_dir(root: &OwnedFd, source: &Path, dest: &Path, flags: u64, in_user_ns: bool) -> std::io::Result<()> {
    let target = mkdir_all_in_root(root, dest, 0o755)?;
    mount(Some(&source.to_string_lossy()), &fd_path(&target), None, libc::MS_BIND, None)?;
    if flags != 0 {
        remount_bind(&fd_path(&reopen(root, dest)?), flags, in_user_ns)?;
    }
    Ok(())
}

/// Makes the rootfs `/`: `pivot_root`, then detach the old root; or, with `--no-pivot`,
/// move the rootfs over `/` and `chroot` (for ramdisk roots where pivot_root fails).
pub fn enter_root(spec: &Spec, rootfs: &Path, no_pivot: bool) -> Result<(), Step> {
    let root_is_slave = root_propagation(spec).is_none_or(|p| p & libc::MS_SHARED == 0);
    rustix::process::chdir(rootfs).map_err(|e| step(format!("chdir {}", rootfs.display()))(e.into()))?;
    if no_pivot {
        mount(Some(&rootfs.to_string_lossy()), "/", None, libc::MS_MOVE, None).map_err(step("move rootfs to /"))?;
        rustix::process::chroot(".").map_err(|e| step("chroot")(e.into()))?;
    } else {
        // The old root, held before pivot_root so it can be named precisely afterwards.
        let old_root = rustix::fs::open("/", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| step("open the old root")(e.into()))?;
        rustix::process::pivot_root(".", ".").map_err(|e| step("pivot_root")(e.into()))?;
        // The old root is now stacked on "/". Make it (and only it: "." would name the new
        // root's tree) a slave, so detaching it cannot propagate to the host, whatever
        // rootfsPropagation asked for. Without /proc in the container, "/" was made a
        // slave before the mounts already (unless asked to be shared).
        match mount(None, &fd_path(&old_root), None, libc::MS_SLAVE | libc::MS_REC, None) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && root_is_slave => {}
            other => other.map_err(step("make the old root a slave"))?,
        }
        drop(old_root);
        rustix::mount::unmount(".", rustix::mount::UnmountFlags::DETACH)
            .map_err(|e| step("detach old root")(e.into()))?;
    }
    rustix::process::chdir("/").map_err(|e| step("chdir /")(e.into()))
}

/// Without a mount namespace: `chroot` into the rootfs, as runc does (the mount table
/// is the runtime's, nothing is mounted or moved).
pub fn chroot(rootfs: &Path) -> Result<(), Step> {
    rustix::process::chdir(rootfs).map_err(|e| step(format!("chdir {}", rootfs.display()))(e.into()))?;
    rustix::process::chroot(".").map_err(|e| step("chroot")(e.into()))?;
    rustix::process::chdir("/").map_err(|e| step("chdir /")(e.into()))
}

/// The steps after `pivot_root`, in runc's order.
pub fn finish(spec: &Spec, in_user_ns: bool) -> Result<(), Step> {
    let linux = spec.linux().as_ref().expect("checked at load");
    let mut sysctls: Vec<_> = linux.sysctl().iter().flatten().collect();
    sysctls.sort();
    if !sysctls.is_empty() {
        let proc = super::sysctl::open_proc().map_err(step("open procfs for sysctls"))?;
        for (key, value) in sysctls {
            super::sysctl::write(&proc, key, value).map_err(step(format!("set sysctl {key}={value}")))?;
        }
    }
    if spec.root().as_ref().is_some_and(|r| r.readonly() == Some(true)) {
        remount_bind("/", libc::MS_RDONLY, in_user_ns).map_err(step("remount / read-only"))?;
    }
    for path in linux.masked_paths().iter().flatten() {
        mask(path).map_err(step(format!("mask {path}")))?;
    }
    for path in linux.readonly_paths().iter().flatten() {
        make_readonly(path, in_user_ns).map_err(step(format!("make {path} read-only")))?;
    }
    // Last: masking and read-only paths bind mounts, which an unbindable source refuses.
    if let Some(p) = root_propagation(spec).filter(|p| p & libc::MS_PRIVATE == 0) {
        mount(None, "/", None, p, None).map_err(step("set rootfsPropagation"))?;
    }
    Ok(())
}

fn mask(path: &str) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => mount(Some("tmpfs"), path, Some("tmpfs"), libc::MS_RDONLY, None),
        Ok(_) => mount(Some("/dev/null"), path, None, libc::MS_BIND, None),
    }
}

fn make_readonly(path: &str, in_user_ns: bool) -> std::io::Result<()> {
    match mount(Some(path), path, None, libc::MS_BIND | libc::MS_REC, None) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    }
    remount_bind(path, libc::MS_RDONLY | libc::MS_REC, in_user_ns)
}

/// Whether the container's /dev is a bind of the host's (then no devices are made).
pub fn dev_is_host_bind(spec: &Spec) -> bool {
    spec.mounts().iter().flatten().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind") || m.options().iter().flatten().any(|o| o == "bind" || o == "rbind"))
    })
}

/// The descriptor of the rootfs, for device creation.
pub fn open_root(rootfs: &Path) -> Result<OwnedFd, Step> {
    rustix::fs::open(rootfs, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| step(format!("open rootfs {}", rootfs.display()))(e.into()))
}
