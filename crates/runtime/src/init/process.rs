//! The user's process: limits, identity, capabilities, and the final `exec`.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use caps::{CapSet, Capability as Cap, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities, PosixRlimitType, Process};
use rustix::fs::OFlags;
use rustix::process::{Resource, Rlimit};

use super::{Step, step};
use crate::channel::ProgramFailure;

/// Sets every `process.rlimits` entry. Asking more than the hard limit the runtime has
/// fails (EPERM without CAP_SYS_RESOURCE): we never lower a request silently.
pub fn set_rlimits(process: &Process) -> Result<(), Step> {
    for r in process.rlimits().iter().flatten() {
        let limit = |v: u64| if v == u64::MAX { None } else { Some(v) };
        let new = Rlimit { current: limit(r.soft()), maximum: limit(r.hard()) };
        let name = serde_json::to_value(r.typ()).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        rustix::process::setrlimit(resource(r.typ()), new).map_err(|e| {
            let hard = rustix::process::getrlimit(resource(r.typ())).maximum;
            let hint = match (e, hard) {
                (rustix::io::Errno::PERM, Some(h)) => {
                    format!(" (the runtime's hard limit is {h}; raising it needs CAP_SYS_RESOURCE)")
                }
                _ => String::new(),
            };
            Step::new(format!(
                "setrlimit {name} soft={} hard={}: {}{hint}",
                r.soft(),
                r.hard(),
                super::describe(&e.into())
            ))
        })?;
    }
    Ok(())
}

fn resource(t: PosixRlimitType) -> Resource {
    use PosixRlimitType as T;
    match t {
        T::RlimitCpu => Resource::Cpu,
        T::RlimitFsize => Resource::Fsize,
        T::RlimitData => Resource::Data,
        T::RlimitStack => Resource::Stack,
        T::RlimitCore => Resource::Core,
        T::RlimitRss => Resource::Rss,
        T::RlimitNproc => Resource::Nproc,
        T::RlimitNofile => Resource::Nofile,
        T::RlimitMemlock => Resource::Memlock,
        T::RlimitAs => Resource::As,
        T::RlimitLocks => Resource::Locks,
        T::RlimitSigpending => Resource::Sigpending,
        T::RlimitMsgqueue => Resource::Msgqueue,
        T::RlimitNice => Resource::Nice,
        T::RlimitRtprio => Resource::Rtprio,
        T::RlimitRttime => Resource::Rttime,
    }
}

/// Sets `process.oomScoreAdj` (lowering it needs CAP_SYS_RESOURCE, which the error says).
pub fn set_oom_score_adj(process: &Process) -> Result<(), Step> {
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(step(format!("set oomScoreAdj {adj}")))?;
    }
    Ok(())
}

