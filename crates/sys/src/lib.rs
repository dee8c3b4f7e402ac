//! The only `unsafe` code of lindocker.
//!
//! Each function wraps one system call that neither `std` nor `rustix` offers in the form
//! a container runtime needs. Every `unsafe` block says why it is sound.
//!
//! Also the lowest crate every other one depends on, so it holds the two file idioms they
//! all share, safe code both: [`atomic`] (replacing a file whole) and [`lock`] (flock).

use std::ffi::CStr;
use std::io;
use std::os::fd::RawFd;

pub mod atomic;
pub mod bpf;
pub mod keys;
pub mod lock;

/// Clones the calling process like `fork(2)`, entering the new namespaces in `flags`
/// (`CLONE_NEW*`) at the same time, so the child starts life inside them.
///
/// Returns `Ok(0)` in the child and the child's pid in the parent.
///
/// The caller must be single-threaded: the child is a copy of the caller's memory and
/// only the calling thread survives in it.
pub fn clone_process(flags: u64) -> io::Result<libc::pid_t> {
    // SAFETY: raw clone(2) with a NULL stack behaves like fork(2): the child continues on a
    // copy of the parent's stack. No CLONE_VM, CLONE_SETTLS or *_TID flags are passed, so
    // no memory is shared and no pointer arguments are read. The callers of this crate are
    // single-threaded when they call it (documented above), so no lock can be held by a
    // thread that does not exist in the child.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD as u64) as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as libc::pid_t)
}

/// [`clone_process`], with the child born inside the cgroup2 directory `cgroup`
/// (`clone3` with `CLONE_INTO_CGROUP`): no later migration, so no wait on the kernel's
/// cgroup-wide lock. With `None`, exactly [`clone_process`].
///
/// The caller must be single-threaded, as for [`clone_process`].
pub fn clone_process_into(flags: u64, cgroup: Option<std::os::fd::BorrowedFd<'_>>) -> io::Result<libc::pid_t> {
    use std::os::fd::AsRawFd;
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let Some(cgroup) = cgroup else { return clone_process(flags) };
    // SAFETY: clone_args is plain integers; all-zero is a valid value of it.
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = flags | CLONE_INTO_CGROUP;
    args.exit_signal = libc::SIGCHLD as u64;
    args.cgroup = cgroup.as_raw_fd() as u64;
    // SAFETY: clone3(2) with stack 0 behaves like fork(2), as in `clone_process`: no
    // CLONE_VM, CLONE_SETTLS, *_TID or CLONE_PIDFD flag is set, so the kernel reads only
    // `args` (valid for the call, its size passed with it) and writes nothing back. The
    // caller is single-threaded (documented above).
    let ret = unsafe {
        libc::syscall(libc::SYS_clone3, &mut args as *mut libc::clone_args, std::mem::size_of::<libc::clone_args>())
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as libc::pid_t)
}

/// Ends the calling process at once, without running exit handlers or flushing buffers
/// that belong to the parent's copy of memory (what a forked child must do).
pub fn exit_immediately(code: i32) -> ! {
    // SAFETY: _exit(2) takes a plain integer and never returns.
    unsafe { libc::_exit(code) }
}

/// Gives `SIGPIPE` its default action back (Rust ignores it): a command-line program
/// whose output goes into a closed pipe (`lindocker ps | head -1`) then ends quietly, as
/// other Unix tools do, instead of failing (or panicking) on EPIPE.
pub fn default_sigpipe() {
    // SAFETY: signal(2) with SIG_DFL installs no handler and touches no memory of ours.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// A program to run from a private, read-only overlayfs (see `spawn_detached`): the
/// overlay's `lowerdir` option and the program's name in it.
pub struct SealedImage<'a> {
    /// `lowerdir=` value: the program's directory over an empty one, escaped.
    pub lowerdir: &'a CStr,
    /// The program's file name in its directory.
    pub name: &'a CStr,
    /// The environment to exec it with (then it need not trust our own).
    pub envp: &'a [std::ffi::CString],
}

