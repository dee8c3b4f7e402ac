//! Docker parity: tty_cp.
