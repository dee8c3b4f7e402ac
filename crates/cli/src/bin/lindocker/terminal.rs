//! The user's terminal during `run -it`, `attach` and `exec -it`: raw mode while attached,
//! its size, and the detach keys (Ctrl-P Ctrl-Q).

/// Our terminal in raw mode while attached (the runtime's, which `run` of a terminal
/// process uses the same way).
pub use lindocker_runtime::console::RawTerminal;

/// Our terminal's size as (rows, columns), if stdin is a terminal.
pub fn size() -> Option<(u16, u16)> {
    rustix::termios::tcgetwinsize(std::io::stdin()).ok().map(|w| (w.ws_row, w.ws_col))
}

/// Watches typed bytes for Docker's detach sequence, Ctrl-P then Ctrl-Q.
#[derive(Debug, Default)]
pub struct DetachKeys {
    saw_ctrl_p: bool,
}

impl DetachKeys {
    /// Feeds typed bytes; returns the bytes to pass on and whether to detach.
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if self.saw_ctrl_p {
                self.saw_ctrl_p = false;
                if b == 0x11 {
                    return (out, true);
                }
                out.push(0x10);
            }
            if b == 0x10 {
                self.saw_ctrl_p = true;
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_p_ctrl_q_detaches() {
        let mut keys = DetachKeys::default();
        assert_eq!(keys.feed(b"ls\x10"), (b"ls".to_vec(), false));
        assert_eq!(keys.feed(b"\x11"), (Vec::new(), true));
        let mut keys = DetachKeys::default();
        assert_eq!(keys.feed(b"\x10a"), (b"\x10a".to_vec(), false));
    }
}