/// Starts the program `argv[0]` (a path) with `stdin` as its standard input, /dev/null
/// as its output, in a process group of its own, and returns its pid without waiting for
/// its exec. `posix_spawn` (what `std::process::Command` uses) holds the caller until
/// the child has exec'd, ~0.4 ms here; a plain fork lets the exec run on another CPU.
/// With `sealed`, the child execs the program as seen through a read-only overlayfs
/// mount it makes (a few system calls, in the child, so not on the caller's time), or,
/// if that fails, by its path. A program that cannot be exec'd exits 127. Any caller may
/// use it, threads or not: the child makes only async-signal-safe calls before it execs.
pub fn spawn_detached(
    argv: &[std::ffi::CString],
    stdin: std::os::fd::BorrowedFd<'_>,
    sealed: Option<&SealedImage<'_>>,
) -> io::Result<libc::pid_t> {
    use std::os::fd::AsRawFd;
    if argv.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // Everything the child uses is made before the fork: it only makes system calls.
    let mut pointers: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    pointers.push(std::ptr::null());
    let mut env: Vec<*const libc::c_char> = sealed.iter().flat_map(|s| s.envp).map(|a| a.as_ptr()).collect();
    env.push(std::ptr::null());
    let null = std::fs::File::options().read(true).write(true).open("/dev/null")?;
    let (stdin, null) = (stdin.as_raw_fd(), null.as_raw_fd());
    let pid = clone_process(0)?;
    if pid == 0 {
        // SAFETY: in the forked child only async-signal-safe calls are made (dup2,
        // setpgid, signal, the raw mount-API system calls, openat, execveat, execv,
        // _exit: no allocation, no lock another thread of the parent could have held),
        // with descriptors that are open, C strings and NULL-terminated arrays of
        // pointers to NUL-terminated strings that outlive the calls (exec only returns on
        // failure).
        unsafe {
            if libc::dup2(stdin, 0) < 0 || libc::dup2(null, 1) < 0 || libc::dup2(null, 2) < 0 {
                libc::_exit(127);
            }
            libc::setpgid(0, 0);
            // Rust ignores SIGPIPE, and an ignored signal stays ignored across exec.
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            if let Some(image) = sealed {
                const FSOPEN_CLOEXEC: libc::c_long = 1;
                const FSCONFIG_SET_STRING: libc::c_long = 1;
                const FSCONFIG_CMD_CREATE: libc::c_long = 6;
                const FSMOUNT_CLOEXEC: libc::c_long = 1;
                let attrs = (mount_attr::RDONLY | mount_attr::NOSUID | mount_attr::NODEV) as libc::c_long;
                let fs = libc::syscall(libc::SYS_fsopen, c"overlay".as_ptr(), FSOPEN_CLOEXEC);
                if fs >= 0
                    && libc::syscall(
                        libc::SYS_fsconfig,
                        fs,
                        FSCONFIG_SET_STRING,
                        c"lowerdir".as_ptr(),
                        image.lowerdir.as_ptr(),
                        0,
                    ) == 0
                    && libc::syscall(libc::SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, 0, 0, 0) == 0
                {
                    let mnt = libc::syscall(libc::SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs);
                    if mnt >= 0 {
                        let fd = libc::openat(
                            mnt as i32,
                            image.name.as_ptr(),
                            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                        );
                        if fd >= 0 {
                            libc::syscall(
                                libc::SYS_execveat,
                                fd,
                                c"".as_ptr(),
                                pointers.as_ptr(),
                                env.as_ptr(),
                                libc::AT_EMPTY_PATH,
                            );
                        }
                    }
                }
                // No overlay here: the program seals itself.
                libc::execve(pointers[0], pointers.as_ptr(), env.as_ptr());
                libc::_exit(127);
            }
            libc::execv(pointers[0], pointers.as_ptr());
            libc::_exit(127);
        }
    }
    Ok(pid)
}

