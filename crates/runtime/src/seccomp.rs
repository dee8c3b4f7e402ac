//! `linux.seccomp` -> a libseccomp filter, built by the runtime before anything is
//! created (so a bad profile changes nothing) and loaded by the container's process.
//!
//! Syscall names this libseccomp does not know are skipped with a warning, as runc does:
//! profiles list syscalls of newer kernels, and a filter cannot match what does not exist.

use std::path::PathBuf;

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompFilterFlag as F, LinuxSeccompOperator as Op,
};

use crate::{Error, Result};

/// A built filter, ready to load.
pub struct Filter {
    ctx: ScmpFilterContext,
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

/// Builds the filter of `linux.seccomp`; names it skips are added to `warnings`.
pub fn build(s: &LinuxSeccomp, warnings: &mut Vec<String>) -> Result<Filter> {
    let default = action(s.default_action(), s.default_errno_ret());
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| bad("linux.seccomp.defaultAction", e))?;
    // no_new_privs is the spec's business (process.noNewPrivileges), not the filter's.
    ctx.set_ctl_nnp(false).map_err(|e| bad("linux.seccomp", e))?;
    for (i, arch) in s.architectures().iter().flatten().enumerate() {
        let name = serde_json::to_value(arch).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let arch: ScmpArch = name.parse().map_err(|e| bad(format!("linux.seccomp.architectures[{i}]"), e))?;
        ctx.add_arch(arch).map_err(|e| bad(format!("linux.seccomp.architectures[{i}]"), e))?;
    }
    for flag in s.flags().iter().flatten() {
        let r = match flag {
            F::SeccompFilterFlagTsync => ctx.set_ctl_tsync(true),
            F::SeccompFilterFlagLog => ctx.set_ctl_log(true),
            F::SeccompFilterFlagSpecAllow => ctx.set_ctl_ssb(true),
            F::SeccompFilterFlagWaitKillableRecv => ctx.set_ctl_waitkill(true),
        };
        r.map_err(|e| bad("linux.seccomp.flags", format!("{flag:?}: {e}")))?;
    }
    let mut notify = s.default_action() == A::ScmpActNotify;
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        let act = action(rule.action(), rule.errno_ret());
        notify |= rule.action() == A::ScmpActNotify;
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
    if notify && s.listener_path().is_none() {
        return Err(bad("linux.seccomp.listenerPath", "SCMP_ACT_NOTIFY needs a listenerPath"));
    }
    Ok(Filter {
        ctx,
        listener: s.listener_path().clone(),
        metadata: s.listener_metadata().clone().unwrap_or_default(),
        notify,
    })
}

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
        self.ctx.load().map_err(|e| std::io::Error::other(e.to_string()))?;
        if !self.notify {
            return Ok(None);
        }
        let fd = self.ctx.get_notify_fd().map_err(|e| std::io::Error::other(e.to_string()))?;
        // libseccomp keeps its descriptor; we send our own copy.
        lindocker_sys::dup_raw(fd).map(Some)
    }
}
