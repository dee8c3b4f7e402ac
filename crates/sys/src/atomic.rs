//! Replacing a file whole: readers see the old content or the new, never a mix, and a
//! writer that fails or dies half way leaves the old content.
//!
//! One way for every file lindocker replaces: write a new temporary file in the same
//! directory (same file system, so the rename is atomic), optionally fsync it, rename it
//! over the target, optionally fsync the directory. The temporary file is created new
//! (`O_EXCL`, `O_NOFOLLOW`), with its final mode from the first byte, under a name no
//! other writer uses (`.NAME.tmp-PID-N`), and removed if anything fails.
//!
//! [`Durability::Durable`] also survives a power loss once the call returns;
//! [`Durability::CrashSafe`] saves the fsyncs where the content describes processes that
//! a power loss ends anyway (a crash of the writer alone is covered by the rename).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How far a replaced file must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the file before the rename and the directory after: the new content
    /// survives a power loss once the write returns.
    Durable,
    /// No fsync: atomic against a crash of the writer, not against a power loss.
    CrashSafe,
}

/// Options of an atomic replacement; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct AtomicWrite {
    durability: Durability,
    mode: u32,
}

impl AtomicWrite {
    /// A replacement with `durability`, mode 0644 (less the umask).
    pub fn new(durability: Durability) -> AtomicWrite {
        AtomicWrite { durability, mode: 0o644 }
    }

    /// The new file's permission bits (less the umask), e.g. 0600 for a file that may hold
    /// secrets: it has them from its first byte.
    pub fn mode(mut self, mode: u32) -> AtomicWrite {
        self.mode = mode;
        self
    }

    /// Replaces `path` with `data`.
    pub fn write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.write_with(path, |file| file.write_all(data))
    }

    /// Replaces `path` with what `fill` writes into the temporary file (for content
    /// produced as a stream). An error of `fill` leaves `path` as it was.
    pub fn write_with(&self, path: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = temp_name(dir, path);
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(self.mode)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&tmp)?;
            fill(&mut file)?;
            if self.durability == Durability::Durable {
                file.sync_all()?;
            }
            drop(file);
            fs::rename(&tmp, path)?;
            if self.durability == Durability::Durable {
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

/// Replaces `path` with `data`, durably, mode 0644: [`AtomicWrite`] with the defaults.
pub fn write_durable(path: &Path, data: &[u8]) -> io::Result<()> {
    AtomicWrite::new(Durability::Durable).write(path, data)
}

/// A name in `dir` that no other writer (process or thread) picks for `path`.
fn temp_name(dir: &Path, path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lindocker-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_whole_with_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("replace");
        let path = dir.join("f.json");
        for durability in [Durability::Durable, Durability::CrashSafe] {
            fs::write(&path, b"old").unwrap();
            AtomicWrite::new(durability).mode(0o600).write(&path, b"new content").unwrap();
            assert_eq!(fs::read(&path).unwrap(), b"new content");
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(entries(&dir), ["f.json"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writer_failing_before_rename_leaves_old_content_and_no_temp() {
        let dir = scratch("fail");
        let path = dir.join("f.json");
        fs::write(&path, b"old").unwrap();
        let err = AtomicWrite::new(Durability::Durable)
            .write_with(&path, |f| {
                f.write_all(b"half of the new")?;
                Err(io::Error::other("writer died"))
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "writer died");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(entries(&dir), ["f.json"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_in_the_temp_name_is_not_followed() {
        // The target is replaced by the rename, never written through a link.
        let dir = scratch("link");
        let outside = dir.join("outside");
        fs::write(&outside, b"keep").unwrap();
        let path = dir.join("f");
        std::os::unix::fs::symlink(&outside, &path).unwrap();
        write_durable(&path, b"new").unwrap();
        assert_eq!(fs::read(&outside).unwrap(), b"keep");
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(!fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_writers_never_mix() {
        let dir = scratch("concurrent");
        let path = dir.join("f");
        let contents: Vec<Vec<u8>> = (0..8u8).map(|i| vec![b'a' + i; 64 * 1024]).collect();
        std::thread::scope(|s| {
            for c in &contents {
                let (path, contents) = (&path, &contents);
                s.spawn(move || {
                    for _ in 0..20 {
                        AtomicWrite::new(Durability::CrashSafe).write(path, c).unwrap();
                        let read = fs::read(path).unwrap();
                        assert!(contents.contains(&read), "a mix of writers");
                    }
                });
            }
        });
        assert_eq!(entries(&dir), ["f"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
