//! Docker parity: health.
