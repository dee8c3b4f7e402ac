//! Signals a foreground `run` or `exec` receives (Ctrl-C, `kill`), passed on to the
//! container as Docker's `--sig-proxy` does.

use lindocker_engine::Engine;

/// Blocks every signal in this thread (call before any other thread starts) and
/// forwards the ones a user sends to the container from a thread of its own.
pub fn forward_to_container(engine: Engine, id: String) {
    if lindocker_sys::block_all_signals().is_err() {
        return;
    }
    std::thread::spawn(move || {
        while let Ok(sig) = lindocker_sys::wait_for_signal() {
            if !ours(sig) {
                let _ = engine.kill(&id, &sig.to_string());
            }
        }
    });
}

/// Like [`forward_to_container`], for the foreground runtime of an `exec`, which passes
/// what it receives on to the exec'd process.
pub fn forward_to_process(pid: u32) {
    if lindocker_sys::block_all_signals().is_err() {
        return;
    }
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else { return };
    std::thread::spawn(move || {
        while let Ok(sig) = lindocker_sys::wait_for_signal() {
            if let Some(signal) = rustix::process::Signal::from_named_raw(sig).filter(|_| !ours(sig)) {
                let _ = rustix::process::kill_process(pid, signal);
            }
        }
    });
}

/// Job control, child notices, window changes and broken pipes concern this CLI, not
/// the container.
fn ours(sig: i32) -> bool {
    matches!(sig, 17 | 19 | 20 | 21 | 22 | 28 | 13)
}
