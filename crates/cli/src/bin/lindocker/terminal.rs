//! The user's terminal during `run -it`, `attach` and `exec -it`: raw mode while attached,
//! and its size (the detach keys: `lindocker_engine::attach_options`).

/// Our terminal in raw mode while attached (the runtime's, which `run` of a terminal
/// process uses the same way).
pub use lindocker_runtime::console::RawTerminal;

/// Our terminal's size as (rows, columns), if stdin is a terminal.
pub fn size() -> Option<(u16, u16)> {
    rustix::termios::tcgetwinsize(std::io::stdin()).ok().map(|w| (w.ws_row, w.ws_col))
}
