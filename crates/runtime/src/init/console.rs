//! `process.terminal`: a pty made inside the container, its master sent to the caller's
//! `--console-socket` (as runc does: SCM_RIGHTS), its slave made our stdio and
//! controlling terminal.

use std::os::fd::OwnedFd;

use oci_spec::runtime::Process;
use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;

use super::{Step, step};

/// Creates the pty, hands the master to `socket`, and makes the slave our terminal.
/// `container_console`: also show the pty as /dev/console (the init's; not an exec's).
pub fn setup(process: &Process, socket: &OwnedFd, container_console: bool) -> Result<(), Step> {
    let err = |what: &'static str| move |e: rustix::io::Errno| step(what)(e.into());
    let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
        .map_err(err("open /dev/ptmx"))?;
    rustix::pty::grantpt(&master).map_err(err("grantpt"))?;
    rustix::pty::unlockpt(&master).map_err(err("unlockpt"))?;
    let name = rustix::pty::ptsname(&master, Vec::new()).map_err(err("ptsname"))?;
    let slave = rustix::fs::open(name.as_c_str(), OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC, Mode::empty())
        .map_err(err("open pty slave"))?;
    let user = process.user();
    let _ = rustix::fs::fchown(
        &slave,
        Some(rustix::fs::Uid::from_raw(user.uid())),
        Some(rustix::fs::Gid::from_raw(user.gid())),
    );
    if let Some(size) = process.console_size() {
        let ws = rustix::termios::Winsize {
            ws_row: size.height() as u16,
            ws_col: size.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&master, ws).map_err(err("set console size"))?;
    }
    // /dev/console is the container's terminal too.
    if container_console && ensure_file("/dev/console").is_ok() {
        let _ = lindocker_sys::mount(Some(name.as_c_str()), c"/dev/console", None, libc::MS_BIND, None);
    }
    crate::console::send_fd(socket, &master, name.to_bytes()).map_err(step("send pty master to the console socket"))?;
    drop(master);
    rustix::stdio::dup2_stdin(&slave).map_err(err("make the pty our stdin"))?;
    rustix::stdio::dup2_stdout(&slave).map_err(err("make the pty our stdout"))?;
    rustix::stdio::dup2_stderr(&slave).map_err(err("make the pty our stderr"))?;
    rustix::process::ioctl_tiocsctty(&slave).map_err(err("make the pty our controlling terminal"))?;
    Ok(())
}

fn ensure_file(path: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).map(drop)
}
