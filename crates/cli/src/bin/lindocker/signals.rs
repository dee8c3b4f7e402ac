//! Signals a foreground `run` receives (Ctrl-C, `kill`), passed on to the container as
//! Docker's `--sig-proxy` does.

use lindocker_engine::Engine;

/// Blocks every signal in this thread (call before any other thread starts) and
/// forwards the ones a user sends to the container from a thread of its own.
pub fn forward_to_container(engine: Engine, id: String) {
    if lindocker_sys::block_all_signals().is_err() {
        return;
    }
    std::thread::spawn(move || {
        while let Ok(sig) = lindocker_sys::wait_for_signal() {
            // Job control and child notices are ours, not the container's.
            if matches!(sig, 17 | 19 | 20 | 21 | 22 | 28 | 13) {
                continue;
            }
            let _ = engine.kill(&id, &sig.to_string());
        }
    });
}
