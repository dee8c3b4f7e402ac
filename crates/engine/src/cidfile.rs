//! `--cidfile FILE`: the new container's id written to a host file the user names, as
//! Docker does: refused if the file exists (claimed with `O_EXCL` before the container
//! is made), and the claim removed if the container could not be made.
//!
//! The claim is held as descriptors (the parent directory and the file) and both the
//! write and the removal go through them, never by path again: a user who owns a
//! directory on the path could otherwise swap it for a symlink while the container is
//! made (a pull can take minutes) and have root overwrite or delete any host file.

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};

use crate::EngineError;

/// A claimed cidfile; removed when dropped unless [`CidFile::write`] filled it.
#[derive(Debug)]
pub struct CidFile {
    parent: OwnedFd,
    name: PathBuf,
    file: File,
    written: bool,
}

impl CidFile {
    /// Claims `path`: it must not exist.
    pub fn claim(path: &Path) -> Result<CidFile, EngineError> {
        let failed =
            |e: &dyn std::fmt::Display| EngineError::Invalid(format!("failed to create the container ID file: {e}"));
        let name = path.file_name().ok_or_else(|| failed(&"the path names no file"))?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let parent = rustix::fs::open(parent, OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| failed(&e))?;
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(&parent, name, flags, Mode::from_raw_mode(0o644)) {
            Ok(fd) => Ok(CidFile { parent, name: PathBuf::from(name), file: File::from(fd), written: false }),
            Err(rustix::io::Errno::EXIST) => Err(EngineError::Invalid(format!(
                "Container ID file found, make sure the other container isn't running or delete {}",
                path.display()
            ))),
            Err(e) => Err(failed(&e)),
        }
    }

    /// Writes `id` (without a newline, as Docker) into the claimed file.
    pub fn write(mut self, id: &str) -> Result<(), EngineError> {
        let result = self.file.write_all(id.as_bytes()).and_then(|()| self.file.sync_all());
        if let Err(e) = result {
            return Err(EngineError::Invalid(format!("failed to write the container ID file: {e}")));
        }
        self.written = true;
        Ok(())
    }
}

impl Drop for CidFile {
    /// Unlinks the claim from the directory it was made in, and only if the name there
    /// still is the claimed file (not something that replaced it since).
    fn drop(&mut self) {
        if self.written {
            return;
        }
        let (Ok(claimed), Ok(now)) =
            (rustix::fs::fstat(&self.file), rustix::fs::statat(&self.parent, &self.name, AtFlags::SYMLINK_NOFOLLOW))
        else {
            return;
        };
        if claimed.st_dev == now.st_dev && claimed.st_ino == now.st_ino {
            let _ = rustix::fs::unlinkat(&self.parent, &self.name, AtFlags::empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    /// A user owning a directory on the path swaps it for a symlink between the claim and
    /// the write (or the failure): the file the symlink leads to must stay untouched.
    fn swapped(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        let user = dir.join("user");
        let victim = dir.join("victim");
        fs::create_dir(&user).unwrap();
        fs::create_dir(&victim).unwrap();
        fs::write(victim.join("cid"), "sentinel").unwrap();
        (user.join("cid"), user, victim)
    }

    fn tempdir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cidfile-{tag}-{}", lindocker_storage::unique_suffix()));
        fs::create_dir(&dir).unwrap();
        dir
    }

    #[test]
    fn write_after_a_swap_does_not_follow_the_symlink() {
        let dir = tempdir("write");
        let (path, user, victim) = swapped(&dir);
        let claim = CidFile::claim(&path).unwrap();
        fs::rename(&user, dir.join("moved")).unwrap();
        symlink(&victim, &user).unwrap();
        claim.write(&"a".repeat(64)).unwrap();
        assert_eq!(fs::read_to_string(victim.join("cid")).unwrap(), "sentinel");
        assert_eq!(fs::read_dir(&victim).unwrap().count(), 1);
        assert_eq!(fs::read_to_string(dir.join("moved/cid")).unwrap(), "a".repeat(64));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failure_after_a_swap_does_not_delete_through_the_symlink() {
        let dir = tempdir("drop");
        let (path, user, victim) = swapped(&dir);
        let claim = CidFile::claim(&path).unwrap();
        fs::rename(&user, dir.join("moved")).unwrap();
        symlink(&victim, &user).unwrap();
        drop(claim);
        assert_eq!(fs::read_to_string(victim.join("cid")).unwrap(), "sentinel");
        // The claim itself is gone from where it was made.
        assert!(!dir.join("moved/cid").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failure_keeps_a_file_that_replaced_the_claim() {
        let dir = tempdir("replaced");
        let path = dir.join("cid");
        let claim = CidFile::claim(&path).unwrap();
        fs::remove_file(&path).unwrap();
        fs::write(&path, "someone else's").unwrap();
        drop(claim);
        assert_eq!(fs::read_to_string(&path).unwrap(), "someone else's");
        fs::remove_dir_all(&dir).unwrap();
    }
}
