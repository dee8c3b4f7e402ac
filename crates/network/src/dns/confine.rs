//! What the server keeps of root's powers: it parses packets from containers, so it
//! keeps only `CAP_NET_BIND_SERVICE` (port 53 for a network made later), in every set
//! and the bounding set, and sets no_new_privs. It stays uid 0 to read the store's files
//! (root's, 0600-able) as their owner, without `CAP_DAC_OVERRIDE`. Then a seccomp
//! allowlist ([`filter_syscalls`]): no exec, no mount, no ptrace, no namespace calls.

use std::collections::HashSet;

use caps::{CapSet, Capability};

/// Drops every capability but `CAP_NET_BIND_SERVICE`, for good.
pub fn confine() -> Result<(), String> {
    let keep = Capability::CAP_NET_BIND_SERVICE;
    for cap in caps::all() {
        if cap != keep {
            caps::drop(None, CapSet::Bounding, cap).map_err(|e| format!("bounding set: {e}"))?;
        }
    }
    let only: HashSet<Capability> = [keep].into();
    caps::clear(None, CapSet::Ambient).map_err(|e| format!("ambient set: {e}"))?;
    caps::clear(None, CapSet::Inheritable).map_err(|e| format!("inheritable set: {e}"))?;
    caps::set(None, CapSet::Effective, &only).map_err(|e| format!("effective set: {e}"))?;
    caps::set(None, CapSet::Permitted, &only).map_err(|e| format!("permitted set: {e}"))?;
    rustix::thread::set_no_new_privs(true).map_err(|e| format!("no_new_privs: {e}"))?;
    Ok(())
}

/// The user and group the port proxy runs as: `nobody`, which owns no file.
pub const NOBODY: u32 = 65534;

/// Drops every capability and root's user (to [`NOBODY`], no supplementary groups), for
/// good, and sets no_new_privs: for the port proxy once its sockets are bound. It reads
/// and writes no file: uid 0 without capabilities would still own root's files. Call it
/// before any thread is started (the calls change the calling thread's credentials).
pub fn drop_all() -> Result<(), String> {
    for cap in caps::all() {
        caps::drop(None, CapSet::Bounding, cap).map_err(|e| format!("bounding set: {e}"))?;
    }
    rustix::thread::set_thread_groups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    let gid = rustix::process::Gid::from_raw(NOBODY);
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(|e| format!("setgid {NOBODY}: {e}"))?;
    // Also clears the permitted and effective sets (no keep-caps).
    let uid = rustix::process::Uid::from_raw(NOBODY);
    rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(|e| format!("setuid {NOBODY}: {e}"))?;
    for set in [CapSet::Ambient, CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
        caps::clear(None, set).map_err(|e| format!("{set:?} set: {e}"))?;
    }
    rustix::thread::set_no_new_privs(true).map_err(|e| format!("no_new_privs: {e}"))?;
    Ok(())
}

/// The system calls the server makes once it runs: files (the store, resolv.conf, its
/// pid file), sockets, poll, threads and memory. Anything else fails with EPERM (not a
/// kill: a call a new libc makes that is missing here costs an error, not the server).
const ALLOWED: &[&str] = &[
    "read",
    "write",
    "writev",
    "readv",
    "pread64",
    "openat",
    "close",
    "fstat",
    "newfstatat",
    "statx",
    "lseek",
    "unlinkat",
    "unlink",
    "flock",
    "fcntl",
    "ioctl",
    "getdents64",
    "socket",
    "bind",
    "listen",
    "accept4",
    "accept",
    "connect",
    "setsockopt",
    "getsockopt",
    "getsockname",
    "getpeername",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
    "poll",
    "ppoll",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "clone",
    "clone3",
    "mmap",
    "munmap",
    "mprotect",
    "madvise",
    "mremap",
    "brk",
    "futex",
    "rt_sigprocmask",
    "rt_sigaction",
    "rt_sigreturn",
    "sigaltstack",
    "exit",
    "exit_group",
    "getrandom",
    "sched_yield",
    "sched_getaffinity",
    "set_robust_list",
    "rseq",
    "getpid",
    "gettid",
    "clock_gettime",
    "clock_nanosleep",
    "nanosleep",
    "prctl",
    "tgkill",
    "restart_syscall",
];

/// Installs the allowlist of [`ALLOWED`] (after [`confine`]: no_new_privs is set).
pub fn filter_syscalls() -> Result<(), String> {
    use libseccomp::{ScmpAction, ScmpFilterContext, ScmpSyscall};
    let mut ctx = ScmpFilterContext::new(ScmpAction::Errno(libc_eperm())).map_err(|e| e.to_string())?;
    for name in ALLOWED {
        if let Ok(call) = ScmpSyscall::from_name(name) {
            ctx.add_rule(ScmpAction::Allow, call).map_err(|e| format!("{name}: {e}"))?;
        }
    }
    ctx.load().map_err(|e| e.to_string())
}

fn libc_eperm() -> i32 {
    rustix::io::Errno::PERM.raw_os_error()
}