/// Becomes `process.user` and keeps exactly the configured capabilities: a set that
/// `process.capabilities` does not list (or no `process.capabilities` at all) is empty,
/// as with runc and crun, never the runtime's own full set.
///
/// Order matters: the bounding set can only be reduced while we still have
/// CAP_SETPCAP; changing uid clears the effective set unless KEEPCAPS is on; the other
/// sets are then set from the permitted ones we kept.
pub fn become_user(process: &Process) -> Result<(), Step> {
    let user = process.user();
    let caps = process.capabilities().as_ref();
    // What the runtime cannot grant (outside its own bounding set) is left out, as the
    // runtime spec asks; `create` has warned about it.
    let grantable = caps::read(None, CapSet::Bounding).unwrap_or_default();
    let set = |pick: fn(&LinuxCapabilities) -> &Option<Capabilities>| -> CapsHashSet {
        let wanted = caps.and_then(|c| pick(c).as_ref()).map(to_caps).unwrap_or_default();
        wanted.intersection(&grantable).copied().collect()
    };
    let bounding = set(LinuxCapabilities::bounding);
    for cap in caps::all() {
        if !bounding.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| Step::new(format!("drop {cap} from the bounding set: {e}")))?;
        }
    }
    rustix::thread::set_keep_capabilities(true).map_err(|e| step("keep capabilities across setuid")(e.into()))?;
    let gids: Vec<rustix::process::Gid> =
        user.additional_gids().iter().flatten().map(|g| rustix::process::Gid::from_raw(*g)).collect();
    // Without additionalGids the process has no supplementary groups (not root's).
    if let Err(e) = rustix::thread::set_thread_groups(&gids) {
        // A user namespace with setgroups denied cannot change groups; fine if none asked.
        if !gids.is_empty() || e != rustix::io::Errno::PERM {
            return Err(step("setgroups")(e.into()));
        }
    }
    let gid = rustix::process::Gid::from_raw(user.gid());
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(|e| step(format!("setgid {}", user.gid()))(e.into()))?;
    let uid = rustix::process::Uid::from_raw(user.uid());
    rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(|e| step(format!("setuid {}", user.uid()))(e.into()))?;
    if let Some(mask) = user.umask() {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask));
    }
    // One capset call: the sets constrain each other (effective within permitted), so
    // changing them one by one can fail half-way.
    let bits = |set: CapsHashSet| {
        rustix::thread::CapabilitySet::from_bits_retain(set.iter().fold(0u64, |m, c| m | 1 << c.index()))
    };
    let sets = rustix::thread::CapabilitySets {
        effective: bits(set(LinuxCapabilities::effective)),
        permitted: bits(set(LinuxCapabilities::permitted)),
        inheritable: bits(set(LinuxCapabilities::inheritable)),
    };
    rustix::thread::set_capabilities(None, sets).map_err(|e| step("set capabilities")(e.into()))?;
    caps::clear(None, CapSet::Ambient).map_err(|e| Step::new(format!("clear ambient capabilities: {e}")))?;
    // The kernel raises an ambient capability only if it is also permitted and
    // inheritable; `runc spec` lists ambient ones with an empty inheritable set, and runc
    // only warns when the raise fails. Do the same (quietly: the init has no log).
    for cap in set(LinuxCapabilities::ambient) {
        let _ = caps::raise(None, CapSet::Ambient, cap);
    }
    rustix::thread::set_keep_capabilities(false).map_err(|e| step("reset keepcaps")(e.into()))?;
    if process.no_new_privileges() == Some(true) {
        rustix::thread::set_no_new_privs(true).map_err(|e| step("set no_new_privs")(e.into()))?;
    }
    Ok(())
}

