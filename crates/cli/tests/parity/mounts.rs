//! Docker parity: mounts.
