//! `user[:group]` (names or numbers) to ids, from the container's `/etc/passwd` and
//! `/etc/group`. Those files are the image's or the container's: they are opened inside
//! the root ([`crate::inroot`]: a symlink to a host file resolves in the container),
//! only if regular (a FIFO must not hang us), read up to a bound, and a matching entry
//! whose ids do not parse is an error, never uid 0.

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use crate::EngineError;
use crate::inroot;

/// The most of `/etc/passwd` or `/etc/group` we read.
const LIMIT: u64 = 1 << 20;

/// (uid, gid, additional gids) for `user` in the root filesystem at `rootfs` (a trusted
/// path: the container's merged directory).
pub fn resolve(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>), EngineError> {
    if user.is_empty() {
        return Ok((0, 0, Vec::new()));
    }
    let root = inroot::open_dir(rootfs).map_err(|e| EngineError::io(rootfs, e))?;
    resolve_at(&root, user)
}

/// Like [`resolve`], in the root `root` (a descriptor: a running container's own view,
/// `/proc/PID/root`, with its volumes and mounts over `/etc`).
pub fn resolve_at(root: &OwnedFd, user: &str) -> Result<(u32, u32, Vec<u32>), EngineError> {
    if user.is_empty() {
        return Ok((0, 0, Vec::new()));
    }
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = read(root, "/etc/passwd")?;
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && (f[0] == user_part || f[2] == user_part));
    let (uid, mut gid, name) = match (user_part.parse::<u32>(), entry) {
        (_, Some(f)) => (id(f[2], "uid", "/etc/passwd", f[0])?, id(f[3], "gid", "/etc/passwd", f[0])?, Some(f[0])),
        (Ok(uid), None) => (uid, uid, None),
        (Err(_), None) => return Err(EngineError::NoSuchUser { user: user_part.into() }),
    };
    let group = read(root, "/etc/group")?;
    let groups: Vec<Vec<&str>> =
        group.lines().map(|l| l.split(':').collect::<Vec<_>>()).filter(|f| f.len() >= 3).collect();
    if let Some(g) = group_part {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => match groups.iter().find(|f| f[0] == g) {
                Some(f) => id(f[2], "gid", "/etc/group", f[0])?,
                None => {
                    return Err(EngineError::Invalid(format!(
                        "unable to find group {g}: no matching entries in group file"
                    )));
                }
            },
        };
    }
    let mut additional = Vec::new();
    if let Some(name) = name {
        for f in groups.iter().filter(|f| f.len() >= 4 && f[3].split(',').any(|m| m == name)) {
            additional.push(id(f[2], "gid", "/etc/group", f[0])?);
        }
    }
    Ok((uid, gid, additional))
}

/// The ids of `--group-add` values in the root filesystem at `rootfs` (a trusted path:
/// the container's merged directory): a number as it is, a name from the container's
/// `/etc/group` (read as [`resolve`] reads it); an unknown name is an error.
pub fn resolve_groups(rootfs: &Path, groups: &[String]) -> Result<Vec<u32>, EngineError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let root = inroot::open_dir(rootfs).map_err(|e| EngineError::io(rootfs, e))?;
    resolve_groups_at(&root, groups)
}

/// Like [`resolve_groups`], in the root `root` (a running container's own view).
pub fn resolve_groups_at(root: &OwnedFd, groups: &[String]) -> Result<Vec<u32>, EngineError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let file = read(root, "/etc/group")?;
    let mut out = Vec::new();
    for g in groups {
        let gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                match file.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.len() >= 3 && f[0] == g) {
                    Some(f) => id(f[2], "gid", "/etc/group", f[0])?,
                    None => {
                        return Err(EngineError::Invalid(format!(
                            "Unable to find group {g}: no matching entries in group file"
                        )));
                    }
                }
            }
        };
        if !out.contains(&gid) {
            out.push(gid);
        }
    }
    Ok(out)
}

/// The container's `file`, or nothing if it has none; anything but a regular file of at
/// most [`LIMIT`] bytes is an error.
fn read(root: &OwnedFd, file: &str) -> Result<String, EngineError> {
    match inroot::read_regular(root, Path::new(file), LIMIT) {
        Ok(data) => Ok(String::from_utf8_lossy(&data).into_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(EngineError::Invalid(format!("unable to read the container's {file}: {e}"))),
    }
}

/// A numeric id field of the entry `name` in `file`.
fn id(field: &str, what: &str, file: &str, name: &str) -> Result<u32, EngineError> {
    field
        .parse()
        .map_err(|_| EngineError::Invalid(format!("invalid {what} {field:?} for {name} in the container's {file}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_from_the_image_fail_closed() {
        let dir = std::env::temp_dir().join(format!("lindocker-users-closed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nwww:x:33:34::/var/www:/bin/sh\nbad:x:notanumber:0::/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.join("etc/group"), "root:x:0:\nweb:x:34:\nextra:x:50:www\nbroken:x:nope:\n").unwrap();
        assert_eq!(resolve(&dir, "www").unwrap(), (33, 34, vec![50]));
        assert_eq!(resolve(&dir, "33").unwrap(), (33, 34, vec![50]));
        assert_eq!(resolve(&dir, "1000:web").unwrap(), (1000, 34, vec![]));
        assert_eq!(resolve(&dir, "1000").unwrap(), (1000, 1000, vec![]));
        assert_eq!(resolve_groups(&dir, &["web".into(), "7".into(), "extra".into()]).unwrap(), [34, 7, 50]);
        assert!(resolve_groups(&dir, &["broken".into()]).unwrap_err().to_string().contains("invalid gid"));
        assert!(resolve_groups(&dir, &["sudo".into()]).unwrap_err().to_string().contains("Unable to find group"));
        assert!(resolve(&dir, "bad").unwrap_err().to_string().contains("invalid uid"));
        assert!(resolve(&dir, "www:broken").unwrap_err().to_string().contains("invalid gid"));
        assert!(resolve(&dir, "www:nogroup").is_err());
        // A passwd that is a FIFO is refused at once; one that is a symlink to the host's
        // file resolves inside the root, where there is none.
        std::fs::remove_file(dir.join("etc/passwd")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("etc/passwd")).unwrap();
        assert!(resolve(&dir, "root").is_err(), "a symlink to itself inside the root");
        std::fs::remove_file(dir.join("etc/passwd")).unwrap();
        let host = std::env::temp_dir().join(format!("lindocker-users-host-{}", std::process::id()));
        std::fs::write(&host, "hostuser:x:4242:4242::/:/bin/sh\n").unwrap();
        std::os::unix::fs::symlink(&host, dir.join("etc/passwd")).unwrap();
        assert!(resolve(&dir, "hostuser").is_err(), "the host's file was read");
        std::fs::remove_file(&host).unwrap();
        assert_eq!(resolve(&dir, "0").unwrap(), (0, 0, vec![]));
        std::fs::remove_file(dir.join("etc/passwd")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.join("etc/passwd"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        assert!(resolve(&dir, "www").unwrap_err().to_string().contains("not a regular file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
