//! Shims this long-lived process spawned stay its children (the CLI, short-lived, never
//! has to care): once one ends it is a zombie until reaped. Only ended shims are reaped,
//! by pid: the runtime and other commands are waited for by whoever spawned them.

/// Reaps the ended shims among our children (a look through /proc: this kernel has no
/// `/proc/PID/task/TID/children`).
pub fn reap_shims() {
    let me = std::process::id().to_string();
    let Ok(procs) = std::fs::read_dir("/proc") else { return };
    for entry in procs.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some((head, rest)) = stat.rsplit_once(") ") else { continue };
        let mut fields = rest.split(' ');
        let (state, parent) = (fields.next(), fields.next());
        if head.ends_with("(lindocker-shim")
            && state == Some("Z")
            && parent == Some(me.as_str())
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::NOHANG);
        }
    }
}
