//! A throw-away network namespace that plays "the host" for network tests (made with
//! iproute2's `ip netns`, removed on drop). The engine runs inside it through `nsenter`,
//! and traffic goes only to loopback and to addresses made inside it.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A fake host.
pub struct FakeHost {
    /// `ip netns` name.
    pub name: String,
    /// `/run/netns/<name>`.
    pub path: PathBuf,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip (iproute2)");
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl FakeHost {
    /// A new namespace with `lo` up.
    pub fn new(name: &str) -> FakeHost {
        let name = format!("ld-{}-{name}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        FakeHost { path: PathBuf::from("/run/netns").join(&name), name }
    }

    /// `program` to be run inside.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path.display())).arg("--").arg(program).stdin(Stdio::null());
        c
    }

    /// Runs `program args` inside and returns its output.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program).args(args).output().expect("nsenter")
    }

    /// Runs `ip args` for this namespace.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Its links, one `name state` per line (`ip -br link`).
    pub fn links(&self) -> String {
        let out = Command::new("ip").args(["-n", &self.name, "-br", "link"]).output().unwrap();
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split_whitespace().next().unwrap_or("").to_owned())
            .collect();
        lines.sort();
        lines.join("\n")
    }

    /// Its nftables ruleset.
    pub fn ruleset(&self) -> String {
        String::from_utf8_lossy(&self.run("nft", &["list", "ruleset"]).stdout).into_owned()
    }

    /// Joins this host and `other` with a veth pair: this side `a`, the other `b` (CIDRs).
    pub fn wire(&self, other: &FakeHost, a: &str, b: &str) {
        let (here, there) = (
            format!("{}a", &self.name[..self.name.len().min(12)]),
            format!("{}b", &other.name[..other.name.len().min(12)]),
        );
        ip(&["link", "add", &here, "type", "veth", "peer", "name", &there]);
        ip(&["link", "set", &here, "netns", &self.name]);
        ip(&["link", "set", &there, "netns", &other.name]);
        // An IPv6 address skips duplicate detection: usable at once, no one else has it.
        let add = |host: &FakeHost, addr: &str, dev: &str| {
            let mut args = vec!["addr", "add", addr, "dev", dev];
            if addr.contains(':') {
                args.push("nodad");
            }
            host.ip(&args);
        };
        add(self, a, &here);
        self.ip(&["link", "set", &here, "up"]);
        add(other, b, &there);
        other.ip(&["link", "set", &there, "up"]);
    }
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}
