//! Docker parity: readme.
