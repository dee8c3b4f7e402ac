//! Advisory file locks: `flock(2)` on a lock file, the one way lindocker's processes (CLI,
//! shim, runtime, API server) exclude each other from a container, a store or an index.
//!
//! The lock file is created if missing (mode 0600, `O_CLOEXEC`) and never removed by the
//! lock itself. A lock belongs to the open file description: it lasts while any copy of
//! the descriptor is open (a forked child must drop its copy at once) and the kernel drops
//! it when its last holder dies, so a crashed holder never leaves a stale lock.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rustix::fs::{FlockOperation, flock};

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Waits for the exclusive lock on `path`.
    pub fn exclusive(path: &Path) -> io::Result<FileLock> {
        Self::take(path, FlockOperation::LockExclusive)
    }

    /// Waits for a shared lock on `path` (many holders; none while an exclusive one holds).
    pub fn shared(path: &Path) -> io::Result<FileLock> {
        Self::take(path, FlockOperation::LockShared)
    }

    /// The exclusive lock on `path` if nobody holds a lock on it now; `None` otherwise.
    pub fn try_exclusive(path: &Path) -> io::Result<Option<FileLock>> {
        match Self::take(path, FlockOperation::NonBlockingLockExclusive) {
            Ok(lock) => Ok(Some(lock)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The locked file (e.g. to check that it still has a name).
    pub fn file(&self) -> &File {
        &self.file
    }

    fn take(path: &Path, op: FlockOperation) -> io::Result<FileLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)?;
        flock(&file, op)?;
        Ok(FileLock { file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::mpsc;
    use std::time::Duration;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lindocker-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn exclusive_excludes_across_threads_until_dropped() {
        let dir = scratch("threads");
        let path = dir.join("lock");
        let held = FileLock::exclusive(&path).unwrap();
        assert!(FileLock::try_exclusive(&path).unwrap().is_none());
        let (tx, rx) = mpsc::channel();
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || {
                let _second = FileLock::exclusive(&path).unwrap();
                tx.send(()).unwrap();
            })
        };
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "second exclusive lock while the first is held");
        drop(held);
        rx.recv_timeout(Duration::from_secs(10)).expect("second lock after the first was dropped");
        waiter.join().unwrap();
        assert!(FileLock::try_exclusive(&path).unwrap().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shared_locks_coexist_and_exclude_exclusive() {
        let dir = scratch("shared");
        let path = dir.join("lock");
        let a = FileLock::shared(&path).unwrap();
        let b = FileLock::shared(&path).unwrap();
        assert!(FileLock::try_exclusive(&path).unwrap().is_none());
        drop(a);
        assert!(FileLock::try_exclusive(&path).unwrap().is_none());
        drop(b);
        assert!(FileLock::try_exclusive(&path).unwrap().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn excludes_another_process() {
        // flock(1) from util-linux in a child process: it cannot take the lock we hold,
        // and can once we drop it.
        let dir = scratch("process");
        let path = dir.join("lock");
        let try_in_child = || {
            std::process::Command::new("flock")
                .args(["--nonblock", "--exclusive"])
                .arg(&path)
                .arg("true")
                .status()
                .expect("run flock(1)")
                .success()
        };
        let held = FileLock::exclusive(&path).unwrap();
        assert!(!try_in_child(), "another process took the held lock");
        drop(held);
        assert!(try_in_child(), "another process could not take the free lock");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
