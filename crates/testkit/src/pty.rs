//! A pseudo-terminal for tests that drive the runtime as a user at a terminal would.

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;

use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;

/// A pty pair: the test holds the master, the runtime gets the slave as its stdio.
pub struct Pty {
    /// The master side.
    pub master: File,
    slave: OwnedFd,
}

impl Pty {
    /// A new pty of `rows` x `cols`.
    pub fn open(rows: u16, cols: u16) -> Pty {
        let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
        rustix::pty::grantpt(&master).unwrap();
        rustix::pty::unlockpt(&master).unwrap();
        let name = rustix::pty::ptsname(&master, Vec::new()).unwrap();
        let slave = rustix::fs::open(name.as_c_str(), OFlags::RDWR | OFlags::NOCTTY, Mode::empty()).unwrap();
        let size = rustix::termios::Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        rustix::termios::tcsetwinsize(&slave, size).unwrap();
        Pty { master: File::from(master), slave }
    }

    /// Points a command's stdin, stdout and stderr at the slave side.
    pub fn attach(&self, cmd: &mut std::process::Command) {
        let side = || File::from(self.slave.try_clone().unwrap());
        cmd.stdin(side()).stdout(side()).stderr(side());
    }

    /// Reads the master in a thread until `marker` shows up (or the pty closes).
    pub fn read_until(&self, marker: &'static str) -> std::thread::JoinHandle<String> {
        let mut m = self.master.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut out = String::new();
            let mut buf = [0u8; 4096];
            while !out.contains(marker) {
                match m.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
            out
        })
    }
}