/// Replaces this process with the program open at `fd` (`execveat(fd, "", AT_EMPTY_PATH)`,
/// which needs no /proc), with arguments `argv` and environment `envp`. Returns only on
/// failure. Signal mask and dispositions pass to the new program as with any exec.
pub fn exec_fd(fd: std::os::fd::BorrowedFd<'_>, argv: &[std::ffi::CString], envp: &[std::ffi::CString]) -> io::Error {
    use std::os::fd::AsRawFd;
    let mut args: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    args.push(std::ptr::null());
    let mut env: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    env.push(std::ptr::null());
    // SAFETY: both arrays are NULL-terminated arrays of pointers to NUL-terminated
    // strings, all owned by the caller or this frame and alive across the call; the path
    // is an empty C string literal; `fd` is open (borrowed). execveat returns only on
    // failure.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            args.as_ptr(),
            env.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
    }
    io::Error::last_os_error()
}

/// Drops this process's page-table entries for its own program's read-only pages (text,
/// constants), so that its resident size is again only what it uses from then on: a
/// long-lived process (the shim) stops counting the pages its start-up ran. The pages
/// stay in the page cache, shared, and fault back in if they are used again.
pub fn release_startup_text() -> io::Result<()> {
    let exe = std::fs::read_link("/proc/self/exe")?;
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    // (start, end, ours and read-only) of the mapping whose fields are being read.
    let mut current: Option<(usize, usize, bool)> = None;
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [range, perms, _, _, _, rest @ ..] = &fields[..]
            && let Some((start, end)) = range.split_once('-')
            && let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16))
        {
            let ours = rest.len() == 1 && std::path::Path::new(rest[0]) == exe && !perms.contains('w');
            current = Some((start, end, ours));
        } else if let (["Anonymous:", "0", "kB"], Some((start, end, true))) = (&fields[..], current) {
            // SAFETY: the range is a whole read-only, private mapping of our own program
            // that the kernel lists with no anonymous (written or relocated) pages: only
            // file pages, so MADV_DONTNEED just removes page-table entries, and the next
            // access faults the same bytes back in from the file.
            if unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// `mount(2)` with raw `MS_*` flags, as the OCI mount options map to them.
pub fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: u64,
    data: Option<&CStr>,
) -> io::Result<()> {
    let ptr = |s: Option<&CStr>| s.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: every pointer is either NULL or a valid NUL-terminated string borrowed for
    // the duration of the call; the kernel copies what it needs.
    let ret =
        unsafe { libc::mount(ptr(source), target.as_ptr(), ptr(fstype), flags as libc::c_ulong, ptr(data).cast()) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Mount attributes for [`mount_setattr_recursive`] (`MOUNT_ATTR_*`).
pub mod mount_attr {
    /// Read-only.
    pub const RDONLY: u64 = 0x1;
    /// No set-user-id.
    pub const NOSUID: u64 = 0x2;
    /// No device files.
    pub const NODEV: u64 = 0x4;
    /// No execution.
    pub const NOEXEC: u64 = 0x8;
    /// Do not update access times.
    pub const NOATIME: u64 = 0x10;
    /// Always update access times.
    pub const STRICTATIME: u64 = 0x20;
    /// Do not update directory access times.
    pub const NODIRATIME: u64 = 0x80;
    /// Mask covering the access-time modes.
    pub const ATIME_MASK: u64 = 0x70;
    /// Do not follow symlinks.
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
    /// Idmapped mount (with the user namespace of `userns_fd`).
    pub const IDMAP: u64 = 0x0010_0000;
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Sets and clears mount attributes on a mount and every mount below it
/// (`mount_setattr(2)` with `AT_RECURSIVE`), which is what the OCI `rro`, `rnosuid`, …
/// options ask for and what `mount(2)` cannot do.
pub fn mount_setattr_recursive(target: &CStr, set: u64, clear: u64) -> io::Result<()> {
    let attr = MountAttr { attr_set: set, attr_clr: clear, propagation: 0, userns_fd: 0 };
    // SAFETY: `target` is a valid C string and `attr` a properly laid out `struct
    // mount_attr` that lives across the call; its size is passed alongside it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            target.as_ptr(),
            // Followed: callers pass /proc/self/fd/N of a mount they resolved safely.
            libc::AT_RECURSIVE as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes the detached mount `mount` (from `open_tree(OPEN_TREE_CLONE)`) an id-mapped
/// mount: file owners appear through the id maps of user namespace `userns`.
pub fn idmap_mount(mount: std::os::fd::BorrowedFd<'_>, userns: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    idmap_mount_tree(mount, userns, false)
}

/// [`idmap_mount`], and with `recursive` every mount below it too (the OCI `ridmap`
/// option; `mount` must then be a recursive clone, `OPEN_TREE_CLONE | AT_RECURSIVE`).
pub fn idmap_mount_tree(
    mount: std::os::fd::BorrowedFd<'_>,
    userns: std::os::fd::BorrowedFd<'_>,
    recursive: bool,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let attr =
        MountAttr { attr_set: mount_attr::IDMAP, attr_clr: 0, propagation: 0, userns_fd: userns.as_raw_fd() as u64 };
    let flags = libc::AT_EMPTY_PATH as libc::c_uint | if recursive { libc::AT_RECURSIVE as libc::c_uint } else { 0 };
    // SAFETY: the path is an empty C string (AT_EMPTY_PATH: the descriptor itself is
    // meant), `attr` a properly laid out `struct mount_attr` that lives across the call,
    // its size passed alongside it; both descriptors are borrowed, so open, for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            mount.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A new user namespace with the given `uid_map` and `gid_map` contents, held by the
/// returned descriptor (for id-mapped mounts). A child is cloned into it, its maps are
/// written, the namespace is opened, and the child is ended.
///
/// Callable from a multi-threaded process: the child does nothing but two system calls.
pub fn user_namespace(uid_map: &str, gid_map: &str) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given, which is ours.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just returned to us and are owned by nothing else.
    let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: raw clone(2) with a NULL stack behaves like fork(2). In the child only
    // async-signal-safe system calls run (close(2), read(2), _exit(2)) on descriptors
    // already open, so no lock another thread of the parent held can be waited for, and no memory
    // of the parent is touched but the one-byte stack buffer.
    let pid = unsafe {
        let pid = libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        );
        if pid == 0 {
            // Our copy of the write end would keep the read from ever seeing EOF.
            libc::close(write_end.as_raw_fd());
            let mut byte = 0u8;
            libc::read(read_end.as_raw_fd(), (&mut byte as *mut u8).cast(), 1);
            libc::_exit(0);
        }
        pid
    };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    let result = (|| {
        std::fs::write(format!("/proc/{pid}/uid_map"), uid_map)?;
        std::fs::write(format!("/proc/{pid}/gid_map"), gid_map)?;
        std::fs::File::open(format!("/proc/{pid}/ns/user")).map(OwnedFd::from)
    })();
    drop(write_end); // the child's read returns: it exits
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is ours to write.
    unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
    result
}

/// Marks every file descriptor from `first` upwards close-on-exec, so nothing the runtime
/// inherited leaks into the container (`close_range(2)` with `CLOSE_RANGE_CLOEXEC`).
pub fn cloexec_from(first: RawFd) -> io::Result<()> {
    // SAFETY: close_range only changes descriptor flags; it reads no memory of ours.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        )
    };
    if ret == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if !matches!(err.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) {
        return Err(err);
    }
    // An old kernel, or a seccomp profile written before close_range existed (it denies
    // what it does not know): every number below the descriptor limit, one by one, as
    // runc falls back to.
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the struct we pass, which is ours.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let end = limit.rlim_cur.min(1 << 20) as RawFd;
    for fd in first.max(0)..end {
        // SAFETY: F_GETFD/F_SETFD only read and change a descriptor's flags; numbers that
        // are not open yield EBADF, which is harmless.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
    Ok(())
}

/// Closes every file descriptor from `first` upwards except those in `keep`, so that no
/// descriptor a process inherited (a host directory, above all) can be reached through
/// `/proc/self/fd` by what runs next. `close_range(2)` where the kernel has it, else one
/// `close` per possible descriptor number.
pub fn close_fds_from(first: RawFd, keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&fd| fd >= first).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut low = first as libc::c_uint;
    for &k in &keep {
        let k = k as libc::c_uint;
        if low < k {
            close_range(low, k - 1)?;
        }
        low = k + 1;
    }
    close_range(low, libc::c_uint::MAX)
}

/// Closes descriptors `low..=high`.
fn close_range(low: libc::c_uint, high: libc::c_uint) -> io::Result<()> {
    // SAFETY: close_range only closes descriptors of this process; the callers own every
    // descriptor in the range (they are closing what they inherited and never use).
    let ret = unsafe { libc::syscall(libc::SYS_close_range, low, high, 0 as libc::c_uint) };
    if ret == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if !matches!(err.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) {
        return Err(err);
    }
    // An old kernel, or a seccomp filter that forbids close_range: every number below
    // the descriptor limit, one by one.
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the struct we pass, which is ours.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let end = (limit.rlim_cur.min(1 << 20) as libc::c_uint).min(high.saturating_add(1));
    for fd in low..end {
        // SAFETY: as above; EBADF for numbers that are not open is harmless.
        unsafe { libc::close(fd as libc::c_int) };
    }
    Ok(())
}

/// A set of blocked signals saved by [`block_all_signals`].
pub struct SignalMask(libc::sigset_t);

/// Blocks every signal for the calling thread and returns the mask it had before.
///
/// A process that forwards signals blocks them first, then takes them one by one with
/// [`wait_for_signal`], so none is lost between checks.
pub fn block_all_signals() -> io::Result<SignalMask> {
    // SAFETY: sigset_t is a plain bit array; sigfillset initialises `all`, and
    // sigprocmask writes the previous mask into `old`, both valid for the call.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        if libc::sigprocmask(libc::SIG_BLOCK, &all, &mut old) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(SignalMask(old))
    }
}

/// Restores a mask saved by [`block_all_signals`] (a forked child does this before exec).
pub fn restore_signal_mask(mask: &SignalMask) -> io::Result<()> {
    // SAFETY: `mask.0` was filled by sigprocmask; NULL asks for no old mask back.
    let ret = unsafe { libc::sigprocmask(libc::SIG_SETMASK, &mask.0, std::ptr::null_mut()) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits for any signal (all must be blocked) and returns its number.
pub fn wait_for_signal() -> io::Result<i32> {
    // SAFETY: `all` is initialised by sigfillset; sigwaitinfo may take NULL for the info.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        loop {
            let sig = libc::sigwaitinfo(&all, std::ptr::null_mut());
            if sig >= 0 {
                return Ok(sig);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

/// Resets every catchable signal's disposition to the default, as a fresh process has
/// it; the runtime may have ignored some (Rust ignores `SIGPIPE`). By the raw system
/// call: glibc's `signal` and `sigaction` refuse the two real-time signals it keeps for
/// itself (32 and 33), and an ignored signal stays ignored across `execve`.
pub fn reset_signal_dispositions() {
    // The kernel's `struct sigaction` (x86_64), not glibc's.
    #[repr(C)]
    struct KernelSigaction {
        handler: libc::sighandler_t,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let default = KernelSigaction { handler: libc::SIG_DFL, flags: 0, restorer: 0, mask: 0 };
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: rt_sigaction reads one kernel_sigaction (the struct above, alive for
        // the call) and writes none (NULL); SIG_DFL needs no restorer. The callers are
        // single-threaded and about to exec, so no other thread relies on glibc's own
        // handlers for 32 and 33.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &default as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}

/// `setns(2)` joins the namespace behind `fd`; `nstype` 0 accepts any type.
pub fn setns(fd: RawFd, nstype: i32) -> io::Result<()> {
    // SAFETY: setns takes two integers and reads no memory of ours.
    let ret = unsafe { libc::setns(fd, nstype) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `unshare(2)` with raw `CLONE_NEW*` flags, including `CLONE_NEWTIME`, which `rustix`
/// does not name.
pub fn unshare(flags: i32) -> io::Result<()> {
    // SAFETY: unshare with namespace flags only; the caller is single-threaded, which
    // CLONE_NEWUSER requires and the kernel checks.
    let ret = unsafe { libc::unshare(flags) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Gives the calling process a new session keyring named `name`, so containers do not
/// share the host's (`keyctl(KEYCTL_JOIN_SESSION_KEYRING)`).
pub fn join_session_keyring(name: &CStr) -> io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl reads the NUL-terminated name during the call only.
    let ret = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Clears close-on-exec on descriptor `fd`, which the caller passes on by number
/// (`--preserve-fds`) without owning it.
pub fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl F_GETFD/F_SETFD only read and change the descriptor's flags; an
    // invalid number yields EBADF, not undefined behaviour.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A `signalfd(2)` that reports every signal (they must be blocked, see
/// [`block_all_signals`]), so a process can wait for signals and file descriptors in
/// one `poll`. Each read yields a 128-byte `signalfd_siginfo` whose first `u32` is the
/// signal number.
pub fn signalfd_all() -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: `all` is initialised by sigfillset; signalfd copies the mask. On success
    // the returned descriptor is new and owned by nobody else, so OwnedFd may own it.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        let fd = libc::signalfd(-1, &all, libc::SFD_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(std::os::fd::OwnedFd::from_raw_fd(fd))
    }
}

/// seccomp filter flags (`SECCOMP_FILTER_FLAG_*`).
pub mod seccomp_flag {
    /// Log what the filter does not allow.
    pub const LOG: u32 = 2;
    /// Leave speculative store bypass mitigation off.
    pub const SPEC_ALLOW: u32 = 4;
    /// Return a notification descriptor for `SECCOMP_RET_USER_NOTIF`.
    pub const NEW_LISTENER: u32 = 8;
    /// Wait for the listener killably.
    pub const WAIT_KILLABLE_RECV: u32 = 32;
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const u8,
}

/// Installs a compiled classic-BPF seccomp program (an array of 8-byte `sock_filter`
/// instructions, as libseccomp exports it) with `flags`; with
/// [`seccomp_flag::NEW_LISTENER`] returns the notification descriptor.
pub fn seccomp_set_filter(program: &[u8], flags: u32) -> io::Result<Option<std::os::fd::OwnedFd>> {
    use std::os::fd::FromRawFd;
    const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
    if program.is_empty() || !program.len().is_multiple_of(8) || program.len() / 8 > u16::MAX as usize {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let prog = SockFprog { len: (program.len() / 8) as u16, filter: program.as_ptr() };
    // SAFETY: `prog` points at `program`, whose length was checked to be a whole number
    // of instructions; both outlive the call, and the kernel copies the program. On
    // success with NEW_LISTENER the return value is a new descriptor owned by nobody else.
    let ret = unsafe { libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog as *const SockFprog) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & seccomp_flag::NEW_LISTENER != 0 {
        // SAFETY: see above: the kernel just created this descriptor for us.
        return Ok(Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(ret as RawFd) }));
    }
    Ok(None)
}

/// Makes system call `nr` with six zero arguments and returns its result: the test
/// checker's probe of what a seccomp filter answers for a number. Only for numbers whose
/// effect with zero arguments (mostly EFAULT or EBADF) is harmless to the caller.
pub fn probe_syscall(nr: i64) -> io::Result<i64> {
    // SAFETY: every argument is zero, so the kernel reads and writes no memory of ours
    // through them; the caller picks a number for which that is harmless.
    let ret = unsafe { libc::syscall(nr as libc::c_long, 0, 0, 0, 0, 0, 0) };
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// `personality(2)`: the execution domain and flags for the process and its children.
pub fn set_personality(persona: u64) -> io::Result<()> {
    // SAFETY: personality takes one integer and reads no memory of ours.
    let ret = unsafe { libc::personality(persona as libc::c_ulong) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `set_mempolicy(2)`: the calling thread's NUMA memory policy (`mode` with its
/// `MPOL_F_*` flags or-ed in) over the nodes set in `nodemask` (bit N of word N/64 is
/// node N); inherited by children and kept across exec.
pub fn set_mempolicy(mode: i32, nodemask: &[u64]) -> io::Result<()> {
    let (mask, maxnode) = if nodemask.iter().all(|w| *w == 0) {
        (std::ptr::null(), 0)
    } else {
        // The kernel reads maxnode - 1 bits (a historical off-by-one that numactl
        // also adds one for): every bit of the words we pass.
        (nodemask.as_ptr(), nodemask.len() as libc::c_ulong * 64 + 1)
    };
    // SAFETY: the kernel reads at most maxnode - 1 bits from `mask`, which points into
    // `nodemask` (borrowed for the call and exactly that long), or nothing when null.
    let ret = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode as libc::c_int, mask, maxnode) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, class << 13 | level)`: the calling process's I/O
/// scheduling class (1 realtime, 2 best effort, 3 idle) and level (0-7).
pub fn set_io_priority(class: u32, level: u32) -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    // SAFETY: ioprio_set takes three integers and reads no memory of ours.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, (class << 13) | level) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `struct sched_attr` of `sched_setattr(2)`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct SchedAttr {
    /// Size of this structure.
    pub size: u32,
    /// SCHED_* policy.
    pub policy: u32,
    /// SCHED_FLAG_* flags.
    pub flags: u64,
    /// Nice value (SCHED_OTHER, SCHED_BATCH).
    pub nice: i32,
    /// Static priority (SCHED_FIFO, SCHED_RR).
    pub priority: u32,
    /// SCHED_DEADLINE runtime, ns.
    pub runtime: u64,
    /// SCHED_DEADLINE deadline, ns.
    pub deadline: u64,
    /// SCHED_DEADLINE period, ns.
    pub period: u64,
}

/// `sched_setattr(0, attr, 0)`: the calling thread's scheduling policy and parameters.
pub fn set_scheduler(attr: &SchedAttr) -> io::Result<()> {
    let mut attr = *attr;
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `attr` is a properly laid out sched_attr whose size field says its size;
    // the kernel only reads it during the call.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets interface `name` up in the calling thread's network namespace, through the
/// SIOCGIFFLAGS/SIOCSIFFLAGS ioctls: what a namespace with only `lo` needs, without a
/// netlink client.
pub fn interface_up(name: &str) -> io::Result<()> {
    if name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: socket takes integers; the descriptor is checked and closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: ifreq is plain data, zeroed is a valid value; the name fits (checked above)
    // and stays NUL-terminated; both ioctls read and write only this struct.
    let result = unsafe {
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) < 0 {
            Err(io::Error::last_os_error())
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
        }
    };
    // SAFETY: fd is ours and open.
    unsafe { libc::close(fd) };
    result
}

/// The listening socket systemd passed us (socket activation: `LISTEN_PID` is our pid,
/// `LISTEN_FDS` at least 1, the socket is descriptor 3), taken once: the variables are
/// removed so that no child believes the descriptor is its own. `None` if we were not
/// socket-activated or descriptor 3 is not a socket.
pub fn take_systemd_listener() -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    const FIRST: RawFd = 3;
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let fds: u32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    if pid != std::process::id() || fds < 1 {
        return None;
    }
    // SAFETY: fstat only fills `st`; an invalid number yields EBADF. The variables are
    // removed while no other thread runs (the service calls this before its runtime).
    let is_socket = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(FIRST, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK
    };
    // SAFETY: as above: the service is single-threaded when it calls this.
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    if !is_socket {
        return None;
    }
    // SAFETY: systemd handed descriptor 3 to this process (LISTEN_PID is ours) and
    // nothing else in it owns that number; it is a socket (checked above). F_SETFD only sets the descriptor's close-on-exec flag.
    unsafe {
        libc::fcntl(FIRST, libc::F_SETFD, libc::FD_CLOEXEC);
        Some(std::os::fd::OwnedFd::from_raw_fd(FIRST))
    }
}
