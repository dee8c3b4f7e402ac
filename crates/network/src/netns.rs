//! Network namespaces kept alive by a bind mount on a file (`<state>/netns/<id>`), as
//! `ip netns` keeps them; entered by one thread at a time for netlink work inside.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use rustix::mount::{UnmountFlags, mount_bind, unmount};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use crate::NetworkError;

/// Makes a new network namespace, its loopback up (as every container's is), and binds
/// it at `path`.
pub fn create(path: &Path) -> Result<(), NetworkError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| NetworkError::io(dir, e))?;
    }
    File::create(path).map_err(|e| NetworkError::io(path, e))?;
    let target = path.to_owned();
    // A thread of its own unshares, so this process's other threads keep their namespace.
    let result = std::thread::spawn(move || -> Result<(), NetworkError> {
        lindocker_sys::unshare(libc_newnet()).map_err(|e| NetworkError::io(&target, e))?;
        lindocker_sys::interface_up("lo").map_err(|e| NetworkError::Netlink(format!("bringing lo up: {e}")))?;
        mount_bind("/proc/thread-self/ns/net", &target).map_err(|e| NetworkError::io(&target, e.into()))
    })
    .join()
    .map_err(|_| NetworkError::Netlink("the namespace thread panicked".into()))?;
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

fn libc_newnet() -> i32 {
    0x4000_0000 // CLONE_NEWNET
}

/// Removes the namespace bound at `path` (its links go with it once no process is in it).
pub fn remove(path: &Path) {
    let _ = unmount(path, UnmountFlags::DETACH);
    let _ = std::fs::remove_file(path);
}

/// Runs `f` in a thread inside the namespace at `path`.
pub fn within<R: Send + 'static>(path: &Path, f: impl FnOnce() -> R + Send + 'static) -> Result<R, NetworkError> {
    let file = File::open(path).map_err(|e| NetworkError::io(path, e))?;
    let path = path.to_owned();
    std::thread::spawn(move || -> Result<R, NetworkError> {
        move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network))
            .map_err(|e| NetworkError::io(&path, e.into()))?;
        Ok(f())
    })
    .join()
    .map_err(|_| NetworkError::Netlink("the namespace thread panicked".into()))?
}