/// The capabilities `process` asks for that this process cannot grant (they are not in
/// its bounding set), by name: `create` warns about them, the init leaves them out.
pub fn ungrantable_capabilities(process: &Process) -> Vec<String> {
    let Some(c) = process.capabilities() else { return Vec::new() };
    let own = caps::read(None, CapSet::Bounding).unwrap_or_default();
    let mut out: Vec<String> = [c.bounding(), c.effective(), c.permitted(), c.inheritable(), c.ambient()]
        .into_iter()
        .flatten()
        .flat_map(to_caps)
        .filter(|cap| !own.contains(cap))
        .map(|cap| cap.to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Capability names the kernel knows; newer names than the kernel are skipped (as runc
/// does), unknown names were already refused when the spec was parsed.
fn to_caps(set: &Capabilities) -> CapsHashSet {
    let known = caps::all();
    set.iter()
        .filter_map(|c| serde_json::to_value(c).ok()?.as_str()?.parse::<Cap>().ok())
        .filter(|c| known.contains(c))
        .collect()
}

/// Creates `process.cwd` if the image lacks it (as runc does), inside the container's
/// root (this process's `/` by now): never through a magic link such as `/proc/self/fd/N`.
pub fn enter_cwd(process: &Process) -> Result<(), Step> {
    let cwd = process.cwd();
    let root = open_root()?;
    crate::paths::mkdir_all_in_root(&root, cwd, 0o755)
        .map_err(|e| step(format!("create cwd {}", cwd.display()))(e.into()))?;
    Ok(())
}

/// Changes to the cwd, as the container's user (so permissions are theirs), resolved
/// inside the root with `openat2`: a cwd through `/proc/self/fd/N`, `/proc/self/cwd` or
/// any other magic link is refused, and the result must be reachable from the root
/// (CVE-2024-21626).
pub fn chdir_cwd(process: &Process) -> Result<(), Step> {
    let cwd = process.cwd();
    let what = || format!("chdir to cwd {}", cwd.display());
    let root = open_root()?;
    let dir =
        crate::paths::open_in_root(&root, cwd, OFlags::PATH | OFlags::DIRECTORY).map_err(|e| step(what())(e.into()))?;
    rustix::process::fchdir(&dir).map_err(|e| step(what())(e.into()))?;
    let now = rustix::process::getcwd(Vec::new()).map_err(|e| step(what())(e.into()))?;
    if !now.to_bytes().starts_with(b"/") {
        return Err(Step::new(format!("{}: outside the container's root", what())));
    }
    Ok(())
}

fn open_root() -> Result<std::os::fd::OwnedFd, Step> {
    rustix::fs::open("/", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, rustix::fs::Mode::empty())
        .map_err(|e| step("open the container's root")(e.into()))
}

/// Finds the program the way `execvp` would, with the container's PATH, so a missing
/// program is reported by `create`, not lost after `start`.
pub fn find_program(process: &Process) -> Result<PathBuf, Step> {
    let args = process.args().as_deref().unwrap_or_default();
    let name = &args[0];
    let env_path = env_pairs(process).into_iter().find(|(k, _)| k == "PATH").map(|(_, v)| v);
    let candidates: Vec<PathBuf> = if name.contains('/') {
        vec![PathBuf::from(name)]
    } else {
        env_path
            .as_deref()
            .unwrap_or("")
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(name))
            .collect()
    };
    let mut denied = None;
    for c in &candidates {
        match std::fs::metadata(c) {
            Ok(m) if m.is_file() => {
                if rustix::fs::access(c, rustix::fs::Access::EXEC_OK).is_ok() && m.permissions().mode() & 0o111 != 0 {
                    return Ok(c.clone());
                }
                denied = Some(c.clone());
            }
            Ok(_) => denied = denied.or(Some(c.clone())),
            Err(_) => {}
        }
    }
    Err(match denied {
        Some(p) => Step::program(
            format!("exec: {:?}: permission denied", p.display().to_string()),
            ProgramFailure::NotExecutable,
        ),
        None if name.contains('/') => {
            Step::program(format!("exec: {name:?}: no such file or directory"), ProgramFailure::NotFound)
        }
        None => Step::program(format!("exec: {name:?}: executable file not found in $PATH"), ProgramFailure::NotFound),
    })
}

fn env_pairs(process: &Process) -> Vec<(String, String)> {
    process
        .env()
        .iter()
        .flatten()
        .filter_map(|v| v.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

/// Replaces this process with the user's program. Returns only on failure.
pub fn exec(process: &Process, program: &Path) -> std::io::Error {
    let args = process.args().as_deref().unwrap_or_default();
    let mut cmd = std::process::Command::new(program);
    cmd.arg0(&args[0]).args(&args[1..]).env_clear();
    let pairs = env_pairs(process);
    // As runc and crun do: without HOME in the spec, the user's home from the container's
    // own passwd, else `/`.
    if !pairs.iter().any(|(k, _)| k == "HOME") {
        cmd.env("HOME", home_of(process.user().uid()));
    }
    for (k, v) in pairs {
        cmd.env(OsString::from_vec(k.into_bytes()), OsString::from_vec(v.into_bytes()));
    }
    cmd.exec()
}

/// The home directory of `uid` in the container's `/etc/passwd` (read from inside the
/// container, as the process that is about to exec: only a regular file, opened without
/// blocking, at most 1 MiB), else `/`.
fn home_of(uid: u32) -> OsString {
    let read = || -> Option<Vec<u8>> {
        let fd = rustix::fs::open("/etc/passwd", OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC, 0.into()).ok()?;
        if !rustix::fs::FileType::from_raw_mode(rustix::fs::fstat(&fd).ok()?.st_mode).is_file() {
            return None;
        }
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(std::fs::File::from(fd), 1 << 20), &mut text).ok()?;
        Some(text)
    };
    let home = read().and_then(|text| passwd_home(&text, uid));
    OsString::from_vec(home.unwrap_or_else(|| b"/".to_vec()))
}

/// The home field of the first passwd line for `uid` (`name:pw:uid:gid:gecos:home:shell`).
fn passwd_home(text: &[u8], uid: u32) -> Option<Vec<u8>> {
    text.split(|&b| b == b'\n').find_map(|line| {
        let fields: Vec<&[u8]> = line.split(|&b| b == b':').collect();
        let matches = fields.len() >= 7 && std::str::from_utf8(fields[2]).ok()?.parse::<u32>().ok()? == uid;
        (matches && !fields[5].is_empty()).then(|| fields[5].to_vec())
    })
}

/// `linux.personality`, `linux.memoryPolicy`, `process.ioPriority` and
/// `process.scheduler`, set while the
/// process still has the capabilities raising them may need.
pub fn set_execution(linux: &oci_spec::runtime::Linux, process: &Process) -> Result<(), Step> {
    use oci_spec::runtime::{
        IOPriorityClass as Io, LinuxPersonalityDomain as D, LinuxSchedulerFlag as SF, LinuxSchedulerPolicy as P,
    };
    if let Some(p) = linux.personality() {
        let mut persona: u64 = match p.domain() {
            D::PerLinux => 0,
            D::PerLinux32 => 0x0008,
        };
        for flag in p.flags().iter().flatten() {
            persona |= match flag.as_str() {
                "ADDR_NO_RANDOMIZE" => 0x0040000,
                "ADDR_COMPAT_LAYOUT" => 0x0200000,
                "READ_IMPLIES_EXEC" => 0x0400000,
                "ADDR_LIMIT_32BIT" => 0x0800000,
                "SHORT_INODE" => 0x1000000,
                "WHOLE_SECONDS" => 0x2000000,
                "STICKY_TIMEOUTS" => 0x4000000,
                "ADDR_LIMIT_3GB" => 0x8000000,
                "MMAP_PAGE_ZERO" => 0x0100000,
                "FDPIC_FUNCPTRS" => 0x0080000,
                "UNAME26" => 0x0020000,
                other => return Err(Step::new(format!("linux.personality.flags: unknown flag {other:?}"))),
            };
        }
        lindocker_sys::set_personality(persona).map_err(step("set personality"))?;
    }
    if let Some(p) = linux.memory_policy() {
        let policy =
            crate::memory_policy::check(p).map_err(|(f, why)| Step::new(format!("linux.memoryPolicy.{f}: {why}")))?;
        lindocker_sys::set_mempolicy(policy.mode, &policy.nodes).map_err(step("set the memory policy"))?;
    }
    if let Some(io) = process.io_priority() {
        let class = match io.class() {
            Io::IoprioClassRt => 1,
            Io::IoprioClassBe => 2,
            Io::IoprioClassIdle => 3,
        };
        if !(0..=7).contains(&io.priority()) {
            return Err(Step::new(format!("process.ioPriority.priority {} is not 0 to 7", io.priority())));
        }
        lindocker_sys::set_io_priority(class, io.priority() as u32).map_err(step("set ioPriority"))?;
    }
    if let Some(s) = process.scheduler() {
        let policy = match s.policy() {
            P::SchedOther => 0,
            P::SchedFifo => 1,
            P::SchedRr => 2,
            P::SchedBatch => 3,
            P::SchedIso => 4,
            P::SchedIdle => 5,
            P::SchedDeadline => 6,
        };
        let mut flags = 0u64;
        for f in s.flags().iter().flatten() {
            flags |= match f {
                SF::SchedResetOnFork => 0x01,
                SF::SchedFlagReclaim => 0x02,
                SF::SchedFlagDLOverrun => 0x04,
                SF::SchedFlagKeepPolicy => 0x08,
                SF::SchedFlagKeepParams => 0x10,
                SF::SchedFlagUtilClampMin => 0x20,
                SF::SchedFlagUtilClampMax => 0x40,
            };
        }
        let attr = lindocker_sys::SchedAttr {
            policy,
            flags,
            nice: s.nice().unwrap_or(0),
            priority: s.priority().unwrap_or(0) as u32,
            runtime: s.runtime().unwrap_or(0),
            deadline: s.deadline().unwrap_or(0),
            period: s.period().unwrap_or(0),
            ..Default::default()
        };
        lindocker_sys::set_scheduler(&attr).map_err(step(format!("set scheduler {:?}", s.policy())))?;
    }
    Ok(())
}

/// `process.apparmorProfile`: the profile the next exec enters (the load check refused
/// a profile on hosts without AppArmor).
pub fn set_apparmor_profile(process: &Process) -> Result<(), Step> {
    let Some(profile) = process.apparmor_profile().as_deref().filter(|p| !p.is_empty()) else { return Ok(()) };
    let attr = if Path::new("/proc/self/attr/apparmor/exec").exists() {
        "/proc/self/attr/apparmor/exec"
    } else {
        "/proc/self/attr/exec"
    };
    std::fs::write(attr, format!("exec {profile}")).map_err(step(format!("set AppArmor profile {profile:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Message;
    use oci_spec::runtime::ProcessBuilder;

    #[test]
    fn home_comes_from_the_users_passwd_line() {
        let text = b"root:x:0:0:root:/root:/bin/sh\nbroken\nweb:x:33:33::/var/www:/bin/false\nnohome:x:7:7:::/bin/sh\n";
        assert_eq!(passwd_home(text, 0).as_deref(), Some(&b"/root"[..]));
        assert_eq!(passwd_home(text, 33).as_deref(), Some(&b"/var/www"[..]));
        assert_eq!(passwd_home(text, 7), None);
        assert_eq!(passwd_home(text, 1000), None);
        assert_eq!(passwd_home(b"a:b:c", 0), None);
    }

    fn program(args: &[&str]) -> Result<PathBuf, Step> {
        let process = ProcessBuilder::default()
            .args(args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>())
            .env(vec!["PATH=/usr/bin:/bin".to_owned()])
            .build()
            .unwrap();
        find_program(&process)
    }

    #[test]
    fn a_program_that_cannot_start_says_why_typed() {
        let missing = program(&["/no/such/program"]).unwrap_err();
        assert_eq!(missing.program, Some(ProgramFailure::NotFound), "{}", missing.message);
        let not_in_path = program(&["nosuchcommand-lindocker"]).unwrap_err();
        assert_eq!(not_in_path.program, Some(ProgramFailure::NotFound), "{}", not_in_path.message);
        let not_executable = program(&["/etc/passwd"]).unwrap_err();
        assert_eq!(not_executable.program, Some(ProgramFailure::NotExecutable), "{}", not_executable.message);
        assert!(matches!(
            not_executable.to_message(),
            Message::ProgramError { failure: ProgramFailure::NotExecutable, .. }
        ));
        assert!(program(&["sh"]).is_ok());
        assert_eq!((ProgramFailure::NotFound.exit_code(), ProgramFailure::NotExecutable.exit_code()), (127, 126));
    }
}
