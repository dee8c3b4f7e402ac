//! `linux.seccomp` -> a libseccomp filter, built by the runtime before anything is
//! created (so a bad profile changes nothing) and loaded by the container's process.
//!
//! Syscall names this libseccomp does not know are skipped with a warning, as runc does:
//! profiles list syscalls of newer kernels, and a filter cannot match what does not exist.
//!
//! Compiling a profile the size of Docker's costs libseccomp milliseconds, more than all
//! the rest of a container's start. The compiled program is therefore kept in a cache
//! keyed by the SHA-256 of the profile (and of the libseccomp version), and loaded with
//! `seccomp(2)` directly: the same profile is compiled once per runtime root.

use std::path::{Path, PathBuf};

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompFilterFlag as F, LinuxSeccompOperator as Op,
};

use crate::{Error, Result};

mod enosys;

/// A built filter, ready to load.
pub struct Filter {
    /// The compiled classic-BPF program.
    program: Vec<u8>,
    /// `seccomp(2)` flags.
    flags: u32,
    /// Where to send the notification descriptor, for `SCMP_ACT_NOTIFY`.
    pub listener: Option<PathBuf>,
    /// `listenerMetadata`, sent along with it.
    pub metadata: String,
    notify: bool,
}

fn bad(field: impl Into<String>, message: impl std::fmt::Display) -> Error {
    Error::Spec { path: "config.json".into(), field: field.into(), message: message.to_string() }
}

fn action(a: A, errno: Option<u32>) -> ScmpAction {
    let errno = errno.map_or(libc::EPERM, |e| e as i32);
    match a {
        A::ScmpActKill | A::ScmpActKillThread => ScmpAction::KillThread,
        A::ScmpActKillProcess => ScmpAction::KillProcess,
        A::ScmpActTrap => ScmpAction::Trap,
        A::ScmpActErrno => ScmpAction::Errno(errno),
        A::ScmpActTrace => ScmpAction::Trace(errno as u16),
        A::ScmpActNotify => ScmpAction::Notify,
        A::ScmpActLog => ScmpAction::Log,
        A::ScmpActAllow => ScmpAction::Allow,
    }
}

/// The filter of `linux.seccomp`, from `cache` when it was compiled before; names it
/// skips are added to `warnings`.
pub fn build(s: &LinuxSeccomp, cache: Option<&Path>, warnings: &mut Vec<String>) -> Result<Filter> {
    use sha2::Digest;
    let mut notify = s.default_action() == A::ScmpActNotify;
    notify |= s.syscalls().iter().flatten().any(|r| r.action() == A::ScmpActNotify);
    // An errno for an action that returns none is an error (runtime spec), not ignored.
    let takes_errno = |a: A| matches!(a, A::ScmpActErrno | A::ScmpActTrace);
    if s.default_errno_ret().is_some() && !takes_errno(s.default_action()) {
        return Err(bad("linux.seccomp.defaultErrnoRet", "the default action returns no errno"));
    }
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        if rule.errno_ret().is_some() && !takes_errno(rule.action()) {
            return Err(bad(format!("linux.seccomp.syscalls[{i}].errnoRet"), "the action returns no errno"));
        }
    }
    if notify && s.listener_path().is_none() {
        return Err(bad("linux.seccomp.listenerPath", "SCMP_ACT_NOTIFY needs a listenerPath"));
    }
    let mut flags = 0;
    for flag in s.flags().iter().flatten() {
        flags |= match flag {
            // Our processes are single-threaded when they load it: TSYNC has nothing to do.
            F::SeccompFilterFlagTsync => 0,
            F::SeccompFilterFlagLog => lindocker_sys::seccomp_flag::LOG,
            F::SeccompFilterFlagSpecAllow => lindocker_sys::seccomp_flag::SPEC_ALLOW,
            F::SeccompFilterFlagWaitKillableRecv => lindocker_sys::seccomp_flag::WAIT_KILLABLE_RECV,
        };
    }
    let version =
        libseccomp::ScmpVersion::current().map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro)).unwrap_or_default();
    let mut hash = sha2::Sha256::new();
    hash.update(version.as_bytes());
    hash.update(COMPILE_SETTINGS.as_bytes());
    hash.update(serde_json::to_vec(s).expect("spec serializes"));
    let key: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let cached = cache.map(|dir| (dir.join(format!("{key}.bpf")), dir.join(format!("{key}.warnings"))));
    let program = match cached.as_ref().and_then(|(bpf, _)| std::fs::read(bpf).ok()) {
        Some(program) => {
            if let Some(text) = cached.as_ref().and_then(|(_, w)| std::fs::read_to_string(w).ok()) {
                warnings.extend(text.lines().map(str::to_string));
            }
            program
        }
        None => {
            let mut new_warnings = Vec::new();
            let program = compile(s, &mut new_warnings)?;
            if let Some((bpf, w)) = &cached {
                // A cache that cannot be written only costs time on the next start.
                if std::fs::create_dir_all(bpf.parent().expect("in a dir")).is_ok() {
                    let _ = crate::state::write_atomic(w, new_warnings.join("\n").as_bytes(), false);
                    let _ = crate::state::write_atomic(bpf, &program, false);
                }
            }
            warnings.extend(new_warnings);
            program
        }
    };
    Ok(Filter {
        program,
        flags,
        listener: s.listener_path().clone(),
        metadata: s.listener_metadata().clone().unwrap_or_default(),
        notify,
    })
}

/// How [`compile`] sets libseccomp up; part of the cache key, so that a change of it
/// is not answered from the cache.
const COMPILE_SETTINGS: &str = "optimize=2 enosys-stub";

/// Compiles `linux.seccomp` with libseccomp into a classic-BPF program.
fn compile(s: &LinuxSeccomp, warnings: &mut Vec<String>) -> Result<Vec<u8>> {
    let default = action(s.default_action(), s.default_errno_ret());
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| bad("linux.seccomp.defaultAction", e))?;
    // no_new_privs is the spec's business (process.noNewPrivileges), not the filter's.
    ctx.set_ctl_nnp(false).map_err(|e| bad("linux.seccomp", e))?;
    // A binary tree of syscall numbers instead of one long chain: each system call the
    // container makes walks a few comparisons, not hundreds, and the kernel's per-syscall
    // action cache, computed by running the filter once per syscall number when it is
    // loaded, is built that much faster.
    ctx.set_ctl_optimize(2).map_err(|e| bad("linux.seccomp", e))?;
    let mut arches = Vec::new();
    for (i, arch) in s.architectures().iter().flatten().enumerate() {
        let name = serde_json::to_value(arch).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let arch: ScmpArch = name.parse().map_err(|e| bad(format!("linux.seccomp.architectures[{i}]"), e))?;
        ctx.add_arch(arch).map_err(|e| bad(format!("linux.seccomp.architectures[{i}]"), e))?;
        arches.push(arch);
    }
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        let act = action(rule.action(), rule.errno_ret());
        // libseccomp refuses a rule that repeats the default; it would change nothing.
        if act == default {
            continue;
        }
        let mut conditions = Vec::new();
        for (j, arg) in rule.args().iter().flatten().enumerate() {
            let op = match arg.op() {
                Op::ScmpCmpNe => ScmpCompareOp::NotEqual,
                Op::ScmpCmpLt => ScmpCompareOp::Less,
                Op::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
                Op::ScmpCmpEq => ScmpCompareOp::Equal,
                Op::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
                Op::ScmpCmpGt => ScmpCompareOp::Greater,
                Op::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(arg.value()),
            };
            if arg.index() > 5 {
                return Err(bad(format!("linux.seccomp.syscalls[{i}].args[{j}].index"), "must be 0 to 5"));
            }
            let datum =
                if matches!(op, ScmpCompareOp::MaskedEqual(_)) { arg.value_two().unwrap_or(0) } else { arg.value() };
            conditions.push((arg.index(), ScmpArgCompare::new(arg.index() as u32, op, datum)));
        }
        // Conditions on different arguments must all hold (one rule); several on the same
        // argument are alternatives (one rule each), as runc reads them.
        let mut indices: Vec<usize> = conditions.iter().map(|(i, _)| *i).collect();
        indices.sort_unstable();
        let alternatives = indices.windows(2).any(|w| w[0] == w[1]);
        for name in rule.names() {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                warnings.push(format!("linux.seccomp.syscalls[{i}]: unknown syscall {name:?} skipped"));
                continue;
            };
            let result = if conditions.is_empty() {
                ctx.add_rule(act, syscall).map(drop)
            } else if alternatives {
                conditions.iter().try_for_each(|(_, c)| ctx.add_rule_conditional(act, syscall, &[*c]).map(drop))
            } else {
                let all: Vec<ScmpArgCompare> = conditions.iter().map(|(_, c)| *c).collect();
                ctx.add_rule_conditional(act, syscall, &all).map(drop)
            };
            result.map_err(|e| bad(format!("linux.seccomp.syscalls[{i}] ({name})"), e))?;
        }
    }
    // Debian's libseccomp (2.5.4) exports to a descriptor only: use an in-memory file.
    let export = || -> std::io::Result<Vec<u8>> {
        let memfd = rustix::fs::memfd_create("lindocker-seccomp", rustix::fs::MemfdFlags::CLOEXEC)?;
        ctx.export_bpf(&memfd).map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut file = std::fs::File::from(memfd);
        std::io::Seek::rewind(&mut file)?;
        let mut program = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut program)?;
        Ok(program)
    };
    let program = export().map_err(|e| bad("linux.seccomp", format!("compile: {e}")))?;
    // Syscalls newer than the profile's newest get ENOSYS, not the default errno (see
    // `enosys`), unless the default lets everything through or is ENOSYS already.
    let permissive = matches!(s.default_action(), A::ScmpActAllow | A::ScmpActLog);
    if permissive || s.default_errno_ret() == Some(libc::ENOSYS as u32) {
        return Ok(program);
    }
    let names = s.syscalls().iter().flatten().flat_map(|r| r.names().iter().map(String::as_str));
    let mut stubbed = enosys::stub(&enosys::newest(&arches, names));
    if (stubbed.len() + program.len()) / 8 > BPF_MAXINSNS {
        return Err(bad("linux.seccomp", format!("the filter is longer than {BPF_MAXINSNS} instructions")));
    }
    stubbed.extend(program);
    Ok(stubbed)
}

/// The kernel's limit on a classic-BPF program's length.
const BPF_MAXINSNS: usize = 4096;

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter").field("listener", &self.listener).field("notify", &self.notify).finish()
    }
}

impl Filter {
    /// Whether the filter hands out a notification descriptor.
    pub fn notifies(&self) -> bool {
        self.notify
    }

    /// Loads the filter into the calling process. With `SCMP_ACT_NOTIFY`, returns the
    /// notification descriptor to hand to the listener.
    pub fn load(&self) -> std::io::Result<Option<std::os::fd::OwnedFd>> {
        let listener = if self.notify { lindocker_sys::seccomp_flag::NEW_LISTENER } else { 0 };
        lindocker_sys::seccomp_set_filter(&self.program, self.flags | listener)
    }
}
